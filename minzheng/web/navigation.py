"""Renders the side menu from ``core.navigation``'s registry, filtered by permission."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from minzheng.accounts.permissions import AccountPerm
from minzheng.core.navigation import Entry, entries, register
from minzheng.core.permissions import CorePerm
from minzheng.people.permissions import PeoplePerm

for _entry in (
    Entry("工作台", "首页", "web:home", "", 0),
    Entry("一人一档", "人员查询", "web:person-list", PeoplePerm.VIEW_PERSON, 10),
    Entry("一人一档", "新增人员", "web:person-create", PeoplePerm.CHANGE_PERSON, 20),
    Entry("审批", "未成年人档案查阅", "web:minor-access-queue", PeoplePerm.APPROVE_MINOR_ACCESS, 10),
    Entry("系统", "工作人员", "web:staff-list", AccountPerm.VIEW_ACCOUNTS, 10),
    Entry("系统", "审计日志", "web:audit-log", CorePerm.VIEW_AUDIT, 20),
    Entry("系统", "修改密码", "web:password-change", "", 90),
):
    register(_entry)


def menu_for(user: Any, path: str) -> list[dict[str, Any]]:
    """The entries the user may open, grouped; the one whose address is the longest prefix of
    ``path`` is active (/safety/handover/ lights 交接班, not also 监控台 at /safety/)."""
    visible: list[tuple[Entry, str]] = []
    for e in entries():
        if e.permission and not user.has_permission(e.permission):
            continue
        try:
            visible.append((e, reverse(e.url_name)))
        except NoReverseMatch:
            continue
    matches = [url for _, url in visible if path == url or (url != "/" and path.startswith(url))]
    active = max(matches, key=len, default=None)
    groups: dict[str, list[dict[str, Any]]] = {}
    for e, url in visible:
        groups.setdefault(e.group, []).append({"label": e.label, "url": url, "active": url == active})
    return [{"group": g, "items": items} for g, items in groups.items()]
