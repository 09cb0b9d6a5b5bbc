"""Ingestion: exactly once per (device, seq), out-of-order and late readings, batched writes,
bad input refused with a reason and counted without losing the good messages around it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from minzheng.safety.enums import RejectReason
from minzheng.safety.models import (
    ActivityHourly,
    Device,
    HomeState,
    IngestCounter,
    IngestRejection,
    RawEvent,
)
from minzheng.safety.services import Envelope, ingest_batch, raw_event_purge
from minzheng.safety.tests.conftest import bj

pytestmark = pytest.mark.django_db


def counters() -> dict[str, int]:
    out: dict[str, int] = {}
    for name, n in IngestCounter.objects.values_list("name", "count"):
        out[name] = out.get(name, 0) + n
    return out


def test_duplicate_deliveries_have_one_effect_and_are_counted(home_a, sender):
    m = sender.msg("PIR-A", "motion", 1, bj(5, 6, 9))
    first = sender.send(m, m, m)  # redelivered three times in one batch
    again = sender.send(m)  # and once more later
    assert (first.accepted, first.duplicates, again.accepted, again.duplicates) == (1, 2, 0, 1)
    assert RawEvent.objects.filter(device__serial="PIR-A", seq=m["seq"]).count() == 1
    assert ActivityHourly.objects.get().motion == 1
    assert counters() == {"accepted": 1, "duplicate": 3}


def test_out_of_order_delivery_keeps_the_newest_state(home_a, sender):
    t = bj(5, 6, 9)
    five = sender.msg("DOOR-A", "door", "closed", t + timedelta(seconds=50), seq=5)
    four = sender.msg("DOOR-A", "door", "open", t + timedelta(seconds=40), seq=4)
    sender.send(five, now=t + timedelta(minutes=1))
    sender.send(four, now=t + timedelta(minutes=2))
    door = Device.objects.get(serial="DOOR-A")
    assert (door.last_seq, door.last_value) == (5, 0)  # closed: seq 4 arrived later but is older
    state = HomeState.objects.get(home=home_a[0])
    assert state.last_door_at == t + timedelta(seconds=50)
    assert RawEvent.objects.filter(device=door).count() == 2


def test_late_readings_are_stored_but_never_move_the_state_back(home_a, sender):
    sender.one("PIR-A", "motion", 1, bj(5, 6, 10))
    sender.send(sender.msg("PIR-A", "motion", 1, bj(5, 6, 9, 30)), now=bj(5, 6, 10, 5))
    state = HomeState.objects.get(home=home_a[0])
    assert state.last_activity_at == bj(5, 6, 10)
    assert RawEvent.objects.count() == 2
    assert ActivityHourly.objects.filter(hour=bj(5, 6, 9)).get().motion == 1


def test_a_batch_of_many_gateways_is_written_together(home_a, home_b, sender):
    t = bj(5, 6, 9)
    envs = []
    for i in range(50):
        envs.append(Envelope(json.dumps(sender.msg("PIR-A", "motion", 1, t + timedelta(minutes=i))), "GW-A"))
        envs.append(Envelope(json.dumps(sender.msg("PIR-B", "motion", 1, t + timedelta(minutes=i))), "GW-B"))
    out = ingest_batch(channel="mqtt", envelopes=envs, now=t + timedelta(hours=1))
    assert (out.accepted, out.duplicates, out.rejected) == (100, 0, 0)
    assert HomeState.objects.get(home=home_b[0]).last_activity_at == t + timedelta(minutes=49)


def test_bad_input_is_refused_with_reasons_and_the_good_messages_around_it_are_kept(home_a, home_b, sender):
    t = bj(5, 6, 9)
    good1 = sender.msg("PIR-A", "motion", 1, t)
    good2 = sender.msg("SOS-A", "sos", 1, t)
    envs = [
        Envelope(b"{not json", "GW-A"),
        Envelope(json.dumps(good1), "GW-A"),
        Envelope(json.dumps({"device": "NOPE-1", "seq": 1, "ts": t.timestamp(), "type": "motion"}), "GW-A"),
        Envelope(json.dumps(sender.msg("PIR-B", "motion", 1, t)), "GW-A"),  # a device of another home
        Envelope(json.dumps(sender.msg("PIR-A", "motion", 1, t + timedelta(days=2))), "GW-A"),  # far future
        Envelope(json.dumps({"device": "PIR-A", "seq": "x", "ts": t.timestamp(), "type": "motion"}), "GW-A"),
        Envelope(json.dumps(sender.msg("PIR-A", "sos", 1, t)), "GW-A"),  # a PIR has no SOS
        Envelope(json.dumps(good1 | {"seq": 99}), "GW-UNKNOWN"),
        Envelope(json.dumps([good2, "junk"]), "GW-A"),
    ]
    out = ingest_batch(channel="mqtt", envelopes=envs, now=t)
    assert out.accepted == 2
    reasons = sorted(IngestRejection.objects.values_list("reason", flat=True))
    assert reasons == sorted([
        RejectReason.MALFORMED, RejectReason.UNKNOWN_DEVICE, RejectReason.GATEWAY_HOME_MISMATCH,
        RejectReason.FUTURE_TIMESTAMP, RejectReason.BAD_FIELD, RejectReason.TYPE_NOT_FOR_DEVICE,
        RejectReason.UNKNOWN_GATEWAY, RejectReason.MALFORMED,
    ])
    assert counters()["rejected:malformed"] == 2
    assert counters()["rejected:gateway_home_mismatch"] == 1
    assert set(RawEvent.objects.values_list("device__serial", flat=True)) == {"PIR-A", "SOS-A"}
    assert out.alarms == 1  # the SOS in the mixed envelope raised its alarm
    assert out.envelopes[8].items[1].status == "rejected"


def test_a_failure_in_one_envelope_does_not_lose_the_others(home_a, home_b, sender, monkeypatch):
    from minzheng.safety import domain

    real = domain.apply_reading

    def flaky(state, r, kind, params, ctx):
        if r.device == "PIR-B":
            raise ValueError("boom")
        return real(state, r, kind, params, ctx)

    monkeypatch.setattr(domain, "apply_reading", flaky)
    t = bj(5, 6, 9)
    out = ingest_batch(channel="mqtt", envelopes=[
        Envelope(json.dumps(sender.msg("PIR-A", "motion", 1, t)), "GW-A"),
        Envelope(json.dumps(sender.msg("PIR-B", "motion", 1, t)), "GW-B"),
        Envelope(json.dumps(sender.msg("DOOR-A", "door", 1, t)), "GW-A"),
    ], now=t)
    assert out.accepted == 2
    assert set(RawEvent.objects.values_list("device__serial", flat=True)) == {"PIR-A", "DOOR-A"}
    assert IngestRejection.objects.get().reason == RejectReason.PROCESSING_ERROR


def test_raw_events_expire_after_the_retention_and_hourly_activity_stays(home_a, sender, settings):
    settings.SAFETY = {"raw_retention_days": 30}
    sender.one("PIR-A", "motion", 1, bj(3, 1, 9))
    sender.one("PIR-A", "motion", 1, bj(5, 1, 9))
    assert raw_event_purge(now=bj(5, 2, 0)) == 1
    assert RawEvent.objects.count() == 1
    assert ActivityHourly.objects.count() == 2
    old = sender.msg("PIR-A", "motion", 1, bj(3, 1, 10))
    out = sender.send(old, now=bj(5, 2, 0))
    assert out.rejected == 1  # older than the retention: refused, never re-inserted
    assert IngestRejection.objects.get().reason == RejectReason.TOO_OLD


def test_battery_and_tamper_become_maintenance_tickets(home_a, sender):
    from minzheng.safety.models import MaintenanceTicket

    sender.one("PIR-A", "heartbeat", {"battery": 8}, bj(5, 6, 9))
    sender.one("WATCH-A", "tamper", 1, bj(5, 6, 9, 5))
    kinds = set(MaintenanceTicket.objects.filter(state="open").values_list("kind", flat=True))
    assert kinds == {"low_battery", "tamper"}
    sender.one("PIR-A", "battery", 100, bj(5, 7, 9))
    assert not MaintenanceTicket.objects.filter(kind="low_battery", state="open").exists()
    assert Device.objects.get(serial="PIR-A").battery_pct == 100


def test_a_retired_device_or_a_stopped_kit_is_refused(home_a, installer, sender):
    from minzheng.safety.services import device_retire, home_deactivate

    device_retire(actor=installer, device_id=Device.objects.get(serial="WM-A").pk, reason="更换")
    assert sender.one("WM-A", "water", 1.0, bj(5, 6, 9)).rejected == 1
    home_deactivate(actor=installer, home_id=home_a[0].pk, reason="老人入住养老机构")
    out = sender.one("PIR-A", "motion", 1, bj(5, 6, 10))
    assert out.rejected == 1
    assert IngestRejection.objects.order_by("-id").first().reason == RejectReason.KIT_INACTIVE


def test_the_rules_know_at_once_when_a_motion_sensor_is_retired_or_added(home_a, installer,
                                                                          django_capture_on_commit_callbacks):
    from minzheng.safety.services import device_add, device_retire
    from minzheng.safety.services.ingest import home_contexts

    home = home_a[0]
    assert home_contexts([home.pk])[home.pk] == (True, True)  # remembered for a minute from now on
    with django_capture_on_commit_callbacks(execute=True):
        device_retire(actor=installer, device_id=Device.objects.get(serial="PIR-A").pk, reason="损坏")
    assert home_contexts([home.pk])[home.pk] == (False, True)  # the door contact now stands in for it
    with django_capture_on_commit_callbacks(execute=True):
        device_add(actor=installer, home_id=home.pk, kind="pir", serial="PIR-A2")
    assert home_contexts([home.pk])[home.pk] == (True, True)


def test_a_batch_reads_and_writes_the_rule_state_exactly(home_a, sender):
    """The hot path moves times as epoch seconds: what it stores reads back to the microsecond,
    and a state another writer changed between two batches is the one the next batch folds into."""
    t = bj(5, 6, 9, 0, 0) + timedelta(microseconds=123457)
    sender.one("DOOR-A", "door", "open", t)
    state = HomeState.objects.get(home=home_a[0])
    assert state.last_door_at == t and state.last_activity_at == t
    HomeState.objects.filter(home=home_a[0]).update(last_activity_at=t + timedelta(hours=1))  # e.g. a repair
    sender.one("PIR-A", "motion", 1, t + timedelta(minutes=30))  # older than the stored activity: late
    state.refresh_from_db()
    assert state.last_activity_at == t + timedelta(hours=1)
    assert state.last_motion_at == t + timedelta(minutes=30)
