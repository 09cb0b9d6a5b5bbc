"""Prepare the meals benchmark database: the people registry (scale S, no other domain steps)
and a year of meal assistance at the meals scale M (1.0 = 116 points, 26,600 diners, 2.72 M meals).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minzheng_meals_bench \\
      .venv/bin/python bench/meals_seed.py --people-scale 1 --meals-scale 1

Creates the database if needed, migrates, seeds; prints one JSON line of figures and timings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people-scale", type=float, default=1.0)
    parser.add_argument("--meals-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-ledger", action="store_true")
    parser.add_argument("--ledger-only", action="store_true", help="(re)post the seeded year to the ledger")
    parser.add_argument("--year", type=int, default=2023)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minzheng_meals_bench")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    db = urlparse(url).path.lstrip("/")
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], capture_output=True, check=False)
    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    out: dict[str, object] = {"bench": "meals_seed", "database": db, "migrate_s": round(time.perf_counter() - t0, 1)}
    from minzheng.people.models import Person

    if not Person.objects.exists():
        from minzheng.synth.runner import run_seed

        t = time.perf_counter()
        report = run_seed(scale=args.people_scale, seed=args.seed, progress=False, run_steps=False)
        out["people"] = report.persons
        out["people_s"] = round(time.perf_counter() - t, 1)
    from minzheng.meals.seed import seed_ledger, seed_meals

    if args.ledger_only:
        t = time.perf_counter()
        out["ledger_posted"] = seed_ledger(year=args.year)
        out["ledger_s"] = round(time.perf_counter() - t, 1)
        print(json.dumps(out, ensure_ascii=False, default=str))
        return
    t = time.perf_counter()
    stats = seed_meals(scale=args.meals_scale, seed=args.seed, with_ledger=not args.no_ledger)
    out["meals_seed_s"] = round(time.perf_counter() - t, 1)
    out["meals"] = stats
    print(json.dumps(out, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
