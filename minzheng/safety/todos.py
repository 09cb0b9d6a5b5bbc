"""The 安居守护 lines of the home page's to-do list (core.navigation), counted in the member's area."""

from __future__ import annotations

from datetime import date

from minzheng.core.access import Actor
from minzheng.core.navigation import Todo, register_todo
from minzheng.safety import selectors
from minzheng.safety.permissions import SafetyPerm

GROUP = "舒心养老"


def _open(actor: Actor, today: date) -> int:
    return selectors.open_incidents(actor=actor).count()


def _overdue(actor: Actor, today: date) -> int:
    return selectors.open_incidents(actor=actor, overdue=True).count()


def _tickets(actor: Actor, today: date) -> int:
    return selectors.ticket_list(actor=actor).count()


def register() -> None:
    for todo in (
        Todo(GROUP, "未办结的安居守护告警", "safety:console", SafetyPerm.VIEW, _open, order=110),
        Todo(GROUP, "超过处置时限的告警", "safety:console", SafetyPerm.VIEW, _overdue, order=111, urgent=True),
        Todo(GROUP, "待修的设备维护工单", "safety:metrics", SafetyPerm.VIEW_METRICS, _tickets, order=120),
    ):
        register_todo(todo)
