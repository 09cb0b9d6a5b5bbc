"""The 暖心救助 entries of the side menu (core.navigation)."""

from __future__ import annotations

from minzheng.assistance.permissions import AssistancePerm
from minzheng.core.navigation import Entry, register

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
