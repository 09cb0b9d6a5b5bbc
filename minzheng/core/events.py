"""A small typed event registry (DESIGN §4.6).

Events are frozen dataclasses. ``publish`` delivers them after the surrounding transaction
commits, so a subscriber never sees a change that was rolled back. Subscribers are registered in
``AppConfig.ready()`` with ``subscribe(EventType, handler)``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base class of all domain events."""


E = TypeVar("E", bound=Event)
_subscribers: dict[type[Event], list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def subscribers(event_type: type[Event]) -> list[Callable[[Any], None]]:
    return list(_subscribers[event_type])


def _dispatch(event: Event) -> None:
    for handler in subscribers(type(event)):
        # Each handler runs in its own transaction: one failing subscriber must not undo another.
        try:
            with transaction.atomic():
                handler(event)
        except Exception:
            log.exception("event handler %s failed for %s", handler, type(event).__name__)


def publish(event: Event) -> None:
    """Deliver ``event`` to its subscribers once the current transaction commits."""
    transaction.on_commit(lambda: _dispatch(event))
