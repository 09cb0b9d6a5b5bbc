"""Eligibility and amounts for an application or an enrolment, always through ``minzheng.rules``.

The scalar ``evaluate`` of each program gives the decision and its trace (which rule, which parameter
version, which inputs); the trace is stored on the application, the enrolment and each review.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from minzheng.assistance.domain import JOB_DISREGARD_CAP_MONTHS, countable_income
from minzheng.assistance.enums import (
    HOUSEHOLD_PROGRAMS,
    MONEY_ASSETS,
    PAYABLE_ENROLMENT,
    SPECIAL,
    AssetKind,
    IncomeKind,
    Program,
)
from minzheng.assistance.models import Application, Enrolment, EnrolmentMember
from minzheng.core.exceptions import ValidationFailed
from minzheng.rules.engine import Decision
from minzheng.rules.parameters import param
from minzheng.rules.programs import children, dibao, dibian, linshi, longevity, tekun
from minzheng.rules.programs.household import Away, Household, Member


@dataclass(frozen=True)
class Outcome:
    program: str
    eligible: bool
    amount_fen: int
    persons: int
    trace: dict[str, Any]
    explain: str
    failed: tuple[str, ...] = field(default=())


def _outcome(program: str, d: Decision, persons: int = 1, extra_steps: list[dict[str, Any]] | None = None) -> Outcome:
    trace = d.as_dict()
    if extra_steps:
        trace["steps"] = [*trace["steps"], *extra_steps]
    return Outcome(program, d.eligible, d.amount_fen, persons, trace, d.explain(), d.failed_rules)


def _counted(d: Decision) -> int:
    for step in d.steps:
        if step.rule == "household.members":
            return int(step.values.get("counted", 1))
    return 1


def standard_fen(on: date) -> int:
    return param("dibao.standard_fen", on=on).value


# ------------------------------------------------------------------------------- applications


def application_household(app: Application) -> Household:
    """The declared and checked household of an application, in the rules' terms."""
    incomes: dict[int, int] = defaultdict(int)
    for member_id, amount in app.incomes.values_list("member_id", "monthly_fen"):
        incomes[member_id] += amount
    members = [
        Member(
            relation=m.relation,
            birth_date=m.person.birth_date,
            income_fen=incomes.get(m.pk, 0),
            student=m.student,
            cannot_live_independently=m.cannot_live_independently,
            co_resident=m.co_resident,
            away=Away(m.away),
            zhejiang_hukou=m.person.hukou_in_zhejiang,
        )
        for m in app.members.select_related("person").order_by("id")
    ]
    assets = list(app.assets.values_list("kind", "value_fen"))
    return Household(
        members=tuple(members),
        money_assets_fen=sum(v for k, v in assets if k in MONEY_ASSETS),
        vehicles=sum(1 for k, _ in assets if k == AssetKind.VEHICLE),
        vehicle_value_fen=sum(v for k, v in assets if k == AssetKind.VEHICLE),
        housing_ok=app.housing_ok,
        business_capital_fen=sum(v for k, v in assets if k == AssetKind.BUSINESS_CAPITAL),
    )


def economy_totals(app: Application) -> dict[str, int]:
    h = application_household(app)
    return {
        "members_declared": len(h.members),
        "income_total_fen": sum(m.income_fen for m in h.members),
        "new_job_income_fen": sum(app.incomes.filter(kind=IncomeKind.NEW_JOB).values_list("monthly_fen", flat=True)),
        "money_assets_fen": h.money_assets_fen,
        "vehicles": h.vehicles,
        "vehicle_value_fen": h.vehicle_value_fen,
        "business_capital_fen": h.business_capital_fen,
        "housing_ok": int(h.housing_ok),
    }


def family_status(person_id: int) -> children.FamilyStatus:
    """Whether a child lives in a 低保 or 低边 family: a live, payable enrolment counts them."""
    programs = set(
        EnrolmentMember.objects.filter(
            person_id=person_id, active=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT),
            enrolment__program__in=[Program.DIBAO, Program.DIBIAN],
        ).values_list("enrolment__program", flat=True)
    )
    if Program.DIBAO in programs:
        return children.FamilyStatus.DIBAO
    if Program.DIBIAN in programs:
        return children.FamilyStatus.DIBIAN
    return children.FamilyStatus.NONE


def tekun_applicant(birth: date, facts: dict[str, Any]) -> tekun.TekunApplicant:
    try:
        failed = frozenset(tekun.ADL(a) for a in facts.get("adl_failed", []))
    except ValueError:
        raise ValidationFailed({"adl_failed": "自理能力评估项目无效"}, code="bad_facts") from None
    return tekun.TekunApplicant(
        birth_date=birth,
        disabled=bool(facts.get("disabled")),
        able_to_work=bool(facts.get("able_to_work")),
        has_income_source=bool(facts.get("has_income_source")),
        has_capable_supporter=bool(facts.get("has_capable_supporter")),
        adl_failed=failed,
    )


def _special(app: Application, on: date) -> Outcome:
    """专项救助: households already on 低保/低边/特困 are entitled by their certificate (S8 §23);
    others qualify as 支出型 when the checked household passes the 低保 or 低边 income and asset test."""
    enrolled = Enrolment.objects.filter(
        person=app.applicant, status__in=sorted(PAYABLE_ENROLMENT),
        program__in=[Program.DIBAO, Program.DIBIAN, Program.TEKUN],
    ).values_list("program", flat=True).first() or EnrolmentMember.objects.filter(
        person=app.applicant, active=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT),
        enrolment__program__in=[Program.DIBAO, Program.DIBIAN],
    ).values_list("enrolment__program", flat=True).first()
    requested = app.requested_fen or 0
    if enrolled:
        label = Program(enrolled).label
        step: dict[str, Any] = {"rule": "special.certificate", "passed": True, "text": f"申请人为在保{label}对象,凭证直接享受专项救助",
                "params": [], "inputs": {"enrolled": enrolled}, "values": {}}
        certificate = {"program": app.program, "eligible": True, "amount_fen": requested, "on": on.isoformat(),
                       "region": "330110", "steps": [step]}
        return Outcome(app.program, True, requested, app.persons, certificate, str(step["text"]))
    h = application_household(app)
    d = dibao.evaluate(h, on=on)
    b = dibian.evaluate(h, on=on)
    ok = d.eligible or b.eligible
    step2: dict[str, Any] = {"rule": "special.means_test", "passed": ok,
            "text": "经核对符合低保或低边家庭经济状况,认定为支出型困难家庭" if ok else "家庭经济状况不符合支出型困难家庭条件",
            "params": [], "inputs": {}, "values": {}}
    base = b.as_dict() if not d.eligible else d.as_dict()
    trace: dict[str, Any] = {**base, "program": app.program, "eligible": ok, "amount_fen": requested if ok else 0,
                             "steps": [*base["steps"], step2]}
    return Outcome(app.program, ok, requested if ok else 0, app.persons, trace,
                   (d.explain() if d.eligible else b.explain()) + "\n" + str(step2["text"]),
                   () if ok else ("special.means_test",))


def decide_application(app: Application, *, on: date) -> Outcome:
    program = Program(app.program)
    if program in HOUSEHOLD_PROGRAMS:
        h = application_household(app)
        if not h.members:
            raise ValidationFailed({"members": "请先申报家庭成员"}, code="incomplete_household")
        mod = dibao if program == Program.DIBAO else dibian
        d = mod.evaluate(h, on=on)
        return _outcome(program, d, _counted(d))
    if program == Program.TEKUN:
        return _outcome(program, tekun.evaluate(tekun_applicant(app.applicant.birth_date, app.facts), on=on))
    if program == Program.CHILDREN:
        category = children.ChildCategory(int(app.facts.get("category", 0) or 0))
        child = children.Child(app.applicant.birth_date, category, family_status(app.applicant_id))
        return _outcome(program, children.evaluate(child, on=on))
    if program == Program.LINSHI:
        d = linshi.evaluate(linshi.LinshiRequest(app.persons, app.exceptional, app.requested_fen), on=on)
        # The cap is the rule; the amount is what was requested (and approved) within it.
        amount = app.requested_fen or 0
        trace = {**d.as_dict(), "cap_fen": d.amount_fen, "amount_fen": amount if d.eligible else 0}
        return Outcome(program, d.eligible and amount > 0, amount if d.eligible else 0, app.persons, trace,
                       d.explain(), d.failed_rules)
    if program in SPECIAL:
        return _special(app, on)
    raise ValidationFailed({"program": "该类别不通过申请办理"}, code="bad_program")


# ---------------------------------------------------------------------------------- enrolments


def enrolment_household(enrolment: Enrolment, *, on: date) -> Household:
    cap = JOB_DISREGARD_CAP_MONTHS * standard_fen(on)
    members = [
        Member(
            relation=m.relation,
            birth_date=m.person.birth_date,
            income_fen=countable_income(
                m.income_fen, m.job_income_fen,
                disregard=m.job_disregard_until is not None and m.job_disregard_until >= on, cap_fen=cap,
            ),
            student=m.student,
            cannot_live_independently=m.cannot_live_independently,
            co_resident=m.co_resident,
            away=Away(m.away),
            zhejiang_hukou=m.person.hukou_in_zhejiang,
        )
        for m in enrolment.members.filter(active=True).select_related("person").order_by("id")
    ]
    return Household(
        members=tuple(members) or (Member("other", date(1900, 1, 1), away=Away.MISSING),),
        money_assets_fen=enrolment.money_assets_fen,
        vehicles=enrolment.vehicles,
        vehicle_value_fen=enrolment.vehicle_value_fen,
        housing_ok=enrolment.housing_ok,
        business_capital_fen=enrolment.business_capital_fen,
    )


def decide_enrolment(enrolment: Enrolment, *, on: date) -> Outcome:
    program = Program(enrolment.program)
    if program in HOUSEHOLD_PROGRAMS:
        mod = dibao if program == Program.DIBAO else dibian
        d = mod.evaluate(enrolment_household(enrolment, on=on), on=on)
        return _outcome(program, d, _counted(d))
    person = enrolment.person
    if program == Program.TEKUN:
        facts = {"disabled": enrolment.disabled, "able_to_work": enrolment.able_to_work,
                 "has_income_source": enrolment.has_income_source,
                 "has_capable_supporter": enrolment.has_capable_supporter,
                 "adl_failed": [a.value for a in list(tekun.ADL)[: enrolment.adl_failed]]}
        return _outcome(program, tekun.evaluate(tekun_applicant(person.birth_date, facts), on=on))
    if program == Program.CHILDREN:
        category = children.ChildCategory(int(enrolment.child_category or 0))
        return _outcome(program, children.evaluate(children.Child(person.birth_date, category, family_status(person.pk)), on=on))
    if program == Program.LONGEVITY:
        return _outcome(program, longevity.evaluate(
            longevity.Elder(person.birth_date, person.hukou_in_zhejiang), on=on))
    raise ValidationFailed({"program": "一次性救助没有按月核定"}, code="bad_program")
