"""Scope on every list: two sibling communities of 五常街道 never see each other's rows; the township
sees both, another township neither; a detail outside the area is NotFound."""

from __future__ import annotations

from datetime import date

import pytest

from minzheng.assistance import selectors as sel
from minzheng.assistance.models import HouseholdEconomy, PayrollRoll
from minzheng.assistance.services import applications as s
from minzheng.assistance.services import discovery, records, visits
from minzheng.assistance.tests.conftest import COMMUNITY_A, COMMUNITY_B
from minzheng.assistance.tests.test_payroll import OCT, enrol, fund, run_month
from minzheng.core.exceptions import NotFound


@pytest.fixture
def two_communities(staff, family, travel):
    travel(date(2024, 10, 9))
    out = {}
    for key, community in (("a", COMMUNITY_A), ("b", COMMUNITY_B)):
        people = family([("head", "19500101")], community, living_arrangement="alone",
                        health_flags=["serious_illness"])
        person = people[0]
        enrolment = enrol(staff, person)
        applicant = family([("head", "19600101")], community)[0]
        app = s.application_create(actor=staff.township, program="linshi", applicant_uid=applicant.uid, reason="急病",
                                   requested_yuan="1000")
        HouseholdEconomy.objects.create(household=applicant.household, area_path=applicant.area_path,
                                        township_code="330110005000", members=1, income_total_fen=50_000,
                                        as_of=date(2024, 9, 30))
        worker = staff.worker_a if key == "a" else staff.worker_b
        records.rescue_create(actor=worker, division_code=community, display_name=f"无名氏{key}", found_on="2024-10-01",
                              found_place="桥下")
        records.project_create(actor=worker, division_code=community, name=f"项目{key}", provider="社工站",
                               level="community", need="care", start_on="2024-10-01")
        records.housing_create(actor=worker, person_uid=person.uid, works="适老化改造", surveyed_on="2024-10-01")
        out[key] = {"person": person, "enrolment": enrolment, "app": app, "applicant": applicant}
    visits.visit_plan_generate(actor=None, month=OCT)
    visits.visit_record(actor=staff.worker_a, person_uid=out["a"]["person"].uid, visited_at="2024-10-09T09:00",
                        place="home", finding="stable", findings="生活稳定,身体尚可")
    visits.visit_record(actor=staff.worker_b, person_uid=out["b"]["person"].uid, visited_at="2024-10-09T09:00",
                        place="home", finding="stable", findings="生活稳定,身体尚可")
    discovery.outreach_refresh(actor=None, on=date(2024, 10, 9))
    fund(staff)
    run_month(staff, OCT)
    return out


def _names(rows, attr):
    return {getattr(r, attr) for r in rows}


def test_every_list_is_cut_to_the_actors_area(staff, two_communities):
    a, b = two_communities["a"], two_communities["b"]
    roll = PayrollRoll.objects.get()
    lists = {
        "applications": (lambda actor: sel.application_list(actor=actor), "applicant_id"),
        "enrolments": (lambda actor: sel.enrolment_list(actor=actor), "person_id"),
        "visit_tasks": (lambda actor: sel.visit_tasks(actor=actor, month=OCT), "person_id"),
        "visits": (lambda actor: sel.visit_list(actor=actor), "person_id"),
        "outreach": (lambda actor: sel.outreach_list(actor=actor), "household_id"),
        "roll_lines": (lambda actor: sel.roll_lines(actor=actor, roll=roll), "person_id"),
        "rescues": (lambda actor: sel.rescue_list(actor=actor), "area_path"),
        "projects": (lambda actor: sel.project_list(actor=actor), "area_path"),
        "housing": (lambda actor: sel.housing_list(actor=actor), "person_id"),
    }
    own = {
        "applications": lambda x: x["applicant"].pk, "enrolments": lambda x: x["person"].pk,
        "visit_tasks": lambda x: x["person"].pk, "visits": lambda x: x["person"].pk,
        "outreach": lambda x: x["applicant"].household_id, "roll_lines": lambda x: x["person"].pk,
        "rescues": lambda x: x["person"].area_path, "projects": lambda x: x["person"].area_path,
        "housing": lambda x: x["person"].pk,
    }
    for name, (fetch, attr) in lists.items():
        seen_a = _names(fetch(staff.worker_a), attr)
        seen_b = _names(fetch(staff.worker_b), attr)
        mine_a, mine_b = own[name](a), own[name](b)
        assert mine_a in seen_a, name
        assert mine_b not in seen_a, name
        assert mine_b in seen_b, name
        assert mine_a not in seen_b, name
        township = _names(fetch(staff.township), attr)
        assert {mine_a, mine_b} <= township, name
        assert not ({mine_a, mine_b} & _names(fetch(staff.township_other), attr)), name


def test_aggregates_are_cut_too(staff, two_communities):
    roll = PayrollRoll.objects.get()
    assert sum(r.lines for r in sel.roll_summary(actor=staff.worker_a, roll=roll)) == 1
    assert sum(r.lines for r in sel.roll_summary(actor=staff.township, roll=roll)) == 2
    assert sel.roll_summary(actor=staff.township_other, roll=roll) == []
    assert {r.code for r in sel.compliance(actor=staff.worker_a, month=OCT)} == {COMMUNITY_A}
    assert {r.code for r in sel.compliance(actor=staff.township, month=OCT)} == {COMMUNITY_A, COMMUNITY_B}
    assert sum(r.households for r in sel.coverage_report(actor=staff.worker_a, on=date(2024, 10, 9))) == 1
    assert sum(r.households for r in sel.coverage_report(actor=staff.district, on=date(2024, 10, 9))) == 2
    counts = sel.dashboard_counts(actor=staff.worker_b, on=date(2024, 10, 9))
    assert counts["dibao"] == 1
    assert counts["visits_planned"] == 1
    a_person = two_communities["a"]["person"]
    assert sel.payments_of(actor=staff.worker_b, person_id=a_person.pk) == []
    assert len(sel.payments_of(actor=staff.worker_a, person_id=a_person.pk)) == 1


def test_details_outside_the_area_do_not_exist(staff, two_communities):
    a = two_communities["a"]
    with pytest.raises(NotFound):
        sel.application_get(actor=staff.worker_b, uid=a["app"].uid)
    with pytest.raises(NotFound):
        sel.enrolment_get(actor=staff.worker_b, uid=a["enrolment"].uid)
    with pytest.raises(NotFound):
        sel.enrolment_get(actor=staff.worker_a, uid="not-a-uuid")
    with pytest.raises(NotFound):
        s.application_accept(actor=staff.township_other, application=a["app"])
    assert sel.application_get(actor=staff.worker_a, uid=a["app"].uid).pk == a["app"].pk
