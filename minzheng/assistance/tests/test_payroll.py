"""The monthly payroll: crash and resume, four eyes, seals, closed months, events, arrears,
adjustments, one-off grants, the fund, the bank file — and never a duplicate payment."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from minzheng.assistance.models import (
    Adjustment,
    Enrolment,
    EnrolmentMember,
    Grant,
    PayrollLine,
    PayrollPeriod,
    PayrollPosting,
    PayrollRoll,
)
from minzheng.assistance.services import enrolment as es
from minzheng.assistance.services import payroll as p
from minzheng.assistance.tests.conftest import ACCOUNT, COMMUNITY_A, COMMUNITY_B
from minzheng.core.exceptions import Conflict, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.ledger.models import Posting, Transaction
from minzheng.ledger.selectors import balance

LIANGZHU_VILLAGE = "330110010001"  # 玉泽社区, 良渚街道: a second township in the roll
OCT, NOV, DEC = date(2024, 10, 1), date(2024, 11, 1), date(2024, 12, 1)


class Crash(Exception):
    pass


def enrol(staff: Any, person: Any, program: str = "dibao", start: date = OCT, *,
          members: list[tuple[Any, str, int]] | None = None, account: str = ACCOUNT, **fields: Any) -> Enrolment:
    """An enrolment as an approval leaves it (set up directly: the workflow has its own tests)."""
    e = Enrolment.objects.create(
        program=program, person=person, household=person.household, division=person.division,
        area_path=person.area_path, township_code=person.area_path.split("/")[1], start_month=start, **fields,
    )
    if program in ("dibao", "dibian"):
        for m, relation, income in members or [(person, "head", 0)]:
            EnrolmentMember.objects.create(enrolment=e, person=m, relation=relation, income_fen=income)
    if account:
        es.enrolment_set_account(actor=staff.district, enrolment=e, bank_name="农业银行", bank_account=account)
    e.refresh_from_db()
    return e


@pytest.fixture
def district(staff, family, make_person, travel):
    """Four payees in two townships: a 低保 couple, a 低保 single, a 特困 elder, an 80+ elder."""
    travel(date(2024, 9, 20))
    couple = family([("head", "19600101"), ("spouse", "19620101")], COMMUNITY_A)
    single = family([("head", "19580101")], COMMUNITY_B)
    elder = family([("head", "19500101")], LIANGZHU_VILLAGE)  # 特困 elder under 80: no 高龄津贴
    old = family([("head", "19400301")], LIANGZHU_VILLAGE)
    return {
        "couple": enrol(staff, couple[0], members=[(couple[0], "head", 80_000), (couple[1], "spouse", 0)]),
        "single": enrol(staff, single[0], members=[(single[0], "head", 50_000)]),
        "tekun": enrol(staff, elder[0], "tekun", adl_failed=4),
        "old": enrol(staff, old[0], "longevity"),
        "people": {"couple": couple, "single": single, "elder": elder, "old": old},
    }


def run_month(staff: Any, month: date, *, pay: bool = True) -> PayrollRoll:
    p.period_close(actor=staff.district, month=month)
    roll = p.payroll_create(actor=staff.district, month=month)
    roll = p.payroll_freeze(actor=staff.district, roll=roll)
    roll = p.payroll_approve(actor=staff.checker, roll=roll)
    p.payroll_bank_file(actor=staff.district, roll=roll)
    return p.payroll_pay(actor=staff.district, roll=roll) if pay else roll


def fund(staff: Any, fen: int = 10**9, key: str = "budget") -> None:
    p.fund_allocate(actor=staff.district, amount_fen=fen, key=key)


EXPECTED_OCT = {
    "couple": (125_900 - 40_000) * 2,  # 1718.00
    "single": 125_900 - 50_000,  # 759.00
    "tekun": 209_800 + 228_000 * 40 // 100,  # basic 2098 + tier 3 care (40 % of 2280) = 3010.00
    "old": 6_000,  # 80-89: 60 元
}


def test_a_month_is_frozen_computed_sealed_approved_and_paid(district, staff, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    roll = run_month(staff, OCT)
    lines = {line.enrolment_id: line for line in PayrollLine.objects.filter(roll=roll)}
    for key, amount in EXPECTED_OCT.items():
        line = lines[district[key].pk]
        assert (line.amount_fen, line.total_fen, line.status) == (amount, amount, "pending"), key
        assert len(bytes(line.seal)) == 32
        assert PayrollLine.objects.filter(pk=line.pk).paid().exists(), key
    assert lines[district["couple"].pk].persons == 2
    total = sum(EXPECTED_OCT.values())
    assert (roll.status, roll.line_count, roll.total_fen, roll.persons) == ("paid", 4, total, 5)
    assert balance(actor=None, account=p.FUND) == 10**9 - total
    keys = Transaction.objects.filter(kind=p.LEDGER_KIND).values_list("idempotency_key", flat=True)
    assert sorted(keys) == sorted(f"assistance:payroll:{roll.uid}:{t}" for t in ("330110005000", "330110010000"))
    assert sum(Posting.objects.filter(txn__kind=p.LEDGER_KIND, amount_fen__gt=0).values_list("amount_fen", flat=True)) == total
    assert PayrollPosting.objects.filter(roll=roll).count() == 2


def _paid_once(roll: PayrollRoll) -> None:
    lines = PayrollLine.objects.filter(roll=roll, status="pending")
    assert lines.count() == lines.paid().count()
    assert lines.count() > 0
    keys = list(lines.values_list("enrolment_id", "for_month"))
    assert len(set(keys)) == len(keys)
    posted = sum(Posting.objects.filter(txn__kind=p.LEDGER_KIND, amount_fen__gt=0).values_list("amount_fen", flat=True))
    assert posted == roll.total_fen
    postings = PayrollPosting.objects.filter(roll=roll)
    assert Transaction.objects.filter(kind=p.LEDGER_KIND).count() == postings.count()
    assert sorted(Transaction.objects.filter(kind=p.LEDGER_KIND).values_list("pk", flat=True)) == sorted(
        postings.values_list("ledger_txn_id", flat=True))


@pytest.mark.parametrize("where", ["between_townships", "inside_a_township"])
def test_a_crash_mid_payment_and_a_rerun_pay_everyone_exactly_once(district, staff, travel, monkeypatch, where):
    travel(date(2024, 10, 10))
    fund(staff)
    roll = run_month(staff, OCT, pay=False)
    calls = {"n": 0}
    if where == "between_townships":
        def crash(stage: str, index: int) -> None:
            if stage == "paid_township":
                raise Crash(stage)
        monkeypatch.setattr(p, "_checkpoint", crash)
    else:
        real = p._record_posting

        def crash_inside(*args: Any) -> Any:  # after the ledger posting, in the same transaction
            calls["n"] += 1
            if calls["n"] == 2:
                raise Crash("inside")
            return real(*args)
        monkeypatch.setattr(p, "_record_posting", crash_inside)
    with pytest.raises(Crash):
        p.payroll_pay(actor=staff.district, roll=roll)
    done = PayrollRoll.objects.get(pk=roll.pk)
    assert done.status == "paying"
    assert done.postings.count() == 1
    assert PayrollLine.objects.filter(roll=roll).paid().count() == 2  # one township's lines
    assert Transaction.objects.filter(kind=p.LEDGER_KIND).count() == 1
    monkeypatch.undo()
    assert p.payroll_create(actor=staff.district, month=OCT) == done  # the same roll
    again = p.payroll_pay(actor=staff.district, roll=roll)
    assert again.status == "paid"
    _paid_once(again)
    p.payroll_pay(actor=staff.district, roll=roll)  # and once more: nothing new
    _paid_once(again)
    assert balance(actor=None, account=p.FUND) == 10**9 - sum(EXPECTED_OCT.values())


def test_a_crash_while_freezing_leaves_nothing_and_the_rerun_gives_the_same_roll(district, staff, travel, monkeypatch):
    travel(date(2024, 10, 10))
    p.period_close(actor=staff.district, month=OCT)
    roll = p.payroll_create(actor=staff.district, month=OCT)

    def crash(stage: str, index: int) -> None:
        if stage == "built":
            raise Crash(stage)
    monkeypatch.setattr(p, "_checkpoint", crash)
    with pytest.raises(Crash):
        p.payroll_freeze(actor=staff.district, roll=roll)
    assert not PayrollLine.objects.exists()
    assert PayrollRoll.objects.get(pk=roll.pk).status == "draft"
    monkeypatch.undo()
    frozen = p.payroll_freeze(actor=staff.district, roll=roll)
    first = list(PayrollLine.objects.filter(roll=roll).order_by("id").values_list("payment_key", "amount_fen", "seal"))
    assert p.payroll_freeze(actor=staff.district, roll=roll).seals_digest == frozen.seals_digest  # idempotent
    assert list(PayrollLine.objects.filter(roll=roll).order_by("id").values_list("payment_key", "amount_fen", "seal")) == first
    assert sorted(a for _k, a, _s in first) == sorted(EXPECTED_OCT.values())
    # one key per (roll, beneficiary, month)
    e = district["couple"]
    assert PayrollLine.objects.get(enrolment=e).payment_key == f"{roll.uid.hex}:{e.uid.hex}:2024-10"


def test_the_maker_cannot_approve_the_roll(district, staff, travel):
    travel(date(2024, 10, 10))
    p.period_close(actor=staff.district, month=OCT)
    roll = p.payroll_freeze(actor=staff.district, roll=p.payroll_create(actor=staff.district, month=OCT))
    audits = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied) as exc:
        p.payroll_approve(actor=staff.district, roll=roll)
    assert exc.value.code == "maker_checker"
    assert PayrollRoll.objects.get(pk=roll.pk).status == "frozen"
    assert AuditEvent.objects.count() == audits
    with pytest.raises(PermissionDenied):
        p.payroll_approve(actor=staff.township, roll=roll)  # no grant
    assert p.payroll_approve(actor=staff.checker, roll=roll).status == "approved"


def test_a_payroll_for_a_month_not_closed_is_refused(district, staff, travel):
    travel(date(2024, 10, 10))
    with pytest.raises(Conflict) as exc:
        p.payroll_create(actor=staff.district, month="2024-10")
    assert exc.value.code == "period_not_closed"
    assert not PayrollRoll.objects.exists()
    with pytest.raises(ValidationFailed) as bad:
        p.period_close(actor=staff.district, month="2024-11")  # a month still to come
    assert bad.value.code == "future_month"
    assert not PayrollPeriod.objects.exists()
    with pytest.raises(ValidationFailed) as bad:
        p.payroll_create(actor=staff.district, month="2024-13")
    assert bad.value.fields["month"]


def test_an_unfinished_earlier_roll_blocks_the_next(district, staff, travel):
    travel(date(2024, 11, 10))
    p.period_close(actor=staff.district, month=OCT)
    p.payroll_create(actor=staff.district, month=OCT)
    p.period_close(actor=staff.district, month=NOV)
    with pytest.raises(Conflict) as exc:
        p.payroll_create(actor=staff.district, month=NOV)
    assert exc.value.code == "previous_roll_unfinished"


def test_a_tampered_line_is_caught_at_approval_and_at_payment(district, staff, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    p.period_close(actor=staff.district, month=OCT)
    roll = p.payroll_freeze(actor=staff.district, roll=p.payroll_create(actor=staff.district, month=OCT))
    line = PayrollLine.objects.get(enrolment=district["single"])
    PayrollLine.objects.filter(pk=line.pk).update(amount_fen=999_900, total_fen=999_900)
    with pytest.raises(Conflict) as exc:
        p.payroll_approve(actor=staff.checker, roll=roll)
    assert exc.value.code == "roll_tampered"
    assert AuditEvent.objects.filter(event_type="assistance.payroll.approve", result="failure").count() == 1
    assert PayrollRoll.objects.get(pk=roll.pk).status == "frozen"
    PayrollLine.objects.filter(pk=line.pk).update(amount_fen=line.amount_fen, total_fen=line.total_fen)
    snap = line.snapshot_data
    snap["m"] = [[m[0], m[1], 0, *m[3:]] for m in snap["m"]]  # the income wiped from the snapshot
    PayrollLine.objects.filter(pk=line.pk).update(snapshot=json.dumps(snap))
    with pytest.raises(Conflict) as exc:
        p.payroll_approve(actor=staff.checker, roll=roll)
    assert "快照" in str(exc.value.extra["problems"])
    PayrollLine.objects.filter(pk=line.pk).update(snapshot=line.snapshot)
    PayrollLine.objects.filter(pk=line.pk).update(person=district["people"]["couple"][0])  # another payee
    with pytest.raises(Conflict) as exc:
        p.payroll_approve(actor=staff.checker, roll=roll)
    assert exc.value.extra["problems"][0]["payment_key"] == line.payment_key
    PayrollLine.objects.filter(pk=line.pk).update(person=line.person_id)
    p.payroll_approve(actor=staff.checker, roll=roll)
    p.payroll_bank_file(actor=staff.district, roll=roll)
    PayrollLine.objects.filter(pk=line.pk).update(total_fen=line.total_fen + 100_000)  # after approval
    with pytest.raises(Conflict):
        p.payroll_pay(actor=staff.district, roll=roll)
    assert not PayrollLine.objects.filter(pk=line.pk).paid().exists()


def test_death_stops_payments_and_recovers_overpayment(district, staff, travel, django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_death

    travel(date(2024, 10, 10))
    fund(staff)
    run_month(staff, OCT)
    travel(date(2024, 11, 5))
    p.period_close(actor=staff.district, month=NOV)
    roll = p.payroll_approve(actor=staff.checker, roll=p.payroll_freeze(
        actor=staff.district, roll=p.payroll_create(actor=staff.district, month=NOV)))
    elder = district["people"]["elder"][0]
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=staff.district, person=elder, died_on=date(2024, 10, 20))
    e = Enrolment.objects.get(pk=district["tekun"].pk)
    assert (e.status, e.exit_reason, e.end_month) == ("terminated", "death", OCT)
    nov_line = PayrollLine.objects.get(roll=roll, enrolment=e)
    assert nov_line.status == "held"
    assert "死亡" in nov_line.hold_reason
    p.payroll_bank_file(actor=staff.district, roll=roll)
    roll = p.payroll_pay(actor=staff.district, roll=roll)
    assert roll.status == "paid"
    assert not PayrollLine.objects.filter(enrolment=e, for_month=NOV).paid().exists()
    travel(date(2024, 12, 5))
    run_month(staff, DEC)
    assert not PayrollLine.objects.filter(enrolment=e, for_month=DEC).exists()


def test_death_after_payment_is_recovered(district, staff, travel, django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_death

    travel(date(2024, 11, 10))
    fund(staff)
    run_month(staff, OCT)
    run_month(staff, NOV)
    old = district["people"]["old"][0]
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=staff.district, person=old, died_on=date(2024, 10, 3))
    adj = Adjustment.objects.get(enrolment=district["old"])
    assert (adj.kind, adj.amount_fen, adj.status, adj.months) == ("recovery", -6_000, "receivable", "2024-11")


def test_a_member_moving_out_changes_the_household_amount_next_month(district, staff, travel,
                                                                     django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_move_out

    travel(date(2024, 10, 10))
    fund(staff)
    run_month(staff, OCT)
    spouse = district["people"]["couple"][1]
    travel(date(2024, 10, 16))
    with django_capture_on_commit_callbacks(execute=True):
        person_record_move_out(actor=staff.district, person=spouse, moved_on=date(2024, 10, 15), destination="上海")
    e = Enrolment.objects.get(pk=district["couple"].pk)
    assert e.status == "active"
    assert e.next_review_on == date(2024, 10, 16)
    travel(date(2024, 11, 10))
    run_month(staff, NOV)
    line = PayrollLine.objects.get(enrolment=e, for_month=NOV)
    assert (line.persons, line.amount_fen) == (1, 125_900 - 80_000)  # one member left, 800 元 income


def test_arrears_for_a_month_missed_and_adjustments(district, staff, family, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    run_month(staff, OCT)
    late = family([("head", "19590101")], COMMUNITY_A)[0]
    latecomer = enrol(staff, late, start=OCT, members=[(late, "head", 30_000)])  # approved after October's roll
    es.adjustment_create(actor=staff.district, enrolment=district["single"], kind="recovery", amount_yuan="200",
                         reason="9月多发追回")
    es.adjustment_create(actor=staff.district, enrolment=district["couple"], kind="supplement", amount_yuan="100",
                         reason="9月少发补发")
    travel(date(2024, 11, 10))
    roll = run_month(staff, NOV)
    arrears = PayrollLine.objects.get(enrolment=latecomer, kind="arrears")
    regular = PayrollLine.objects.get(enrolment=latecomer, kind="regular")
    assert (arrears.for_month, arrears.total_fen, regular.for_month) == (OCT, 95_900, NOV)
    single = PayrollLine.objects.get(roll=roll, enrolment=district["single"])
    assert (single.amount_fen, single.adjustment_fen, single.total_fen) == (75_900, -20_000, 55_900)
    couple = PayrollLine.objects.get(roll=roll, enrolment=district["couple"])
    assert couple.total_fen == 171_800 + 10_000
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"applied"}
    travel(date(2024, 12, 10))
    run_month(staff, DEC)
    assert not PayrollLine.objects.filter(enrolment=latecomer, for_month=OCT).exclude(roll=roll).exists()


def test_a_recovery_larger_than_the_payment_carries_forward(district, staff, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    es.adjustment_create(actor=staff.district, enrolment=district["old"], kind="recovery", amount_yuan="100",
                         reason="多发追回")
    roll = run_month(staff, OCT)
    line = PayrollLine.objects.get(roll=roll, enrolment=district["old"])
    assert (line.amount_fen, line.adjustment_fen, line.total_fen) == (6_000, -6_000, 0)
    carried = Adjustment.objects.get(enrolment=district["old"], status="open")
    assert carried.amount_fen == -4_000


def test_one_off_grants_are_paid_once_through_the_next_roll(district, staff, family, travel):
    from minzheng.assistance.models import Application

    travel(date(2024, 10, 10))
    fund(staff)
    person = district["people"]["single"][0]
    app = Application.objects.create(program="medical", applicant=person, division=person.division,
                                     area_path=person.area_path, township_code="330110005000", status="approved")
    grant = Grant.objects.create(application=app, person=person, program="medical", amount_fen=123_456,
                                 approved_on=date(2024, 10, 9), pay_month=OCT, division=person.division,
                                 area_path=person.area_path, township_code="330110005000")
    account = district["single"]
    Grant.objects.filter(pk=grant.pk).update(bank_ref="")
    es.enrolment_set_account(actor=staff.district, enrolment=account, bank_name="农业银行", bank_account=ACCOUNT)
    from minzheng.assistance.services._common import seal_account

    sealed, masked, ref = seal_account("grant", grant.uid, ACCOUNT)
    Grant.objects.filter(pk=grant.pk).update(bank_account_sealed=sealed, bank_account_masked=masked, bank_ref=ref)
    roll = run_month(staff, OCT)
    line = PayrollLine.objects.get(roll=roll, grant=grant)
    assert (line.kind, line.total_fen) == ("one_off", 123_456)
    assert PayrollLine.objects.filter(pk=line.pk).paid().exists()
    assert Grant.objects.get(pk=grant.pk).status == "paid"
    travel(date(2024, 11, 10))
    roll2 = run_month(staff, NOV)
    assert not PayrollLine.objects.filter(roll=roll2, grant=grant).exists()


def test_the_standard_raise_flows_into_the_roll(district, staff, travel):
    travel(date(2025, 2, 10))
    fund(staff)
    for e in Enrolment.objects.all():
        Enrolment.objects.filter(pk=e.pk).update(start_month=date(2025, 1, 1))
    jan = run_month(staff, date(2025, 1, 1))
    feb = run_month(staff, date(2025, 2, 1))
    single = district["single"]
    assert PayrollLine.objects.get(roll=jan, enrolment=single).amount_fen == 125_900 - 50_000
    assert PayrollLine.objects.get(roll=feb, enrolment=single).amount_fen == 130_100 - 50_000  # 1301 from 23 Jan 2025


def test_a_short_fund_stops_the_payment_and_it_resumes_after_allocation(district, staff, travel):
    from minzheng.ledger.exceptions import InsufficientFunds

    travel(date(2024, 10, 10))
    fund(staff, 200_000, key="small")
    roll = run_month(staff, OCT, pay=False)
    with pytest.raises(InsufficientFunds):
        p.payroll_pay(actor=staff.district, roll=roll)
    assert balance(actor=None, account=p.FUND) >= 0
    fund(staff, 10**8, key="top-up")
    assert p.payroll_pay(actor=staff.district, roll=roll).status == "paid"
    _paid_once(PayrollRoll.objects.get(pk=roll.pk))


def test_the_bank_file_is_fixed_and_refuses_a_changed_account(district, staff, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    roll = run_month(staff, OCT, pay=False)
    content = p.payroll_bank_file(actor=staff.district, roll=roll)
    ws = load_workbook(io.BytesIO(content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "业务流水号", "收款人", "开户银行", "银行账号")
    assert {r[4] for r in rows[1:]} == {ACCOUNT}
    assert len(rows) == 5
    with pytest.raises(PermissionDenied):
        p.payroll_bank_file(actor=staff.checker.__class__.objects.get(username="town_wc"), roll=roll)
    es.enrolment_set_account(actor=staff.district, enrolment=district["single"], bank_name="工商银行",
                             bank_account="6222020000000000001")
    with pytest.raises(Conflict) as exc:
        p.payroll_bank_file(actor=staff.district, roll=roll)
    assert exc.value.code == "account_changed"


def test_a_missing_account_holds_the_line(staff, family, travel):
    travel(date(2024, 10, 10))
    person = family([("head", "19580101")])[0]
    e = enrol(staff, person, members=[(person, "head", 0)], account="")
    fund(staff)
    roll = run_month(staff, OCT)
    line = PayrollLine.objects.get(roll=roll, enrolment=e)
    assert (line.status, line.hold_reason) == ("held", "缺少收款账号")
    assert roll.status == "paid"
    assert roll.held_count == 1


def test_the_database_refuses_a_second_payment_of_the_same_month(district, staff, travel):
    travel(date(2024, 10, 10))
    fund(staff)
    roll = run_month(staff, OCT)
    line = PayrollLine.objects.filter(roll=roll).first()
    assert line is not None
    clone = PayrollLine(**{f.attname: getattr(line, f.attname) for f in PayrollLine._meta.concrete_fields if not f.primary_key})
    clone.payment_key = line.payment_key + "x"
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_ineligible_months_are_held_for_review(staff, family, travel):
    travel(date(2024, 10, 10))
    person = family([("head", "19580101")])[0]
    e = enrol(staff, person, members=[(person, "head", 200_000)])  # income now above the line
    fund(staff)
    roll = run_month(staff, OCT)
    line = PayrollLine.objects.get(roll=roll, enrolment=e)
    assert (line.eligible, line.amount_fen, line.status) == (False, 0, "held")
    from minzheng.assistance.selectors import coverage_report

    rows = {r.code: r for r in coverage_report(actor=staff.district, on=date(2024, 10, 10))}
    assert rows["330110005000"].should_exit == 1
