"""Ingestion: the one code path after decode, for MQTT, HTTP and file replay alike.

``ingest_batch`` takes a batch of envelopes (an MQTT message, an HTTP body) and in ONE
transaction: inserts the raw events with ``ON CONFLICT (device, seq) DO NOTHING RETURNING`` (the
UNIQUE constraint drops duplicates, and tells which rows are new), folds the new readings into
each home's persisted rule state in time order, raises and clears alarms, opens incidents,
updates the latest state per device (highest sequence number wins) and the hourly aggregates,
and counts everything (accepted, duplicate, rejected by reason). Bad input is refused per
message with a reason and never blocks the good messages around it; an unexpected failure in
one envelope is isolated by retrying the batch envelope by envelope. A database outage raises
(the caller does not acknowledge, and retries).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from minzheng.safety import domain
from minzheng.safety.conf import safety_settings
from minzheng.safety.enums import (
    Channel,
    DeviceKind,
    DeviceStatus,
    EventType,
    HomeStatus,
    KitStatus,
    RejectReason,
    TicketKind,
)
from minzheng.safety.models import (
    ActivityHourly,
    Device,
    Gateway,
    Home,
    HomeState,
    IngestCounter,
    IngestRejection,
    RawEvent,
)
from minzheng.safety.services._common import (
    TIME_FIELDS,
    bulk_update_fast,
    chunks,
    params_for,
    params_for_json,
    snapshot_of_row,
    state_diff,
    state_from_snapshot,
    to_dt,
)
from minzheng.safety.services.alarms import apply_signals
from minzheng.safety.services.devices import device_back_online, ticket_auto_close, ticket_open

log = logging.getLogger(__name__)
INSERT_CHUNK = 500
GATEWAY_SEEN_COALESCE = 60.0


def _pg() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def _raw() -> Iterator[Any]:
    """A psycopg cursor with server-side binding on Django's connection (same session, same
    transaction). The hot statements pass whole columns as binary array parameters (``%b``)
    instead of having them quoted into the SQL text in Python, and read times as epoch seconds
    (``date_part``) instead of through Django's time-zone loader: a tenth of the Python cost per
    row. Database errors come out as Django's, as from any cursor."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


def _json_text(v: Any) -> str | None:
    if v is None:
        return None
    if type(v) is int:
        return str(v)
    return json.dumps(v, separators=(",", ":"))


@dataclass
class Envelope:
    """One unit of transport: an MQTT message (gateway from its topic) or an HTTP body (gateway
    from its API key). ``ref`` is the transport's own handle (the MQTT message id)."""

    payload: Any
    gateway_code: str = ""
    gateway_id: int | None = None
    ref: Any = None


@dataclass
class ItemOutcome:
    index: int
    device: str
    seq: int | None
    status: str  # "accepted" | "duplicate" | "rejected"
    reason: str = ""
    detail: str = ""


@dataclass
class EnvelopeOutcome:
    items: list[ItemOutcome] = field(default_factory=list)
    error: str = ""  # the whole envelope was refused (malformed, unknown gateway)
    detail: str = ""


@dataclass
class BatchOutcome:
    envelopes: list[EnvelopeOutcome]
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    alarms: int = 0

    def merge(self, other: BatchOutcome) -> None:
        self.envelopes.extend(other.envelopes)
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.alarms += other.alarms


@dataclass
class _Dev:
    id: int
    serial: str
    kind: str
    status: str
    home_id: int
    kit_status: str
    home_status: str
    last_seq: int | None
    online: bool
    low_battery: bool
    battery_pct: int | None


@dataclass
class _Item:
    env: int
    index: int
    reading: domain.Reading
    dev: _Dev


@dataclass
class _Rejection:
    env: int
    index: int
    reason: str
    detail: str
    device: str
    seq: int | None
    excerpt: str


def _excerpt(obj: Any, limit: int) -> str:
    try:
        text = obj if isinstance(obj, str) else (
            bytes(obj).decode("utf-8", "replace") if isinstance(obj, bytes | bytearray | memoryview)
            else json.dumps(obj, ensure_ascii=False, default=str)
        )
    except (TypeError, ValueError):
        text = repr(obj)
    return text[:limit]


def _prepare(envelopes: Sequence[Envelope], now: datetime) -> tuple[list[_Item], list[_Rejection], list[EnvelopeOutcome], set[int]]:
    cfg = safety_settings()
    now_ts = now.timestamp()
    max_age = cfg.raw_retention_days * 86400.0
    outcomes = [EnvelopeOutcome() for _ in envelopes]
    rejections: list[_Rejection] = []
    parsed: list[tuple[int, int, domain.Reading, Any]] = []
    for ei, env in enumerate(envelopes):
        msgs = domain.decode_payload(env.payload)
        if isinstance(msgs, domain.Rejected):
            outcomes[ei].error, outcomes[ei].detail = msgs.reason, msgs.detail
            rejections.append(_Rejection(ei, -1, msgs.reason, msgs.detail, "", None,
                                         _excerpt(env.payload, cfg.rejection_excerpt)))
            continue
        for ii, obj in enumerate(msgs):
            r = domain.parse_message(obj, now=now_ts, max_future=cfg.max_future_seconds, max_age=max_age)
            if isinstance(r, domain.Rejected):
                rejections.append(_Rejection(ei, ii, r.reason, r.detail, r.device, r.seq,
                                             _excerpt(obj, cfg.rejection_excerpt)))
            else:
                parsed.append((ei, ii, r, obj))

    serials = {r.device for _, _, r, _ in parsed}
    devices = _lookup_devices(serials)
    codes = {e.gateway_code for e in envelopes if e.gateway_code}
    ids = {e.gateway_id for e in envelopes if e.gateway_id is not None}
    gw_by_code: dict[str, tuple[int, int]] = {}
    gw_by_id: dict[int, tuple[int, int]] = {}
    stale = now - timedelta(seconds=GATEWAY_SEEN_COALESCE)
    fresh: set[int] = set()
    if codes or ids:
        for pk, code, home_id, recent in _lookup_gateways(codes, ids, stale):
            gw_by_code[code] = (pk, home_id)
            gw_by_id[pk] = (pk, home_id)
            if recent:
                fresh.add(pk)  # "last seen" is kept to the minute: no write for every message
    gateways_seen: set[int] = set()
    env_home: dict[int, int | None] = {}
    for ei, env in enumerate(envelopes):
        if env.gateway_code or env.gateway_id is not None:
            gw = gw_by_code.get(env.gateway_code) if env.gateway_code else gw_by_id.get(env.gateway_id)  # type: ignore[arg-type]
            if gw is None:
                env_home[ei] = -1
                if not outcomes[ei].error:
                    outcomes[ei].error, outcomes[ei].detail = RejectReason.UNKNOWN_GATEWAY, "未登记的网关"
            else:
                env_home[ei] = gw[1]
                if gw[0] not in fresh:
                    gateways_seen.add(gw[0])

    items: list[_Item] = []
    seen_keys: set[tuple[int, int]] = set()
    for ei, ii, r, obj in parsed:
        reason, detail = "", ""
        dev = devices.get(r.device)
        home_of_gw = env_home.get(ei)
        if home_of_gw == -1:
            reason, detail = RejectReason.UNKNOWN_GATEWAY, "未登记的网关"
        elif dev is None or dev.status != DeviceStatus.ACTIVE:
            reason, detail = RejectReason.UNKNOWN_DEVICE, f"device: 未登记或已拆除的设备 {r.device}"
        elif home_of_gw is not None and home_of_gw != dev.home_id:
            reason, detail = RejectReason.GATEWAY_HOME_MISMATCH, "网关不属于该设备所在的家庭"
        elif dev.kit_status != KitStatus.ACTIVE or dev.home_status == HomeStatus.INACTIVE:
            reason, detail = RejectReason.KIT_INACTIVE, "该户已停止服务"
        elif r.type not in domain.ALLOWED_TYPES.get(dev.kind, frozenset()):
            reason, detail = RejectReason.TYPE_NOT_FOR_DEVICE, f"type: {DeviceKind(dev.kind).label}不上报 {r.type}"
        if reason:
            rejections.append(_Rejection(ei, ii, reason, detail, r.device, r.seq, _excerpt(obj, cfg.rejection_excerpt)))
            continue
        assert dev is not None  # noqa: S101 - checked above
        key = (dev.id, r.seq)
        if key in seen_keys:
            outcomes[ei].items.append(ItemOutcome(ii, r.device, r.seq, "duplicate"))
            continue
        seen_keys.add(key)
        items.append(_Item(ei, ii, r, dev))
    return items, rejections, outcomes, gateways_seen


DEVICE_SQL = (
    "SELECT d.id, d.serial, d.kind, d.status, d.home_id, k.status, h.status, d.last_seq, d.online, d.low_battery, "
    "d.battery_pct FROM safety_device d JOIN safety_kit k ON k.id = d.kit_id JOIN safety_home h ON h.id = d.home_id "
    "WHERE d.serial = ANY(%b::text[])"
)


def _lookup_devices(serials: set[str]) -> dict[str, _Dev]:
    devices: dict[str, _Dev] = {}
    if not serials:
        return devices
    if _pg():
        with _raw() as cur:
            cur.execute(DEVICE_SQL, [list(serials)])
            for row in cur.fetchall():
                devices[row[1]] = _Dev(*row)
        return devices
    for chunk in chunks(sorted(serials), 900):
        for row in Device.objects.filter(serial__in=chunk).values_list(
            "id", "serial", "kind", "status", "home_id", "kit__status", "home__status", "last_seq", "online",
            "low_battery", "battery_pct",
        ):
            devices[row[1]] = _Dev(*row)
    return devices


def _lookup_gateways(codes: set[str], ids: set[int], stale: datetime) -> list[tuple[int, str, int, bool]]:
    """(pk, code, home, seen since ``stale``) of the gateways named by code or pk."""
    if _pg():
        with _raw() as cur:
            cur.execute("SELECT id, code, home_id, COALESCE(last_seen_at > %s, false) FROM safety_gateway "
                        "WHERE code = ANY(%b::text[]) OR id = ANY(%b::bigint[])", [stale, list(codes), list(ids)])
            return cur.fetchall()
    return [(pk, code, home_id, seen is not None and seen > stale)
            for pk, code, home_id, seen in Gateway.objects.filter(Q(code__in=codes) | Q(pk__in=ids)).values_list(
                "pk", "code", "home_id", "last_seen_at")]


def _adapt_dt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _insert_raw(items: list[_Item], channel: str, now: datetime) -> set[tuple[int, int]]:
    """INSERT … ON CONFLICT (device_id, seq) DO NOTHING RETURNING: the keys that were new."""
    table = RawEvent._meta.db_table
    cols = "device_id, home_id, seq, type, value, device_ts, received_at, channel"
    conflict = "ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq"
    inserted: set[tuple[int, int]] = set()
    values = [_json_text(it.reading.value) for it in items]
    if _pg():
        with _raw() as cur:
            cur.execute(
                f"INSERT INTO {table} ({cols}) SELECT d, h, s, t, v::jsonb, to_timestamp(ts), %s, %s "  # noqa: S608
                "FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::float8[]) "
                f"AS x(d, h, s, t, v, ts) {conflict}",
                [now, channel, [it.dev.id for it in items], [it.dev.home_id for it in items],
                 [it.reading.seq for it in items], [it.reading.type for it in items], values,
                 [it.reading.ts for it in items]],
            )
            inserted.update(cur.fetchall())
        return inserted
    stamps = [datetime.fromtimestamp(it.reading.ts, UTC) for it in items]
    with connection.cursor() as cur:
        received = _adapt_dt(now)
        ph = "(%s, %s, %s, %s, %s, %s, %s, %s)"
        for start in range(0, len(items), INSERT_CHUNK):
            part = range(start, min(len(items), start + INSERT_CHUNK))
            params: list[Any] = []
            for i in part:
                it = items[i]
                params += [it.dev.id, it.dev.home_id, it.reading.seq, it.reading.type, values[i],
                           _adapt_dt(stamps[i]), received, channel]
            cur.execute(f"INSERT INTO {table} ({cols}) VALUES {', '.join([ph] * len(part))} {conflict}",  # noqa: S608
                        params)
            inserted.update((int(a), int(b)) for a, b in cur.fetchall())
    return inserted


def _upsert_counts(table: str, keys: Sequence[str], values: Sequence[str], rows: list[tuple[Any, ...]],
                   types: Sequence[str] = (), exprs: Sequence[str] = ()) -> None:
    """INSERT … ON CONFLICT DO UPDATE SET v = v + excluded.v. On PostgreSQL one statement over
    ``unnest`` of binary arrays of ``types``; ``exprs`` (over ``c0``, ``c1``, …) may convert a
    column on the way (epoch seconds to a time)."""
    if not rows:
        return
    cols = [*keys, *values]
    sets = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    if _pg() and types:
        arrays = [list(col) for col in zip(*rows, strict=True)]
        unnest = ", ".join(f"%b::{t}[]" for t in types)
        names = [f"c{i}" for i in range(len(cols))]
        select = ", ".join(exprs or names)
        with _raw() as cur:
            cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} "  # noqa: S608
                        f"FROM unnest({unnest}) AS v({', '.join(names)}) {conflict}", arrays)
        return
    ph = "(" + ", ".join(["%s"] * len(cols)) + ")"
    with connection.cursor() as cur:
        for chunk in chunks(rows, 500):
            cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([ph] * len(chunk))} {conflict}",  # noqa: S608
                        [p for row in chunk for p in row])


def _count(channel: str, now: datetime, counts: dict[str, int]) -> None:
    day = connection.ops.adapt_datefield_value(timezone.localdate(now))
    rows = [(day, channel, name, n) for name, n in sorted(counts.items()) if n]
    _upsert_counts(IngestCounter._meta.db_table, ("day", "channel", "name"), ("count",), rows,
                   ("date", "text", "text", "bigint"))


def _hourly(new: list[_Item]) -> None:
    agg: dict[tuple[int, float], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for it in new:
        r = it.reading
        hour = (r.ts // 3600) * 3600  # UTC+8 hours begin on UTC hours
        a = agg[(it.dev.home_id, hour)]
        if r.type == EventType.MOTION and r.value:
            a[0] += 1
        elif r.type == EventType.DOOR:
            a[1] += 1
        elif r.type == EventType.WATER:
            a[2] += r.value
        a[3] += 1
    pg = _pg()
    rows = [
        (home_id, hour if pg else _adapt_dt(datetime.fromtimestamp(hour, UTC)),
         int(a[0]), int(a[1]), round(a[2], 3), int(a[3]))
        for (home_id, hour), a in sorted(agg.items())
    ]
    _upsert_counts(ActivityHourly._meta.db_table, ("home_id", "hour"), ("motion", "door", "water_l", "events"), rows,
                   ("bigint", "float8", "integer", "integer", "double precision", "integer"),
                   ("c0", "to_timestamp(c1)", "c2", "c3", "c4", "c5"))


class _Row:
    """A lightweight row (no model instance): what the hot path reads and writes back."""

    def __init__(self, pk: Any, **values: Any) -> None:
        self.pk = pk
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # the columns, for the type checker
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value


@dataclass(slots=True)
class _HomeCtx:
    """One home in a batch: its facts, its rule parameters and context, the stored rule state
    (``snap``, epoch seconds) and the state the readings are folded into."""

    info: _Row
    params: domain.RuleParams
    ctx: domain.HomeContext
    snap: dict[str, Any]
    state: domain.HomeRuleState


def _devices_latest(new: list[_Item], homes: dict[int, _HomeCtx], now: datetime) -> None:
    """Latest state per device: the reading with the highest sequence number wins (F6)."""
    by_dev: dict[int, list[_Item]] = defaultdict(list)
    for it in new:
        by_dev[it.dev.id].append(it)
    now_ts = now.timestamp()
    due_by_home: dict[int, float] = {}
    # per device: id, due, battery, low, seq (if newer), type, value, event time
    rows: list[tuple[int, float, int | None, bool, int | None, str | None, Any, float | None]] = []
    for dev_id, its in by_dev.items():
        dev = its[0].dev
        home = homes[dev.home_id]
        due = due_by_home.get(dev.home_id)
        if due is None:
            due = due_by_home[dev.home_id] = now_ts + domain.device_offline_after(home.params)
        top = max(its, key=lambda i: i.reading.seq) if len(its) > 1 else its[0]
        newer = dev.last_seq is None or top.reading.seq > dev.last_seq
        battery_pct, low_battery = dev.battery_pct, dev.low_battery
        battery = [i for i in its if i.reading.type == EventType.BATTERY
                   or (i.reading.type == EventType.HEARTBEAT and isinstance(i.reading.value, dict))]
        if battery:
            b = max(battery, key=lambda i: i.reading.seq)
            if dev.last_seq is None or b.reading.seq >= dev.last_seq or dev.battery_pct is None:
                pct = b.reading.value if b.reading.type == EventType.BATTERY else b.reading.value.get("battery")
                battery_pct = pct
                action = domain.battery_ticket(pct, dev.low_battery, home.params)
                if action == "open":
                    low_battery = True
                    ticket_open(device_id=dev_id, home=_home(home.info), kind=TicketKind.LOW_BATTERY, at=now,
                                note=f"{DeviceKind(dev.kind).label} {dev.serial} 电量 {pct}%")
                elif action == "close":
                    low_battery = False
                    ticket_auto_close(device_id=dev_id, kind=TicketKind.LOW_BATTERY, at=now,
                                      note=f"电量恢复 {pct}%")
        if any(i.reading.type == EventType.TAMPER and i.reading.value for i in its):
            ticket_open(device_id=dev_id, home=_home(home.info), kind=TicketKind.TAMPER, at=now,
                        note=f"{DeviceKind(dev.kind).label} {dev.serial} 被拆除或摘下")
        if not dev.online:
            Device.objects.filter(pk=dev_id).update(online=True)
            device_back_online(home=_home(home.info), device_id=dev_id, now=now)
        r = top.reading
        if newer:
            rows.append((dev_id, due, battery_pct, low_battery, r.seq, r.type, r.value, r.ts))
        else:
            rows.append((dev_id, due, battery_pct, low_battery, None, None, None, None))
    if not rows:
        return
    if not _pg():
        common = ["last_seen_at", "online", "offline_due_at", "battery_pct", "low_battery"]
        latest, rest = [], []
        for dev_id, due, batt, low, seq, typ, val, ev in rows:
            d = _Row(dev_id, last_seen_at=now, online=True, offline_due_at=to_dt(due), battery_pct=batt,
                     low_battery=low)
            if seq is not None:
                d.last_seq, d.last_type, d.last_value, d.last_event_at = seq, typ, val, to_dt(ev)
                latest.append(d)
            else:
                rest.append(d)
        bulk_update_fast(Device, latest, ["last_seq", "last_type", "last_value", "last_event_at", *common])
        bulk_update_fast(Device, rest, common)
        return
    with _raw() as cur:
        # One statement; the newest reading wins even against a concurrent worker (seq compared in SQL).
        cur.execute(
            "UPDATE safety_device AS d SET last_seen_at = %s, online = true, offline_due_at = to_timestamp(v.due), "
            "battery_pct = v.batt, low_battery = v.low, "
            "last_type = CASE WHEN v.seq > COALESCE(d.last_seq, -1) THEN v.typ ELSE d.last_type END, "
            "last_value = CASE WHEN v.seq > COALESCE(d.last_seq, -1) THEN v.val::jsonb ELSE d.last_value END, "
            "last_event_at = CASE WHEN v.seq > COALESCE(d.last_seq, -1) THEN to_timestamp(v.ev) "
            "ELSE d.last_event_at END, "
            "last_seq = GREATEST(v.seq, d.last_seq) "
            "FROM unnest(%b::bigint[], %b::float8[], %b::int2[], %b::boolean[], %b::bigint[], %b::text[], "
            "%b::text[], %b::float8[]) AS v(id, due, batt, low, seq, typ, val, ev) WHERE d.id = v.id",
            [now, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
             [r[4] for r in rows], [r[5] for r in rows], [_json_text(r[6]) for r in rows], [r[7] for r in rows]],
        )


HOME_FIELDS = ("id", "code", "status", "lat", "lon", "rule_overrides", "area_path", "person_id", "division_id")


def _home_infos(home_ids: Sequence[int]) -> dict[int, _Row]:
    out: dict[int, _Row] = {}
    for chunk in chunks(list(home_ids), 900):
        for row in Home.objects.filter(pk__in=chunk).values_list(*HOME_FIELDS):
            out[row[0]] = _Row(row[0], **dict(zip(HOME_FIELDS, row, strict=True)))
    return out


def _home(info: _Row) -> Home:
    """A Home instance for the rare write that needs one (an alarm, a ticket)."""
    values = {f: getattr(info, f) for f in HOME_FIELDS}
    if isinstance(values["rule_overrides"], str):  # PostgreSQL hands jsonb over as text
        values["rule_overrides"] = json.loads(values["rule_overrides"])
    return Home(**values)


_KINDS_TTL = 60.0
_kinds_cache: dict[int, tuple[float, tuple[bool, bool]]] = {}


def home_contexts(home_ids: Sequence[int]) -> dict[int, tuple[bool, bool]]:
    """Per home: (has a motion sensor, has a water meter); cached for a minute per process, and
    forgotten at once when this process adds or retires a device."""
    now = time.monotonic()
    out: dict[int, tuple[bool, bool]] = {}
    missing = []
    for h in home_ids:
        hit = _kinds_cache.get(h)
        if hit is not None and hit[0] > now:
            out[h] = hit[1]
        else:
            missing.append(h)
    if missing:
        kinds: dict[int, set[str]] = defaultdict(set)
        for chunk in chunks(missing, 900):
            for home_id, kind in Device.objects.filter(home_id__in=chunk, status=DeviceStatus.ACTIVE).values_list(
                "home_id", "kind"
            ):
                kinds[home_id].add(kind)
        for h in missing:
            out[h] = (DeviceKind.PIR in kinds[h], DeviceKind.WATER_METER in kinds[h])
            _kinds_cache[h] = (now + _KINDS_TTL, out[h])
        if len(_kinds_cache) > 200_000:
            _kinds_cache.clear()
    return out


def forget_home_kinds(home_id: int | None = None) -> None:
    if home_id is None:
        _kinds_cache.clear()
    else:
        _kinds_cache.pop(home_id, None)


def context_of(home: Any, has: tuple[bool, bool]) -> domain.HomeContext:
    return domain.HomeContext(status=home.status, has_motion_sensor=has[0], has_water_meter=has[1],
                              home_lat=home.lat, home_lon=home.lon)


STATE_FIELDS = [f.attname for f in HomeState._meta.concrete_fields]
_EPOCHS = ", ".join(f"date_part('epoch', hs.{f})" for f in TIME_FIELDS)
HOMES_SQL = (
    f"SELECT hs.home_id, {_EPOCHS}, hs.last_lat, hs.last_lon, hs.alarm_in_gap, hs.active_alarms, hs.gap_hist, "  # noqa: S608
    "hs.thresholds, h.code, h.status, h.lat, h.lon, h.rule_overrides, h.area_path, h.person_id, h.division_id "
    "FROM safety_homestate hs JOIN safety_home h ON h.id = hs.home_id "
    "WHERE hs.home_id = ANY(%b::bigint[]) ORDER BY hs.home_id FOR UPDATE OF hs"
)
_NT = len(TIME_FIELDS)


_STATE_COLS = (*TIME_FIELDS, "last_lat", "last_lon", "alarm_in_gap")
_facts_cache: dict[int, tuple[tuple[Any, ...], _Row, domain.HomeContext]] = {}


def _load_homes_pg(home_ids: list[int]) -> dict[int, _HomeCtx]:
    out: dict[int, _HomeCtx] = {}
    loads = orjson.loads
    has = home_contexts(home_ids)
    params_by_text: dict[str, domain.RuleParams] = {}
    n = len(_STATE_COLS)
    with _raw() as cur:
        cur.execute(HOMES_SQL, [home_ids])
        rows = cur.fetchall()
    for row in rows:
        home_id = row[0]
        snap = dict(zip(_STATE_COLS, row[1:1 + n], strict=True))
        active, gap, thresholds = row[1 + n:4 + n]
        snap["active_alarms"] = loads(active) if active and active != "[]" else []
        snap["gap_hist"] = loads(gap) if gap and gap != "{}" else {}
        snap["thresholds"] = loads(thresholds) if thresholds else None
        # The home's facts rarely change: the same values give the same (immutable) objects.
        key = (*row[4 + n:], *has[home_id])
        hit = _facts_cache.get(home_id)
        if hit is not None and hit[0] == key:
            info, ctx = hit[1], hit[2]
        else:
            code, status, lat, lon, overrides, area, person, division, pir, water = key
            info = _Row(home_id, id=home_id, code=code, status=status, lat=lat, lon=lon, rule_overrides=overrides,
                        area_path=area, person_id=person, division_id=division)
            ctx = domain.HomeContext(status=status, has_motion_sensor=pir, has_water_meter=water, home_lat=lat,
                                     home_lon=lon)
            if len(_facts_cache) > 200_000:
                _facts_cache.clear()
            _facts_cache[home_id] = (key, info, ctx)
        overrides = info.rule_overrides or ""
        params = params_by_text.get(overrides)
        if params is None:
            params = params_by_text[overrides] = params_for_json(overrides)
        out[home_id] = _HomeCtx(info, params, ctx, snap, state_from_snapshot(snap))
    return out


def _load_homes(home_ids: list[int]) -> dict[int, _HomeCtx]:
    """The homes of a batch with their rule state, the state rows locked (in home order) until
    the commit. A home without a state row gets one."""
    if _pg():
        homes = _load_homes_pg(home_ids)
        missing = [h for h in home_ids if h not in homes]
        if missing:
            _create_states(missing)
            homes.update(_load_homes_pg(missing))
        return homes
    infos = _home_infos(home_ids)
    states = _lock_states(home_ids)
    has = home_contexts(home_ids)
    out: dict[int, _HomeCtx] = {}
    for home_id in home_ids:
        info = infos.get(home_id)
        if info is None:
            continue
        snap = snapshot_of_row(states[home_id])  # type: ignore[arg-type]
        out[home_id] = _HomeCtx(info, params_for(info.rule_overrides), context_of(info, has[home_id]), snap,
                                state_from_snapshot(snap))
    return out


def _create_states(home_ids: list[int]) -> None:
    paths = dict(Home.objects.filter(pk__in=home_ids).values_list("pk", "area_path"))
    HomeState.objects.bulk_create([HomeState(home_id=h, area_path=paths[h]) for h in home_ids if h in paths],
                                  ignore_conflicts=True)


def _lock_states(home_ids: list[int]) -> dict[int, _Row]:
    def load(ids: list[int], lock: bool) -> dict[int, _Row]:
        qs = HomeState.objects.filter(home_id__in=ids)
        if lock and connection.features.has_select_for_update:
            qs = qs.select_for_update()
        return {row[0]: _Row(row[0], **dict(zip(STATE_FIELDS, row, strict=True)))
                for row in qs.order_by("home_id").values_list(*STATE_FIELDS)}

    states = load(home_ids, True)
    missing = [h for h in home_ids if h not in states]
    if missing:
        _create_states(missing)
        states.update(load(missing, True))
    return states


_STATE_TYPES = {"last_lat": "float8", "last_lon": "float8", "alarm_in_gap": "boolean", "active_alarms": "text"}


def _save_states(changed: list[tuple[_HomeCtx, dict[str, Any]]], now: datetime) -> None:
    """Write the changed states: the fields any of them changed, the silence history (a JSON
    document) only where it changed."""
    if not changed:
        return
    fields = sorted({f for _, ch in changed for f in ch} - {"gap_hist"})
    gaps = [(h, ch["gap_hist"]) for h, ch in changed if "gap_hist" in ch]
    if not _pg():
        rows = []
        for h, _ in changed:
            r = _Row(h.info.pk, updated_at=now)
            for f in fields:
                v = getattr(h.state, f)
                r.__dict__[f] = to_dt(v) if f in TIME_FIELDS else (sorted(v) if f == "active_alarms" else v)
            rows.append(r)
        bulk_update_fast(HomeState, rows, [*fields, "updated_at"])
        if gaps:
            bulk_update_fast(HomeState, [_Row(h.info.pk, gap_hist=g) for h, g in gaps], ["gap_hist"])
        return
    arrays: list[list[Any]] = [[h.info.pk for h, _ in changed]]
    types, sets = ["bigint"], []
    for f in fields:
        if f in TIME_FIELDS:
            arrays.append([getattr(h.state, f) for h, _ in changed])
            types.append("float8")
            sets.append(f"{f} = to_timestamp(v.{f})")
        elif f == "active_alarms":
            arrays.append([json.dumps(sorted(h.state.active_alarms)) for h, _ in changed])
            types.append("text")
            sets.append(f"{f} = v.{f}::jsonb")
        else:
            arrays.append([getattr(h.state, f) for h, _ in changed])
            types.append(_STATE_TYPES[f])
            sets.append(f"{f} = v.{f}")
    with _raw() as cur:
        cur.execute(
            f"UPDATE safety_homestate AS s SET {', '.join(['updated_at = %s', *sets])} "  # noqa: S608
            f"FROM unnest({', '.join(f'%b::{t}[]' for t in types)}) AS v({', '.join(['home_id', *fields])}) "
            "WHERE s.home_id = v.home_id",
            [now, *arrays],
        )
        if gaps:
            cur.execute(
                "UPDATE safety_homestate AS s SET gap_hist = v.g::jsonb FROM unnest(%b::bigint[], %b::text[]) "
                "AS v(home_id, g) WHERE s.home_id = v.home_id",
                [[h.info.pk for h, _ in gaps], [json.dumps(g, separators=(",", ":")) for _, g in gaps]],
            )


def _fold(new: list[_Item], now: datetime) -> int:
    """Fold new readings into each home's state in time order; apply the signals; save."""
    by_home: dict[int, list[_Item]] = defaultdict(list)
    for it in new:
        by_home[it.dev.home_id].append(it)
    home_ids = sorted(by_home)
    homes = _load_homes(home_ids)
    now_ts = now.timestamp()
    changed: list[tuple[_HomeCtx, dict[str, Any]]] = []
    alarms = 0
    for home_id in home_ids:
        home = homes[home_id]
        state, params, ctx = home.state, home.params, home.ctx
        signals: list[domain.Signal] = []
        items = by_home[home_id]
        if len(items) > 1:
            items.sort(key=lambda i: (i.reading.ts, i.reading.seq))
        for it in items:
            signals += domain.apply_reading(state, it.reading, it.dev.kind, params, ctx)
        signals += domain.evaluate_due(state, params, ctx, now_ts)
        changes = state_diff(state, home.snap)
        if changes:
            changed.append((home, changes))
        if signals:
            alarms += len(apply_signals(home=_home(home.info), signals=signals, now=now))
    _save_states(changed, now)
    _devices_latest(new, homes, now)
    return alarms


def _commit(channel: str, items: list[_Item], rejections: list[_Rejection], outcomes: list[EnvelopeOutcome],
            gateways: set[int], envelopes: Sequence[Envelope], now: datetime) -> BatchOutcome:
    result = BatchOutcome(outcomes)
    with transaction.atomic():
        if _pg():
            # Short statements over a few hundred rows: compiling them (JIT, when the planner's
            # estimates run high) costs more than it saves.
            with _raw() as cur:
                cur.execute("SET LOCAL jit = off")
        inserted = _insert_raw(items, channel, now) if items else set()
        new = [it for it in items if (it.dev.id, it.reading.seq) in inserted]
        for it in items:
            status = "accepted" if (it.dev.id, it.reading.seq) in inserted else "duplicate"
            outcomes[it.env].items.append(ItemOutcome(it.index, it.reading.device, it.reading.seq, status))
        if new:
            result.alarms = _fold(new, now)
            _hourly(new)
        if gateways:
            Gateway.objects.filter(pk__in=gateways).update(last_seen_at=now)
        if rejections:
            IngestRejection.objects.bulk_create([
                IngestRejection(at=now, channel=channel, gateway=(envelopes[r.env].gateway_code
                                                                  or str(envelopes[r.env].gateway_id or ""))[:64],
                                device_serial=r.device[:64], seq=r.seq, reason=r.reason, detail=r.detail[:200],
                                excerpt=r.excerpt)
                for r in rejections
            ])
            for r in rejections:
                if r.index >= 0:
                    outcomes[r.env].items.append(ItemOutcome(r.index, r.device, r.seq, "rejected", r.reason, r.detail))
        result.accepted = len(new)
        result.duplicates = sum(1 for o in outcomes for i in o.items if i.status == "duplicate")
        result.rejected = len(rejections)
        counts: dict[str, int] = {"accepted": result.accepted, "duplicate": result.duplicates}
        for r in rejections:
            counts[f"rejected:{r.reason}"] = counts.get(f"rejected:{r.reason}", 0) + 1
        _count(channel, now, counts)
    for o in outcomes:
        o.items.sort(key=lambda i: i.index)
    return result


def ingest_batch(*, channel: str, envelopes: Sequence[Envelope], now: datetime | None = None) -> BatchOutcome:
    """Ingest a batch (see the module docstring). Raises only when the database is unavailable."""
    if channel not in Channel.value_set():
        raise ValueError(channel)
    now = now or timezone.now()
    try:
        items, rejections, outcomes, gateways = _prepare(envelopes, now)
        return _commit(channel, items, rejections, outcomes, gateways, envelopes, now)
    except (OperationalError, InterfaceError):
        raise
    except (DatabaseError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        if len(envelopes) > 1:
            log.exception("ingest batch failed; retrying envelope by envelope")
            total = BatchOutcome([])
            for env in envelopes:
                total.merge(ingest_batch(channel=channel, envelopes=[env], now=now))
            return total
        log.exception("ingest envelope failed: recorded as a processing error")
        return _processing_error(channel, envelopes[0], now, exc)


def _processing_error(channel: str, env: Envelope, now: datetime, exc: Exception) -> BatchOutcome:
    cfg = safety_settings()
    detail = f"{type(exc).__name__}"[:200]
    with transaction.atomic():
        IngestRejection.objects.create(at=now, channel=channel, gateway=(env.gateway_code or "")[:64],
                                       reason=RejectReason.PROCESSING_ERROR, detail=detail,
                                       excerpt=_excerpt(env.payload, cfg.rejection_excerpt))
        _count(channel, now, {f"rejected:{RejectReason.PROCESSING_ERROR}": 1})
    return BatchOutcome([EnvelopeOutcome(error=RejectReason.PROCESSING_ERROR, detail=detail)], rejected=1)


def record_rejection(*, channel: str, reason: str, detail: str, gateway: str = "", excerpt: str = "",
                     now: datetime | None = None) -> None:
    """A refusal before any envelope exists (an HTTP key bound to no gateway): recorded and counted."""
    now = now or timezone.now()
    with transaction.atomic():
        IngestRejection.objects.create(at=now, channel=channel, gateway=gateway[:64], reason=reason,
                                       detail=detail[:200], excerpt=excerpt[:300])
        _count(channel, now, {f"rejected:{reason}": 1})


def raw_event_purge(*, now: datetime | None = None, retention_days: int | None = None, chunk: int = 20000) -> int:
    """Delete raw events received before the retention; hourly aggregates stay. Also old
    rejection records. Chunked so a large purge never holds a long lock."""
    now = now or timezone.now()
    days = retention_days if retention_days is not None else safety_settings().raw_retention_days
    cutoff = now - timedelta(days=days)
    total = 0
    while True:
        ids = list(RawEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        with transaction.atomic():
            total += RawEvent.objects.filter(pk__in=ids).delete()[0]
    IngestRejection.objects.filter(at__lt=cutoff).delete()
    return total


def homes_evaluate_due(*, now: datetime | None = None, limit: int = 5000, chunk: int = 200) -> tuple[int, int]:
    """The scheduler's half of the rules: every home whose persisted next check is due is
    evaluated at ``now`` (inactivity, night exit, wander, water). Returns (homes, alarm changes)."""
    now = now or timezone.now()
    due = list(HomeState.objects.filter(next_check_at__lte=now).order_by("next_check_at")
               .values_list("home_id", flat=True)[:limit])
    evaluated = alarms = 0
    now_ts = now.timestamp()
    for ids in chunks(due, chunk):
        with transaction.atomic():
            homes = _load_homes(ids)
            changed: list[tuple[_HomeCtx, dict[str, Any]]] = []
            for home_id in ids:
                home = homes.get(home_id)
                if home is None:
                    continue
                next_check = home.snap["next_check_at"]
                if next_check is None or next_check > now_ts:
                    continue  # another worker got here first
                signals = domain.evaluate_due(home.state, home.params, home.ctx, now_ts)
                changes = state_diff(home.state, home.snap)
                if changes:
                    changed.append((home, changes))
                if signals:
                    alarms += len(apply_signals(home=_home(home.info), signals=signals, now=now))
                evaluated += 1
            _save_states(changed, now)
    return evaluated, alarms
