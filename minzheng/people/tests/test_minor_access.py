"""Asking to open a minor's record (security AC-4, A16): only a minor's record needs, or gets, an approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from minzheng.core.exceptions import ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.people.models import MinorAccessGrant
from minzheng.people.services import minor_access_request
from minzheng.people.tests.data import COMMUNITY_A


def test_a_request_for_an_adult_is_refused_naming_the_person(worker_a, person_a):
    before = (MinorAccessGrant.objects.count(), AuditEvent.objects.count())

    with pytest.raises(ValidationFailed) as caught:
        minor_access_request(actor=worker_a, person_uid=person_a.uid, reason="困境儿童季度走访")

    assert caught.value.code == "not_a_minor"
    assert caught.value.fields == {"person": "该人员已成年,查阅档案无需审批"}
    assert caught.value.status_code == 400
    assert (MinorAccessGrant.objects.count(), AuditEvent.objects.count()) == before


def test_a_request_for_a_minor_is_recorded(worker_a, make_person: Callable[..., Any]):
    minor = make_person("王小明", COMMUNITY_A, birth="20150601")

    grant = minor_access_request(actor=worker_a, person_uid=minor.uid, reason="困境儿童季度走访")

    assert (grant.person_id, grant.status, grant.requested_by_name) == (minor.pk, "pending", "worker_a")
    assert AuditEvent.objects.filter(event_type="minor_access.request", result="success").count() == 1
