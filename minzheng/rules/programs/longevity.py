"""高龄津贴 (longevity allowance): Zhejiang hukou aged 80+, monthly, by age band.

Rules (business_rules.md §2): ``longevity.hukou`` Zhejiang hukou [S33]; ``longevity.age_band`` age in
completed years on the date (a person is 80 on the 80th birthday itself): 80-89, 90-99, 100+ [S34];
``longevity.amount`` the band's amount (60 / 100 / 800 元 from 2023-03-01; 300 for 100+ before) [S34, S35].
No income or asset test; not counted as household income for 低保 [S36].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from minzheng.rules.engine import (
    YUHANG,
    Decision,
    IntArray,
    Trace,
    VectorResult,
    age_on,
    ages_on,
    params_or_default,
)
from minzheng.rules.parameters import ParameterSet, Resolved
from minzheng.rules.population import Population

PROGRAM = "longevity"
# Band lower bounds in completed years; the amounts per band are parameters.
BANDS = (80, 90, 100)
BAND_LABELS = ("未满 80 周岁", "80-89 周岁", "90-99 周岁", "100 周岁及以上")


class LongevityPerson(Protocol):
    @property
    def birth_date(self) -> dt.date: ...

    @property
    def zhejiang_hukou(self) -> bool: ...


@dataclass(frozen=True)
class Elder:
    birth_date: dt.date
    zhejiang_hukou: bool = True


@dataclass(frozen=True)
class LongevityParams:
    age_80_89: Resolved
    age_90_99: Resolved
    age_100_plus: Resolved

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> LongevityParams:
        return cls(
            params.resolve("longevity.age_80_89_fen", on=on, region=region),
            params.resolve("longevity.age_90_99_fen", on=on, region=region),
            params.resolve("longevity.age_100_plus_fen", on=on, region=region),
        )

    def all(self) -> tuple[Resolved, ...]:
        return (self.age_80_89, self.age_90_99, self.age_100_plus)


def band_kernel(age: NDArray[np.integer[Any]]) -> NDArray[np.int8]:
    """0 = under 80, 1 = 80-89, 2 = 90-99, 3 = 100+."""
    # Sum of the thresholds passed: cheaper than np.select over a whole district.
    return ((age >= BANDS[0]).astype(np.int8) + (age >= BANDS[1]) + (age >= BANDS[2])).astype(np.int8)


def kernel(p: LongevityParams, age: NDArray[np.integer[Any]], zhejiang_hukou: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], IntArray]:
    band = band_kernel(age) * zhejiang_hukou  # band 0 (nothing) for anyone without Zhejiang hukou
    table = np.array([0, p.age_80_89.value, p.age_90_99.value, p.age_100_plus.value], dtype=np.int64)
    return band > 0, table[band]


def evaluate(
    person: LongevityPerson, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> Decision:
    p = LongevityParams.resolve(params_or_default(params), on, region)
    age = age_on(person.birth_date, on)
    hukou = bool(person.zhejiang_hukou)
    eligible, amount = kernel(p, np.asarray(age, dtype=np.int64), np.asarray(hukou, dtype=np.bool_))
    band = int(band_kernel(np.asarray(age)))
    t = Trace()
    t.add("longevity.hukou", hukou, "浙江户籍" if hukou else "非浙江户籍,不享受高龄津贴", inputs={"zhejiang_hukou": hukou})
    t.add(
        "longevity.age_band",
        band > 0,
        f"出生日期 {person.birth_date.isoformat()},至 {on.isoformat()} 年满 {age} 周岁,属于 {BAND_LABELS[band]}",
        inputs={"birth_date": person.birth_date},
        values={"age": age, "band": band},
    )
    used = (p.age_80_89, p.age_90_99, p.age_100_plus)[band - 1] if band > 0 else None
    if bool(eligible) and used is not None:
        t.add(
            "longevity.amount",
            None,
            f"高龄津贴 {BAND_LABELS[band]} 每月 {used.display_zh()}",
            params=[used],
            values={"amount_fen": int(amount)},
        )
    else:
        t.add("longevity.amount", None, "不符合高龄津贴条件,每月 0 元", values={"amount_fen": 0})
    return Decision(PROGRAM, bool(eligible), int(amount), on, region, tuple(t.steps))


def evaluate_arrays(
    birth_ymd: NDArray[np.integer[Any]],
    zhejiang_hukou: NDArray[np.bool_],
    *,
    on: dt.date,
    region: str = YUHANG,
    params: ParameterSet | None = None,
    age: NDArray[np.integer[Any]] | None = None,
) -> VectorResult:
    """Per person; pass ``age`` (on the same date) when already computed, e.g. by ``compose_many``."""
    p = LongevityParams.resolve(params_or_default(params), on, region)
    eligible, amount = kernel(p, ages_on(birth_ymd, on) if age is None else age, zhejiang_hukou)
    return VectorResult(PROGRAM, eligible, amount, on, region, p.all())


def evaluate_many(
    population: Population, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> VectorResult:
    """One entry per person of ``population``."""
    return evaluate_arrays(
        population.persons.birth_ymd, population.persons.zhejiang_hukou, on=on, region=region, params=params
    )
