"""MQTT transport of 安居守护: the ingest consumer and a gateway-side publisher that resends.

Topics: a gateway publishes readings to ``minzheng/safety/<gateway>/up`` (QoS 1), SOS, fall, smoke
and gas to ``minzheng/safety/<gateway>/alarm``, and receives the application's acknowledgements on
``minzheng/safety/<gateway>/ack``. The alarm topic has a session of its own (``<client id>-alarm``):
a backlog of routine readings, held back by the broker's flow control, never delays an emergency.

The consumer (``IngestConsumer``) holds a persistent session under a fixed client id (MQTT 5:
clean start off and a session expiry, so the broker queues QoS 1 messages while the consumer is
away), receives with **manual acknowledgement** and a receive maximum sized for batching, hands
each batch to ``services.ingest.ingest_batch`` (the one code path after decode), and only after
the database commit sends the MQTT PUBACKs and the application acks. A database outage stops
acknowledging (the broker redelivers); bad input is acknowledged with its reason (resending it
would not help). A broker restart is survived by paho's reconnect and the persistent session;
what a broker loses in a crash (messages since its last autosave) the gateways resend because
they never got the application ack (security.md F4).

Received messages go to lanes by gateway, so one home's readings are folded by one transaction
at a time while the other lanes' commits overlap; SOS, fall, smoke and gas take a lane of their
own. With ``worker_processes`` each lane runs ``ingest_batch`` in a child process of its own (one
Python process decodes and folds on one core: the GIL), and this process only receives,
dispatches and acknowledges. A lane's process that dies is started again and its batch sent
again: nothing was acknowledged for it, and the UNIQUE (device, seq) absorbs a batch that had
committed.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import re
import select
import threading
import time
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from minzheng.safety.enums import Channel
from minzheng.safety.services.ingest import BatchOutcome, Envelope, ingest_batch

log = logging.getLogger(__name__)
TOPIC_PREFIX = "minzheng/safety/"
SESSION_EXPIRY = 7 * 24 * 3600
URGENT_TYPES = frozenset({"sos", "fall", "smoke", "gas"})
URGENT = re.compile(rb'"type"\s*:\s*"(?:sos|fall|smoke|gas)"')


def up_topic(gateway: str) -> str:
    return f"{TOPIC_PREFIX}{gateway}/up"


def alarm_topic(gateway: str) -> str:
    """Where a gateway publishes SOS, fall, smoke and gas: a subscription and a broker queue of
    their own, so flow control never holds an emergency behind a backlog of routine readings."""
    return f"{TOPIC_PREFIX}{gateway}/alarm"


def ack_topic(gateway: str) -> str:
    return f"{TOPIC_PREFIX}{gateway}/ack"


def gateway_of(topic: str) -> str:
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 4 else ""


def _connect_props(receive_maximum: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY
    props.ReceiveMaximum = max(20, min(65535, receive_maximum))
    return props


@dataclass
class ConsumerStats:
    received: int = 0
    envelopes: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    db_retries: int = 0
    connects: int = 0
    first_received_at: float = 0.0  # epoch seconds
    last_batch_at: float = 0.0
    errors: list[str] = field(default_factory=list)


class _Inbox:
    """A worker's queue: a deque the network thread appends to (no lock per message) and an event
    that wakes the worker when the first message arrives or a full batch is waiting."""

    __slots__ = ("items", "limit", "ready")

    def __init__(self, limit: int) -> None:
        self.items: deque[_Msg] = deque()
        self.ready = threading.Event()
        self.limit = limit


# What the consumer keeps of a received message: (topic, gateway, payload, mid, qos, the client
# that received it and acknowledges it). paho's own
# message object (with its MQTT 5 properties, some 60 small containers, and a Condition) is let go
# in the callback instead of living in a queue until the commit: kept, those objects survived
# into the oldest generation and made the full garbage collections the largest cost per message.
_Msg = tuple[str, str, bytes | bytearray, int, int, mqtt.Client]


def publish_app_acks(client: mqtt.Client, gateways: Iterable[str], outcome: BatchOutcome) -> None:
    """The application acks of a committed batch, one message per gateway (``gateways``: each
    envelope's, in order): what a gateway may stop resending."""
    acks: dict[str, list[list[Any]]] = defaultdict(list)
    for gw, env in zip(gateways, outcome.envelopes, strict=False):
        if env.error:
            acks[gw].append(["", None, "rejected", env.error])
        for item in env.items:
            acks[gw].append([item.device, item.seq, item.status, item.reason])
    for gw, items in acks.items():
        if gw:
            # QoS 0: a lost ack only makes the gateway resend, which the UNIQUE (device, seq) absorbs
            client.publish(ack_topic(gw), orjson.dumps({"acks": items}), qos=0)


class _AckPublisher:
    """A lane's own MQTT connection for application acks, driven from the lane's loop through
    paho's external-loop calls (``loop_read``/``loop_write``/``loop_misc``): with a network thread
    every publish would wake that thread through a socket pair and trade the GIL with it."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.host, self.port = host, port
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.retry_at = 0.0

    def service(self) -> bool:
        """Read what the broker sent, keep the connection alive, reconnect (at most every 2 s)
        when it is lost. True when acks can be published."""
        c = self.client
        if c.socket() is None:
            if time.monotonic() < self.retry_at:
                return False
            self.retry_at = time.monotonic() + 2.0
            try:
                c.connect(self.host, self.port, keepalive=30)
            except OSError:
                return False
            sock = c.socket()
            if sock is not None:
                select.select([sock], [], [], 2.0)  # the CONNACK
        if c.loop_read() or c.loop_misc() or (c.want_write() and c.loop_write()):
            return False
        return c.is_connected()

    def publish(self, gateways: Iterable[str], outcome: BatchOutcome) -> None:
        if self.service():  # not connected: the acks are lost, and the gateways resend
            publish_app_acks(self.client, gateways, outcome)

    def close(self) -> None:
        if self.client.socket() is not None:
            self.client.disconnect()


def _lane_main(conn: Any, broker: tuple[str, int, str] | None, detail: bool) -> None:
    """A lane's child process: batches of (gateway, payload) in, ``BatchOutcome`` out, a database
    that is away answered ("db", reason) for the parent to retry; ``None`` ends it. With
    ``broker`` (host, port, client id) it publishes the batch's application acks itself, on a
    connection of its own, so that the receiving process spends its time receiving. Without
    ``detail`` the outcome goes back as counts only (the per-reading outcomes are the acks)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its lanes
    acks = _AckPublisher(*broker) if broker is not None else None
    while True:
        try:
            if not conn.poll(10.0):
                if acks is not None:
                    acks.service()  # the keepalive, between batches
                continue
            batch = conn.recv()
        except (EOFError, OSError):
            break
        if batch is None:
            break
        try:
            answer: Any = ingest_batch(channel=Channel.MQTT, envelopes=[
                Envelope(payload=payload, gateway_code=gateway) for gateway, payload in batch])
        except (OperationalError, InterfaceError) as exc:
            close_old_connections()
            answer = ("db", str(exc))
        else:
            if acks is not None:
                acks.publish((gateway for gateway, _ in batch), answer)
            if not detail:
                answer.envelopes = []
        conn.send(answer)
    if acks is not None:
        acks.close()
    connection.close()


class _LaneProcess:
    """The child process of one lane, started again when it has died."""

    def __init__(self, name: str, broker: tuple[str, int, str] | None, detail: bool) -> None:
        self.name, self.broker, self.detail = name, broker, detail
        self.proc: Any = None
        self.conn: Any = None

    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_lane_main, args=(child, self.broker, self.detail), name=self.name, daemon=True)
        self.proc.start()
        child.close()

    def ingest(self, batch: list[_Msg]) -> Any:
        """The lane's outcome, ("db", reason), or None when the process died with the batch."""
        try:
            self.conn.send([(m[1], m[2]) for m in batch])
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(5)
            log.error("ingest: lane process %s exited with %s; starting it again", self.name, self.proc.exitcode)
            self.start()
            return None

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)  # not EOF: the lanes forked later hold copies of this end of the pipe
        self.conn.close()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


class IngestConsumer:
    """``minzheng ingest``: MQTT → decode → rules → database, in batches."""

    def __init__(self, *, host: str, port: int, client_id: str, topic: str, share_group: str = "",
                 batch_size: int = 500, batch_seconds: float = 0.2, max_queue: int = 20000,
                 on_batch: Callable[[BatchOutcome, list[tuple[str, Any]]], None] | None = None,
                 send_acks: bool = True, workers: int = 2, worker_processes: bool = False) -> None:
        self.host, self.port = host, port
        self.topic = f"$share/{share_group}/{topic}" if share_group else topic
        self.batch_size, self.batch_seconds = batch_size, batch_seconds
        self.on_batch = on_batch
        self.send_acks = send_acks
        self.stats = ConsumerStats()
        # One inbox per worker; a gateway always goes to the same worker, so a home's readings are
        # folded in order by one transaction at a time while the other workers' commits overlap.
        self.workers = max(1, workers)
        self.inboxes = [_Inbox(max(1, max_queue // self.workers)) for _ in range(self.workers)]
        self.urgent = _Inbox(max_queue)
        # lane k's process (-1: the urgent lane's), when the lanes run in processes of their own
        self.lanes = {k: _LaneProcess(f"ingest-{k}", (host, port, f"{client_id}-acks-{k}") if send_acks else None,
                                      detail=on_batch is not None)
                      for k in (-1, *range(self.workers))} if worker_processes else {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        # Two sessions: routine readings on <topic>, emergencies on the alarm topic (``alarm_topic``).
        self.alarm_topic = f"{self.topic.rsplit('/', 1)[0]}/alarm"
        self.subscribed: set[int] = set()  # id() of the clients whose subscription stands
        self.client = self._mqtt_client(client_id)
        self.alarm_client = self._mqtt_client(f"{client_id}-alarm")

    def _mqtt_client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                             manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        return client

    # paho callbacks (network threads)
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("ingest: broker refused the connection: %s", reason)
            return
        self.stats.connects += 1
        client.subscribe(self.alarm_topic if client is self.alarm_client else self.topic, qos=1)
        log.info("ingest: connected to %s:%s (session present: %s)", self.host, self.port,
                 getattr(flags, "session_present", "?"))

    def _on_subscribe(self, client: mqtt.Client, *args: Any) -> None:
        with self.lock:
            self.subscribed.add(id(client))
            if len(self.subscribed) == 2:
                self.connected.set()  # both sessions receive

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self.lock:
            self.subscribed.discard(id(client))
            self.connected.clear()
        if getattr(reason, "is_failure", True):
            log.warning("ingest: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        stats = self.stats
        if not stats.received:
            stats.first_received_at = time.time()
        stats.received += 1
        topic = msg.topic
        gw = gateway_of(topic)
        m: _Msg = (topic, gw, msg.payload, msg.mid, msg.qos, client)
        if client is self.alarm_client or URGENT.search(m[2]):
            inbox = self.urgent  # SOS, fall, smoke, gas: ahead of every queued heartbeat
        else:
            inbox = self.inboxes[zlib.crc32(gw.encode()) % self.workers if self.workers > 1 else 0]
        items = inbox.items
        items.append(m)
        n = len(items)
        if n == 1 or n == self.batch_size or inbox is self.urgent:
            inbox.ready.set()
        while n > inbox.limit and self.connected.is_set():
            time.sleep(0.005)  # back-pressure (QoS 0 traffic is not bounded by the receive maximum)
            n = len(items)

    def start(self) -> None:
        # Everything loaded so far (Django, the models, settings: some 300,000 objects) lives as
        # long as the process: frozen, the garbage collector stops rescanning it in every full
        # collection and scans only the consumer's own objects.
        gc.collect()
        gc.freeze()
        if self.lanes:
            connections.close_all()  # before the network thread starts: no thread, no connection crosses the fork
            for lane in self.lanes.values():
                lane.start()
        for client, receive_maximum in ((self.alarm_client, 200), (self.client, self.batch_size * 4)):
            client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                 properties=_connect_props(receive_maximum))
            client.loop_start()

    def stop(self) -> None:
        for client in (self.client, self.alarm_client):
            client.disconnect()
            client.loop_stop()
        for lane in self.lanes.values():
            lane.stop()
        gc.unfreeze()  # a process that goes on (a test run, a bench) collects its cycles again

    def _take_batch(self, inbox: _Inbox, wait: float) -> list[_Msg]:
        """Up to ``batch_size`` messages: as soon as that many are waiting, or ``batch_seconds``
        after the first (the urgent lane: whatever is there, at once)."""
        items, ready = inbox.items, inbox.ready
        if not items:
            ready.wait(wait)
            ready.clear()
            if not items:
                return []
        if inbox is not self.urgent:
            deadline = time.monotonic() + self.batch_seconds
            while len(items) < self.batch_size:
                ready.clear()
                if len(items) >= self.batch_size:
                    break
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                ready.wait(timeout)
        limit = 50 if inbox is self.urgent else self.batch_size
        pop = items.popleft
        return [pop() for _ in range(min(len(items), limit))]

    def _ingest(self, lane: int, batch: list[_Msg], stop: threading.Event) -> BatchOutcome | None:
        process = self.lanes.get(lane)
        while not stop.is_set():
            if process is None:
                try:
                    return ingest_batch(channel=Channel.MQTT, envelopes=[
                        Envelope(payload=m[2], gateway_code=m[1], ref=m[3]) for m in batch])
                except (OperationalError, InterfaceError) as exc:
                    answer: Any = ("db", str(exc))
                    close_old_connections()
            else:
                answer = process.ingest(batch)
                if isinstance(answer, BatchOutcome):
                    return answer
            if answer is None:  # the lane's process died with the batch: send it to the new one
                self.stats.errors.append(f"lane {lane} process restarted")
                stop.wait(0.5)  # a batch that kills its process again and again must not spin
                continue
            # The database is away: acknowledge nothing, wait, retry the same batch.
            self.stats.db_retries += 1
            log.warning("ingest: database unavailable (%s); retrying", answer[1])
            stop.wait(1.0)
        return None

    def _acknowledge(self, batch: list[_Msg], outcome: BatchOutcome) -> None:
        for m in batch:
            if m[4] > 0:
                m[5].ack(m[3], m[4])
        if self.send_acks and not self.lanes:  # a lane's process has published them
            publish_app_acks(self.client, (m[1] for m in batch), outcome)

    def run(self, stop: threading.Event | None = None, *, max_envelopes: int | None = None,
            idle_exit: float | None = None) -> ConsumerStats:
        stop = stop or threading.Event()
        done = threading.Event()
        # Worker -1 serves the urgent lane only (SOS, fall, smoke, gas): it never waits behind a
        # batch of heartbeats another worker is committing.
        threads = [threading.Thread(target=self._work, args=(k, stop, done, max_envelopes, idle_exit), daemon=True)
                   for k in (-1, *range(1, self.workers))]
        for t in threads:
            t.start()
        self._work(0, stop, done, max_envelopes, idle_exit)
        for t in threads:
            t.join()
        return self.stats

    def _work(self, k: int, stop: threading.Event, done: threading.Event, max_envelopes: int | None,
              idle_exit: float | None) -> None:
        inbox = self.urgent if k < 0 else self.inboxes[k]
        idle_since = time.monotonic()
        try:
            while not stop.is_set() and not done.is_set():
                batch = self._take_batch(inbox, 0.2)
                if not batch:
                    if k >= 0 and idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                        done.set()
                    continue
                idle_since = time.monotonic()
                outcome = self._ingest(k, batch, stop)
                if outcome is None:
                    break
                self._acknowledge(batch, outcome)
                with self.lock:
                    s = self.stats
                    s.batches += 1
                    s.envelopes += len(batch)
                    s.accepted += outcome.accepted
                    s.duplicates += outcome.duplicates
                    s.rejected += outcome.rejected
                    s.last_batch_at = time.time()
                    if self.on_batch is not None:
                        self.on_batch(outcome, [(m[0], m[2]) for m in batch])
                    if max_envelopes is not None and s.envelopes >= max_envelopes:
                        done.set()
        finally:
            if k:
                connection.close()


class GatewayPublisher:
    """What a gateway does: publish readings at QoS 1, keep each until the application acks it,
    and resend whatever is not acknowledged (after a reconnect, or when it is overdue)."""

    def __init__(self, *, host: str, port: int, client_id: str, resend_after: float = 5.0) -> None:
        self.resend_after = resend_after
        self.pending: dict[tuple[str, int], tuple[str, str, float]] = {}
        self.acked: dict[tuple[str, int], str] = {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_ack
        self.client.reconnect_delay_set(min_delay=1, max_delay=3)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.host, self.port = host, port

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            return
        client.subscribe(f"{TOPIC_PREFIX}+/ack", qos=1)
        self.connected.set()

    def _on_ack(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            items = json.loads(msg.payload)["acks"]
        except (ValueError, KeyError, TypeError):
            return
        with self.lock:
            for device, seq, status, *_ in items:
                if device and seq is not None:
                    self.pending.pop((device, seq), None)
                    self.acked[(device, seq)] = status

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=10, clean_start=False,
                                  properties=_connect_props(1000))
        self.client.loop_start()
        self.connected.wait(10)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, gateway: str, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":"))
        topic = alarm_topic(gateway) if message.get("type") in URGENT_TYPES else up_topic(gateway)
        with self.lock:
            self.pending[(message["device"], message["seq"])] = (topic, payload, time.monotonic())
        self.client.publish(topic, payload, qos=1)

    def resend_overdue(self) -> int:
        """Resend every reading not acknowledged for ``resend_after`` seconds (or ever)."""
        now = time.monotonic()
        with self.lock:
            due = [(k, v) for k, v in self.pending.items() if now - v[2] >= self.resend_after]
            for k, (topic, payload, _) in due:
                self.pending[k] = (topic, payload, now)
        if self.connected.is_set():
            for _, (topic, payload, _) in due:
                self.client.publish(topic, payload, qos=1)
        return len(due)

    def wait_all_acked(self, timeout: float, *, poll: float = 0.5) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if not self.pending:
                    return True
            self.resend_overdue()
            time.sleep(poll)
        with self.lock:
            return not self.pending
