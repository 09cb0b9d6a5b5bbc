"""低保 (最低生活保障): eligibility and the monthly 差额 amount.

Rules (business_rules.md §1.2-1.3):

- ``dibao.income``: per-capita monthly income of the counted household members **below** the standard
  [S8 §9]. Compared exactly as ``income_total < standard × members`` (no division, no rounding).
- ``dibao.money_assets``: per-capita money assets below ``dibao.money_assets_limit_months`` monthly
  standards (4 × annual) [S11; Hangzhou value assumed], compared as ``assets < months × standard × members``.
- ``dibao.vehicles``: no non-exempt vehicle [S11]. ``dibao.housing``: the caller's finding on the
  housing rule [S11]. ``dibao.business_capital``: subscribed capital ≤ 10 万元 [S11].
- ``dibao.amount``: ``(standard − per-capita income) × members`` [S8 §12], where per-capita income is
  **floored to the fen** (``income_total // members``). The floor is in the household's favour by at
  most ``members − 1`` fen in total, and it keeps the amount a whole number of fen per member as the
  statute's per-person formula implies. Zero when not eligible; never negative, since eligibility
  implies ``per-capita < standard``.

High-age allowance (高龄津贴) is not household income [S36]: callers leave it out of ``income_fen``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.rules.engine import (
    YUHANG,
    Decision,
    IntArray,
    Trace,
    VectorResult,
    fen_to_yuan,
    params_or_default,
)
from minzheng.rules.parameters import ParameterSet, Resolved
from minzheng.rules.population import Population
from minzheng.rules.programs.household import Household, HouseholdTotals, compose, compose_many

PROGRAM = "dibao"
Int = NDArray[np.integer[Any]]
Bool = NDArray[np.bool_]


@dataclass(frozen=True)
class DibaoParams:
    standard: Resolved
    assets_months: Resolved
    capital_limit: Resolved

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> DibaoParams:
        return cls(
            standard=params.resolve("dibao.standard_fen", on=on, region=region),
            assets_months=params.resolve("dibao.money_assets_limit_months", on=on, region=region),
            capital_limit=params.resolve("dibao.business_capital_limit_fen", on=on, region=region),
        )

    def all(self) -> tuple[Resolved, ...]:
        return (self.standard, self.assets_months, self.capital_limit)


@dataclass(frozen=True)
class DibaoOutcome:
    income_ok: Bool
    assets_ok: Bool
    vehicles_ok: Bool
    housing_ok: Bool
    capital_ok: Bool
    eligible: Bool
    per_capita_income_fen: IntArray
    amount_fen: IntArray


def kernel(
    p: DibaoParams,
    members: Int,
    income_total_fen: Int,
    money_assets_fen: Int,
    vehicles: Int,
    housing_ok: Bool,
    business_capital_fen: Int,
) -> DibaoOutcome:
    """The 低保 rules, element-wise over numpy arrays (0-d arrays for one household)."""
    standard = np.int64(p.standard.value)
    members = members.astype(np.int64, copy=False)
    income_ok = (members > 0) & (income_total_fen < standard * members)
    assets_ok = money_assets_fen < np.int64(p.assets_months.value) * standard * members
    vehicles_ok = vehicles == 0
    capital_ok = business_capital_fen <= np.int64(p.capital_limit.value)
    eligible = income_ok & assets_ok & vehicles_ok & housing_ok & capital_ok
    per_capita = income_total_fen // np.maximum(members, 1)
    amount = np.where(eligible, (standard - per_capita) * members, np.int64(0))
    return DibaoOutcome(
        income_ok, assets_ok, vehicles_ok, np.asarray(housing_ok, dtype=np.bool_), capital_ok, eligible,
        per_capita.astype(np.int64), amount.astype(np.int64),
    )


def evaluate(
    household: Household, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> Decision:
    """One household's 低保 decision with its trace."""
    p = DibaoParams.resolve(params_or_default(params), on, region)
    comp = compose(household, on=on)
    out = kernel(
        p,
        np.asarray(comp.counted, dtype=np.int64),
        np.asarray(comp.income_total_fen, dtype=np.int64),
        np.asarray(household.money_assets_fen, dtype=np.int64),
        np.asarray(household.vehicles, dtype=np.int64),
        np.asarray(household.housing_ok, dtype=np.bool_),
        np.asarray(household.business_capital_fen, dtype=np.int64),
    )
    trace = Trace()
    trace.steps.append(comp.step)
    trace.extend(explain(p, out, comp.counted, comp.income_total_fen, household).steps)
    return Decision(PROGRAM, bool(out.eligible), int(out.amount_fen), on, region, tuple(trace.steps))


def explain(p: DibaoParams, out: DibaoOutcome, members: int, income_total: int, household: Household) -> Trace:
    """The Chinese explanation of a scalar outcome (shared with 低边, which cites the 低保 test)."""
    t = Trace()
    std = p.standard.value
    per_capita = int(out.per_capita_income_fen)
    if members == 0:
        t.add("dibao.income", False, "没有计入的共同生活家庭成员,不能按户认定低保", params=[p.standard],
              inputs={"members": 0})
    else:
        below = bool(out.income_ok)
        t.add(
            "dibao.income",
            below,
            f"家庭人均月收入 {fen_to_yuan(per_capita)} 元(合计 {fen_to_yuan(income_total)} 元 ÷ {members} 人,按分向下取整)"
            f"{'低于' if below else '不低于'} 低保标准 {p.standard.display_zh()}:"
            f"{fen_to_yuan(income_total)} {'<' if below else '≥'} {fen_to_yuan(std)} × {members} = {fen_to_yuan(std * members)}",
            params=[p.standard],
            inputs={"members": members, "income_total_fen": income_total},
            values={"per_capita_income_fen": per_capita, "threshold_total_fen": std * members},
        )
    limit = p.assets_months.value * std * members
    ok = bool(out.assets_ok)
    t.add(
        "dibao.money_assets",
        ok,
        f"家庭货币财产 {fen_to_yuan(household.money_assets_fen)} 元{'低于' if ok else '不低于'}上限 "
        f"{p.assets_months.value} 个月 × 低保标准 {fen_to_yuan(std)} 元 × {members} 人 = {fen_to_yuan(limit)} 元"
        f"(人均不超过年低保标准 {p.assets_months.value // 12} 倍;{p.assets_months.display_zh()})",
        params=[p.assets_months, p.standard],
        inputs={"money_assets_fen": household.money_assets_fen},
        values={"limit_fen": limit},
    )
    ok = bool(out.vehicles_ok)
    t.add(
        "dibao.vehicles",
        ok,
        "无机动车(普通两轮摩托车、残疾人功能性补偿代步机动车除外)"
        if ok else f"有 {household.vehicles} 辆非豁免机动车,不符合低保财产条件",
        inputs={"vehicles": household.vehicles},
    )
    ok = bool(out.housing_ok)
    t.add(
        "dibao.housing",
        ok,
        "住房情况符合条件" if ok else "住房超过规定(两套以上或人均面积超标,或有非居住类房产)",
        inputs={"housing_ok": household.housing_ok},
    )
    ok = bool(out.capital_ok)
    t.add(
        "dibao.business_capital",
        ok,
        f"认缴企业注册资本合计 {fen_to_yuan(household.business_capital_fen)} 元"
        f"{'不超过' if ok else '超过'}上限 {p.capital_limit.display_zh()}",
        params=[p.capital_limit],
        inputs={"business_capital_fen": household.business_capital_fen},
    )
    amount = int(out.amount_fen)
    if bool(out.eligible):
        gap = std - per_capita
        t.add(
            "dibao.amount",
            None,
            f"家庭人均月收入 {fen_to_yuan(per_capita)} 元 低于 低保标准 {fen_to_yuan(std)} 元"
            f"({p.standard.provenance_zh}),"
            f"月补差 {fen_to_yuan(gap)} 元 × {members} 人 = {fen_to_yuan(amount)} 元",
            params=[p.standard],
            values={"gap_per_person_fen": gap, "amount_fen": amount},
        )
    else:
        t.add("dibao.amount", None, "不符合低保条件,月补差 0 元", values={"amount_fen": 0})
    return t


def evaluate_many(
    population: Population,
    *,
    on: dt.date,
    region: str = YUHANG,
    params: ParameterSet | None = None,
    totals: HouseholdTotals | None = None,
) -> VectorResult:
    """低保 for every household of ``population`` at once (``totals`` may be shared with 低边)."""
    p = DibaoParams.resolve(params_or_default(params), on, region)
    out = many(population, p, on=on, totals=totals)
    return VectorResult(PROGRAM, out.eligible, out.amount_fen, on, region, p.all())


def many(population: Population, p: DibaoParams, *, on: dt.date, totals: HouseholdTotals | None = None) -> DibaoOutcome:
    totals = totals if totals is not None else compose_many(population, on=on)
    h = population.households
    return kernel(
        p, totals.members, totals.income_total_fen, h.money_assets_fen, h.vehicles, h.housing_ok, h.business_capital_fen
    )
