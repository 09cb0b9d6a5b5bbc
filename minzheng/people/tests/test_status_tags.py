"""Status tags another domain owns (assistance: 低保/低边/特困) are kept in step on the record:
only those tags change, each change is audited, and the people changed are announced."""

from __future__ import annotations

import pytest

from minzheng.core import events
from minzheng.core.models import AuditEvent
from minzheng.people.events import StatusTagsChanged
from minzheng.people.models import Person
from minzheng.people.services import person_status_tags_sync

MANAGED = ("低保", "低边", "特困")


@pytest.fixture
def heard():
    received: list[events.Event] = []
    events.subscribe(StatusTagsChanged, received.append)
    yield received
    events._subscribers[StatusTagsChanged].remove(received.append)


def tags(person):
    return Person.objects.get(pk=person.pk).tags


def with_tags(person, tags):
    """A record as it stands (staff cannot type the managed tags, so set them underneath)."""
    Person.objects.filter(pk=person.pk).update(tags=tags)
    return person


def test_only_the_managed_tags_change(make_person, heard, django_capture_on_commit_callbacks):
    a = with_tags(make_person(name="甲某"), ["退役军人", "低边"])
    b = with_tags(make_person(name="乙某"), ["特困"])
    c = with_tags(make_person(name="丙某"), ["退役军人"])

    with django_capture_on_commit_callbacks(execute=True):
        changed = person_status_tags_sync(source="assistance", managed=MANAGED, held={a.pk: {"低保"}},
                                          person_ids=[a.pk, b.pk, c.pk])

    assert changed == 2
    assert tags(a) == ["退役军人", "低保"]  # 低边 ended, 低保 began; the other tag stays
    assert tags(b) == []  # no live enrolment any more
    assert tags(c) == ["退役军人"]  # untouched
    assert heard == [StatusTagsChanged(person_ids=(a.pk, b.pk), source="assistance")]
    audit = AuditEvent.objects.get(event_type="person.status_tags")
    assert audit.extra["changed"] == 2
    assert sorted(audit.extra["persons"]) == sorted([str(a.uid), str(b.uid)])


def test_everyone_is_reconciled_and_a_second_run_changes_nothing(make_person, heard,
                                                                 django_capture_on_commit_callbacks):
    holder = make_person(name="甲某")
    stale = with_tags(make_person(name="乙某"), ["低保"])

    with django_capture_on_commit_callbacks(execute=True):
        assert person_status_tags_sync(source="assistance", managed=MANAGED, held={holder.pk: {"特困"}}) == 2
        assert person_status_tags_sync(source="assistance", managed=MANAGED, held={holder.pk: {"特困"}}) == 0

    assert (tags(holder), tags(stale)) == (["特困"], [])
    assert len(heard) == 1
    assert AuditEvent.objects.filter(event_type="person.status_tags").count() == 1
