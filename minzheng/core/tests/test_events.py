"""The typed event registry (DESIGN §4.6): delivered after commit, one subscriber's failure isolated."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from django.db import transaction

from minzheng.core.events import Event, publish, subscribe, subscribers
from minzheng.core.models import AuditEvent
from minzheng.core.services import audit_record


@dataclass(frozen=True)
class Pinged(Event):
    n: int


@pytest.fixture
def pinged(clean_subscribers):
    clean_subscribers.append(Pinged)
    return Pinged


def test_delivered_only_after_commit(db, pinged, django_capture_on_commit_callbacks):
    # Given a subscriber
    received: list[Pinged] = []
    subscribe(pinged, received.append)

    # When an event is published inside a transaction
    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(1))
        # Then nobody hears of it before the commit
        assert received == []

    # And the subscriber gets it once the transaction commits
    assert received == [Pinged(1)]


def test_nothing_delivered_on_rollback(db, pinged, django_capture_on_commit_callbacks):
    received: list[Pinged] = []
    subscribe(pinged, received.append)

    def action() -> None:
        with transaction.atomic():
            publish(Pinged(2))
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        action()

    assert callbacks == []
    assert received == []


def test_subscribing_twice_delivers_once(db, pinged, django_capture_on_commit_callbacks):
    received: list[Pinged] = []
    subscribe(pinged, received.append)
    subscribe(pinged, received.append)

    with django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(3))

    assert received == [Pinged(3)]
    assert len(subscribers(pinged)) == 1


def test_failing_subscriber_does_not_stop_another(
    db, pinged, django_capture_on_commit_callbacks, caplog
):
    # Given a subscriber that writes and then fails, and one that writes and succeeds
    def broken(event: Pinged) -> None:
        audit_record(actor=None, event_type="test.broken")
        raise ValueError("subscriber bug")

    def healthy(event: Pinged) -> None:
        audit_record(actor=None, event_type="test.healthy", extra={"n": event.n})

    subscribe(pinged, broken)
    subscribe(pinged, healthy)

    # When the event is delivered
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        publish(Pinged(4))

    # Then the healthy subscriber's work stands, the broken one's is undone and logged
    assert AuditEvent.objects.filter(event_type="test.healthy").count() == 1
    assert not AuditEvent.objects.filter(event_type="test.broken").exists()
    assert "failed for Pinged" in caplog.text


def test_other_event_types_are_not_delivered(
    db, pinged, clean_subscribers, django_capture_on_commit_callbacks
):
    @dataclass(frozen=True)
    class Other(Event):
        pass

    clean_subscribers.append(Other)
    received: list[Event] = []
    subscribe(pinged, received.append)

    with django_capture_on_commit_callbacks(execute=True):
        publish(Other())

    assert received == []
