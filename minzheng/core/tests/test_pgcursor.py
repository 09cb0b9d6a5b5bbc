"""Server-side binding (ADR 0008) must not cap a statement's parameters at the protocol's 65,535."""

from __future__ import annotations

import pytest
from django.db import connection

from minzheng.core.models import AuditChainHead
from minzheng.core.pgcursor import MAX_BOUND_PARAMS

pytestmark = pytest.mark.postgres


def test_settings_use_server_side_binding(db, require_postgres):
    with connection.cursor() as cursor:
        assert type(cursor.cursor).__name__ == "Cursor"
        assert type(cursor.cursor).__module__ == "minzheng.core.pgcursor"
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True


def test_an_in_list_longer_than_the_protocol_allows(db, require_postgres):
    AuditChainHead.objects.get_or_create(pk=1)
    ids = [1, *range(10_000_000, 10_000_000 + MAX_BOUND_PARAMS + 10)]
    assert AuditChainHead.objects.filter(pk__in=ids).count() == 1


def test_many_parameters_quoted_on_the_client_keep_their_values(db, require_postgres):
    values = ["50% off; 'quoted' \\ back", *(str(i) for i in range(MAX_BOUND_PARAMS + 1))]
    placeholders = ", ".join(["(%s)"] * len(values))
    with connection.cursor() as cursor:
        # only placeholders are formatted in; '%%' is a literal % once the values are quoted in
        cursor.execute(f"SELECT count(*), max(v) FILTER (WHERE v LIKE '%%quoted%%') FROM (VALUES {placeholders}) t (v)",  # noqa: S608
                       values)
        assert cursor.fetchone() == (len(values), values[0])
        cursor.execute("SELECT %s::int + 1", [41])  # and the next statement is bound on the server again
        assert cursor.fetchone() == (42,)
