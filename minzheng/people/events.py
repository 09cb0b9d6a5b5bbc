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
