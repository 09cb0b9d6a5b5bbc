from __future__ import annotations

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
