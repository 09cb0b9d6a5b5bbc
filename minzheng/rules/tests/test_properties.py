"""Property tests: amounts never negative, always int; 低保 monotone in income; vector == scalar."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minzheng.rules.engine import ymd
from minzheng.rules.parameters import ParameterSet, default_parameters, param
from minzheng.rules.programs import children, dibao, dibian, linshi, longevity, tekun
from minzheng.rules.programs.household import Household, compose, compose_many, to_population
from minzheng.rules.tests.strategies import birthday, dates, households, incomes, parameter_sets

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenario(draw: st.DrawFn, max_households: int = 12) -> tuple[dt.date, list[Household], ParameterSet]:
    on = draw(dates)
    hhs = draw(st.lists(households(on=on), min_size=1, max_size=max_households))
    params = draw(parameter_sets(on=on))
    return on, hhs, params


@SETTINGS
@given(scenario())
def test_dibao_and_dibian_vector_equals_scalar(case: tuple[dt.date, list[Household], ParameterSet]) -> None:
    on, hhs, params = case
    pop = to_population(hhs)
    totals = compose_many(pop, on=on)
    vd = dibao.evaluate_many(pop, on=on, params=params)
    vb = dibian.evaluate_many(pop, on=on, params=params, totals=totals)
    assert vd.amount_fen.dtype == np.int64
    assert vb.amount_fen.dtype == np.int64
    for i, h in enumerate(hhs):
        comp = compose(h, on=on)
        assert comp.counted == totals.members[i]
        assert comp.income_total_fen == totals.income_total_fen[i]
        sd = dibao.evaluate(h, on=on, params=params)
        sb = dibian.evaluate(h, on=on, params=params)
        assert (sd.eligible, sd.amount_fen) == (bool(vd.eligible[i]), int(vd.amount_fen[i]))
        assert (sb.eligible, sb.amount_fen) == (bool(vb.eligible[i]), int(vb.amount_fen[i]))
        # Never both: a 低保 household is not also 低边.
        assert not (sd.eligible and sb.eligible)
        for d in (sd, sb):
            assert type(d.amount_fen) is int
            assert d.amount_fen >= 0
            assert d.eligible or d.amount_fen == 0


@SETTINGS
@given(scenario())
def test_longevity_vector_equals_scalar(case: tuple[dt.date, list[Household], ParameterSet]) -> None:
    on, hhs, params = case
    pop = to_population(hhs)
    v = longevity.evaluate_many(pop, on=on, params=params)
    people = [m for h in hhs for m in h.members]
    for i, m in enumerate(people):
        s = longevity.evaluate(m, on=on, params=params)
        assert (s.eligible, s.amount_fen) == (bool(v.eligible[i]), int(v.amount_fen[i]))
        assert type(s.amount_fen) is int
        assert s.amount_fen >= 0


@SETTINGS
@given(st.data())
def test_dibao_amount_monotone_non_increasing_in_income(data: st.DataObject) -> None:
    on = data.draw(dates)
    params = data.draw(parameter_sets(on=on))
    h = data.draw(households(on=on))
    low = data.draw(incomes)
    raise_by = data.draw(st.integers(min_value=0, max_value=500_000))
    head = h.members[0]
    poorer = replace(h, members=(replace(head, income_fen=low), *h.members[1:]))
    richer = replace(h, members=(replace(head, income_fen=low + raise_by), *h.members[1:]))
    a = dibao.evaluate(poorer, on=on, params=params)
    b = dibao.evaluate(richer, on=on, params=params)
    assert a.amount_fen >= b.amount_fen >= 0
    assert a.eligible or not b.eligible  # more income never makes a household eligible


@SETTINGS
@given(st.data())
def test_dibao_per_capita_floor(data: st.DataObject) -> None:
    """Amount = (standard − ⌊income/n⌋) × n: within n − 1 fen above the exact gap, never below it."""
    on = data.draw(dates)
    h = data.draw(households(on=on))
    d = dibao.evaluate(h, on=on)
    if d.eligible:
        comp = compose(h, on=on)
        n, total = comp.counted, comp.income_total_fen
        standard = param("dibao.standard_fen", on=on).value
        exact_gap = standard * n - total
        assert exact_gap <= d.amount_fen <= exact_gap + n - 1
        assert d.amount_fen % n == 0


tekun_arrays = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 105), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.integers(0, 6), min_size=n, max_size=n),
    )
)


@SETTINGS
@given(dates, tekun_arrays)
def test_tekun_vector_equals_scalar(on: dt.date, cols: tuple[list[Any], ...]) -> None:
    ages, disabled, able, income, supporter, failed = cols
    births = [dt.date(on.year - a, 1, 1) if a else on for a in ages]
    arrays = tekun.TekunArrays(
        birth_ymd=np.array([ymd(b) for b in births]),
        disabled=np.array(disabled), able_to_work=np.array(able), has_income_source=np.array(income),
        has_capable_supporter=np.array(supporter), adl_failed_count=np.array(failed),
    )
    v = tekun.evaluate_many(arrays, on=on)
    adls = list(tekun.ADL)
    for i in range(len(ages)):
        s = tekun.evaluate(
            tekun.TekunApplicant(births[i], disabled[i], able[i], income[i], supporter[i], frozenset(adls[: failed[i]])),
            on=on,
        )
        assert (s.eligible, s.amount_fen) == (bool(v.eligible[i]), int(v.amount_fen[i]))
        assert s.amount_fen >= 0
        assert type(s.amount_fen) is int


@SETTINGS
@given(dates, st.lists(st.tuples(st.integers(0, 25), st.sampled_from(list(children.ChildCategory)),
                                 st.sampled_from(list(children.FamilyStatus))), min_size=1, max_size=40),
       st.integers(50_000, 400_000))
def test_children_vector_equals_scalar_and_never_negative(on: dt.date, rows: list[Any], standard: int) -> None:
    # Even a what-if 低保 standard above the orphan standard cannot make the top-up negative.
    params = default_parameters().with_values({"dibao.standard_fen": standard}, on=on)
    births = [birthday(on, a) for a, _, _ in rows]
    arrays = children.ChildArrays(
        birth_ymd=np.array([ymd(b) for b in births]),
        category=np.array([int(c) for _, c, _ in rows]),
        family=np.array([int(f) for _, _, f in rows]),
    )
    v = children.evaluate_many(arrays, on=on, params=params)
    for i, (_, c, f) in enumerate(rows):
        s = children.evaluate(children.Child(births[i], c, f), on=on, params=params)
        assert (s.eligible, s.amount_fen) == (bool(v.eligible[i]), int(v.amount_fen[i]))
        assert s.amount_fen >= 0


@SETTINGS
@given(dates, st.lists(st.tuples(st.integers(1, 8), st.booleans(), st.integers(0, 5_000_000)), min_size=1, max_size=30))
def test_linshi_vector_equals_scalar(on: dt.date, rows: list[Any]) -> None:
    arrays = linshi.LinshiArrays(
        persons=np.array([p for p, _, _ in rows]),
        exceptional=np.array([e for _, e, _ in rows]),
        requested_fen=np.array([r for _, _, r in rows]),
    )
    v = linshi.evaluate_many(arrays, on=on)
    for i, (p, e, r) in enumerate(rows):
        s = linshi.evaluate(linshi.LinshiRequest(p, e, r), on=on)
        assert (s.eligible, s.amount_fen) == (bool(v.eligible[i]), int(v.amount_fen[i]))
        # The cap grows with the number of persons and never shrinks for exceptional cases.
        assert s.amount_fen > 0
