"""Building model instances from fetched rows without ``Model.__init__`` (core.models.instances_from_rows)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.db.models import signals  # noqa: TID251 -- a receiver stands in for a contrib field that listens

from minzheng.core.models import AuditEvent, instances_from_rows, row_params

COLUMNS = ["id", "at", "event_type", "object_id", "extra"]
ROWS = [(7, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "person.view", "abc", {"k": 1}),
        (8, datetime(2026, 1, 2, 3, 5, tzinfo=UTC), "person.reveal", "def", {})]


def test_rows_become_the_instances_from_db_builds():
    fast = instances_from_rows(AuditEvent, "default", COLUMNS, ROWS)
    orm = [AuditEvent.from_db("default", COLUMNS, row) for row in ROWS]
    for a, b in zip(fast, orm, strict=True):
        assert (a.pk, a.at, a.event_type, a.object_id, a.extra) == (b.pk, b.at, b.event_type, b.object_id, b.extra)
        assert a == b  # same model, same primary key
        assert a.get_deferred_fields() == b.get_deferred_fields() == {f.attname for f in AuditEvent._meta.concrete_fields} - set(COLUMNS)
        assert (a._state.adding, a._state.db) == (False, "default")
    assert fast[0]._state is not fast[1]._state


def test_models_with_init_receivers_take_the_orm_path():
    seen: list[object] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    signals.post_init.connect(receiver, sender=AuditEvent)
    try:
        built = instances_from_rows(AuditEvent, "default", COLUMNS, ROWS)
    finally:
        signals.post_init.disconnect(receiver, sender=AuditEvent)
    assert seen == built


def test_row_params_are_what_each_field_would_prepare():
    # Given an audit row with every kind of column: ids, text, a timestamp, an address, JSON, bytes
    event = AuditEvent(id=5, at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC), actor_id=None, actor_username="张三",
                       ip="10.0.0.1", event_type="t", result="success", extra={"a": [1, "二"]}, chain=3,
                       prev_mac=b"\x00" * 32, mac=b"\x01" * 32)
    fields = AuditEvent._meta.concrete_fields

    # Then the fast path gives the same parameters as Field.get_db_prep_save, column by column
    fast = row_params(fields, connection)(event)
    slow = [f.get_db_prep_save(getattr(event, f.attname), connection=connection) for f in fields]
    assert [_plain(v) for v in fast] == [_plain(v) for v in slow]


def _plain(value: object) -> object:
    """Adapter wrappers (JSON, bytes) compare by what they wrap."""
    for attr in ("obj", "adapted"):
        if hasattr(value, attr):
            return _plain(getattr(value, attr))
    return bytes(value) if isinstance(value, memoryview) else value
