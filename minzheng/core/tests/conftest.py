"""Fixtures of the core tests: raw access to the audit table behind the application's back."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

_initial = importlib.import_module("minzheng.core.migrations.0001_initial")


def _as_superuser(sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run ``sql`` on core_auditevent with the append-only protection lifted, then restore it.

    This is what a database superuser could do; the chain check must still notice it (A7).
    """
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
            cur.execute(sql, params)
            cur.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")
        else:
            cur.execute("DROP TRIGGER core_auditevent_no_update")
            cur.execute("DROP TRIGGER core_auditevent_no_delete")
            cur.execute(sql, params)
            for statement in _initial.SQLITE_PROTECT:
                cur.execute(statement)


@pytest.fixture
def tamper(db: Any) -> Callable[..., None]:
    return _as_superuser


@pytest.fixture
def clean_subscribers() -> Iterator[list[type]]:
    """Event types registered by a test; their subscribers are removed afterwards."""
    from minzheng.core import events

    registered: list[type] = []
    yield registered
    for event_type in registered:
        events._subscribers.pop(event_type, None)
