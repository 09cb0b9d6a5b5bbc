"""Events the safety domain publishes (after commit): the console and the cockpit listen."""

from __future__ import annotations

from dataclasses import dataclass

from minzheng.core.events import Event


@dataclass(frozen=True)
class IncidentOpened(Event):
    incident_id: int
    code: str
    severity: str
    alarm_type: str
    home_id: int | None
    person_id: int


@dataclass(frozen=True)
class IncidentChanged(Event):
    incident_id: int
    code: str
    state: str
    action: str
