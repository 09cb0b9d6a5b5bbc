"""The 暖心救助 entries of the side menu and of the home page's to-do list (core.navigation)."""

from __future__ import annotations

from datetime import date

from minzheng.assistance.permissions import AssistancePerm
from minzheng.core.access import Actor
from minzheng.core.navigation import Entry, Todo, register, register_todo

GROUP = "暖心救助"


def register_entries() -> None:
    for entry in (
        Entry(GROUP, "救助工作台", "assistance:home", AssistancePerm.VIEW, 10),
        Entry(GROUP, "本月探访", "assistance:visit-plan", AssistancePerm.RECORD_VISIT, 20),
        Entry(GROUP, "救助申请", "assistance:application-list", AssistancePerm.VIEW, 30),
        Entry(GROUP, "保障对象", "assistance:enrolment-list", AssistancePerm.VIEW, 40),
        Entry(GROUP, "资金发放", "assistance:roll-list", AssistancePerm.RUN_PAYROLL, 50),
        Entry(GROUP, "探访达标", "assistance:compliance", AssistancePerm.VIEW_REPORTS, 60),
        Entry(GROUP, "应保尽保/应退尽退", "assistance:coverage", AssistancePerm.VIEW_REPORTS, 70),
        Entry(GROUP, "主动发现", "assistance:outreach", AssistancePerm.OUTREACH, 80),
        Entry(GROUP, "政策模拟", "assistance:whatif", AssistancePerm.WHATIF, 90),
        Entry(GROUP, "流浪乞讨救助", "assistance:rescue-list", AssistancePerm.VIEW, 100),
        Entry(GROUP, "助联体项目", "assistance:project-list", AssistancePerm.VIEW, 110),
        Entry(GROUP, "善居工程", "assistance:housing-list", AssistancePerm.VIEW, 120),
    ):
        register(entry)


def _overdue(actor: Actor, today: date) -> int:
    from minzheng.assistance import selectors

    return selectors.applications_overdue(actor=actor, on=today).count()


def _open_applications(actor: Actor, today: date) -> int:
    from minzheng.assistance import selectors

    return selectors.application_list(actor=actor, open_only=True).count()


def _visits_due(actor: Actor, today: date) -> int:
    from minzheng.assistance import selectors
    from minzheng.assistance.enums import TaskStatus

    return selectors.visit_tasks(actor=actor, month=today.replace(day=1), status=TaskStatus.PLANNED).count()


def _rolls_to_approve(actor: Actor, today: date) -> int:
    from minzheng.assistance import selectors
    from minzheng.assistance.enums import RollStatus

    return selectors.roll_list(actor=actor).filter(status=RollStatus.FROZEN).count()


def _outreach_open(actor: Actor, today: date) -> int:
    from minzheng.assistance import selectors

    return selectors.outreach_list(actor=actor).count()


def register_todos() -> None:
    for todo in (
        Todo(GROUP, "超过法定时限的救助申请", "assistance:home", AssistancePerm.VIEW, _overdue, order=10, urgent=True),
        Todo(GROUP, "在办救助申请", "assistance:application-list", AssistancePerm.VIEW, _open_applications, order=20),
        Todo(GROUP, "本月待探访", "assistance:visit-plan", AssistancePerm.RECORD_VISIT, _visits_due, order=30),
        Todo(GROUP, "待审核的发放名册", "assistance:roll-list", AssistancePerm.APPROVE_PAYROLL, _rolls_to_approve,
             order=40),
        Todo(GROUP, "待跟进的主动发现线索", "assistance:outreach", AssistancePerm.OUTREACH, _outreach_open, order=50),
    ):
        register_todo(todo)
