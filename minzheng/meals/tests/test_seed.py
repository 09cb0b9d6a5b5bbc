"""The seed step: points, diners and a year of meals in proportion to the scale, consistent with
the pricing engine, and reconciled and cleared against the ledger it posts."""

from __future__ import annotations

from datetime import date

import pytest

from minzheng.ledger.selectors import trial_balance
from minzheng.meals import domain
from minzheng.meals.models import Diner, DinerCard, MealPoint, MealService
from minzheng.meals.seed import seed_meals
from minzheng.meals.selectors import rule_set_for
from minzheng.meals.services.settlement import clearing_compute, reconcile_day
from minzheng.synth.runner import run_seed

pytestmark = pytest.mark.django_db


def test_a_small_year_of_meals_adds_up_everywhere():
    run_seed(scale=0.004, seed=7, workers=0, progress=False, run_steps=False)
    stats = seed_meals(scale=0.01, seed=7, points=2)  # 266 diners, ≈ 27,200 meals
    assert stats["points"] == 2
    assert stats["diners"] + stats["visitors"] == 266
    assert MealPoint.objects.filter(code__startswith="YH").count() == 2
    assert DinerCard.objects.count() == 266
    total = stats["meals"] + stats["meals_abroad"]
    assert abs(total - 27_200) < 27_200 * 0.03, stats
    assert 0.005 < stats["meals_abroad"] / total < 0.02
    # every split is the engine's own, and adds up
    rules = rule_set_for(region="330110", day=date(2023, 6, 30))
    for m in MealService.objects.select_related("diner").order_by("?")[:200]:
        q = domain.quote(rules, domain.QuoteInput(price_fen=m.price_fen, age=m.age,
                                                  categories=frozenset(m.diner.categories)))
        assert (m.discount_fen, m.subsidy_fen, m.self_pay_fen) == (q.discount_fen, q.subsidy_fen, q.self_pay_fen)
    # one subsidised meal per person and slot
    assert MealService.objects.filter(subsidised=True).values("diner", "service_date", "slot").distinct().count() \
        == MealService.objects.filter(subsidised=True).count()
    assert Diner.objects.filter(person__isnull=True).exists()
    assert trial_balance().ok
    recs = reconcile_day(actor=None, day=date(2023, 3, 15))
    assert recs
    assert all(r.ok for r in recs), [(r.records, r.ledger) for r in recs if not r.ok]
    flows, check, agrees = clearing_compute(start=date(2023, 5, 1), end=date(2023, 5, 31))
    assert agrees, check
    assert {f.payee for f in flows} >= {"330110"}
    # a second run does not load the year twice
    assert seed_meals(scale=0.01, seed=7) == {"skipped": "meal points already exist"}
