"""Renders the side menu from ``core.navigation``'s registry, filtered by permission."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.urls import NoReverseMatch, reverse

from minzheng.accounts.permissions import AccountPerm
from minzheng.core.access import Actor
from minzheng.core.navigation import Entry, Todo, entries, register, register_todo, todos_for
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


def _minor_requests(actor: Actor, today: date) -> int:
    from minzheng.people.selectors import minor_grant_queue

    return minor_grant_queue(actor=actor).count()


def _export_requests(actor: Actor, today: date) -> int:
    from minzheng.people.selectors import export_approval_queue

    return export_approval_queue(actor=actor).count()


for _todo in (
    Todo("审批", "待审批的未成年人档案查阅", "web:minor-access-queue", PeoplePerm.APPROVE_MINOR_ACCESS,
         _minor_requests, order=10),
    Todo("审批", "待审批的批量导出", "web:export-approval-queue", PeoplePerm.APPROVE_EXPORT, _export_requests, order=20),
):
    register_todo(_todo)


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


def todos_on_home(user: Any, today: date) -> list[dict[str, Any]]:
    """The home page's 待办, grouped by service line, each counted; a page the URLconf lacks is left out."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for todo in todos_for(user):
        try:
            url = reverse(todo.url_name)
        except NoReverseMatch:
            continue
        count = todo.count(user, today)
        groups.setdefault(todo.group, []).append(
            {"label": todo.label, "url": url, "count": count, "urgent": todo.urgent and count > 0})
    return [{"group": g, "items": items} for g, items in groups.items()]
