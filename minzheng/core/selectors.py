"""Reads owned by core: the audit log and its chain check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from minzheng.core import crypto
from minzheng.core.domain import GENESIS_MAC, chain_mac
from minzheng.core.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    kind: str  # "altered" (row changed), "broken_link" (row removed/inserted), "head" (tail cut)
    detail: str


def audit_verify(*, batch: int = 5000) -> list[ChainProblem]:
    """Recompute the whole HMAC-SM3 chain; name every row that no longer fits."""
    problems: list[ChainProblem] = []
    prev_mac = GENESIS_MAC
    prev_id = 0
    for event in _iterate(batch):
        if bytes(event.prev_mac) != prev_mac:
            problems.append(
                ChainProblem(event.id, "broken_link", f"row {event.id} does not follow row {prev_id}")
            )
        if not crypto.constant_time_equal(chain_mac(bytes(event.prev_mac), event), bytes(event.mac)):
            problems.append(ChainProblem(event.id, "altered", f"row {event.id} was changed"))
        prev_mac, prev_id = bytes(event.mac), event.id
    head = AuditChainHead.objects.get(pk=1)
    if head.last_event_id != prev_id or bytes(head.last_mac or GENESIS_MAC) != prev_mac:
        problems.append(
            ChainProblem(prev_id, "head", f"chain ends at {prev_id}, head says {head.last_event_id}")
        )
    return problems


def _iterate(batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].id
