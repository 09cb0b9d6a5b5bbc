"""The application workflow: the happy path, every refusal, and nothing changed after a refusal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from minzheng.assistance.models import (
    Application,
    ApplicationEvent,
    Attachment,
    Enrolment,
    Grant,
    IncomeItem,
)
from minzheng.assistance.services import applications as s
from minzheng.assistance.tests.conftest import ACCOUNT, PDF, PNG, approve_dibao, submit_dibao
from minzheng.core.exceptions import Conflict, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent


def _counts() -> tuple[int, ...]:
    return (Application.objects.count(), Enrolment.objects.count(), IncomeItem.objects.count(),
            Attachment.objects.count(), ApplicationEvent.objects.count(), Grant.objects.count(), AuditEvent.objects.count())


def test_a_household_applies_and_is_approved_within_the_rules(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101"), ("child", "20100601")])
    app = submit_dibao(staff, people, incomes=[900, 300, 0])
    assert app.status == "investigation"
    assert app.decision_eligible is True
    # (1259 − floor(1200 / 3)) × 3 = 2577 元, from the rules engine with its trace
    assert app.decision_amount_fen == 257_700
    rules = [step["rule"] for step in app.decision_trace["steps"]]
    assert rules[0] == "household.members"
    assert "dibao.amount" in rules
    assert app.decision_trace["steps"][1]["params"][0]["value"] == 125_900
    assert "1259.00" in app.decision_trace["explain"]
    assert app.prelim_due == date(2024, 9, 24)  # 15 working days after 2 September (中秋 15-17 Sep; Sat 14th worked)
    app = approve_dibao(staff, app, travel, date(2024, 9, 4))
    assert app.status == "approved"
    assert app.approver_name == "dist_1"
    assert app.investigator_name == "worker_a"
    enrolment = app.enrolments.get()
    assert (enrolment.program, enrolment.monthly_fen, enrolment.persons) == ("dibao", 257_700, 3)
    assert enrolment.start_month == date(2024, 10, 1)  # paid from the month after approval
    assert enrolment.members.count() == 3
    assert enrolment.bank_account_masked.endswith(ACCOUNT[-4:])
    assert ACCOUNT not in enrolment.bank_account_masked
    assert enrolment.last_trace["steps"]
    events = list(app.events.values_list("action", flat=True))
    assert events == ["create", "submit", "accept", "start_check", "complete_check", "investigate", "publicize",
                      "close_publicity", "approve"]
    assert AuditEvent.objects.filter(event_type="assistance.application.approve", object_id=str(app.uid)).count() == 1


def test_incomplete_household_is_refused_and_nothing_is_written(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101")])
    before = _counts()
    with pytest.raises(ValidationFailed) as exc:
        s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难",
                             members=[])
    assert exc.value.code == "incomplete_household"
    assert people[1].name in exc.value.fields["members"]
    assert _counts() == before


def test_an_applicant_without_a_household_cannot_apply_for_dibao(staff, make_person, travel):
    travel(date(2024, 9, 2))
    loner = make_person("孤老", birth="19400101")
    with pytest.raises(ValidationFailed) as exc:
        s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=loner.uid, reason="困难")
    assert "household" in exc.value.fields


@pytest.mark.parametrize(("value", "code"), [("-100", "negative_amount"), ("99999999", "absurd_amount"),
                                             ("12.345", "bad_amount"), ("abc", "bad_amount"), ("1e400", "bad_amount")])
def test_negative_or_absurd_incomes_are_refused(staff, family, travel, value, code):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[500])
    s_app = Application.objects.get(pk=app.pk)
    # back into the check step to record again
    Application.objects.filter(pk=app.pk).update(status="econ_check")
    before = list(IncomeItem.objects.filter(application=s_app).values_list("monthly_fen", flat=True))
    with pytest.raises(ValidationFailed) as exc:
        s.economy_record(actor=staff.township, application=app,
                         incomes=[{"person": people[0].uid, "kind": "wage", "monthly_yuan": value, "source": "platform"}])
    assert exc.value.code == "bad_economy"
    assert exc.value.fields["incomes[0].monthly_yuan"]
    assert exc.value.fields
    assert code in {"negative_amount", "absurd_amount", "bad_amount"}
    assert list(IncomeItem.objects.filter(application=s_app).values_list("monthly_fen", flat=True)) == before


def test_an_income_needs_evidence(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[500])
    Application.objects.filter(pk=app.pk).update(status="econ_check")
    with pytest.raises(ValidationFailed) as exc:
        s.economy_record(actor=staff.township, application=app,
                         incomes=[{"person": people[0].uid, "kind": "wage", "monthly_yuan": "800"}])
    assert "incomes[0].evidence" in exc.value.fields


def test_an_application_for_a_person_already_enrolled_is_refused(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101")])
    approve_dibao(staff, submit_dibao(staff, people, incomes=[800, 0]), travel, date(2024, 9, 3))
    before = _counts()
    for who in people:  # the payee and any member of the enrolled household
        with pytest.raises(Conflict) as exc:
            s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=who.uid, reason="再次申请",
                                 members=[{"person": p.uid, "relation": "spouse"} for p in people if p != who])
        assert exc.value.code == "already_enrolled"
    assert _counts() == before


def test_a_second_open_application_is_refused(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    with pytest.raises(Conflict) as exc:
        s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    assert exc.value.code == "application_open"


def test_the_investigator_cannot_approve(staff, family, travel):
    """Maker-checker: 审调分离. A township member who investigated cannot approve, even with the grant."""
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[500], program="dibao")
    app = s.application_investigate(actor=staff.district, application=app, visited_on=date(2024, 9, 2),
                                    findings="区级干部亲自入户调查,情况属实", recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app)
    travel(date(2024, 9, 10))
    s.application_close_publicity(actor=staff.worker_a, application=app)
    before = _counts()
    with pytest.raises(PermissionDenied) as exc:
        s.application_approve(actor=staff.district, application=app)
    assert exc.value.code == "maker_checker"
    with pytest.raises(PermissionDenied):
        s.application_deny(actor=staff.district, application=app, reason="理由充分的不予批准")
    assert _counts() == before
    assert Application.objects.get(pk=app.pk).status == "review"
    s.application_approve(actor=staff.checker, application=app)  # a second person may
    assert Application.objects.get(pk=app.pk).status == "approved"


def test_authority_limits_township_vs_district(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[500])
    s.application_investigate(actor=staff.worker_a, application=app, visited_on=date(2024, 9, 2),
                              findings="入户查看,情况属实,建议纳入", recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app)
    travel(date(2024, 9, 10))
    s.application_close_publicity(actor=staff.worker_a, application=app)
    with pytest.raises(PermissionDenied) as exc:
        s.application_approve(actor=staff.township, application=app)  # 低保 is approved by the district
    assert exc.value.code == "authority_limit"
    with pytest.raises(PermissionDenied):
        s.application_approve(actor=staff.worker_a, application=app)  # no grant at all
    from minzheng.core.exceptions import NotFound

    with pytest.raises(NotFound):
        s.application_approve(actor=staff.township_other, application=app)  # another township: not found


def _linshi(staff, person, amount: str, *, emergency: bool = False):
    app = s.application_create(actor=staff.worker_a, program="linshi", applicant_uid=person.uid, reason="火灾受损",
                               requested_yuan=amount, emergency=emergency, facts={"cause": "火灾"},
                               bank_name="农业银行", bank_account=ACCOUNT)
    s.attachment_add(actor=staff.worker_a, application=app, kind="photo", filename="现场.png", content=PNG)
    s.application_submit(actor=staff.worker_a, application=app)
    s.application_accept(actor=staff.township, application=app)
    return app


def _through_publicity(staff, app, travel, day):
    s.application_start_check(actor=staff.township, application=app)
    s.application_complete_check(actor=staff.township, application=app)
    s.application_investigate(actor=staff.worker_a, application=app, visited_on=day, findings="现场查看,房屋受损严重属实",
                              recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app)
    travel(day + timedelta(days=8))
    s.application_close_publicity(actor=staff.worker_a, application=app)


def test_linshi_small_amounts_by_the_township_large_by_the_district(staff, family, travel):
    travel(date(2024, 9, 2))
    a, b = family([("head", "19700101")]), family([("head", "19710101")])
    small, large = _linshi(staff, a[0], "3000"), _linshi(staff, b[0], "7000")
    _through_publicity(staff, small, travel, date(2024, 9, 2))
    _through_publicity(staff, large, travel, date(2024, 9, 10))
    s.application_approve(actor=staff.township, application=small)  # ≤ 3 × 1259: township may
    assert Grant.objects.get(application=small).amount_fen == 300_000
    with pytest.raises(PermissionDenied) as exc:
        s.application_approve(actor=staff.township, application=large)
    assert exc.value.code == "authority_limit"
    with pytest.raises(ValidationFailed) as cap:
        s.application_approve(actor=staff.district, application=large, amount_yuan="8000")  # > 6 × 1259 = 7554
    assert cap.value.code == "over_cap"
    s.application_approve(actor=staff.district, application=large)
    assert Grant.objects.get(application=large).amount_fen == 700_000


def test_emergency_pay_first_then_paperwork(staff, family, travel):
    from minzheng.assistance.services import payroll as p
    from minzheng.ledger.selectors import txn_by_key

    travel(date(2024, 9, 27))
    person = family([("head", "19700101")])[0]
    p.fund_allocate(actor=staff.district, amount_fen=10**7, key="emergency")
    app = _linshi(staff, person, "2000", emergency=True)
    grant = s.application_emergency_pay(actor=staff.township, application=app, amount_yuan="2000")
    assert grant.status == "paid"
    assert grant.ledger_txn_id
    assert txn_by_key(key=f"assistance:grant:{grant.uid}") is not None
    app.refresh_from_db()
    assert app.status == "emergency_paid"
    assert app.docs_due == date(2024, 10, 10)  # 5 working days over National Day (Sun 29 Sep worked)
    s.application_complete_emergency(actor=staff.checker, application=app)
    assert Application.objects.get(pk=app.pk).status == "approved"


def test_refusals_need_reasons(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    s.attachment_add(actor=staff.worker_a, application=app, kind="authorization", filename="a.pdf", content=PDF)
    s.application_submit(actor=staff.worker_a, application=app)
    with pytest.raises(ValidationFailed) as exc:
        s.application_not_accept(actor=staff.township, application=app, reason="否")
    assert exc.value.code == "reason_required"
    app = s.application_not_accept(actor=staff.township, application=app, reason="不属于本街道户籍,请到户籍地申请")
    assert app.status == "not_accepted"
    assert app.notice_due == date(2024, 9, 5)


def test_an_ineligible_household_cannot_be_approved_but_can_be_denied_with_reasons(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[3000])
    assert app.decision_eligible is False
    s.application_investigate(actor=staff.worker_a, application=app, visited_on=date(2024, 9, 2),
                              findings="入户调查,家庭收入较高", recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app)
    travel(date(2024, 9, 10))
    s.application_close_publicity(actor=staff.worker_a, application=app)
    with pytest.raises(Conflict) as exc:
        s.application_approve(actor=staff.district, application=app)
    assert exc.value.code == "not_eligible"
    assert "dibao.income" in exc.value.extra["failed_rules"]
    assert not Enrolment.objects.exists()
    app = s.application_deny(actor=staff.district, application=app, reason="家庭人均收入高于低保标准")
    assert app.status == "denied"
    assert app.refusal_reason


def test_publicity_runs_seven_days_and_objections_send_it_back(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = submit_dibao(staff, people, incomes=[500])
    s.application_investigate(actor=staff.worker_a, application=app, visited_on=date(2024, 9, 2),
                              findings="入户调查情况属实,同意", recommends=True)
    app = s.application_publicize(actor=staff.worker_a, application=app)
    assert (app.publicity_start, app.publicity_end) == (date(2024, 9, 2), date(2024, 9, 8))
    travel(date(2024, 9, 8))
    with pytest.raises(Conflict) as exc:
        s.application_close_publicity(actor=staff.worker_a, application=app)
    assert exc.value.code == "publicity_running"
    app = s.application_object(actor=staff.worker_a, application=app, note="群众反映其子女有稳定收入")
    assert app.status == "investigation"
    assert app.investigation_recommends is None
    with pytest.raises(Conflict):
        s.application_publicize(actor=staff.worker_a, application=app)  # re-investigate first


def test_attachments_are_typed_by_content_and_limited_in_size(staff, family, travel, settings):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    app = s.application_create(actor=staff.worker_a, program="dibao", applicant_uid=people[0].uid, reason="困难")
    for name, content, code in [("x.pdf", b"<html>not a pdf</html>", "file_type_not_allowed"),
                                ("x.png", PDF, "file_type_mismatch"), ("x.pdf", b"", "empty_file")]:
        with pytest.raises(ValidationFailed) as exc:
            s.attachment_add(actor=staff.worker_a, application=app, kind="other", filename=name, content=content)
        assert exc.value.code == code
    settings.MINZHENG = {**settings.MINZHENG, "UPLOAD_MAX_BYTES": 100}
    with pytest.raises(ValidationFailed) as exc:
        s.attachment_add(actor=staff.worker_a, application=app, kind="other", filename="big.pdf", content=PDF + b"0" * 100)
    assert exc.value.code == "file_too_large"
    assert not Attachment.objects.exists()
    with pytest.raises(ValidationFailed) as exc:
        s.application_submit(actor=staff.worker_a, application=app)
    assert exc.value.code == "authorization_missing"


def test_children_and_tekun_decisions_come_from_the_rules(staff, family, make_person, travel):
    travel(date(2024, 9, 2))
    child = make_person("小明", birth="20150301")
    app = s.application_create(actor=staff.worker_a, program="children", applicant_uid=child.uid, reason="父母双亡",
                               facts={"category": "1"})
    assert app.facts == {"category": "1"}
    elder = family([("head", "19400101")])[0]
    t = s.application_create(actor=staff.worker_a, program="tekun", applicant_uid=elder.uid, reason="无依无靠",
                             facts={"adl_failed": ["eating", "bathing"], "care_form": "dispersed"})
    from minzheng.assistance.services.decisions import decide_application

    out = decide_application(t, on=date(2024, 9, 2))
    assert out.eligible
    assert out.amount_fen == 209_800 + 45_600
    out = decide_application(app, on=date(2024, 9, 2))
    assert out.eligible
    assert out.amount_fen == 235_000
    adult = make_person("成年", birth="19900101")
    with pytest.raises(ValidationFailed):
        s.application_create(actor=staff.worker_a, program="children", applicant_uid=adult.uid, reason="x",
                             facts={"category": "1"})


def test_bad_program_and_unknown_person(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101")])
    with pytest.raises(ValidationFailed) as exc:
        s.application_create(actor=staff.worker_a, program="longevity", applicant_uid=people[0].uid, reason="x")
    assert "program" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        s.application_create(actor=staff.worker_a, program="dibao", applicant_uid="not-a-uuid", reason="x")
    assert "applicant" in exc.value.fields
    with pytest.raises(ValidationFailed):  # a sibling community's worker cannot see the applicant
        s.application_create(actor=staff.worker_b, program="dibao", applicant_uid=people[0].uid, reason="x")


def test_the_registry_learns_who_is_dibao_and_forgets_it_on_exit(staff, family, travel):
    """Meals and the other domains read 低保/特困 from the person's record, not from this app."""
    from minzheng.assistance.services import enrolment as es
    from minzheng.people.models import Person

    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101"), ("child", "20100601")])
    Person.objects.filter(pk=people[1].pk).update(tags=["退役军人"])
    app = approve_dibao(staff, submit_dibao(staff, people, incomes=[900, 300, 0]), travel, date(2024, 9, 4))

    def tags():
        return [Person.objects.get(pk=p.pk).tags for p in people]

    assert tags() == [["低保"], ["退役军人", "低保"], ["低保"]]  # every member of the household
    es.enrolment_exit(actor=staff.township, enrolment=app.enrolments.get(), reason="voluntary",
                      note="本人书面申请退出低保")
    assert tags() == [[], ["退役军人"], []]


def test_staff_cannot_type_a_status_the_assistance_module_keeps(staff, make_person):
    from minzheng.people.models import Person
    from minzheng.people.services import person_status_tags_sync, person_update

    with pytest.raises(ValidationFailed) as refused:
        make_person(name="钱某某", tags=["特困"])
    assert "社会救助" in refused.value.fields["tags"]

    person = make_person(name="孙某某", tags=["退役军人"])
    with pytest.raises(ValidationFailed) as refused:
        person_update(actor=staff.district, person=person, data={"tags": ["退役军人", "低保"]})
    assert "低保" in refused.value.fields["tags"]

    person_status_tags_sync(source="assistance", managed=["低保"], held={person.pk: {"低保"}}, person_ids=[person.pk])
    person.refresh_from_db()
    with pytest.raises(ValidationFailed):  # nor take it away
        person_update(actor=staff.district, person=person, data={"tags": []})
    person_update(actor=staff.district, person=person, data={"tags": ["低保", "优抚对象"]})  # other tags: fine
    assert sorted(Person.objects.get(pk=person.pk).tags) == sorted(["低保", "优抚对象"])
