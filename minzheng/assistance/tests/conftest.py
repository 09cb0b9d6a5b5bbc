"""Fixtures of the assistance tests: staff at every level of two sibling communities, a household
builder, and the whole application workflow as one call for tests about what comes after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, LIANGZHU, WUCHANG

SHANGHAI = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def travel() -> Iterator[Callable[[date], None]]:
    """Move the clock to a given day (10:00 Shanghai); tests move it forward as the case proceeds."""
    machines: list[Any] = []

    def go(day: date, hour: int = 10) -> None:
        while machines:
            machines.pop().stop()
        m = time_machine.travel(at(day, hour), tick=False)
        m.start()
        machines.append(m)

    yield go
    while machines:
        machines.pop().stop()


@dataclass
class Staff:
    worker_a: Any  # 社区 A worker
    worker_b: Any  # 社区 B worker (sibling community)
    caseworker_a: Any
    township: Any  # 五常街道 staff
    township_other: Any  # 良渚街道 staff
    district: Any  # 区 admin (maker)
    checker: Any  # a second 区 admin (checker)


@pytest.fixture
def staff(make_staff: Callable[..., Any]) -> Staff:
    return Staff(
        worker_a=make_staff(("community_worker",), COMMUNITY_A, username="worker_a", full_name="社区甲"),
        worker_b=make_staff(("community_worker",), COMMUNITY_B, username="worker_b", full_name="社区乙"),
        caseworker_a=make_staff(("caseworker",), COMMUNITY_A, username="case_a", full_name="社工甲"),
        township=make_staff(("township_staff",), WUCHANG, username="town_wc", full_name="街道员"),
        township_other=make_staff(("township_staff",), LIANGZHU, username="town_lz", full_name="良渚员"),
        district=make_staff(("district_admin",), DISTRICT, username="dist_1", full_name="区级一"),
        checker=make_staff(("district_admin",), DISTRICT, username="dist_2", full_name="区级二"),
    )


@pytest.fixture
def family(make_person: Callable[..., Any]) -> Callable[..., Any]:
    """A household: ``family([("head", "19600101"), ("spouse", "19620101")], division)`` → people."""
    from minzheng.people.services import household_add_member, household_create

    class _District:
        pk = 0
        scope_path = f"{DISTRICT}/"
        username = "fixture"
        role_codes = ("district_admin",)
        division_id = DISTRICT
        is_machine = False

        def has_permission(self, perm: str) -> bool:
            return True

    names = iter(["王秀英", "李建国", "张丽华", "陈志强", "刘小明", "赵淑芬", "孙国平", "周美玲", "吴晓东", "郑桂兰"])

    def build(members: list[tuple[str, str]], division: str = COMMUNITY_A, **kw: Any) -> list[Any]:
        people = [make_person(next(names, "钱多多"), division, birth=b, **kw) for _rel, b in members]
        hh = household_create(actor=_District(), head=people[0])
        for (rel, _b), p in zip(members[1:], people[1:], strict=True):
            household_add_member(actor=_District(), household=hh, person=p, relation=rel)
        for p in people:
            p.refresh_from_db()
        return people

    return build


ACCOUNT = "6228480012345678901"


def submit_dibao(staff: Staff, people: list[Any], *, incomes: list[int], program: str = "dibao",
                 assets_yuan: int = 0, actor: Any = None) -> Any:
    """Create, attach the authorisation, submit, accept, check the economy: ready to investigate."""
    from minzheng.assistance.services import applications as s

    actor = actor or staff.worker_a
    app = s.application_create(
        actor=actor, program=program, applicant_uid=people[0].uid, reason="家庭收入低,生活困难",
        members=[{"person": p.uid, "relation": "spouse" if i == 1 else "child"} for i, p in enumerate(people[1:], 1)],
        bank_name="农业银行", bank_account=ACCOUNT,
    )
    auth = s.attachment_add(actor=actor, application=app, kind="authorization", filename="授权书.pdf", content=PDF)
    proof = s.attachment_add(actor=actor, application=app, kind="income_proof", filename="收入.pdf", content=PDF)
    s.application_submit(actor=actor, application=app)
    s.application_accept(actor=staff.township, application=app)
    s.application_start_check(actor=staff.township, application=app)
    s.economy_record(
        actor=staff.township, application=app,
        incomes=[{"person": p.uid, "kind": "wage", "monthly_yuan": str(inc), "evidence": proof.pk}
                 for p, inc in zip(people, incomes, strict=True) if inc],
        assets=[{"kind": "deposit", "value_yuan": str(assets_yuan), "source": "platform"}] if assets_yuan else [],
    )
    s.application_complete_check(actor=staff.township, application=app)
    app.refresh_from_db()
    assert auth.pk
    return app


def approve_dibao(staff: Staff, app: Any, travel: Callable[[date], None], start: date) -> Any:
    """Investigate (社区), publicise 7 days, close, approve (区): returns the application."""
    from datetime import timedelta

    from minzheng.assistance.services import applications as s

    travel(start)
    s.application_investigate(actor=staff.worker_a, application=app, visited_on=start,
                              findings="入户查看,家中陈设简陋,收入情况属实", recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app)
    travel(start + timedelta(days=8))
    s.application_close_publicity(actor=staff.worker_a, application=app)
    s.application_approve(actor=staff.district, application=app)
    app.refresh_from_db()
    return app


__all__ = ["COMMUNITY_A", "COMMUNITY_B", "DISTRICT", "LIANGZHU", "WUCHANG"]
