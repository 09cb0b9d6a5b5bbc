"""安居守护 ingestion: the whole pipeline (MQTT → decode → rules → PostgreSQL) against a bare paho
subscriber draining the same stream, in the same run; and SOS-to-incident latency under load.

    .venv/bin/python bench/safety_ingest.py [--messages 40000] [--homes 2000] [--repeat 3]
                                            [--threads] [--load-rate 800] [--load-seconds 20]

Runs a PRIVATE Mosquitto (its own port, config and directory; unlimited queues) so the machine's
broker is not disturbed, and a PostgreSQL database of its own (``--db``, default
``minzheng_bench_safety``: created, migrated and filled with ``--homes`` homes with kits once).
Before each phase the bench clears the previous phase's events, alarms and incidents and VACUUMs
(ANALYZE) the tables the pipeline writes: production runs autovacuum, a bench server may not.

Each repetition:

1. **Throughput.** Persistent sessions are created (MQTT 5, clean start off): ``bench-bare``
   on both topics, and the pipeline's two, as ``minzheng ingest`` holds them (``bench-pipeline``
   on ``+/up`` with the same receive maximum, ``bench-pipeline-alarm`` on ``+/alarm``).
   ``--messages`` readings (motion, door, heartbeat, water on ``/up``; a few SOS on ``/alarm``;
   fresh sequence numbers; timestamps now) are published at QoS 1 while all are away, so the
   broker queues the same stream for the bare subscriber and for the pipeline. Then, one after
   the other (alternating which goes first): the bare subscriber (paho, QoS 1,
   auto-acknowledge, counts messages) drains its queue; the pipeline drains its own:
   ``IngestConsumer`` as ``minzheng ingest`` runs it, which dispatches by gateway to ``--workers`` lanes,
   each running ``ingest_batch`` in a process of its own (``--threads``: in threads of the one
   process), acknowledging after each PostgreSQL commit. Rate = messages / (last message − first
   message); for the pipeline, the last *committed* message. The raw events stored are counted:
   none may be missing.
2. **Latency.** With the pipeline (the same lanes) consuming live, a background stream of ``--load-rate``
   readings/s (default: half the pipeline rate just measured: a loaded but sustainable system)
   runs for ``--load-seconds``, with an SOS from a different home every 0.25 s (on the alarm
   topic, from a connection of its own, as that home's gateway would send it). The
   latency of each SOS is from its publish to the commit of the batch that opened its incident
   (timed in the consumer's batch callback, same clock); every SOS must have an incident.

Prints one JSON line (medians over ``--repeat``): ``bare_rate``, ``pipeline_rate``, ``ratio``
(goal ≥ 0.5), ``sos_p50_ms``, ``sos_p99_ms`` (goal < 1000).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
        self.port = _free_port()
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _psql(args: argparse.Namespace, sql: str) -> str:
    out = subprocess.run(["psql", "-h", args.pg_host, "-U", args.pg_user, "-d", "postgres", "-tAc", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _setup_django(args: argparse.Namespace) -> None:
    if not _psql(args, f"SELECT 1 FROM pg_database WHERE datname = '{args.db}'"):
        _psql(args, f"CREATE DATABASE {args.db}")
    os.environ["DATABASE_URL"] = f"postgres://{args.pg_user}@{args.pg_host}:5432/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("MINZHENG_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fixture(n_homes: int) -> list[tuple[str, dict[str, str]]]:
    """``n_homes`` homes with a kit each (persons inserted directly: bench data, not the registry's
    business). Returns [(gateway, {kind: serial})]."""
    from django.db import transaction

    from minzheng.divisions.models import Division
    from minzheng.people.models import Person
    from minzheng.safety.models import Device, Gateway, Home, HomeState, Kit

    have = Home.objects.filter(code__startswith="BENCH-").count()
    if have < n_homes:
        villages = list(Division.objects.filter(level="village").order_by("code")[:50])
        rng = random.Random(1)
        with transaction.atomic():
            persons = [Person(name="测试老人", name_initials="csl", gender="F", birth_date="1940-01-01",
                              id_sealed=os.urandom(40), id_bidx=os.urandom(32), id_masked="339901********0000",
                              division=villages[i % len(villages)], area_path=villages[i % len(villages)].path,
                              living_arrangement="alone") for i in range(have, n_homes)]
            Person.objects.bulk_create(persons, batch_size=1000)
            homes = [Home(code=f"BENCH-{i:06d}", person=p, division=p.division, area_path=p.area_path,
                          lat=30.4 + rng.uniform(-0.1, 0.1), lon=120.3 + rng.uniform(-0.1, 0.1))
                     for i, p in zip(range(have, n_homes), persons, strict=True)]
            Home.objects.bulk_create(homes, batch_size=1000)
            kits = [Kit(home=h, code=f"K{h.code}", installed_on="2026-01-01") for h in homes]
            Kit.objects.bulk_create(kits, batch_size=1000)
            devices, gateways = [], []
            for h, k in zip(homes, kits, strict=True):
                n = h.code[6:]
                for kind, prefix in (("door_contact", "D"), ("pir", "P"), ("sos_button", "S"), ("water_meter", "W")):
                    devices.append(Device(kit=k, home=h, kind=kind, serial=f"B{prefix}{n}"))
                gateways.append(Gateway(kit=k, home=h, code=f"BGW{n}"))
            Device.objects.bulk_create(devices, batch_size=2000)
            Gateway.objects.bulk_create(gateways, batch_size=2000)
            HomeState.objects.bulk_create([HomeState(home=h, area_path=h.area_path) for h in homes], batch_size=2000)
    return [(f"BGW{i:06d}", {"door": f"BD{i:06d}", "pir": f"BP{i:06d}", "sos": f"BS{i:06d}",
                            "water": f"BW{i:06d}"}) for i in range(n_homes)]


def _reset_alarms() -> None:
    """Bench database only: forget the SOS incidents of earlier runs so each SOS opens a new one."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DELETE FROM safety_incidententry; DELETE FROM safety_notification; "
                    "UPDATE safety_alarm SET incident_id = NULL; DELETE FROM safety_incident; DELETE FROM safety_alarm; "
                    "UPDATE safety_homestate SET active_alarms = '[]'::jsonb, next_check_at = NULL; "
                    "DELETE FROM safety_rawevent; DELETE FROM safety_activityhourly")
        # The deletes above and the repetitions before leave dead rows behind, and the server may run
        # without autovacuum (this machine's does): vacuum what the pipeline reads and rewrites, so
        # every repetition starts from the same tables instead of from the previous runs' garbage.
        cur.execute("VACUUM (ANALYZE) safety_rawevent, safety_activityhourly, safety_homestate, safety_device, "
                    "safety_gateway, safety_alarm, safety_incident, safety_incidententry, safety_notification, "
                    "safety_ingestcounter")


class Stream:
    def __init__(self, homes: list[tuple[str, dict[str, str]]], seed: int) -> None:
        self.homes = homes
        self.rng = random.Random(seed)
        self.seq_base = int(time.time() * 1000) * 10
        self.k = 0

    def reading(self, *, sos_home: int | None = None) -> tuple[str, dict[str, Any]]:
        self.k += 1
        seq = self.seq_base + self.k
        if sos_home is not None:
            gw, dev = self.homes[sos_home]
            return gw, {"device": dev["sos"], "seq": seq, "ts": time.time(), "type": "sos", "value": 1}
        gw, dev = self.homes[self.rng.randrange(len(self.homes))]
        x = self.rng.random()
        if x < 0.5:
            m = {"device": dev["pir"], "type": "motion", "value": 1}
        elif x < 0.6:
            m = {"device": dev["door"], "type": "door", "value": self.rng.choice(("open", "closed"))}
        elif x < 0.9:
            m = {"device": dev[self.rng.choice(("pir", "door", "sos"))], "type": "heartbeat",
                 "value": {"battery": self.rng.randrange(30, 100)}}
        else:
            m = {"device": dev["water"], "type": "water", "value": round(self.rng.uniform(0, 8), 1)}
        return gw, {**m, "seq": seq, "ts": time.time()}


def _props(receive_maximum: int) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    p.ReceiveMaximum = receive_maximum
    return p


def _client(client_id: str, **kw: Any) -> Any:
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kw)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    return c


def _topic(gw: str, m: dict[str, Any]) -> str:
    """Where a gateway publishes the reading: SOS on the alarm topic, the rest on /up."""
    from minzheng.safety.management.mqtt import URGENT_TYPES, alarm_topic, up_topic

    return alarm_topic(gw) if m["type"] in URGENT_TYPES else up_topic(gw)


UP, ALARM = "minzheng/safety/+/up", "minzheng/safety/+/alarm"


def _session(port: int, client_id: str, receive_maximum: int, topics: tuple[str, ...] = (UP,)) -> None:
    """Create a fresh persistent session subscribed to the readings, then leave. Fresh (clean start):
    what the previous repetition's latency phase left queued must not count towards this one."""
    c = _client(client_id)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port, clean_start=True, properties=_props(receive_maximum))
    c.loop_start()
    c.subscribe([(t, 1) for t in topics])
    done.wait(5)
    c.disconnect()
    c.loop_stop()


def _end_session(port: int, client_id: str) -> None:
    """Have the broker discard a session (clean start, expiry 0): an idle persistent session left
    behind would have every later message of the run queued for it, broker work that belongs to
    no consumer being measured (and grows with each repetition)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = _client(client_id)
    done = threading.Event()
    c.on_connect = lambda *a: done.set()
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 0
    c.connect("127.0.0.1", port, clean_start=True, properties=p)
    c.loop_start()
    done.wait(5)
    c.disconnect()
    c.loop_stop()


def _publish(port: int, items: list[tuple[str, dict[str, Any]]]) -> float:
    c = _client("bench-publisher")
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    info = None
    for gw, m in items:
        info = c.publish(_topic(gw, m), json.dumps(m, separators=(",", ":")), qos=1)
    if info is not None:
        info.wait_for_publish(120)
    took = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return took


def _bare_drain(port: int, n: int, receive_maximum: int) -> float:
    c = _client("bench-bare")
    got = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        now = time.perf_counter()
        if got["n"] == 0:
            got["first"] = now
        got["n"] += 1
        got["last"] = now
        if got["n"] >= n:
            done.set()

    c.on_message = on_message
    c.connect("127.0.0.1", port, clean_start=False, properties=_props(receive_maximum))
    c.loop_start()
    done.wait(600)
    c.disconnect()
    c.loop_stop()
    if got["n"] < n:
        raise RuntimeError(f"bare subscriber got {got['n']} of {n}")
    return n / (got["last"] - got["first"])


def _consumer(port: int, args: argparse.Namespace, client_id: str, **kw: Any) -> Any:
    """The production consumer as ``minzheng ingest`` builds it (``--threads``: its lanes as threads)."""
    from minzheng.safety.management.mqtt import IngestConsumer

    return IngestConsumer(host="127.0.0.1", port=port, client_id=client_id, topic=UP,
                          batch_size=args.batch_size, workers=args.workers, worker_processes=not args.threads, **kw)


def _pipeline_drain(port: int, n: int, args: argparse.Namespace) -> tuple[float, Any]:
    """Rate from the pipeline's first message received to its last batch committed."""
    from django.db import connection

    consumer = _consumer(port, args, "bench-pipeline", batch_seconds=0.2)
    consumer.start()
    try:
        stats = consumer.run(max_envelopes=n, idle_exit=60)
    finally:
        consumer.stop()
        connection.close()
    if stats.envelopes < n:
        raise RuntimeError(f"pipeline processed {stats.envelopes} of {n}")
    return n / (stats.last_batch_at - stats.first_received_at), stats


def _throughput(args: argparse.Namespace, port: int, homes: Any, run: int) -> dict[str, Any]:
    from minzheng.safety.models import RawEvent

    _reset_alarms()
    stream = Stream(homes, seed=run)
    items = [stream.reading() for _ in range(args.messages)]
    for k in range(0, args.messages, max(1, args.messages // 20)):  # a few SOS among them
        items[k] = stream.reading(sos_home=k % len(homes))
        items[k][1]["seq"] = stream.seq_base + 10_000_000 + k
    _session(port, "bench-bare", args.receive_maximum, (UP, ALARM))  # the whole stream, SOS too
    _session(port, "bench-pipeline", args.receive_maximum)
    _session(port, "bench-pipeline-alarm", 200, (ALARM,))
    publish_s = _publish(port, items)
    time.sleep(1.0)
    order = ("bare", "pipeline") if run % 2 == 0 else ("pipeline", "bare")
    out: dict[str, Any] = {"run": run, "publish_rate": round(args.messages / publish_s), "order": order}
    for which in order:
        if which == "bare":
            out["bare_rate"] = round(_bare_drain(port, args.messages, args.receive_maximum))
        else:
            rate, stats = _pipeline_drain(port, args.messages, args)
            out["batches"] = stats.batches
            out["rejected"] = stats.rejected
            out["pipeline_rate"] = round(rate)
    for client_id in ("bench-bare", "bench-pipeline", "bench-pipeline-alarm"):
        _end_session(port, client_id)
    stored = RawEvent.objects.filter(seq__gte=stream.seq_base).count()
    out["stored"] = stored
    out["lost"] = args.messages - stored - out["rejected"]
    out["ratio"] = round(out["pipeline_rate"] / out["bare_rate"], 3)
    return out


def _latency(args: argparse.Namespace, port: int, homes: Any, run: int, load_rate: float) -> dict[str, Any]:
    from django.db import connection

    from minzheng.safety.models import Incident

    _reset_alarms()
    sent: dict[tuple[str, int], float] = {}
    committed: dict[tuple[str, int], float] = {}

    def on_batch(outcome: Any, batch: Any) -> None:
        now = time.time()
        for env in outcome.envelopes:
            for item in env.items:
                if (item.device, item.seq) in sent and item.status == "accepted":
                    committed[(item.device, item.seq)] = now

    consumer = _consumer(port, args, f"bench-live-{run}", batch_seconds=0.05, on_batch=on_batch)
    consumer.start()
    consumer.connected.wait(10)
    stop = threading.Event()
    worker = threading.Thread(target=lambda: (consumer.run(stop), connection.close()), daemon=True)
    worker.start()
    # The background load multiplexes thousands of gateways on one connection, which no gateway
    # does: an SOS comes from another home, on its gateway's own connection, not queued behind it.
    pub, sos_pub = _client(f"bench-load-{run}"), _client(f"bench-sos-{run}")
    for c in (pub, sos_pub):
        c.connect("127.0.0.1", port)
        c.loop_start()
    stream = Stream(homes, seed=1000 + run)
    rng = random.Random(run)
    sos_homes = rng.sample(range(len(homes)), k=min(len(homes), int(args.load_seconds * 4) + 10))
    start = time.perf_counter()
    k = next_sos = 0
    while time.perf_counter() - start < args.load_seconds:
        elapsed = time.perf_counter() - start
        if elapsed >= next_sos * 0.25:
            gw, m = stream.reading(sos_home=sos_homes[next_sos])
            sent[(m["device"], m["seq"])] = time.time()
            m["ts"] = time.time()
            sos_pub.publish(_topic(gw, m), json.dumps(m), qos=1)
            next_sos += 1
        target = int(elapsed * load_rate)
        while k < target:
            gw, m = stream.reading()
            pub.publish(_topic(gw, m), json.dumps(m, separators=(",", ":")), qos=1)
            k += 1
        time.sleep(0.002)
    end = time.monotonic() + 30
    while len(committed) < len(sent) and time.monotonic() < end:
        time.sleep(0.1)
    stop.set()
    worker.join(30)
    consumer.stop()
    for c in (pub, sos_pub):
        c.disconnect()
        c.loop_stop()
    _end_session(port, f"bench-live-{run}")
    _end_session(port, f"bench-live-{run}-alarm")
    lat = sorted((committed[key] - t) * 1000 for key, t in sent.items() if key in committed)
    incidents = Incident.objects.filter(alarm_type="sos").count()
    return {"sos": len(sent), "sos_committed": len(committed), "sos_incidents": incidents,
            "load_published": k, "load_rate_actual": round(k / args.load_seconds), "latencies_ms": lat}


def _q(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=40000)
    ap.add_argument("--homes", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1000, help="as minzheng ingest")
    ap.add_argument("--receive-maximum", type=int, default=2000)
    ap.add_argument("--load-rate", type=float, default=0.0, help="background readings/s (default: a fraction "
                    "of the pipeline rate just measured)")
    ap.add_argument("--load-fraction", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=3, help="consumer lanes (gateway-partitioned), as minzheng ingest")
    ap.add_argument("--threads", action="store_true", help="the lanes as threads of the consumer's process "
                    "(minzheng ingest --threads) instead of processes of their own")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--db", default="minzheng_bench_safety")
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-user", default="postgres")
    args = ap.parse_args()
    _setup_django(args)
    homes = _fixture(args.homes)
    broker = Broker()
    runs, lats = [], []
    try:
        for run in range(args.repeat):
            t = _throughput(args, broker.port, homes, run)
            load_rate = args.load_rate or args.load_fraction * t["pipeline_rate"]
            lat = _latency(args, broker.port, homes, run, load_rate)
            mine = lat.pop("latencies_ms")
            lat["sos_p50_ms"], lat["sos_p99_ms"] = round(_q(mine, 0.5), 1), round(_q(mine, 0.99), 1)
            lat["loadavg"] = round(os.getloadavg()[0], 2)
            lats += mine
            t["latency"] = lat
            runs.append(t)
            print(json.dumps(t), file=sys.stderr, flush=True)
    finally:
        broker.close()
    bare = statistics.median(r["bare_rate"] for r in runs)
    pipe = statistics.median(r["pipeline_rate"] for r in runs)
    lats.sort()
    print(json.dumps({
        "bench": "safety_ingest", "messages": args.messages, "homes": args.homes, "repeat": args.repeat,
        "bare_rate": round(bare), "pipeline_rate": round(pipe),
        "ratio": round(statistics.median(r["ratio"] for r in runs), 3), "goal_ratio": 0.5,
        "lost": sum(r["lost"] for r in runs),
        "sos": len(lats), "sos_p50_ms": round(_q(lats, 0.5), 1), "sos_p99_ms": round(_q(lats, 0.99), 1),
        "goal_p99_ms": 1000, "load_rate": statistics.median(r["latency"]["load_rate_actual"] for r in runs),
        "workers": args.workers, "lanes": "threads" if args.threads else "processes",
        "sos_without_incident": sum(r["latency"]["sos"] - r["latency"]["sos_incidents"] for r in runs),
    }))


if __name__ == "__main__":
    main()
