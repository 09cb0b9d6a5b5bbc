"""The side menu's registry: the five service lines (五心为民) and the platform pages.

Apps add entries in ``AppConfig.ready()`` with ``register(Entry(...))``; the web shell renders the
entries each signed-in member holds the permission for.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ["工作台", "一人一档", "舒心养老", "暖心救助", "群心治理", "爱心慈善", "贴心服务", "审批", "系统"]


@dataclass(frozen=True)
class Entry:
    group: str  # one of GROUPS
    label: str
    url_name: str
    permission: str  # "" = any signed-in member
    order: int = 100


_entries: list[Entry] = []


def register(entry: Entry) -> None:
    if entry not in _entries:
        _entries.append(entry)


def entries() -> list[Entry]:
    return sorted(_entries, key=lambda e: (GROUPS.index(e.group) if e.group in GROUPS else 99, e.order))
