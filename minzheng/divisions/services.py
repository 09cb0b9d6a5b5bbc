from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import transaction

from minzheng.core.exceptions import ValidationFailed
from minzheng.divisions.enums import Level
from minzheng.divisions.models import Division
from minzheng.divisions.selectors import division_index_clear

DEFAULT_CSV = Path(__file__).parent / "data" / "yuhang_divisions.csv"
_DEPTH = {Level.DISTRICT: 0, Level.TOWNSHIP: 1, Level.VILLAGE: 2}


def _is_civil_affairs_unit(code: str, level: str) -> bool:
    # NBS village codes 400–599 are units not confirmed by 民政 (addresses.md §1).
    return not (level == Level.VILLAGE and 400 <= int(code[-3:]) <= 599)


def division_load(*, rows: Iterable[dict[str, Any]], actor: Any = None) -> int:
    """Insert or update divisions from rows of ``code,name,level,parent_code,source``.

    Parents must come before children or exist already; the whole load is one transaction.
    """
    from minzheng.core.services import audit_record

    count = 0
    with transaction.atomic():
        known = {d.code: d for d in Division.objects.all()}
        for line, row in enumerate(rows, start=2):
            code, level = row["code"].strip(), row["level"].strip()
            if len(code) != 12 or not code.isdigit():
                raise ValidationFailed({"code": f"第{line}行:区划代码须为12位数字"}, code="bad_division_code")
            if level not in _DEPTH:
                raise ValidationFailed({"level": f"第{line}行:未知层级 {level}"}, code="bad_division_level")
            parent = known.get(row["parent_code"].strip())
            if level != Level.DISTRICT and parent is None:
                raise ValidationFailed({"parent_code": f"第{line}行:上级区划不存在"}, code="unknown_parent")
            # A village under a village would break every scope rule that reads the path by depth.
            parent_depth = _DEPTH.get(Level(parent.level), -1) if parent is not None else -1
            if level != Level.DISTRICT and _DEPTH[Level(level)] != parent_depth + 1:
                raise ValidationFailed({"parent_code": f"第{line}行:上级区划的层级不对"}, code="bad_parent_level")
            path = (parent.path if parent and level != Level.DISTRICT else "") + code + "/"
            division, _ = Division.objects.update_or_create(
                code=code,
                defaults={
                    "name": row["name"].strip(),
                    "level": level,
                    "parent": parent if level != Level.DISTRICT else None,
                    "path": path,
                    "depth": path.count("/") - 1,
                    "is_civil_affairs_unit": _is_civil_affairs_unit(code, level),
                    "source": row.get("source", "")[:120],
                },
            )
            known[code] = division
            count += 1
        audit_record(actor=actor, event_type="divisions.load", extra={"rows": count})
    transaction.on_commit(division_index_clear)
    return count


def division_load_csv(*, path: Path = DEFAULT_CSV, actor: Any = None) -> int:
    with path.open(encoding="utf-8") as fh:
        return division_load(rows=csv.DictReader(fh), actor=actor)
