"""What-if over the whole district: 低保, 低边 and 高龄津贴 with minzheng.rules vs OpenFisca.

    .venv/bin/python bench/assistance_whatif.py [--seed 1] [--scale 1.0] [--month 2024-06]
                                                [--standard-fen 140000] [--repeat 5]

Builds a synthetic Yuhang (≈ 1.3 M people in ≈ 450 k households, 12 townships) as numpy arrays from a
seed (no database), then runs the same what-if twice in the same process:

- ours: ``minzheng.rules.whatif.whatif(population, base, changed, on=first day of the month)``;
- anchor: the OpenFisca country package in bench/openfisca_yuhang (same rules, parameters mirrored in
  OpenFisca YAML), one simulation for the base system and one for a reform with the changed standard,
  built with SimulationBuilder from the same arrays, then the same per-township aggregation.

Both must agree on every household's and person's eligibility and amount (to the fen), and so on
every per-township figure. Timings are medians over ``--repeat`` runs; parameter loading (ours: YAML
→ ParameterSet; OpenFisca: TaxBenefitSystem) happens once, outside the timings, and is reported apart.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openfisca_core.simulations import SimulationBuilder
from openfisca_yuhang import YuhangTaxBenefitSystem, with_parameter_values
from openfisca_yuhang import variables as ofv

from minzheng.rules.engine import VectorResult, ymd
from minzheng.rules.parameters import ParameterSet, load_parameters
from minzheng.rules.population import HouseholdArrays, PersonArrays, Population
from minzheng.rules.programs.household import RELATION_CODES, HouseholdTotals
from minzheng.rules.whatif import Scenario, ScenarioArrays, summarise, whatif

# Townships (NBS 2023 codes) with rough resident weights (thousands): populous 街道 in the south-east,
# small mountain 镇 in the north-west.
TOWNSHIPS = {
    "330110005000": 165,  # 五常街道
    "330110009000": 95,  # 仁和街道
    "330110010000": 190,  # 良渚街道
    "330110011000": 150,  # 闲林街道
    "330110012000": 160,  # 仓前街道
    "330110013000": 135,  # 余杭街道
    "330110014000": 60,  # 中泰街道
    "330110109000": 60,  # 径山镇
    "330110110000": 110,  # 瓶窑镇
    "330110111000": 15,  # 鸬鸟镇
    "330110112000": 15,  # 百丈镇
    "330110113000": 30,  # 黄湖镇
}
INT32_MAX = np.iinfo(np.int32).max
HOUSEHOLDS_AT_SCALE_1 = 450_000
# Calibration knobs, set by hand for seed 1 at scale 1 to land near the district's figures: ≈ 18 700
# Zhejiang-hukou residents aged 80+ (the 2023 高龄津贴 count) and a few thousand 低保 / 低边 households.
K = {
    "elderly_head_share": 0.13,  # households headed by someone 60+ (alone or as a couple)
    "elderly_age_scale": 6.3,  # their head's age is 60 + exponential(scale) years
    "parent_share": 0.04,  # co-resident parents among the 3rd+ members
    "resident_pension_share": 0.15,  # 60+ on the small 城乡居民 pension (250-700 元)
    "no_work_share": 0.04,  # working-age adults without income
    "wage_sigma": 0.45,  # log-normal wage spread around a 7000 元 median, floored at the minimum wage
    "poor_assets_median": 200_000,  # 元: money assets of households under 1300 元 a head
    "assets_median": 500_000,  # 元: of the others
    "old_local_share": 0.9,  # Zhejiang hukou among residents aged 75+
}


# ------------------------------------------------------------------------------------- population

def build_population(seed: int, scale: float, on: dt.date) -> Population:
    """A deterministic synthetic district. Calibrated (by hand, for seed 1) so that a few thousand
    households are 低保 and 低边 and about 18 700 Zhejiang-hukou residents are 80 or older."""
    rng = np.random.default_rng(seed)
    n_h = int(HOUSEHOLDS_AT_SCALE_1 * scale)

    weights = np.array(list(TOWNSHIPS.values()), dtype=np.float64)
    township = rng.choice(len(TOWNSHIPS), size=n_h, p=weights / weights.sum()).astype(np.int64)
    size = rng.choice(np.arange(1, 7), size=n_h, p=[0.16, 0.26, 0.24, 0.17, 0.10, 0.07])

    # Heads: mostly working age, with an elderly share (older heads live alone or as couples).
    elderly_head = rng.random(n_h) < K["elderly_head_share"]
    head_age = np.where(
        elderly_head,
        np.minimum(60 + rng.exponential(K["elderly_age_scale"], n_h).astype(np.int64), 104),
        np.clip(rng.normal(44, 12, n_h), 18, 85).astype(np.int64),
    )
    size = np.where(elderly_head, np.minimum(size, 2), size)
    local_household = rng.random(n_h) < np.where(head_age >= 60, 0.92, 0.50)

    n_p = int(size.sum())
    household = np.repeat(np.arange(n_h, dtype=np.int64), size)
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    position = np.arange(n_p) - np.repeat(starts, size)
    h_age = head_age[household]

    r = RELATION_CODES
    u = rng.random(n_p)
    second = np.select([u < 0.88, u < 0.93, u < 0.97], [r["spouse"], r["parent"], r["child"]], default=r["sibling"])
    later = np.select(
        [u < 0.74, u < 0.74 + K["parent_share"], u < 0.92, u < 0.93, u < 0.97],
        [r["child"], r["parent"], r["grandchild"], r["grandparent"], r["sibling"]],
        default=r["other"],
    )
    relation = np.where(position == 0, r["head"], np.where(position == 1, second, later)).astype(np.int8)
    age = np.select(
        [
            relation == r["head"],
            relation == r["spouse"],
            relation == r["child"],
            relation == r["parent"],
            relation == r["grandchild"],
            relation == r["grandparent"],
            relation == r["sibling"],
        ],
        [
            h_age,
            h_age + rng.normal(0, 3, n_p).astype(np.int64),
            h_age - rng.integers(22, 37, n_p),
            h_age + rng.integers(22, 35, n_p),
            h_age - rng.integers(45, 62, n_p),
            h_age + rng.integers(45, 56, n_p),
            h_age + rng.normal(0, 5, n_p).astype(np.int64),
        ],
        default=rng.integers(18, 70, n_p),
    )
    age = np.clip(age, 0, 104)
    # A random day in the year before the last birthday: birth = on − age years − d days.
    days = rng.integers(0, 365, n_p)
    birth = np.datetime64(on.isoformat()) - (age * 36525 // 100 + days).astype("timedelta64[D]")
    years = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    months = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    birth_ymd = (years * 10000 + months * 100 + mday).astype(np.int64)
    exact_age = (ymd(on) - birth_ymd) // 10000

    dependant = (relation == r["child"]) | (relation == r["grandchild"]) | (relation == r["sibling"])
    student = dependant & (exact_age >= 16) & (exact_age <= 24) & (rng.random(n_p) < 0.45)
    cannot = (exact_age >= 18) & (rng.random(n_p) < 0.008)
    co_resident = (relation <= r["spouse"]) | (rng.random(n_p) < 0.90)
    v = rng.random(n_p)
    away = np.select([v < 0.0015, v < 0.0017, v < 0.0018], [2, 1, 3], default=0).astype(np.int8)
    hukou = np.where(rng.random(n_p) < 0.95, local_household[household], ~local_household[household])
    # The very old are nearly all locals (older migrants rarely move their hukou, and few come).
    hukou = np.where(exact_age >= 75, rng.random(n_p) < K["old_local_share"], hukou)

    # Monthly income in fen: nothing for children and students; wages for working age (some without
    # work); pensions for 60+, a third of them the small 城乡居民 pension.
    # Full-time wages are at least the minimum wage (2280 元).
    wage = np.maximum(rng.lognormal(np.log(7_000), K["wage_sigma"], n_p) * 100, 228_000).astype(np.int64)
    resident_pension = rng.integers(25_000, 70_000, n_p)
    employee_pension = (rng.lognormal(np.log(3_800), 0.35, n_p) * 100).astype(np.int64)
    income = np.select(
        [
            (exact_age < 16) | student,
            cannot,
            exact_age >= 60,
            rng.random(n_p) < K["no_work_share"],
        ],
        [0, rng.integers(0, 40_000, n_p),
         np.where(rng.random(n_p) < K["resident_pension_share"], resident_pension, employee_pension), 0],
        default=wage,
    ).astype(np.int64)
    income = np.minimum(income, INT32_MAX // 8)  # OpenFisca int32: household sums stay in range

    # Money assets: log-normal, lower in low-income households; vehicles likelier with income.
    per_capita = np.bincount(household, weights=income, minlength=n_h) / size  # calibration only, not money logic
    poor = per_capita < 130_000
    median = np.where(poor, K["poor_assets_median"], K["assets_median"])
    assets = (rng.lognormal(np.log(median), 1.1, n_h) * 100).astype(np.int64)
    assets = np.minimum(assets, 2_000_000_000)  # ≤ 2 000 万元 so OpenFisca's int32 holds it
    car = rng.random(n_h) < np.where(poor, 0.10, 0.55)
    vehicles = np.where(car, np.where(rng.random(n_h) < 0.8, 1, 2), 0).astype(np.int64)
    vehicle_value = np.where(car, (rng.lognormal(np.log(120_000), 0.5, n_h) * 100).astype(np.int64) * vehicles, 0)
    vehicle_value = np.minimum(vehicle_value, 2_000_000_000)
    housing_ok = rng.random(n_h) < 0.96
    capital = np.where(rng.random(n_h) < 0.05, (rng.lognormal(np.log(300_000), 1.0, n_h) * 100).astype(np.int64), 0)
    capital = np.minimum(capital, 2_000_000_000)

    return Population(
        persons=PersonArrays(
            household=household, birth_ymd=birth_ymd, relation=relation, student=student,
            cannot_live_independently=cannot, co_resident=co_resident, away=away,
            zhejiang_hukou=hukou, income_fen=income,
        ),
        households=HouseholdArrays(
            township=township, money_assets_fen=assets, vehicles=vehicles, vehicle_value_fen=vehicle_value,
            housing_ok=housing_ok, business_capital_fen=capital,
        ),
        township_codes=tuple(TOWNSHIPS),
    ).validate()


# -------------------------------------------------------------------------------------- OpenFisca

PERSON_INPUTS = {
    "birth_ymd": "birth_ymd", "relation": "relation", "student": "student",
    "cannot_live_independently": "cannot_live_independently", "co_resident": "co_resident", "away": "away",
    "zhejiang_hukou": "zhejiang_hukou", "income": "income_fen",
}
HOUSEHOLD_INPUTS = {
    "money_assets": "money_assets_fen", "vehicles": "vehicles", "vehicle_value": "vehicle_value_fen",
    "housing_ok": "housing_ok", "business_capital": "business_capital_fen",
}


def check_int32(pop: Population) -> None:
    """OpenFisca ``int`` variables are int32: refuse a population whose money would not fit."""
    for group, names in ((pop.persons, PERSON_INPUTS.values()), (pop.households, HOUSEHOLD_INPUTS.values())):
        for name in names:
            arr = getattr(group, name)
            if arr.dtype != np.bool_ and arr.max(initial=0) > INT32_MAX:
                raise SystemExit(f"{name} exceeds int32: OpenFisca would overflow")
    # Household income sums and the largest products in the formulas are widened to int64 there.


def openfisca_scenario(system: Any, pop: Population, period: str) -> tuple[ScenarioArrays, float, float]:
    t0 = time.perf_counter()
    builder = SimulationBuilder()
    builder.create_entities(system)
    n_p, n_h = len(pop.persons), len(pop.households)
    builder.declare_person_entity("person", np.arange(n_p))
    households = builder.declare_entity("household", np.arange(n_h))
    builder.join_with_persons(households, pop.persons.household, np.zeros(n_p, dtype=np.int64))
    sim = builder.build(system)
    for var, name in PERSON_INPUTS.items():
        sim.set_input(var, "eternity" if var == "birth_ymd" else period, getattr(pop.persons, name))
    for var, name in HOUSEHOLD_INPUTS.items():
        sim.set_input(var, period, getattr(pop.households, name))
    t1 = time.perf_counter()
    members = sim.calculate("household_members", period).astype(np.int64)
    income = sim.calculate("household_income", period).astype(np.int64)
    d_ok = sim.calculate("dibao_eligible", period)
    d_amt = sim.calculate("dibao_amount", period).astype(np.int64)
    b_ok = sim.calculate("dibian_eligible", period)
    b_amt = sim.calculate("dibian_amount", period).astype(np.int64)
    lon = sim.calculate("longevity_allowance", period).astype(np.int64)
    t2 = time.perf_counter()
    on = dt.date.fromisoformat(period + "-01")
    arrays = ScenarioArrays(
        totals=HouseholdTotals(members=members, income_total_fen=income, status=np.zeros(0, dtype=np.int8),
                               age=np.zeros(0, dtype=np.int64)),
        dibao=VectorResult("dibao", d_ok, d_amt, on, "330110", ()),
        dibian=VectorResult("dibian", b_ok, b_amt, on, "330110", ()),
        longevity=VectorResult("longevity", lon > 0, lon, on, "330110", ()),
    )
    return arrays, t1 - t0, t2 - t1


def run_openfisca(base_sys: Any, changed_sys: Any, pop: Population, period: str) -> tuple[list[Scenario], float, float]:
    scenarios, build, calc = [], 0.0, 0.0
    for system in (base_sys, changed_sys):
        arrays, b, c = openfisca_scenario(system, pop, period)
        t = time.perf_counter()
        scenarios.append(summarise(pop, arrays))  # the same aggregation code as ours
        calc += c + time.perf_counter() - t
        build += b
    return scenarios, build, calc


# ------------------------------------------------------------------------------------------ compare

def same(a: NDArray[Any], b: NDArray[Any]) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def compare(ours: Scenario, theirs: Scenario) -> list[str]:
    diffs = []
    for prog in ("dibao", "dibian", "longevity"):
        mine, other = getattr(ours.arrays, prog), getattr(theirs.arrays, prog)
        if not same(mine.eligible, other.eligible):
            diffs.append(f"{prog}.eligible: {int(np.count_nonzero(mine.eligible != other.eligible))} rows differ")
        if not same(mine.amount_fen, other.amount_fen):
            diffs.append(f"{prog}.amount_fen: {int(np.count_nonzero(mine.amount_fen != other.amount_fen))} rows differ")
    if not same(ours.arrays.totals.members, theirs.arrays.totals.members):
        diffs.append("household members differ")
    if ours.townships != theirs.townships or ours.district != theirs.district:
        diffs.append("per-township figures differ")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--month", default="2024-06", help="YYYY-MM; rules evaluated on its first day")
    ap.add_argument("--standard-fen", type=int, default=140_000, help="what-if 低保 standard (fen/person/month)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    on = dt.date.fromisoformat(args.month + "-01")

    t = time.perf_counter()
    pop = build_population(args.seed, args.scale, on)
    build_population_s = time.perf_counter() - t
    check_int32(pop)
    anchor_codes = {"head": ofv.HEAD, "spouse": ofv.SPOUSE, "child": ofv.CHILD, "parent": ofv.PARENT,
                    "grandchild": ofv.GRANDCHILD, "grandparent": ofv.GRANDPARENT, "sibling": ofv.SIBLING,
                    "other": ofv.OTHER}
    if anchor_codes != RELATION_CODES:
        raise SystemExit("the OpenFisca model's relation codes differ from minzheng.rules'")

    t = time.perf_counter()
    base: ParameterSet = load_parameters()
    ours_load_s = time.perf_counter() - t
    change = {"dibao.standard_fen": args.standard_fen}
    changed = base.with_values(change, on=on)
    new_version = changed.resolve("dibao.standard_fen", on=on).version

    t = time.perf_counter()
    of_base = YuhangTaxBenefitSystem()
    of_changed = with_parameter_values(
        of_base, {"dibao.standard": args.standard_fen}, start=new_version.effective_from, stop=new_version.effective_to
    )
    of_changed.get_parameters_at_instant(args.month + "-01")  # force the reform's parameter build now
    openfisca_load_s = time.perf_counter() - t

    ours_times, of_times, of_build, of_calc = [], [], [], []
    result = None
    identical = True
    problems: list[str] = []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        result = whatif(pop, base, changed, on=on)
        ours_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        of_scenarios, b, c = run_openfisca(of_base, of_changed, pop, args.month)
        of_times.append(time.perf_counter() - t)
        of_build.append(b)
        of_calc.append(c)
        for mine, theirs in ((result.base, of_scenarios[0]), (result.changed, of_scenarios[1])):
            found = compare(mine, theirs)
            problems += found
            identical = identical and not found
    if result is None:
        raise SystemExit("no run")

    ours_s = statistics.median(ours_times)
    of_s = statistics.median(of_times)
    ages = (ymd(on) - pop.persons.birth_ymd) // 10000
    d, c = result.base.district, result.changed.district
    out = {
        "bench": "assistance_whatif",
        "seed": args.seed,
        "scale": args.scale,
        "month": args.month,
        "people": len(pop.persons),
        "households": len(pop.households),
        "townships": len(pop.township_codes),
        "repeat": args.repeat,
        "ours_s": round(ours_s, 4),
        "openfisca_s": round(of_s, 4),
        "openfisca_build_s": round(statistics.median(of_build), 4),
        "openfisca_calc_s": round(statistics.median(of_calc), 4),
        "ratio": round(ours_s / of_s, 4),
        "speedup": round(of_s / ours_s, 2),
        "identical": identical,
        "differences": problems[:10],
        "dibao_households": d.dibao_households,
        "dibao_persons": d.dibao_persons,
        "dibao_monthly_fen": d.dibao_monthly_fen,
        "dibian_households": d.dibian_households,
        "dibian_persons": d.dibian_persons,
        "dibian_monthly_fen": d.dibian_monthly_fen,
        "longevity_persons": d.longevity_persons,
        "longevity_monthly_fen": d.longevity_monthly_fen,
        "aged_80_plus": int(np.count_nonzero(ages >= 80)),
        "whatif": change,
        "whatif_dibao_households": c.dibao_households,
        "whatif_dibao_monthly_fen": c.dibao_monthly_fen,
        "whatif_dibian_households": c.dibian_households,
        "whatif_delta_monthly_fen": c.total_monthly_fen - d.total_monthly_fen,
        "build_population_s": round(build_population_s, 3),
        "ours_param_load_s": round(ours_load_s, 4),
        "openfisca_system_load_s": round(openfisca_load_s, 4),
        "money": "int64 fen (ours); OpenFisca value_type=int (int32) with inputs checked < 2^31, "
                 "formulas widened to int64, household sums via float64 bincount (exact < 2^53); no float32",
    }
    print(json.dumps(out, ensure_ascii=False))
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
