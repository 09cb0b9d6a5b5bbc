"""The side menu: the five service lines (五心为民) and the platform pages, filtered by permission.

Domains that arrive later add their entries with ``register``; an entry shows only to those who
hold its permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from minzheng.accounts.permissions import AccountPerm
from minzheng.core.permissions import CorePerm
from minzheng.people.permissions import PeoplePerm


@dataclass(frozen=True)
class Entry:
    group: str
    label: str
    url_name: str
    permission: str  # "" = any signed-in member


GROUPS = ["工作台", "一人一档", "舒心养老", "暖心救助", "群心治理", "爱心慈善", "贴心服务", "系统"]
_entries: list[Entry] = [
    Entry("工作台", "首页", "web:home", ""),
    Entry("一人一档", "人员查询", "web:person-list", PeoplePerm.VIEW_PERSON),
    Entry("一人一档", "新增人员", "web:person-create", PeoplePerm.CHANGE_PERSON),
    Entry("一人一档", "未成年人查阅审批", "web:minor-access-queue", PeoplePerm.APPROVE_MINOR_ACCESS),
    Entry("系统", "工作人员", "web:staff-list", AccountPerm.VIEW_ACCOUNTS),
    Entry("系统", "审计日志", "web:audit-log", CorePerm.VIEW_AUDIT),
    Entry("系统", "修改密码", "web:password-change", ""),
]


def register(entry: Entry) -> None:
    if entry not in _entries:
        _entries.append(entry)


def menu_for(user: Any, path: str) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUPS}
    for e in _entries:
        if e.permission and not user.has_permission(e.permission):
            continue
        try:
            url = reverse(e.url_name)
        except NoReverseMatch:
            continue
        groups.setdefault(e.group, []).append(
            {"label": e.label, "url": url, "active": path == url or (url != "/" and path.startswith(url))}
        )
    return [{"group": g, "items": items} for g, items in groups.items() if items]
