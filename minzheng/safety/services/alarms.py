"""Alarms: the machine signal. One active alarm per home and type (a partial UNIQUE constraint);
a repeat updates it; a raise opens (or joins, or reopens) an incident; WARNING-level alarms
(device offline) go to maintenance tickets instead of the console."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from minzheng.core.services import audit_record
from minzheng.safety import domain
from minzheng.safety.enums import AlarmState, AlarmType, IncidentAction, IncidentState, Severity
from minzheng.safety.models import Alarm, Home, HomeState, Incident, IncidentEntry
from minzheng.safety.services._common import SYSTEM, alarm_label, rule_versions, to_dt
from minzheng.safety.services.incidents import incident_for_alarm

log = logging.getLogger(__name__)
POINT_ALARMS = frozenset({AlarmType.SOS, AlarmType.FALL})


def _readable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in details.items():
        if isinstance(v, float) and v > 1e9 and k.endswith(("_at", "since", "from")):
            out[k] = timezone.localtime(to_dt(v)).isoformat(timespec="seconds")
        else:
            out[k] = v
    return out


def describe(sig: domain.Signal) -> str:
    d = sig.details
    t = sig.alarm_type

    def hm(key: str) -> str:
        v = d.get(key)
        return f"{timezone.localtime(to_dt(v)):%m-%d %H:%M}" if isinstance(v, float) else "?"

    if t == AlarmType.SOS:
        return "紧急呼叫按钮被按下"
    if t == AlarmType.FALL:
        return "手表检测到跌倒"
    if t in (AlarmType.SMOKE, AlarmType.GAS):
        return f"{alarm_label(t)}报警器触发"
    if t == AlarmType.INACTIVITY:
        hours = (sig.at - d.get("silence_from", sig.at)) / 3600
        if d.get("rule") == "learned":
            return f"自 {hm('silence_from')} 起 {hours:.1f} 小时无活动, 超过本户该时段的正常最长静默(阈值 {d.get('threshold_minutes')} 分钟)"
        return f"自 {hm('silence_from')} 起清醒时段内 {d.get('waking_hours')} 小时无活动"
    if t == AlarmType.NIGHT_EXIT:
        return f"夜间 {hm('door_at')} 开门后未检测到回家"
    if t == AlarmType.WANDER:
        return f"自 {hm('outside_since')} 起离开安全区域"
    if t == AlarmType.WATER_NONE:
        return f"自 {hm('last_water_at')} 起未用水"
    if t == AlarmType.WATER_LEAK:
        return f"已持续用水 {d.get('hours')} 小时, 疑似漏水"
    if t == AlarmType.DEVICE_OFFLINE:
        return f"{len(d.get('devices', []))} 台设备离线"
    return alarm_label(t)


def _active(home: Home, alarm_type: str) -> Alarm | None:
    return Alarm.objects.select_for_update().filter(home=home, alarm_type=alarm_type, state=AlarmState.ACTIVE).first()


def alarm_raise(*, home: Home, sig: domain.Signal, now: datetime) -> Alarm:
    """Raise (or, if one is already active, repeat) an alarm; open its incident."""
    existing = _active(home, sig.alarm_type)
    if existing is not None:
        return alarm_repeat(home=home, sig=sig, now=now, alarm=existing)
    details = _readable(dict(sig.details))
    details["rule_version"] = rule_versions().get(sig.alarm_type)
    at = to_dt(sig.at) or now
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                home=home, alarm_type=sig.alarm_type, severity=sig.severity, first_seen_at=at, raised_at=now,
                last_seen_at=at, details=details,
            )
    except IntegrityError:  # raised concurrently by another consumer: the same alarm, repeated
        existing = _active(home, sig.alarm_type)
        if existing is None:
            raise
        return alarm_repeat(home=home, sig=sig, now=now, alarm=existing)
    note = describe(sig)
    audit_record(actor=SYSTEM, event_type="safety.alarm.raise", object_type="safety_alarm", object_id=alarm.pk,
                 extra={"home": home.code, "type": sig.alarm_type, "severity": sig.severity})
    if sig.severity != Severity.WARNING:
        incident = incident_for_alarm(alarm=alarm, home=home, at=now, note=note)
        alarm.incident = incident
        alarm.save(update_fields=["incident", "updated_at"])
    return alarm


def alarm_repeat(*, home: Home, sig: domain.Signal, now: datetime, alarm: Alarm | None = None) -> Alarm:
    alarm = alarm or _active(home, sig.alarm_type)
    if alarm is None:
        return alarm_raise(home=home, sig=sig, now=now)
    at = to_dt(sig.at) or now
    alarm.count += 1
    alarm.last_seen_at = max(alarm.last_seen_at, at)
    if sig.alarm_type == AlarmType.DEVICE_OFFLINE:
        alarm.details = _readable(dict(sig.details))
    alarm.save(update_fields=["count", "last_seen_at", "details", "updated_at"])
    if alarm.incident_id and sig.alarm_type in POINT_ALARMS | {AlarmType.SMOKE, AlarmType.GAS}:
        IncidentEntry.objects.create(
            incident_id=alarm.incident_id, at=now, action=IncidentAction.REPEAT, actor_name=SYSTEM.full_name,
            note=f"{describe(sig)}(第 {alarm.count} 次)", data={"alarm": alarm.pk},
        )
    return alarm


def alarm_clear(*, home: Home, alarm_type: str, at: datetime, reason: str) -> Alarm | None:
    alarm = _active(home, alarm_type)
    if alarm is None:
        return None
    alarm.state = AlarmState.CLEARED
    alarm.cleared_at = at
    alarm.clear_reason = reason[:100]
    alarm.save(update_fields=["state", "cleared_at", "clear_reason", "updated_at"])
    audit_record(actor=SYSTEM, event_type="safety.alarm.clear", object_type="safety_alarm", object_id=alarm.pk,
                 reason=reason, extra={"home": home.code, "type": alarm_type})
    if alarm.incident_id:
        incident = Incident.objects.filter(pk=alarm.incident_id).exclude(state=IncidentState.CLOSED).first()
        if incident is not None:
            IncidentEntry.objects.create(
                incident=incident, at=timezone.now(), action=IncidentAction.ALARM_CLEARED,
                actor_name=SYSTEM.full_name, note=f"告警条件解除: {reason}({timezone.localtime(at):%H:%M})",
                data={"alarm": alarm.pk},
            )
    return alarm


def apply_signals(*, home: Home, signals: Iterable[domain.Signal], now: datetime) -> list[Alarm]:
    """What the rules asked for, done in the caller's transaction."""
    alarms: list[Alarm] = []
    for sig in signals:
        if sig.action == "raise":
            alarms.append(alarm_raise(home=home, sig=sig, now=now))
        elif sig.action == "repeat":
            alarms.append(alarm_repeat(home=home, sig=sig, now=now))
        elif sig.action == "clear":
            cleared = alarm_clear(home=home, alarm_type=sig.alarm_type, at=to_dt(sig.at) or now,
                                  reason=str(sig.details.get("reason", "")))
            if cleared is not None:
                alarms.append(cleared)
    return alarms


def alarm_clear_for_incident(*, incident: Incident, at: datetime) -> None:
    """Resolving an incident ends its point alarms (SOS, fall): the next press is a new alarm."""
    if incident.home_id is None:
        return
    for alarm in Alarm.objects.select_for_update().filter(
        incident=incident, state=AlarmState.ACTIVE, alarm_type__in=POINT_ALARMS
    ):
        alarm.state = AlarmState.CLEARED
        alarm.cleared_at = at
        alarm.clear_reason = "工单已处置"
        alarm.save(update_fields=["state", "cleared_at", "clear_reason", "updated_at"])
        state = HomeState.objects.select_for_update().filter(home_id=incident.home_id).first()
        if state is not None and alarm.alarm_type in (state.active_alarms or []):
            state.active_alarms = [a for a in state.active_alarms if a != alarm.alarm_type]
            state.save(update_fields=["active_alarms", "updated_at"])
