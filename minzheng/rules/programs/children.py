"""Children's allowances (儿童福利): orphans, children without de-facto carers, children in hardship.

Per child under ``children.age_limit_years`` (business_rules.md §1.1, S1/S3/S4):

- 社会散居孤儿 and 事实无人抚养儿童: ``children.orphan_scattered_fen`` (2270 → 2350 → 2525 元);
- 福利机构养育孤儿: ``children.orphan_institution_fen`` (2837 → 2937 → 3156 元);
- 重残、重病、罕见病、三四级精神/智力残疾 children of a 低保 or 低边 family: a top-up to the
  散居孤儿 standard, i.e. ``orphan_scattered − 低保 standard`` (2024: 2350 − 1259 = 1091 元). The
  reference gives the same formula for 低保 and 低边 families; floored at 0 so a what-if that raises
  低保 above the orphan standard cannot produce a negative amount;
- other 困境儿童: ``children.hardship_dibao_fen`` (546 元 in 2024) in a 低保 family,
  ``children.hardship_dibian_fen`` (327 元) in a 低边 family, nothing otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from enum import IntEnum
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
    age_on,
    ages_on,
    fen_to_yuan,
    params_or_default,
)
from minzheng.rules.parameters import ParameterSet, Resolved

PROGRAM = "children"


class ChildCategory(IntEnum):
    SCATTERED_ORPHAN = 1
    DE_FACTO_UNSUPPORTED = 2
    INSTITUTION_ORPHAN = 3
    SEVERE_CONDITION = 4
    OTHER_HARDSHIP = 5

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    ChildCategory.SCATTERED_ORPHAN: "社会散居孤儿",
    ChildCategory.DE_FACTO_UNSUPPORTED: "事实无人抚养儿童",
    ChildCategory.INSTITUTION_ORPHAN: "福利机构养育孤儿",
    ChildCategory.SEVERE_CONDITION: "重残、重病、罕见病或三四级精神/智力残疾儿童",
    ChildCategory.OTHER_HARDSHIP: "其他困境儿童",
}


class FamilyStatus(IntEnum):
    NONE = 0
    DIBAO = 1
    DIBIAN = 2

    @property
    def label(self) -> str:
        return ("非低保低边家庭", "低保家庭", "低边家庭")[self.value]


@dataclass(frozen=True)
class Child:
    birth_date: dt.date
    category: ChildCategory
    family: FamilyStatus = FamilyStatus.NONE


@dataclass(frozen=True)
class ChildArrays:
    birth_ymd: NDArray[np.integer[Any]]
    category: NDArray[np.integer[Any]]  # ChildCategory codes
    family: NDArray[np.integer[Any]]  # FamilyStatus codes


@dataclass(frozen=True)
class ChildrenParams:
    age_limit: Resolved
    orphan_scattered: Resolved
    orphan_institution: Resolved
    dibao_standard: Resolved
    hardship_dibao: Resolved
    hardship_dibian: Resolved

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> ChildrenParams:
        def r(name: str) -> Resolved:
            return params.resolve(name, on=on, region=region)

        return cls(
            age_limit=r("children.age_limit_years"),
            orphan_scattered=r("children.orphan_scattered_fen"),
            orphan_institution=r("children.orphan_institution_fen"),
            dibao_standard=r("dibao.standard_fen"),
            hardship_dibao=r("children.hardship_dibao_fen"),
            hardship_dibian=r("children.hardship_dibian_fen"),
        )

    @property
    def severe_topup_fen(self) -> int:
        return max(0, self.orphan_scattered.value - self.dibao_standard.value)

    def all(self) -> tuple[Resolved, ...]:
        return (self.age_limit, self.orphan_scattered, self.orphan_institution, self.dibao_standard,
                self.hardship_dibao, self.hardship_dibian)


def kernel(
    p: ChildrenParams,
    age: NDArray[np.integer[Any]],
    category: NDArray[np.integer[Any]],
    family: NDArray[np.integer[Any]],
) -> tuple[NDArray[np.bool_], IntArray]:
    low_income = (family == FamilyStatus.DIBAO) | (family == FamilyStatus.DIBIAN)
    value = np.select(
        [
            (category == ChildCategory.SCATTERED_ORPHAN) | (category == ChildCategory.DE_FACTO_UNSUPPORTED),
            category == ChildCategory.INSTITUTION_ORPHAN,
            (category == ChildCategory.SEVERE_CONDITION) & low_income,
            (category == ChildCategory.OTHER_HARDSHIP) & (family == FamilyStatus.DIBAO),
            (category == ChildCategory.OTHER_HARDSHIP) & (family == FamilyStatus.DIBIAN),
        ],
        [
            np.int64(p.orphan_scattered.value),
            np.int64(p.orphan_institution.value),
            np.int64(p.severe_topup_fen),
            np.int64(p.hardship_dibao.value),
            np.int64(p.hardship_dibian.value),
        ],
        default=np.int64(-1),
    )
    eligible = (age < p.age_limit.value) & (value >= 0)
    return eligible, np.where(eligible, value, np.int64(0)).astype(np.int64)


def evaluate(child: Child, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None) -> Decision:
    p = ChildrenParams.resolve(params_or_default(params), on, region)
    category = ChildCategory(child.category)
    family = FamilyStatus(child.family)
    age = age_on(child.birth_date, on)
    eligible, amount = kernel(p, np.asarray(age), np.asarray(int(category)), np.asarray(int(family)))
    t = Trace()
    t.add("children.age", age < p.age_limit.value,
          f"{age} 周岁,{'未满' if age < p.age_limit.value else '已满'} {p.age_limit.value} 周岁",
          params=[p.age_limit], inputs={"birth_date": child.birth_date}, values={"age": age})
    used: list[Resolved] = []
    if category in (ChildCategory.SCATTERED_ORPHAN, ChildCategory.DE_FACTO_UNSUPPORTED):
        used = [p.orphan_scattered]
        text = f"{category.label}基本生活费 {p.orphan_scattered.display_zh()}"
        applies = True
    elif category is ChildCategory.INSTITUTION_ORPHAN:
        used = [p.orphan_institution]
        text = f"{category.label}基本生活费 {p.orphan_institution.display_zh()}"
        applies = True
    elif category is ChildCategory.SEVERE_CONDITION:
        applies = family in (FamilyStatus.DIBAO, FamilyStatus.DIBIAN)
        used = [p.orphan_scattered, p.dibao_standard]
        text = (
            f"{family.label}的{category.label},补差至散居孤儿标准:{fen_to_yuan(p.orphan_scattered.value)} 元 − "
            f"低保标准 {fen_to_yuan(p.dibao_standard.value)} 元 = {fen_to_yuan(p.severe_topup_fen)} 元"
            f"(散居孤儿 {p.orphan_scattered.display_zh()};低保 {p.dibao_standard.display_zh()})"
            if applies else f"{category.label}的补差仅适用于低保、低边家庭,本户为{family.label}"
        )
    else:
        if family is FamilyStatus.DIBAO:
            used = [p.hardship_dibao]
        elif family is FamilyStatus.DIBIAN:
            used = [p.hardship_dibian]
        applies = bool(used)
        text = (f"{family.label}{category.label}生活补贴 {used[0].display_zh()}" if used
                else f"{category.label}生活补贴仅适用于低保、低边家庭,本户为{family.label}")
    t.add("children.category", applies, text, params=used,
          inputs={"category": category.name.lower(), "family": family.name.lower()})
    amount_fen = int(amount)
    t.add("children.amount", None,
          f"每月 {fen_to_yuan(amount_fen)} 元" if bool(eligible) else "不符合儿童生活保障条件,每月 0 元",
          values={"amount_fen": amount_fen})
    return Decision(PROGRAM, bool(eligible), amount_fen, on, region, tuple(t.steps))


def evaluate_many(
    arrays: ChildArrays, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> VectorResult:
    n = arrays.birth_ymd.shape[0]
    for f in fields(arrays):
        if getattr(arrays, f.name).shape != (n,):
            raise ValidationFailed({f.name: f"{f.name} 必须是长度为 {n} 的一维数组"})
    p = ChildrenParams.resolve(params_or_default(params), on, region)
    eligible, amount = kernel(p, ages_on(arrays.birth_ymd, on), arrays.category, arrays.family)
    return VectorResult(PROGRAM, eligible, amount, on, region, p.all())
