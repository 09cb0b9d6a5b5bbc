"""The what-if API: base vs changed parameters per township."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minzheng.core.exceptions import ValidationFailed
from minzheng.rules.parameters import default_parameters
from minzheng.rules.population import Population
from minzheng.rules.programs import dibao, dibian, longevity
from minzheng.rules.programs.household import Household, Member, to_population
from minzheng.rules.tests.strategies import households
from minzheng.rules.whatif import TownshipFigures, whatif

ON = dt.date(2024, 6, 1)
TOWNS = ("330110005000", "330110010000")


def born(age: int) -> dt.date:
    return ON.replace(year=ON.year - age)


def small_population() -> Population:
    hhs = [
        Household(members=(Member("head", born(70), income_fen=100_000), Member("spouse", born(82)))),  # 低保
        Household(members=(Member("head", born(50), income_fen=130_000),)),  # 低边 at 1259, 低保 at 1400
        Household(members=(Member("head", born(50), income_fen=200_000),)),  # 低边
        Household(members=(Member("head", born(91), income_fen=400_000), Member("child", born(60), income_fen=600_000))),
        Household(members=(Member("head", born(100), income_fen=300_000, zhejiang_hukou=False),)),
    ]
    return to_population(hhs, townships=[0, 0, 1, 1, 1], township_codes=TOWNS)


def test_base_figures_per_township() -> None:
    result = whatif(small_population(), default_parameters(), {}, on=ON)
    a, b = result.base.townships
    assert a == TownshipFigures("330110005000", 1, 2, 2 * (125_900 - 50_000), 1, 1, 0, 1, 6_000)
    assert b == TownshipFigures("330110010000", 0, 0, 0, 1, 1, 0, 1, 10_000)
    assert result.base.district.total_monthly_fen == 2 * 75_900 + 16_000
    assert result.changed_parameters == ()
    assert all(d.total_monthly_fen == 0 for d in result.delta)


def test_raising_the_standard() -> None:
    result = whatif(small_population(), default_parameters(), {"dibao.standard_fen": 140_000}, on=ON)
    assert result.changed_parameters == ("dibao.standard_fen",)
    a = result.changed.townships[0]
    assert a.dibao_households == 2
    assert a.dibao_monthly_fen == 2 * (140_000 - 50_000) + (140_000 - 130_000)
    delta = result.district_delta
    assert delta.dibao_households == 1
    assert delta.dibao_monthly_fen == 2 * 14_100 + 10_000
    assert delta.dibian_households == -1  # the 1300 元 household moves from 低边 to 低保
    assert delta.longevity_monthly_fen == 0
    payload = result.as_dict()
    assert payload["changed_parameters"] == ["dibao.standard_fen"]
    assert payload["delta"][-1]["township"] == "total"


def test_population_validation() -> None:
    pop = small_population()
    bad = Population(pop.persons, pop.households, ("330110005000",))  # township index 1 out of range
    with pytest.raises(ValidationFailed):
        bad.validate()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(households(on=ON), min_size=1, max_size=15), st.integers(60_000, 250_000), st.data())
def test_whatif_matches_programs_and_sums_to_district(hhs: list[Household], standard: int, data: st.DataObject) -> None:
    towns = data.draw(st.lists(st.integers(0, 1), min_size=len(hhs), max_size=len(hhs)))
    pop = to_population(hhs, townships=towns, township_codes=TOWNS)
    base = default_parameters()
    result = whatif(pop, base, {"dibao.standard_fen": standard}, on=ON)
    changed = base.with_values({"dibao.standard_fen": standard}, on=ON)
    for scenario, params in ((result.base, base), (result.changed, changed)):
        d = dibao.evaluate_many(pop, on=ON, params=params)
        b = dibian.evaluate_many(pop, on=ON, params=params)
        lon = longevity.evaluate_many(pop, on=ON, params=params)
        assert scenario.district.dibao_households == d.count
        assert scenario.district.dibao_monthly_fen == d.total_fen
        assert scenario.district.dibian_households == b.count
        assert scenario.district.longevity_monthly_fen == lon.total_fen
        for f in fields(TownshipFigures):
            if f.name != "township":
                assert sum(getattr(r, f.name) for r in scenario.townships) == getattr(scenario.district, f.name)
        assert np.array_equal(scenario.arrays.dibao.amount_fen, d.amount_fen)
    # A higher standard never removes a 低保 household; a lower one never adds one.
    if standard >= 125_900:
        assert result.changed.district.dibao_households >= result.base.district.dibao_households
    else:
        assert result.changed.district.dibao_households <= result.base.district.dibao_households
