"""The PostgreSQL cursor (ADR 0008): parameters bound on the server, except in a statement with
more of them than the wire protocol carries.

A Bind message counts its parameters in 16 bits, so PostgreSQL takes at most 65,535 per statement.
Client-side binding (Django's default) has no such limit, and the ORM leaves it to the database:
``filter(x__in=<70,000 ids>)`` or an unbatched ``bulk_create`` of many rows is one statement.
Such a statement is quoted on the client instead, as it was before server-side binding, and runs
unprepared; every other statement keeps its parameters apart.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]  # psycopg 3 only
from psycopg import ClientCursor

MAX_BOUND_PARAMS = 65_535


class Cursor(ServerBindingCursor):
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if params is not None and len(params) > MAX_BOUND_PARAMS:
            query, params = ClientCursor(self.connection).mogrify(query, params), None
        return super().execute(query, params, **kwargs)
