"""Pure rules of 安居守护: message decoding, alarm rules on persisted timestamps, the incident
state machine, escalation deadlines, per-home baselines and anomaly scores. No Django here.

Times inside the engine are POSIX seconds (floats). Local time is China Standard Time, a fixed
UTC+8 without daylight saving since 1991, so a local hour or day is plain arithmetic.

Rules are data (``RuleParams``, built from the ``AlarmRule`` rows plus a home's overrides) and
run on a ``HomeRuleState`` that the services load from and save to the database in the same
transaction as the events. Nothing depends on an in-memory timer: every "absence" rule is a due
time computed from persisted timestamps, so a process that restarts finds the same due times
(ThingsBoard's "persist state of alarm rules"; Home Assistant's ``for:`` timers are the
counter-example, issue 56642).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from minzheng.safety.enums import (
    FALSE_ALARM_OUTCOMES,
    AlarmType,
    DeviceKind,
    EventType,
    HomeStatus,
    IncidentAction,
    IncidentState,
    Outcome,
    RejectReason,
    Severity,
    TicketKind,
)

# Plain-string aliases: enum member access is slow on the hot path (every reading).
AT_CARE_CHECK = AlarmType.CARE_CHECK.value
AT_DEVICE_OFFLINE = AlarmType.DEVICE_OFFLINE.value
AT_FALL = AlarmType.FALL.value
AT_GAS = AlarmType.GAS.value
AT_INACTIVITY = AlarmType.INACTIVITY.value
AT_NIGHT_EXIT = AlarmType.NIGHT_EXIT.value
AT_SMOKE = AlarmType.SMOKE.value
AT_SOS = AlarmType.SOS.value
AT_WANDER = AlarmType.WANDER.value
AT_WATER_LEAK = AlarmType.WATER_LEAK.value
AT_WATER_NONE = AlarmType.WATER_NONE.value
DK_DOOR_CONTACT = DeviceKind.DOOR_CONTACT.value
DK_PIR = DeviceKind.PIR.value
DK_SMOKE_GAS = DeviceKind.SMOKE_GAS.value
DK_SOS_BUTTON = DeviceKind.SOS_BUTTON.value
DK_WATCH = DeviceKind.WATCH.value
DK_WATER_METER = DeviceKind.WATER_METER.value
ET_BATTERY = EventType.BATTERY.value
ET_DOOR = EventType.DOOR.value
ET_FALL = EventType.FALL.value
ET_GAS = EventType.GAS.value
ET_HEARTBEAT = EventType.HEARTBEAT.value
ET_LOCATION = EventType.LOCATION.value
ET_MOTION = EventType.MOTION.value
ET_SMOKE = EventType.SMOKE.value
ET_SOS = EventType.SOS.value
ET_TAMPER = EventType.TAMPER.value
ET_WATER = EventType.WATER.value
HS_AWAY = HomeStatus.AWAY.value
HS_HOSPITAL = HomeStatus.HOSPITAL.value
HS_INACTIVE = HomeStatus.INACTIVE.value
HS_NORMAL = HomeStatus.NORMAL.value

TZ_OFFSET = 8 * 3600  # Asia/Shanghai
DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0


def local_hour(t: float) -> int:
    return int(((t + TZ_OFFSET) % DAY) // HOUR)


def local_minute_of_day(t: float) -> int:
    return int(((t + TZ_OFFSET) % DAY) // MINUTE)


def local_day(t: float) -> int:
    """Days since 1970-01-01 in local time (the key of per-day histories)."""
    return int((t + TZ_OFFSET) // DAY)


def day_start(day: int) -> float:
    return day * DAY - TZ_OFFSET


def in_window(minute: int, start: int, end: int) -> bool:
    """Is a minute of the day inside [start, end), a window that may cross midnight?"""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def parse_hhmm(value: Any, field_name: str) -> int:
    if isinstance(value, int) and 0 <= value < 1440:
        return value
    try:
        hh, mm = str(value).split(":")
        minute = int(hh) * 60 + int(mm)
    except (ValueError, TypeError):
        raise ParamError(field_name, "时间格式应为 HH:MM") from None
    if not 0 <= minute < 1440:
        raise ParamError(field_name, "时间格式应为 HH:MM")
    return minute


# --- Messages ------------------------------------------------------------------------------

MAX_DEVICE_ID = 64
MAX_SEQ = 2**63 - 1

ALLOWED_TYPES: dict[str, frozenset[str]] = {
    DK_DOOR_CONTACT: frozenset({ET_DOOR, ET_HEARTBEAT, ET_BATTERY, ET_TAMPER}),
    DK_PIR: frozenset({ET_MOTION, ET_HEARTBEAT, ET_BATTERY, ET_TAMPER}),
    DK_SOS_BUTTON: frozenset({ET_SOS, ET_HEARTBEAT, ET_BATTERY}),
    DK_WATCH: frozenset(
        {ET_SOS, ET_FALL, ET_LOCATION, ET_HEARTBEAT, ET_BATTERY, ET_TAMPER}
    ),
    DK_WATER_METER: frozenset({ET_WATER, ET_HEARTBEAT, ET_BATTERY}),
    DK_SMOKE_GAS: frozenset(
        {ET_SMOKE, ET_GAS, ET_HEARTBEAT, ET_BATTERY, ET_TAMPER}
    ),
}
ACTIVITY_TYPES = frozenset({ET_MOTION, ET_DOOR})
_TYPES = EventType.value_set()


@dataclass(frozen=True, slots=True)
class Reading:
    """One canonical sensor message: ``(device, seq)`` is its identity."""

    device: str
    seq: int
    ts: float
    type: str
    value: Any


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    detail: str
    device: str = ""
    seq: int | None = None


def decode_payload(raw: bytes | str | Any) -> list[Any] | Rejected:
    """An MQTT payload or HTTP body: one message object, a list of them, or ``{"messages": [...]}``."""
    obj = raw
    if isinstance(raw, bytes | bytearray | memoryview | str):
        if len(raw) > 1_000_000:
            return Rejected(RejectReason.MALFORMED, "报文过长")
        try:
            obj = orjson.loads(raw)  # UTF-8 checked on the way; NaN, Infinity and lone surrogates refused
        except orjson.JSONDecodeError:
            if not isinstance(raw, str):
                try:
                    bytes(raw).decode("utf-8")
                except UnicodeDecodeError:
                    return Rejected(RejectReason.MALFORMED, "报文不是 UTF-8 文本")
            return Rejected(RejectReason.MALFORMED, "报文不是有效的 JSON")
    if isinstance(obj, dict) and "messages" in obj:
        obj = obj["messages"]
    if isinstance(obj, dict):
        return [obj]
    if isinstance(obj, list):
        if len(obj) > 5000:
            return Rejected(RejectReason.MALFORMED, "单个报文最多 5000 条读数")
        return obj
    return Rejected(RejectReason.MALFORMED, "报文应为对象或对象列表")


def _bool_value(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.lower() in ("1", "0", "true", "false", "on", "off", "pressed", "alarm", "clear"):
        return v.lower() in ("1", "true", "on", "pressed", "alarm")
    return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def normalise_value(etype: str, value: Any) -> Any:
    """The canonical value of a message, or raise ValueError with a Chinese reason."""
    if etype in (ET_MOTION, ET_SOS, ET_FALL, ET_SMOKE, ET_GAS, ET_TAMPER):
        b = True if value is None else _bool_value(value)  # an event without a value: it happened
        if b is None:
            raise ValueError("应为 0/1 或 true/false")
        return 1 if b else 0
    if etype == ET_DOOR:
        if isinstance(value, str) and value.lower() in ("open", "opened", "closed", "close"):
            return 1 if value.lower().startswith("open") else 0
        b = _bool_value(value)
        if b is None:
            raise ValueError("应为 open/closed 或 1/0")
        return 1 if b else 0
    if etype == ET_WATER:
        n = _number(value)
        if n is None or n < 0 or n > 100_000:
            raise ValueError("用水量应为 0–100000 升")
        return round(n, 3)
    if etype == ET_BATTERY:
        n = _number(value)
        if n is None or not 0 <= n <= 100:
            raise ValueError("电量应为 0–100")
        return int(n)
    if etype == ET_HEARTBEAT:
        if value is None:
            return None
        if isinstance(value, dict):
            batt = value.get("battery")
            n = _number(batt) if batt is not None else None
            if batt is not None and (n is None or not 0 <= n <= 100):
                raise ValueError("心跳中的电量应为 0–100")
            return {"battery": int(n)} if n is not None else None
        n = _number(value)
        if n is not None and 0 <= n <= 100:
            return {"battery": int(n)}
        raise ValueError("心跳值应为空或 {battery}")
    if etype == ET_LOCATION:
        if not isinstance(value, dict):
            raise ValueError("位置应为 {lat, lon}")
        lat, lon = _number(value.get("lat")), _number(value.get("lon"))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError("经纬度无效")
        out: dict[str, float] = {"lat": round(lat, 6), "lon": round(lon, 6)}
        acc = _number(value.get("acc"))
        if acc is not None and acc >= 0:
            out["acc"] = round(acc, 1)
        return out
    raise ValueError("未知类型")


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds (or milliseconds) or ISO 8601; a time without zone is Beijing time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        t = float(value)
        if not math.isfinite(t):
            return None
        return t / 1000.0 if t > 1e11 else t
    if isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC).timestamp() - TZ_OFFSET
        return dt.timestamp()
    return None


def parse_message(obj: Any, *, now: float, max_future: float, max_age: float) -> Reading | Rejected:
    """Validate one message: device id, sequence number, timestamp, type and value."""
    if not isinstance(obj, dict):
        return Rejected(RejectReason.MALFORMED, "读数应为 JSON 对象")
    device = obj.get("device", obj.get("device_id"))
    seq = obj.get("seq")
    dev = device if isinstance(device, str) else ""
    seq_ok = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    if not isinstance(device, str) or not 1 <= len(device) <= MAX_DEVICE_ID or not device.isprintable():
        return Rejected(RejectReason.BAD_FIELD, "device: 设备编号缺失或无效", dev[:MAX_DEVICE_ID], seq_ok)
    if seq_ok is None or not 0 <= seq_ok <= MAX_SEQ:
        return Rejected(RejectReason.BAD_FIELD, "seq: 序号应为非负整数", device, None)
    ts = parse_timestamp(obj.get("ts"))
    if ts is None:
        return Rejected(RejectReason.BAD_FIELD, "ts: 时间戳缺失或无效", device, seq_ok)
    if ts > now + max_future:
        return Rejected(RejectReason.FUTURE_TIMESTAMP, f"ts: 比服务器时间超前 {int(ts - now)} 秒", device, seq_ok)
    if ts < now - max_age:
        return Rejected(RejectReason.TOO_OLD, "ts: 早于原始数据保留期", device, seq_ok)
    etype = obj.get("type")
    if not isinstance(etype, str) or etype not in _TYPES:
        return Rejected(RejectReason.BAD_FIELD, "type: 未知的读数类型", device, seq_ok)
    try:
        value = normalise_value(etype, obj.get("value"))
    except ValueError as exc:
        return Rejected(RejectReason.BAD_FIELD, f"value: {exc}", device, seq_ok)
    return Reading(device, seq_ok, ts, etype, value)


# --- Rule parameters -----------------------------------------------------------------------


class ParamError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


DEFAULT_SEVERITY: dict[str, Severity] = {
    AT_SOS: Severity.CRITICAL,
    AT_FALL: Severity.CRITICAL,
    AT_SMOKE: Severity.CRITICAL,
    AT_GAS: Severity.CRITICAL,
    AT_INACTIVITY: Severity.MAJOR,
    AT_NIGHT_EXIT: Severity.MAJOR,
    AT_WANDER: Severity.MAJOR,
    AT_WATER_NONE: Severity.MINOR,
    AT_WATER_LEAK: Severity.MINOR,
    AT_DEVICE_OFFLINE: Severity.WARNING,
    AT_CARE_CHECK: Severity.LOW,
}
PERSON_ALARMS = frozenset(
    {
        AT_SOS, AT_FALL, AT_INACTIVITY, AT_NIGHT_EXIT, AT_WANDER,
        AT_WATER_NONE, AT_WATER_LEAK, AT_SMOKE, AT_GAS,
    }
)
INACTIVITY_CLASS = frozenset({AT_INACTIVITY, AT_NIGHT_EXIT, AT_WATER_NONE})
# Away or hospital status suppresses these; SOS, fall, smoke and gas always alarm (someone pressed,
# or the flat may be on fire), and device health is not about the person.
SUPPRESSIBLE = frozenset(
    {AT_INACTIVITY, AT_NIGHT_EXIT, AT_WANDER, AT_WATER_NONE, AT_WATER_LEAK}
)


@dataclass(frozen=True)
class RuleParams:
    """Every tunable of the alarm rules, with the defaults the bureau has not yet overridden.

    Sources: 临安 PIR alarm after 4–5 h of no passage; water <0.01 m³ in 12 h (上海 江苏路, 深圳
    龙岗); water in every half-hour slot → leak (龙岗, 24 h there; shorter here, a proposal);
    offline 1–3 days and battery <10 % (Fatesta alarm types). See eldercare.md §2.2.
    """

    enabled: frozenset[str] = frozenset(DEFAULT_SEVERITY)
    severity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    # inactivity (fixed rule before a baseline exists, counted inside waking hours)
    inactivity_hours: float = 4.0
    waking_start: int = 7 * 60
    waking_end: int = 22 * 60
    # inactivity (learned per-home thresholds by hour of day)
    learn_window_days: int = 28
    learn_min_days: int = 7
    learn_margin: float = 1.3
    learn_pad_minutes: float = 25.0
    learn_min_minutes: float = 45.0
    learn_max_minutes: float = 14 * 60.0
    learn_lookahead_hours: int = 1  # a silence may begin this much earlier than usual (early to bed)
    exit_confirm_minutes: float = 15.0  # a door event with no motion after it: the elder went out
    sensor_alive_minutes: float = 75.0  # a silence counts only while the motion sensor is heard
    # night door
    night_start: int = 22 * 60 + 30
    night_end: int = 5 * 60
    night_return_minutes: float = 30.0
    # geofence
    geofence_radius_m: float = 1000.0
    geofence_grace_minutes: float = 10.0
    # water
    water_none_hours: float = 12.0
    water_flow_hours: float = 6.0
    water_slot_minutes: float = 30.0
    # device health
    offline_minutes: float = 180.0
    low_battery_pct: int = 10
    battery_ok_pct: int = 20
    # incidents
    reopen_window_hours: float = 24.0

    FIELD_LABELS = {
        "inactivity_hours": "无活动时长(小时)",
        "waking_start": "起床时间",
        "waking_end": "就寝时间",
        "night_start": "夜间开始",
        "night_end": "夜间结束",
        "geofence_radius_m": "安全区域半径(米)",
        "water_none_hours": "未用水时长(小时)",
        "water_flow_hours": "持续用水时长(小时)",
        "offline_minutes": "离线判定(分钟)",
    }

    @classmethod
    def build(cls, rules: Mapping[str, Mapping[str, Any]] | None = None,
              overrides: Mapping[str, Any] | None = None) -> RuleParams:
        """Defaults ← each rule's ``params``/``enabled``/``severity`` ← the home's overrides.

        ``rules`` maps an alarm type to ``{"enabled", "severity", "params"}``. Raises ParamError
        naming the bad parameter.
        """
        values: dict[str, Any] = {}
        enabled = set(DEFAULT_SEVERITY)
        severity = dict(DEFAULT_SEVERITY)
        for alarm_type, rule in (rules or {}).items():
            if alarm_type not in DEFAULT_SEVERITY:
                raise ParamError("alarm_type", f"未知告警类型 {alarm_type}")
            if not rule.get("enabled", True):
                enabled.discard(alarm_type)
            if rule.get("severity"):
                if rule["severity"] not in Severity.value_set():
                    raise ParamError("severity", "告警级别无效")
                severity[alarm_type] = Severity(rule["severity"])
            values.update(rule.get("params") or {})
        over = dict(overrides or {})
        for alarm_type in over.pop("disabled", []) or []:
            enabled.discard(alarm_type)
        values.update(over)
        known = {f.name for f in fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known or key in ("enabled", "severity"):
                raise ParamError(key, f"未知参数 {key}")
            if key in ("waking_start", "waking_end", "night_start", "night_end"):
                clean[key] = parse_hhmm(value, key)
                continue
            default = getattr(cls, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParamError(key, f"{cls.FIELD_LABELS.get(key, key)} 应为非负数")
            clean[key] = int(value) if isinstance(default, int) else float(value)
        return cls(enabled=frozenset(enabled), severity=severity, **clean)

    def on(self, alarm_type: str) -> bool:
        return alarm_type in self.enabled

    def severity_of(self, alarm_type: str) -> str:
        return str(self.severity.get(alarm_type, DEFAULT_SEVERITY.get(alarm_type, Severity.MINOR)))


# --- Per-home rule state -------------------------------------------------------------------

GAP_HISTORY_DAYS = 35
MIN_GAP_MINUTES = 0.0


@dataclass(slots=True)
class HomeRuleState:
    """What the rules remember about one home; persisted as ``safety.HomeState``."""

    last_activity_at: float | None = None
    last_motion_at: float | None = None
    last_door_at: float | None = None
    returned_at: float | None = None  # the door (or motion) that ended an outing
    stray_motion_at: float | None = None  # a lone motion while out, with no door event: noise?
    sensor_seen_at: float | None = None  # last message of any motion sensor (or door contact)
    sensing_resumed_at: float | None = None  # motion sensing came back after an outage
    last_water_at: float | None = None
    water_run_start: float | None = None
    water_seen_at: float | None = None
    water_resumed_at: float | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    last_location_at: float | None = None
    outside_since: float | None = None
    alarm_in_gap: bool = False  # an inactivity-class alarm fired during the current silence
    active_alarms: set[str] = field(default_factory=set)
    # learning: local day → 24 values, the longest at-home silence (minutes) that began in each hour
    # (None: no activity in that hour)
    gap_hist: dict[int, list[float | None]] = field(default_factory=dict)
    thresholds: list[float] | None = None  # learned minutes per start hour (None: cold start)
    next_check_at: float | None = None
    gap_changed: bool = False


@dataclass(frozen=True, slots=True)
class HomeContext:
    """Facts about the home the rules need besides its state."""

    status: str = HS_NORMAL
    has_motion_sensor: bool = True
    has_water_meter: bool = False
    home_lat: float | None = None
    home_lon: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """What the rules ask the services to do: raise, repeat or clear an alarm of a home."""

    action: str  # "raise" | "repeat" | "clear"
    alarm_type: str
    severity: str
    at: float  # when the condition became true (or ended)
    details: Mapping[str, Any]


def _raise(state: HomeRuleState, params: RuleParams, alarm_type: str, at: float, details: dict[str, Any],
           out: list[Signal]) -> None:
    if not params.on(alarm_type):
        return
    if alarm_type in state.active_alarms:
        if alarm_type in (AT_SOS, AT_FALL, AT_SMOKE, AT_GAS):
            out.append(Signal("repeat", alarm_type, params.severity_of(alarm_type), at, details))
        return
    state.active_alarms.add(alarm_type)
    if alarm_type in (AT_INACTIVITY, AT_NIGHT_EXIT):
        state.alarm_in_gap = True  # this silence was not normal: never learn it
    out.append(Signal("raise", alarm_type, params.severity_of(alarm_type), at, details))


def _clear(state: HomeRuleState, params: RuleParams, alarm_type: str, at: float, reason: str,
           out: list[Signal]) -> None:
    if alarm_type in state.active_alarms:
        state.active_alarms.discard(alarm_type)
        out.append(Signal("clear", alarm_type, params.severity_of(alarm_type), at, {"reason": reason}))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def _hist_row(state: HomeRuleState, day: int) -> list[float | None]:
    row = state.gap_hist.get(day)
    if row is None:
        row = [None] * 25
        state.gap_hist[day] = row
        for old in [d for d in state.gap_hist if d < day - GAP_HISTORY_DAYS]:
            del state.gap_hist[old]
    elif len(row) < 25:
        row.append(None)
    return row


def _record_gap(state: HomeRuleState, start: float, end: float) -> None:
    """Remember the longest at-home silence per start hour, and (slot 24) the morning rise: the
    end of the night's last long silence, the time by which this elder is normally up."""
    hour = local_hour(start)
    row = _hist_row(state, local_day(start))
    minutes = (end - start) / MINUTE
    prev = row[hour]
    if prev is None or minutes > prev + 0.5:
        row[hour] = round(minutes, 1)
        state.gap_changed = True
    if minutes >= 60:
        end_minute = local_minute_of_day(end)
        start_minute = local_minute_of_day(start)
        if RISE_EARLIEST <= end_minute <= RISE_LATEST and (start_minute >= 18 * 60 or start_minute < end_minute):
            end_row = _hist_row(state, local_day(end))
            if end_row[24] is None or end_minute > end_row[24]:
                end_row[24] = float(end_minute)
                state.gap_changed = True


RISE_EARLIEST, RISE_LATEST = 3 * 60, 12 * 60


def was_out(state: HomeRuleState, params: RuleParams, at: float) -> bool:
    """Was the home empty at ``at``: the last activity was a door event, no motion since, and
    the exit was confirmed (no motion for ``exit_confirm_minutes``)."""
    door, motion = state.last_door_at, state.last_motion_at
    if door is None or (motion is not None and motion >= door):
        return False
    return at - door >= params.exit_confirm_minutes * MINUTE


def _activity(state: HomeRuleState, params: RuleParams, ctx: HomeContext, r: Reading, out: list[Signal]) -> None:
    ts = r.ts
    last = state.last_activity_at
    if last is not None and ts <= last:
        # Late or out-of-order: stored and counted, but the state never goes backwards (F6).
        if r.type == ET_MOTION and (state.last_motion_at is None or ts > state.last_motion_at):
            state.last_motion_at = ts
        return
    out_before = was_out(state, params, ts)
    if out_before and r.type == ET_MOTION:
        # Nobody comes home without the door: a lone motion is a false trigger (sunlight, heating),
        # unless a second one follows soon (the door contact missed the return).
        stray = state.stray_motion_at
        if stray is None or ts - stray > STRAY_CONFIRM_MINUTES * MINUTE:
            state.stray_motion_at = ts
            return
    state.stray_motion_at = None
    if last is not None:
        start = max(last, state.sensing_resumed_at or last)
        learnable = not out_before and ctx.status == HS_NORMAL and ts > start
        if learnable and state.alarm_in_gap:
            # An alarmed silence is learned only if it was merely long (a nap the operator found
            # to be a false alarm), never a real emergency's day-long silence.
            threshold = state.thresholds[local_hour(start)] if state.thresholds else params.inactivity_hours * 60
            learnable = (ts - start) / MINUTE <= RELEARN_FACTOR * threshold
        if learnable:
            _record_gap(state, start, ts)
    state.alarm_in_gap = False
    state.last_activity_at = ts
    if r.type == ET_MOTION:
        if out_before:
            state.returned_at = ts
        state.last_motion_at = ts
        _clear(state, params, AT_INACTIVITY, ts, "检测到活动", out)
        if state.last_door_at is not None and ts > state.last_door_at:
            _clear(state, params, AT_NIGHT_EXIT, ts, "已回家", out)
    else:
        if out_before:
            state.returned_at = ts  # the door of the return
        state.last_door_at = ts
        _clear(state, params, AT_INACTIVITY, ts, "检测到开关门", out)


STRAY_CONFIRM_MINUTES = 10.0
RELEARN_FACTOR = 2.0


def _sensor_seen(state: HomeRuleState, params: RuleParams, ts: float) -> None:
    seen = state.sensor_seen_at
    if seen is None or ts - seen > params.sensor_alive_minutes * MINUTE:
        state.sensing_resumed_at = ts  # sensing (re)started: an earlier silence is not evidence
    if seen is None or ts > seen:
        state.sensor_seen_at = ts


def apply_reading(state: HomeRuleState, r: Reading, kind: str, params: RuleParams, ctx: HomeContext) -> list[Signal]:
    """Fold one new (deduplicated) reading into the home's state; return the signals it causes."""
    out: list[Signal] = []
    t = r.type
    if kind == DK_PIR or (kind == DK_DOOR_CONTACT and not ctx.has_motion_sensor):
        _sensor_seen(state, params, r.ts)
    if t in ACTIVITY_TYPES:
        if t == ET_MOTION and r.value == 0:
            return out
        _activity(state, params, ctx, r, out)
    elif t in (ET_SOS, ET_FALL):
        if r.value:
            _raise(state, params, t, r.ts, {"device": r.device, "seq": r.seq, "reading_at": r.ts}, out)
    elif t in (ET_SMOKE, ET_GAS):
        if r.value:
            _raise(state, params, t, r.ts, {"device": r.device, "seq": r.seq, "reading_at": r.ts}, out)
        else:
            _clear(state, params, t, r.ts, "报警器恢复正常", out)
    elif t == ET_WATER:
        _water(state, params, r, out)
    elif t == ET_LOCATION:
        _location(state, params, ctx, r, out)
    if kind == DK_WATER_METER and (state.water_seen_at is None or r.ts > state.water_seen_at):
        if state.water_seen_at is None or r.ts - state.water_seen_at > params.sensor_alive_minutes * MINUTE:
            state.water_resumed_at = r.ts  # the meter was silent: its own outage is no evidence
        state.water_seen_at = r.ts
    return out


def _water(state: HomeRuleState, params: RuleParams, r: Reading, out: list[Signal]) -> None:
    ts = r.ts
    if state.last_water_at is not None and ts <= state.last_water_at:
        return
    slot = params.water_slot_minutes * MINUTE
    if r.value > 0:
        if state.water_run_start is None or (state.last_water_at is not None and ts - state.last_water_at > slot * 1.5):
            state.water_run_start = ts - slot
        state.last_water_at = ts
        _clear(state, params, AT_WATER_NONE, ts, "恢复用水", out)
        if ts - state.water_run_start >= params.water_flow_hours * HOUR:
            _raise(state, params, AT_WATER_LEAK, ts,
                   {"flow_since": state.water_run_start, "hours": round((ts - state.water_run_start) / HOUR, 1)}, out)
    else:
        if state.water_run_start is not None:
            state.water_run_start = None
            _clear(state, params, AT_WATER_LEAK, ts, "用水已停止", out)


def _location(state: HomeRuleState, params: RuleParams, ctx: HomeContext, r: Reading, out: list[Signal]) -> None:
    if state.last_location_at is not None and r.ts <= state.last_location_at:
        return
    lat, lon = r.value["lat"], r.value["lon"]
    state.last_lat, state.last_lon, state.last_location_at = lat, lon, r.ts
    if ctx.home_lat is None or ctx.home_lon is None:
        return
    dist = haversine_m(ctx.home_lat, ctx.home_lon, lat, lon)
    if dist > params.geofence_radius_m:
        if state.outside_since is None:
            state.outside_since = r.ts
    else:
        state.outside_since = None
        _clear(state, params, AT_WANDER, r.ts, "已回到安全区域", out)


# --- Due-time ("absence") rules -------------------------------------------------------------


def add_waking(start: float, hours: float, waking_start: int, waking_end: int) -> float:
    """The moment when ``hours`` of waking time have passed since ``start``."""
    need = hours * HOUR
    t = start
    for _ in range(400):
        minute = local_minute_of_day(t)
        day0 = day_start(local_day(t))
        if in_window(minute, waking_start, waking_end):
            if waking_start <= waking_end or minute >= waking_start:
                end_min = waking_end if waking_start <= waking_end else 1440 + waking_end
            else:
                end_min = waking_end
            window_end = day0 + end_min * MINUTE
            if t + need <= window_end:
                return t + need
            need -= window_end - t
            t = window_end
        else:
            next_start = day0 + waking_start * MINUTE
            if next_start <= t:
                next_start += DAY
            t = next_start
    return t


def inactivity_due(state: HomeRuleState, params: RuleParams) -> tuple[float, dict[str, Any]] | None:
    """When the inactivity rule fires for the current silence, and why (None: no silence at home)."""
    last = state.last_activity_at
    if last is None:
        return None
    if state.last_door_at is not None and state.last_door_at >= last and (
        state.last_motion_at is None or state.last_motion_at < state.last_door_at
    ):
        return None  # the last sign was the door: the elder went out (exit confirmed before any threshold)
    start = max(last, state.sensing_resumed_at or last)
    if state.thresholds:
        hour = local_hour(start)
        minutes = state.thresholds[hour]
        due = start + minutes * MINUTE
        why: dict[str, Any] = {
            "rule": "learned", "silence_from": start, "start_hour": hour, "threshold_minutes": round(minutes, 1),
        }
        if local_minute_of_day(start) < (state.thresholds[24] if len(state.thresholds) > 24 else params.waking_start) \
                or minutes >= 240:
            rise = rise_floor(start, state.thresholds, params)
            if rise > due:  # a night silence: normal until the usual (latest) rise
                due = rise
                why["rule"] = "learned_rise"
                why["rise_by"] = rise
        return due, why
    due = add_waking(start, params.inactivity_hours, params.waking_start, params.waking_end)
    return due, {"rule": "fixed", "silence_from": start, "waking_hours": params.inactivity_hours}


def night_exit_due(state: HomeRuleState, params: RuleParams) -> float | None:
    door = state.last_door_at
    if door is None or (state.last_motion_at is not None and state.last_motion_at >= door):
        return None
    if not in_window(local_minute_of_day(door), params.night_start, params.night_end):
        return None
    return door + params.night_return_minutes * MINUTE


def water_none_due(state: HomeRuleState, params: RuleParams, ctx: HomeContext) -> float | None:
    if not ctx.has_water_meter or state.last_water_at is None:
        return None
    start = max(state.last_water_at, state.returned_at or 0.0, state.water_resumed_at or 0.0)
    due = start + params.water_none_hours * HOUR + params.water_slot_minutes * MINUTE  # one report of slack
    # A minor alarm is not for the night: one falling due after bedtime or before the elder is
    # normally up (and has washed) waits for the morning.
    rise_minute = state.thresholds[24] if state.thresholds and len(state.thresholds) > 24 else params.waking_start
    minute = local_minute_of_day(due)
    if minute >= params.waking_end or minute < rise_minute + 120:
        morning = day_start(local_day(due)) + (rise_minute + 120) * MINUTE
        if minute >= params.waking_end:
            morning += DAY
        due = max(due, morning)
    return due


def evaluate_due(state: HomeRuleState, params: RuleParams, ctx: HomeContext, now: float) -> list[Signal]:
    """Run the absence rules at ``now`` (the scheduler's tick); sets ``state.next_check_at``."""
    out: list[Signal] = []
    pending: list[float] = []
    suppressed = ctx.status in (HS_AWAY, HS_HOSPITAL, HS_INACTIVE)
    alive_window = params.sensor_alive_minutes * MINUTE

    if not suppressed and params.on(AT_INACTIVITY) and AT_INACTIVITY not in state.active_alarms:
        due = inactivity_due(state, params)
        if due is not None:
            at, why = due
            if now >= at:
                seen = state.sensor_seen_at
                if seen is not None and seen >= now - alive_window:
                    why["sensor_seen_at"] = seen
                    _raise(state, params, AT_INACTIVITY, at, why, out)
                else:
                    # The motion sensor has gone quiet too: not evidence about the elder. Wait for
                    # its next heartbeat (then alarm) or for the offline rule (then a repair ticket).
                    pending.append(now + 5 * MINUTE)
            else:
                pending.append(at)

    if not suppressed and params.on(AT_NIGHT_EXIT) and AT_NIGHT_EXIT not in state.active_alarms:
        at_n = night_exit_due(state, params)
        if at_n is not None:
            if now >= at_n:
                _raise(state, params, AT_NIGHT_EXIT, at_n, {"door_at": state.last_door_at}, out)
            else:
                pending.append(at_n)

    if not suppressed and params.on(AT_WANDER) and state.outside_since is not None:
        at_w = state.outside_since + params.geofence_grace_minutes * MINUTE
        if AT_WANDER not in state.active_alarms:
            if now >= at_w:
                _raise(state, params, AT_WANDER, at_w,
                       {"outside_since": state.outside_since, "lat": state.last_lat, "lon": state.last_lon}, out)
            else:
                pending.append(at_w)

    if not suppressed and params.on(AT_WATER_NONE) and AT_WATER_NONE not in state.active_alarms:
        at_wn = water_none_due(state, params, ctx)
        if at_wn is not None:
            meter_alive = state.water_seen_at is not None and state.water_seen_at >= now - alive_window
            if now >= at_wn:
                if meter_alive and not was_out(state, params, now):
                    _raise(state, params, AT_WATER_NONE, at_wn, {"last_water_at": state.last_water_at}, out)
                else:
                    pending.append(now + 30 * MINUTE)
            else:
                pending.append(at_wn)

    state.next_check_at = min(pending) if pending else None
    return out


def next_check(state: HomeRuleState, params: RuleParams, ctx: HomeContext) -> float | None:
    """The earliest due time of any absence rule, computed without raising anything."""
    probe = replace(state, active_alarms=set(state.active_alarms))
    evaluate_due(probe, params, ctx, float("-inf"))
    return probe.next_check_at


# --- Learning the home's own baseline -------------------------------------------------------


def learn_thresholds(gap_hist: Mapping[int, Sequence[float | None]], as_of_day: int,
                     params: RuleParams) -> list[float] | None:
    """Per start hour, the longest normal at-home silence of the last ``learn_window_days`` days,
    times a margin plus a pad, clamped: Cuddihy et al. 2007's learned maximum normal gap.

    None while fewer than ``learn_min_days`` days are known (the fixed rule applies)."""
    days = [d for d in gap_hist if as_of_day - params.learn_window_days <= d < as_of_day]
    if len(days) < params.learn_min_days:
        return None
    rows = [gap_hist[d] for d in days]
    overall = [v for row in rows for v in row[:24] if v is not None]
    fallback = max(overall) if overall else params.inactivity_hours * 60
    longest: list[float] = []
    for h in range(24):
        samples = [row[h] for row in rows if row[h] is not None]
        width = 1
        while len(samples) < 5 and width <= 3:
            samples = [row[(h + k) % 24] for row in rows for k in range(-width, width + 1)
                       if row[(h + k) % 24] is not None]
            width += 1
        longest.append(max(v for v in samples if v is not None) if samples else fallback)
    out: list[float] = []
    ahead = max(0, int(params.learn_lookahead_hours))
    for h in range(24):
        base = max(longest[(h + k) % 24] for k in range(ahead + 1))
        t = base * params.learn_margin + params.learn_pad_minutes
        out.append(round(min(params.learn_max_minutes, max(params.learn_min_minutes, t)), 1))
    rises = [row[24] for row in rows if len(row) > 24 and row[24] is not None]
    # slot 24: the latest normal rise (minute of day) plus the pad; a night silence is normal until then
    out.append(round(min(float(RISE_LATEST), max(rises) + params.learn_pad_minutes), 1) if len(rises) >= 5
               else float(params.waking_start))
    return out


def rise_floor(start: float, thresholds: Sequence[float] | None, params: RuleParams) -> float:
    """The first moment after ``start`` at which this elder is normally up in the morning."""
    minute = thresholds[24] if thresholds is not None and len(thresholds) > 24 else float(params.waking_start)
    t = day_start(local_day(start)) + minute * MINUTE
    return t if t > start else t + DAY


def device_offline_after(params: RuleParams) -> float:
    return params.offline_minutes * MINUTE


def battery_ticket(pct: int | None, low_now: bool, params: RuleParams) -> str | None:
    """``"open"`` when a battery falls under the low mark, ``"close"`` when it is replaced."""
    if pct is None:
        return None
    if not low_now and pct < params.low_battery_pct:
        return "open"
    if low_now and pct >= params.battery_ok_pct:
        return "close"
    return None


TICKET_FOR_EVENT = {ET_TAMPER: TicketKind.TAMPER}


# --- Incidents: the state machine -----------------------------------------------------------

S = IncidentState
A = IncidentAction
ACTIVE_HANDLING = frozenset({S.ACKNOWLEDGED, S.VERIFYING, S.DISPATCHED, S.ON_SITE})

TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    # action: (allowed from, to; None = stays)
    A.ACKNOWLEDGE: (frozenset({S.NEW}), S.ACKNOWLEDGED),
    A.VERIFY: (frozenset({S.ACKNOWLEDGED}), S.VERIFYING),
    A.CALL: (frozenset({S.ACKNOWLEDGED, S.VERIFYING, S.DISPATCHED, S.ON_SITE, S.RESOLVED, S.FOLLOW_UP}), None),
    A.DISPATCH: (frozenset({S.ACKNOWLEDGED, S.VERIFYING, S.DISPATCHED}), S.DISPATCHED),
    A.ARRIVE: (frozenset({S.DISPATCHED}), S.ON_SITE),
    A.RESOLVE: (ACTIVE_HANDLING, S.RESOLVED),
    A.FOLLOW_UP: (frozenset({S.RESOLVED}), S.FOLLOW_UP),
    A.CLOSE: (frozenset({S.RESOLVED, S.FOLLOW_UP}), S.CLOSED),
    A.REOPEN: (frozenset({S.RESOLVED, S.FOLLOW_UP, S.CLOSED}), S.NEW),
    A.NOTE: (frozenset(S), None),
    A.ADMIN_CLOSE: (frozenset(S) - {S.CLOSED}, S.CLOSED),
}


class TransitionError(ValueError):
    def __init__(self, code: str, message: str, field_name: str = "action"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field_name


def needs_follow_up(outcome: str) -> bool:
    """Real help needs a 回访 call before closing; a false alarm or a calm care check does not."""
    return outcome not in FALSE_ALARM_OUTCOMES and outcome not in (Outcome.CARE_OK, Outcome.CANCELLED)


def next_state(state: str, action: str, *, outcome: str = "") -> str:
    """The state after ``action``, or TransitionError saying why not."""
    if action not in TRANSITIONS:
        raise TransitionError("unknown_action", "未知操作")
    allowed, to = TRANSITIONS[action]
    if state not in allowed:
        label = IncidentState(state).label if state in IncidentState.value_set() else state
        raise TransitionError("invalid_transition", f"工单当前为“{label}”,不能{IncidentAction(action).label}")
    if action == A.RESOLVE and outcome not in Outcome.value_set() - {Outcome.CANCELLED}:
        raise TransitionError("outcome_required", "请选择处置结果", "outcome")
    if action == A.CLOSE and state == S.RESOLVED and needs_follow_up(outcome):
        raise TransitionError("follow_up_required", "该工单须先回访再办结")
    return state if to is None else to


def state_after_call(state: str) -> str:
    return S.VERIFYING if state == S.ACKNOWLEDGED else state


# --- Incidents: time limits and escalation --------------------------------------------------


@dataclass(frozen=True)
class SlaPolicy:
    """Seconds allowed for the next step in each state, the repeat interval of an escalation
    once the time limit has passed, and how often it repeats at the top level."""

    ack: int
    verify: int
    dispatch: int
    on_site: int
    resolve: int
    follow_up: int
    close: int
    repeat: int
    loops: int
    family_on_open: bool

    def limit_for(self, state: str) -> int | None:
        limits: dict[str, int] = {
            S.NEW: self.ack, S.ACKNOWLEDGED: self.verify, S.VERIFYING: self.dispatch,
            S.DISPATCHED: self.on_site, S.ON_SITE: self.resolve, S.RESOLVED: self.follow_up,
            S.FOLLOW_UP: self.close,
        }
        return limits.get(state)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


MIN_, H_ = 60, 3600
# Defaults of eldercare.md §3.2 (a proposal, to tune with the bureau): critical acknowledged in
# 60 s, verified in 2 min, dispatched in 5, on site in 30; escalation repeats every 2 min, ×3.
SLA: dict[str, SlaPolicy] = {
    Severity.CRITICAL: SlaPolicy(60, 2 * MIN_, 5 * MIN_, 30 * MIN_, 2 * H_, 24 * H_, 48 * H_, 2 * MIN_, 3, True),
    Severity.MAJOR: SlaPolicy(5 * MIN_, 15 * MIN_, 30 * MIN_, 60 * MIN_, 4 * H_, 24 * H_, 48 * H_, 10 * MIN_, 3, True),
    Severity.MINOR: SlaPolicy(30 * MIN_, 8 * H_, 24 * H_, 48 * H_, 72 * H_, 48 * H_, 72 * H_, 4 * H_, 2, False),
    Severity.LOW: SlaPolicy(4 * H_, 24 * H_, 48 * H_, 72 * H_, 96 * H_, 72 * H_, 96 * H_, 24 * H_, 1, False),
    Severity.WARNING: SlaPolicy(24 * H_, 48 * H_, 72 * H_, 96 * H_, 120 * H_, 72 * H_, 96 * H_, 24 * H_, 1, False),
}
TOP_LEVEL = 2  # 0 社区(村) → 1 街道(镇) → 2 区级值班


def deadline_after(state: str, policy: SlaPolicy, at: float) -> float | None:
    limit = policy.limit_for(state)
    return None if limit is None else at + limit


@dataclass(frozen=True)
class Escalation:
    level: int
    next_deadline: float | None
    notify_family: bool


def escalate(level: int, escalations: int, policy: SlaPolicy, now: float) -> Escalation:
    """A time limit passed: one level up (community → township → district), then repeat at the
    top ``policy.loops`` times; family contacts are told on the first escalation."""
    new_level = min(TOP_LEVEL, level + 1)
    done = escalations + 1
    more = done < TOP_LEVEL + policy.loops
    return Escalation(new_level, now + policy.repeat if more else None, notify_family=escalations == 0)


def step_durations(timestamps: Mapping[str, float | None]) -> dict[str, float | None]:
    """Seconds from opening to acknowledgement, dispatch, arrival and resolution."""
    opened = timestamps.get("opened_at")

    def since(key: str) -> float | None:
        t = timestamps.get(key)
        return None if t is None or opened is None else max(0.0, t - opened)

    return {"ack": since("acked_at"), "dispatch": since("dispatched_at"), "on_site": since("on_site_at"),
            "resolve": since("resolved_at")}


# --- Early warning: daily anomaly score and weekly risk -----------------------------------------


@dataclass(frozen=True)
class Profile:
    """A home's normal day: mean and spread of activity per hour, usual first activity hour."""

    days: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    total_mean: float
    total_std: float
    wake_hour: float
    wake_std: float
    night_mean: float
    night_std: float
    water_mean: float | None
    water_std: float | None


NIGHT_HOURS = (23, 0, 1, 2, 3, 4)


def _first_active_hour(counts: Sequence[float]) -> float | None:
    for h in range(4, 14):
        if counts[h] > 0:
            return float(h)
    return None


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    m = sum(values) / n
    var = sum((v - m) ** 2 for v in values) / n
    return m, math.sqrt(var)


def activity_profile(days: Sequence[Sequence[float]], water: Sequence[float | None] = ()) -> Profile | None:
    """From per-day hourly activity counts (24 values each, normal days only)."""
    if len(days) < 7:
        return None
    mean, std = [], []
    for h in range(24):
        m, s = _mean_std([d[h] for d in days])
        mean.append(round(m, 2))
        std.append(round(s, 2))
    tm, ts = _mean_std([sum(d) for d in days])
    wakes = [w for w in (_first_active_hour(d) for d in days) if w is not None]
    wm, ws = _mean_std(wakes) if wakes else (7.0, 1.0)
    nm, ns = _mean_std([sum(d[h] for h in NIGHT_HOURS) for d in days])
    wv = [w for w in water if w is not None]
    wmean, wstd = _mean_std(wv) if len(wv) >= 7 else (None, None)
    return Profile(len(days), tuple(mean), tuple(std), round(tm, 2), round(ts, 2), wm, ws, nm, ns, wmean, wstd)


def daily_anomaly(counts: Sequence[float], profile: Profile, *, water: float | None = None,
                  away_hours: float = 0.0) -> tuple[float, list[str]]:
    """Score a day 0–100 against the home's profile (an "outlier day", Sensors 2021 21(18) 6080),
    with the reasons in Chinese. A day spent away (外出报备) scores 0."""
    if away_hours >= 12:
        return 0.0, []
    reasons: list[str] = []
    zs: list[float] = []
    total = float(sum(counts))
    z_total = (total - profile.total_mean) / max(profile.total_std, 0.15 * profile.total_mean, 1.0)
    zs.append(min(0.0, z_total))  # only less activity than usual is a concern here
    if z_total <= -2:
        drop = 100 * (1 - total / profile.total_mean) if profile.total_mean else 100
        reasons.append(f"全天活动量比平时少 {drop:.0f}%")
    wake = _first_active_hour(counts)
    if wake is None:
        zs.append(-4.0)
        reasons.append("上午未检测到起床活动")
    else:
        z_wake = (wake - profile.wake_hour) / max(profile.wake_std, 0.75)
        zs.append(max(0.0, z_wake))
        if z_wake >= 2:
            reasons.append(f"起床比平时晚约 {wake - profile.wake_hour:.1f} 小时")
    night = float(sum(counts[h] for h in NIGHT_HOURS))
    z_night = (night - profile.night_mean) / max(profile.night_std, 1.0)
    zs.append(max(0.0, z_night))
    if z_night >= 2.5:
        reasons.append(f"夜间活动 {night:.0f} 次, 明显多于平时 ({profile.night_mean:.1f} 次)")
    if water is not None and profile.water_mean is not None and profile.water_std is not None:
        z_water = (water - profile.water_mean) / max(profile.water_std, 0.2 * profile.water_mean, 5.0)
        zs.append(z_water if abs(z_water) >= 2 else 0.0)
        if z_water <= -2:
            reasons.append(f"用水量 {water:.0f} 升, 明显低于平时 ({profile.water_mean:.0f} 升)")
        elif z_water >= 3:
            reasons.append(f"用水量 {water:.0f} 升, 明显高于平时 ({profile.water_mean:.0f} 升)")
    energy = sum(z * z for z in zs)
    score = 100.0 * (1.0 - math.exp(-energy / 12.0))
    return round(score, 1), reasons


@dataclass(frozen=True)
class RiskInput:
    scores: Sequence[float]  # the last 7 daily scores
    reasons: Sequence[Sequence[str]]
    recent_activity: float | None  # mean daily activity of the last 7 days
    baseline_activity: float | None  # mean daily activity of the baseline window
    incidents_30d: int  # real (not false-alarm) incidents in 30 days
    care_signals_30d: int


def weekly_risk(inp: RiskInput, *, threshold: float = 40.0) -> tuple[float, list[str]] | None:
    """Is this elder at risk this week, and why? None when nothing stands out."""
    reasons: list[str] = []
    high_days = sum(1 for s in inp.scores if s >= 60)
    mean = sum(inp.scores) / len(inp.scores) if inp.scores else 0.0
    score = mean
    if high_days >= 3:
        reasons.append(f"近7天有 {high_days} 天作息明显异常")
        score += 10 * (high_days - 2)
    if inp.recent_activity is not None and inp.baseline_activity:
        ratio = inp.recent_activity / inp.baseline_activity
        if ratio < 0.7:
            reasons.append(f"近7天活动量降至平时的 {ratio:.0%}")
            score += 40 * (0.7 - ratio) / 0.7 + 15
    if inp.incidents_30d >= 2:
        reasons.append(f"近30天发生 {inp.incidents_30d} 起需处置的告警")
        score += 10 * inp.incidents_30d
    if inp.care_signals_30d:
        reasons.append(f"近30天收到 {inp.care_signals_30d} 条其他业务的关爱提示")
        score += 10 * inp.care_signals_30d
    seen: set[str] = set()
    for day in inp.reasons:
        for r in day:
            key = r.split(" ")[0][:6]
            if key not in seen and len(reasons) < 6:
                seen.add(key)
                reasons.append(r)
    score = min(100.0, score)
    if score < threshold or not reasons:
        return None
    return round(score, 1), reasons


def replace_state(state: HomeRuleState, **changes: Any) -> HomeRuleState:
    return replace(state, **changes)


def merge_hist(rows: Iterable[tuple[int, Sequence[float | None]]]) -> dict[int, list[float | None]]:
    return {int(d): list(v) for d, v in rows}
