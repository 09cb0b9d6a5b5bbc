"""全城通吃 with a simulated peer district (西湖区, 330106): its diners eat in Yuhang (the city hub
vouches for them and claims their slot at home), Yuhang diners eat in 西湖 (the peer reports, and
claims the slot here). Monthly clearing statements say who owes whom and agree with the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from minzheng.accounts.services import api_key_create
from minzheng.ledger.models import Account
from minzheng.ledger.selectors import trial_balance
from minzheng.meals.models import MealService
from minzheng.meals.services import books
from minzheng.meals.services.checkout import CheckoutRequest, meal_checkout, meal_void
from minzheng.meals.services.interop import (
    ClaimAnswer,
    ForeignDiner,
    SlotClaim,
    peer_register,
    register_hub,
)
from minzheng.meals.services.rules import rule_set_save
from minzheng.meals.services.settlement import clearing_statement

pytestmark = [pytest.mark.django_db, pytest.mark.urls("minzheng.meals.tests.urls")]

XIHU = "330106"


@dataclass
class SimulatedXihu:
    """The 西湖区 meal system as the city hub relays it: its registry and its slot claims."""

    diners: dict[str, ForeignDiner] = field(default_factory=dict)
    claimed: set[tuple[str, date, str]] = field(default_factory=set)
    calls: list[SlotClaim] = field(default_factory=list)

    def lookup(self, *, credential: str, kind: str) -> ForeignDiner | None:
        return self.diners.get(credential)

    def claim(self, *, claim: SlotClaim) -> ClaimAnswer:
        self.calls.append(claim)
        slot = (claim.external_ref, claim.service_date, claim.slot)
        if slot in self.claimed:
            return ClaimAnswer(False, "slot_already_subsidised", "该老人本餐次已在西湖区享受优惠")
        self.claimed.add(slot)
        return ClaimAnswer(True)


@pytest.fixture
def xihu(db):
    hub = SimulatedXihu(diners={"XH-CARD-0001": ForeignDiner("xh-1001", XIHU, "陈*芳", date(1950, 6, 1), ("alone",))})
    register_hub(hub)
    yield hub
    register_hub(None)


@pytest.fixture
def peer_key(db):
    key, secret = api_key_create(actor=None, name="西湖区助餐系统", purpose="peer_system", division_code="330110000000")
    peer_register(actor=None, region=XIHU, name="西湖区助餐系统", api_key=key)
    return secret


def _req(site, credential, key):
    return CheckoutRequest(point_id=site.point.pk, credential=credential, idempotency_key=key, payment_method="cash")


def _report(peer_key, diner, key="xh-meal-0001", **kw):
    body = {"key": key, "external_ref": str(diner.uid), "canteen_region": XIHU, "point_code": "XH-017",
            "point_name": "西湖区翠苑一区老年食堂", "occurred_at": timezone.now().isoformat(), "slot": "lunch",
            "price_fen": 1800, "discount_fen": 360, "subsidy_fen": 0, **kw}
    return Client().post("/api/v1/meals/interop/meals", data=json.dumps(body), content_type="application/json",
                         HTTP_X_API_KEY=peer_key)


def test_a_xihu_elder_eats_in_yuhang_and_xihu_owes_the_discount(site, xihu):
    meal = meal_checkout(actor=site.key, request=_req(site, "XH-CARD-0001", "xh-in-0001")).meal
    assert meal.subsidised
    assert meal.payer == XIHU
    assert meal.home_region == XIHU
    assert meal.discount_fen == 300
    assert Account.objects.get(code=books.due_from(XIHU, "YH001")).balance_fen == 300
    assert [c.slot for c in xihu.calls] == ["lunch"]
    assert trial_balance().ok


def test_a_xihu_elder_already_subsidised_at_home_pays_full_price_here(site, xihu):
    xihu.claimed.add(("xh-1001", timezone.localdate(), "lunch"))
    meal = meal_checkout(actor=site.key, request=_req(site, "XH-CARD-0001", "xh-in-0002")).meal
    assert not meal.subsidised
    assert meal.self_pay_fen == 1500


def test_a_yuhang_elder_in_xihu_is_reported_and_yuhang_owes(site, make_diner, peer_key):
    diner = make_diner()
    at = timezone.now().isoformat()
    res = _report(peer_key, diner, occurred_at=at)
    assert res.status_code == 201, res.content
    assert res.json()["payer"] == "330110"
    assert Account.objects.get(code=books.due_to(XIHU)).balance_fen == -360
    # back home, the same lunch slot is taken: full price in Yuhang
    second = meal_checkout(actor=site.key, request=_req(site, diner.card, "home-0001")).meal
    assert not second.subsidised
    # the peer's retry is a replay, a changed retry is 409
    assert _report(peer_key, diner, occurred_at=at).status_code == 200
    assert _report(peer_key, diner, occurred_at=at, price_fen=2000).json()["code"] == "idempotency_mismatch"


def test_a_peer_report_for_a_slot_already_used_in_yuhang_is_refused(site, make_diner, peer_key):
    diner = make_diner()
    meal_checkout(actor=site.key, request=_req(site, diner.card, "home-0001"))
    res = _report(peer_key, diner)
    assert res.status_code == 409
    assert res.json()["code"] == "slot_already_subsidised"
    assert not Account.objects.filter(code=books.due_to(XIHU)).exclude(balance_fen=0).exists()


def test_peer_reports_only_for_its_own_region_and_bad_reports_are_400(site, make_diner, peer_key):
    diner = make_diner()
    other = _report(peer_key, diner, canteen_region="330105")
    assert other.status_code == 403
    assert other.json()["code"] == "peer_region_mismatch"
    bad = _report(peer_key, diner, key="xh-bad-01", discount_fen=5000)
    assert bad.status_code == 400
    unknown = Client().post("/api/v1/meals/interop/meals", data=json.dumps({"key": "x"}),
                            content_type="application/json", HTTP_X_API_KEY=peer_key)
    assert unknown.status_code == 400
    assert MealService.objects.count() == 0


def test_eligibility_and_daily_statement_for_the_peer(site, make_diner, peer_key, xihu):
    diner = make_diner(birth="19400101")
    client = Client()
    res = client.post("/api/v1/meals/interop/eligibility", {"credential": diner.card}, content_type="application/json",
                      HTTP_X_API_KEY=peer_key)
    assert res.status_code == 200, res.content
    assert res.json()["external_ref"] == str(diner.uid)
    assert res.json()["eligible"]
    assert "advanced_age" in res.json()["categories"]
    _report(peer_key, diner)
    meal_checkout(actor=site.key, request=_req(site, "XH-CARD-0001", "xh-in-0003"))
    st = client.get("/api/v1/meals/interop/statements/daily", {"date": timezone.localdate().isoformat()},
                    HTTP_X_API_KEY=peer_key).json()
    assert st["meals"] == 2
    assert {(line["home_region"], line["canteen_region"], line["payer"]) for line in st["lines"]} == {
        ("330110", XIHU, "330110"), (XIHU, "330110", XIHU)}
    # a terminal key is no peer
    assert client.post("/api/v1/meals/interop/eligibility", {"credential": diner.card},
                       content_type="application/json", HTTP_X_API_KEY=site.secret).status_code == 403
    # the card number is a credential: never in a URL
    assert client.get("/api/v1/meals/interop/eligibility", {"credential": diner.card},
                      HTTP_X_API_KEY=peer_key).status_code == 405


def test_monthly_clearing_agrees_with_the_ledger_and_nets_each_pair(site, site_b, make_diner, peer_key, xihu, staff):
    yh = make_diner()
    _report(peer_key, yh)  # Yuhang owes 西湖 ¥3.60
    meal_checkout(actor=site.key, request=_req(site, "XH-CARD-0001", "xh-in-0004"))  # 西湖 owes ¥3.00
    voided = meal_checkout(actor=site_b.key, request=_req(site_b, "XH-CARD-0001", "xh-in-0005")).meal  # full price
    meal_void(actor=staff.township, meal_id=voided.id, reason="测试")
    st = clearing_statement(actor=staff.district, month=timezone.localdate())
    assert st.ledger_agrees, st.ledger_check
    assert {(f["payer"], f["payee"], f["benefit_fen"]) for f in st.flows} == {("330110", XIHU, 360),
                                                                             (XIHU, "330110", 300)}
    assert st.settlements == [{"debtor": "330110", "creditor": XIHU, "fen": 60}]
    # what if the canteen's district paid? then nothing crosses; the city pool? it pays both canteens
    canteen = clearing_statement(actor=staff.district, month=timezone.localdate(), payer_rule="canteen_district")
    assert canteen.flows == []
    assert not canteen.ledger_check
    pool = clearing_statement(actor=staff.district, month=timezone.localdate(), payer_rule="city_pool")
    assert {(f["payer"], f["payee"]) for f in pool.flows} == {("city", "330110")}


def test_clearing_under_the_city_pool_rule_in_force_agrees_with_the_ledger(site, make_diner, staff):
    from minzheng.meals import domain

    body = domain.rule_set_to_dict(domain.hangzhou_default())
    body.update(version="pool", payer_rule="city_pool", effective_from=timezone.localdate().replace(day=1).isoformat())
    rule_set_save(actor=staff.district, body=body)
    a, b = make_diner(), make_diner(name="周阿婆", birth="19300101")
    meal_checkout(actor=site.key, request=_req(site, a.card, "pool-0001"))
    meal_checkout(actor=site.key, request=_req(site, b.card, "pool-0002"))
    st = clearing_statement(actor=staff.district, month=timezone.localdate())
    assert st.payer_rule == "city_pool"
    assert st.ledger_agrees
    assert st.flows == [{"payer": "city", "payee": "330110", "meals": 2, "benefit_fen": 300 + 750}]
    assert Account.objects.get(code=books.due_from("city", "YH001")).balance_fen == 1050
