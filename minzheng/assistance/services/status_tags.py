"""Who is 低保, 低边 or 特困, written where the other domains read it: the people registry.

Meals prices a 特困 elder's meal, and counts coverage, from the person's record, and may not import
this app. So every change to who holds a live 低保/低边/特困 enrolment (approval, exit, a
member leaving the household, the nightly jobs) ends with ``status_tags_sync`` for the
people it touched, and the seed reconciles everyone. A household enrolment tags each member still
in the household, and its payee.
"""

from __future__ import annotations

from collections.abc import Iterable

from minzheng.assistance.enums import LIVE_ENROLMENT, Program
from minzheng.assistance.models import Enrolment, EnrolmentMember
from minzheng.people.services import person_status_tags_sync

STATUS_TAGS: dict[str, str] = {p: p.label for p in (Program.DIBAO, Program.DIBIAN, Program.TEKUN)}


def status_holders(person_ids: Iterable[int] | None = None) -> dict[int, set[str]]:
    """The status tags each person holds through live enrolments (payee or member in the household)."""
    live = Enrolment.objects.filter(program__in=sorted(STATUS_TAGS), status__in=sorted(LIVE_ENROLMENT))
    members = EnrolmentMember.objects.filter(enrolment__in=live, active=True)
    if person_ids is not None:
        ids = list(person_ids)
        live, members = live.filter(person_id__in=ids), members.filter(person_id__in=ids)
    held: dict[int, set[str]] = {}
    for rows in (live.values_list("person_id", "program"), members.values_list("person_id", "enrolment__program")):
        for person_id, program in rows.iterator(chunk_size=5000):
            held.setdefault(person_id, set()).add(STATUS_TAGS[program])
    return held


def enrolment_tags_sync(enrolment: Enrolment) -> int:
    """After an enrolment started or ended: its payee and every member ever listed, whom it may
    have tagged. Other programs (高龄津贴, 儿童) carry no status tag."""
    if enrolment.program not in STATUS_TAGS:
        return 0
    members = EnrolmentMember.objects.filter(enrolment=enrolment).values_list("person_id", flat=True)
    return status_tags_sync(person_ids={enrolment.person_id, *members})


def status_tags_sync(*, person_ids: Iterable[int] | None = None) -> int:
    """Rewrite the 低保/低边/特困 tags of these people (everyone when ``None``) from the live
    enrolments; returns how many records changed."""
    ids = None if person_ids is None else sorted(set(person_ids))
    return person_status_tags_sync(source="assistance", managed=STATUS_TAGS.values(), held=status_holders(ids),
                                   person_ids=ids)

