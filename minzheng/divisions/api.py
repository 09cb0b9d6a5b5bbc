"""JSON API of the division tree (read-only), mounted by ``minzheng.web.api`` at /api/v1/divisions.

Divisions are public administrative facts, not personal data: any authenticated actor holding
``divisions.view_division`` (every role and machine purpose) may read them. Operations declare
their permission with ``core.access.requires``; ``web.api`` enforces it (deny by default).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from minzheng.core.access import requires
from minzheng.core.exceptions import NotFound
from minzheng.divisions.enums import Level
from minzheng.divisions.permissions import DivisionPerm
from minzheng.divisions.selectors import division_get, division_list

router = Router(tags=["区划 divisions"])

CODE_PATTERN = r"^\d{12}$"
_CODE_RE = re.compile(CODE_PATTERN)


class DivisionRef(Schema):
    code: str = Field(..., description="区划代码 (12位)")
    name: str


class DivisionOut(Schema):
    code: str = Field(..., description="区划代码 (国家统计局 12位)")
    name: str
    short_name: str = Field(..., description="简称: 村委会写作村")
    level: Level
    level_label: str
    parent_code: str | None
    depth: int
    is_civil_affairs_unit: bool = Field(..., description="民政确认的村社")


class DivisionDetail(DivisionOut):
    parent: DivisionRef | None
    children_count: int


class DivisionList(Schema):
    count: int
    items: list[DivisionOut]


class DivisionQuery(Schema):
    level: Level | None = Field(None, description="只列出该层级")
    within: str | None = Field(None, pattern=CODE_PATTERN, description="只列出该区划(含)及其下级")


def ref(division: Any) -> dict[str, str] | None:
    """``{code, name}`` of a division, or None."""
    return None if division is None else {"code": division.code, "name": division.name}


def _out(d: Any) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "short_name": d.short_name,
        "level": d.level,
        "level_label": d.get_level_display(),
        "parent_code": d.parent_id,
        "depth": d.depth,
        "is_civil_affairs_unit": d.is_civil_affairs_unit,
    }


def known_division(code: str, *, field: str) -> Any:
    """The division a filter names. An unknown code answers 404 ``unknown_division`` like
    ``/divisions/{code}`` does, naming the parameter in ``extra["fields"]``."""
    try:
        return division_get(code=code)
    except NotFound as exc:
        raise NotFound(exc.message, code=exc.code, extra={"fields": {field: exc.message}}) from None


@router.get("", response=DivisionList, summary="区划列表", url_name="division_list")
@requires(DivisionPerm.VIEW_DIVISION)
def list_divisions(request: HttpRequest, params: Query[DivisionQuery]) -> dict[str, Any]:
    within = known_division(params.within, field="within").path if params.within else None
    items = [_out(d) for d in division_list(within=within, level=params.level)]
    return {"count": len(items), "items": items}


@router.get("/{code}", response=DivisionDetail, summary="区划详情", url_name="division_detail")
@requires(DivisionPerm.VIEW_DIVISION)
def get_division(request: HttpRequest, code: str) -> dict[str, Any]:
    if not _CODE_RE.match(code):
        raise NotFound("区划不存在", code="unknown_division")
    division = division_get(code=code)
    return {**_out(division), "parent": ref(division.parent), "children_count": division.children.count()}
