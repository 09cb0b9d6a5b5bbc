"""Checkout throughput of the real HTTP API (gunicorn, several sync workers, PostgreSQL), with
pgbench's tpcb-like TPS at the same client count in the same run as the anchor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minzheng_meals_bench \\
      .venv/bin/python bench/meals_checkout.py --clients 16 --workers 4 --seconds 20 --rounds 3

Needs a seeded database (bench/meals_seed.py). Each round:

1. pgbench -i (scale = clients) into a scratch database, then ``pgbench -b tpcb-like -c C -j 2 -T S``;
2. the second anchor (``--no-bare`` leaves it out): the same transaction in a bare Django view
   (bench/meals_bare.py), served and loaded exactly as the checkout is, against pgbench's
   database. It measures what this stack can do at all here. ``--raw-wsgi`` adds the floor
   beneath it: the same transaction in a WSGI function with no Django (bench/meals_raw.py);
3. gunicorn serving the project (the meals router mounted at /api/v1/meals/) and one client
   process per client, each a checkout terminal at its own bench point, POSTing ``/api/v1/meals/checkout`` for fresh
   diners (X-API-Key, an idempotency key per request) through a minimal HTTP client. 10 % of the
   diners are sent to two terminals at once, so the one-subsidised-meal rule is exercised under
   load; afterwards the database must hold zero double subsidies;
4. one JSON line: TPS, p50/p99, errors, the double-subsidy count, the ratio to pgbench
   (``ratio``), the bare view's TPS and its ratio to pgbench, the checkout's ratio to the bare
   view, and with ``--raw-wsgi`` the floor's TPS and ratio to pgbench.

The goal (issue 5): ≥ 25 % of pgbench's TPS at 16 clients with p99 < 100 ms, zero double subsidies.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PORT = 8765
PGBENCH_DB = "meals_pgbench"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


# --- fixtures in the bench database -------------------------------------------------------------------


def prepare(clients: int, per_client: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Bench points BN01.. with one all-day window and a terminal key each; fresh diners' cards.

    The window's slot is the one in which most diners have not eaten yet today, so the diners of
    a seeded database serve a round in each of the three slots before more must be registered."""
    from datetime import time as dtime

    from django.db import transaction
    from django.utils import timezone

    from minzheng.accounts.models import ApiKey
    from minzheng.accounts.services import api_key_create
    from minzheng.meals.enums import DinerStatus, MealStatus, Slot, Tender
    from minzheng.meals.models import Diner, MealPoint, MealService, MealSlot, PointTerminal
    from minzheng.meals.services import books

    division = MealPoint.objects.filter(code__startswith="YH").order_by("code").first()
    if division is None:
        raise SystemExit("seed the bench database first (bench/meals_seed.py)")
    today = timezone.localdate()
    served = MealService.objects.filter(service_date=today, status=MealStatus.SERVED)
    eaten_in = {slot.value: set(served.filter(slot=slot.value).values_list("diner_id", flat=True)) for slot in Slot}
    slot = min(eaten_in, key=lambda s: len(eaten_in[s]))
    eaten = eaten_in[slot]
    terminals = []
    with transaction.atomic():
        for i in range(clients):
            code = f"BN{i + 1:02d}"
            point, created = MealPoint.objects.get_or_create(code=code, defaults={
                "name": f"压测助餐点{i + 1:02d}", "point_type": "elder_canteen", "division_id": division.division_id,
                "area_path": division.area_path, "region": "330110", "capacity": 500})
            if created:
                MealSlot.objects.create(point=point, slot=slot, starts=dtime(0, 0), ends=dtime(23, 59, 59, 999999),
                                        price_fen=1500)
            MealSlot.objects.filter(point=point).update(slot=slot)
            books.ensure([books.payable(code), books.benefit("330110", code), *(books.selfpay(code, t) for t in Tender)],
                         division_code=division.division_id, point_name=point.name, owner=("meal_point", code))
            PointTerminal.objects.filter(point=point).delete()
            ApiKey.objects.filter(name=f"{code} bench").update(revoked_at=timezone.now())
            key, secret = api_key_create(actor=None, name=f"{code} bench", purpose="canteen_terminal",
                                         division_code=division.division_id)
            PointTerminal.objects.create(point=point, api_key=key, label="bench")
            terminals.append({"code": code, "secret": secret})
    wanted = clients * per_client
    fresh = Diner.objects.filter(status=DinerStatus.ACTIVE, person__isnull=False, person__status="active").count() \
        - len(eaten)
    if fresh < wanted:
        register_more_diners(wanted - fresh + 100)
    ids = [d for d in Diner.objects.filter(status=DinerStatus.ACTIVE, person__isnull=False, person__status="active")
           .order_by("?").values_list("id", flat=True)[: wanted + len(eaten) + 100] if d not in eaten][:wanted]
    if len(ids) < wanted:
        raise SystemExit(f"only {len(ids)} diners have not eaten {slot} today; lower --seconds or wait for tomorrow")
    cards = [f"330110{d:010d}" for d in ids]
    return terminals, cards


def register_more_diners(n: int) -> int:
    """Each checkout needs a diner who has not eaten in the round's slot today, and a seeded database at a small
    meals scale runs out of them after a round or two. Register ``n`` more elders of the people
    registry as active diners with a 市民卡 each, exactly as the seed does (bench cards are
    ``330110`` + the diner id); they have no meal history yet."""
    from django.db import transaction
    from django.utils import timezone

    from minzheng.core import crypto
    from minzheng.meals import domain
    from minzheng.meals.enums import YUHANG, CredentialKind, DinerStatus
    from minzheng.meals.models import Diner, DinerCard
    from minzheng.people.models import Person

    today = timezone.localdate()
    elders = (Person.objects.filter(status="active", birth_date__lte=date(today.year - 61, 1, 1))
              .exclude(id__in=Diner.objects.filter(person__isnull=False).values("person_id")).order_by("id")
              .values_list("id", "name", "birth_date", "division_id", "area_path", "living_arrangement", "self_care",
                           "disability_category", "tags")[:n])
    diners = [Diner(person_id=pid, name_masked=domain.mask_name(name), birth_date=birth, home_region=YUHANG,
                    division_id=division, area_path=path, status=DinerStatus.ACTIVE, review_due=today,
                    categories=sorted(domain.derive_categories(
                        age=domain.age_on(birth, today), self_care=self_care, living_arrangement=living,
                        disability_category=disability, tags=tags or [])))
              for pid, name, birth, division, path, living, self_care, disability, tags in elders]
    with transaction.atomic():
        Diner.objects.bulk_create(diners, batch_size=2000)
        cards = []
        for d in diners:
            number = f"330110{d.pk:010d}"
            cards.append(DinerCard(diner_id=d.pk, kind=CredentialKind.CITIZEN_CARD,
                                   sealed=crypto.seal(number, f"meals|card|{d.uid}"),
                                   bidx=crypto.blind_index("meal_card", number), masked=domain.mask_card(number)))
        DinerCard.objects.bulk_create(cards, batch_size=2000)
    print(json.dumps({"bench": "meals_checkout", "registered_diners": len(diners)}), file=sys.stderr, flush=True)
    return len(diners)


# --- the load ---------------------------------------------------------------------------------------


class Http:
    """A minimal HTTP/1.1 client: POST, read the status and a Content-Length body, reconnect when
    the server closes (gunicorn's sync workers close after every response). pgbench's own client
    is C; http.client parses each response's headers with the email package, which cost the two
    shared cores about 0.3 ms a request that the servers measured here could have had."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.buf = b""

    def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
        self.sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        header, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status, length, close = int(lines[0].split()[1]), 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        self.buf = rest
        while len(self.buf) < length:
            self._recv()
        data, self.buf = self.buf[:length], self.buf[length:]
        if close:
            self.close()
        return status, data

    def _recv(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-response")
        self.buf += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""


def checkout_requests(terminal: dict[str, Any], cards: list[str]) -> tuple[bytes, list[bytes]]:
    head = ("POST /api/v1/meals/checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {terminal['secret']}\r\n").encode()
    return head, [json.dumps({"point": terminal["code"], "credential": card, "payment_method": "cash",
                              "idempotency_key": uuid.uuid4().hex}).encode() for card in cards]


def client(args: tuple[bytes, list[bytes], float, float, float]) -> dict[str, Any]:
    """One terminal's queue of requests. Only requests that finish inside [warm_until, stop_at) are
    measured; ``ran_dry`` says the queue ended before stop_at (the round then undercounts: raise
    --expect-rps)."""
    head, bodies, start_at, warm_until, stop_at = args
    conn = Http()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    codes: dict[str, int] = {}
    while time.time() < start_at:
        time.sleep(0.001)
    i = 0
    while time.time() < stop_at and i < len(bodies):
        body = bodies[i]
        i += 1
        t = time.perf_counter()
        try:
            status, data = conn.post(head, body)
        except (OSError, ValueError, IndexError):
            conn.close()
            status, data = 0, b""
        done = time.time()
        if not warm_until <= done < stop_at:
            continue
        if status:
            latencies.append(time.perf_counter() - t)
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 400:
            code = json.loads(data or b"{}").get("code", "?")
            codes[code] = codes.get(code, 0) + 1
    conn.close()
    return {"latencies": latencies, "statuses": statuses, "codes": codes, "ran_dry": time.time() < stop_at}


def start_gunicorn(workers: int, db_url: str, settings: str = "config.settings.test",
                   app: str = "config.wsgi:application") -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": settings, "MINZHENG_LOG_LEVEL": "ERROR",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), app, "-w", str(workers), "-b",
         f"127.0.0.1:{PORT}", "--worker-class", "sync", "--log-level", "warning", "--backlog", "256"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/healthz" if settings == "config.settings.test" else "/tpcb")
            if c.getresponse().status in (200, 405):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))


def serve_and_load(args: argparse.Namespace, db_url: str, settings: str,
                   queues: list[tuple[bytes, list[bytes]]], app: str = "config.wsgi:application") -> dict[str, Any]:
    """Serve ``app`` with gunicorn, run one client process per queue, sum their results."""
    from django.db import connections

    connections.close_all()
    server = start_gunicorn(args.workers, db_url, settings, app)
    try:
        start_at = time.time() + 1.0
        warm_until = start_at + args.warmup
        stop_at = warm_until + args.seconds
        with multiprocessing.get_context("fork").Pool(len(queues)) as pool:
            results = pool.map(client, [(head, bodies, start_at, warm_until, stop_at) for head, bodies in queues])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    out: dict[str, Any] = {"latencies": [], "statuses": {}, "codes": {}, "ran_dry": 0}
    for r in results:
        out["latencies"].extend(r["latencies"])
        for field in ("statuses", "codes"):
            for k, v in r[field].items():
                out[field][k] = out[field].get(k, 0) + v
        out["ran_dry"] += r["ran_dry"]
    return out


def pgbench_init(clients: int) -> None:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", PGBENCH_DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", PGBENCH_DB], check=True)
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", str(clients), PGBENCH_DB],
                   check=True, capture_output=True)


def pgbench(clients: int, seconds: int) -> float:
    out = subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-b", "tpcb-like", "-c", str(clients),
                          "-j", "2", "-T", str(seconds), "-n", PGBENCH_DB], check=True, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout)
    return float(match.group(1)) if match else 0.0


def tpcb_anchor(args: argparse.Namespace, db_url: str, app: str) -> float:
    """pgbench's transaction served over HTTP with the checkout's server, clients and workers,
    against pgbench's database: the bare Django view (bench/meals_bare.py) or, for ``--raw-wsgi``,
    a WSGI function with no framework (bench/meals_raw.py). Its TPS."""
    url = urlparse(db_url)._replace(path=f"/{PGBENCH_DB}").geturl()
    head = b"POST /tpcb HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    per_client = int(args.expect_rps * 6 * (args.seconds + args.warmup) / args.clients) + 50
    res = serve_and_load(args, url, "meals_bare", [(head, [b"{}"] * per_client)] * args.clients, app)
    if res["ran_dry"] or set(res["statuses"]) - {201}:
        raise SystemExit(f"{app}: {res['statuses']} {res['codes']} ran_dry={res['ran_dry']}")
    return len(res["latencies"]) / args.seconds


def double_subsidies() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM (SELECT diner_id, service_date, slot FROM meals_mealservice "
                    "WHERE subsidised AND status = 'served' GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
        return int(cur.fetchone()[0])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def one_round(args: argparse.Namespace, db_url: str, rnd: int) -> dict[str, Any]:
    pgbench_init(args.clients)
    try:
        anchor = pgbench(args.clients, args.seconds)
        bare = tpcb_anchor(args, db_url, "config.wsgi:application") if args.bare else 0.0
        raw = tpcb_anchor(args, db_url, "meals_raw:application") if args.raw_wsgi else 0.0
    finally:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", PGBENCH_DB], check=False)
    per_client = int(args.expect_rps * (args.seconds + args.warmup) / args.clients) + 50
    terminals, cards = prepare(args.clients, per_client)
    # 10 % of the diners go to two terminals at once (the neighbour's queue, same position)
    queues = [cards[i * per_client:(i + 1) * per_client] for i in range(args.clients)]
    for i in range(args.clients):
        mate = queues[(i + 1) % args.clients]
        for j in range(0, per_client, 10):
            queues[i][j] = mate[j]
    res = serve_and_load(args, db_url, "config.settings.test",
                         [checkout_requests(terminals[i], queues[i]) for i in range(args.clients)])
    statuses, codes, all_lat = res["statuses"], res["codes"], res["latencies"]
    ok = statuses.get(201, 0) + statuses.get(200, 0)
    total = sum(statuses.values())
    tps = len(all_lat) / args.seconds
    doubles = double_subsidies()
    load = os.getloadavg()
    return {
        "bench": "meals_checkout", "round": rnd, "clients": args.clients, "workers": args.workers,
        "seconds": args.seconds, "requests": total, "ok": ok, "errors": total - ok, "error_codes": codes,
        "tps": round(tps, 1), "p50_ms": round(percentile(all_lat, 50) * 1000, 1),
        "p99_ms": round(percentile(all_lat, 99) * 1000, 1), "pgbench_tps": round(anchor, 1),
        "ratio": round(tps / anchor, 3) if anchor else None,
        "bare_view_tps": round(bare, 1) if bare else None,
        "bare_view_ratio": round(bare / anchor, 3) if bare and anchor else None,
        "ratio_to_bare_view": round(tps / bare, 3) if bare else None,
        "raw_wsgi_tps": round(raw, 1) if raw else None,
        "raw_wsgi_ratio": round(raw / anchor, 3) if raw and anchor else None,
        "double_subsidies": doubles, "queues_ran_dry": res["ran_dry"], "loadavg_1m": round(load[0], 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-bare", dest="bare", action="store_false",
                        help="leave out the second anchor, pgbench's transaction in a bare Django view")
    parser.add_argument("--raw-wsgi", action="store_true",
                        help="add the floor: pgbench's transaction in a WSGI function without Django (bench/meals_raw.py)")
    parser.add_argument("--expect-rps", type=int, default=700,
                        help="sizes the diner queues; a queue that runs dry is reported (queues_ran_dry)")
    args = parser.parse_args()
    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minzheng_meals_bench")
    os.environ["DATABASE_URL"] = db_url
    if not urlparse(db_url).scheme.startswith("postgres"):
        raise SystemExit("PostgreSQL only")
    django_setup()
    rounds = []
    for rnd in range(1, args.rounds + 1):
        res = one_round(args, db_url, rnd)
        rounds.append(res)
        print(json.dumps(res, ensure_ascii=False), flush=True)
    summary = {
        "bench": "meals_checkout", "summary": "median", "clients": args.clients, "workers": args.workers,
        "tps": statistics.median(r["tps"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "pgbench_tps": statistics.median(r["pgbench_tps"] for r in rounds),
        "bare_view_tps": statistics.median(r["bare_view_tps"] or 0 for r in rounds) if args.bare else None,
        "bare_view_ratio": statistics.median(r["bare_view_ratio"] or 0 for r in rounds) if args.bare else None,
        "ratio_to_bare_view": statistics.median(r["ratio_to_bare_view"] or 0 for r in rounds) if args.bare else None,
        "raw_wsgi_tps": statistics.median(r["raw_wsgi_tps"] or 0 for r in rounds) if args.raw_wsgi else None,
        "raw_wsgi_ratio": statistics.median(r["raw_wsgi_ratio"] or 0 for r in rounds) if args.raw_wsgi else None,
        "ratio": statistics.median(r["ratio"] or 0 for r in rounds),
        "double_subsidies": max(r["double_subsidies"] for r in rounds),
        "goal": "ratio >= 0.25 and p99_ms < 100 and double_subsidies == 0",
    }
    summary["queues_ran_dry"] = sum(r["queues_ran_dry"] for r in rounds)
    summary["goal_met"] = summary["queues_ran_dry"] == 0 and summary["ratio"] >= 0.25 and summary["p99_ms"] < 100 and summary["double_subsidies"] == 0
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
