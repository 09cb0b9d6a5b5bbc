"""Benchmark person search on the full-scale district against the raw SQL of the same queries.

    .venv/bin/python bench/seed.py --keep          # once: a seeded scale-1.0 registry
    .venv/bin/python bench/search.py               # default 200 queries per mode and actor
    .venv/bin/python bench/search.py --queries 500 --explain

PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/minzheng_bench). For each
search mode — full name (a prefix LIKE on name), pinyin initials, phone tail, full ID number
(blind index) — N query strings are drawn from the data itself, and each is run

* through the application: ``people.selectors.person_search(actor=…, query=…)`` (classification,
  ORM compilation, execution, model instances), as a district actor and as the actor of one
  community (the most populous one, queries drawn from its residents);
* as the anchor: the exact SQL text Django sent for that search (captured in an untimed warm-up
  pass) executed and fetched through a plain psycopg connection.

Both are timed warm (after the warm-up pass), alternating which runs first. Prints one JSON line
per (mode, actor) with p50/p95 in milliseconds and ``ratio_p95`` = app p95 / raw p95; goal:
ratio ≤ 1.5 and app p95 < 150 ms. With --explain (or when a mode misses the goal) the plan of
the slowest query, EXPLAIN (ANALYZE, BUFFERS), goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minzheng_bench"
MODES = ("name", "initials", "phone_tail", "id_number")
GOAL_MS, GOAL_RATIO = 150.0, 1.5


@dataclass(frozen=True)
class BenchActor:
    """A staff member as the selectors see one: a scope and permission to view persons."""

    scope_path: str
    pk: int = 0
    username: str = "bench"

    def has_permission(self, perm: str) -> bool:
        return True


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--queries", type=int, default=200, help="queries per mode and actor")
    p.add_argument("--seed", type=int, default=1, help="which persons the queries are drawn from")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest query of every mode")
    return p.parse_args()


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")  # the keys bench/seed.py used
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def query_for(mode: str, person: Any) -> str | None:
    from minzheng.core import crypto

    if mode == "name":
        return str(person.name)
    if mode == "initials":
        return str(person.name_initials)
    if mode == "phone_tail":
        phone = person.phones.order_by("id").first()
        return None if phone is None else str(phone.tail)
    return crypto.unseal(bytes(person.id_sealed), f"person|id_number|{person.uid}")


def draw_queries(mode: str, scope_path: str, count: int, rng: random.Random) -> list[str]:
    from django.db.models import Max, Min

    from minzheng.people.models import Person

    scoped = Person.objects.filter(area_path__startswith=scope_path)
    bounds = scoped.aggregate(lo=Min("id"), hi=Max("id"))
    queries: list[str] = []
    while len(queries) < count:
        ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(count * 3)]
        for person in scoped.filter(id__in=ids).order_by("id"):
            q = query_for(mode, person)
            if q is not None and len(queries) < count:
                queries.append(q)
    rng.shuffle(queries)
    return queries


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    setup(url)
    import psycopg
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from minzheng.divisions.selectors import division_index
    from minzheng.people.models import Person
    from minzheng.people.selectors import person_search

    total = Person.objects.count()
    if total < 1000:
        sys.exit(f"only {total} persons in {url}: run bench/seed.py --keep first")
    community = (Person.objects.values("area_path").annotate(n=Count("id")).order_by("-n").first() or {})["area_path"]
    actors = {"district": BenchActor(scope_path="330110000000/"), "community": BenchActor(scope_path=community)}
    raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor)
    rng = random.Random(args.seed)
    division_index()  # reference data a running server has read long ago
    results = []
    for mode in args.modes.split(","):
        for actor_name, actor in actors.items():
            queries = draw_queries(mode, actor.scope_path, args.queries, rng)
            sqls = []
            for q in queries:  # warm-up, and the SQL Django sends for each search
                with CaptureQueriesContext(connection) as captured:
                    person_search(actor=actor, query=q)
                if len(captured.captured_queries) != 1:
                    sys.exit(f"{mode}: person_search ran {len(captured.captured_queries)} queries, expected 1")
                sqls.append(captured.captured_queries[0]["sql"])
            app, anchor, rows = [], [], []
            for i, (q, sql) in enumerate(zip(queries, sqls, strict=True)):
                for first in ((True, False) if i % 2 else (False, True)):
                    start = time.perf_counter()
                    if first:
                        _, found = person_search(actor=actor, query=q)
                        app.append(time.perf_counter() - start)
                        rows.append(len(found))
                    else:
                        raw.execute(sql).fetchall()
                        anchor.append(time.perf_counter() - start)
            r = {
                "bench": "search", "mode": mode, "actor": actor_name, "persons": total, "queries": len(queries),
                "mean_rows": round(statistics.mean(rows), 1),
                "app_p50_ms": round(percentile(app, 0.5) * 1000, 2), "app_p95_ms": round(percentile(app, 0.95) * 1000, 2),
                "raw_p50_ms": round(percentile(anchor, 0.5) * 1000, 2), "raw_p95_ms": round(percentile(anchor, 0.95) * 1000, 2),
            }
            r["ratio_p95"] = round(r["app_p95_ms"] / r["raw_p95_ms"], 2)
            r["ok"] = r["app_p95_ms"] < GOAL_MS and r["ratio_p95"] <= GOAL_RATIO
            print(json.dumps(r), flush=True)
            results.append(r)
            if args.explain or not r["ok"]:
                slowest = sqls[max(range(len(app)), key=app.__getitem__)]
                plan = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest).fetchall()
                print(f"--- {mode} / {actor_name}: slowest query\n{slowest}\n" + "\n".join(p[0] for p in plan), file=sys.stderr)
    print(json.dumps({
        "bench": "search", "summary": True, "persons": total, "goal_ms": GOAL_MS, "goal_ratio": GOAL_RATIO,
        "worst_app_p95_ms": max(r["app_p95_ms"] for r in results),
        "worst_ratio_p95": max(r["ratio_p95"] for r in results), "all_ok": all(r["ok"] for r in results),
    }))


if __name__ == "__main__":
    main()
