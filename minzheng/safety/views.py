"""安居守护 staff screens: the 24-hour monitoring console (open incidents by severity and deadline,
refreshed by htmx polling, driven from the keyboard), the incident page with the home card, the
shift handover and the metrics and reports.

Each view declares its permission, checks the input, calls one selector or service (the incident
state machine lives in ``services.incidents``) and renders (DESIGN §4.1). A refusal comes back as
the service's Chinese message with its status (400 naming the field, 403, 404, 409), never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from minzheng.core.access import requires
from minzheng.core.exceptions import ApplicationError, ValidationFailed
from minzheng.core.identifiers import mask_name
from minzheng.safety import selectors
from minzheng.safety.enums import (
    FALSE_ALARM_OUTCOMES,
    SEVERITY_RANK,
    AlarmType,
    CallParty,
    CallResult,
    DispatchTarget,
    EventType,
    IncidentState,
    Outcome,
    Severity,
)
from minzheng.safety.permissions import SafetyPerm
from minzheng.safety.services import incidents as inc

FLASH = "mz_flash"
# What a field is called on screen, so an error always names it.
FIELD_LABELS = {
    "party": "通话对象", "result": "通话结果", "target": "派单对象", "assignee": "处置人",
    "outcome": "处置结果", "note": "说明", "reason": "原因", "day": "日期", "shift": "班次",
    "month": "月份", "action": "操作",
}
# The dispatch targets the console offers first (the brief of the 24 h centre), then the rest.
DISPATCH_ORDER = [DispatchTarget.COMMUNITY_WORKER, DispatchTarget.VOLUNTEER, DispatchTarget.EMERGENCY_120,
                  DispatchTarget.FAMILY, DispatchTarget.PROPERTY, DispatchTarget.POLICE_110]
# Resolve outcomes: real help first, then the false-alarm reasons, then device and care outcomes.
OUTCOME_ORDER = [Outcome.ASSISTED, Outcome.HOSPITALISED, Outcome.EMERGENCY_SERVICES, Outcome.FALSE_ALARM_ACCIDENTAL,
                 Outcome.FALSE_ALARM_ROUTINE, Outcome.FALSE_ALARM_AWAY, Outcome.FALSE_ALARM_DEVICE,
                 Outcome.FALSE_ALARM_OTHER, Outcome.DEVICE_FAULT, Outcome.CARE_OK, Outcome.CARE_FOLLOW,
                 Outcome.DECEASED]
SHIFTS = {  # 三班倒: label, start hour, length in hours
    "day": ("白班 08:00–16:00", 8, 8),
    "evening": ("中班 16:00–24:00", 16, 8),
    "night": ("夜班 00:00–08:00", 0, 8),
}


def _actor(request: HttpRequest) -> Any:
    return request.user


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _flash(request: HttpRequest, message: str) -> None:
    request.session[FLASH] = message


def _popflash(request: HttpRequest) -> str:
    return str(request.session.pop(FLASH, ""))


def _errors(exc: ApplicationError) -> list[dict[str, str]]:
    """Each message with the name of its field (``[{"field", "label", "message"}]``)."""
    if isinstance(exc, ValidationFailed):
        return [{"field": f, "label": FIELD_LABELS.get(f, f), "message": m} for f, m in exc.fields.items()]
    return [{"field": "", "label": "", "message": exc.message}]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(abs(seconds))
    if s >= 86400:
        return f"{s // 86400}天{s % 86400 // 3600}时"
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


# What the time limit of each state is for (``Incident.deadline_state``).
DEADLINE_LABELS = {
    IncidentState.NEW: "接警时限", IncidentState.ACKNOWLEDGED: "核实时限", IncidentState.VERIFYING: "派单时限",
    IncidentState.DISPATCHED: "到场时限", IncidentState.ON_SITE: "处置时限", IncidentState.RESOLVED: "回访时限",
    IncidentState.FOLLOW_UP: "办结时限",
}


def _state_label(value: str) -> str:
    return IncidentState(value).label if value in IncidentState.value_set() else value


def _row(i: Any, now: datetime) -> dict[str, Any]:
    left = (i.next_deadline_at - now).total_seconds() if i.next_deadline_at else None
    return {
        "deadline_label": DEADLINE_LABELS.get(i.deadline_state or i.state, "时限"),
        "i": i, "name": mask_name(i.person.name), "left": left, "left_text": _duration(left),
        "overdue": left is not None and left < 0, "age_text": _duration((now - i.opened_at).total_seconds()),
        "deadline_ms": int(i.next_deadline_at.timestamp() * 1000) if i.next_deadline_at else "",
        "critical": i.severity == Severity.CRITICAL, "division": i.division.short_name or i.division.name,
    }


# --- the console --------------------------------------------------------------------------------


def _board_context(request: HttpRequest) -> dict[str, Any]:
    actor = _actor(request)
    now = timezone.now()
    rows = [_row(i, now) for i in selectors.incident_list(actor=actor)[:300]]
    counts = selectors.incident_counts(actor=actor)
    severities = [(s, s.label, counts["by_severity"].get(s.value, 0)) for s in
                  sorted(Severity, key=lambda s: SEVERITY_RANK[s])]
    return {"rows": rows, "counts": counts, "severities": severities, "now": timezone.localtime(now),
            "now_ms": int(now.timestamp() * 1000),
            "can_handle": actor.has_permission(SafetyPerm.HANDLE_INCIDENT),
            "can_respond": actor.has_permission(SafetyPerm.RESPOND_INCIDENT)}


@requires(SafetyPerm.VIEW)
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    context = _board_context(request)
    context["flash"] = _popflash(request)
    return render(request, "safety/console.html", context)


@requires(SafetyPerm.VIEW)
@require_GET
def console_board(request: HttpRequest) -> HttpResponse:
    """The polled part of the console: the incident table and the counters (out of band)."""
    return render(request, "safety/_board.html", {**_board_context(request), "partial": True})


# --- incident and home ------------------------------------------------------------------------


def _card_context(actor: Any, home_id: int) -> dict[str, Any]:
    card = selectors.home_card(actor=actor, home_id=home_id)
    person = card.home.person
    chart = {
        "hours": [h["hour"].strftime("%m-%d %H时") for h in card.activity],
        "motion": [h["motion"] for h in card.activity], "door": [h["door"] for h in card.activity],
        "water": [round(h["water_l"], 1) for h in card.activity],
    }
    today = timezone.localdate()
    age = today.year - person.birth_date.year - ((today.month, today.day) < (person.birth_date.month,
                                                                                person.birth_date.day))
    devices = [{"d": d, "last_type": EventType(d.last_type).label if d.last_type in EventType.value_set()
                 else d.last_type} for d in card.devices]
    contacts = [{"priority": c.priority, "name_masked": mask_name(c.name), "relation": c.relation,
                 "phone_masked": c.phone_masked} for c in card.contacts]
    return {"card": card, "elder_name": mask_name(person.name), "elder": person, "elder_age": age,
            "contacts": contacts, "devices": devices,
            "chart": chart, "activity_total": sum(h["events"] for h in card.activity)}


@requires(SafetyPerm.VIEW)
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    incident = selectors.incident_get(actor=actor, pk=pk)
    context: dict[str, Any] = {
        "incident": incident, "row": _row(incident, timezone.now()), "flash": _popflash(request),
        "timeline": [{"e": e, "from": _state_label(e.state_from), "to": _state_label(e.state_to)}
                     for e in selectors.incident_timeline(actor=actor, incident_id=pk)],
        "source": "设备告警" if incident.source == "alarm" else f"关爱信号({incident.source})",
        "notifications": selectors.incident_notifications(actor=actor, incident_id=pk)[-20:],
        "can_handle": actor.has_permission(SafetyPerm.HANDLE_INCIDENT),
        "can_respond": actor.has_permission(SafetyPerm.RESPOND_INCIDENT),
        "is_open": incident.state not in (IncidentState.RESOLVED, IncidentState.FOLLOW_UP, IncidentState.CLOSED),
        # A responder (not the console) acts once dispatched; the service has the final word.
        "responder_turn": actor.has_permission(SafetyPerm.HANDLE_INCIDENT)
        or incident.state in (IncidentState.DISPATCHED, IncidentState.ON_SITE),
    }
    if incident.home_id is not None:
        context.update(_card_context(actor, incident.home_id))
    return render(request, "safety/incident.html", context)


@requires(SafetyPerm.VIEW)
@require_GET
def home_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "safety/home.html", _card_context(_actor(request), pk))


# --- actions ------------------------------------------------------------------------------------

ACTION_TITLES = {
    "acknowledge": "接警", "call": "记录通话", "dispatch": "派单", "arrive": "到场", "resolve": "处置完毕",
    "follow_up": "开始回访", "close": "办结", "reopen": "重新打开", "note": "添加备注",
}


def _form_context(request: HttpRequest, action: str, incident: Any, values: dict[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "incident": incident, "action": action, "title": ACTION_TITLES[action], "values": values,
        "post_url": reverse(f"safety:{action.replace('_', '-')}", args=[incident.pk]),
    }
    if action == "call":
        context.update(parties=list(CallParty), results=list(CallResult))
    elif action == "dispatch":
        context.update(targets=DISPATCH_ORDER,
                       assignees=selectors.dispatch_candidates(actor=_actor(request), incident=incident))
    elif action == "resolve":
        context.update(outcomes=OUTCOME_ORDER, false_alarms=sorted(FALSE_ALARM_OUTCOMES))
    return context


def _int_or_none(raw: str, field: str, message: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed({field: message}, code="bad_input")
    return int(raw)


def _perform(request: HttpRequest, action: str, pk: int, call: Callable[[Any, dict[str, str]], Any],
             fields: tuple[str, ...] = ()) -> HttpResponse:
    """GET: the action's form (the console's dialog, or a page); POST: call the service. Success →
    the console refreshes (htmx) or back to the incident page; a refusal → its message, naming the
    field, with the status of the error, and nothing written."""
    actor = _actor(request)
    incident = selectors.incident_get(actor=actor, pk=pk)  # 404 outside the actor's area
    values = {f: (request.POST.get(f) or "").strip() for f in fields} if request.method == "POST" else {}
    bad = {f: "含有无法保存的控制字符" for f, v in values.items() if "\x00" in v}
    values = {f: v.replace("\x00", "") for f, v in values.items()}
    if request.method == "GET":
        context = _form_context(request, action, incident, values)
        context["dialog"] = _is_htmx(request)
        template = "safety/_action_form.html" if _is_htmx(request) else "safety/action.html"
        return render(request, template, context)
    try:
        if bad:
            raise ValidationFailed(bad, code="bad_characters")
        done = call(actor, values)
    except ApplicationError as exc:
        context = _form_context(request, action, incident, values)
        context["dialog"] = _is_htmx(request)
        context["errors"] = _errors(exc)
        context["field_errors"] = {e["field"]: e["message"] for e in context["errors"] if e["field"]}
        template = "safety/_action_form.html" if _is_htmx(request) else "safety/action.html"
        return render(request, template, context, status=exc.status_code)
    message = f"{done.code}:{ACTION_TITLES[action]}完成,当前状态“{IncidentState(done.state).label}”"
    if _is_htmx(request):
        response = render(request, "safety/_done.html", {"message": message, "incident": done})
        response["HX-Trigger"] = json.dumps({"safety-done": {"message": message, "id": done.pk}})
        return response
    _flash(request, message)
    return redirect("safety:incident", pk=done.pk)


@requires(SafetyPerm.HANDLE_INCIDENT)
@require_http_methods(["GET", "POST"])
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "acknowledge", pk, lambda actor, v: inc.incident_acknowledge(
        actor=actor, incident_id=pk, note=v["note"]), ("note",))


@requires(SafetyPerm.RESPOND_INCIDENT)
@require_http_methods(["GET", "POST"])
def call(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "call", pk, lambda actor, v: inc.incident_log_call(
        actor=actor, incident_id=pk, party=v["party"], result=v["result"], note=v["note"]),
        ("party", "result", "note"))


@requires(SafetyPerm.HANDLE_INCIDENT)
@require_http_methods(["GET", "POST"])
def dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    def run(actor: Any, v: dict[str, str]) -> Any:
        assignee = _int_or_none(v["assignee"], "assignee", "请从列表中选择处置人")
        return inc.incident_dispatch(actor=actor, incident_id=pk, target=v["target"], assignee_id=assignee,
                                     note=v["note"])

    return _perform(request, "dispatch", pk, run, ("target", "assignee", "note"))


@requires(SafetyPerm.RESPOND_INCIDENT)
@require_http_methods(["GET", "POST"])
def arrive(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "arrive", pk, lambda actor, v: inc.incident_arrive(
        actor=actor, incident_id=pk, note=v["note"]), ("note",))


@requires(SafetyPerm.RESPOND_INCIDENT)
@require_http_methods(["GET", "POST"])
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "resolve", pk, lambda actor, v: inc.incident_resolve(
        actor=actor, incident_id=pk, outcome=v["outcome"], note=v["note"]), ("outcome", "note"))


@requires(SafetyPerm.HANDLE_INCIDENT)
@require_http_methods(["GET", "POST"])
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "follow_up", pk, lambda actor, v: inc.incident_start_follow_up(
        actor=actor, incident_id=pk, note=v["note"]), ("note",))


@requires(SafetyPerm.HANDLE_INCIDENT)
@require_http_methods(["GET", "POST"])
def close(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "close", pk, lambda actor, v: inc.incident_close(
        actor=actor, incident_id=pk, note=v["note"]), ("note",))


@requires(SafetyPerm.HANDLE_INCIDENT)
@require_http_methods(["GET", "POST"])
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "reopen", pk, lambda actor, v: inc.incident_reopen(
        actor=actor, incident_id=pk, reason=v["reason"]), ("reason",))


@requires(SafetyPerm.RESPOND_INCIDENT)
@require_http_methods(["GET", "POST"])
def note(request: HttpRequest, pk: int) -> HttpResponse:
    return _perform(request, "note", pk, lambda actor, v: inc.incident_add_note(
        actor=actor, incident_id=pk, note=v["note"]), ("note",))


# --- shift handover ------------------------------------------------------------------------------


def _current_shift(now: datetime) -> tuple[date, str]:
    local = timezone.localtime(now)
    key = "night" if local.hour < 8 else "day" if local.hour < 16 else "evening"
    return local.date(), key


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


def _parse_day(raw: str, field: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed({field: "日期格式应为 YYYY-MM-DD"}, code="bad_date") from None
    if not EARLIEST <= day <= LATEST:
        raise ValidationFailed({field: "日期应在 2000–2099 年之间"}, code="bad_date")
    return day


def _bad_input(request: HttpRequest, template: str, exc: ApplicationError, context: dict[str, Any]) -> HttpResponse:
    context["errors"] = _errors(exc)
    return render(request, template, context, status=exc.status_code)


@requires(SafetyPerm.VIEW)
@require_GET
def handover(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    now = timezone.now()
    day, key = _current_shift(now)
    context: dict[str, Any] = {"shifts": SHIFTS, "day": day, "shift": key}
    try:
        day = _parse_day(request.GET.get("day", ""), "day") or day
        key = request.GET.get("shift") or key
        if key not in SHIFTS:
            raise ValidationFailed({"shift": "请选择班次(白班、中班或夜班)"}, code="bad_shift")
    except ValidationFailed as exc:
        return _bad_input(request, "safety/handover.html", exc, context)
    label, hour, length = SHIFTS[key]
    start = timezone.make_aware(datetime.combine(day, time(hour)))
    end = start + timedelta(hours=length)
    report = selectors.shift_report(actor=actor, start=start, end=end, now=now)
    context.update({
        "day": day, "shift": key, "shift_label": label, "report": report, "start": start, "end": end,
        "prev": _neighbour(day, key, -1), "next": _neighbour(day, key, 1) if end <= now else None,
        "still_open": [_row(i, now) for i in report.still_open],
        "opened": [_row(i, now) for i in report.opened],
    })
    return render(request, "safety/handover.html", context)


def _neighbour(day: date, key: str, step: int) -> dict[str, str]:
    order = ["night", "day", "evening"]
    i = order.index(key) + step
    if i < 0:
        day, i = day - timedelta(days=1), 2
    elif i > 2:
        day, i = day + timedelta(days=1), 0
    return {"day": day.isoformat(), "shift": order[i]}


# --- metrics and reports -------------------------------------------------------------------------


def _parse_month(raw: str) -> tuple[int, int] | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        year, month = (int(p) for p in raw.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise ValidationFailed({"month": "月份格式应为 YYYY-MM"}, code="bad_month") from None
    if not EARLIEST <= first <= LATEST:
        raise ValidationFailed({"month": "月份应在 2000–2099 年之间"}, code="bad_month")
    return year, month


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _secs(value: float | None) -> str:
    return "—" if value is None else _duration(value)


def _metric_rows(groups: dict[str, dict[str, Any]], labels: Callable[[str], str]) -> list[dict[str, Any]]:
    return [{"key": k, "label": labels(k), "m": m, "ack_median": _secs(m["time_to_ack_s"]["median"]),
             "ack_p90": _secs(m["time_to_ack_s"]["p90"]), "res_median": _secs(m["time_to_resolve_s"]["median"]),
             "res_p90": _secs(m["time_to_resolve_s"]["p90"]), "ack_ok": _pct(m["ack_within_limit"]),
             "all_ok": _pct(m["within_all_limits"]), "false_rate": _pct(m["false_alarm_rate"]),
             "follow_rate": _pct(m["follow_up_rate"])} for k, m in groups.items()]


def _label(enum: Any) -> Callable[[str], str]:
    return lambda k: enum(k).label if k in enum.value_set() else k


@requires(SafetyPerm.VIEW_METRICS)
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    today = timezone.localdate()
    context: dict[str, Any] = {"day": today, "month": f"{today:%Y-%m}"}
    try:
        day = _parse_day(request.GET.get("day", ""), "day") or today
        year, month = _parse_month(request.GET.get("month", "")) or (today.year, today.month)
    except ValidationFailed as exc:
        return _bad_input(request, "safety/metrics.html", exc, context)
    daily = selectors.daily_report(actor=actor, day=day)
    monthly = selectors.monthly_report(actor=actor, year=year, month=month)
    per_day = monthly["incidents_per_day"]
    chart = {"days": list(per_day), "counts": list(per_day.values())}
    overall = [{"title": "当日", **r} for r in _metric_rows({"day": daily["metrics"]["overall"]}, str)] + \
              [{"title": f"{year}年{month}月", **r} for r in _metric_rows({"month": monthly["metrics"]["overall"]}, str)]
    context.update({
        "day": day, "month": f"{year:04d}-{month:02d}", "year_n": year, "month_n": month,
        "daily": daily, "monthly": monthly, "overall": overall,
        "false_reasons": [(Outcome(k).label, n) for k, n in
                          monthly["metrics"]["overall"]["false_alarm_reasons"].items()],
        "by_severity": _metric_rows(monthly["metrics"]["by_severity"], _label(Severity)),
        "by_type": _metric_rows(monthly["metrics"]["by_type"], _label(AlarmType)),
        "severity_keys": [s.value for s in sorted(Severity, key=lambda s: SEVERITY_RANK[s])],
        "severity_labels": [s.label for s in sorted(Severity, key=lambda s: SEVERITY_RANK[s])],
        "chart": chart,
        "township_tables": [(f"{day:%m-%d} 日报", daily["by_township"]),
                            (f"{year}年{month}月 月报", monthly["by_township"])],
        "fa_per_home_day": monthly["metrics"]["overall"]["false_alarms_per_home_day"],
    })
    return render(request, "safety/metrics.html", context)
