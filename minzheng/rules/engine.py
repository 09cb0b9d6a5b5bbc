"""Shared pieces of the rules engine: decisions, traces, vector results, ages and money helpers.

Every program module (``minzheng.rules.programs.*``) offers the same two entry points:

- ``evaluate(case, *, on, region=YUHANG, params=None) -> Decision`` for one household or person, with a
  trace that names each rule applied, the parameter versions used and the inputs;
- ``evaluate_many(arrays, *, on, region=YUHANG, params=None) -> VectorResult`` for a whole population
  as numpy arrays.

Both call the same kernel functions (plain integer arithmetic that works on Python ints and numpy
arrays alike), so a formula is written once; tests check the two paths agree on random populations.

Money is integer fen (numpy ``int64``) everywhere; no rule divides money except per-capita income,
which floors to the fen (see ``programs.dibao``). No Django here (import-linter contract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.core.exceptions import ValidationFailed
from minzheng.rules.parameters import (
    YUHANG,
    ParameterSet,
    Resolved,
    default_parameters,
    fen_to_yuan,
)

__all__ = [
    "YUHANG",
    "BoolArray",
    "Decision",
    "IntArray",
    "Step",
    "Trace",
    "VectorResult",
    "age_on",
    "ages_on",
    "check_count",
    "check_fen",
    "fen_to_yuan",
    "params_or_default",
    "ymd",
]

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def params_or_default(params: ParameterSet | None) -> ParameterSet:
    return default_parameters() if params is None else params


# ---------------------------------------------------------------------------------------------- ages

def ymd(day: dt.date) -> int:
    """2024-03-15 → 20240315: dates as integers so that ages vectorise over millions of people."""
    return day.year * 10000 + day.month * 100 + day.day


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Age in completed years (周岁) on ``on``: one year older on the birthday itself.

    Computed as ``(ymd(on) - ymd(birth)) // 10000``, the same expression as :func:`ages_on`, so the
    scalar and vector paths agree to the day. Someone born on 29 February turns a year older on
    1 March in common years (the month-day 0301 is the first that is not before 0229).
    """
    if birth_date > on:
        raise ValidationFailed({"birth_date": f"出生日期 {birth_date.isoformat()} 晚于计算日期 {on.isoformat()}"})
    return (ymd(on) - ymd(birth_date)) // 10000


def ages_on(birth_ymd: NDArray[np.integer[Any]], on: dt.date) -> IntArray:
    """Vector form of :func:`age_on` over ``birth_ymd`` integers (YYYYMMDD)."""
    return (np.int64(ymd(on)) - birth_ymd.astype(np.int64)) // 10000


# ------------------------------------------------------------------------------------------ checking

def check_fen(value: object, field_name: str) -> int:
    """An amount of money in fen: a non-negative int (bool refused: True fen is always a bug)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationFailed({field_name: f"{field_name} 必须是以分为单位的整数"})
    if value < 0:
        raise ValidationFailed({field_name: f"{field_name} 不能为负数"})
    return int(value)


def check_count(value: object, field_name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationFailed({field_name: f"{field_name} 必须是整数"})
    if value < minimum:
        raise ValidationFailed({field_name: f"{field_name} 不能小于 {minimum}"})
    return int(value)


# --------------------------------------------------------------------------------------------- trace

@dataclass(frozen=True)
class Step:
    """One rule applied: its id, whether it held (None for a computation), and why, in Chinese."""

    rule: str
    passed: bool | None
    text: str
    params: tuple[Resolved, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "text": self.text,
            "params": [p.as_dict() for p in self.params],
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "values": {k: _jsonable(v) for k, v in self.values.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Trace:
    """Collects the steps of one scalar decision."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(
        self,
        rule: str,
        passed: bool | None,
        text: str,
        *,
        params: Sequence[Resolved] = (),
        inputs: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        self.steps.append(
            Step(rule, None if passed is None else bool(passed), text, tuple(params), dict(inputs or {}), dict(values or {}))
        )
        return bool(passed)

    def extend(self, steps: Sequence[Step]) -> None:
        self.steps.extend(steps)


@dataclass(frozen=True)
class Decision:
    """The outcome for one household or person, with the explanation of every rule applied."""

    program: str
    eligible: bool
    amount_fen: int
    on: dt.date
    region: str
    steps: tuple[Step, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(s.rule for s in self.steps)

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(s.rule for s in self.steps if s.passed is False)

    @property
    def params_used(self) -> tuple[Resolved, ...]:
        seen: dict[tuple[str, dt.date, str], Resolved] = {}
        for step in self.steps:
            for p in step.params:
                seen.setdefault((p.name, p.version.effective_from, p.version.region), p)
        return tuple(seen.values())

    def explain(self) -> str:
        """All steps as Chinese sentences, one per line (for the case file and the appeal letter)."""
        return "\n".join(s.text for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "eligible": self.eligible,
            "amount_fen": self.amount_fen,
            "on": self.on.isoformat(),
            "region": self.region,
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class VectorResult:
    """The outcome for a whole population: one entry per household (or person) in input order.

    The trace of a population run is the set of parameter versions it used: every row shares them
    because the run has one date and one region.
    """

    program: str
    eligible: BoolArray
    amount_fen: IntArray
    on: dt.date
    region: str
    params: tuple[Resolved, ...]

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.eligible))

    @property
    def total_fen(self) -> int:
        return int(self.amount_fen.sum(dtype=np.int64))
