"""API v1 and minors' records (security AC-4, A16): the masked list is open, the record needs approval."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import COMMUNITY_A, WUCHANG

from .test_api import call


@pytest.fixture
def minor(make_person: Any) -> Any:
    return make_person("王小明", division=COMMUNITY_A, birth=f"{timezone.localdate().year - 10}0101")


def approve(make_staff: Any, requester: Any, minor: Any) -> None:
    from minzheng.people.services import minor_access_decide, minor_access_request

    grant = minor_access_request(actor=requester, person_uid=minor.uid, reason="入户走访核实情况")
    approver = make_staff(roles=["township_staff"], division=WUCHANG)
    minor_access_decide(actor=approver, grant_id=grant.pk, approve=True)


@pytest.mark.django_db
def test_minor_is_listed_masked_but_opens_only_with_approval(make_staff: Any, login: Any, minor: Any) -> None:
    worker = make_staff(roles=["community_worker"], division=COMMUNITY_A)
    client = login(worker)
    listed = call(client, "/api/v1/people?q=wxm", 200)
    assert [item["uid"] for item in listed["items"]] == [str(minor.uid)]
    assert "*" in listed["items"][0]["id_masked"]

    refused = call(client, f"/api/v1/people/{minor.uid}", 403)
    assert refused["code"] == "minor_approval_required"
    assert "王小明" not in str(refused)

    approve(make_staff, worker, minor)
    assert call(client, f"/api/v1/people/{minor.uid}", 200)["uid"] == str(minor.uid)


@pytest.mark.django_db
def test_machine_key_cannot_open_a_minor(client: Client, minor: Any) -> None:
    from minzheng.accounts.services import api_key_create

    _, raw = api_key_create(actor=None, name="对接系统", purpose="peer_system", division_code=COMMUNITY_A)
    assert call(client, f"/api/v1/people/{minor.uid}", 403, **{"X-API-Key": raw})["code"] == "minor_approval_required"


@pytest.mark.django_db
def test_machine_key_does_not_borrow_a_staff_members_approval(
    client: Client, make_staff: Any, minor: Any
) -> None:
    from django.apps import apps

    from minzheng.accounts.services import api_key_create

    ApiKey = apps.get_model("accounts", "ApiKey")

    worker = make_staff(roles=["community_worker"], division=COMMUNITY_A)
    api_key, raw = api_key_create(actor=None, name="对接系统", purpose="peer_system", division_code=COMMUNITY_A)
    # Give the key the worker's id (sequences differ per back end and per run): a lookup keyed by
    # the bare id would then find the worker's approval.
    ApiKey.objects.filter(pk=api_key.pk).update(id=worker.pk)
    api_key = ApiKey.objects.get(pk=worker.pk)
    assert api_key.pk == worker.pk
    approve(make_staff, worker, minor)
    body = call(client, f"/api/v1/people/{minor.uid}", 403, **{"X-API-Key": raw})
    assert body["code"] == "minor_approval_required"
