"""The seed step: at a small scale over a small registry, the year's figures come out of the records
exactly as calibrated (money and person-times), visits are 100 %, and the rolls balance the ledger."""

from __future__ import annotations

from datetime import date

import pytest

from minzheng.assistance import seed
from minzheng.assistance.models import Enrolment, PayrollLine, PayrollRoll
from minzheng.ledger.selectors import balance
from minzheng.ledger.services import account_open  # noqa: F401 - the ledger app is installed

SCALE = 0.002


@pytest.fixture
def registry(family, make_person):
    from conftest import COMMUNITY_A, COMMUNITY_B

    for i in range(24):
        births = [f"19{50 + i % 20}0101", f"19{52 + i % 20}0601"] + ([f"20{10 + i % 9:02d}0301"] if i % 3 == 0 else [])
        family([("head", births[0]), ("spouse", births[1])] + ([("child", births[2])] if len(births) > 2 else []),
               COMMUNITY_A if i % 2 else COMMUNITY_B)
    for i in range(8):
        family([("head", f"19{50 + i}0101")], COMMUNITY_A, living_arrangement="alone")
    for i in range(6):
        family([("head", f"19{30 + i}0501")], COMMUNITY_B)
    for i, name in enumerate(("小明", "小红", "小刚", "小芳")):
        make_person(name, COMMUNITY_A, birth=f"20{12 + i}0101")


def test_the_year_comes_out_near_the_seed(registry):
    stats = seed.seed_assistance(scale=SCALE, seed=7)
    assert stats["paid_fen"] == round(seed.PAID_FEN_AT_SCALE_1 * SCALE)  # 33.8 万元 at this scale
    assert stats["person_times"] == round(seed.PERSON_TIMES_AT_SCALE_1 * SCALE)
    assert stats["longevity_recipients_december"] == 6
    assert stats["visit_rate"] == 1.0
    assert stats["visits"] == stats["visits_made"] > 0
    assert stats["rescues"] == round(seed.RESCUES * SCALE)
    assert stats["escorted_home"] == 1
    assert PayrollRoll.objects.filter(status="paid").count() == 12
    assert Enrolment.objects.filter(program="dibao").count() == 6
    spent = -balance(actor=None, account="assistance:fund:appropriation") - balance(actor=None, account="assistance:fund:bank")
    assert spent == stats["paid_fen"] + stats["longevity_paid_fen"]
    assert stats["happiness_deliveries"] > 0
    assert stats["housing_homes"] == 1
    # each recurring enrolment shows what it is paid: its 核定月金额 is its last month's amount
    last = {}
    for enrolment_id, amount in PayrollLine.objects.filter(enrolment__program__in=("dibao", "dibian", "tekun")) \
            .order_by("for_month").values_list("enrolment_id", "amount_fen"):
        last[enrolment_id] = amount
    assert last and dict(Enrolment.objects.filter(pk__in=last).values_list("id", "monthly_fen")) == last
    _ = date


def test_the_seeded_statuses_reach_the_registry(registry):
    """Who holds a live 低保/低边/特困 enrolment at the end of the seeded year carries the tag."""
    from minzheng.assistance.services.status_tags import status_holders
    from minzheng.people.models import Person

    seed.seed_assistance(scale=SCALE, seed=7)
    held = status_holders()
    assert held, "the seed enrols someone in 低保, 低边 or 特困"
    tagged = {pid: {t for t in tags if t in ("低保", "低边", "特困")}
              for pid, tags in Person.objects.values_list("id", "tags")}
    assert {pid: tags for pid, tags in tagged.items() if tags} == held
