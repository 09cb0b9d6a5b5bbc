"""Writes owned by core: the audit log (security AU-1..AU-5)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from minzheng.core import context
from minzheng.core.access import Actor
from minzheng.core.domain import GENESIS_MAC, chain_for, chain_mac
from minzheng.core.exceptions import PermissionDenied
from minzheng.core.models import AuditChainHead, AuditEvent, execute_chained, row_insert
from minzheng.core.permissions import CorePerm

# A number glued to ASCII letters or digits is part of a token (a UUID's hex group such as
# "-13081365929e", a payment key), not an ID or phone a person typed; it is left alone.
_FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_FULL_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d{9}(?![0-9A-Za-z])")


def _redact(value: Any) -> Any:
    """Audit rows never hold a full ID number or phone (AU-1b), whatever a caller passes."""
    if isinstance(value, str):
        return _FULL_PHONE.sub("[已屏蔽]", _FULL_ID.sub("[已屏蔽]", value))
    if isinstance(value, dict):
        return {_redact(k): _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def _clean_ip(ip: str | None) -> str | None:
    """The address exactly as the database will give it back (the chain MAC covers it), or None
    when it is no address at all: X-Forwarded-For holds whatever the client sent."""
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    return clean_ipv6_address(str(addr)) if addr.version == 6 else str(addr)


def _advance_sql(vendor: str) -> str:
    """Take the next link of a chain: one UPDATE that locks the chain's head row and returns a new
    event id (ids are unique across chains: PostgreSQL's sequence of the id column, SQLite's
    MAX + 1 under its single writer lock), the previous MAC and — on PostgreSQL — the database
    clock read after the lock was granted, so timestamps follow each chain's order (AU-1b)."""
    head = connection.ops.quote_name(AuditChainHead._meta.db_table)
    events = AuditEvent._meta.db_table
    if vendor == "postgresql":
        return (f"UPDATE {head} SET last_event_id = nextval(pg_get_serial_sequence('{events}', 'id')) "  # noqa: S608
                "WHERE id = %s RETURNING last_event_id, last_mac, clock_timestamp()")
    return (f"UPDATE {head} SET last_event_id = (SELECT COALESCE(MAX(id), 0) + 1 FROM {events}) "  # noqa: S608
            "WHERE id = %s RETURNING last_event_id, last_mac")


def _advance_head(chain: int) -> tuple[int, bytes, Any]:
    sql = _advance_sql(connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql, [chain])
        row = cur.fetchone()
        if row is None:  # a chain's first row (or a database emptied by hand): start at the genesis link
            AuditChainHead.objects.get_or_create(pk=chain)
            cur.execute(sql, [chain])
            row = cur.fetchone()
    at = row[2] if len(row) > 2 else timezone.now()
    return int(row[0]), bytes(row[1]), at


_appends: dict[str, tuple[str, str, Callable[[Model], list[Any]]]] = {}


def _append(event: AuditEvent) -> None:
    """INSERT the row and move its chain's head to it, chained into one statement on PostgreSQL
    (``execute_chained``). The SQL is built once per database."""
    found = _appends.get(connection.alias)
    if found is None:
        insert, params = row_insert(list(AuditEvent._meta.concrete_fields), connection)
        head = f"UPDATE {connection.ops.quote_name(AuditChainHead._meta.db_table)} SET last_mac = %s WHERE id = %s"  # noqa: S608
        found = _appends[connection.alias] = (insert, head, params)
    insert, head, params = found
    with connection.cursor() as cur:
        execute_chained(cur, insert, params(event), head, [bytes(event.mac), event.chain])
    event._state.adding = False
    event._state.db = connection.alias


def audit_record(
    *,
    actor: Any,
    event_type: str,
    result: str = "success",
    object_type: str = "",
    object_id: Any = "",
    reason: str = "",
    extra: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Append one audit row in the caller's transaction (fail closed: no row, no action, AU-3).

    ``actor`` is a staff member, a machine key or None (an anonymous login attempt, for which
    ``username`` names the account that was tried).
    """
    bound = context.bound()
    ctx = bound or context.current()
    chain = chain_for(bound.request_id if bound else None, settings.MINZHENG["AUDIT_CHAINS"])
    # No savepoint: a failed audit insert dooms the caller's whole transaction (fail closed, AU-3).
    with transaction.atomic(savepoint=False):
        event_id, prev_mac, at = _advance_head(chain)
        event = AuditEvent(
            id=event_id,
            at=at,
            actor_id=getattr(actor, "pk", None),
            actor_username=_redact(getattr(actor, "username", "") or username)[:150],
            actor_roles=",".join(sorted(getattr(actor, "role_codes", ()) or ()))[:200],
            actor_division=(getattr(actor, "division_id", "") or "")[:12],
            ip=_clean_ip(ctx.ip),
            request_id=ctx.request_id,
            channel=ctx.channel,
            event_type=event_type,
            object_type=object_type,
            object_id=_redact(str(object_id))[:64],
            result=result,
            reason=_redact(reason)[:500],
            extra=_redact(extra or {}),
            chain=chain,
            prev_mac=prev_mac or GENESIS_MAC,
        )
        event.mac = chain_mac(bytes(event.prev_mac), event)
        _append(event)
    return event


def audit_search(
    *,
    actor: Actor,
    event_type: str = "",
    username: str = "",
    day_from: date | None = None,
    day_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Only the auditor reads the audit log (AU-5), and every search is itself audited."""
    if not actor.has_permission(CorePerm.VIEW_AUDIT):
        raise PermissionDenied()
    filters: dict[str, Any] = {}
    if event_type:
        filters["event_type"] = event_type
    if username:
        filters["actor_username__iexact"] = username
    if day_from:
        filters["at__date__gte"] = day_from
    if day_to:
        filters["at__date__lte"] = day_to
    audit_record(actor=actor, event_type="audit.read", extra={"filters": {k: str(v) for k, v in filters.items()}})
    return AuditEvent.objects.filter(**filters).order_by("-id")
