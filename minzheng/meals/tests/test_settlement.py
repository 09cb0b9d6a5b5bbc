"""Daily reconciliation (records vs ledger vs terminal → exceptions), the monthly claim through
街道 and 区 to the payment file and the payment posting; anomaly flags; the absent-diner signal."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from minzheng.core.events import subscribe
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.ledger.models import Account
from minzheng.ledger.selectors import trial_balance
from minzheng.meals import domain
from minzheng.meals.models import FraudFlag, ReconException
from minzheng.meals.services import books
from minzheng.meals.services.checkout import CheckoutRequest, meal_checkout
from minzheng.meals.services.diners import leave_record
from minzheng.meals.services.monitoring import absence_scan, flag_scan
from minzheng.meals.services.settlement import (
    claim_district_approve,
    claim_mark_paid,
    claim_submit,
    claim_township_review,
    exception_resolve,
    payment_file,
    reconcile_day,
    terminal_report_submit,
)
from minzheng.people.events import CareSignalRaised

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
MAY6 = datetime(2024, 5, 6, 11, 30, tzinfo=SH)


def eat(site, diner, key, **kw):
    kw.setdefault("payment_method", "cash")
    return meal_checkout(actor=site.key, request=CheckoutRequest(point_id=site.point.pk, credential=diner.card,
                                                                 idempotency_key=key, **kw)).meal


def test_reconciliation_finds_nothing_when_all_agree_and_flags_a_terminal_that_differs(site, make_diner, staff):
    a, b = make_diner(), make_diner(name="钱阿姨", birth="19300101")
    with time_machine.travel(MAY6, tick=False):
        eat(site, a, "rec-00001")
        eat(site, b, "rec-00002", payment_method="wechat")
        recs = reconcile_day(actor=staff.township, day=MAY6.date())
        assert [r.ok for r in recs] == [True]
        assert recs[0].ledger == {"meals": 2, "price_fen": 3000, "benefit_fen": 300 + 750, "wallet_fen": 0,
                                  "self_pay_fen": 1200 + 750}
        terminal_report_submit(actor=site.key, point_id=site.point.pk, day=MAY6.date(),
                               totals=domain.Totals(3, 4500, 1050, 0, 3450))
        recs = reconcile_day(actor=staff.township, day=MAY6.date())
    assert not recs[0].ok
    excs = ReconException.objects.filter(status="open")
    assert {(e.source, e.field, e.expected, e.actual) for e in excs} == {
        ("terminal_vs_ledger", "meals", 3, 2), ("terminal_vs_ledger", "price_fen", 4500, 3000),
        ("terminal_vs_ledger", "self_pay_fen", 3450, 1950)}
    assert excs.get(field="meals").kind == "missing_in_ledger"
    with pytest.raises(ValidationFailed):
        exception_resolve(actor=staff.township, exception_id=excs.first().pk, note="")
    done = exception_resolve(actor=staff.township, exception_id=excs.first().pk, note="终端重复计数, 已核实")
    assert done.status == "resolved"
    with pytest.raises(PermissionDenied):
        reconcile_day(actor=staff.worker_a, day=MAY6.date())


def test_void_keeps_records_and_ledger_in_step(site, make_diner, staff):
    from minzheng.meals.services.checkout import meal_void

    diner = make_diner()
    with time_machine.travel(MAY6, tick=False):
        meal = eat(site, diner, "rec-00003")
        meal_void(actor=site.key, meal_id=meal.id, reason="退餐")
        recs = reconcile_day(actor=None, day=MAY6.date())
    assert recs[0].ok
    assert recs[0].ledger["meals"] == 0


def test_monthly_claim_review_approval_payment_file_and_payment(site, make_diner, staff):
    diner, other = make_diner(), make_diner(name="周阿婆", birth="19320101")
    with time_machine.travel(MAY6, tick=False):
        eat(site, diner, "clm-00001")  # ¥15: 300 off, 1200 cash
        eat(site, other, "clm-00002", payment_method="alipay")  # 90+: 750 off, 750 alipay
        with pytest.raises(ValidationFailed):
            claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())  # month not over
    with time_machine.travel(datetime(2024, 6, 3, 9, 0, tzinfo=SH), tick=False):
        claim = claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())
        assert (claim.meals, claim.price_fen, claim.benefit_fen, claim.self_pay_fen, claim.claim_fen) == (
            2, 3000, 1050, 1950, 1050)
        assert claim.operating_subsidy_fen == 100 + 200  # one 60–79 meal, one 90+ meal
        assert "运营补贴标准待民政局确认" in claim.explanation
        with pytest.raises(Conflict):
            claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())
        with pytest.raises(PermissionDenied):
            claim_submit(actor=staff.operator_b, point_id=site.point.pk, month=MAY6.date())
        with pytest.raises(Conflict):
            claim_district_approve(actor=staff.district, claim=claim, approve=True)  # 街道 first
        with pytest.raises(NotFound):
            claim_township_review(actor=staff.liangzhu, claim=claim, approve=True)  # not its area
        claim = claim_township_review(actor=staff.township, claim=claim, approve=True)
        claim = claim_district_approve(actor=staff.district, claim=claim, approve=True, note="同意")
        assert claim.status == "approved"
        xlsx = load_workbook(io.BytesIO(payment_file(actor=staff.district, claims=[claim])))
        rows = list(xlsx.active.values)
        assert rows[0][0] == "助餐点编号"
        assert rows[1][0] == "YH001"
        assert rows[1][-1] == "13.50"  # 10.50 claimed + 3.00 operating subsidy
        paid = claim_mark_paid(actor=staff.district, claim=claim)
    assert paid.status == "paid"
    assert Account.objects.get(code=books.payable("YH001")).balance_fen == 0
    assert Account.objects.get(code=books.selfpay("YH001", "cash")).balance_fen == 0
    assert Account.objects.get(code=books.selfpay("YH001", "alipay")).balance_fen == 0
    assert Account.objects.get(code=books.treasury()).balance_fen == -1350
    assert trial_balance().ok
    with pytest.raises(Conflict):
        claim_mark_paid(actor=staff.district, claim=paid)


def test_rejected_claim_can_be_resubmitted(site, make_diner, staff):
    diner = make_diner()
    with time_machine.travel(MAY6, tick=False):
        eat(site, diner, "clm-00003")
    with time_machine.travel(datetime(2024, 6, 3, 9, 0, tzinfo=SH), tick=False):
        claim = claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())
        with pytest.raises(ValidationFailed):
            claim_township_review(actor=staff.township, claim=claim, approve=False)
        claim_township_review(actor=staff.township, claim=claim, approve=False, note="餐数与台账不符")
        again = claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())
    assert again.pk != claim.pk


def test_the_operators_to_do_counts_a_served_month_until_its_claim_is_in(site, make_diner, staff):
    from minzheng.meals.selectors import claims_due

    diner = make_diner()
    june3 = datetime(2024, 6, 3, 9, 0, tzinfo=SH).date()
    assert claims_due(actor=staff.operator, today=june3) == 0  # nothing served in May
    with time_machine.travel(MAY6, tick=False):
        eat(site, diner, "clm-00004")
    assert claims_due(actor=staff.operator, today=june3) == 1
    assert claims_due(actor=staff.operator_b, today=june3) == 0  # another operator's point
    with time_machine.travel(datetime(2024, 6, 3, 9, 0, tzinfo=SH), tick=False):
        claim = claim_submit(actor=staff.operator, point_id=site.point.pk, month=MAY6.date())
        assert claims_due(actor=staff.operator, today=june3) == 0
        claim_township_review(actor=staff.township, claim=claim, approve=False, note="餐数与台账不符")
    assert claims_due(actor=staff.operator, today=june3) == 1  # rejected: to be submitted again


def test_velocity_flag_two_points_in_ten_minutes(site, site_b, make_diner, staff):
    diner = make_diner()
    with time_machine.travel(MAY6, tick=False):
        eat(site, diner, "vel-00001")
    with time_machine.travel(MAY6 + timedelta(minutes=10), tick=False):
        eat(site_b, diner, "vel-00002")
    assert flag_scan(day=MAY6.date()) == 1
    assert flag_scan(day=MAY6.date()) == 0  # once
    flag = FraudFlag.objects.get(kind="velocity")
    assert "10分钟内" in flag.detail


def test_a_regular_diner_who_stops_coming_raises_a_care_signal_once(site, make_diner, staff,
                                                                    django_capture_on_commit_callbacks):
    regular, occasional, away = make_diner(name="常来", birth="19400101"), make_diner(name="偶来"), make_diner(
        name="外出", birth="19380202")
    start = datetime(2024, 4, 8, 11, 30, tzinfo=SH)
    for day in range(20):  # 20 lunches in 4 weeks for the regulars, 2 for the occasional one
        with time_machine.travel(start + timedelta(days=day), tick=False):
            eat(site, regular, f"abs-r-{day:03d}")
            eat(site, away, f"abs-a-{day:03d}")
            if day in (0, 10):
                eat(site, occasional, f"abs-o-{day:03d}")
    last = (start + timedelta(days=19)).date()
    leave_record(actor=staff.worker_a, diner=away, kind="away", starts=last + timedelta(days=1))
    received: list[CareSignalRaised] = []
    subscribe(CareSignalRaised, received.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert absence_scan(today=last + timedelta(days=3)) == []  # not yet N days
        signalled = absence_scan(today=last + timedelta(days=6))
        again = absence_scan(today=last + timedelta(days=7))
    assert signalled == [regular.pk]
    assert again == []
    assert len(received) == 1
    sig = received[0]
    assert (sig.source, sig.kind, sig.person_uid) == ("meals", "diner_absent", str(regular.person_obj.uid))
    assert "6天未就餐" in sig.reason


def test_nightly_jobs_run_from_the_command_line(site, make_diner, capsys):
    import json

    from django.core.management import call_command

    diner = make_diner()
    with time_machine.travel(MAY6, tick=False):
        eat(site, diner, "night-0001")
    call_command("meals_nightly", "--date", "2024-05-07")
    out = json.loads(capsys.readouterr().out)
    assert out["reconciled_points"] == 1
    assert out["reconcile_problems"] == 0
