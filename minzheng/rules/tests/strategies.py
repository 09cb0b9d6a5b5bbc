"""Hypothesis strategies: households, dates around the standard changes, and varied parameter sets."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from minzheng.rules.parameters import ParameterSet, default_parameters
from minzheng.rules.programs.household import RELATION_CODES, Away, Household, Member

# The days a standard changes, and their neighbours, where off-by-one errors live.
CRITICAL_DATES = [
    dt.date(2023, 1, 1), dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2023, 7, 30),
    dt.date(2023, 7, 31), dt.date(2024, 2, 29), dt.date(2025, 1, 22), dt.date(2025, 1, 23),
]

dates = st.one_of(
    st.sampled_from(CRITICAL_DATES),
    st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 12, 31)),
)

# Incomes and assets concentrated near the thresholds (0-3000 元 a month per person).
incomes = st.one_of(
    st.just(0),
    st.integers(min_value=0, max_value=300_000),
    st.sampled_from([121_600, 125_899, 125_900, 125_901, 130_100, 228_000, 228_001, 251_800]),
    st.integers(min_value=0, max_value=5_000_000),
)


def birthday(on: dt.date, age: int) -> dt.date:
    """The date ``age`` years before ``on`` (29 February → 1 March in a common year)."""
    try:
        return on.replace(year=on.year - age)
    except ValueError:
        return dt.date(on.year - age, 3, 1)


@st.composite
def members(draw: st.DrawFn, *, on: dt.date, head: bool) -> Member:
    age = draw(st.integers(min_value=0, max_value=105))
    # Birthdays on, just before and just after the date, and anywhere in the year.
    offset = draw(st.sampled_from([0, 1, -1, 0]) | st.integers(min_value=0, max_value=365))
    birth = min(birthday(on, age) - dt.timedelta(days=offset), on)
    return Member(
        relation="head" if head else draw(st.sampled_from(sorted(RELATION_CODES))),
        birth_date=birth,
        income_fen=draw(incomes),
        student=draw(st.booleans()),
        cannot_live_independently=draw(st.booleans()),
        co_resident=draw(st.booleans()),
        away=draw(st.sampled_from([Away.NONE] * 6 + list(Away))),
        zhejiang_hukou=draw(st.booleans()),
    )


@st.composite
def households(draw: st.DrawFn, *, on: dt.date) -> Household:
    size = draw(st.integers(min_value=1, max_value=6))
    ms = tuple(draw(members(on=on, head=i == 0)) for i in range(size))
    return Household(
        members=ms,
        money_assets_fen=draw(st.one_of(st.integers(0, 2_000_000), st.integers(0, 60_000_000),
                                        st.sampled_from([6_043_199, 6_043_200, 9_064_799, 9_064_800]))),
        vehicles=draw(st.sampled_from([0, 0, 0, 1, 2])),
        vehicle_value_fen=draw(st.integers(0, 10_000_000)),
        housing_ok=draw(st.sampled_from([True, True, True, False])),
        business_capital_fen=draw(st.sampled_from([0, 0, 10_000_000, 10_000_001, 50_000_000])),
    )


@st.composite
def parameter_sets(draw: st.DrawFn, *, on: dt.date) -> ParameterSet:
    """The shipped parameters, sometimes with what-if values for the amounts that drive the rules."""
    base = default_parameters()
    changes: dict[str, int] = {}
    if draw(st.booleans()):
        changes["dibao.standard_fen"] = draw(st.integers(50_000, 300_000))
    if draw(st.booleans()):
        changes["minimum_wage.monthly_fen"] = draw(st.integers(100_000, 500_000))
    if draw(st.booleans()):
        changes["dibian.income_limit_percent"] = draw(st.integers(100, 300))
    if draw(st.booleans()):
        changes["dibian.cash_topup_fen"] = draw(st.integers(0, 20_000))
    if draw(st.booleans()):
        changes["dibian.vehicle_value_cap_fen"] = draw(st.integers(0, 10_000_000))
    return base.with_values(changes, on=on) if changes else base
