"""探访关爱 and 幸福清单: the monthly plan for every enrolled object, the visit record (the phone
form), quarterly 幸福清单 delivery, and closing a month (missed visits raise a care signal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    LIVE_ENROLMENT,
    VISITED,
    Finding,
    Need,
    TaskStatus,
    VisitPlace,
)
from minzheng.assistance.models import Enrolment, HappinessDelivery, Visit, VisitTask
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.core.access import Actor
from minzheng.core.events import publish
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.people.events import CareSignalRaised
from minzheng.people.models import Person
from minzheng.people.selectors import person_scope

LATE_RECORDING_DAYS = 31  # a visit may be recorded up to a month after it happened
DEFAULT_HAPPINESS_ITEMS = "政策告知、服务清单、联系人信息"


def visit_plan_generate(*, actor: Actor | None, month: Any) -> int:
    """One visit task per live enrolled 在册对象 (低保/低边 households, 特困, children) for ``month``.
    Idempotent: existing tasks stay as they are. Returns the number of new tasks."""
    c.require(actor, AssistancePerm.VIEW_REPORTS)
    first = domain.parse_month(month)
    with transaction.atomic():
        objects = Enrolment.objects.filter(
            program__in=sorted(VISITED), status__in=sorted(LIVE_ENROLMENT), start_month__lte=domain.add_months(first, 1),
        ).exclude(visit_tasks__month=first).values_list("id", "person_id", "area_path", "township_code", "division_id")
        tasks = [
            VisitTask(enrolment_id=eid, person_id=pid, month=first, area_path=path, township_code=town, division_code=div)
            for eid, pid, path, town, div in objects
        ]
        VisitTask.objects.bulk_create(tasks, batch_size=2000, ignore_conflicts=True)
        if tasks:
            audit_record(actor=actor, event_type="assistance.visit.plan", object_type="assistance.visit",
                         extra={"month": domain.month_label(first), "tasks": len(tasks)})
    return len(tasks)


def _parse_when(value: Any) -> datetime:
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value or "").strip().replace("T", " ")
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationFailed({"visited_at": "请填写探访时间"}, code="bad_visit") from None
    if timezone.is_naive(when):
        when = timezone.make_aware(when, timezone.get_default_timezone())
    return when


def visit_record(
    *,
    actor: Actor,
    person_uid: Any,
    visited_at: Any,
    place: str,
    finding: str,
    findings: str,
    place_note: str = "",
    needs: Sequence[str] = (),
    needs_note: str = "",
    follow_up: str = "",
    follow_up_due: Any = None,
    happiness_delivered: bool = False,
    happiness_items: str = "",
) -> Visit:
    """Record a visit (time, place, findings, needs raised, follow-ups). It completes the person's
    task for that month; 幸福清单 ticked → delivered for the quarter; a changed situation → the
    enrolment is due for review at once (复核 on change)."""
    c.require(actor, AssistancePerm.RECORD_VISIT)
    errors: dict[str, str] = {}
    when: datetime | None = None
    try:
        when = _parse_when(visited_at)
        now = timezone.now()
        if when > now + timedelta(minutes=10):
            errors["visited_at"] = "探访时间不能晚于现在"
        elif when < now - timedelta(days=LATE_RECORDING_DAYS):
            errors["visited_at"] = f"只能补录{LATE_RECORDING_DAYS}天内的探访"
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if place not in VisitPlace.value_set():
        errors["place"] = "请选择探访地点"
    if finding not in Finding.value_set():
        errors["finding"] = "请选择探访结论"
    text = ""
    try:
        text = domain.clean_text(findings, "findings", max_len=2000)
        if len(text) < 4:
            errors["findings"] = "请填写探访情况(至少4个字)"
    except ValidationFailed as exc:
        errors.update(exc.fields)
    needs_list = sorted({str(n) for n in needs or ()})
    if any(n not in Need.value_set() for n in needs_list):
        errors["needs"] = "需求选项无效"
    due: date | None = None
    if follow_up_due not in (None, ""):
        try:
            due = follow_up_due if isinstance(follow_up_due, date) else date.fromisoformat(str(follow_up_due))
            if when is not None and due < timezone.localtime(when).date():
                errors["follow_up_due"] = "跟进期限不能早于探访日期"
        except ValueError:
            errors["follow_up_due"] = "日期格式应为 YYYY-MM-DD"
    follow = ""
    try:
        follow = domain.clean_text(follow_up, "follow_up", max_len=300)
        if due and not follow:
            errors["follow_up"] = "请填写跟进事项"
    except ValidationFailed as exc:
        errors.update(exc.fields)
    try:
        person = person_scope(actor=actor).filter(uid=person_uid).first()
    except (ValueError, TypeError, Exception):
        person = None
    if person is None:
        raise NotFound()
    if errors:
        raise ValidationFailed(errors, code="bad_visit")
    assert when is not None  # noqa: S101 - errors would have been raised
    local_day = timezone.localtime(when).date()
    month = domain.month_start(local_day)
    with transaction.atomic():
        enrolment = Enrolment.objects.filter(person=person, program__in=sorted(VISITED),
                                             status__in=sorted(LIVE_ENROLMENT)).order_by("id").first()
        actor_id, actor_name = c.who(actor)
        visit = Visit.objects.create(
            person=person, enrolment=enrolment, visited_at=when, place=place,
            place_note=domain.clean_text(place_note, "place_note", max_len=120), finding=finding, findings=text,
            needs=needs_list, needs_note=domain.clean_text(needs_note, "needs_note", max_len=300), follow_up=follow,
            follow_up_due=due, happiness_delivered=bool(happiness_delivered), recorded_by_id=actor_id,
            recorded_by_name=actor_name, division_id=person.division_id, area_path=person.area_path,
            township_code=c.township_code(person.area_path),
        )
        task = VisitTask.objects.select_for_update().filter(person=person, month=month).exclude(
            status=TaskStatus.CANCELLED).order_by("id").first()
        if task is not None and task.status != TaskStatus.DONE:
            task.status, task.visit = TaskStatus.DONE, visit
            task.save(update_fields=["status", "visit"])
        if happiness_delivered and enrolment is not None:
            HappinessDelivery.objects.get_or_create(
                enrolment=enrolment, quarter=domain.quarter_of(local_day),
                defaults={"delivered_on": local_day, "visit": visit, "area_path": person.area_path,
                          "items": domain.clean_text(happiness_items, "happiness_items", max_len=300) or DEFAULT_HAPPINESS_ITEMS,
                          "recorded_by_name": actor_name},
            )
        if finding == Finding.CHANGED and enrolment is not None:
            Enrolment.objects.filter(pk=enrolment.pk).update(next_review_on=local_day)
        audit_record(actor=actor, event_type="assistance.visit.record", object_type="assistance.visit",
                     object_id=visit.uid, extra={"person": str(person.uid), "finding": finding, "needs": needs_list,
                                                 "task": task.pk if task else None})
    return visit


def happiness_record(*, actor: Actor, enrolment: Enrolment | int, delivered_on: Any = None, items: str = "") -> HappinessDelivery:
    """幸福清单 delivered outside a visit (e.g. handed over at the community office)."""
    c.require(actor, AssistancePerm.RECORD_VISIT)
    day = c.today() if delivered_on in (None, "") else delivered_on
    if not isinstance(day, date):
        try:
            day = date.fromisoformat(str(day))
        except ValueError:
            raise ValidationFailed({"delivered_on": "日期格式应为 YYYY-MM-DD"}, code="bad_date") from None
    if day > c.today():
        raise ValidationFailed({"delivered_on": "送达日期不能晚于今天"}, code="bad_date")
    with transaction.atomic():
        pk = enrolment.pk if isinstance(enrolment, Enrolment) else enrolment
        e = Enrolment.objects.filter(pk=pk).first()
        if e is None:
            raise NotFound()
        c.in_scope(actor, e.area_path)
        if e.program not in VISITED or e.status not in LIVE_ENROLMENT:
            raise Conflict("该对象不在幸福清单送达范围内", code="not_visited_program")
        delivery, created = HappinessDelivery.objects.get_or_create(
            enrolment=e, quarter=domain.quarter_of(day),
            defaults={"delivered_on": day, "area_path": e.area_path, "recorded_by_name": c.who(actor)[1],
                      "items": domain.clean_text(items, "items", max_len=300) or DEFAULT_HAPPINESS_ITEMS},
        )
        if created:
            audit_record(actor=actor, event_type="assistance.happiness.deliver", object_type="assistance.enrolment",
                         object_id=e.uid, extra={"quarter": delivery.quarter})
    return delivery


def visits_close_month(*, actor: Actor | None, month: Any) -> int:
    """After the month: planned visits not made become MISSED, and each one raises
    ``CareSignalRaised(source="assistance", kind="visit_missed")`` (delivered after commit)."""
    c.require(actor, AssistancePerm.VIEW_REPORTS)
    first = domain.parse_month(month)
    if first >= domain.month_start(c.today()):
        raise Conflict("当月尚未结束,不能结转未探访记录", code="month_not_over")
    with transaction.atomic():
        missed = list(VisitTask.objects.select_for_update().filter(month=first, status=TaskStatus.PLANNED)
                      .values_list("pk", "person_id", "person__uid"))
        VisitTask.objects.filter(pk__in=[pk for pk, *_ in missed]).update(status=TaskStatus.MISSED)
        label = domain.month_label(first)
        for _pk, person_id, person_uid in missed:
            publish(CareSignalRaised(person_id=person_id, person_uid=str(person_uid), source="assistance",
                                     kind="visit_missed", reason=f"{label} 未按期完成探访", severity="medium"))
        audit_record(actor=actor, event_type="assistance.visit.close_month", object_type="assistance.visit",
                     extra={"month": label, "missed": len(missed)})
    return len(missed)


def person_of(uid: Any) -> Person | None:
    return Person.objects.filter(uid=uid).first()
