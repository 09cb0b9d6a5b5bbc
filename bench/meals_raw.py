"""The checkout bench's floor (``--raw-wsgi``): pgbench's tpcb-like transaction in a plain WSGI
function, with no Django at all, served by the same gunicorn and loaded by the same clients.

It is what Python, gunicorn's sync workers and psycopg can do here before any framework runs:
``POST /tpcb`` runs ``tpcb`` (which bench/meals_bare.py's view runs too) on one psycopg connection
per worker, bound and prepared on the server as the project's connections are. Serve it as
``meals_raw:application`` with ``bench/`` on the Python path and DATABASE_URL naming pgbench's
database. Not part of the product.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

_conn: psycopg.Connection[Any] | None = None
_scale = 0


def tpcb(cursor: Any, scale: int) -> tuple[int, int]:
    """pgbench's tpcb-like transaction on a DB-API cursor, inside the caller's transaction: random
    ids over the scale pgbench was initialised with; the account and its new balance."""
    aid, bid, tid = random.randint(1, 100_000 * scale), random.randint(1, scale), random.randint(1, 10 * scale)
    delta = random.randint(-5000, 5000)
    cursor.execute("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s", [delta, aid])
    cursor.execute("SELECT abalance FROM pgbench_accounts WHERE aid = %s", [aid])
    balance = int(cursor.fetchone()[0])
    cursor.execute("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s", [delta, tid])
    cursor.execute("UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s", [delta, bid])
    cursor.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                   "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)", [tid, bid, aid, delta])
    return aid, balance


def _connection() -> tuple[psycopg.Connection[Any], int]:
    global _conn, _scale
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["DATABASE_URL"], prepare_threshold=2)
        _scale = int(_conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()[0])  # type: ignore[index]
        _conn.commit()
    return _conn, _scale


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Allow", "POST"), ("Content-Length", "0")])
        return [b""]
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    conn, scale = _connection()
    with conn.transaction(), conn.cursor() as cursor:
        aid, balance = tpcb(cursor, scale)
    body = json.dumps({"aid": aid, "abalance": balance}).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
