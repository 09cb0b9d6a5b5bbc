"""临时救助 (temporary assistance): the cap on a one-off payment, and whether a request is within it.

The amount itself is decided case by case by the caseworker and approver; the rule is the ceiling
(business_rules.md §1.5, S8 §39, S23): ``linshi.cap_months`` (6) × the monthly 低保 standard per person,
``linshi.cap_months_exceptional`` (12) for especially hard cases. 2024: 7554 / 15108 元 per person.

A :class:`~minzheng.rules.engine.Decision` from this module carries the **cap** in ``amount_fen`` and
"the requested amount is within the cap" in ``eligible`` (true when nothing was requested yet).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.core.exceptions import ValidationFailed
from minzheng.rules.engine import (
    YUHANG,
    Decision,
    IntArray,
    Trace,
    VectorResult,
    check_count,
    check_fen,
    fen_to_yuan,
    params_or_default,
)
from minzheng.rules.parameters import ParameterSet, Resolved

PROGRAM = "linshi"


@dataclass(frozen=True)
class LinshiRequest:
    persons: int  # people in the hardship (1 for an individual object)
    exceptional: bool = False  # 特别困难 case, approved as such
    requested_fen: int | None = None


@dataclass(frozen=True)
class LinshiArrays:
    persons: NDArray[np.integer[Any]]
    exceptional: NDArray[np.bool_]
    requested_fen: NDArray[np.integer[Any]]


@dataclass(frozen=True)
class LinshiParams:
    standard: Resolved
    months: Resolved
    months_exceptional: Resolved

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> LinshiParams:
        return cls(
            params.resolve("dibao.standard_fen", on=on, region=region),
            params.resolve("linshi.cap_months", on=on, region=region),
            params.resolve("linshi.cap_months_exceptional", on=on, region=region),
        )

    def all(self) -> tuple[Resolved, ...]:
        return (self.standard, self.months, self.months_exceptional)


def kernel(
    p: LinshiParams,
    persons: NDArray[np.integer[Any]],
    exceptional: NDArray[np.bool_],
    requested_fen: NDArray[np.integer[Any]],
) -> tuple[NDArray[np.bool_], IntArray]:
    months = np.where(exceptional, np.int64(p.months_exceptional.value), np.int64(p.months.value))
    cap = months * np.int64(p.standard.value) * persons.astype(np.int64, copy=False)
    return requested_fen <= cap, cap.astype(np.int64)


def evaluate(
    request: LinshiRequest, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> Decision:
    persons = check_count(request.persons, "persons", minimum=1)
    requested = None if request.requested_fen is None else check_fen(request.requested_fen, "requested_fen")
    p = LinshiParams.resolve(params_or_default(params), on, region)
    within, cap = kernel(p, np.asarray(persons), np.asarray(bool(request.exceptional)), np.asarray(requested or 0))
    months = p.months_exceptional if request.exceptional else p.months
    t = Trace()
    cap_fen = int(cap)
    t.add(
        "linshi.cap",
        None,
        f"{'特别困难情形' if request.exceptional else '一般情形'}救助上限 {months.value} × 低保标准 "
        f"{fen_to_yuan(p.standard.value)} 元 × {persons} 人 = {fen_to_yuan(cap_fen)} 元"
        f"(倍数 {months.provenance_zh};低保标准 {p.standard.provenance_zh})",
        params=[months, p.standard],
        inputs={"persons": persons, "exceptional": bool(request.exceptional)},
        values={"cap_fen": cap_fen},
    )
    if requested is None:
        ok = True
    else:
        ok = bool(within)
        t.add(
            "linshi.within_cap",
            ok,
            f"申请救助金额 {fen_to_yuan(requested)} 元{'未超过' if ok else '超过'}上限 {fen_to_yuan(cap_fen)} 元",
            inputs={"requested_fen": requested},
        )
    return Decision(PROGRAM, ok, cap_fen, on, region, tuple(t.steps))


def evaluate_many(
    arrays: LinshiArrays, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> VectorResult:
    n = arrays.persons.shape[0]
    if arrays.exceptional.shape != (n,) or arrays.requested_fen.shape != (n,):
        raise ValidationFailed({"persons": "persons、exceptional、requested_fen 长度必须一致"})
    if n and arrays.persons.min() < 1:
        raise ValidationFailed({"persons": "救助人数至少为 1"})
    if n and arrays.requested_fen.min() < 0:
        raise ValidationFailed({"requested_fen": "申请金额不能为负数"})
    p = LinshiParams.resolve(params_or_default(params), on, region)
    within, cap = kernel(p, arrays.persons, arrays.exceptional, arrays.requested_fen)
    return VectorResult(PROGRAM, within, cap, on, region, p.all())
