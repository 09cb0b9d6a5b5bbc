"""A population as numpy arrays: the input of the vectorised rules and of the what-if.

Persons are sorted by household (``person.household`` non-decreasing) and every household has at
least one registered person, so per-household sums are exact differences of an int64 cumulative
sum: no float ``bincount`` weights ever touch money.

Codes: ``relation`` uses :data:`minzheng.rules.programs.household.RELATION_CODES`, ``away`` uses
:class:`minzheng.rules.programs.household.Away` (both integer codes so they vectorise).
No Django here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.core.exceptions import ValidationFailed

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class PersonArrays:
    household: NDArray[np.integer[Any]]  # index into HouseholdArrays, non-decreasing
    birth_ymd: NDArray[np.integer[Any]]  # YYYYMMDD
    relation: NDArray[np.integer[Any]]  # RELATION_CODES (relation to the applicant / head)
    student: BoolArray  # full-time student, bachelor's degree or below
    cannot_live_independently: BoolArray  # e.g. severe disability (已成年但不能独立生活)
    co_resident: BoolArray  # long-term co-residence with the applicant
    away: NDArray[np.integer[Any]]  # Away code: religious ≥3 y, custody, declared missing
    zhejiang_hukou: BoolArray
    income_fen: NDArray[np.integer[Any]]  # monthly income counted for means tests (fen)

    def __len__(self) -> int:
        return int(self.household.shape[0])


@dataclass(frozen=True)
class HouseholdArrays:
    township: NDArray[np.integer[Any]]  # index into Population.township_codes
    money_assets_fen: NDArray[np.integer[Any]]  # total money assets of the household (fen)
    vehicles: NDArray[np.integer[Any]]  # non-exempt motor vehicles (2-wheel motorcycles and disability vehicles excluded)
    vehicle_value_fen: NDArray[np.integer[Any]]  # total value of those vehicles
    housing_ok: BoolArray  # housing within the 低保/低边 rules (≤1 home, or 2 within the area limit; no non-residential)
    business_capital_fen: NDArray[np.integer[Any]]  # registered capital subscribed by members (fen)

    def __len__(self) -> int:
        return int(self.township.shape[0])


@dataclass(frozen=True)
class Population:
    persons: PersonArrays
    households: HouseholdArrays
    township_codes: tuple[str, ...]

    def validate(self) -> Population:
        """Check shapes, order and ranges once, before a run; returns self for chaining."""
        n_p, n_h = len(self.persons), len(self.households)
        for group, n in ((self.persons, n_p), (self.households, n_h)):
            for f in fields(group):
                arr = getattr(group, f.name)
                if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.shape[0] != n:
                    raise ValidationFailed({f.name: f"{f.name} 必须是长度为 {n} 的一维数组"})
        hh = self.persons.household
        if n_p and (hh.min() < 0 or hh.max() >= n_h or np.any(np.diff(hh) < 0)):
            raise ValidationFailed({"household": "人员必须按户排序且户序号在范围内"})
        if n_h and np.unique(hh).shape[0] != n_h:
            raise ValidationFailed({"household": "每户至少要有一名登记人员"})
        # Code ranges (the rules look statuses up by these codes).
        for name, top in (("relation", 7), ("away", 3)):
            arr = getattr(self.persons, name)
            if n_p and (arr.min() < 0 or arr.max() > top):
                raise ValidationFailed({name: f"{name} 代码应在 0-{top} 之间"})
        for name in ("income_fen",):
            if np.any(getattr(self.persons, name) < 0):
                raise ValidationFailed({name: f"{name} 不能为负数"})
        for name in ("money_assets_fen", "vehicles", "vehicle_value_fen", "business_capital_fen"):
            if np.any(getattr(self.households, name) < 0):
                raise ValidationFailed({name: f"{name} 不能为负数"})
        t = self.households.township
        if n_h and (t.min() < 0 or t.max() >= len(self.township_codes)):
            raise ValidationFailed({"township": "镇街序号超出 township_codes 范围"})
        return self

    def household_starts(self) -> IntArray:
        """Index of each household's first person (households are contiguous runs). Cached."""
        return self._starts

    @cached_property
    def _starts(self) -> IntArray:
        hh = self.persons.household
        # O(n) when every household has someone (what validate() guarantees); binary search otherwise.
        starts = np.flatnonzero(np.diff(hh, prepend=-1)).astype(np.int64) if len(hh) else np.zeros(0, np.int64)
        if starts.shape[0] == len(self.households):
            return starts
        return np.searchsorted(hh, np.arange(len(self.households))).astype(np.int64)

    def person_township(self) -> NDArray[np.integer[Any]]:
        """Township index of each person. Cached."""
        return self._person_township

    @cached_property
    def _person_township(self) -> NDArray[np.integer[Any]]:
        return self.households.township[self.persons.household]


def sum_by_household(values: NDArray[np.integer[Any]], starts: IntArray, n_persons: int) -> IntArray:
    """Exact int64 per-household sums of a per-person array (persons contiguous by household)."""
    cumulative = np.zeros(n_persons + 1, dtype=np.int64)
    np.cumsum(values, dtype=np.int64, out=cumulative[1:])
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    if ends.shape[0]:
        ends[-1] = n_persons
    return cumulative[ends] - cumulative[starts]


def sum_by_group(values: NDArray[np.integer[Any]], group: NDArray[np.integer[Any]], n_groups: int) -> IntArray:
    """Exact int64 sums per group (e.g. township) without float weights."""
    out = np.zeros(n_groups, dtype=np.int64)
    np.add.at(out, group, values.astype(np.int64, copy=False))
    return out
