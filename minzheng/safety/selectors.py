"""Reads of 安居守护, every one cut to the actor's area (``scope_path`` prefix of ``area_path``).

Outside the area a home or incident does not exist (NotFound → 404); lists, counts and metrics
never include foreign rows. These are the calls the 24-hour console and the reports build on.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from minzheng.accounts.selectors import staff_list
from minzheng.core.access import Actor
from minzheng.core.exceptions import NotFound, PermissionDenied
from minzheng.divisions.selectors import division_list
from minzheng.safety import domain
from minzheng.safety.enums import (
    FALSE_ALARM_OUTCOMES,
    NOT_CLOSED_STATES,
    OPEN_STATES,
    SEVERITY_RANK,
    AlarmState,
    AlarmType,
    HomeStatus,
    IncidentState,
    Outcome,
    Severity,
    TicketState,
)
from minzheng.safety.models import (
    ActivityHourly,
    Alarm,
    DailyScore,
    Device,
    Gateway,
    Home,
    HomeState,
    Incident,
    IncidentEntry,
    IngestCounter,
    IngestRejection,
    Kit,
    MaintenanceTicket,
    Notification,
    WeeklyRisk,
)
from minzheng.safety.permissions import SafetyPerm


def _require(actor: Actor, perm: str) -> None:
    if not actor.has_permission(perm):
        raise PermissionDenied()


# --- Homes -------------------------------------------------------------------------------------


def home_scope(*, actor: Actor) -> QuerySet[Home]:
    _require(actor, SafetyPerm.VIEW)
    return Home.objects.filter(area_path__startswith=actor.scope_path)


def home_list(*, actor: Actor, division_code: str = "", status: str = "", live_only: bool = True) -> QuerySet[Home]:
    qs = home_scope(actor=actor).select_related("person", "division", "state")
    if live_only:
        qs = qs.exclude(status=HomeStatus.INACTIVE)
    if division_code:
        qs = qs.filter(area_path__contains=f"{division_code}/")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("area_path", "code")


def home_count(*, actor: Actor, division_code: str = "") -> int:
    return home_list(actor=actor, division_code=division_code).order_by().count()


def home_get(*, actor: Actor, pk: int | None = None, code: str = "") -> Home:
    qs = home_scope(actor=actor).select_related("person", "division", "kit")
    home = qs.filter(pk=pk).first() if pk is not None else qs.filter(code=code).first() if code else None
    if home is None:
        raise NotFound()
    return home


def home_for_person(*, actor: Actor, person: Any) -> Home | None:
    """The person's live home (or the last one), if any and in the actor's area."""
    return (
        home_scope(actor=actor).filter(person_id=person.pk)
        .annotate(live=Case(When(status=HomeStatus.INACTIVE, then=Value(1)), default=Value(0),
                            output_field=IntegerField()))
        .order_by("live", "-created_at").select_related("kit").first()
    )


def home_state(*, actor: Actor, home: Home) -> HomeState | None:
    home_get(actor=actor, pk=home.pk)
    return HomeState.objects.filter(home=home).first()


def home_devices(*, actor: Actor, home: Home) -> list[Device]:
    home_get(actor=actor, pk=home.pk)
    return list(Device.objects.filter(home=home).order_by("status", "kind", "serial"))


def home_activity(*, actor: Actor, home: Home, hours: int = 48, now: datetime | None = None) -> list[dict[str, Any]]:
    """The last ``hours`` hours of activity, one point per hour (missing hours are zeros): the chart."""
    home_get(actor=actor, pk=home.pk)
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    rows = {r.hour: r for r in ActivityHourly.objects.filter(home=home, hour__gte=start, hour__lte=end)}
    out = []
    for i in range(hours):
        h = start + timedelta(hours=i)
        r = rows.get(h)
        out.append({"hour": timezone.localtime(h), "motion": r.motion if r else 0, "door": r.door if r else 0,
                    "water_l": r.water_l if r else 0.0, "events": r.events if r else 0})
    return out


@dataclass(frozen=True)
class HomeCard:
    home: Home
    state: HomeState | None
    devices: list[Device]
    contacts: list[Any]
    activity: list[dict[str, Any]]
    open_incidents: list[Incident]
    recent_incidents: list[Incident]
    active_alarms: list[Alarm]
    open_tickets: list[MaintenanceTicket]
    location: dict[str, Any] | None


def home_card(*, actor: Actor, home_id: int, now: datetime | None = None) -> HomeCard:
    """Everything the console's home card shows: elder, contacts (masked), devices, 48 h of
    activity, location, alarms, incidents and tickets."""
    home = home_get(actor=actor, pk=home_id)
    state = HomeState.objects.filter(home=home).first()
    location = None
    if state and state.last_location_at:
        location = {"lat": state.last_lat, "lon": state.last_lon, "at": state.last_location_at,
                    "outside_since": state.outside_since}
    elif home.lat is not None:
        location = {"lat": home.lat, "lon": home.lon, "at": None, "outside_since": None}
    incidents = list(Incident.objects.filter(home=home).order_by("-opened_at")[:20])
    return HomeCard(
        home=home, state=state, devices=list(Device.objects.filter(home=home).order_by("kind", "serial")),
        contacts=list(home.contacts.all()), activity=home_activity(actor=actor, home=home, now=now),
        open_incidents=[i for i in incidents if i.state in NOT_CLOSED_STATES],
        recent_incidents=incidents,
        active_alarms=list(Alarm.objects.filter(home=home, state=AlarmState.ACTIVE).order_by("-raised_at")),
        open_tickets=list(MaintenanceTicket.objects.filter(home=home, state=TicketState.OPEN).order_by("-opened_at")),
        location=location,
    )


def home_panel(*, actor: Actor, person: Any) -> dict[str, Any] | None:
    """The person page's 安居守护 panel: kit, devices, recent incidents (None: no kit)."""
    home = home_for_person(actor=actor, person=person)
    if home is None:
        return None
    kit = Kit.objects.filter(home=home).first()
    return {
        "home": home,
        "kit": kit,
        "state": HomeState.objects.filter(home=home).first(),
        "devices": list(Device.objects.filter(home=home).order_by("kind", "serial")),
        "incidents": list(Incident.objects.filter(home=home).order_by("-opened_at")[:5]),
        "open_tickets": MaintenanceTicket.objects.filter(home=home, state=TicketState.OPEN).count(),
    }


def gateway_for_key(*, key: Any) -> Gateway | None:
    """The gateway an API key belongs to (the key authenticates the gateway, not a person)."""
    if key is None or getattr(key, "pk", None) is None:
        return None
    return Gateway.objects.filter(api_key_id=key.pk).select_related("home").first()


# --- Alarms, tickets, ingestion ----------------------------------------------------------------


def alarm_list(*, actor: Actor, active_only: bool = True, alarm_type: str = "") -> QuerySet[Alarm]:
    _require(actor, SafetyPerm.VIEW)
    qs = Alarm.objects.filter(home__area_path__startswith=actor.scope_path).select_related("home")
    if active_only:
        qs = qs.filter(state=AlarmState.ACTIVE)
    if alarm_type:
        qs = qs.filter(alarm_type=alarm_type)
    return qs.order_by("-raised_at")


def ticket_list(*, actor: Actor, state: str = TicketState.OPEN, kind: str = "") -> QuerySet[MaintenanceTicket]:
    _require(actor, SafetyPerm.VIEW)
    qs = MaintenanceTicket.objects.filter(area_path__startswith=actor.scope_path).select_related("device", "home")
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-opened_at")


def device_health(*, actor: Actor) -> dict[str, int]:
    _require(actor, SafetyPerm.VIEW)
    qs = Device.objects.filter(home__area_path__startswith=actor.scope_path, status="active",
                               kit__status="active")
    agg = qs.aggregate(total=Count("id"), offline=Count("id", filter=Q(online=False)),
                       low_battery=Count("id", filter=Q(low_battery=True)))
    return {k: int(v or 0) for k, v in agg.items()}


def ingest_summary(*, actor: Actor, since: date | None = None) -> dict[str, Any]:
    """Accepted, duplicate and rejected counts (by reason), and the latest rejections."""
    _require(actor, SafetyPerm.MANAGE_DEVICES)
    since = since or timezone.localdate()
    counts: dict[str, int] = defaultdict(int)
    for name, n in IngestCounter.objects.filter(day__gte=since).values_list("name", "count"):
        counts[name] += n
    latest = list(IngestRejection.objects.filter(at__date__gte=since).order_by("-at")[:50])
    return {"counts": dict(counts), "rejected_by_reason": {k.split(":", 1)[1]: v for k, v in counts.items()
                                                           if k.startswith("rejected:")},
            "latest_rejections": latest}


# --- Incidents ---------------------------------------------------------------------------------


def incident_scope(*, actor: Actor) -> QuerySet[Incident]:
    _require(actor, SafetyPerm.VIEW)
    return Incident.objects.filter(area_path__startswith=actor.scope_path)


_SEVERITY_ORDER = Case(*[When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()],
                       default=Value(9), output_field=IntegerField())


def incident_list(*, actor: Actor, states: frozenset[str] | set[str] | None = None, severity: str = "",
                  division_code: str = "", alarm_type: str = "", assigned_to: int | None = None,
                  opened_from: datetime | None = None, opened_to: datetime | None = None) -> QuerySet[Incident]:
    """Open incidents by default, most severe first, then the nearest deadline."""
    qs = incident_scope(actor=actor).select_related("home", "person", "division", "assignee")
    qs = qs.filter(state__in=states if states is not None else OPEN_STATES)
    if severity:
        qs = qs.filter(severity=severity)
    if division_code:
        qs = qs.filter(area_path__contains=f"{division_code}/")
    if alarm_type:
        qs = qs.filter(alarm_type=alarm_type)
    if assigned_to is not None:
        qs = qs.filter(assignee_id=assigned_to)
    if opened_from:
        qs = qs.filter(opened_at__gte=opened_from)
    if opened_to:
        qs = qs.filter(opened_at__lt=opened_to)
    return qs.annotate(severity_rank=_SEVERITY_ORDER).order_by("severity_rank", "next_deadline_at", "opened_at")


def open_incidents(*, actor: Actor, overdue: bool = False) -> QuerySet[Incident]:
    """Incidents still being handled in the actor's area; ``overdue``: past their time limit."""
    qs = incident_scope(actor=actor).filter(state__in=OPEN_STATES)
    return qs.filter(next_deadline_at__lt=timezone.now()) if overdue else qs


def incident_counts(*, actor: Actor) -> dict[str, Any]:
    """The console header: open incidents by severity and by state, and how many are overdue."""
    qs = open_incidents(actor=actor)
    by_sev = dict(qs.values_list("severity").annotate(n=Count("id")).values_list("severity", "n"))
    by_state = dict(qs.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    return {"open": sum(by_sev.values()), "by_severity": by_sev, "by_state": by_state,
            "overdue": open_incidents(actor=actor, overdue=True).count(),
            "escalated": qs.filter(escalation_level__gt=0).count()}


def incident_get(*, actor: Actor, pk: int | None = None, code: str = "") -> Incident:
    qs = incident_scope(actor=actor).select_related("home", "person", "division", "assignee", "acked_by")
    incident = qs.filter(pk=pk).first() if pk is not None else qs.filter(code=code).first() if code else None
    if incident is None:
        raise NotFound()
    return incident


def incident_timeline(*, actor: Actor, incident_id: int) -> list[IncidentEntry]:
    incident = incident_get(actor=actor, pk=incident_id)
    return list(IncidentEntry.objects.filter(incident=incident).order_by("at", "id"))


def incident_notifications(*, actor: Actor, incident_id: int) -> list[Notification]:
    incident = incident_get(actor=actor, pk=incident_id)
    return list(Notification.objects.filter(incident=incident).order_by("created_at", "id"))


def incident_handover(*, actor: Actor, start: datetime, end: datetime) -> dict[str, Any]:
    """The shift handover: what was opened and closed in the shift, and what is still open."""
    scope = incident_scope(actor=actor)
    opened = scope.filter(opened_at__gte=start, opened_at__lt=end)
    return {
        "opened": opened.count(),
        "resolved": scope.filter(resolved_at__gte=start, resolved_at__lt=end).count(),
        "closed": scope.filter(closed_at__gte=start, closed_at__lt=end).count(),
        "escalations": IncidentEntry.objects.filter(incident__in=scope, action="escalate", at__gte=start,
                                                    at__lt=end).count(),
        "still_open": list(incident_list(actor=actor, states=NOT_CLOSED_STATES)[:200]),
        "critical_opened": list(opened.filter(severity=Severity.CRITICAL).order_by("opened_at")),
    }


# --- Metrics -----------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(0.9 * len(values)))], 1)


def _rank(severity: str) -> int:
    return SEVERITY_RANK[Severity(severity)] if severity in Severity.value_set() else 9


def _home_days(actor: Actor, start: datetime, end: datetime) -> float:
    days = 0.0
    for installed, deactivated in Kit.objects.filter(home__area_path__startswith=actor.scope_path).values_list(
        "installed_on", "deactivated_at"
    ):
        s = max(start, timezone.make_aware(datetime.combine(installed, datetime.min.time())))
        e = min(end, deactivated) if deactivated else end
        if e > s:
            days += (e - s).total_seconds() / 86400
    return days


def incident_metrics(*, actor: Actor, start: datetime, end: datetime) -> dict[str, Any]:
    """Time to acknowledge and to resolve (seconds: median and p90), time-limit compliance,
    false-alarm rate (share of resolved, and per home-day), reopen and follow-up rates, for
    incidents opened in [start, end), overall and per severity and type."""
    _require(actor, SafetyPerm.VIEW_METRICS)
    rows: list[dict[str, Any]] = [dict(r) for r in
        incident_scope(actor=actor).filter(opened_at__gte=start, opened_at__lt=end).values(
            "severity", "alarm_type", "state", "opened_at", "acked_at", "dispatched_at", "on_site_at", "resolved_at",
            "follow_up_at", "closed_at", "outcome", "breaches", "policy", "reopened_count",
        )
    ]
    home_days = _home_days(actor, start, end)

    def summarise(group: list[dict[str, Any]]) -> dict[str, Any]:
        ack, res, ack_ok = [], [], 0
        resolved = [r for r in group if r["resolved_at"] and r["outcome"] != Outcome.CANCELLED]
        false = [r for r in resolved if r["outcome"] in FALSE_ALARM_OUTCOMES]
        for r in group:
            if r["acked_at"]:
                a = (r["acked_at"] - r["opened_at"]).total_seconds()
                ack.append(a)
                if a <= (r["policy"] or {}).get("ack", 0):
                    ack_ok += 1
            if r["resolved_at"] and r["outcome"] != Outcome.CANCELLED:
                res.append((r["resolved_at"] - r["opened_at"]).total_seconds())
        needing = [r for r in resolved if domain.needs_follow_up(r["outcome"])]
        done = [r for r in group if r["state"] == IncidentState.CLOSED]
        return {
            "count": len(group),
            "acknowledged": len(ack),
            "time_to_ack_s": {"median": _median(ack), "p90": _p90(ack)},
            "time_to_resolve_s": {"median": _median(res), "p90": _p90(res)},
            "ack_within_limit": round(ack_ok / len(ack), 4) if ack else None,
            "within_all_limits": round(sum(1 for r in done if r["breaches"] == 0) / len(done), 4) if done else None,
            "breached": sum(1 for r in group if r["breaches"]),
            "resolved": len(resolved),
            "false_alarms": len(false),
            "false_alarm_rate": round(len(false) / len(resolved), 4) if resolved else None,
            "false_alarm_reasons": dict(Counter(r["outcome"] for r in false)),
            "follow_up_rate": round(sum(1 for r in needing if r["follow_up_at"]) / len(needing), 4) if needing else None,
            "reopened": sum(1 for r in group if r["reopened_count"]),
        }

    overall = summarise(rows)
    overall["home_days"] = round(home_days, 1)
    overall["false_alarms_per_home_day"] = round(overall["false_alarms"] / home_days, 5) if home_days else None
    by_sev: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_sev[r["severity"]].append(r)
        by_type[r["alarm_type"]].append(r)
    return {
        "start": start, "end": end, "overall": overall,
        "by_severity": {k: summarise(v) for k, v in sorted(by_sev.items(), key=lambda kv: _rank(kv[0]))},
        "by_type": {k: summarise(v) for k, v in sorted(by_type.items())},
    }


def _township_breakdown(actor: Actor, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = incident_scope(actor=actor).filter(opened_at__gte=start, opened_at__lt=end).values_list(
        "area_path", "severity", "outcome")
    agg: dict[str, Counter[str]] = defaultdict(Counter)
    for path, severity, outcome in rows:
        codes = [c for c in path.split("/") if c]
        township = codes[1] if len(codes) > 1 else (codes[0] if codes else "")
        agg[township]["incidents"] += 1
        agg[township][severity] += 1
        if outcome in FALSE_ALARM_OUTCOMES:
            agg[township]["false_alarms"] += 1
    names = dict(division_list().filter(code__in=list(agg)).values_list("code", "name"))
    return [{"township": code, "name": names.get(code, code), **dict(c)} for code, c in sorted(agg.items())]


def daily_report(*, actor: Actor, day: date) -> dict[str, Any]:
    """One day's figures for the daily report."""
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    end = start + timedelta(days=1)
    metrics = incident_metrics(actor=actor, start=start, end=end)
    return {
        "day": day, "metrics": metrics, "by_township": _township_breakdown(actor, start, end),
        "homes": home_count(actor=actor), "devices": device_health(actor=actor),
        "open_tickets": ticket_list(actor=actor).count(),
        "alarms_raised": alarm_list(actor=actor, active_only=False).filter(raised_at__gte=start, raised_at__lt=end).count(),
    }


def monthly_report(*, actor: Actor, year: int, month: int) -> dict[str, Any]:
    start = timezone.make_aware(datetime(year, month, 1))  # noqa: DTZ001 - made aware here
    end = timezone.make_aware(datetime(year + (month == 12), month % 12 + 1, 1))  # noqa: DTZ001
    metrics = incident_metrics(actor=actor, start=start, end=end)
    per_day = Counter(
        timezone.localtime(t).date() for t in
        incident_scope(actor=actor).filter(opened_at__gte=start, opened_at__lt=end).values_list("opened_at", flat=True)
    )
    return {"year": year, "month": month, "metrics": metrics, "by_township": _township_breakdown(actor, start, end),
            "incidents_per_day": {d.isoformat(): n for d, n in sorted(per_day.items())},
            "homes": home_count(actor=actor)}


# --- Early warning -----------------------------------------------------------------------------


def daily_scores(*, actor: Actor, home_id: int, days: int = 30) -> list[DailyScore]:
    home = home_get(actor=actor, pk=home_id)
    since = timezone.localdate() - timedelta(days=days)
    return list(DailyScore.objects.filter(home=home, day__gte=since).order_by("day"))


def risk_list(*, actor: Actor, week_start: date | None = None, division_code: str = "") -> QuerySet[WeeklyRisk]:
    """The weekly at-risk list with reasons (the latest week when none is given)."""
    _require(actor, SafetyPerm.VIEW)
    qs = WeeklyRisk.objects.filter(area_path__startswith=actor.scope_path).select_related("home", "home__person")
    if week_start is None:
        latest = qs.order_by("-week_start").values_list("week_start", flat=True).first()
        if latest is None:
            return qs.none()
        week_start = latest
    qs = qs.filter(week_start=week_start)
    if division_code:
        qs = qs.filter(area_path__contains=f"{division_code}/")
    return qs.order_by("-score")


def care_check_count(*, actor: Actor, since: datetime) -> int:
    return incident_scope(actor=actor).filter(alarm_type=AlarmType.CARE_CHECK, opened_at__gte=since).count()


# --- The console ---------------------------------------------------------------------------------


def dispatch_candidates(*, actor: Actor, incident: Incident) -> list[Any]:
    """Accounts an incident may be dispatched to: active staff of the incident's community or an
    area above it, inside the actor's own area, who may respond to incidents (nearest first)."""
    incident_get(actor=actor, pk=incident.pk)
    codes = [c for c in incident.area_path.split("/") if c]
    prefixes = ["/".join(codes[: i + 1]) + "/" for i in range(len(codes))]
    rows = staff_list(actor=actor).filter(is_active=True, division__path__in=prefixes)
    out = [s for s in rows[:500] if s.has_permission(SafetyPerm.RESPOND_INCIDENT)]
    return sorted(out, key=lambda s: (-len(s.division.path), s.full_name))


@dataclass(frozen=True)
class ShiftReport:
    """The shift handover: what was opened, resolved and closed in [start, end), what is still
    open (and overdue), and what staff wrote down during the shift."""

    start: datetime
    end: datetime
    summary: dict[str, Any]
    opened: list[Incident]
    resolved: list[Incident]
    closed: list[Incident]
    still_open: list[Incident]
    overdue: list[Incident]
    notes: list[IncidentEntry]
    escalations: list[IncidentEntry]


def shift_report(*, actor: Actor, start: datetime, end: datetime, now: datetime | None = None) -> ShiftReport:
    now = now or timezone.now()
    summary = incident_handover(actor=actor, start=start, end=end)
    scope = incident_scope(actor=actor).select_related("home", "person", "division", "assignee")
    entries = IncidentEntry.objects.filter(
        incident__in=incident_scope(actor=actor), at__gte=start, at__lt=end
    ).select_related("incident").order_by("at", "id")
    still_open = summary["still_open"]
    return ShiftReport(
        start=start, end=end, summary=summary,
        opened=list(scope.filter(opened_at__gte=start, opened_at__lt=end).order_by("opened_at")[:500]),
        resolved=list(scope.filter(resolved_at__gte=start, resolved_at__lt=end).order_by("resolved_at")[:500]),
        closed=list(scope.filter(closed_at__gte=start, closed_at__lt=end).order_by("closed_at")[:500]),
        still_open=still_open,
        overdue=[i for i in still_open if i.next_deadline_at and i.next_deadline_at < now],
        notes=list(entries.filter(action="note")[:500]),
        escalations=list(entries.filter(action="escalate")[:500]),
    )
