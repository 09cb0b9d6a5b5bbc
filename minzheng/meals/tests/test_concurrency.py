"""On PostgreSQL, with real concurrent transactions (threads, one connection each):

- 50 checkouts of one diner in one slot at 50 different points → exactly one subsidised meal;
- 20 copies of one request (same idempotency key) at once → one meal, one ledger transaction;
- the books balance afterwards and every MAC verifies.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections

from conftest import COMMUNITY_A, COMMUNITY_B
from minzheng.core.exceptions import ApplicationError
from minzheng.ledger.models import Transaction
from minzheng.ledger.selectors import ledger_verify, trial_balance
from minzheng.meals.models import MealService
from minzheng.meals.services.checkout import CheckoutRequest, meal_checkout

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

N_POINTS = 50


def _run_all(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job at the same moment in its own thread (own connection); outcomes or errors."""
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        try:
            start.wait()
            return job()
        except ApplicationError as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_fifty_points_one_diner_one_slot_exactly_one_subsidy(flushable, make_site, make_diner, staff):
    sites = [make_site(f"C{i:03d}", COMMUNITY_A if i % 2 else COMMUNITY_B) for i in range(N_POINTS)]
    diner = make_diner(birth="19440404")  # 80: the 7折 tier

    def checkout(site: Any) -> Callable[[], Any]:
        return lambda: meal_checkout(actor=site.key, request=CheckoutRequest(
            point_id=site.point.pk, credential=diner.card, idempotency_key=f"race-{site.point.code}",
            payment_method="cash"))

    outcomes = _run_all([checkout(s) for s in sites])

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert errors == []
    meals = MealService.objects.filter(diner=diner)
    assert meals.count() == N_POINTS
    assert meals.filter(subsidised=True).count() == 1
    assert Counter(m.self_pay_fen for m in meals) == {1050: 1, 1500: N_POINTS - 1}
    assert Transaction.objects.filter(kind="meal.checkout").count() == N_POINTS
    assert connection.vendor == "postgresql"
    tb = trial_balance()
    assert tb.ok, tb
    assert ledger_verify() == []


def test_fifty_points_refusing_second_meals_refuse_all_but_one(flushable, make_site, make_diner, staff):
    sites = [make_site(f"R{i:03d}", COMMUNITY_A, second_meal="refuse") for i in range(N_POINTS)]
    diner = make_diner()

    outcomes = _run_all([
        (lambda s=s: meal_checkout(actor=s.key, request=CheckoutRequest(
            point_id=s.point.pk, credential=diner.card, idempotency_key=f"race-{s.point.code}",
            payment_method="cash")))
        for s in sites])

    refused = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(refused) == N_POINTS - 1
    assert {o.code for o in refused} == {"slot_already_subsidised"}
    assert MealService.objects.filter(diner=diner).count() == 1
    assert Transaction.objects.filter(kind="meal.checkout").count() == 1
    assert trial_balance().ok


def test_twenty_copies_of_one_request_post_once(flushable, site, make_diner, staff):
    diner = make_diner()
    request = CheckoutRequest(point_id=site.point.pk, credential=diner.card, idempotency_key="same-key-0001",
                              payment_method="wechat")

    outcomes = _run_all([lambda: meal_checkout(actor=site.key, request=request) for _ in range(20)])

    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert len({o.meal.id for o in outcomes}) == 1
    assert sum(1 for o in outcomes if not o.replayed) == 1
    assert MealService.objects.count() == 1
    assert Transaction.objects.filter(kind="meal.checkout").count() == 1
    assert trial_balance().ok
