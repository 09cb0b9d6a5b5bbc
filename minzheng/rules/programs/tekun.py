"""特困人员 (extreme poverty support): eligibility, basic living standard and care by self-care tier.

Eligibility (business_rules.md §1.2, S8 §14): an elder (≥ ``tekun.elder_age_years``), a disabled person,
or a minor under ``tekun.minor_age_limit_years`` who has no ability to work, no source of income and no
legal supporter able to support them. A minor under 16 counts as unable to work without further proof:
employing under-16s is prohibited (劳动法 §15), so "able to work" cannot be held against them.

Amount: ``tekun.basic_living_fen`` + care. Care is a percentage of the monthly minimum wage by tier;
tiers come from the six ADLs (吃饭、穿衣、上下床、如厕、室内行走、洗澡, S20):

====  ===================  ==================  =========================
tier  failed ADLs           self-care class      default (assumption, S22)
====  ===================  ==================  =========================
1     0                     全自理 (independent)   10 % → 228 元
2     1-3                   部分丧失 (partial)      20 % → 456 元
3     4-5                   完全丧失 (dependent)    40 % → 912 元
4     6                     完全丧失 (dependent)    80 % → 1824 元
====  ===================  ==================  =========================

The class boundaries are the statute's (S20); the tier percentages and the split of 完全丧失 into
tiers 3 and 4 are assumptions kept in tekun.yaml. Care floors to the fen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.core.choices import LabelledEnum
from minzheng.core.exceptions import ValidationFailed
from minzheng.people.enums import SelfCare
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

PROGRAM = "tekun"
ADL_COUNT = 6
PARTIAL_MAX_FAILED = 3  # ≤ 3 failed = 部分丧失; ≥ 4 = 完全丧失 (S20)


class ADL(LabelledEnum):
    EATING = "eating", "自主吃饭"
    DRESSING = "dressing", "穿衣"
    TRANSFER = "transfer", "上下床"
    TOILETING = "toileting", "如厕"
    INDOOR_WALKING = "indoor_walking", "室内行走"
    BATHING = "bathing", "洗澡"


@dataclass(frozen=True)
class TekunApplicant:
    birth_date: dt.date
    disabled: bool = False
    able_to_work: bool = False
    has_income_source: bool = False
    has_capable_supporter: bool = False
    adl_failed: frozenset[ADL] = field(default_factory=frozenset)  # ADLs the person cannot do alone


@dataclass(frozen=True)
class TekunArrays:
    birth_ymd: NDArray[np.integer[Any]]
    disabled: NDArray[np.bool_]
    able_to_work: NDArray[np.bool_]
    has_income_source: NDArray[np.bool_]
    has_capable_supporter: NDArray[np.bool_]
    adl_failed_count: NDArray[np.integer[Any]]  # 0..6


@dataclass(frozen=True)
class TekunParams:
    basic: Resolved
    minimum_wage: Resolved
    elder_age: Resolved
    minor_limit: Resolved
    tiers: tuple[Resolved, Resolved, Resolved, Resolved]

    @classmethod
    def resolve(cls, params: ParameterSet, on: dt.date, region: str) -> TekunParams:
        def r(name: str) -> Resolved:
            return params.resolve(name, on=on, region=region)

        return cls(
            basic=r("tekun.basic_living_fen"),
            minimum_wage=r("minimum_wage.monthly_fen"),
            elder_age=r("tekun.elder_age_years"),
            minor_limit=r("tekun.minor_age_limit_years"),
            tiers=(r("tekun.care_tier1_percent"), r("tekun.care_tier2_percent"),
                   r("tekun.care_tier3_percent"), r("tekun.care_tier4_percent")),
        )

    def care_fen(self, tier: int) -> int:
        return self.minimum_wage.value * self.tiers[tier - 1].value // 100

    def all(self) -> tuple[Resolved, ...]:
        return (self.basic, self.minimum_wage, self.elder_age, self.minor_limit, *self.tiers)


@dataclass(frozen=True)
class TekunOutcome:
    category_ok: NDArray[np.bool_]
    no_work: NDArray[np.bool_]
    eligible: NDArray[np.bool_]
    tier: NDArray[np.int8]
    care_fen: IntArray
    amount_fen: IntArray


def self_care_class(failed: int) -> SelfCare:
    if failed == 0:
        return SelfCare.INDEPENDENT
    return SelfCare.PARTIAL if failed <= PARTIAL_MAX_FAILED else SelfCare.DEPENDENT


def tier_kernel(failed: NDArray[np.integer[Any]]) -> NDArray[np.int8]:
    return np.select(
        [failed == 0, failed <= PARTIAL_MAX_FAILED, failed < ADL_COUNT], [1, 2, 3], default=4
    ).astype(np.int8)


def kernel(
    p: TekunParams,
    age: NDArray[np.integer[Any]],
    disabled: NDArray[np.bool_],
    able_to_work: NDArray[np.bool_],
    has_income_source: NDArray[np.bool_],
    has_capable_supporter: NDArray[np.bool_],
    adl_failed_count: NDArray[np.integer[Any]],
) -> TekunOutcome:
    minor = age < p.minor_limit.value
    category_ok = (age >= p.elder_age.value) | disabled | minor
    no_work = ~able_to_work | minor
    eligible = category_ok & no_work & ~has_income_source & ~has_capable_supporter
    tier = tier_kernel(adl_failed_count)
    care_table = np.array([0, *(p.care_fen(t) for t in (1, 2, 3, 4))], dtype=np.int64)
    care = care_table[tier]
    amount = np.where(eligible, np.int64(p.basic.value) + care, np.int64(0))
    return TekunOutcome(category_ok, no_work, eligible, tier, care.astype(np.int64), amount.astype(np.int64))


def evaluate(
    applicant: TekunApplicant, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> Decision:
    p = TekunParams.resolve(params_or_default(params), on, region)
    failed = frozenset(ADL(a) for a in applicant.adl_failed)
    age = age_on(applicant.birth_date, on)
    out = kernel(
        p,
        np.asarray(age, dtype=np.int64),
        np.asarray(applicant.disabled, dtype=np.bool_),
        np.asarray(applicant.able_to_work, dtype=np.bool_),
        np.asarray(applicant.has_income_source, dtype=np.bool_),
        np.asarray(applicant.has_capable_supporter, dtype=np.bool_),
        np.asarray(len(failed), dtype=np.int64),
    )
    t = Trace()
    kinds = []
    if age >= p.elder_age.value:
        kinds.append(f"老年人(年满 {p.elder_age.value} 周岁)")
    if applicant.disabled:
        kinds.append("残疾人")
    if age < p.minor_limit.value:
        kinds.append(f"未满 {p.minor_limit.value} 周岁的未成年人")
    t.add(
        "tekun.category",
        bool(out.category_ok),
        f"{age} 周岁,属于{'、'.join(kinds)}" if kinds else f"{age} 周岁,非老年人、残疾人或未满 {p.minor_limit.value} 周岁的未成年人",
        params=[p.elder_age, p.minor_limit],
        inputs={"birth_date": applicant.birth_date, "disabled": applicant.disabled},
        values={"age": age},
    )
    t.add(
        "tekun.no_work_ability",
        bool(out.no_work),
        "无劳动能力" + (f"(未满 {p.minor_limit.value} 周岁)" if age < p.minor_limit.value else "")
        if bool(out.no_work) else "有劳动能力",
        inputs={"able_to_work": applicant.able_to_work},
    )
    t.add("tekun.no_income_source", not applicant.has_income_source,
          "有生活来源" if applicant.has_income_source else "无生活来源",
          inputs={"has_income_source": applicant.has_income_source})
    t.add("tekun.no_capable_supporter", not applicant.has_capable_supporter,
          "有具备履行能力的法定赡养、抚养、扶养义务人" if applicant.has_capable_supporter
          else "无法定赡养、抚养、扶养义务人,或其无履行义务能力",
          inputs={"has_capable_supporter": applicant.has_capable_supporter})
    tier = int(out.tier)
    cls = self_care_class(len(failed))
    failed_zh = "、".join(a.label for a in ADL if a in failed) or "无"
    t.add(
        "tekun.self_care",
        None,
        f"六项日常生活活动中不能自主完成 {len(failed)} 项({failed_zh}),{cls.label},照料护理第 {tier} 档",
        inputs={"adl_failed": sorted(a.value for a in failed)},
        values={"failed": len(failed), "self_care": cls.value, "tier": tier},
    )
    if bool(out.eligible):
        care = int(out.care_fen)
        tier_param = p.tiers[tier - 1]
        t.add(
            "tekun.amount",
            None,
            f"基本生活标准 {p.basic.display_zh()} + 照料护理 {tier_param.value}% × 最低工资 "
            f"{fen_to_yuan(p.minimum_wage.value)} 元 = {fen_to_yuan(care)} 元({tier_param.display_zh()}),"
            f"合计每月 {fen_to_yuan(int(out.amount_fen))} 元",
            params=[p.basic, tier_param, p.minimum_wage],
            values={"basic_fen": p.basic.value, "care_fen": care, "amount_fen": int(out.amount_fen)},
        )
    else:
        t.add("tekun.amount", None, "不符合特困人员认定条件,每月 0 元", values={"amount_fen": 0})
    return Decision(PROGRAM, bool(out.eligible), int(out.amount_fen), on, region, tuple(t.steps))


def evaluate_many(
    arrays: TekunArrays, *, on: dt.date, region: str = YUHANG, params: ParameterSet | None = None
) -> VectorResult:
    n = arrays.birth_ymd.shape[0]
    for f in fields(arrays):
        if getattr(arrays, f.name).shape != (n,):
            raise ValidationFailed({f.name: f"{f.name} 必须是长度为 {n} 的一维数组"})
    if n and (arrays.adl_failed_count.min() < 0 or arrays.adl_failed_count.max() > ADL_COUNT):
        raise ValidationFailed({"adl_failed_count": "不能自主完成的项目数应在 0-6 之间"})
    p = TekunParams.resolve(params_or_default(params), on, region)
    out = kernel(
        p, ages_on(arrays.birth_ymd, on), arrays.disabled, arrays.able_to_work, arrays.has_income_source,
        arrays.has_capable_supporter, arrays.adl_failed_count,
    )
    return VectorResult(PROGRAM, out.eligible, out.amount_fen, on, region, p.all())
