"""Statements compiled once and run with fresh values (core.statements)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minzheng.core import statements
from minzheng.core.models import AuditEvent
from minzheng.core.services import audit_record

pytestmark = pytest.mark.django_db


def test_a_text_probe_inside_a_like_pattern_takes_the_value_escaped():
    for event in ("lit%eral.one", "litXeral.two", "lit_eral.three", "other.four"):
        audit_record(actor=None, event_type=event, object_type="t")
    probe = statements.probe_text("prefix")
    stmt = statements.Compiled(AuditEvent.objects.only("event_type").filter(event_type__startswith=probe)
                               .order_by("id"), {"prefix": probe})
    with CaptureQueriesContext(connection) as q:
        percent = stmt.run(prefix="lit%")
        underscore = stmt.run(prefix="lit_")
        anything = stmt.run(prefix="lit")
    assert len(q.captured_queries) == 3
    assert [e.event_type for e in percent] == ["lit%eral.one"]  # % is a character here, not a wildcard
    assert [e.event_type for e in underscore] == ["lit_eral.three"]
    assert [e.event_type for e in anything] == ["lit%eral.one", "litXeral.two", "lit_eral.three"]
    assert "object_type" in anything[0].get_deferred_fields()  # only() still defers


def test_a_probe_that_does_not_reach_the_parameters_is_refused():
    with pytest.raises(RuntimeError, match="cannot place"):
        statements.Compiled(AuditEvent.objects.filter(event_type="x"), {"value": statements.probe_text("value")})
