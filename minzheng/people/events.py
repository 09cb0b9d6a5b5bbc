"""Life events other domains react to (payments stop, services end, meals suspend)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from minzheng.core.events import Event


@dataclass(frozen=True)
class PersonDied(Event):
    person_id: int
    person_uid: str
    died_on: date


@dataclass(frozen=True)
class PersonMovedOut(Event):
    person_id: int
    person_uid: str
    moved_on: date
    destination: str


@dataclass(frozen=True)
class StatusTagsChanged(Event):
    """A domain rewrote the status tags it keeps on these people's records (assistance: 低保, 低边,
    特困). Domains that copied a person's groups from the registry (meals) refresh them."""

    person_ids: tuple[int, ...]
    source: str


@dataclass(frozen=True)
class CareSignalRaised(Event):
    """Some domain noticed a person may need a welfare check (a regular diner stopped coming,
    visits were missed, an unusual quiet day at home). Domains cannot import each other, so the
    signal travels through this spine event; safety and caseworker domains subscribe."""

    person_id: int
    person_uid: str
    source: str  # the publishing domain, e.g. "meals"
    kind: str  # e.g. "diner_absent", "visit_missed"
    reason: str  # Chinese, shown to staff
    severity: str = "low"
