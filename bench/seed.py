"""Benchmark `minzheng seed` against PostgreSQL's COPY of the same rows (DESIGN §8).

    .venv/bin/python bench/seed.py                       # scale 1.0 on PostgreSQL
    .venv/bin/python bench/seed.py --scale 0.1 --repeat 3
    .venv/bin/python bench/seed.py --sqlite              # scale 0.01 on a throw-away SQLite file

PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/minzheng_bench; the database
is created and migrated when missing). Each repetition:

1. empties the registry (untimed) and times the whole seed: planning, generation and sealing in
   the worker pool, COPY, index rebuild, sequences, ANALYZE (the domain steps are left out: the
   anchor has no counterpart for them);
2. generates the same rows again (same plan, same keys; only the GCM nonces differ) into one
   binary COPY file per table, untimed;
3. anchor "copy": creates copies of the three tables with the same columns, checks, defaults,
   indexes, unique and foreign-key constraints, then times BEGIN; COPY ×3; COMMIT (deferred
   foreign keys are checked at commit, inside the timing);
4. anchor "copy_rebuild": the same copies with their secondary indexes and constraints dropped,
   then times BEGIN; COPY ×3; rebuild indexes and constraints; COMMIT. This is how the seed itself
   loads, so it is the stronger anchor.

Prints one JSON line per repetition on stderr and the medians as one JSON line on stdout:
``ratio`` = seed_s / copy_s (the anchor as the issue defines it), ``ratio_best`` = seed_s / the
faster anchor. SQLite mode seeds scale 0.01 and, as anchor, inserts the same pre-encoded rows with
executemany into the emptied tables; goal: seed ≤ 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minzheng_bench"
ANCHOR_PREFIX = "bench_anchor_"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=None, help="default 1.0 (PostgreSQL) or 0.01 (--sqlite)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sqlite", action="store_true", help="measure on a temporary SQLite database")
    p.add_argument("--skip-indexed-anchor", action="store_true",
                   help="PostgreSQL: skip the slow COPY-into-indexed-tables anchor")
    p.add_argument("--keep", action="store_true", help="leave the seeded registry in place (for bench/search.py)")
    return p.parse_args()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")  # fixed test keys
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ensure_pg_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    dbname = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            print(f"created database {dbname}", file=sys.stderr)


def client_cpu() -> float:
    """CPU seconds of this process and of its reaped children (the seed's pool workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def backend_cpu() -> float | None:
    """CPU seconds of the PostgreSQL backend serving Django's connection (same machine only;
    parallel index-build workers are separate processes and not counted)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def empty_registry() -> None:
    from django.db import transaction

    from minzheng.synth import load

    with transaction.atomic():
        load.reset_registry()


def timed_seed(scale: float, seed: int, workers: int) -> tuple[float, Any]:
    from django.db import connections

    from minzheng.synth.runner import run_seed

    connections.close_all()  # the seed's backend then starts from zero CPU (see backend_cpu)
    start = time.perf_counter()
    # reset=True as a user would run it: the (already empty) registry is truncated inside the
    # seed's transaction, which lets the loader use COPY FREEZE
    report = run_seed(scale=scale, seed=seed, reset=True, workers=workers, progress=sys.stderr.isatty(),
                      run_steps=False)
    return time.perf_counter() - start, report


def generate_streams(scale: float, seed: int, workers: int, directory: Path, *, binary: bool) -> tuple[dict[str, Any], int]:
    """The seed's rows again, untimed: one COPY file per table (PostgreSQL) or tuples (SQLite)."""
    from django.utils import timezone

    from minzheng.synth import load
    from minzheng.synth.encode import COPY_HEADER, COPY_TRAILER
    from minzheng.synth.plan import make_plan
    from minzheng.synth.runner import encoded_chunks

    plan = make_plan(load.division_infos(), scale=scale, seed=seed, first_id=1)
    specs = load.table_specs()
    out: dict[str, Any] = {}
    files: dict[str, Any] = {}
    if binary:
        for key in load.LOAD_ORDER:
            out[key] = directory / f"{key}.copy"
            files[key] = out[key].open("wb")
            files[key].write(COPY_HEADER)
    else:
        out = {key: [] for key in load.LOAD_ORDER}
    size = 0
    for chunk in encoded_chunks(plan, specs, binary_copy=binary, now=timezone.now(), workers=workers):
        for key in load.LOAD_ORDER:
            payload = chunk.payloads[key]
            if binary:
                body = payload[len(COPY_HEADER):-len(COPY_TRAILER)]  # one stream per table
                files[key].write(body)
                size += len(body)
            else:
                out[key].extend(payload)
    for f in files.values():
        f.write(COPY_TRAILER)
        f.close()
    return out, size


def create_anchor_tables() -> dict[str, str]:
    """Copies of the three tables with identical definitions; returns key → anchor table name."""
    from django.db import connection

    from minzheng.synth import load

    names = {key: ANCHOR_PREFIX + load.MODELS[key]._meta.db_table for key in load.LOAD_ORDER}
    originals = {load.MODELS[key]._meta.db_table: names[key] for key in load.LOAD_ORDER}
    drop_anchor_tables()
    with connection.cursor() as cursor:
        for key in load.LOAD_ORDER:
            cursor.execute(f"CREATE TABLE {names[key]} (LIKE {load.MODELS[key]._meta.db_table} INCLUDING ALL)")
        # LIKE copies indexes, unique constraints, checks and defaults but not foreign keys.
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2""",
            [list(originals)],
        )
        for table, name, definition in cursor.fetchall():
            for original, copy in originals.items():
                definition = definition.replace(f"REFERENCES {original}(", f"REFERENCES {copy}(")
            cursor.execute(f"ALTER TABLE {originals[table]} ADD CONSTRAINT {ANCHOR_PREFIX}{name[:40]} {definition}")
    return names


def drop_anchor_tables() -> None:
    from django.db import connection

    from minzheng.synth import load

    with connection.cursor() as cursor:
        for key in reversed(load.LOAD_ORDER):
            cursor.execute(f"DROP TABLE IF EXISTS {ANCHOR_PREFIX}{load.MODELS[key]._meta.db_table} CASCADE")


def timed_copy(files: dict[str, Path], *, rebuild: bool) -> tuple[float, float | None]:
    """COPY the files into fresh anchor tables in one transaction; with ``rebuild`` the secondary
    indexes and constraints are dropped first (untimed) and rebuilt inside the timing."""
    from django.db import connection, transaction

    from minzheng.synth import load

    names = create_anchor_tables()
    specs = load.table_specs()
    deferred = load.secondary_objects(list(names.values())) if rebuild else []
    with connection.cursor() as cursor:
        for d in deferred:
            cursor.execute(d.drop)
    payloads = {key: path.read_bytes() for key, path in files.items()}  # from memory, like the seed
    cpu = backend_cpu()
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # truncated in this transaction, like the seed's registry, so COPY FREEZE applies to both
        cursor.execute(f"TRUNCATE {', '.join(names.values())}")
        for key in load.LOAD_ORDER:
            load.copy_into(cursor, names[key], specs[key].columns, payloads[key], freeze=True)
        if rebuild:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")  # as the seed's loader
            for d in reversed(deferred):
                cursor.execute(d.create)
    elapsed = time.perf_counter() - start
    after = backend_cpu()
    drop_anchor_tables()
    return elapsed, None if cpu is None or after is None else after - cpu


def timed_sqlite_insert(rows: dict[str, list[tuple[Any, ...]]]) -> float:
    from django.db import connection, transaction

    from minzheng.synth import load
    from minzheng.synth.encode import EncodedChunk

    empty_registry()
    chunk = EncodedChunk(index=0, payloads=rows, rows={}, stats={})
    start = time.perf_counter()
    with transaction.atomic():
        load.SqliteLoader().write(chunk, load.table_specs())
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run_pg(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL (or use --sqlite)")
    ensure_pg_database(url)
    setup_django(url)
    scale = args.scale or 1.0
    runs = []
    for i in range(args.repeat):
        empty_registry()
        cpu = client_cpu()
        seed_s, report = timed_seed(scale, args.seed, args.workers)
        seed_cpu = {"client": client_cpu() - cpu, "server": backend_cpu()}
        with tempfile.TemporaryDirectory(prefix="minzheng-bench-") as tmp:
            files, size = generate_streams(scale, args.seed, args.workers, Path(tmp), binary=True)
            copy_s, copy_cpu = (None, None) if args.skip_indexed_anchor else timed_copy(files, rebuild=False)
            rebuild_s, rebuild_cpu = timed_copy(files, rebuild=True)
        best = min(s for s in (copy_s, rebuild_s) if s is not None)
        run = {
            "run": i + 1, "seed_s": round(seed_s, 2), "copy_s": None if copy_s is None else round(copy_s, 2),
            "copy_rebuild_s": round(rebuild_s, 2), "copy_mb": round(size / 1e6, 1),
            "ratio": None if copy_s is None else round(seed_s / copy_s, 2), "ratio_best": round(seed_s / best, 2),
            "phases": {k: round(v, 2) for k, v in report.timings.items()}, "loadavg": os.getloadavg()[0],
            # CPU seconds, which a busy shared machine distorts less than wall-clock time
            "seed_cpu_client_s": round(seed_cpu["client"], 1), "seed_cpu_server_s": _round(seed_cpu["server"]),
            "copy_cpu_server_s": _round(copy_cpu), "copy_rebuild_cpu_server_s": _round(rebuild_cpu),
        }
        print(json.dumps(run), file=sys.stderr)
        runs.append((run, report))
    if not args.keep:
        empty_registry()
    report = runs[-1][1]
    med = lambda key: None if runs[0][0][key] is None else round(statistics.median(r[key] for r, _ in runs), 2)  # noqa: E731
    return {
        "bench": "seed", "db": "postgresql", "scale": scale, "seed": args.seed, "workers": args.workers,
        "repeat": args.repeat, "persons": report.persons, "households": report.households, "phones": report.phones,
        "elders_80_local": report.elders_80_local, "seed_s": med("seed_s"), "copy_s": med("copy_s"),
        "copy_rebuild_s": med("copy_rebuild_s"), "ratio": med("ratio"), "ratio_best": med("ratio_best"),
        "goal_ratio": 2.0, "copy_mb": runs[-1][0]["copy_mb"],
        "seed_cpu_client_s": med("seed_cpu_client_s"), "seed_cpu_server_s": med("seed_cpu_server_s"),
        "copy_cpu_server_s": med("copy_cpu_server_s"), "copy_rebuild_cpu_server_s": med("copy_rebuild_cpu_server_s"),
    }


def run_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    scale = args.scale or 0.01
    with tempfile.TemporaryDirectory(prefix="minzheng-bench-sqlite-") as tmp:
        setup_django(f"sqlite:///{tmp}/bench.sqlite3")
        runs = []
        for i in range(args.repeat):
            empty_registry()
            seed_s, report = timed_seed(scale, args.seed, args.workers)
            rows, _ = generate_streams(scale, args.seed, args.workers, Path(tmp), binary=False)
            insert_s = timed_sqlite_insert(rows)
            run = {"run": i + 1, "seed_s": round(seed_s, 2), "insert_s": round(insert_s, 2),
                   "phases": {k: round(v, 2) for k, v in report.timings.items()}, "loadavg": os.getloadavg()[0]}
            print(json.dumps(run), file=sys.stderr)
            runs.append(run)
    seed_s = statistics.median(r["seed_s"] for r in runs)
    insert_s = statistics.median(r["insert_s"] for r in runs)
    return {
        "bench": "seed", "db": "sqlite", "scale": scale, "seed": args.seed, "workers": args.workers,
        "repeat": args.repeat, "persons": report.persons, "households": report.households,
        "elders_80_local": report.elders_80_local, "seed_s": round(seed_s, 2),
        "insert_s": round(insert_s, 2), "ratio": round(seed_s / insert_s, 2), "goal_s": 30.0,
        "within_goal": seed_s <= 30.0,
    }


def main() -> None:
    args = parse_args()
    result = run_sqlite(args) if args.sqlite else run_pg(args)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
