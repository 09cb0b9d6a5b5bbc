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
    kind: str  # "altered" (row changed), "broken_link" (row removed/inserted/moved), "head" (tail cut)
    detail: str


def audit_verify(*, batch: int = 5000) -> list[ChainProblem]:
    """Recompute every HMAC-SM3 chain (one per head row, ADR 0006); name every row that no longer
    fits: a row changed, a row missing between two others or at a chain's end, a row moved to
    another chain, a row in a chain that has no head."""
    problems: list[ChainProblem] = []
    tails: dict[int, tuple[int, bytes]] = {}  # chain → (id, MAC) of the last row seen
    for event in _iterate(batch):
        prev_id, prev_mac = tails.get(event.chain, (0, GENESIS_MAC))
        if bytes(event.prev_mac) != prev_mac:
            problems.append(ChainProblem(
                event.id, "broken_link", f"row {event.id} does not follow row {prev_id} of chain {event.chain}"))
        if not crypto.constant_time_equal(chain_mac(bytes(event.prev_mac), event), bytes(event.mac)):
            problems.append(ChainProblem(event.id, "altered", f"row {event.id} was changed"))
        tails[event.chain] = (event.id, bytes(event.mac))
    for head in AuditChainHead.objects.order_by("id"):
        last_id, last_mac = tails.pop(head.id, (0, GENESIS_MAC))
        if head.last_event_id != last_id or bytes(head.last_mac or GENESIS_MAC) != last_mac:
            problems.append(ChainProblem(
                last_id, "head", f"chain {head.id} ends at {last_id}, head says {head.last_event_id}"))
    for chain, (last_id, _mac) in sorted(tails.items()):
        problems.append(ChainProblem(last_id, "head", f"chain {chain} has rows but no head"))
    return problems


def _iterate(batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last).order_by("id")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].id
