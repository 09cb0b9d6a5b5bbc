"""电子津贴 wallets on the ledger, and the money properties of checkout as a whole (hypothesis):
postings always sum to zero, a wallet never goes negative, a void restores every balance."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minzheng.core.exceptions import ApplicationError, Conflict, ValidationFailed
from minzheng.ledger.models import Account, Posting
from minzheng.ledger.selectors import trial_balance
from minzheng.meals.models import MealService, WalletGrant
from minzheng.meals.services import books
from minzheng.meals.services.checkout import CheckoutRequest, meal_checkout, meal_void
from minzheng.meals.services.wallets import (
    wallet_balance,
    wallet_clawback,
    wallet_clawback_all,
    wallet_expire_due,
    wallet_grant,
)

pytestmark = pytest.mark.django_db


def _req(site, diner, key, **kw):
    kw.setdefault("payment_method", "cash")
    return CheckoutRequest(point_id=site.point.pk, credential=diner.card, idempotency_key=key, **kw)


def test_grant_spend_and_the_split_uses_the_wallet_after_the_discount(site, make_diner, staff):
    diner = make_diner()
    grant = wallet_grant(actor=staff.district, diner=diner, amount_fen=1000, key="2024-05:a",
                         expires_on=timezone.localdate() + timedelta(days=30))
    assert wallet_balance(diner=diner) == 1000
    assert grant.ledger_key == "meals:wallet:grant:2024-05:a"
    diner.refresh_from_db()
    meal = meal_checkout(actor=site.key, request=_req(site, diner, "w-000001")).meal
    assert (meal.discount_fen, meal.wallet_fen, meal.self_pay_fen) == (300, 1000, 200)
    assert wallet_balance(diner=diner) == 0
    # the same grant key again is the same grant (a batch re-run), another amount is 409
    assert wallet_grant(actor=staff.district, diner=diner, amount_fen=1000, key="2024-05:a",
                        expires_on=grant.expires_on).pk == grant.pk
    with pytest.raises(Conflict):
        wallet_grant(actor=staff.district, diner=diner, amount_fen=2000, key="2024-05:a", expires_on=grant.expires_on)


def test_wallet_not_used_at_a_point_that_is_not_an_approved_provider(make_site, make_diner, staff):
    site = make_site("YH050", wallet_approved=False)
    diner = make_diner()
    wallet_grant(actor=staff.district, diner=diner, amount_fen=1000, key="g1",
                 expires_on=timezone.localdate() + timedelta(days=30))
    diner.refresh_from_db()
    meal = meal_checkout(actor=site.key, request=_req(site, diner, "w-000001")).meal
    assert meal.wallet_fen == 0
    assert wallet_balance(diner=diner) == 1000


def test_expiry_takes_back_only_the_unspent_part_of_the_oldest_grant(site, make_diner, staff):
    diner = make_diner()
    today = timezone.localdate()
    old = wallet_grant(actor=None, diner=diner, amount_fen=800, key="old", expires_on=today + timedelta(days=1),
                       granted_on=today - timedelta(days=30))
    new = wallet_grant(actor=None, diner=diner, amount_fen=800, key="new", expires_on=today + timedelta(days=60))
    diner.refresh_from_db()
    meal_checkout(actor=site.key, request=_req(site, diner, "w-000001", price_fen=1500))  # wallet pays 1200
    assert wallet_balance(diner=diner) == 400  # the old grant was spent first; 400 of the new is left
    assert wallet_expire_due(actor=None, diner=diner, today=today + timedelta(days=2)) == 0
    assert WalletGrant.objects.get(pk=old.pk).closed
    assert wallet_balance(diner=diner) == 400
    assert wallet_expire_due(actor=None, diner=diner, today=today + timedelta(days=61)) == 400
    assert WalletGrant.objects.get(pk=new.pk).expired_fen == 400
    assert wallet_balance(diner=diner) == 0
    assert trial_balance().ok


def test_clawback_of_one_grant_and_of_everything(make_diner, staff):
    diner = make_diner()
    far = timezone.localdate() + timedelta(days=90)
    g1 = wallet_grant(actor=None, diner=diner, amount_fen=500, key="g1", expires_on=far)
    wallet_grant(actor=None, diner=diner, amount_fen=700, key="g2", expires_on=far + timedelta(days=1))
    with pytest.raises(ValidationFailed):
        wallet_clawback(actor=staff.district, grant=g1, reason="")
    assert wallet_clawback(actor=staff.district, grant=g1, reason="重复发放") == 500
    with pytest.raises(Conflict):
        wallet_clawback(actor=staff.district, grant=g1, reason="再次")
    assert wallet_clawback_all(actor=staff.district, diner=diner, reason="迁出") == 700
    assert wallet_balance(diner=diner) == 0
    assert Account.objects.get(code=books.wallet_grants()).balance_fen == 0
    assert trial_balance().ok


def test_death_claws_the_wallet_back(make_diner, staff, django_capture_on_commit_callbacks):
    from minzheng.people.services import person_record_death

    diner = make_diner()
    wallet_grant(actor=None, diner=diner, amount_fen=900, key="g", expires_on=timezone.localdate() + timedelta(days=9))
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=staff.worker_a, person=diner.person_obj, died_on=timezone.localdate())
    diner.refresh_from_db()
    assert wallet_balance(diner=diner) == 0
    assert diner.status == "suspended"


def test_void_gives_the_wallet_its_money_back(site, make_diner, staff):
    diner = make_diner()
    wallet_grant(actor=None, diner=diner, amount_fen=2000, key="g", expires_on=date(2099, 1, 1))
    diner.refresh_from_db()
    meal = meal_checkout(actor=site.key, request=_req(site, diner, "w-000001")).meal
    assert wallet_balance(diner=diner) == 800
    meal_void(actor=site.key, meal_id=meal.id, reason="误刷")
    assert wallet_balance(diner=diner) == 2000


def test_grant_refuses_bad_input(make_diner, staff):
    diner = make_diner()
    for amount, expires, field in ((0, date(2099, 1, 1), "amount_fen"), (1.5, date(2099, 1, 1), "amount_fen"),
                                   (100, date(2000, 1, 1), "expires_on")):
        with pytest.raises(ValidationFailed) as err:
            wallet_grant(actor=staff.district, diner=diner, amount_fen=amount, expires_on=expires, key="k")
        assert field in err.value.fields
    with pytest.raises(ApplicationError):
        wallet_grant(actor=staff.worker_a, diner=diner, amount_fen=100, expires_on=date(2099, 1, 1), key="k")


# --- properties over random days at two points ---------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.integers(0, 2), st.integers(1, 3000)),
        st.tuples(st.just("eat"), st.integers(0, 2), st.integers(0, 1), st.integers(1, 4000),
                  st.sampled_from(["cash", "wechat", "alipay", "citizen_card", "love_card"]), st.booleans()),
        st.tuples(st.just("void"), st.integers(0, 30)),
        st.tuples(st.just("clawback"), st.integers(0, 2)),
    ),
    min_size=1, max_size=25,
)


@pytest.fixture
def three_diners(make_diner):
    return [make_diner(name=n, birth=b) for n, b in (("甲老人", "19500101"), ("乙老人", "19380505"),
                                                     ("丙老人", "19620606"))]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(script=ops)
def test_books_balance_wallets_never_negative_and_voids_restore(site, site_b, three_diners, staff, script):
    with transaction.atomic():
        diners = [type(d).objects.get(pk=d.pk) for d in three_diners]
        for d, original in zip(diners, three_diners, strict=True):
            d.card = original.card
        sites = [site, site_b]
        meals: list[MealService] = []
        for step, op in enumerate(script):
            before = dict(Account.objects.values_list("code", "balance_fen"))
            try:
                if op[0] == "grant":
                    wallet_grant(actor=None, diner=diners[op[1]], amount_fen=op[2], key=f"g{step}",
                                 expires_on=date(2099, 1, 1))
                    diners[op[1]].refresh_from_db()
                elif op[0] == "eat":
                    _, d, s, price, tender, use_wallet = op
                    res = meal_checkout(actor=sites[s].key, request=dataclasses.replace(
                        _req(sites[s], diners[d], f"eat-{step:06d}", payment_method=tender), price_fen=price,
                        use_wallet=use_wallet))
                    meals.append(res.meal)
                    assert sum(res.meal.tenders.values()) == res.meal.self_pay_fen
                elif op[0] == "void" and meals:
                    meal = meals[op[1] % len(meals)]
                    if MealService.objects.get(pk=meal.pk).status == "served":
                        meal_void(actor=staff.township, meal_id=meal.pk, reason="测试冲正")
                        txn_lines = Posting.objects.filter(txn__idempotency_key__endswith=f":{meal.pk}",
                                                            txn__idempotency_key__startswith="meals:void:")
                        # the reversal restores exactly the balances the meal had moved
                        for code, amount in txn_lines.values_list("account__code", "amount_fen"):
                            assert amount != 0
                            assert code in before
                elif op[0] == "clawback":
                    wallet_clawback_all(actor=None, diner=diners[op[1]], reason="测试")
            except ApplicationError as exc:
                refusal = exc.code
                assert refusal in {"insufficient_funds", "slot_already_subsidised"}, exc.as_dict()  # noqa: PT017
            # after every step: wallets ≥ 0 on their normal side, the books balance
            for code, bal in Account.objects.filter(code__startswith="meals:wallet:").exclude(
                    code__startswith="meals:wallet_grants").values_list("code", "balance_fen"):
                assert -bal >= 0, code
            tb = trial_balance()
            assert tb.ok, tb
        # voiding everything that is still served brings every point account back to zero
        for meal in MealService.objects.filter(status="served"):
            meal_void(actor=staff.township, meal_id=meal.pk, reason="全部冲正")
        for code, bal in Account.objects.filter(code__startswith="meals:point:").values_list("code", "balance_fen"):
            assert bal == 0, code
        for code, bal in Account.objects.filter(code__startswith="meals:benefit:").values_list("code", "balance_fen"):
            assert bal == 0, code
        transaction.set_rollback(True)
