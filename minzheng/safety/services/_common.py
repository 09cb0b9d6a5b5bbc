"""Helpers shared by the safety services: the system actor, clocks, rule parameters, state I/O."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from minzheng.core.access import Actor
from minzheng.core.exceptions import PermissionDenied
from minzheng.safety import domain
from minzheng.safety.enums import AlarmType
from minzheng.safety.models import AlarmRule, HomeState


class SystemActor:
    """The platform itself acting (ingestion, the scheduler, event handlers, seeding).

    Audit rows name it ``system:safety``; it is never handed to a view or an API caller.
    """

    pk = None
    is_machine = True
    username = "system:safety"
    role_codes: tuple[str, ...] = ()
    division_id = ""
    full_name = "系统"

    @property
    def scope_path(self) -> str:
        return ""

    def has_permission(self, perm: str) -> bool:
        return True


SYSTEM = SystemActor()


def require(actor: Actor, perm: str) -> None:
    if not actor.has_permission(perm):
        raise PermissionDenied()


def actor_name(actor: Any) -> str:
    return str(getattr(actor, "full_name", "") or getattr(actor, "username", "") or "系统")[:150]


def now_dt() -> datetime:
    return timezone.now()


def to_dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def to_ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


# --- Rules as data -----------------------------------------------------------------------------

_rules_cache: dict[str, Any] = {"at": 0.0, "rules": None}
RULES_TTL = 30.0


def current_rules(*, fresh: bool = False) -> dict[str, dict[str, Any]]:
    """The rule version in force per alarm type: ``{type: {enabled, severity, params, version}}``."""
    if not fresh and _rules_cache["rules"] is not None and time.monotonic() - _rules_cache["at"] < RULES_TTL:
        cached: dict[str, dict[str, Any]] = _rules_cache["rules"]
        return cached
    today = timezone.localdate()
    rules: dict[str, dict[str, Any]] = {}
    for rule in AlarmRule.objects.filter(effective_from__lte=today).order_by("alarm_type", "effective_from"):
        rules[rule.alarm_type] = {
            "enabled": rule.enabled, "severity": rule.severity, "params": rule.params, "version": rule.pk,
        }
    _rules_cache.update(at=time.monotonic(), rules=rules)
    _params_cache.clear()
    return rules


def forget_rules() -> None:
    _rules_cache.update(at=0.0, rules=None)
    _params_cache.clear()


_params_cache: dict[str, domain.RuleParams] = {}


def params_for(overrides: dict[str, Any] | None) -> domain.RuleParams:
    rules = current_rules()
    key = json.dumps(overrides or {}, sort_keys=True)
    params = _params_cache.get(key)
    if params is None:
        params = domain.RuleParams.build(rules, overrides or {})
        _params_cache[key] = params
    return params


def params_for_json(text: str | None) -> domain.RuleParams:
    """``params_for`` keyed by the stored JSON text of the overrides (no parse, no re-serialisation
    on a hit: the ingestion hot path)."""
    rules = current_rules()
    key = "json:" + (text or "")
    params = _params_cache.get(key)
    if params is None:
        params = domain.RuleParams.build(rules, (json.loads(text) if text else None) or {})
        _params_cache[key] = params
    return params


def rule_versions() -> dict[str, int]:
    return {k: v["version"] for k, v in current_rules().items()}


# --- HomeState ⇄ domain.HomeRuleState ---------------------------------------------------------

TIME_FIELDS = (
    "last_activity_at", "last_motion_at", "last_door_at", "returned_at", "stray_motion_at", "sensor_seen_at",
    "sensing_resumed_at", "last_water_at", "water_run_start", "water_seen_at", "water_resumed_at", "last_location_at",
    "outside_since", "next_check_at",
)
PLAIN_FIELDS = ("last_lat", "last_lon", "alarm_in_gap")


STATE_FIELDS = (*TIME_FIELDS, *PLAIN_FIELDS, "active_alarms", "gap_hist", "thresholds")


def snapshot_of_row(row: HomeState) -> dict[str, Any]:
    """A ``HomeState`` row as the rules see it (times as epoch seconds); what ``state_diff`` compares to."""
    snap: dict[str, Any] = {f: to_ts(getattr(row, f)) for f in TIME_FIELDS}
    for f in (*PLAIN_FIELDS, "active_alarms", "gap_hist", "thresholds"):
        snap[f] = getattr(row, f)
    return snap


_STATE_KW = (*TIME_FIELDS, *PLAIN_FIELDS)


def state_from_snapshot(snap: dict[str, Any]) -> domain.HomeRuleState:
    gap = snap["gap_hist"]
    thresholds = snap["thresholds"]
    return domain.HomeRuleState(
        **{f: snap[f] for f in _STATE_KW},
        active_alarms=set(snap["active_alarms"] or ()),
        gap_hist={int(k): list(v) for k, v in gap.items()} if gap else {},
        thresholds=list(thresholds) if thresholds else None,
    )


def state_from_row(row: HomeState) -> domain.HomeRuleState:
    return state_from_snapshot(snapshot_of_row(row))


COALESCE_SECONDS = {"sensor_seen_at": 600.0, "water_seen_at": 600.0}


def state_diff(state: domain.HomeRuleState, snap: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``state`` that differ from the stored ``snap`` (values as in the state: epoch
    seconds), or {} when nothing worth a write changed.

    A change that is only "the sensor was heard again" (a heartbeat) less than ten minutes after
    the stored time is not written: the rules read it with a 75-minute tolerance, so a restart
    loses nothing that matters, and heartbeats stop costing a row write each."""
    changes: dict[str, Any] = {}
    for f in TIME_FIELDS:
        new = getattr(state, f)
        old = snap[f]
        if new != old and not (new is not None and old is not None and abs(new - old) < 1e-6):
            changes[f] = new
    for f in PLAIN_FIELDS:
        if snap[f] != getattr(state, f):
            changes[f] = getattr(state, f)
    active = sorted(state.active_alarms)
    if sorted(snap["active_alarms"] or []) != active:
        changes["active_alarms"] = active
    if state.gap_changed:
        changes["gap_hist"] = {str(k): v for k, v in sorted(state.gap_hist.items())}
        state.gap_changed = False
    if changes and changes.keys() <= COALESCE_SECONDS.keys():
        minor = True
        for f, new in changes.items():
            old = snap[f]
            if old is None or new is None or not 0 <= new - old < COALESCE_SECONDS[f]:
                minor = False
        if minor:
            return {}
    return changes


def state_to_row(state: domain.HomeRuleState, row: HomeState) -> set[str]:
    """Copy the state onto the row; return the names of the fields that changed (see ``state_diff``)."""
    changes = state_diff(state, snapshot_of_row(row))
    for f, value in changes.items():
        setattr(row, f, to_dt(value) if f in TIME_FIELDS else value)
    return set(changes)


def alarm_label(alarm_type: str) -> str:
    return AlarmType(alarm_type).label if alarm_type in AlarmType.value_set() else alarm_type


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def bulk_update_fast(model: Any, objs: list[Any], fields: list[str], *, chunk: int = 2000) -> int:
    """What ``QuerySet.bulk_update`` does, in one statement per chunk and without a CASE expression
    per row and field (the ingestion hot path): on PostgreSQL ``UPDATE … FROM unnest(arrays)`` (one
    array parameter per column), elsewhere ``UPDATE … FROM (VALUES …)``."""
    from django.db import connection

    if not objs or not fields:
        return 0
    meta = model._meta
    pk = meta.pk
    cols = [meta.get_field(f) for f in fields]
    table = connection.ops.quote_name(meta.db_table)
    pk_col = connection.ops.quote_name(pk.column)
    pg = connection.vendor == "postgresql"
    n = 0
    with connection.cursor() as cur:
        for part in chunks(objs, chunk if pg else 400):
            if pg:
                arrays: list[list[Any]] = [[o.pk for o in part]]
                types = [pk.cast_db_type(connection)]
                sets_list = []
                for c in cols:
                    name = connection.ops.quote_name(c.column)
                    if c.get_internal_type() == "JSONField":  # as text, cast in SQL: no adapter per value
                        arrays.append([None if (v := getattr(o, c.attname)) is None else json.dumps(v) for o in part])
                        types.append("text")
                        sets_list.append(f"{name} = v._{c.column}::jsonb")
                    else:
                        arrays.append([getattr(o, c.attname) for o in part])
                        types.append(c.cast_db_type(connection))
                        sets_list.append(f"{name} = v._{c.column}")
                names = ", ".join(["_pk"] + [f"_{c.column}" for c in cols])
                sets = ", ".join(sets_list)
                unnest = ", ".join(f"%s::{t}[]" for t in types)
                sql = (f"UPDATE {table} SET {sets} FROM unnest({unnest}) AS v({names}) "  # noqa: S608
                       f"WHERE {table}.{pk_col} = v._pk")
                cur.execute(sql, arrays)
            else:
                params: list[Any] = []
                for obj in part:
                    params.append(pk.get_db_prep_save(obj.pk, connection))
                    params += [c.get_db_prep_save(getattr(obj, c.attname), connection) for c in cols]
                row = "(" + ", ".join(["%s"] * (len(cols) + 1)) + ")"
                sets = ", ".join(f"{connection.ops.quote_name(c.column)} = v.column{i + 2}" for i, c in enumerate(cols))
                sql = (f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * len(part))}) AS v "  # noqa: S608
                       f"WHERE {table}.{pk_col} = v.column1")
                cur.execute(sql, params)
            n += cur.rowcount
    return n
