"""Proactive discovery (主动发现) and decision support: the outreach risk score over households not
enrolled, the worklist with its reasons, care signals from other modules, and the what-if."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    HOUSEHOLD_PROGRAMS,
    LIVE_ENROLMENT,
    PAYABLE_ENROLMENT,
    OutreachStatus,
    Program,
)
from minzheng.assistance.models import (
    CareSignal,
    Enrolment,
    EnrolmentMember,
    HouseholdEconomy,
    OutreachCase,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.core.access import Actor
from minzheng.core.exceptions import NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.people.domain import born_by
from minzheng.people.enums import LivingArrangement, PersonStatus
from minzheng.people.events import CareSignalRaised
from minzheng.people.models import Person
from minzheng.rules.engine import ymd
from minzheng.rules.parameters import default_parameters, param
from minzheng.rules.population import HouseholdArrays, PersonArrays, Population
from minzheng.rules.programs.household import RELATION_CODES
from minzheng.rules.whatif import whatif

SIGNAL_WINDOW_DAYS = 90
ELDER_ALONE_AGE = 70
SEVERE_GRADE = 2


def on_care_signal(event: CareSignalRaised) -> None:
    """Keep a signal from another module (meals, safety…) as an outreach input."""
    person = Person.objects.filter(pk=event.person_id).values("area_path", "household_id").first()
    if person is None:
        return
    CareSignal.objects.create(
        person_id=event.person_id, household_id_ref=person["household_id"], area_path=person["area_path"],
        source=str(event.source)[:32], kind=str(event.kind)[:32], reason=str(event.reason)[:300],
        severity=str(event.severity)[:16],
    )


def _has_flag(qs: Any, flag: str) -> Any:
    if connection.vendor == "postgresql":
        return qs.filter(health_flags__contains=[flag])
    return qs.filter(health_flags__icontains=f'"{flag}"')


def outreach_refresh(*, actor: Actor | None, on: date | None = None) -> int:
    """Score every household not enrolled that shows a risk signal; keep the worklist in step.

    Returns the number of households at or above the threshold."""
    c.require(actor, AssistancePerm.OUTREACH)
    on = on or c.today()
    standard = param("dibao.standard_fen", on=on).value
    limit = min(standard * param("dibian.income_limit_percent", on=on).value // 100,
                param("minimum_wage.monthly_fen", on=on).value)
    enrolled = set(Enrolment.objects.filter(status__in=sorted(LIVE_ENROLMENT), program__in=[
        Program.DIBAO, Program.DIBIAN, Program.TEKUN]).filter(household_id__isnull=False).values_list("household_id", flat=True))
    enrolled |= set(EnrolmentMember.objects.filter(active=True, enrolment__status__in=sorted(LIVE_ENROLMENT),
                                                   person__household_id__isnull=False)
                    .values_list("person__household_id", flat=True))
    active = Person.objects.filter(status=PersonStatus.ACTIVE, household_id__isnull=False)
    econ = {h: (m, inc, med) for h, m, inc, med in HouseholdEconomy.objects.values_list(
        "household_id", "members", "income_total_fen", "medical_costs_12m_fen")}
    disabled: dict[int, bool] = {}
    for h, grade in active.exclude(disability_category="").values_list("household_id", "disability_grade"):
        disabled[h] = disabled.get(h, False) or (grade is not None and grade <= SEVERE_GRADE)
    ill = set(_has_flag(active, "serious_illness").values_list("household_id", flat=True))
    alone = set(active.filter(living_arrangement=LivingArrangement.ALONE, birth_date__lte=born_by(on, ELDER_ALONE_AGE))
                .values_list("household_id", flat=True))
    since = timezone.now() - timedelta(days=SIGNAL_WINDOW_DAYS)
    signals: dict[int, int] = defaultdict(int)
    for ref in CareSignal.objects.filter(received_at__gte=since, household_id_ref__isnull=False).exclude(
            source="assistance").values_list("household_id_ref", flat=True):
        if ref is not None:
            signals[ref] += 1
    households = sorted((set(econ) | set(disabled) | ill | alone | set(signals)) - enrolled)
    if not households:
        return 0
    n = len(households)
    inputs = domain.RiskInputs(
        members=np.asarray([econ.get(h, (1, -1, 0))[0] for h in households], dtype=np.int64),
        income_total_fen=np.asarray([econ.get(h, (1, -1, 0))[1] for h in households], dtype=np.int64),
        severe_disability=np.asarray([disabled.get(h, False) for h in households], dtype=np.bool_),
        disability=np.asarray([h in disabled for h in households], dtype=np.bool_),
        serious_illness=np.asarray([h in ill for h in households], dtype=np.bool_),
        elder_alone=np.asarray([h in alone for h in households], dtype=np.bool_),
        medical_costs_fen=np.asarray([econ.get(h, (1, -1, 0))[2] for h in households], dtype=np.int64),
        signals=np.asarray([signals.get(h, 0) for h in households], dtype=np.int64),
    )
    scores, bits = domain.risk_scores(inputs, standard_fen=standard, dibian_limit_fen=limit)
    keep = np.flatnonzero(scores >= domain.OUTREACH_THRESHOLD)
    chosen = {households[i]: (int(scores[i]), int(bits[i])) for i in keep}
    with transaction.atomic():
        heads: dict[int, tuple[int | None, str]] = {}
        for hid, pid, path, rel in Person.objects.filter(household_id__in=list(chosen), status=PersonStatus.ACTIVE) \
                .order_by("household_id", "birth_date").values_list("household_id", "id", "area_path", "relation_to_head"):
            if hid not in heads or rel == "head":
                heads[hid] = (pid, path)
        existing = {o.household_id: o for o in OutreachCase.objects.select_for_update().filter(household_id__in=list(chosen))}
        new, changed = [], []
        for hid, (score, rbits) in chosen.items():
            head_id, path = heads.get(hid, (None, ""))
            if not path:
                continue
            reasons = domain.reason_labels(rbits)
            case = existing.get(hid)
            if case is None:
                new.append(OutreachCase(household_id=hid, person_id=head_id, area_path=path, township_code=c.township_code(path),
                                        score=score, reason_bits=rbits, reasons=reasons, computed_on=on))
                continue
            if case.status == OutreachStatus.NOT_NEEDED and rbits & ~case.reason_bits:
                case.status = OutreachStatus.OPEN  # a new reason appeared: look again
            case.score, case.reason_bits, case.reasons, case.computed_on = score, rbits, reasons, on
            changed.append(case)
        OutreachCase.objects.bulk_create(new, batch_size=2000)
        OutreachCase.objects.bulk_update(changed, ["score", "reason_bits", "reasons", "computed_on", "status"], batch_size=2000)
        OutreachCase.objects.filter(household_id__in=list(enrolled), status__in=[OutreachStatus.OPEN, OutreachStatus.CONTACTED]) \
            .update(status=OutreachStatus.REFERRED, note="已纳入保障")
        audit_record(actor=actor, event_type="assistance.outreach.refresh", object_type="assistance.outreach",
                     extra={"scored": n, "listed": len(chosen), "new": len(new)})
    return len(chosen)


def outreach_update(*, actor: Actor, case_id: int, status: str, note: str) -> OutreachCase:
    c.require(actor, AssistancePerm.OUTREACH)
    if status not in OutreachStatus.value_set():
        raise ValidationFailed({"status": "请选择处理结果"}, code="bad_status")
    text = domain.clean_text(note, "note", required=status != OutreachStatus.OPEN, max_len=300)
    with transaction.atomic():
        case = OutreachCase.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound()
        c.in_scope(actor, case.area_path)
        case.status, case.note = status, text
        case.handled_by_name, case.handled_at = c.who(actor)[1], timezone.now()
        case.save(update_fields=["status", "note", "handled_by_name", "handled_at"])
        audit_record(actor=actor, event_type="assistance.outreach.update", object_type="assistance.outreach",
                     object_id=case.pk, extra={"status": status})
    return case


# ------------------------------------------------------------------------------------ what-if

WHATIF_PARAMETERS = {
    "dibao.standard_fen": ("低保标准(元/人/月)", "fen"),
    "dibian.income_limit_percent": ("低边收入线(低保标准的百分比)", "percent"),
    "dibian.cash_topup_fen": ("低边现金补助(元/人/月)", "fen"),
    "dibao.money_assets_limit_months": ("低保货币财产上限(月数)", "months"),
    "longevity.age_80_89_fen": ("高龄津贴 80-89 岁(元/月)", "fen"),
    "longevity.age_90_99_fen": ("高龄津贴 90-99 岁(元/月)", "fen"),
    "longevity.age_100_plus_fen": ("高龄津贴 100 岁以上(元/月)", "fen"),
}
UNKNOWN_INCOME_FEN = 10**9  # no economic data: treated as not poor (never counted as a beneficiary)
_cache: dict[date, tuple[float, Population, dict[str, str]]] = {}
_cache_lock = threading.Lock()
CACHE_SECONDS = 600


def registry_population(on: date) -> tuple[Population, dict[str, str]]:
    """The district as the rules' arrays: every active resident, grouped by household, with the
    incomes known to assistance (enrolled households, 核对平台 data); others count as not poor."""
    with _cache_lock:
        hit = _cache.get(on)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1], hit[2]
    towns = dict(Division.objects.filter(level="township").order_by("code").values_list("code", "name"))
    codes = tuple(towns)
    town_index = {code: i for i, code in enumerate(codes)}
    member_income: dict[int, int] = {}
    for pid, inc, job in EnrolmentMember.objects.filter(
        active=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT), enrolment__program__in=sorted(HOUSEHOLD_PROGRAMS)
    ).values_list("person_id", "income_fen", "job_income_fen"):
        member_income[pid] = inc + job
    enrolled_assets = dict(Enrolment.objects.filter(status__in=sorted(PAYABLE_ENROLMENT), program__in=sorted(HOUSEHOLD_PROGRAMS))
                           .filter(household_id__isnull=False).values_list("household_id", "money_assets_fen"))
    econ = {h: (inc, assets) for h, inc, assets in HouseholdEconomy.objects.values_list(
        "household_id", "income_total_fen", "money_assets_fen")}
    rows = Person.objects.filter(status=PersonStatus.ACTIVE).order_by("household_id", "id").values_list(
        "id", "household_id", "birth_date", "relation_to_head", "hukou_in_zhejiang", "area_path")
    hh_of: list[int] = []
    birth: list[int] = []
    relation: list[int] = []
    hukou: list[bool] = []
    income: list[int] = []
    hh_town: list[int] = []
    hh_assets: list[int] = []
    last_key: Any = object()
    first_idx: list[int] = []
    head_idx: list[int] = []
    extra: list[int] = []  # household income known only as a total (核对平台), or "unknown"
    head = RELATION_CODES["head"]
    for pid, hid, b, rel, zj, path in rows.iterator(chunk_size=20000):
        key = hid if hid is not None else ("p", pid)
        if key != last_key:
            last_key = key
            hh_town.append(town_index.get(c.township_code(path), 0))
            hh_assets.append(enrolled_assets.get(hid, econ.get(hid, (0, 0))[1]) if hid is not None else 0)
            first_idx.append(len(hh_of))
            head_idx.append(-1)
            if hid in enrolled_assets:
                extra.append(0)
            elif hid in econ:
                extra.append(econ[hid][0])
            else:
                extra.append(UNKNOWN_INCOME_FEN)
        code = RELATION_CODES.get(rel or ("head" if hid is None else "other"), RELATION_CODES["other"])
        if code == head and head_idx[-1] < 0:
            head_idx[-1] = len(hh_of)
        hh_of.append(len(hh_town) - 1)
        birth.append(ymd(b))
        relation.append(code)
        hukou.append(bool(zj))
        income.append(member_income.get(pid, 0))
    for i, amount in enumerate(extra):
        if amount:
            idx = head_idx[i] if head_idx[i] >= 0 else first_idx[i]
            income[idx] += amount
            relation[idx] = head  # whoever carries the household's income is counted
    n, h = len(hh_of), len(hh_town)
    persons = PersonArrays(
        household=np.asarray(hh_of, dtype=np.int64), birth_ymd=np.asarray(birth, dtype=np.int64),
        relation=np.asarray(relation, dtype=np.int8), student=np.zeros(n, dtype=np.bool_),
        cannot_live_independently=np.zeros(n, dtype=np.bool_), co_resident=np.ones(n, dtype=np.bool_),
        away=np.zeros(n, dtype=np.int8), zhejiang_hukou=np.asarray(hukou, dtype=np.bool_),
        income_fen=np.asarray(income, dtype=np.int64),
    )
    households = HouseholdArrays(
        township=np.asarray(hh_town, dtype=np.int64), money_assets_fen=np.asarray(hh_assets, dtype=np.int64),
        vehicles=np.zeros(h, dtype=np.int64), vehicle_value_fen=np.zeros(h, dtype=np.int64),
        housing_ok=np.ones(h, dtype=np.bool_), business_capital_fen=np.zeros(h, dtype=np.int64),
    )
    population = Population(persons, households, codes or ("330110000000",))
    if n:
        population.validate()
    with _cache_lock:
        _cache[on] = (time.monotonic(), population, towns)
    return population, towns


def whatif_run(*, actor: Actor, changes: Mapping[str, Any], on: date | None = None) -> dict[str, Any]:
    """Change parameters (yuan for money, integers otherwise) and see 低保/低边/高龄津贴 beneficiaries
    and monthly cost by township, for the whole district, base vs changed, on the same population."""
    c.require(actor, AssistancePerm.WHATIF)
    on = domain.month_start(on or c.today())
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, raw in changes.items():
        if name not in WHATIF_PARAMETERS:
            errors[name] = "不支持模拟该参数"
            continue
        if raw in (None, ""):
            continue
        label, unit = WHATIF_PARAMETERS[name]
        try:
            if unit == "fen":
                values[name] = domain.yuan_to_fen(raw, name, maximum=10_000_000)
            else:
                value = int(str(raw))
                if not 0 <= value <= 1000:
                    raise ValueError
                values[name] = value
        except (ValidationFailed, ValueError):
            errors[name] = f"{label}取值无效"
    if errors:
        raise ValidationFailed(errors, code="bad_whatif")
    population, towns = registry_population(on)
    base = default_parameters()
    result = whatif(population, base, values, on=on)
    out = result.as_dict()
    out["township_names"] = towns
    out["changes"] = values
    audit_record(actor=actor, event_type="assistance.whatif", object_type="assistance.whatif",
                 extra={"on": on.isoformat(), "changes": values})
    return out
