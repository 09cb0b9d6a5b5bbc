"""Incidents (处置工单): opening from alarms and care signals, every transition of the closed loop,
escalation on persisted deadlines, and the administrative close when a person dies or moves out.

Each transition: one transaction, the incident row locked, the transition checked by
``domain.next_state``, timestamps and the next deadline set, a timeline entry and an audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from minzheng.accounts.models import Staff
from minzheng.accounts.selectors import staff_list
from minzheng.core.access import Actor
from minzheng.core.events import publish
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.safety import domain
from minzheng.safety.enums import (
    FALSE_ALARM_OUTCOMES,
    NOT_CLOSED_STATES,
    AlarmType,
    CallParty,
    CallResult,
    DispatchTarget,
    EscalationLevel,
    IncidentAction,
    IncidentState,
    NotificationChannel,
    Outcome,
    Severity,
)
from minzheng.safety.events import IncidentChanged, IncidentOpened
from minzheng.safety.models import Alarm, Home, HomeContact, Incident, IncidentEntry, Notification
from minzheng.safety.permissions import SafetyPerm
from minzheng.safety.selectors import incident_get
from minzheng.safety.services._common import SYSTEM, actor_name, alarm_label, params_for, to_dt

A = IncidentAction
S = IncidentState


def _now() -> datetime:
    return timezone.now()


def _policy(incident: Incident) -> domain.SlaPolicy:
    return domain.SlaPolicy.from_dict(incident.policy)


def _entry(incident: Incident, action: str, actor: Any, at: datetime, *, state_from: str = "", state_to: str = "",
           note: str = "", data: dict[str, Any] | None = None) -> IncidentEntry:
    return IncidentEntry.objects.create(
        incident=incident, at=at, action=action, actor_id=getattr(actor, "pk", None), actor_name=actor_name(actor),
        state_from=state_from, state_to=state_to, note=(note or "")[:500], data=data or {},
    )


def _audit(actor: Any, incident: Incident, action: str, *, extra: dict[str, Any] | None = None, reason: str = "") -> None:
    audit_record(actor=actor, event_type=f"safety.incident.{action}", object_type="safety_incident",
                 object_id=incident.code, reason=reason[:500], extra=extra or {})


def _set_deadline(incident: Incident, state: str, at: datetime) -> None:
    limit = _policy(incident).limit_for(state)
    incident.deadline_state = state if limit is not None else ""
    incident.next_deadline_at = at + timedelta(seconds=limit) if limit is not None else None
    incident.escalations = 0


def _code(at: datetime) -> str:
    return f"AJ{timezone.localtime(at):%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"


def _division_codes(area_path: str) -> list[str]:
    return [c for c in area_path.split("/") if c]


def _level_division(area_path: str, level: int) -> str:
    codes = _division_codes(area_path)
    if not codes:
        return ""
    index = {0: len(codes) - 1, 1: min(1, len(codes) - 1), 2: 0}[min(level, domain.TOP_LEVEL)]
    return codes[index]


def _notify(incident: Incident, at: datetime, *, level: int, family: str, reason: str) -> int:
    """Queue notices in the outbox: the duty desk of ``level``'s division, and family contacts
    (``family`` = "" none, "first" the first contact, "all")."""
    critical = incident.severity == Severity.CRITICAL
    rows: list[Notification] = []
    code = _level_division(incident.area_path, level)
    division = Division.objects.filter(code=code).first() if code else None
    label = f"{EscalationLevel(str(level)).label}值班" + (f"({division.name})" if division else "")
    message = f"[安居守护] {alarm_label(incident.alarm_type)} 工单 {incident.code}: {reason}"
    for channel in (NotificationChannel.APP, NotificationChannel.SMS) if critical else (NotificationChannel.APP,):
        rows.append(Notification(incident=incident, created_at=at, level=level, target_kind="division",
                                 target_division=division, target_label=label[:100], channel=channel,
                                 message=message[:300]))
    if family and incident.home_id:
        contacts = list(HomeContact.objects.filter(home_id=incident.home_id).order_by("priority", "id"))
        for contact in contacts[:1] if family == "first" else contacts:
            rows.append(Notification(
                incident=incident, created_at=at, level=level, target_kind="family", contact=contact,
                target_label=f"{contact.relation} {contact.name} {contact.phone_masked}"[:100],
                channel=NotificationChannel.VOICE if critical else NotificationChannel.SMS,
                message=f"[安居守护] 您的家人可能需要帮助({alarm_label(incident.alarm_type)}),监护中心正在处置,请尽快联系或前往查看。",
            ))
    Notification.objects.bulk_create(rows)
    _entry(incident, A.NOTIFY, SYSTEM, at, note=f"已通知 {len(rows)} 方: {label}"
           + ("及家属" if family else ""), data={"level": level, "count": len(rows)})
    return len(rows)


# --- Opening ---------------------------------------------------------------------------------


def _new_incident(*, home: Home | None, person_id: int, division_id: str, area_path: str, alarm_type: str,
                  severity: str, title: str, source: str, at: datetime, actor: Any, note: str,
                  data: dict[str, Any]) -> Incident:
    policy = domain.SLA[severity]
    incident = Incident(
        code=_code(at), home=home, person_id=person_id, division_id=division_id, area_path=area_path,
        alarm_type=alarm_type, severity=severity, state=S.NEW, title=title[:120], source=source, opened_at=at,
        policy=policy.as_dict(),
    )
    _set_deadline(incident, S.NEW, at)
    incident.save(force_insert=True)
    _entry(incident, A.OPEN, actor, at, state_to=S.NEW, note=note, data=data)
    _notify(incident, at, level=0, family="first" if policy.family_on_open else "", reason=note or title)
    _audit(actor, incident, "open", extra={"alarm_type": alarm_type, "severity": severity, "source": source})
    publish(IncidentOpened(incident_id=incident.pk, code=incident.code, severity=severity, alarm_type=alarm_type,
                           home_id=home.pk if home else None, person_id=person_id))
    return incident


def incident_for_alarm(*, alarm: Alarm, home: Home, at: datetime, note: str) -> Incident:
    """An alarm was raised: attach it to the open incident of the same home and type, reopen one
    resolved within the reopen window, or open a new incident (system actor)."""
    base = Incident.objects.select_for_update().filter(home=home, alarm_type=alarm.alarm_type)
    open_incident = base.filter(state__in=NOT_CLOSED_STATES - {S.RESOLVED, S.FOLLOW_UP}).order_by("-opened_at").first()
    if open_incident is not None:
        _entry(open_incident, A.REPEAT, SYSTEM, at, note=f"再次告警: {note}", data={"alarm": alarm.pk})
        return open_incident
    window = timedelta(hours=params_for(home.rule_overrides).reopen_window_hours)
    recent = (
        base.filter(state__in=(S.RESOLVED, S.FOLLOW_UP, S.CLOSED), resolved_at__gte=at - window)
        .exclude(outcome=Outcome.CANCELLED)
        .order_by("-resolved_at")
        .first()
    )
    if recent is not None:
        _reopen(recent, SYSTEM, at, reason=f"同类告警在 {window.total_seconds() / 3600:.0f} 小时内再次发生: {note}")
        return recent
    return _new_incident(
        home=home, person_id=home.person_id, division_id=home.division_id, area_path=home.area_path,
        alarm_type=alarm.alarm_type, severity=alarm.severity, title=f"{alarm_label(alarm.alarm_type)} · {home.code}",
        source="alarm", at=at, actor=SYSTEM, note=note, data={"alarm": alarm.pk, "details": alarm.details},
    )


def _reopen(incident: Incident, actor: Any, at: datetime, *, reason: str) -> None:
    before = incident.state
    incident.state = domain.next_state(before, A.REOPEN)
    incident.reopened_count += 1
    incident.acked_at = incident.verifying_at = incident.dispatched_at = None
    incident.acked_by = None
    incident.on_site_at = incident.resolved_at = incident.follow_up_at = incident.closed_at = None
    incident.outcome, incident.outcome_note, incident.dispatch_target, incident.assignee = "", "", "", None
    _set_deadline(incident, incident.state, at)
    incident.save()
    _entry(incident, A.REOPEN, actor, at, state_from=before, state_to=incident.state, note=reason)
    _notify(incident, at, level=incident.escalation_level, family="", reason=f"工单重新打开: {reason}")
    _audit(actor, incident, "reopen", reason=reason, extra={"from": before})
    publish(IncidentChanged(incident_id=incident.pk, code=incident.code, state=incident.state, action=A.REOPEN))


@dataclass(frozen=True)
class CareCheck:
    person_id: int
    division_id: str
    area_path: str
    source: str
    kind: str
    reason: str


def care_check_open(*, check: CareCheck, at: datetime | None = None) -> Incident:
    """A low-severity care check (关爱核查) for a signal from another domain; one open check per
    person and signal kind (a repeat adds to its timeline)."""
    at = at or _now()
    with transaction.atomic():
        existing = (
            Incident.objects.select_for_update()
            .filter(person_id=check.person_id, alarm_type=AlarmType.CARE_CHECK, source=f"{check.source}:{check.kind}",
                    state__in=NOT_CLOSED_STATES)
            .first()
        )
        if existing is not None:
            _entry(existing, A.REPEAT, SYSTEM, at, note=check.reason, data={"source": check.source, "kind": check.kind})
            return existing
        home = Home.objects.filter(person_id=check.person_id).exclude(status="inactive").first()
        return _new_incident(
            home=home, person_id=check.person_id, division_id=check.division_id, area_path=check.area_path,
            alarm_type=AlarmType.CARE_CHECK, severity=Severity.LOW, title=f"关爱核查 · {check.reason}"[:120],
            source=f"{check.source}:{check.kind}"[:32], at=at, actor=SYSTEM, note=check.reason,
            data={"source": check.source, "kind": check.kind},
        )


# --- Transitions by staff ----------------------------------------------------------------------

RESPONDER_ACTIONS = {A.ARRIVE, A.RESOLVE, A.NOTE, A.CALL}


def _check_may(actor: Actor, incident: Incident, action: str) -> None:
    if actor.has_permission(SafetyPerm.HANDLE_INCIDENT):
        return
    if (actor.has_permission(SafetyPerm.RESPOND_INCIDENT) and action in RESPONDER_ACTIONS
            and (action == A.NOTE or incident.state in (S.DISPATCHED, S.ON_SITE))):
        return
    raise PermissionDenied()


def _locked(actor: Actor, incident_id: int) -> Incident:
    incident_get(actor=actor, pk=incident_id)  # the scope check: NotFound outside the actor's area
    return Incident.objects.select_for_update().get(pk=incident_id)


def _apply(actor: Actor, incident_id: int, action: str, *, note: str = "", outcome: str = "",
           data: dict[str, Any] | None = None, mutate: Any = None) -> Incident:
    note = (note or "").strip()
    with transaction.atomic():
        incident = _locked(actor, incident_id)
        _check_may(actor, incident, action)
        before = incident.state
        try:
            after = domain.next_state(before, action, outcome=outcome or incident.outcome)
        except domain.TransitionError as exc:
            if exc.field == "outcome":
                raise ValidationFailed({"outcome": exc.message}, code=exc.code) from None
            raise Conflict(exc.message, code=exc.code) from None
        at = _now()
        if mutate is not None:
            mutate(incident, at)
        incident.state = after
        if after != before:
            _set_deadline(incident, after, at)
        incident.save()
        _entry(incident, action, actor, at, state_from=before, state_to=after, note=note, data=data)
        _audit(actor, incident, str(action), reason=note, extra={"from": before, "to": after, **(data or {})})
        publish(IncidentChanged(incident_id=incident.pk, code=incident.code, state=after, action=str(action)))
    return incident


def incident_acknowledge(*, actor: Actor, incident_id: int, note: str = "") -> Incident:
    def mutate(inc: Incident, at: datetime) -> None:
        inc.acked_at = at
        inc.acked_by = actor if isinstance(actor, Staff) else None

    return _apply(actor, incident_id, A.ACKNOWLEDGE, note=note, mutate=mutate)


def incident_start_verification(*, actor: Actor, incident_id: int, note: str = "") -> Incident:
    def mutate(inc: Incident, at: datetime) -> None:
        inc.verifying_at = inc.verifying_at or at

    return _apply(actor, incident_id, A.VERIFY, note=note, mutate=mutate)


def incident_log_call(*, actor: Actor, incident_id: int, party: str, result: str, note: str = "") -> Incident:
    """Record a call (to the elder, then family): an acknowledged incident moves to verifying."""
    errors = {}
    if party not in CallParty.value_set():
        errors["party"] = "请选择通话对象"
    if result not in CallResult.value_set():
        errors["result"] = "请选择通话结果"
    if errors:
        raise ValidationFailed(errors, code="bad_call")

    def mutate(inc: Incident, at: datetime) -> None:
        if inc.state == S.ACKNOWLEDGED:
            inc.verifying_at = at

    with transaction.atomic():
        incident = _locked(actor, incident_id)
        if incident.state == S.ACKNOWLEDGED:
            incident = _apply(actor, incident_id, A.VERIFY, note=f"致电{CallParty(party).label}",
                              data={"party": party}, mutate=mutate)
        return _apply(actor, incident_id, A.CALL, note=note or CallResult(result).label,
                      data={"party": party, "result": result})


def incident_dispatch(*, actor: Actor, incident_id: int, target: str, assignee_id: int | None = None,
                      note: str = "") -> Incident:
    """Send someone: a community worker (an account in the incident's area), a volunteer, the
    family, the property manager, or 120/110."""
    if target not in DispatchTarget.value_set():
        raise ValidationFailed({"target": "请选择派单对象"}, code="bad_dispatch")
    assignee = None
    if assignee_id is not None:
        assignee = staff_list(actor=actor).filter(pk=assignee_id, is_active=True).first()
        if assignee is None:
            raise ValidationFailed({"assignee": "处置人不存在或不在您的管辖范围内"}, code="bad_assignee")
    elif target == DispatchTarget.COMMUNITY_WORKER:
        raise ValidationFailed({"assignee": "请选择社区工作人员"}, code="assignee_required")

    def mutate(inc: Incident, at: datetime) -> None:
        if assignee is not None:
            if not inc.area_path.startswith(assignee.scope_path):
                raise ValidationFailed({"assignee": "处置人不负责该老人所在村社"}, code="assignee_out_of_area")
            if not assignee.has_permission(SafetyPerm.RESPOND_INCIDENT):
                raise ValidationFailed({"assignee": "该账号不能接收派单"}, code="assignee_cannot_respond")
        inc.dispatched_at = inc.dispatched_at or at
        inc.dispatch_target = target
        inc.assignee = assignee

    return _apply(actor, incident_id, A.DISPATCH, note=note,
                  data={"target": target, "assignee": assignee.pk if assignee else None,
                        "assignee_name": assignee.full_name if assignee else ""},
                  mutate=mutate)


def incident_arrive(*, actor: Actor, incident_id: int, note: str = "") -> Incident:
    def mutate(inc: Incident, at: datetime) -> None:
        inc.on_site_at = at

    return _apply(actor, incident_id, A.ARRIVE, note=note, mutate=mutate)


def incident_resolve(*, actor: Actor, incident_id: int, outcome: str, note: str = "") -> Incident:
    """Resolve with an outcome code; a false alarm must say why (the ``false_alarm_*`` code) and,
    for "other", in a note."""
    if outcome not in Outcome.value_set() or outcome == Outcome.CANCELLED:
        raise ValidationFailed({"outcome": "请选择处置结果"}, code="outcome_required")
    if outcome == Outcome.FALSE_ALARM_OTHER and not (note or "").strip():
        raise ValidationFailed({"note": "请说明误报原因"}, code="reason_required")

    def mutate(inc: Incident, at: datetime) -> None:
        inc.resolved_at = at
        inc.outcome = outcome
        inc.outcome_note = (note or "").strip()[:500]
        _clear_alarms_on_resolve(inc, at)

    return _apply(actor, incident_id, A.RESOLVE, note=note, outcome=outcome,
                  data={"outcome": outcome, "false_alarm": outcome in FALSE_ALARM_OUTCOMES}, mutate=mutate)


def _clear_alarms_on_resolve(incident: Incident, at: datetime) -> None:
    """Point alarms (SOS, fall) end with the incident; condition alarms clear when the condition
    does (and stay attached until then, so a persisting condition does not open a new incident)."""
    from minzheng.safety.services.alarms import alarm_clear_for_incident

    alarm_clear_for_incident(incident=incident, at=at)


def incident_start_follow_up(*, actor: Actor, incident_id: int, note: str = "") -> Incident:
    def mutate(inc: Incident, at: datetime) -> None:
        inc.follow_up_at = at

    return _apply(actor, incident_id, A.FOLLOW_UP, note=note, mutate=mutate)


def incident_close(*, actor: Actor, incident_id: int, note: str = "") -> Incident:
    def mutate(inc: Incident, at: datetime) -> None:
        inc.closed_at = at
        inc.next_deadline_at = None

    return _apply(actor, incident_id, A.CLOSE, note=note, mutate=mutate)


def incident_reopen(*, actor: Actor, incident_id: int, reason: str) -> Incident:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "请填写重新打开的原因"}, code="reason_required")
    with transaction.atomic():
        incident = _locked(actor, incident_id)
        _check_may(actor, incident, A.REOPEN)
        try:
            domain.next_state(incident.state, A.REOPEN)
        except domain.TransitionError as exc:
            raise Conflict(exc.message, code=exc.code) from None
        _reopen(incident, actor, _now(), reason=reason)
    return incident


def incident_add_note(*, actor: Actor, incident_id: int, note: str) -> Incident:
    if not (note or "").strip():
        raise ValidationFailed({"note": "请填写备注"}, code="note_required")
    return _apply(actor, incident_id, A.NOTE, note=note)


# --- System transitions ------------------------------------------------------------------------


@dataclass(frozen=True)
class EscalationReport:
    escalated: int
    notices: int


def incidents_escalate_due(*, now: datetime, limit: int = 500) -> EscalationReport:
    """Every incident whose time limit has passed goes one level up (community → township →
    district), tells the family on the first breach, and gets its next deadline (the repeat)."""
    escalated = notices = 0
    due_ids = list(
        Incident.objects.filter(next_deadline_at__lte=now)
        .exclude(state=S.CLOSED)
        .order_by("next_deadline_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due_ids:
        with transaction.atomic():
            incident = Incident.objects.select_for_update().filter(pk=pk, next_deadline_at__lte=now).first()
            if incident is None or incident.state == S.CLOSED:
                continue
            policy = _policy(incident)
            due = incident.next_deadline_at
            step = domain.escalate(incident.escalation_level, incident.escalations, policy, now.timestamp())
            first_breach = incident.escalations == 0
            if first_breach:
                incident.breaches += 1
            incident.escalations += 1
            before_level = incident.escalation_level
            incident.escalation_level = step.level
            incident.next_deadline_at = to_dt(step.next_deadline)
            incident.save(update_fields=["breaches", "escalations", "escalation_level", "next_deadline_at",
                                         "updated_at"])
            state_label = IncidentState(incident.state).label
            reason = f"“{state_label}”超过时限({due and timezone.localtime(due):%H:%M}),升级至{EscalationLevel(str(step.level)).label}"
            _entry(incident, A.ESCALATE, SYSTEM, now, state_from=incident.state, state_to=incident.state, note=reason,
                   data={"from_level": before_level, "to_level": step.level, "deadline": due.isoformat() if due else None,
                         "step": incident.deadline_state, "repeat": not first_breach})
            notices += _notify(incident, now, level=step.level, family="all" if step.notify_family else "",
                               reason=reason)
            _audit(SYSTEM, incident, "escalate", reason=reason,
                   extra={"level": step.level, "step": incident.deadline_state})
            publish(IncidentChanged(incident_id=incident.pk, code=incident.code, state=incident.state,
                                    action=str(A.ESCALATE)))
            escalated += 1
    return EscalationReport(escalated, notices)


def incidents_close_for_person(*, person_id: int, reason: str, at: datetime | None = None) -> int:
    """Close every open incident of a person who died or moved out, with the reason."""
    at = at or _now()
    n = 0
    for incident in Incident.objects.select_for_update().filter(person_id=person_id).filter(
        Q(state__in=NOT_CLOSED_STATES)
    ):
        before = incident.state
        incident.state = domain.next_state(before, A.ADMIN_CLOSE)
        if not incident.resolved_at:
            incident.resolved_at = at
            incident.outcome = Outcome.CANCELLED
        incident.outcome_note = reason[:500]
        incident.closed_at = at
        incident.next_deadline_at = None
        incident.save()
        _entry(incident, A.ADMIN_CLOSE, SYSTEM, at, state_from=before, state_to=incident.state, note=reason)
        _audit(SYSTEM, incident, "admin_close", reason=reason, extra={"from": before})
        publish(IncidentChanged(incident_id=incident.pk, code=incident.code, state=incident.state,
                                action=str(A.ADMIN_CLOSE)))
        n += 1
    return n


def incident_lookup(pk: int) -> Incident:
    incident = Incident.objects.filter(pk=pk).first()
    if incident is None:
        raise NotFound()
    return incident
