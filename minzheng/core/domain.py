"""Pure rules of the audit chain: what each link's MAC covers."""

from __future__ import annotations

import json
import zlib
from datetime import UTC
from typing import Any

from minzheng.core import crypto

GENESIS_MAC = bytes(32)


def canonical(event: Any) -> bytes:
    """The bytes the chain MAC covers: every column but the MACs and the chain number, in a fixed
    order. The chain a row belongs to is proven by its ``prev_mac`` link instead: a row moved to
    another chain breaks a link in both (ADR 0006), and rows written before there were several
    chains verify unchanged."""
    fields = {
        "id": event.id,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "actor_roles": event.actor_roles,
        "actor_division": event.actor_division,
        "ip": event.ip,
        "request_id": event.request_id,
        "channel": event.channel,
        "event_type": event.event_type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "result": event.result,
        "reason": event.reason,
        "extra": event.extra,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_for(request_id: str | None, chains: int) -> int:
    """The chain (1..chains) a row joins: every row of one request or job shares a chain, so one
    database transaction never waits on two chain heads (two of them could deadlock); a row
    written outside any request or job joins chain 1."""
    if not request_id or chains <= 1:
        return 1
    return 1 + zlib.crc32(request_id.encode()) % chains


def chain_mac(prev_mac: bytes, event: Any) -> bytes:
    return crypto.hmac_sm3("audit", bytes(prev_mac) + canonical(event))
