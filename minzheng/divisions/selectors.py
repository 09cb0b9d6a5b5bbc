from __future__ import annotations

import time

from django.db.models import QuerySet

from minzheng.core.exceptions import NotFound
from minzheng.divisions.enums import Level
from minzheng.divisions.models import Division


def division_get(*, code: str) -> Division:
    try:
        return Division.objects.get(code=code)
    except Division.DoesNotExist:
        raise NotFound("区划不存在", code="unknown_division") from None


def division_list(*, within: str | None = None, level: str | None = None) -> QuerySet[Division]:
    """Divisions, optionally only those inside the subtree whose path is ``within``."""
    qs = Division.objects.all()
    if within:
        qs = qs.filter(path__startswith=within)
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("path")


def division_subtree(*, code: str) -> QuerySet[Division]:
    return division_list(within=division_get(code=code).path)


def division_ancestors(*, division: Division) -> list[Division]:
    codes = [c for c in division.path.split("/") if c]
    by_code = Division.objects.in_bulk(codes)
    return [by_code[c] for c in codes if c in by_code]


def township_list() -> QuerySet[Division]:
    return division_list(level=Level.TOWNSHIP)


def path_contains(scope_path: str, path: str) -> bool:
    return path.startswith(scope_path)


INDEX_TTL_S = 300.0
_index: tuple[float, dict[str, Division]] | None = None


def division_index() -> dict[str, Division]:
    """Every division by code with its parent, read at most every INDEX_TTL_S seconds per process:
    the 236 divisions are reference data, changed only by ``division_load`` (which clears this
    process's copy; other processes see a change within INDEX_TTL_S)."""
    global _index
    now = time.monotonic()
    if _index is None or now - _index[0] > INDEX_TTL_S:
        _index = (now, {d.code: d for d in Division.objects.select_related("parent")})
    return _index[1]


def division_index_clear() -> None:
    global _index
    _index = None
