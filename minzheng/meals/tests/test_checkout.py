"""Checkout: identify → quote → confirm; the one-subsidised-meal rule; idempotency; every refusal
leaves nothing behind; void by reversal; offline batches; flags on hospital leave and death."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import COMMUNITY_A
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.selectors import ledger_verify, mac_tag, trial_balance
from minzheng.meals import domain
from minzheng.meals.models import FraudFlag, MealService
from minzheng.meals.selectors import diner_identify
from minzheng.meals.services import books
from minzheng.meals.services.checkout import (
    CheckoutRequest,
    meal_checkout,
    meal_checkout_batch,
    meal_quote,
    meal_void,
)
from minzheng.meals.services.diners import leave_record, qr_issue

pytestmark = pytest.mark.django_db


def req(site, diner, key="k-000001", **kw):
    kw.setdefault("payment_method", "cash")
    return CheckoutRequest(point_id=site.point.pk, credential=diner.card, idempotency_key=key, **kw)


def balance(code):
    return Account.objects.get(code=code).balance_fen


def test_a_70_year_old_pays_twelve_yuan_for_a_fifteen_yuan_lunch(site, make_diner, staff):
    diner = make_diner(birth="19540301")

    res = meal_checkout(actor=staff.operator, request=req(site, diner))

    meal = res.meal
    assert not res.replayed
    assert (meal.price_fen, meal.discount_fen, meal.subsidy_fen, meal.wallet_fen, meal.self_pay_fen) == (
        1500, 300, 0, 0, 1200)
    assert meal.subsidised
    assert meal.slot == "lunch"
    assert meal.payer == "330110"
    assert meal.tenders == {"cash": 1200}
    assert [t["label"] for t in res.trace][-1] == "老人自付 ¥12.00"
    # the ledger: the district bears the discount, the counter took ¥12, the operator is owed ¥15
    assert balance(books.benefit("330110", "YH001")) == 300
    assert balance(books.selfpay("YH001", "cash")) == 1200
    assert balance(books.payable("YH001")) == -1500
    txn = Transaction.objects.get(idempotency_key=meal.ledger_key)
    assert sum(Posting.objects.filter(txn=txn).values_list("amount_fen", flat=True)) == 0
    assert txn.metadata["meal"] == meal.id
    # one audit row records the whole checkout: the meal and its posting
    rows = AuditEvent.objects.filter(object_type="ledger.transaction", object_id=str(txn.id))
    assert [r.event_type for r in rows] == ["meals.checkout"]
    row = rows[0]
    assert row.extra["meal"] == meal.id
    assert {k: row.extra[k] for k in ("point", "slot", "price", "benefit", "self_pay", "subsidised", "credential")} == {
        "point": "YH001", "slot": "lunch", "price": 1500, "benefit": 300, "self_pay": 1200, "subsidised": True,
        "credential": "citizen_card"}
    assert row.extra["key"] == meal.ledger_key and row.extra["lines"] == 3
    assert row.extra["mac"] == mac_tag(bytes(txn.mac))
    assert row.actor_username == staff.operator.username
    assert AuditEvent.objects.filter(event_type="ledger.txn_post", object_id=str(txn.id)).count() == 0
    assert trial_balance().ok
    assert ledger_verify() == []


def test_the_terminal_key_checks_out_at_its_own_point_only(site, site_b, make_diner, snapshot):
    diner = make_diner()
    before = snapshot()
    with pytest.raises(PermissionDenied) as err:
        meal_checkout(actor=site.key, request=req(site_b, diner))
    assert err.value.code == "terminal_point_mismatch"
    assert snapshot() == before
    assert meal_checkout(actor=site.key, request=req(site, diner)).meal.terminal_key_id == site.key.pk


def test_an_operator_checks_out_only_at_their_own_point(site, site_b, make_diner, staff, snapshot):
    diner = make_diner()
    before = snapshot()
    with pytest.raises(PermissionDenied) as err:
        meal_checkout(actor=staff.operator, request=req(site_b, diner))
    assert err.value.code == "not_point_operator"
    with pytest.raises(PermissionDenied):
        meal_checkout(actor=staff.worker_a, request=req(site, diner))  # no checkout permission
    assert snapshot() == before


def test_second_meal_in_the_slot_elsewhere_pays_full_price(site, site_b, make_diner, staff):
    diner = make_diner()
    first = meal_checkout(actor=staff.operator, request=req(site, diner, key="first-0001"))
    second = meal_checkout(actor=staff.operator_b, request=req(site_b, diner, key="second-001"))
    assert first.meal.subsidised
    assert not second.meal.subsidised
    assert second.meal.self_pay_fen == 1500
    assert "已享受过优惠" in second.notice
    assert MealService.objects.filter(diner=diner, subsidised=True).count() == 1


def test_second_meal_refused_when_the_point_says_so(site, site_b, make_diner, staff, snapshot):
    from minzheng.meals.services.points import point_update

    point_update(actor=staff.district, point=site_b.point, data={"second_meal": "refuse"})
    diner = make_diner()
    meal_checkout(actor=staff.operator, request=req(site, diner, key="first-0001"))
    before = snapshot()
    with pytest.raises(Conflict) as err:
        meal_checkout(actor=staff.operator_b, request=req(site_b, diner, key="second-001"))
    assert err.value.code == "slot_already_subsidised"
    assert "不能结算" in err.value.message
    assert snapshot() == before


def test_the_quote_says_the_slot_is_used(site, site_b, make_diner, staff):
    diner = make_diner()
    fresh = meal_quote(actor=staff.operator_b, point_id=site_b.point.pk, credential=diner.card)
    assert fresh.quote.self_pay_fen == 1200
    meal_checkout(actor=staff.operator, request=req(site, diner))
    used = meal_quote(actor=staff.operator_b, point_id=site_b.point.pk, credential=diner.card)
    assert used.quote.self_pay_fen == 1500
    assert used.quote.trace[1].step == "slot"


def test_a_retry_returns_the_first_result_and_posts_nothing(site, make_diner, staff, snapshot):
    diner = make_diner()
    first = meal_checkout(actor=site.key, request=req(site, diner))
    before = snapshot()
    again = meal_checkout(actor=site.key, request=req(site, diner))
    assert again.replayed
    assert again.meal.id == first.meal.id
    assert snapshot() == before


def test_a_retry_still_replays_when_the_quote_would_now_differ(site, make_diner, staff):
    diner = make_diner()
    first = meal_checkout(actor=site.key, request=req(site, diner, tenders={"cash": 1000, "wechat": 200},
                                                      payment_method=None))
    # the slot is now taken by this very meal, so a fresh quote would be full price: still a replay
    again = meal_checkout(actor=site.key, request=req(site, diner, tenders={"cash": 1000, "wechat": 200},
                                                      payment_method=None))
    assert again.replayed
    assert again.meal.id == first.meal.id


def test_same_key_other_request_is_409(site, make_diner, staff, snapshot):
    diner = make_diner()
    meal_checkout(actor=site.key, request=req(site, diner))
    before = snapshot()
    with pytest.raises(Conflict) as err:
        meal_checkout(actor=site.key, request=req(site, diner, price_fen=1800))
    assert err.value.code == "idempotency_mismatch"
    assert snapshot() == before


@pytest.mark.parametrize(("change", "code"), [
    ({"credential": "NO-SUCH-CARD-1"}, "unknown_credential"),
    ({"credential": ""}, "credential_missing"),
    ({"tenders": {"cash": 1000}, "payment_method": None}, "tender_mismatch"),
    ({"tenders": {"bitcoin": 1200}, "payment_method": None}, "bad_tender"),
    ({"payment_method": None}, "payment_method_required"),
    ({"payment_method": "gold"}, "bad_tender"),
    ({"price_fen": 0}, "bad_price"),
    ({"price_fen": 10**9}, "bad_price"),
    ({"idempotency_key": "x"}, "bad_idempotency_key"),
    ({"occurred_at": timezone.now() + timedelta(hours=1)}, "occurred_in_future"),
    ({"occurred_at": timezone.now() - timedelta(days=9)}, "offline_too_old"),
])
def test_bad_input_is_refused_with_a_code_and_nothing_is_posted(site, make_diner, staff, snapshot, change, code):
    diner = make_diner()
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner), **change))
    assert err.value.code == code
    assert err.value.fields  # names the field
    assert snapshot() == before


def test_quote_changed_is_409(site, make_diner, snapshot):
    diner = make_diner()
    before = snapshot()
    with pytest.raises(Conflict) as err:
        meal_checkout(actor=site.key, request=req(site, diner, expected_self_pay_fen=1100))
    assert err.value.code == "quote_changed"
    assert err.value.extra["self_pay_fen"] == 1200
    assert snapshot() == before


def test_slot_closed_and_point_closed(make_site, make_diner, staff, snapshot):
    from datetime import time

    from minzheng.meals.domain import SlotWindow

    breakfast_only = make_site("YH009", COMMUNITY_A, windows=[SlotWindow("breakfast", time(0, 0), time(0, 0, 1))])
    weekday = timezone.localtime().isoweekday()
    closed = make_site("YH010", COMMUNITY_A, opening_days=[d for d in range(1, 8) if d != weekday])
    diner = make_diner()
    before = snapshot()
    with pytest.raises(Conflict) as err:
        meal_checkout(actor=breakfast_only.key, request=req(breakfast_only, diner))
    assert err.value.code == "slot_closed"
    assert "早餐 00:00" in err.value.message
    with pytest.raises(Conflict) as err2:
        meal_checkout(actor=closed.key, request=req(closed, diner))
    assert err2.value.code == "point_closed"
    assert snapshot() == before


def test_qr_code_and_expiry(site, make_diner, staff, snapshot):
    diner = make_diner()
    token = qr_issue(actor=staff.worker_a, diner=diner)
    res = meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner), credential=token))
    assert res.meal.credential == "qr"
    old = domain.qr_make(diner.pk, now_ts=int(timezone.now().timestamp()) - 600, ttl=60)
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner, key="k-000002"), credential=old))
    assert err.value.code == "qr_expired"
    assert snapshot() == before


def test_id_number_needs_the_operators_confirmation(site, make_diner, staff):
    from conftest import synthetic_id

    diner = make_diner(birth="19480808")
    number = synthetic_id(birth="19480808", seq=501)
    assert diner.person_obj.id_masked.endswith(number[-4:])
    with pytest.raises(ValidationFailed) as err:
        meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner), credential=number))
    assert err.value.code == "id_confirmation_required"
    res = meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner), credential=number,
                                                                    id_confirmed=True))
    assert res.meal.credential == "id_number"
    assert res.meal.subsidised


def test_pending_diner_pays_full_price_with_the_reason(site, make_diner, staff):
    from minzheng.meals.services.diners import card_issue

    diner = make_diner(approve=False)
    card_issue(actor=staff.worker_a, diner=diner, kind="love_card", number="AX99887766")
    res = meal_checkout(actor=site.key, request=dataclasses.replace(req(site, diner), credential="AX99887766"))
    assert not res.meal.subsidised
    assert res.meal.self_pay_fen == 1500
    assert "待审核" in res.notice
    assert res.meal.credential == "love_card"


def test_hospital_leave_suppresses_the_subsidy_and_raises_a_flag(site, make_diner, staff):
    diner = make_diner()
    leave_record(actor=staff.worker_a, diner=diner, kind="hospital", starts=timezone.localdate() - timedelta(days=2))
    res = meal_checkout(actor=site.key, request=req(site, diner))
    assert not res.meal.subsidised
    assert "住院" in res.notice
    flag = FraudFlag.objects.get(diner=diner)
    assert flag.kind == "hospital_leave"
    assert flag.meal_id == res.meal.id


def test_death_suspends_the_diner_and_the_card_is_refused_with_a_flag(site, make_diner, staff, snapshot,
                                                                      django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_death

    diner = make_diner()
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=staff.worker_a, person=diner.person_obj, died_on=timezone.localdate())
    diner.refresh_from_db()
    assert diner.status == "suspended"
    assert "身故" in diner.suspended_reason
    before = snapshot()
    with pytest.raises(ValidationFailed) as err:
        meal_checkout(actor=site.key, request=req(site, diner))
    assert err.value.code == "credential_holder_deceased"
    assert snapshot() == before
    assert FraudFlag.objects.filter(diner=diner, kind="after_death").count() == 1


def test_moving_out_suspends(make_diner, staff, django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_move_out

    diner = make_diner()
    with django_capture_on_commit_callbacks(execute=True):
        person_record_move_out(actor=staff.worker_a, person=diner.person_obj, moved_on=timezone.localdate(),
                               destination="上海市")
    diner.refresh_from_db()
    assert diner.status == "suspended"
    assert "迁出" in diner.suspended_reason


def test_void_reverses_every_posting_and_frees_the_slot(site, site_b, make_diner, staff):
    diner = make_diner()
    meal = meal_checkout(actor=staff.operator, request=req(site, diner)).meal
    codes = [books.benefit("330110", "YH001"), books.selfpay("YH001", "cash"), books.payable("YH001")]
    with pytest.raises(ValidationFailed):
        meal_void(actor=staff.operator, meal_id=meal.id, reason=" ")
    voided = meal_void(actor=staff.operator, meal_id=meal.id, reason="老人临时有事未就餐")
    assert voided.status == "voided"
    assert voided.void_reason == "老人临时有事未就餐"
    assert [balance(c) for c in codes] == [0, 0, 0]
    with pytest.raises(Conflict) as err:
        meal_void(actor=staff.operator, meal_id=meal.id, reason="再次")
    assert err.value.code == "already_voided"
    again = meal_checkout(actor=staff.operator_b, request=req(site_b, diner, key="after-void"))
    assert again.meal.subsidised
    assert trial_balance().ok


def test_void_is_limited_to_ones_own_point_and_area(site, site_b, make_diner, staff):
    diner = make_diner()
    meal = meal_checkout(actor=staff.operator, request=req(site, diner)).meal
    with pytest.raises(NotFound):
        meal_void(actor=staff.operator_b, meal_id=meal.id, reason="x")
    with pytest.raises(NotFound):
        meal_void(actor=staff.liangzhu, meal_id=meal.id, reason="x")
    with pytest.raises(PermissionDenied):
        meal_void(actor=staff.worker_a, meal_id=meal.id, reason="x")
    assert meal_void(actor=staff.township, meal_id=meal.id, reason="街道核实误刷").status == "voided"


def test_offline_batch_keeps_original_times_and_deduplicates(site, make_diner, staff):
    a, b = make_diner(name="赵大爷"), make_diner(name="钱阿姨", birth="19400202")
    # yesterday at 11:30, so the three meals fall on one service day whatever the hour of the run
    t0 = timezone.localtime(timezone.now() - timedelta(days=1)).replace(hour=11, minute=30, second=0, microsecond=0)
    items = [
        req(site, a, key="off-00001", occurred_at=t0),
        req(site, b, key="off-00002", occurred_at=t0 + timedelta(minutes=3)),
        req(site, a, key="off-00003", occurred_at=t0 + timedelta(minutes=5)),  # second meal, same slot
        dataclasses.replace(req(site, b, key="off-00004", occurred_at=t0), credential="NO-SUCH-CARD"),
    ]
    out = meal_checkout_batch(actor=site.key, point_id=site.point.pk, items=items)
    assert [(r.idempotency_key, r.ok, r.subsidised, r.code) for r in out] == [
        ("off-00001", True, True, ""), ("off-00004", False, False, "unknown_credential"),
        ("off-00002", True, True, ""), ("off-00003", True, False, "")]
    meal = MealService.objects.get(idempotency_key="off-00001")
    assert meal.occurred_at == t0
    assert meal.channel == "offline"
    assert Transaction.objects.get(idempotency_key=meal.ledger_key).occurred_at == t0
    resent = meal_checkout_batch(actor=site.key, point_id=site.point.pk, items=items[:3])
    assert all(r.replayed for r in resent)
    assert MealService.objects.count() == 3


def test_identification_never_reveals_a_number(site, make_diner):
    diner = make_diner(name="王秀英")
    found = diner_identify(value=diner.card, day=timezone.localdate())
    assert found.diner.name_masked == "王*英"
    assert found.credential == "citizen_card"


def test_an_elder_the_registry_marks_tekun_eats_free_from_the_next_meal(site, make_diner, staff,
                                                                       django_capture_on_commit_callbacks):
    """Assistance records 特困 on the person's record; the till and the diner's groups follow it."""
    from minzheng.meals.models import Diner
    from minzheng.people.services import person_status_tags_sync

    diner = make_diner(birth="19540301")
    first = meal_checkout(actor=staff.operator, request=req(site, diner)).meal
    assert first.self_pay_fen == 1200  # 20 % off at 70
    meal_void(actor=staff.operator, meal_id=first.id, reason="改按特困供养人员结算")

    with django_capture_on_commit_callbacks(execute=True):
        person_status_tags_sync(source="assistance", managed=("低保", "低边", "特困"),
                                held={diner.person_id: {"特困"}}, person_ids=[diner.person_id])

    assert "tekun" in Diner.objects.get(pk=diner.pk).categories
    meal = meal_checkout(actor=staff.operator, request=req(site, diner, key="tekun-0002")).meal
    assert (meal.price_fen, meal.self_pay_fen, meal.subsidised) == (1500, 0, True)
    assert any("特困" in line["label"] for line in meal.trace)
