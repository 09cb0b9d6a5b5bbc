"""Monthly visit plans, visit records, quarterly 幸福清单, compliance, missed visits → care signals."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from minzheng.assistance.models import HappinessDelivery, Visit, VisitTask
from minzheng.assistance.selectors import compliance
from minzheng.assistance.services import visits as v
from minzheng.assistance.tests.conftest import COMMUNITY_A, COMMUNITY_B, SHANGHAI
from minzheng.assistance.tests.test_payroll import OCT, enrol
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.people.events import CareSignalRaised


@pytest.fixture
def objects(staff, family, travel):
    travel(date(2024, 10, 2))
    a = family([("head", "19500101")], COMMUNITY_A)[0]
    b = family([("head", "19510101")], COMMUNITY_B)[0]
    c = family([("head", "19400101")], COMMUNITY_A)[0]
    return {"a": enrol(staff, a), "b": enrol(staff, b), "longevity": enrol(staff, c, "longevity"), "people": (a, b, c)}


def test_every_enrolled_object_gets_a_monthly_visit_but_not_allowance_only_elders(objects):
    assert v.visit_plan_generate(actor=None, month=OCT) == 2
    assert v.visit_plan_generate(actor=None, month=OCT) == 0  # idempotent
    assert set(VisitTask.objects.values_list("enrolment_id", flat=True)) == {objects["a"].pk, objects["b"].pk}


def test_recording_a_visit_completes_the_task_and_delivers_the_list(staff, objects, travel):
    v.visit_plan_generate(actor=None, month=OCT)
    a = objects["people"][0]
    visit = v.visit_record(actor=staff.caseworker_a, person_uid=a.uid, visited_at="2024-10-02T09:30", place="home",
                           finding="changed", findings="儿子已外出务工,收入情况有变化", needs=["employment"],
                           follow_up="下周复核家庭收入", follow_up_due="2024-10-09", happiness_delivered=True)
    assert visit.visited_at == datetime(2024, 10, 2, 9, 30, tzinfo=SHANGHAI)
    assert VisitTask.objects.get(enrolment=objects["a"]).status == "done"
    assert HappinessDelivery.objects.get(enrolment=objects["a"]).quarter == "2024Q4"
    objects["a"].refresh_from_db()
    assert objects["a"].next_review_on == date(2024, 10, 2)  # a changed situation is reviewed at once
    rows = {r.code: r for r in compliance(actor=staff.township, month=OCT)}
    assert (rows[COMMUNITY_A].done, rows[COMMUNITY_A].planned, rows[COMMUNITY_A].delivered) == (1, 1, 1)
    assert rows[COMMUNITY_A].meets_target
    assert not rows[COMMUNITY_B].meets_target
    assert rows[COMMUNITY_B].visit_rate == 0.0


@pytest.mark.parametrize(("change", "field"), [
    ({"visited_at": "2024-10-05T09:00"}, "visited_at"), ({"visited_at": "2024-08-01T09:00"}, "visited_at"),
    ({"visited_at": "yesterday"}, "visited_at"), ({"place": "moon"}, "place"), ({"finding": "?"}, "finding"),
    ({"findings": "好"}, "findings"), ({"needs": ["gold"]}, "needs"), ({"follow_up_due": "2024-09-01"}, "follow_up_due"),
    ({"follow_up": "", "follow_up_due": "2024-10-09"}, "follow_up"),
])
def test_bad_visits_are_refused_naming_the_field(staff, objects, change, field):
    a = objects["people"][0]
    data = {"visited_at": "2024-10-02T09:30", "place": "home", "finding": "stable", "findings": "身体健康,生活稳定",
            "follow_up": "电话回访", "follow_up_due": "2024-10-09"} | change
    with pytest.raises(ValidationFailed) as exc:
        v.visit_record(actor=staff.caseworker_a, person_uid=a.uid, **data)
    assert field in exc.value.fields
    assert not Visit.objects.exists()


def test_another_communitys_person_cannot_be_visited(staff, objects):
    b = objects["people"][1]
    with pytest.raises(NotFound):
        v.visit_record(actor=staff.caseworker_a, person_uid=b.uid, visited_at="2024-10-02T09:30", place="home",
                       finding="stable", findings="身体健康,生活稳定")


def test_missed_visits_raise_care_signals(staff, objects, travel, django_capture_on_commit_callbacks, monkeypatch):
    from minzheng.core import events

    v.visit_plan_generate(actor=None, month=OCT)
    received: list[CareSignalRaised] = []
    monkeypatch.setitem(events._subscribers, CareSignalRaised, [received.append])  # only ours, for this test
    with pytest.raises(Conflict):
        v.visits_close_month(actor=None, month=OCT)  # the month is not over yet
    travel(date(2024, 11, 1))
    with django_capture_on_commit_callbacks(execute=True):
        assert v.visits_close_month(actor=None, month=OCT) == 2
    assert {(s.source, s.kind) for s in received} == {("assistance", "visit_missed")}
    assert {s.person_id for s in received} == {objects["people"][0].pk, objects["people"][1].pk}
    assert set(VisitTask.objects.values_list("status", flat=True)) == {"missed"}


def test_happiness_list_outside_a_visit(staff, objects):
    d = v.happiness_record(actor=staff.worker_a, enrolment=objects["a"], delivered_on="2024-10-02")
    assert d.quarter == "2024Q4"
    assert v.happiness_record(actor=staff.worker_a, enrolment=objects["a"]).pk == d.pk  # once per quarter
    with pytest.raises(NotFound):
        v.happiness_record(actor=staff.worker_a, enrolment=objects["b"])
    with pytest.raises(Conflict):
        v.happiness_record(actor=staff.township, enrolment=objects["longevity"])
