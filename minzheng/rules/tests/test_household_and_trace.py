"""Who counts in the household, and what a decision's trace says."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from minzheng.core.exceptions import ValidationFailed
from minzheng.people.enums import Relation
from minzheng.rules.engine import age_on, fen_to_yuan
from minzheng.rules.programs import dibao
from minzheng.rules.programs.household import (
    RELATION_CODES,
    Away,
    Household,
    Member,
    MemberStatus,
    compose,
)

ON = dt.date(2024, 6, 1)


def born(age: int) -> dt.date:
    return ON.replace(year=ON.year - age)


def test_relation_codes_cover_the_people_registry() -> None:
    assert Relation.value_set() == set(RELATION_CODES)


@pytest.mark.parametrize(
    ("member", "status"),
    [
        (Member("head", born(40)), MemberStatus.APPLICANT),
        (Member("spouse", born(40), co_resident=False), MemberStatus.SPOUSE),
        (Member("child", born(17), co_resident=False), MemberStatus.MINOR_CHILD),
        (Member("child", born(18), co_resident=False), MemberStatus.EXCLUDED_NOT_CO_RESIDENT),
        (Member("child", born(18)), MemberStatus.SUPPORT_DUTY_CO_RESIDENT),
        (Member("child", born(21), student=True, co_resident=False), MemberStatus.DEPENDENT_ADULT_CHILD),
        (Member("child", born(30), cannot_live_independently=True), MemberStatus.DEPENDENT_ADULT_CHILD),
        (Member("parent", born(70)), MemberStatus.SUPPORT_DUTY_CO_RESIDENT),
        (Member("grandparent", born(90), co_resident=False), MemberStatus.EXCLUDED_NOT_CO_RESIDENT),
        (Member("sibling", born(35)), MemberStatus.SUPPORT_DUTY_CO_RESIDENT),
        (Member("other", born(35)), MemberStatus.EXCLUDED_NO_SUPPORT_DUTY),
        (Member("spouse", born(40), away=Away.RELIGIOUS), MemberStatus.EXCLUDED_RELIGIOUS),
        (Member("head", born(40), away=Away.CUSTODY), MemberStatus.EXCLUDED_CUSTODY),
        (Member("child", born(5), away=Away.MISSING), MemberStatus.EXCLUDED_MISSING),
    ],
)
def test_member_status(member: Member, status: MemberStatus) -> None:
    comp = compose(Household(members=(member,)), on=ON)
    assert comp.statuses == (status,)
    assert comp.counted == (1 if status.counted else 0)


def test_excluded_members_income_is_not_counted_and_reasons_are_given() -> None:
    h = Household(members=(
        Member("head", born(50), income_fen=100_000),
        Member("sibling", born(45), income_fen=900_000, co_resident=False),
        Member("other", born(30), income_fen=500_000),
    ))
    comp = compose(h, on=ON)
    assert comp.counted == 1
    assert comp.income_total_fen == 100_000
    assert "不计入 2 人:兄弟姐妹(未长期共同居住)、其他人员(无法定赡养、扶养、抚养义务)" in comp.step.text
    assert comp.step.values["statuses"] == ["applicant", "excluded_not_co_resident", "excluded_no_support_duty"]


@pytest.mark.parametrize(
    ("household", "field"),
    [
        (Household(members=()), "members"),
        (Household(members=(Member("boss", born(30)),)), "members[0].relation"),
        (Household(members=(Member("head", born(30), income_fen=-1),)), "members[0].income_fen"),
        (Household(members=(Member("head", born(30), income_fen=12.5),)), "members[0].income_fen"),  # type: ignore[arg-type]
        (Household(members=(Member("head", born(30)),), money_assets_fen=-5), "money_assets_fen"),
        (Household(members=(Member("head", born(30)),), vehicles=True), "vehicles"),  # type: ignore[arg-type]
        (Household(members=(Member("head", dt.date(2030, 1, 1)),)), "birth_date"),
    ],
)
def test_bad_input_names_the_field(household: Household, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        dibao.evaluate(household, on=ON)
    assert field in caught.value.fields


def test_dibao_trace_sentence_and_structure() -> None:
    h = Household(members=(
        Member("head", born(50), income_fen=240_000),
        Member("spouse", born(48)),
        Member("child", born(14)),
    ))
    d = dibao.evaluate(h, on=ON)
    assert d.explain().splitlines()[-1] == (
        "家庭人均月收入 800.00 元 低于 低保标准 1259.00 元(2023-07-31 至 2025-01-22,来源 S1、S2),"
        "月补差 459.00 元 × 3 人 = 1377.00 元"
    )
    income = next(s for s in d.steps if s.rule == "dibao.income")
    assert income.passed is True
    assert income.params[0].name == "dibao.standard_fen"
    assert income.params[0].version.effective_from == dt.date(2023, 7, 31)
    assert income.inputs == {"members": 3, "income_total_fen": 240_000}
    assert income.values["per_capita_income_fen"] == 80_000
    payload = d.as_dict()
    assert json.loads(json.dumps(payload, ensure_ascii=False)) == payload
    assert {p.name for p in d.params_used} == {
        "dibao.standard_fen", "dibao.money_assets_limit_months", "dibao.business_capital_limit_fen"
    }


def test_age_on_birthday_and_leap_day() -> None:
    assert age_on(dt.date(1944, 6, 1), dt.date(2024, 6, 1)) == 80
    assert age_on(dt.date(1944, 6, 2), dt.date(2024, 6, 1)) == 79
    assert age_on(dt.date(1936, 2, 29), dt.date(2026, 2, 28)) == 89
    assert age_on(dt.date(1936, 2, 29), dt.date(2026, 3, 1)) == 90


@pytest.mark.parametrize(("fen", "text"), [(0, "0.00"), (1, "0.01"), (125_900, "1259.00"), (-150, "-1.50")])
def test_fen_to_yuan(fen: int, text: str) -> None:
    assert fen_to_yuan(fen) == text
