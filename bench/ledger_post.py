"""Throughput of ledger.services.txn_post on PostgreSQL against pgbench's tpcb-like, same clients.

The workload is a 助餐 meal checkout: four postings (wallet, subsidy, self-pay cash, operator
payable) under a fresh idempotency key, as ``meals.services.checkout`` posts it: the subsidy
account is per meal point (116 of them), so two points never wait on each other's rows. Every
checkout still writes one row of the platform's hash-chained audit log, whose head row is locked
by every audited write: one hot row for all clients, exactly like tpcb-like at scale 1, where every
transaction updates the single ``pgbench_branches`` row. That makes pgbench the anchor: same
server, same client count, same one-hot-row pattern, only our code differs. ``--hot`` posts every
meal to one district subsidy account instead (the worst case: two hot rows).

    .venv/bin/python bench/ledger_post.py --clients 16 --seconds 20 [--mode process|thread] [--hot]

Creates and drops two scratch databases (``--db``, ``--pgbench-db``). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DISTRICT = "330110000000"
COMMUNITY = "330110005001"
WALLET_FEN = 10**9


def _psql(args: argparse.Namespace, sql: str, db: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", args.host, "-p", str(args.port), "-U", args.user, "-d", db, "-v", "ON_ERROR_STOP=1",
         "-qc", sql],
        check=True, capture_output=True,
    )


def _setup_django(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"postgres://{args.user}@{args.host}:{args.port}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", args.settings)
    os.environ.setdefault("MINZHENG_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _prepare(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    from minzheng.ledger.services import account_open, txn_post

    call_command("migrate", verbosity=0)
    account_open(actor=None, code="bench:subsidy", name="区级助餐补贴支出", kind="expense", division_code=DISTRICT,
                 allow_negative=True)
    for p in range(args.points):
        account_open(actor=None, code=f"bench:subsidy:{p}", name="助餐补贴支出(分助餐点)", kind="expense",
                     division_code=COMMUNITY, allow_negative=True)
    account_open(actor=None, code="bench:grants", name="电子津贴发放", kind="expense", division_code=DISTRICT,
                 allow_negative=True)
    for p in range(args.points):
        account_open(actor=None, code=f"bench:op:{p}", name="助餐点应付", kind="liability", division_code=COMMUNITY,
                     allow_negative=True)
        account_open(actor=None, code=f"bench:cash:{p}", name="助餐点现金", kind="asset", division_code=COMMUNITY,
                     allow_negative=True)
    for w in range(args.wallets):
        account_open(actor=None, code=f"bench:w:{w}", name="电子津贴", kind="liability", division_code=COMMUNITY,
                     owner_type="person", owner_ref=str(w))
        txn_post(actor=None, key=f"bench:grant:{w}", kind="meal.grant",
                 lines=[("bench:grants", WALLET_FEN), (f"bench:w:{w}", -WALLET_FEN)])


def _worker(args: argparse.Namespace, worker: int, stop_at: float, out: Any) -> None:
    from django.db import connection

    from minzheng.ledger.services import txn_post

    rng = random.Random(worker)
    latencies: list[float] = []
    n = 0
    try:
        while time.perf_counter() < stop_at:
            w, p = rng.randrange(args.wallets), rng.randrange(args.points)
            t0 = time.perf_counter()
            txn_post(
                actor=None, key=f"bench:meal:{worker}:{n}", kind="meal.checkout", memo="午餐",
                lines=[(f"bench:w:{w}", 300), ("bench:subsidy" if args.hot else f"bench:subsidy:{p}", 500),
                       (f"bench:cash:{p}", 700),
                       (f"bench:op:{p}", -1500)],
            )
            latencies.append(time.perf_counter() - t0)
            n += 1
    finally:
        connection.close()
    out.put(latencies)


def _run_ledger(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connections

    connections.close_all()  # children must not share the parent's socket
    results: Any = mp.get_context("fork").Queue() if args.mode == "process" else queue.Queue()
    start = time.perf_counter() + 1.0  # let every worker connect first
    stop_at = start + args.seconds
    workers: list[Any] = []
    for i in range(args.clients):
        if args.mode == "process":
            workers.append(mp.get_context("fork").Process(target=_worker, args=(args, i, stop_at, results)))
        else:
            workers.append(threading.Thread(target=_worker, args=(args, i, stop_at, results)))
    for w in workers:
        w.start()
    latencies: list[float] = []
    for _ in workers:
        latencies.extend(results.get(timeout=args.seconds + 120))
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "txn_post_tps": round(len(latencies) / elapsed, 1),
        "txn_post_count": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2) if latencies else None,
    }


def _check_books() -> dict[str, Any]:
    from minzheng.ledger.selectors import trial_balance

    tb = trial_balance()
    return {"trial_balance_ok": tb.ok}


def _pgbench(args: argparse.Namespace) -> float:
    conn = ["-h", args.host, "-p", str(args.port), "-U", args.user]
    subprocess.run(["pgbench", *conn, "-i", "-s", "1", "-q", args.pgbench_db], check=True, capture_output=True)
    jobs = min(args.clients, os.cpu_count() or 1)
    res = subprocess.run(
        ["pgbench", *conn, "-n", "-b", "tpcb-like", "-c", str(args.clients), "-j", str(jobs), "-T", str(args.seconds),
         args.pgbench_db],
        check=True, capture_output=True, text=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", res.stdout)
    if not match:
        raise RuntimeError(f"cannot read pgbench output:\n{res.stdout}\n{res.stderr}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--mode", choices=["process", "thread"], default="process",
                        help="process: one OS process per client (like web workers); thread: one process, N threads")
    parser.add_argument("--hot", action="store_true", help="one district subsidy account for every meal")
    parser.add_argument("--no-audit", action="store_true",
                        help="diagnostic only: skip the audit row (shows what the audit chain head costs)")
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument("--points", type=int, default=116, help="meal points (助餐点)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--db", default="minzheng_bench_ledger")
    parser.add_argument("--pgbench-db", default="minzheng_bench_pgbench")
    parser.add_argument("--settings", default="config.settings.test")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()

    for db in (args.db, args.pgbench_db):
        _psql(args, f'DROP DATABASE IF EXISTS "{db}"')
        _psql(args, f'CREATE DATABASE "{db}"')
    try:
        _setup_django(args)
        _prepare(args)
        if args.no_audit:
            import minzheng.ledger.services as services

            services.audit_record = lambda **kw: None  # type: ignore[assignment]
        ledger = _run_ledger(args)
        books = _check_books()
        from django.db import connections

        connections.close_all()
        anchor = _pgbench(args)
    finally:
        if not args.keep:
            for db in (args.db, args.pgbench_db):
                _psql(args, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    print(json.dumps({
        "bench": "ledger_post",
        "workload": "meal.checkout, 4 postings" + (", one hot subsidy account" if args.hot else ", subsidy per point"),
        "clients": args.clients,
        "mode": args.mode,
        "audit": not args.no_audit,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        **ledger,
        **books,
        "pgbench_tpcb_like_tps": anchor,
        "ratio_vs_pgbench": round(ledger["txn_post_tps"] / anchor, 3) if anchor else None,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
