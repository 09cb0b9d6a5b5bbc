"""Dynamic management: reviews decided by the rules, 渐退 with the job-income disregard, exits with
reasons, the 高龄津贴 auto-enrolment job."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import synthetic_id
from minzheng.assistance.models import Enrolment, EnrolmentReview, PayrollLine
from minzheng.assistance.services import enrolment as es
from minzheng.assistance.services import payroll as p
from minzheng.assistance.tests.conftest import COMMUNITY_A
from minzheng.assistance.tests.test_payroll import OCT, enrol, fund, run_month
from minzheng.core.exceptions import Conflict, ValidationFailed
from minzheng.core.models import AuditEvent


@pytest.fixture
def household(staff, family, travel):
    travel(date(2024, 9, 20))
    people = family([("head", "19600101"), ("spouse", "19620101"), ("child", "19980101")], COMMUNITY_A)
    e = enrol(staff, people[0], members=[(people[0], "head", 60_000), (people[1], "spouse", 0),
                                         (people[2], "child", 0)], monthly_fen=0, stability="stable")
    return people, e


def test_a_review_with_unchanged_income_continues(staff, household):
    people, e = household
    review = es.enrolment_review(actor=staff.township, enrolment=e, members=[
        {"person": people[0].uid, "income_yuan": "600"}], note="年度复核")
    assert (review.outcome, review.eligible, review.amount_fen) in {("adjust", True, 317_700), ("continue", True, 317_700)}
    e.refresh_from_db()
    assert e.next_review_on == date(2025, 9, 20)
    assert e.monthly_fen == 317_700
    assert review.trace["steps"][0]["rule"] == "household.members"


def test_a_new_job_starts_the_gradual_exit_and_is_disregarded(staff, household, travel):
    people, e = household
    review = es.enrolment_review(actor=staff.township, enrolment=e, members=[
        {"person": people[2].uid, "job_income_yuan": "4000"}], note="儿子就业")
    assert review.outcome == "grace"
    e.refresh_from_db()
    assert e.status == "grace"
    assert e.grace_until == date(2025, 2, 28)
    # 4000 元 new job income, of which up to 3 × 1259 = 3777 disregarded → counted 600 + 223 = 823 元
    assert e.monthly_fen == (125_900 - (60_000 + 400_000 - 377_700) // 3) * 3
    assert e.stability == "unstable"
    assert e.next_review_on == date(2025, 3, 20)
    fund(staff)
    travel(date(2024, 10, 10))
    roll = run_month(staff, OCT)
    assert PayrollLine.objects.get(roll=roll, enrolment=e).total_fen == e.monthly_fen
    travel(date(2025, 3, 3))
    ended = es.grace_expire(actor=None, on=date(2025, 3, 1))
    e.refresh_from_db()
    assert ended == 1
    assert (e.status, e.exit_reason, e.end_month) == ("terminated", "grace_ended", date(2025, 2, 1))


def test_an_income_rise_without_a_job_exits_with_the_reason(staff, household):
    people, e = household
    review = es.enrolment_review(actor=staff.township, enrolment=e, members=[
        {"person": people[0].uid, "income_yuan": "5000"}], note="复核")
    assert review.outcome == "exit"
    assert not review.eligible
    e.refresh_from_db()
    assert (e.status, e.exit_reason, e.end_month) == ("terminated", "income_above", date(2024, 9, 1))
    assert "dibao.income" in e.exit_note


def test_assets_above_the_limit_exit_with_that_reason(staff, household):
    _people, e = household
    es.enrolment_review(actor=staff.township, enrolment=e, assets={"money_assets_yuan": "500000"})
    e.refresh_from_db()
    assert e.exit_reason == "assets_above"


def test_review_refuses_bad_input_and_changes_nothing(staff, household, family):
    people, e = household
    stranger = family([("head", "19700101")])[0]
    before = (EnrolmentReview.objects.count(), AuditEvent.objects.count(),
              list(e.members.values_list("income_fen", flat=True)))
    for members, field in [([{"person": people[0].uid, "income_yuan": "-1"}], "members[0].income_yuan"),
                           ([{"person": people[0].uid, "income_yuan": "50000000"}], "members[0].income_yuan"),
                           ([{"person": stranger.uid, "income_yuan": "1"}], "members[0].person")]:
        with pytest.raises(ValidationFailed) as exc:
            es.enrolment_review(actor=staff.township, enrolment=e, members=members)
        assert field in exc.value.fields
    assert before == (EnrolmentReview.objects.count(), AuditEvent.objects.count(),
                      list(e.members.values_list("income_fen", flat=True)))


def test_exits_need_a_reason_and_an_explanation(staff, household):
    _people, e = household
    with pytest.raises(ValidationFailed):
        es.enrolment_exit(actor=staff.township, enrolment=e, reason="bogus", note="说明理由")
    with pytest.raises(ValidationFailed):
        es.enrolment_exit(actor=staff.township, enrolment=e, reason="voluntary", note="")
    es.enrolment_exit(actor=staff.township, enrolment=e, reason="voluntary", note="本人书面申请退出低保")
    e.refresh_from_db()
    assert (e.status, e.exit_reason) == ("terminated", "voluntary")
    with pytest.raises(Conflict):
        es.enrolment_exit(actor=staff.township, enrolment=e, reason="voluntary", note="再次退出")


def test_longevity_enrols_80_year_olds_automatically(staff, make_person, travel):
    travel(date(2024, 10, 3))
    turned = make_person("满八十", birth="19440930")  # 80 on 30 Sep 2024
    not_yet = make_person("差一天", birth="19441002")  # 80 on 2 Oct: enrolled from November
    centenarian = make_person("百岁", birth="19240101")
    outsider = make_person("外省", birth="19400101", id_number=synthetic_id("19400101", 901, "110101"))  # Beijing
    p.period_close(actor=staff.district, month=OCT)
    enrolled = {e.person_id: e for e in Enrolment.objects.filter(program="longevity")}
    assert turned.pk in enrolled
    assert centenarian.pk in enrolled
    assert not_yet.pk not in enrolled
    assert outsider.pk not in enrolled
    assert enrolled[centenarian.pk].monthly_fen == 80_000
    assert enrolled[turned.pk].monthly_fen == 6_000
    assert enrolled[turned.pk].start_month == OCT
    assert es.longevity_enrol(actor=None, on=OCT) == 0  # idempotent
    assert es.longevity_enrol(actor=None, on=date(2024, 11, 1)) == 1
