"""Retry a whole database transaction on PostgreSQL serialization failures and deadlocks (M-4).

A retry is only sound around the *outermost* transaction: inside an enclosing ``atomic()`` the
transaction is already doomed and must be retried by whoever opened it. So the wrapper retries
only when it is called outside any atomic block; nested, it runs the function once and lets the
error travel up to the caller's own ``@retry_on_conflict``. Domain services that post to the
ledger inside their own transaction should decorate themselves with it.

Retried: SQLSTATE 40001 (serialization_failure) and 40P01 (deadlock_detected), and a connection
lost before or during the transaction (08xxx, 57P01 admin shutdown, or no SQLSTATE at all): the
whole unit is re-run on a fresh connection. That is safe for ledger writes because each carries
an idempotency key: if the lost transaction had in fact committed, the re-run returns it.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, InterfaceError, connection

from minzheng.ledger.exceptions import LedgerBusy

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 3
CONFLICT_STATES = frozenset({"40001", "40P01"})


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE behind a Django database error (psycopg keeps it on the cause)."""
    for candidate in (exc, exc.__cause__, exc.__context__):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return str(state)
    return None


def _connection_lost(exc: BaseException) -> bool:
    state = sqlstate(exc)
    if state is not None:
        return state.startswith("08") or state == "57P01"
    return connection.connection is None or not connection.is_usable()


def retry_on_conflict(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: re-run ``func`` (which opens its own ``atomic()``) on 40001/40P01 or a lost
    connection, up to ``ATTEMPTS`` times in all; then ``LedgerBusy`` (503)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return func(*args, **kwargs)
        attempt = 1
        while True:
            try:
                return func(*args, **kwargs)
            except (DatabaseError, InterfaceError) as exc:
                state = sqlstate(exc)
                if state in CONFLICT_STATES:
                    reason = "serialization failure" if state == "40001" else "deadlock"
                elif _connection_lost(exc):
                    reason = "connection lost"
                    connection.close()
                else:
                    raise
                if attempt >= ATTEMPTS:
                    log.warning("ledger: %s persisted through %d attempts", reason, ATTEMPTS)
                    raise LedgerBusy(extra={"sqlstate": state or ""}) from exc
                log.info("ledger: %s (attempt %d of %d), retrying", reason, attempt, ATTEMPTS)
                time.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter, not crypto
                attempt += 1

    return run
