"""HTTP ingest (POST /api/v1/safety/ingest with a gateway's X-API-Key, through the platform's API
with its authentication and permission checks): the same code path as MQTT after decode; a key
used for another home's devices is refused per reading and counted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from minzheng.accounts.services import api_key_create
from minzheng.safety.models import IngestCounter, IngestRejection, RawEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/safety/ingest"


def post(client, key, body):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", HTTP_X_API_KEY=key)


def reading(device, seq, etype="motion", value=1, ago=60):
    return {"device": device, "seq": seq, "ts": (timezone.now() - timedelta(seconds=ago)).timestamp(),
            "type": etype, "value": value}


def counted(name):
    return sum(IngestCounter.objects.filter(channel="http", name=name).values_list("count", flat=True))


def test_a_gateway_posts_a_batch(client, home_a):
    _, secret = home_a
    r = post(client, secret, {"messages": [reading("PIR-A", 1), reading("DOOR-A", 1, "door", "open"),
                                           reading("SOS-A", 1, "sos", 1)]})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    again = post(client, secret, [reading("PIR-A", 1)]).json()
    assert (again["accepted"], again["duplicates"], again["items"][0]["status"]) == (0, 1, "duplicate")
    assert RawEvent.objects.filter(channel="http").count() == 3


def test_a_gateway_key_used_for_another_home_is_rejected_and_counted(client, home_a, home_b):
    _, secret_b = home_b
    r = post(client, secret_b, [reading("PIR-A", 7), reading("PIR-B", 7)])
    assert r.status_code == 200
    items = {i["device"]: i for i in r.json()["items"]}
    assert items["PIR-A"]["status"] == "rejected"
    assert items["PIR-A"]["reason"] == "gateway_home_mismatch"
    assert items["PIR-B"]["status"] == "accepted"  # the good reading in the same request is kept
    assert counted("rejected:gateway_home_mismatch") == 1
    row = IngestRejection.objects.get()
    assert (row.channel, row.device_serial, row.seq) == ("http", "PIR-A", 7)
    assert not RawEvent.objects.filter(device__serial="PIR-A").exists()


def test_credentials_and_bodies_that_are_refused(client, home_a, installer):
    _, secret = home_a
    assert post(client, "", [reading("PIR-A", 1)]).status_code == 401
    assert post(client, "abc.def", [reading("PIR-A", 1)]).status_code == 401
    _, canteen = api_key_create(actor=None, name="助餐终端", purpose="canteen_terminal", division_code="330110005001")
    assert post(client, canteen, [reading("PIR-A", 1)]).status_code == 403  # not a sensor gateway
    _, unbound = api_key_create(actor=None, name="闲置网关", purpose="sensor_gateway", division_code="330110005001")
    r = post(client, unbound, [reading("PIR-A", 1)])
    assert (r.status_code, r.json()["code"]) == (403, "gateway_unbound")
    assert counted("rejected:gateway_unbound") == 1
    r = post(client, secret, b"{broken")
    assert (r.status_code, r.json()["code"]) == (400, "malformed")
    assert "body" in r.json()["extra"]["fields"]
    assert counted("rejected:malformed") == 1
    r = post(client, secret, [reading("PIR-A", 2, ago=-3600)])  # an hour in the future
    assert r.json()["items"][0]["reason"] == "future_timestamp"
    assert RawEvent.objects.count() == 0
