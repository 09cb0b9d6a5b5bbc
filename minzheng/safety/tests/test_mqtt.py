"""MQTT with a real broker: a PRIVATE Mosquitto on a free port with its own config and
persistence directory, so killing it never disturbs the machine's broker. Skips when the
mosquitto binary is missing, unless MINZHENG_REQUIRE_SERVICES=1 (then fails)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from minzheng.safety.management.mqtt import GatewayPublisher, IngestConsumer
from minzheng.safety.models import RawEvent

REQUIRE = os.environ.get("MINZHENG_REQUIRE_SERVICES") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.dir = binary, workdir
        self.port = _free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nautosave_interval 60\nmax_queued_messages 10000\n"
            f"log_dest file {workdir}/mosquitto.log\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private mosquitto did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # kill -9: no final save
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        if REQUIRE:
            pytest.fail("MINZHENG_REQUIRE_SERVICES=1 but the mosquitto binary is missing")
        pytest.skip("needs the mosquitto binary (apt-get install mosquitto)")
    b = Broker(binary, tmp_path)
    b.start()
    yield b
    b.stop()


class Running:
    """The consumer in a thread of its own (with its own database connection)."""

    def __init__(self, consumer: IngestConsumer) -> None:
        self.consumer = consumer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.consumer.run(self.stop)
        finally:
            connection.close()

    def __enter__(self) -> IngestConsumer:
        self.consumer.start()
        assert self.consumer.connected.wait(10)
        self.thread.start()
        return self.consumer

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(15)
        self.consumer.stop()


def _consumer(broker: Broker, worker_processes: bool = False) -> IngestConsumer:
    return IngestConsumer(host="127.0.0.1", port=broker.port, client_id="test-safety-ingest",
                          topic="minzheng/safety/+/up", batch_size=50, batch_seconds=0.05,
                          worker_processes=worker_processes)


# Lanes in processes of their own (as `minzheng ingest` runs them) need a database the processes
# share: not the SQLite test database in memory.
LANES = pytest.mark.parametrize("in_processes", [False, pytest.param(True, marks=pytest.mark.postgres)],
                                ids=["threads", "processes"])


def _reading(seq: int, n: int) -> dict[str, Any]:
    ts = timezone.now().timestamp() - (n - seq)
    return {"device": "PIR-A", "seq": seq, "ts": ts, "type": "motion" if seq % 3 else "heartbeat",
            "value": 1 if seq % 3 else {"battery": 90}}


@LANES
@pytest.mark.django_db(transaction=True)
def test_broker_killed_and_restarted_mid_stream_loses_nothing(broker, home_a, in_processes):
    n = 400
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-GW-A", resend_after=3.0)
    with Running(_consumer(broker, in_processes)) as consumer:
        device.start()
        for seq in range(1, n + 1):
            device.publish("GW-A", _reading(seq, n))
            if seq == n // 2:
                time.sleep(0.3)
                broker.kill()  # kill -9 in the middle of the stream
                time.sleep(1.0)
                broker.start()
            elif seq % 20 == 0:
                time.sleep(0.02)
        assert device.wait_all_acked(90), f"{len(device.pending)} readings never acknowledged"
        device.stop()
    seqs = list(RawEvent.objects.filter(device__serial="PIR-A").values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, n + 1))  # all of 1..N, no gap, no duplicate
    assert consumer.stats.connects >= 4  # both sessions reconnected after the broker came back


@LANES
@pytest.mark.django_db(transaction=True)
def test_the_persistent_session_keeps_messages_while_the_consumer_is_away(broker, home_a, in_processes):
    with Running(_consumer(broker, in_processes)):
        pass  # first connection: the broker now holds a session for the fixed client id
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-GW-A-2", resend_after=3600)
    device.start()
    for seq in range(1, 61):
        device.publish("GW-A", _reading(seq, 60))
    time.sleep(0.5)
    with Running(_consumer(broker, in_processes)):
        assert device.wait_all_acked(90)  # delivered from the broker's queue, never resent
    device.stop()
    assert RawEvent.objects.filter(device__serial="PIR-A").count() == 60


@pytest.mark.django_db(transaction=True)
def test_malformed_messages_never_stop_the_consumer(broker, home_a):
    import paho.mqtt.client as mqtt

    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rogue")
    raw.connect("127.0.0.1", broker.port)
    raw.loop_start()
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-GW-A-3", resend_after=3.0)
    with Running(_consumer(broker)) as consumer:
        device.start()
        raw.publish("minzheng/safety/GW-A/up", b"\xff\xfe garbage", qos=1).wait_for_publish(5)
        raw.publish("minzheng/safety/GW-NONE/up", b'{"device":"PIR-A","seq":1}', qos=1).wait_for_publish(5)
        for seq in range(1, 21):
            device.publish("GW-A", _reading(seq, 20))
        assert device.wait_all_acked(90)
        device.stop()
    raw.loop_stop()
    assert RawEvent.objects.count() == 20
    assert consumer.stats.rejected >= 2


def test_urgent_readings_take_the_fast_lane():
    from minzheng.safety.management.mqtt import URGENT, gateway_of

    assert URGENT.search(b'{"device":"S1","seq":3,"ts":1,"type":"sos","value":1}')
    assert URGENT.search(b'[{"type": "heartbeat"}, {"type" : "smoke", "value": 1}]')
    assert not URGENT.search(b'{"device":"P1","seq":3,"ts":1,"type":"motion","value":1}')
    assert gateway_of("minzheng/safety/GW-A/up") == "GW-A"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_lanes_in_processes_and_a_killed_lane_is_restarted(broker, home_a, home_b):
    """``minzheng ingest`` runs each lane in a process of its own; one is killed with SIGKILL
    mid-stream, started again, its batch sent again, and every reading of both homes is stored
    once."""
    n = 300
    consumer = _consumer(broker, worker_processes=True)
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-lanes", resend_after=3.0)
    with Running(consumer):
        assert sorted(consumer.lanes) == [-1, 0, 1]  # two lanes and the urgent one
        lane_a = zlib.crc32(b"GW-A") % 2  # the lane of GW-A's readings
        victim = consumer.lanes[lane_a].proc
        device.start()
        for seq in range(1, n + 1):
            for tag in ("A", "B"):
                device.publish(f"GW-{tag}", {**_reading(seq, n), "device": f"PIR-{tag}"})
            if seq == n // 2:
                os.kill(victim.pid, signal.SIGKILL)
            elif seq % 25 == 0:
                time.sleep(0.02)
        assert device.wait_all_acked(90), f"{len(device.pending)} readings never acknowledged"
        device.stop()
        assert all(lane.proc.is_alive() for lane in consumer.lanes.values())
    assert consumer.stats.errors == [f"lane {lane_a} process restarted"]
    for tag in ("A", "B"):
        seqs = sorted(RawEvent.objects.filter(device__serial=f"PIR-{tag}").values_list("seq", flat=True))
        assert seqs == list(range(1, n + 1))


@pytest.mark.django_db(transaction=True)
def test_an_sos_travels_on_the_alarm_topic_with_a_session_of_its_own(broker, home_a):
    from minzheng.safety.management.mqtt import alarm_topic
    from minzheng.safety.models import Incident

    topics: list[str] = []
    consumer = _consumer(broker)
    consumer.on_batch = lambda outcome, batch: topics.extend(topic for topic, _ in batch)
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-sos", resend_after=3600)
    with Running(consumer):
        device.start()
        device.publish("GW-A", _reading(1, 1))
        device.publish("GW-A", {"device": "SOS-A", "seq": 1, "ts": timezone.now().timestamp(), "type": "sos",
                                "value": 1})
        assert device.wait_all_acked(30)  # acknowledged without a resend
        device.stop()
    assert sorted(topics) == [alarm_topic("GW-A"), "minzheng/safety/GW-A/up"]
    assert consumer.alarm_topic == "minzheng/safety/+/alarm"
    assert RawEvent.objects.filter(device__serial="SOS-A", type="sos").count() == 1
    assert Incident.objects.filter(home=home_a[0], alarm_type="sos").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_sos_is_not_queued_behind_a_backlog_of_routine_readings(broker, home_a):
    """The consumer was away and the broker holds a backlog: the SOS on the alarm topic reaches
    the consumer while most of the routine readings still wait in the broker (whose flow control
    lets only a window of the routine session through at a time)."""
    with Running(_consumer(broker)):
        pass  # both persistent sessions exist
    n = 1500
    device = GatewayPublisher(host="127.0.0.1", port=broker.port, client_id="gw-backlog", resend_after=3600)
    device.start()
    for seq in range(1, n + 1):
        device.publish("GW-A", _reading(seq, n))
    device.publish("GW-A", {"device": "SOS-A", "seq": 1, "ts": timezone.now().timestamp(), "type": "sos", "value": 1})
    time.sleep(0.5)
    consumer = _consumer(broker)
    routine_before_sos: list[int] = []
    received = {"routine": 0}

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if b'"sos"' in msg.payload:
            routine_before_sos.append(received["routine"])
        else:
            received["routine"] += 1
        consumer._on_message(client, userdata, msg)

    for client in (consumer.client, consumer.alarm_client):
        client.on_message = on_message
    with Running(consumer):
        assert device.wait_all_acked(120)
    device.stop()
    assert len(routine_before_sos) == 1
    assert routine_before_sos[0] < n // 2, f"the SOS arrived after {routine_before_sos[0]} of {n} readings"
    assert RawEvent.objects.filter(device__serial="SOS-A").count() == 1
