"""低边 (最低生活保障边缘家庭): a status for households just above 低保, with an optional cash top-up.

Rules (business_rules.md §1.2):

- ``dibian.income``: per-capita income ≤ min(``dibian.income_limit_percent`` × 低保 standard, monthly
  minimum wage) [S8 §13 caps any widening at the minimum wage; Hangzhou uses 2× since 2022, S12].
  Exact: ``income_total ≤ limit × members``; the limit itself floors to the fen (integer percent).
- ``dibian.money_assets``: per-capita money assets below ``dibian.money_assets_limit_months`` monthly
  standards (6 × annual) [S5].
- ``dibian.vehicles``: none, or one vehicle worth less than ``dibian.vehicle_value_cap_fen`` (0 until
  余杭 confirms a cap: business_rules §10).
- ``dibian.housing``: the caller's finding [S5].
- ``dibian.not_dibao``: a household that qualifies for 低保 gets 低保, not 低边 (the two are exclusive).
- ``dibian.amount``: ``dibian.cash_topup_fen`` × members, default 0 (no cash unless configured).
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
from minzheng.rules.programs import dibao
from minzheng.rules.programs.household import Household, HouseholdTotals, compose, compose_many

PROGRAM = "dibian"
Int = NDArray[np.integer[Any]]
Bool = NDArray[np.bool_]


@dataclass(frozen=True)
class DibianParams:
    dibao: dibao.DibaoParams
    income_percent: Resolved
    minimum_wage: Resolved
    assets_months: Resolved
    vehicle_cap: Resolved
    topup: Resolved

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> DibianParams:
        def r(name: str) -> Resolved:
            return params.resolve(name, on=on, region=region)

        return cls(
            dibao=dibao.DibaoParams.resolve(params, on, region),
            income_percent=r("dibian.income_limit_percent"),
            minimum_wage=r("minimum_wage.monthly_fen"),
            assets_months=r("dibian.money_assets_limit_months"),
            vehicle_cap=r("dibian.vehicle_value_cap_fen"),
            topup=r("dibian.cash_topup_fen"),
        )

    @property
    def multiplied_standard_fen(self) -> int:
        # Integer percent, floored to the fen: 2 × 1259.00 = 2518.00 exactly.
        return self.dibao.standard.value * self.income_percent.value // 100

    @property
    def income_limit_fen(self) -> int:
        return min(self.multiplied_standard_fen, self.minimum_wage.value)

    def all(self) -> tuple[Resolved, ...]:
        return (*self.dibao.all(), self.income_percent, self.minimum_wage, self.assets_months, self.vehicle_cap, self.topup)


@dataclass(frozen=True)
class DibianOutcome:
    income_ok: Bool
    assets_ok: Bool
    vehicles_ok: Bool
    housing_ok: Bool
    dibao_eligible: Bool
    eligible: Bool
    amount_fen: IntArray


def kernel(
    p: DibianParams,
    members: Int,
    income_total_fen: Int,
    money_assets_fen: Int,
    vehicles: Int,
    vehicle_value_fen: Int,
    housing_ok: Bool,
    dibao_eligible: Bool,
) -> DibianOutcome:
    members = members.astype(np.int64, copy=False)
    standard = np.int64(p.dibao.standard.value)
    income_ok = (members > 0) & (income_total_fen <= np.int64(p.income_limit_fen) * members)
    assets_ok = money_assets_fen < np.int64(p.assets_months.value) * standard * members
    vehicles_ok = (vehicles == 0) | ((vehicles == 1) & (vehicle_value_fen < np.int64(p.vehicle_cap.value)))
    eligible = income_ok & assets_ok & vehicles_ok & housing_ok & ~dibao_eligible
    amount = np.where(eligible, np.int64(p.topup.value) * members, np.int64(0))
    return DibianOutcome(
        income_ok, assets_ok, vehicles_ok, np.asarray(housing_ok, dtype=np.bool_), dibao_eligible, eligible,
        amount.astype(np.int64),
    )


def evaluate(
    household: Household, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> Decision:
    p = DibianParams.resolve(params_or_default(params), on, region)
    comp = compose(household, on=on)
    members = np.asarray(comp.counted, dtype=np.int64)
    income = np.asarray(comp.income_total_fen, dtype=np.int64)
    assets = np.asarray(household.money_assets_fen, dtype=np.int64)
    vehicles = np.asarray(household.vehicles, dtype=np.int64)
    housing = np.asarray(household.housing_ok, dtype=np.bool_)
    d = dibao.kernel(p.dibao, members, income, assets, vehicles, housing,
                     np.asarray(household.business_capital_fen, dtype=np.int64))
    out = kernel(p, members, income, assets, vehicles, np.asarray(household.vehicle_value_fen, dtype=np.int64),
                 housing, d.eligible)

    n = comp.counted
    total = comp.income_total_fen
    t = Trace()
    t.steps.append(comp.step)
    limit = p.income_limit_fen
    if n == 0:
        t.add("dibian.income", False, "没有计入的共同生活家庭成员,不能按户认定低边", inputs={"members": 0})
    else:
        ok = bool(out.income_ok)
        t.add(
            "dibian.income",
            ok,
            f"家庭人均月收入 {fen_to_yuan(total // n)} 元(按分向下取整){'不高于' if ok else '高于'}低边收入线 "
            f"{fen_to_yuan(limit)} 元 = min({p.income_percent.value}% × 低保标准 {fen_to_yuan(p.dibao.standard.value)} 元"
            f" = {fen_to_yuan(p.multiplied_standard_fen)} 元, 最低工资 {fen_to_yuan(p.minimum_wage.value)} 元):"
            f"{fen_to_yuan(total)} {'≤' if ok else '>'} {fen_to_yuan(limit)} × {n} = {fen_to_yuan(limit * n)}",
            params=[p.income_percent, p.dibao.standard, p.minimum_wage],
            inputs={"members": n, "income_total_fen": total},
            values={
                "multiplied_standard_fen": p.multiplied_standard_fen,
                "income_limit_fen": limit,
                "capped_by_minimum_wage": p.minimum_wage.value < p.multiplied_standard_fen,
            },
        )
    asset_limit = p.assets_months.value * p.dibao.standard.value * n
    ok = bool(out.assets_ok)
    t.add(
        "dibian.money_assets",
        ok,
        f"家庭货币财产 {fen_to_yuan(household.money_assets_fen)} 元{'低于' if ok else '不低于'}上限 "
        f"{p.assets_months.value} 个月 × 低保标准 {fen_to_yuan(p.dibao.standard.value)} 元 × {n} 人 = "
        f"{fen_to_yuan(asset_limit)} 元({p.assets_months.display_zh()})",
        params=[p.assets_months, p.dibao.standard],
        inputs={"money_assets_fen": household.money_assets_fen},
        values={"limit_fen": asset_limit},
    )
    ok = bool(out.vehicles_ok)
    t.add(
        "dibian.vehicles",
        ok,
        (f"非豁免机动车 {household.vehicles} 辆,总价值 {fen_to_yuan(household.vehicle_value_fen)} 元;"
         f"允许无车或一辆价值低于 {p.vehicle_cap.display_zh()} 的车:{'符合' if ok else '不符合'}"),
        params=[p.vehicle_cap],
        inputs={"vehicles": household.vehicles, "vehicle_value_fen": household.vehicle_value_fen},
    )
    ok = bool(out.housing_ok)
    t.add("dibian.housing", ok, "住房情况符合条件" if ok else "住房超过规定,不符合低边条件",
          inputs={"housing_ok": household.housing_ok})
    is_dibao = bool(d.eligible)
    t.add(
        "dibian.not_dibao",
        not is_dibao,
        "家庭符合低保条件,按低保救助,不另认定低边" if is_dibao else "家庭不符合低保条件,可认定低边",
        values={"dibao_eligible": is_dibao},
    )
    amount = int(out.amount_fen)
    if bool(out.eligible):
        t.add(
            "dibian.amount",
            None,
            f"认定为低边家庭;现金补助 {fen_to_yuan(p.topup.value)} 元 × {n} 人 = {fen_to_yuan(amount)} 元"
            f"({p.topup.display_zh()})",
            params=[p.topup],
            values={"amount_fen": amount},
        )
    else:
        t.add("dibian.amount", None, "不认定为低边家庭,现金补助 0 元", values={"amount_fen": 0})
    return Decision(PROGRAM, bool(out.eligible), amount, on, region, tuple(t.steps))


def evaluate_many(
    population: Population,
    *,
    on: dt.date,
    region: str = YUHANG,
    params: ParameterSet | None = None,
    totals: HouseholdTotals | None = None,
    dibao_outcome: dibao.DibaoOutcome | None = None,
) -> VectorResult:
    """低边 for every household; pass ``totals`` / ``dibao_outcome`` to reuse a 低保 run on the same date."""
    p = DibianParams.resolve(params_or_default(params), on, region)
    out = many(population, p, on=on, totals=totals, dibao_outcome=dibao_outcome)
    return VectorResult(PROGRAM, out.eligible, out.amount_fen, on, region, p.all())


def many(
    population: Population,
    p: DibianParams,
    *,
    on: dt.date,
    totals: HouseholdTotals | None = None,
    dibao_outcome: dibao.DibaoOutcome | None = None,
) -> DibianOutcome:
    totals = totals if totals is not None else compose_many(population, on=on)
    d = dibao_outcome if dibao_outcome is not None else dibao.many(population, p.dibao, on=on, totals=totals)
    h = population.households
    return kernel(
        p, totals.members, totals.income_total_fen, h.money_assets_fen, h.vehicles, h.vehicle_value_fen,
        h.housing_ok, d.eligible,
    )
