"""Reactions to spine events (registered in SafetyConfig.ready())."""

from __future__ import annotations

import logging

from minzheng.people.enums import PersonStatus
from minzheng.people.events import CareSignalRaised, PersonDied, PersonMovedOut
from minzheng.people.selectors import PersonFilters, person_list
from minzheng.safety.services._common import SYSTEM
from minzheng.safety.services.devices import home_deactivate_for_person
from minzheng.safety.services.incidents import CareCheck, care_check_open

log = logging.getLogger(__name__)


def on_care_signal(event: CareSignalRaised) -> None:
    """Another domain noticed something (a regular diner stopped coming, a missed visit): open a
    low-severity care check for the monitoring centre. Our own announcements are for others."""
    if event.source == "safety":
        return
    person = person_list(actor=SYSTEM, filters=PersonFilters(status="")).filter(pk=event.person_id).first()
    if person is None or person.status != PersonStatus.ACTIVE:
        log.info("care signal for unknown or inactive person %s ignored", event.person_id)
        return
    care_check_open(check=CareCheck(
        person_id=person.pk, division_id=person.division_id, area_path=person.area_path,
        source=event.source[:16], kind=event.kind[:15], reason=(event.reason or event.kind)[:200],
    ))


def on_person_died(event: PersonDied) -> None:
    home_deactivate_for_person(person_id=event.person_id, reason=f"老人已故({event.died_on.isoformat()}),服务终止")


def on_person_moved_out(event: PersonMovedOut) -> None:
    home_deactivate_for_person(
        person_id=event.person_id, reason=f"老人已迁出({event.moved_on.isoformat()},迁往{event.destination}),服务终止"
    )
