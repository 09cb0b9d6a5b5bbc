"""What-if: 低保, 低边 and 高龄津贴 for a whole population under two parameter sets, per township.

``whatif(population, base_params, changed_params, on=date)`` runs the vectorised programs twice
(same population, same date) and returns per-township beneficiaries and monthly cost for each, so a
screen can show "raising the 低保 standard to 1400 元 adds N households and M 元 a month in 良渚".
``changed_params`` is a :class:`ParameterSet` or a mapping ``{parameter name: new value}`` that takes
effect on ``on`` (see :meth:`ParameterSet.with_values`). Pure: no Django, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from minzheng.rules.engine import YUHANG, VectorResult
from minzheng.rules.parameters import ParameterSet, Resolved
from minzheng.rules.population import Population, sum_by_group
from minzheng.rules.programs import dibao, dibian, longevity
from minzheng.rules.programs.household import HouseholdTotals, compose_many

DISTRICT_ROW = "total"


@dataclass(frozen=True)
class TownshipFigures:
    township: str
    dibao_households: int
    dibao_persons: int
    dibao_monthly_fen: int
    dibian_households: int
    dibian_persons: int
    dibian_monthly_fen: int
    longevity_persons: int
    longevity_monthly_fen: int

    @property
    def total_monthly_fen(self) -> int:
        return self.dibao_monthly_fen + self.dibian_monthly_fen + self.longevity_monthly_fen

    def minus(self, other: TownshipFigures) -> TownshipFigures:
        values = {f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self) if f.name != "township"}
        return TownshipFigures(township=self.township, **values)

    def as_dict(self) -> dict[str, int | str]:
        return {**asdict(self), "total_monthly_fen": self.total_monthly_fen}


@dataclass(frozen=True)
class ScenarioArrays:
    """Per-household / per-person results of one scenario (kept for drill-down and for the bench)."""

    totals: HouseholdTotals
    dibao: VectorResult
    dibian: VectorResult
    longevity: VectorResult


@dataclass(frozen=True)
class Scenario:
    townships: tuple[TownshipFigures, ...]
    district: TownshipFigures
    params: tuple[Resolved, ...]
    arrays: ScenarioArrays = field(repr=False, compare=False)


@dataclass(frozen=True)
class WhatIfResult:
    on: dt.date
    region: str
    base: Scenario
    changed: Scenario
    changed_parameters: tuple[str, ...]  # names whose version in force differs between the two sets

    @property
    def delta(self) -> tuple[TownshipFigures, ...]:
        return tuple(c.minus(b) for c, b in zip(self.changed.townships, self.base.townships, strict=True))

    @property
    def district_delta(self) -> TownshipFigures:
        return self.changed.district.minus(self.base.district)

    def as_dict(self) -> dict[str, object]:
        return {
            "on": self.on.isoformat(),
            "region": self.region,
            "changed_parameters": list(self.changed_parameters),
            "base": [r.as_dict() for r in (*self.base.townships, self.base.district)],
            "changed": [r.as_dict() for r in (*self.changed.townships, self.changed.district)],
            "delta": [r.as_dict() for r in (*self.delta, self.district_delta)],
            "params": {
                "base": [p.as_dict() for p in self.base.params],
                "changed": [p.as_dict() for p in self.changed.params],
            },
        }


def run_scenario(
    population: Population,
    params: ParameterSet,
    *,
    on: dt.date,
    region: str = YUHANG,
    totals: HouseholdTotals | None = None,
) -> ScenarioArrays:
    """The three programs over ``population``; household composition is computed once and shared."""
    totals = totals if totals is not None else compose_many(population, on=on)
    dp = dibao.DibaoParams.resolve(params, on, region)
    bp = dibian.DibianParams.resolve(params, on, region)
    d = dibao.many(population, dp, on=on, totals=totals)
    b = dibian.many(population, bp, on=on, totals=totals, dibao_outcome=d)
    lon = longevity.evaluate_arrays(
        population.persons.birth_ymd, population.persons.zhejiang_hukou,
        on=on, region=region, params=params, age=totals.age,
    )
    return ScenarioArrays(
        totals=totals,
        dibao=VectorResult(dibao.PROGRAM, d.eligible, d.amount_fen, on, region, dp.all()),
        dibian=VectorResult(dibian.PROGRAM, b.eligible, b.amount_fen, on, region, bp.all()),
        longevity=lon,
    )


def summarise(population: Population, arrays: ScenarioArrays) -> Scenario:
    codes = population.township_codes
    n = len(codes)
    hh_town = population.households.township
    person_town = population.person_township()
    members = arrays.totals.members

    def by_town(values: np.ndarray, group: np.ndarray) -> np.ndarray:
        return sum_by_group(values, group, n)

    d_elig, b_elig, l_elig = arrays.dibao.eligible, arrays.dibian.eligible, arrays.longevity.eligible
    cols = {
        "dibao_households": np.bincount(hh_town[d_elig], minlength=n),
        "dibao_persons": by_town(np.where(d_elig, members, 0), hh_town),
        "dibao_monthly_fen": by_town(arrays.dibao.amount_fen, hh_town),
        "dibian_households": np.bincount(hh_town[b_elig], minlength=n),
        "dibian_persons": by_town(np.where(b_elig, members, 0), hh_town),
        "dibian_monthly_fen": by_town(arrays.dibian.amount_fen, hh_town),
        "longevity_persons": np.bincount(person_town[l_elig], minlength=n),
        "longevity_monthly_fen": by_town(arrays.longevity.amount_fen, person_town),
    }
    rows = tuple(
        TownshipFigures(township=code, **{k: int(v[i]) for k, v in cols.items()}) for i, code in enumerate(codes)
    )
    district = TownshipFigures(township=DISTRICT_ROW, **{k: int(v.sum(dtype=np.int64)) for k, v in cols.items()})
    params = (*arrays.dibian.params, *arrays.longevity.params)  # 低边's set includes 低保's
    return Scenario(rows, district, params, arrays)


def whatif(
    population: Population,
    base_params: ParameterSet,
    changed_params: ParameterSet | Mapping[str, int],
    *,
    on: dt.date,
    region: str = YUHANG,
) -> WhatIfResult:
    """Base vs changed parameters over the same population on the same date, per township."""
    changed = (
        changed_params
        if isinstance(changed_params, ParameterSet)
        else base_params.with_values(changed_params, on=on, region=region)
    )
    totals = compose_many(population, on=on)  # who counts does not depend on any parameter
    base = summarise(population, run_scenario(population, base_params, on=on, region=region, totals=totals))
    alt = summarise(population, run_scenario(population, changed, on=on, region=region, totals=totals))
    differing = tuple(
        b.name for b, c in zip(base.params, alt.params, strict=True) if b.version != c.version
    )
    return WhatIfResult(on, region, base, alt, tuple(dict.fromkeys(differing)))
