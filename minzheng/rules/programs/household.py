"""Who counts in the household (共同生活家庭成员) for the 低保 / 低边 means tests.

Per 民发〔2021〕57号 as quoted in business_rules.md §1.2 [S10]:

counted
    the applicant; 配偶; 未成年子女; 已成年但不能独立生活的子女 (including full-time students up to a
    bachelor's degree); others with a legal duty of support (赡养、扶养、抚养) **and** long-term
    co-residence. Parents, grandparents, grandchildren, siblings and adult children able to live
    independently fall in that last group: the civil code (§§1067, 1074, 1075) gives each of them a
    (possibly conditional) duty towards the applicant, so co-residence decides.
excluded
    宗教教职人员 away ≥ 3 years; persons serving a sentence or in compulsory isolation rehab; persons
    declared missing; relatives who do not live with the applicant; people with no legal duty of
    support (relation ``other``: lodgers, in-laws without duty...).

Being away overrides the relation (an applicant in prison does not count either). The rule is one
kernel over integer codes (:func:`member_status_kernel`) used by both the scalar and the vector path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minzheng.core.exceptions import ValidationFailed
from minzheng.rules.engine import IntArray, Step, age_on, ages_on, check_fen, fen_to_yuan, ymd
from minzheng.rules.population import HouseholdArrays, PersonArrays, Population, sum_by_household

# Relation to the applicant, with the values of minzheng.people.enums.Relation (tested to match) as
# integer codes so that the rule vectorises.
RELATION_CODES: dict[str, int] = {
    "head": 0,
    "spouse": 1,
    "child": 2,
    "parent": 3,
    "grandchild": 4,
    "grandparent": 5,
    "sibling": 6,
    "other": 7,
}
RELATION_LABELS: dict[str, str] = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "grandchild": "孙子女",
    "grandparent": "祖父母",
    "sibling": "兄弟姐妹",
    "other": "其他人员",
}

DISTRICT_CODE = "330110000000"  # the whole district as one group when the caller has no township split

# Full civil capacity at 18 (民法典 §17): a legal definition, not a policy amount, so not a parameter.
ADULT_AGE = 18


class Away(IntEnum):
    NONE = 0
    RELIGIOUS = 1  # 宗教教职人员, away ≥ 3 years
    CUSTODY = 2  # 服刑 / 强制隔离戒毒
    MISSING = 3  # 宣告失踪

    @property
    def label(self) -> str:
        return _AWAY_LABELS[self]


_AWAY_LABELS = {
    Away.NONE: "在家",
    Away.RELIGIOUS: "宗教教职人员离家满 3 年",
    Away.CUSTODY: "服刑或强制隔离戒毒",
    Away.MISSING: "被宣告失踪",
}


class MemberStatus(IntEnum):
    """Why a person counts (< 10) or does not (≥ 10)."""

    APPLICANT = 1
    SPOUSE = 2
    MINOR_CHILD = 3
    DEPENDENT_ADULT_CHILD = 4
    SUPPORT_DUTY_CO_RESIDENT = 5
    EXCLUDED_RELIGIOUS = 11
    EXCLUDED_CUSTODY = 12
    EXCLUDED_MISSING = 13
    EXCLUDED_NOT_CO_RESIDENT = 14
    EXCLUDED_NO_SUPPORT_DUTY = 15

    @property
    def counted(self) -> bool:
        return self.value < 10

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    MemberStatus.APPLICANT: "申请人",
    MemberStatus.SPOUSE: "配偶",
    MemberStatus.MINOR_CHILD: "未成年子女",
    MemberStatus.DEPENDENT_ADULT_CHILD: "已成年但不能独立生活的子女(含全日制在校本科及以下学生)",
    MemberStatus.SUPPORT_DUTY_CO_RESIDENT: "有法定赡养、扶养、抚养义务且长期共同居住",
    MemberStatus.EXCLUDED_RELIGIOUS: "宗教教职人员离家满 3 年",
    MemberStatus.EXCLUDED_CUSTODY: "服刑或强制隔离戒毒",
    MemberStatus.EXCLUDED_MISSING: "被宣告失踪",
    MemberStatus.EXCLUDED_NOT_CO_RESIDENT: "未长期共同居住",
    MemberStatus.EXCLUDED_NO_SUPPORT_DUTY: "无法定赡养、扶养、抚养义务",
}


def member_status_kernel(
    relation: NDArray[np.integer[Any]],
    age: NDArray[np.integer[Any]],
    student: NDArray[np.bool_],
    cannot_live_independently: NDArray[np.bool_],
    co_resident: NDArray[np.bool_],
    away: NDArray[np.integer[Any]],
) -> NDArray[np.int8]:
    """MemberStatus codes, element-wise. The order of the conditions is the order of precedence."""
    r = RELATION_CODES
    is_child = relation == r["child"]
    duty_relative = (
        (relation == r["parent"])
        | (relation == r["grandchild"])
        | (relation == r["grandparent"])
        | (relation == r["sibling"])
        | (is_child & (age >= ADULT_AGE))
    )
    codes = np.select(
        [
            away == Away.RELIGIOUS,
            away == Away.CUSTODY,
            away == Away.MISSING,
            relation == r["head"],
            relation == r["spouse"],
            is_child & (age < ADULT_AGE),
            is_child & (student | cannot_live_independently),
            duty_relative & co_resident,
            duty_relative,
        ],
        [
            MemberStatus.EXCLUDED_RELIGIOUS,
            MemberStatus.EXCLUDED_CUSTODY,
            MemberStatus.EXCLUDED_MISSING,
            MemberStatus.APPLICANT,
            MemberStatus.SPOUSE,
            MemberStatus.MINOR_CHILD,
            MemberStatus.DEPENDENT_ADULT_CHILD,
            MemberStatus.SUPPORT_DUTY_CO_RESIDENT,
            MemberStatus.EXCLUDED_NOT_CO_RESIDENT,
        ],
        default=MemberStatus.EXCLUDED_NO_SUPPORT_DUTY,
    )
    return codes.astype(np.int8)


def _status_table() -> NDArray[np.int8]:
    """:func:`member_status_kernel` evaluated once for every combination of its inputs' features.

    The vector path looks statuses up in this 256-entry table instead of running nine masked passes
    over a million people; the table is computed by the kernel itself, so the rule is still written
    once. Key bits: away (2) · relation (3) · minor · student-or-cannot-live-independently · co-resident.
    """
    key = np.arange(256)
    return member_status_kernel(
        (key >> 3) & 0b111,
        np.where((key >> 2) & 1, 0, ADULT_AGE),
        ((key >> 1) & 1).astype(np.bool_),
        np.zeros(256, dtype=np.bool_),
        (key & 1).astype(np.bool_),
        key >> 6,
    )


_STATUS_TABLE = _status_table()

# -------------------------------------------------------------------------------------------- scalar

@dataclass(frozen=True)
class Member:
    relation: str  # a minzheng.people.enums.Relation value: "head", "spouse", "child", ...
    birth_date: dt.date
    income_fen: int = 0  # monthly income counted in the means test (高龄津贴 excluded by the caller)
    student: bool = False  # full-time, bachelor's degree or below
    cannot_live_independently: bool = False
    co_resident: bool = True
    away: Away = Away.NONE
    zhejiang_hukou: bool = True


@dataclass(frozen=True)
class Household:
    members: tuple[Member, ...]
    money_assets_fen: int = 0  # 存款、理财、证券、商业保险 of the counted members
    vehicles: int = 0  # non-exempt vehicles (ordinary 2-wheel motorcycles, disability vehicles exempt)
    vehicle_value_fen: int = 0
    housing_ok: bool = True  # ≤1 home, or 2 within the per-capita area limit; no non-residential property
    business_capital_fen: int = 0


@dataclass(frozen=True)
class Composition:
    statuses: tuple[MemberStatus, ...]  # one per Household.members entry, same order
    counted: int
    income_total_fen: int
    step: Step


def validate_household(household: Household) -> None:
    if not household.members:
        raise ValidationFailed({"members": "家庭至少要有一名成员"})
    for i, m in enumerate(household.members):
        if m.relation not in RELATION_CODES:
            raise ValidationFailed({f"members[{i}].relation": f"未知的家庭关系: {m.relation!r}"})
        check_fen(m.income_fen, f"members[{i}].income_fen")
        if m.away not in Away._value2member_map_:
            raise ValidationFailed({f"members[{i}].away": f"未知的离家情形代码: {m.away!r}"})
    check_fen(household.money_assets_fen, "money_assets_fen")
    check_fen(household.vehicle_value_fen, "vehicle_value_fen")
    check_fen(household.business_capital_fen, "business_capital_fen")
    check_fen(household.vehicles, "vehicles")


def compose(household: Household, *, on: dt.date) -> Composition:
    """Classify each member, count the household and total the counted members' income."""
    validate_household(household)
    ms = household.members
    codes = member_status_kernel(
        np.array([RELATION_CODES[m.relation] for m in ms], dtype=np.int64),
        np.array([age_on(m.birth_date, on) for m in ms], dtype=np.int64),
        np.array([m.student for m in ms], dtype=np.bool_),
        np.array([m.cannot_live_independently for m in ms], dtype=np.bool_),
        np.array([m.co_resident for m in ms], dtype=np.bool_),
        np.array([int(m.away) for m in ms], dtype=np.int64),
    )
    statuses = tuple(MemberStatus(int(c)) for c in codes)
    counted = sum(1 for s in statuses if s.counted)
    income = sum(m.income_fen for m, s in zip(ms, statuses, strict=True) if s.counted)

    def who(m: Member, s: MemberStatus) -> str:
        relation = RELATION_LABELS[m.relation]
        return relation if s.label == relation else f"{relation}({s.label})"

    parts_in = [who(m, s) for m, s in zip(ms, statuses, strict=True) if s.counted]
    parts_out = [who(m, s) for m, s in zip(ms, statuses, strict=True) if not s.counted]
    text = f"共同生活家庭成员 {counted} 人:{'、'.join(parts_in) or '无'}"
    if parts_out:
        text += f";不计入 {len(parts_out)} 人:{'、'.join(parts_out)}"
    text += f";计入成员月收入合计 {fen_to_yuan(income)} 元"
    step = Step(
        rule="household.members",
        passed=None,
        text=text,
        inputs={
            "members": [
                {
                    "relation": m.relation,
                    "age": age_on(m.birth_date, on),
                    "student": m.student,
                    "cannot_live_independently": m.cannot_live_independently,
                    "co_resident": m.co_resident,
                    "away": int(m.away),
                    "income_fen": m.income_fen,
                }
                for m in ms
            ]
        },
        values={"statuses": [s.name.lower() for s in statuses], "counted": counted, "income_total_fen": income},
    )
    return Composition(statuses, counted, income, step)


# -------------------------------------------------------------------------------------------- vector

@dataclass(frozen=True)
class HouseholdTotals:
    members: IntArray  # counted members per household
    income_total_fen: IntArray  # monthly income of the counted members per household
    status: NDArray[np.int8]  # MemberStatus per person
    age: IntArray  # age in completed years per person on the same date (shared with 高龄津贴)


def to_population(
    households: Sequence[Household],
    *,
    townships: Sequence[int] | None = None,
    township_codes: Sequence[str] = (DISTRICT_CODE,),
) -> Population:
    """Scalar households → the array form (for callers that hold records, and for parity tests)."""
    for h in households:
        validate_household(h)
    members = [(i, m) for i, h in enumerate(households) for m in h.members]
    persons = PersonArrays(
        household=np.array([i for i, _ in members], dtype=np.int64),
        birth_ymd=np.array([ymd(m.birth_date) for _, m in members], dtype=np.int64),
        relation=np.array([RELATION_CODES[m.relation] for _, m in members], dtype=np.int8),
        student=np.array([m.student for _, m in members], dtype=np.bool_),
        cannot_live_independently=np.array([m.cannot_live_independently for _, m in members], dtype=np.bool_),
        co_resident=np.array([m.co_resident for _, m in members], dtype=np.bool_),
        away=np.array([int(m.away) for _, m in members], dtype=np.int8),
        zhejiang_hukou=np.array([m.zhejiang_hukou for _, m in members], dtype=np.bool_),
        income_fen=np.array([m.income_fen for _, m in members], dtype=np.int64),
    )
    hh = HouseholdArrays(
        township=np.array(townships if townships is not None else [0] * len(households), dtype=np.int64),
        money_assets_fen=np.array([h.money_assets_fen for h in households], dtype=np.int64),
        vehicles=np.array([h.vehicles for h in households], dtype=np.int64),
        vehicle_value_fen=np.array([h.vehicle_value_fen for h in households], dtype=np.int64),
        housing_ok=np.array([h.housing_ok for h in households], dtype=np.bool_),
        business_capital_fen=np.array([h.business_capital_fen for h in households], dtype=np.int64),
    )
    return Population(persons, hh, tuple(township_codes)).validate()


def compose_many(population: Population, *, on: dt.date) -> HouseholdTotals:
    """Who counts, per person, and the counted members and income per household, on ``on``.

    Expects a validated population (codes in range: see :meth:`Population.validate`).
    """
    p = population.persons
    age = ages_on(p.birth_ymd, on)
    key = (
        (p.away.astype(np.int16) << 6)
        | (p.relation.astype(np.int16) << 3)
        | ((age < ADULT_AGE).astype(np.int16) << 2)
        | ((p.student | p.cannot_live_independently).astype(np.int16) << 1)
        | p.co_resident.astype(np.int16)
    )
    status = _STATUS_TABLE[key]
    counted = status < 10
    starts = population.household_starts()
    n = len(p)
    members = sum_by_household(counted, starts, n)
    income = sum_by_household(np.where(counted, p.income_fen, 0), starts, n)
    return HouseholdTotals(members=members, income_total_fen=income, status=status, age=age)

