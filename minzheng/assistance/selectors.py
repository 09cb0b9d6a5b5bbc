"""Reads of 精准救助. Every list, count and aggregate is cut to ``actor.scope_path``; a record outside
it does not exist (``NotFound`` → 404)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, F, Q, QuerySet, Sum

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    LIVE_ENROLMENT,
    OPEN_APPLICATION,
    VISITED,
    ApplicationStatus,
    EnrolmentStatus,
    LineStatus,
    OutreachStatus,
    Program,
    RollStatus,
    TaskStatus,
)
from minzheng.assistance.models import (
    Application,
    Enrolment,
    HappinessDelivery,
    HousingImprovement,
    OutreachCase,
    PayrollLine,
    PayrollRoll,
    RescueCase,
    ServiceProject,
    Visit,
    VisitTask,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.core.access import Actor
from minzheng.core.exceptions import NotFound, PermissionDenied
from minzheng.divisions.models import Division


def _require(actor: Actor, perm: str = AssistancePerm.VIEW) -> None:
    if not actor.has_permission(perm):
        raise PermissionDenied()


def _get(qs: QuerySet[Any], **lookup: Any) -> Any:
    try:
        found = qs.filter(**lookup).first()
    except (ValueError, TypeError, DjangoValidationError):
        found = None
    if found is None:
        raise NotFound()
    return found


# ------------------------------------------------------------------------------ applications


def application_list(*, actor: Actor, status: str = "", program: str = "", open_only: bool = False) -> QuerySet[Application]:
    _require(actor)
    qs = Application.objects.filter(area_path__startswith=actor.scope_path).select_related("applicant", "division")
    if status in ApplicationStatus.value_set():
        qs = qs.filter(status=status)
    if program in Program.value_set():
        qs = qs.filter(program=program)
    if open_only:
        qs = qs.filter(status__in=sorted(OPEN_APPLICATION))
    return qs.order_by("-created_at", "-id")


def application_get(*, actor: Actor, uid: Any) -> Application:
    _require(actor)
    return _get(Application.objects.filter(area_path__startswith=actor.scope_path)
                .select_related("applicant", "division", "household"), uid=uid)


def applications_overdue(*, actor: Actor, on: date) -> QuerySet[Application]:
    _require(actor)
    return Application.objects.filter(area_path__startswith=actor.scope_path).filter(
        Q(status__in=[ApplicationStatus.ACCEPTED, ApplicationStatus.ECON_CHECK, ApplicationStatus.INVESTIGATION],
          prelim_due__lt=on)
        | Q(status=ApplicationStatus.REVIEW, review_due__lt=on)
        | Q(status=ApplicationStatus.EMERGENCY_PAID, docs_due__lt=on)
    ).select_related("applicant").order_by("prelim_due", "id")


# -------------------------------------------------------------------------------- enrolments


def enrolment_list(*, actor: Actor, program: str = "", status: str = "", live: bool = True,
                   review_due_on: date | None = None) -> QuerySet[Enrolment]:
    _require(actor)
    qs = Enrolment.objects.filter(area_path__startswith=actor.scope_path).select_related("person", "division")
    if program in Program.value_set():
        qs = qs.filter(program=program)
    if status in EnrolmentStatus.value_set():
        qs = qs.filter(status=status)
    elif live:
        qs = qs.filter(status__in=sorted(LIVE_ENROLMENT))
    if review_due_on is not None:
        qs = qs.filter(next_review_on__lte=review_due_on, status__in=sorted(LIVE_ENROLMENT))
    return qs.order_by("area_path", "id")


def enrolment_get(*, actor: Actor, uid: Any) -> Enrolment:
    _require(actor)
    return _get(Enrolment.objects.filter(area_path__startswith=actor.scope_path).select_related("person", "division"), uid=uid)


# ---------------------------------------------------------------------------------- payroll


def roll_list(*, actor: Actor) -> QuerySet[PayrollRoll]:
    _require(actor)
    return PayrollRoll.objects.order_by("-month", "-id")


def roll_get(*, actor: Actor, uid: Any) -> PayrollRoll:
    _require(actor)
    return _get(PayrollRoll.objects.all(), uid=uid)


def roll_lines(*, actor: Actor, roll: PayrollRoll, status: str = "", township: str = "") -> QuerySet[PayrollLine]:
    _require(actor)
    qs = PayrollLine.objects.filter(roll=roll, area_path__startswith=actor.scope_path).select_related("person").with_paid()
    if status in LineStatus.value_set():
        qs = qs.filter(status=status)
    if township:
        qs = qs.filter(township_code=township)
    return qs.order_by("id")


@dataclass
class SummaryRow:
    township: str
    name: str
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    lines: int = 0
    persons: int = 0
    total_fen: int = 0


def roll_summary(*, actor: Actor, roll: PayrollRoll) -> list[SummaryRow]:
    """Lines, person-times and money by township × program (the reviewer's view), in scope."""
    _require(actor)
    names = dict(Division.objects.filter(level="township").values_list("code", "name"))
    rows: dict[str, SummaryRow] = {}
    for town, program, n, persons, total in (
        PayrollLine.objects.filter(roll=roll, area_path__startswith=actor.scope_path, status=LineStatus.PENDING)
        .values_list("township_code", "program")
        .annotate(n=Count("id"), p=Sum("persons"), t=Sum("total_fen")).order_by("township_code", "program")
    ):
        row = rows.setdefault(town, SummaryRow(town, names.get(town, town)))
        row.cells[program] = {"lines": n, "persons": persons or 0, "total_fen": total or 0}
        row.lines += n
        row.persons += persons or 0
        row.total_fen += total or 0
    return list(rows.values())


def payments_of(*, actor: Actor, person_id: int, limit: int = 12) -> list[PayrollLine]:
    _require(actor)
    return list(PayrollLine.objects.filter(person_id=person_id, area_path__startswith=actor.scope_path).paid()
                .order_by("-for_month", "-id")[:limit])


# ----------------------------------------------------------------------------------- visits


def visit_tasks(*, actor: Actor, month: date, status: str = "") -> QuerySet[VisitTask]:
    _require(actor)
    qs = VisitTask.objects.filter(month=month, area_path__startswith=actor.scope_path).select_related("person", "enrolment")
    if status in TaskStatus.value_set():
        qs = qs.filter(status=status)
    return qs.order_by("status", "area_path", "id")


def visit_list(*, actor: Actor, person_id: int | None = None, limit: int = 50) -> list[Visit]:
    _require(actor)
    qs = Visit.objects.filter(area_path__startswith=actor.scope_path).select_related("person")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return list(qs.order_by("-visited_at", "-id")[:limit])


@dataclass
class ComplianceRow:
    code: str
    name: str
    planned: int = 0
    done: int = 0
    missed: int = 0
    objects: int = 0
    delivered: int = 0

    @property
    def visit_rate(self) -> float | None:
        due = self.planned
        return None if due == 0 else self.done / due

    @property
    def happiness_rate(self) -> float | None:
        return None if self.objects == 0 else self.delivered / self.objects

    @property
    def meets_target(self) -> bool:
        return (self.visit_rate in (None, 1.0)) and (self.happiness_rate in (None, 1.0))


def compliance(*, actor: Actor, month: date) -> list[ComplianceRow]:
    """Per community in scope: the month's visits done vs planned (target 100 %) and the quarter's
    幸福清单 delivered vs live enrolled objects (target 100 %)."""
    _require(actor, AssistancePerm.VIEW_REPORTS)
    rows: dict[str, ComplianceRow] = {}
    names = dict(Division.objects.filter(path__startswith=actor.scope_path, level="village").values_list("code", "name"))
    for code, status, n in VisitTask.objects.filter(month=month, area_path__startswith=actor.scope_path) \
            .exclude(status=TaskStatus.CANCELLED).values_list("division_code", "status").annotate(n=Count("id")):
        row = rows.setdefault(code, ComplianceRow(code, names.get(code, code)))
        row.planned += n
        if status == TaskStatus.DONE:
            row.done += n
        elif status == TaskStatus.MISSED:
            row.missed += n
    quarter = domain.quarter_of(month)
    live = Enrolment.objects.filter(program__in=sorted(VISITED), status__in=sorted(LIVE_ENROLMENT),
                                    area_path__startswith=actor.scope_path, start_month__lte=month)
    for code, n in live.values_list("division_id").annotate(n=Count("id")):
        rows.setdefault(code, ComplianceRow(code, names.get(code, code))).objects += n
    delivered = HappinessDelivery.objects.filter(quarter=quarter, enrolment__in=live) \
        .values_list("enrolment__division_id").annotate(n=Count("id"))
    for code, n in delivered:
        rows.setdefault(code, ComplianceRow(code, names.get(code, code))).delivered += n
    return sorted(rows.values(), key=lambda r: r.code)


# ---------------------------------------------------------------------------------- outreach


def outreach_list(*, actor: Actor, status: str = OutreachStatus.OPEN) -> QuerySet[OutreachCase]:
    _require(actor, AssistancePerm.OUTREACH)
    qs = OutreachCase.objects.filter(area_path__startswith=actor.scope_path).select_related("person")
    if status in OutreachStatus.value_set():
        qs = qs.filter(status=status)
    return qs.order_by("-score", "id")


# ----------------------------------------------------------------------------------- reports


@dataclass
class CoverageRow:
    code: str
    name: str
    households: int = 0  # 低保 households
    persons: int = 0  # 低保 persons
    dibian: int = 0
    tekun: int = 0
    should_cover: int = 0  # 应保尽保: not enrolled, income below the line (outreach)
    should_exit: int = 0  # 应退尽退: enrolled, rules say no longer eligible / review overdue
    reviews_overdue: int = 0


def coverage_report(*, actor: Actor, on: date) -> list[CoverageRow]:
    """应保尽保 / 应退尽退 by township, from the records and the latest roll's rule results."""
    _require(actor, AssistancePerm.VIEW_REPORTS)
    names = dict(Division.objects.filter(level="township").values_list("code", "name"))
    rows: dict[str, CoverageRow] = {}

    def row(code: str) -> CoverageRow:
        return rows.setdefault(code, CoverageRow(code, names.get(code, code)))

    live = Enrolment.objects.filter(area_path__startswith=actor.scope_path, status__in=sorted(LIVE_ENROLMENT))
    for town, program, n, persons in live.values_list("township_code", "program").annotate(n=Count("id"), p=Sum("persons")):
        r = row(town)
        if program == Program.DIBAO:
            r.households += n
            r.persons += persons or 0
        elif program == Program.DIBIAN:
            r.dibian += n
        elif program == Program.TEKUN:
            r.tekun += n
    for town, n in OutreachCase.objects.filter(
        area_path__startswith=actor.scope_path, status__in=[OutreachStatus.OPEN, OutreachStatus.CONTACTED],
    ).annotate(below=F("reason_bits").bitand(1)).filter(below=1).values_list("township_code").annotate(n=Count("id")):
        row(town).should_cover += n
    latest = PayrollRoll.objects.exclude(status=RollStatus.CANCELLED).exclude(status=RollStatus.DRAFT).order_by("-month").first()
    if latest is not None:
        for town, n in PayrollLine.objects.filter(
            roll=latest, area_path__startswith=actor.scope_path, eligible=False,
            enrolment__status__in=sorted(LIVE_ENROLMENT),
        ).values_list("township_code").annotate(n=Count("enrolment_id", distinct=True)):
            row(town).should_exit += n
    for town, n in live.filter(next_review_on__lt=on).values_list("township_code").annotate(n=Count("id")):
        row(town).reviews_overdue += n
    return sorted(rows.values(), key=lambda r: r.code)


# ----------------------------------------------------------------------------- other records


def rescue_list(*, actor: Actor) -> QuerySet[RescueCase]:
    _require(actor)
    return RescueCase.objects.filter(area_path__startswith=actor.scope_path).order_by("-found_on", "-id")


def rescue_get(*, actor: Actor, uid: Any) -> RescueCase:
    _require(actor)
    return _get(RescueCase.objects.filter(area_path__startswith=actor.scope_path), uid=uid)


def project_list(*, actor: Actor) -> QuerySet[ServiceProject]:
    _require(actor)
    return ServiceProject.objects.filter(area_path__startswith=actor.scope_path).annotate(
        n_beneficiaries=Count("beneficiaries")).order_by("-start_on", "-id")


def housing_list(*, actor: Actor) -> QuerySet[HousingImprovement]:
    _require(actor)
    return HousingImprovement.objects.filter(area_path__startswith=actor.scope_path).select_related("person").order_by("-surveyed_on", "-id")


def dashboard_counts(*, actor: Actor, on: date) -> dict[str, int]:
    _require(actor)
    scope = actor.scope_path
    counts: dict[str, int] = defaultdict(int)
    for program, n in Enrolment.objects.filter(area_path__startswith=scope, status__in=sorted(LIVE_ENROLMENT)) \
            .values_list("program").annotate(n=Count("id")):
        counts[program] = n
    counts["open_applications"] = Application.objects.filter(area_path__startswith=scope,
                                                             status__in=sorted(OPEN_APPLICATION)).count()
    counts["overdue"] = applications_overdue(actor=actor, on=on).count()
    month = domain.month_start(on)
    counts["visits_planned"] = VisitTask.objects.filter(area_path__startswith=scope, month=month).exclude(
        status=TaskStatus.CANCELLED).count()
    counts["visits_done"] = VisitTask.objects.filter(area_path__startswith=scope, month=month, status=TaskStatus.DONE).count()
    return dict(counts)
