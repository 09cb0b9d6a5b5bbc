# OpenFisca's idiom: a variable is a class named like the variable (lower case), and its formula
# takes the entity (person / household) as first argument instead of self.

"""Variables of the Yuhang OpenFisca model: inputs, household composition, 低保, 低边, 高龄津贴.

Written independently of minzheng.rules (same statutes, OpenFisca idiom) so that the bench compares
two implementations. Codes for ``relation`` and ``away`` are the integer codes of the input arrays.
"""

from __future__ import annotations

import numpy as np
from openfisca_core.periods import ETERNITY, MONTH
from openfisca_core.variables import Variable

from .entities import Household, Person

# Relation to the applicant and "away" codes used by the input arrays.
HEAD, SPOUSE, CHILD, PARENT, GRANDCHILD, GRANDPARENT, SIBLING, OTHER = range(8)
AWAY_NONE = 0
ADULT_AGE = 18


def _int(name: str, entity: object, label: str, period: str = MONTH) -> type[Variable]:
    return type(name, (Variable,), {"value_type": int, "entity": entity, "definition_period": period, "label": label})


def _bool(name: str, entity: object, label: str, period: str = MONTH) -> type[Variable]:
    return type(name, (Variable,), {"value_type": bool, "entity": entity, "definition_period": period, "label": label})


# ------------------------------------------------------------------------------------------- inputs
birth_ymd = _int("birth_ymd", Person, "出生日期 YYYYMMDD", ETERNITY)
relation = _int("relation", Person, "与申请人关系代码")
student = _bool("student", Person, "全日制在校(本科及以下)")
cannot_live_independently = _bool("cannot_live_independently", Person, "已成年但不能独立生活")
co_resident = _bool("co_resident", Person, "长期共同居住")
away = _int("away", Person, "离家情形代码")
zhejiang_hukou = _bool("zhejiang_hukou", Person, "浙江户籍")
income = _int("income", Person, "月收入(分)")

money_assets = _int("money_assets", Household, "家庭货币财产(分)")
vehicles = _int("vehicles", Household, "非豁免机动车数量")
vehicle_value = _int("vehicle_value", Household, "机动车价值(分)")
housing_ok = _bool("housing_ok", Household, "住房符合条件")
business_capital = _int("business_capital", Household, "认缴注册资本(分)")


# -------------------------------------------------------------------------------------- composition
class age(Variable):
    value_type = int
    entity = Person
    definition_period = MONTH
    label = "周岁(当月第一天)"

    def formula(person, period, parameters):  # type: ignore[no-untyped-def]
        start = period.start
        today = start.year * 10000 + start.month * 100 + start.day
        return (today - person("birth_ymd", period).astype(np.int64)) // 10000


class counted_member(Variable):
    value_type = bool
    entity = Person
    definition_period = MONTH
    label = "计入共同生活家庭成员"

    def formula(person, period, parameters):  # type: ignore[no-untyped-def]
        rel = person("relation", period)
        years = person("age", period)
        child = rel == CHILD
        duty = np.isin(rel, [PARENT, GRANDCHILD, GRANDPARENT, SIBLING]) | (child & (years >= ADULT_AGE))
        included = (
            (rel == HEAD)
            | (rel == SPOUSE)
            | (child & (years < ADULT_AGE))
            | (child & (person("student", period) | person("cannot_live_independently", period)))
            | (duty & person("co_resident", period))
        )
        return included & (person("away", period) == AWAY_NONE)


class household_members(Variable):
    value_type = int
    entity = Household
    definition_period = MONTH
    label = "计入人数"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        return household.sum(household.members("counted_member", period))


class household_income(Variable):
    value_type = int
    entity = Household
    definition_period = MONTH
    label = "计入成员月收入合计(分)"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        counted = household.members("counted_member", period)
        return household.sum(np.where(counted, household.members("income", period), 0))


# -------------------------------------------------------------------------------------------- 低保
class dibao_eligible(Variable):
    value_type = bool
    entity = Household
    definition_period = MONTH
    label = "符合低保"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        p = parameters(period).dibao
        standard = np.int64(p.standard)
        n = household("household_members", period).astype(np.int64)
        total = household("household_income", period).astype(np.int64)
        assets = household("money_assets", period).astype(np.int64)
        return (
            (n > 0)
            & (total < standard * n)
            & (assets < np.int64(p.money_assets_limit_months) * standard * n)
            & (household("vehicles", period) == 0)
            & household("housing_ok", period)
            & (household("business_capital", period).astype(np.int64) <= np.int64(p.business_capital_limit))
        )


class dibao_amount(Variable):
    value_type = int
    entity = Household
    definition_period = MONTH
    label = "低保月补差(分)"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        standard = np.int64(parameters(period).dibao.standard)
        n = household("household_members", period).astype(np.int64)
        total = household("household_income", period).astype(np.int64)
        per_capita = total // np.maximum(n, 1)  # floored to the fen
        return np.where(household("dibao_eligible", period), (standard - per_capita) * n, 0)


# -------------------------------------------------------------------------------------------- 低边
class dibian_eligible(Variable):
    value_type = bool
    entity = Household
    definition_period = MONTH
    label = "认定低边"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        params = parameters(period)
        standard = np.int64(params.dibao.standard)
        limit = min(standard * np.int64(params.dibian.income_limit_percent) // 100, np.int64(params.minimum_wage.monthly))
        n = household("household_members", period).astype(np.int64)
        total = household("household_income", period).astype(np.int64)
        assets = household("money_assets", period).astype(np.int64)
        cars = household("vehicles", period)
        car_ok = (cars == 0) | ((cars == 1) & (household("vehicle_value", period) < np.int64(params.dibian.vehicle_value_cap)))
        return (
            (n > 0)
            & (total <= limit * n)
            & (assets < np.int64(params.dibian.money_assets_limit_months) * standard * n)
            & car_ok
            & household("housing_ok", period)
            & ~household("dibao_eligible", period)
        )


class dibian_amount(Variable):
    value_type = int
    entity = Household
    definition_period = MONTH
    label = "低边现金补助(分)"

    def formula(household, period, parameters):  # type: ignore[no-untyped-def]
        topup = np.int64(parameters(period).dibian.cash_topup)
        n = household("household_members", period).astype(np.int64)
        return np.where(household("dibian_eligible", period), topup * n, 0)


# ----------------------------------------------------------------------------------------- 高龄津贴
class longevity_allowance(Variable):
    value_type = int
    entity = Person
    definition_period = MONTH
    label = "高龄津贴(分)"

    def formula(person, period, parameters):  # type: ignore[no-untyped-def]
        p = parameters(period).longevity
        years = person("age", period)
        amount = np.select(
            [years >= 100, years >= 90, years >= 80],
            [np.int64(p.age_100_plus), np.int64(p.age_90_99), np.int64(p.age_80_89)],
            default=0,
        )
        return np.where(person("zhejiang_hukou", period), amount, 0)


VARIABLES = [
    birth_ymd, relation, student, cannot_live_independently, co_resident, away, zhejiang_hukou, income,
    money_assets, vehicles, vehicle_value, housing_ok, business_capital,
    age, counted_member, household_members, household_income,
    dibao_eligible, dibao_amount, dibian_eligible, dibian_amount, longevity_allowance,
]
