"""Death and moving out: recorded once, audited, and announced to other domains after commit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from minzheng.core import events
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.people.enums import PersonStatus
from minzheng.people.events import PersonDied, PersonMovedOut
from minzheng.people.models import Person
from minzheng.people.selectors import PersonFilters, person_count
from minzheng.people.services import person_record_death, person_record_move_out


@pytest.fixture
def heard():
    """Every PersonDied / PersonMovedOut delivered while the test runs."""
    received: list[events.Event] = []
    handler = received.append
    events.subscribe(PersonDied, handler)
    events.subscribe(PersonMovedOut, handler)
    yield received
    for event_type in (PersonDied, PersonMovedOut):
        events._subscribers[event_type].remove(handler)


def _today() -> date:
    return timezone.localdate()


def test_death_is_recorded_and_announced_after_commit(
    worker_a, person_a, heard, django_capture_on_commit_callbacks
):
    died_on = _today() - timedelta(days=2)

    # When the worker records the death
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=worker_a, person=person_a, died_on=died_on)
        # Then nothing is announced before the transaction commits
        assert heard == []

    # And after the commit other domains hear of it exactly once
    assert heard == [
        PersonDied(person_id=person_a.pk, person_uid=str(person_a.uid), died_on=died_on)
    ]
    stored = Person.objects.get(pk=person_a.pk)
    assert (stored.status, stored.deceased_on) == (PersonStatus.DECEASED, died_on)
    audit = AuditEvent.objects.get(event_type="person.death")
    assert audit.extra == {"died_on": died_on.isoformat()}
    assert audit.object_id == str(person_a.uid)


def test_future_death_is_refused_and_nothing_changes(
    worker_a, person_a, heard, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValidationFailed) as caught,
    ):
        person_record_death(actor=worker_a, person=person_a, died_on=_today() + timedelta(days=1))

    assert set(caught.value.fields) == {"died_on"}
    assert Person.objects.get(pk=person_a.pk).status == PersonStatus.ACTIVE
    assert heard == []
    assert not AuditEvent.objects.filter(event_type="person.death").exists()


def test_death_before_birth_is_refused(worker_a, person_a):
    with pytest.raises(ValidationFailed) as caught:
        person_record_death(
            actor=worker_a, person=person_a, died_on=person_a.birth_date - timedelta(days=1)
        )

    assert set(caught.value.fields) == {"died_on"}
    assert Person.objects.get(pk=person_a.pk).status == PersonStatus.ACTIVE


def test_a_second_death_is_refused_and_nothing_changes(
    worker_a, person_a, heard, django_capture_on_commit_callbacks
):
    first = _today() - timedelta(days=10)
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=worker_a, person=person_a, died_on=first)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict) as caught:
        person_record_death(
            actor=worker_a, person=Person.objects.get(pk=person_a.pk), died_on=_today()
        )

    assert caught.value.status_code == 409
    assert caught.value.message == "该人员已登记死亡"
    assert Person.objects.get(pk=person_a.pk).deceased_on == first
    assert len(heard) == 1
    assert AuditEvent.objects.filter(event_type="person.death").count() == 1


def test_death_outside_the_area_is_not_found(worker_a, person_b, heard):
    with pytest.raises(NotFound):
        person_record_death(actor=worker_a, person=person_b, died_on=_today())

    assert Person.objects.get(pk=person_b.pk).status == PersonStatus.ACTIVE


def test_caseworker_cannot_record_a_death(make_staff, person_a):
    caseworker = make_staff(roles=["caseworker"], division="330110005001")

    with pytest.raises(PermissionDenied):
        person_record_death(actor=caseworker, person=person_a, died_on=_today())

    assert Person.objects.get(pk=person_a.pk).status == PersonStatus.ACTIVE


def test_move_out_is_recorded_and_announced_after_commit(
    worker_a, person_a, heard, django_capture_on_commit_callbacks
):
    moved_on = _today()

    with django_capture_on_commit_callbacks(execute=True):
        person_record_move_out(
            actor=worker_a, person=person_a, moved_on=moved_on, destination="  杭州市西湖区  "
        )
        assert heard == []

    assert heard == [
        PersonMovedOut(
            person_id=person_a.pk,
            person_uid=str(person_a.uid),
            moved_on=moved_on,
            destination="杭州市西湖区",
        )
    ]
    stored = Person.objects.get(pk=person_a.pk)
    assert (stored.status, stored.moved_out_on) == (PersonStatus.MOVED_OUT, moved_on)
    assert (
        AuditEvent.objects.filter(event_type="person.move_out", object_id=str(person_a.uid)).count()
        == 1
    )


@pytest.mark.parametrize(
    ("days", "destination", "fields"),
    [
        (1, "杭州市西湖区", {"moved_on"}),
        (0, " ", {"destination"}),
        (3, "", {"moved_on", "destination"}),
    ],
)
def test_bad_move_out_is_refused_and_nothing_changes(
    worker_a, person_a, heard, days, destination, fields
):
    with pytest.raises(ValidationFailed) as caught:
        person_record_move_out(
            actor=worker_a,
            person=person_a,
            moved_on=_today() + timedelta(days=days),
            destination=destination,
        )

    assert set(caught.value.fields) == fields
    assert Person.objects.get(pk=person_a.pk).status == PersonStatus.ACTIVE
    assert heard == []


def test_a_second_move_out_is_refused(
    worker_a, person_a, heard, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        person_record_move_out(
            actor=worker_a, person=person_a, moved_on=_today(), destination="杭州市西湖区"
        )

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        person_record_move_out(
            actor=worker_a,
            person=Person.objects.get(pk=person_a.pk),
            moved_on=_today(),
            destination="宁波市",
        )

    assert len(heard) == 1
    assert AuditEvent.objects.filter(event_type="person.move_out").count() == 1


def test_the_deceased_cannot_move_out(worker_a, person_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=worker_a, person=person_a, died_on=_today())

    with pytest.raises(Conflict):
        person_record_move_out(
            actor=worker_a,
            person=Person.objects.get(pk=person_a.pk),
            moved_on=_today(),
            destination="宁波市",
        )

    assert Person.objects.get(pk=person_a.pk).status == PersonStatus.DECEASED


def test_deceased_leave_the_default_list(worker_a, person_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=worker_a, person=person_a, died_on=_today())

    assert person_count(actor=worker_a) == 0
    assert person_count(actor=worker_a, filters=PersonFilters(status=PersonStatus.DECEASED)) == 1
