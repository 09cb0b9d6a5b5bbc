"""A full-scale monthly payroll of 精准救助 end to end on PostgreSQL, against COPY of the same rows.

    .venv/bin/python bench/assistance_payroll.py [--scale 1.0] [--seed 1] [--repeat 3]
                                                 [--db postgres://postgres@127.0.0.1:5432/minzheng_bench_assistance]

Setup (untimed, kept between runs in its own database, created and migrated when missing): the
synthetic registry at ``--scale`` (``minzheng.synth``, ≈ 1.3 M residents at 1.0), then the
assistance population of the seed (≈ 3,000 低保 and 300 低边 households, 700 特困, 250 children at
1.0); closing the first month enrols the registry's 80-year-olds into 高龄津贴 (≈ 18,700). Each
repetition pays one more month, with that month's one-off 临时/专项 grants (≈ 17,000 at 1.0); past
today's month, the clock is moved into the month paid (``clock_in``).

Timed, per month, through the real services:

- ``freeze``: ``payroll_create`` + ``payroll_freeze`` — snapshot every payable enrolment, household
  and grant in one transaction, compute every line with the rules engine (vectorised), seal each
  line (HMAC-SM3), write the roll (COPY, streamed while the lines are sealed);
- ``approve``: ``payroll_approve`` by a second actor — every seal and every amount re-checked from
  the snapshots;
- ``pay``: ``payroll_pay`` — per township, every seal re-checked, one ledger transaction
  (idempotency key per roll and township) and the posting row that makes its lines paid, its
  one-off grants marked paid.

``total`` = freeze + approve + pay. Reported apart: ``close`` (the month's close, which runs the
高龄津贴 job) and ``bank_file`` (the Excel disbursement file).

Anchor: PostgreSQL's COPY of the same rows — each month's lines as COPY TO produced them, into a
table created ``LIKE assistance_payrollline INCLUDING ALL`` plus the same (deferred) foreign keys,
as bench/seed.py builds its anchor: BEGIN; COPY; COMMIT, timed right after that month's payroll
(``copy_s``); and once more without the foreign keys (``copy_nofk_s``). The ratio is taken per
month (the machine is shared; its load drifts over minutes), and its median reported.
Goal: total within 3× of COPY.
Prints one JSON line per month on stderr and the medians as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/minzheng_bench_assistance"
FIRST_MONTH = dt.date(2024, 1, 1)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="months paid (each with its own COPY anchor)")
    p.add_argument("--db", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    p.add_argument("--workers", type=int, default=2, help="registry generation workers (setup only)")
    return p.parse_args()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("MINZHENG_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(args: argparse.Namespace) -> dict[str, float]:
    """Registry and assistance population (untimed for the result, reported for information)."""
    from django.core.management import call_command

    from minzheng.assistance import seed as assistance_seed
    from minzheng.assistance.models import Enrolment
    from minzheng.people.models import Person

    timings: dict[str, float] = {}
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    timings["migrate_s"] = time.perf_counter() - t
    if not Person.objects.exists():
        from minzheng.synth.runner import run_seed

        t = time.perf_counter()
        run_seed(scale=args.scale, seed=args.seed, workers=args.workers, progress=False, run_steps=False)
        timings["registry_s"] = time.perf_counter() - t
    if not Enrolment.objects.exclude(program="longevity").exists():
        from django.db import transaction

        t = time.perf_counter()
        rng = random.Random(f"{args.seed}:assistance")
        with transaction.atomic():
            planned = assistance_seed._plan(rng, args.scale)
            for p in planned:  # everyone on the books before the benchmarked months
                p.start, p.leave = min(p.start, dt.date(2023, 12, 1)), None
            assistance_seed._write_enrolments(rng, planned)
            Enrolment.objects.update(covered_through=dt.date(2023, 12, 1))  # paid up to the benchmarked months
        timings["enrolments_s"] = time.perf_counter() - t
    return timings


def one_off_grants(month: dt.date, scale: float, seed: int) -> int:
    """The month's approved 临时/专项 grants (as the seed spreads them: ≈ 17,000 a month at 1.0)."""
    from django.db import transaction

    from minzheng.assistance import seed as s
    from minzheng.assistance.models import Application, Enrolment, Grant
    from minzheng.assistance.services import _common as c

    rng = random.Random(f"{seed}:bench:{month}")
    n = round(17_000 * scale)
    if Grant.objects.filter(pay_month=month).exists():
        return n  # an interrupted run made them already
    payees = list(Enrolment.objects.filter(program__in=["dibao", "tekun"]).order_by("id")
                  .values_list("person_id", "household_id", "division_id", "area_path"))
    apps, grants = [], []
    for _ in range(n):
        pid, hid, div, path = payees[rng.randrange(len(payees))]
        a_uid, g_uid = s._uid(rng), s._uid(rng)
        amount = rng.randrange(10_000, 120_000)
        apps.append(Application(uid=a_uid, program="medical", applicant_id=pid, household_id=hid, division_id=div,
                                area_path=path, township_code=c.township_code(path), status="approved",
                                requested_fen=amount, approved_amount_fen=amount, decided_on=month))
        sealed, masked, ref = c.seal_account("grant", g_uid, s._account(rng))
        grants.append((g_uid, a_uid, pid, amount, div, path, sealed, masked, ref))
    with transaction.atomic():
        Application.objects.bulk_create(apps, batch_size=5000)
        ids = dict(Application.objects.filter(uid__in=[a.uid for a in apps]).values_list("uid", "id"))
        Grant.objects.bulk_create((
            Grant(uid=g, application_id=ids[a], person_id=pid, program="medical", amount_fen=amount, approved_on=month,
                  pay_month=month, division_id=div, area_path=path, township_code=c.township_code(path),
                  bank_name="中国农业银行", bank_account_sealed=sealed, bank_account_masked=masked, bank_ref=ref)
            for g, a, pid, amount, div, path, sealed, masked, ref in grants), batch_size=5000)
    return n


def analyze() -> None:
    """VACUUM and fresh planner statistics, untimed: what autovacuum keeps on a production server
    (this machine's PostgreSQL runs with autovacuum off, so a table filled by the bench has no
    statistics, and the plans of the roll's queries fall back to guesses that turn index scans into
    scans of every line; and the dead rows of each month's paid grants would pile up for good)."""
    from django.apps import apps
    from django.db import connection

    tables = [m._meta.db_table for app in ("assistance", "ledger") for m in apps.get_app_config(app).get_models()]
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) " + ", ".join(connection.ops.quote_name(t) for t in tables))


@contextmanager
def clock_in(month: dt.date) -> Iterator[None]:
    """Each run pays further months, and a month can be closed only once it has come: for a month
    still to come, the clock runs from the 10th of it, as the tests travel (``time.perf_counter``,
    which times the phases, is left alone)."""
    from django.utils import timezone

    if month <= timezone.localdate():
        yield
        return
    import time_machine

    with time_machine.travel(dt.datetime(month.year, month.month, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


def pay_month(month: dt.date, scale: float, seed: int) -> dict[str, Any]:
    from minzheng.assistance import seed as s
    from minzheng.assistance.services import payroll

    rng = random.Random(f"{seed}:bench-accounts:{month}")
    one_off_grants(month, scale, seed)
    analyze()
    t = time.perf_counter()
    payroll.period_close(actor=s.MAKER, month=month)
    close = time.perf_counter() - t
    s._accounts_for_new_longevity(rng)  # 社保卡 accounts for the newly enrolled (data sharing; untimed)
    payroll.fund_allocate(actor=s.MAKER, amount_fen=10**11, key=f"bench:{month}")
    t0 = time.perf_counter()
    roll = payroll.payroll_freeze(actor=s.MAKER, roll=payroll.payroll_create(actor=s.MAKER, month=month))
    t1 = time.perf_counter()
    roll = payroll.payroll_approve(actor=s.CHECKER, roll=roll)
    t2 = time.perf_counter()
    payroll.payroll_bank_file(actor=s.MAKER, roll=roll)
    t3 = time.perf_counter()
    roll = payroll.payroll_pay(actor=s.MAKER, roll=roll)
    t4 = time.perf_counter()
    if roll.status != "paid":
        raise SystemExit(f"roll {roll.pk} ended {roll.status}")
    return {"month": month.isoformat()[:7], "rows": roll.line_count, "held": roll.held_count, "total_fen": roll.total_fen,
            "close_s": close, "freeze_s": t1 - t0, "approve_s": t2 - t1, "bank_file_s": t3 - t2, "pay_s": t4 - t3,
            "total_s": (t1 - t0) + (t2 - t1) + (t4 - t3), "roll": roll.pk}


def copy_anchor(roll_pk: int, repeat: int) -> tuple[dict[str, list[float]], int]:
    """COPY the roll's own rows into same-shaped tables, ``repeat`` times each: ``copy`` has the same
    columns, defaults, checks, indexes and foreign keys (deferred, checked at COMMIT, as Django
    declares them: the project's convention, see bench/seed.py); ``copy_nofk`` leaves the foreign keys out."""
    from django.db import connection

    from minzheng.assistance.models import PayrollLine

    table = PayrollLine._meta.db_table
    cols = ", ".join(f.column for f in PayrollLine._meta.concrete_fields if not f.primary_key)
    with connection.cursor() as cur:
        buf = io.BytesIO()
        with cur.cursor.copy(f"COPY (SELECT {cols} FROM {table} WHERE roll_id = {int(roll_pk)}) TO STDIN") as out:
            for chunk in out:
                buf.write(chunk)
        payload = buf.getvalue()
        rows = payload.count(b"\n")
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
                    "AND conrelid = %s::regclass ORDER BY 1", [table])
        fks = cur.fetchall()
    times: dict[str, list[float]] = {"copy": [], "copy_nofk": []}
    for variant in ("copy", "copy_nofk"):
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_payrollline_anchor")
            cur.execute(f"CREATE TABLE bench_payrollline_anchor (LIKE {table} INCLUDING ALL)")
            if variant == "copy":
                for name, definition in fks:
                    cur.execute(f"ALTER TABLE bench_payrollline_anchor ADD CONSTRAINT anchor_{name[:40]} {definition}")
        for _ in range(repeat):
            with connection.cursor() as cur:
                cur.execute("TRUNCATE bench_payrollline_anchor")
            t = time.perf_counter()
            with connection.cursor() as cur:
                cur.execute("BEGIN")
                with cur.cursor.copy(f"COPY bench_payrollline_anchor ({cols}) FROM STDIN") as copy:
                    copy.write(payload)
                cur.execute("COMMIT")
            times[variant].append(time.perf_counter() - t)
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_payrollline_anchor")
    return times, rows


def main() -> None:
    args = parse_args()
    ensure_database(args.db)
    setup_django(args.db)
    from django.db import connection

    from minzheng.assistance.models import PayrollRoll

    setup = prepare(args)
    last = PayrollRoll.objects.exclude(status="cancelled").order_by("-month").first()
    month = FIRST_MONTH if last is None else (last.month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    months = []
    for _ in range(args.repeat):
        with clock_in(month):
            result = pay_month(month, args.scale, args.seed)
        connection.close()
        # the anchor right after the month it is compared with: the machine is shared, and its load
        # drifts over minutes; the ratio is taken per month, then the median
        copies, result["rows_anchor"] = copy_anchor(result["roll"], 1)
        result["copy_s"], result["copy_nofk_s"] = copies["copy"][0], copies["copy_nofk"][0]
        result["ratio"] = result["total_s"] / result["copy_s"]
        result["ratio_nofk"] = result["total_s"] / result["copy_nofk_s"]
        print(json.dumps(result, ensure_ascii=False), file=sys.stderr)
        months.append(result)
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    med = {k: statistics.median(m[k] for m in months) for k in (
        "freeze_s", "approve_s", "pay_s", "total_s", "close_s", "bank_file_s", "rows", "rows_anchor", "copy_s",
        "copy_nofk_s", "ratio", "ratio_nofk")}
    print(json.dumps({
        "bench": "assistance_payroll", "scale": args.scale, "months": len(months), "rows": int(med["rows"]),
        "rows_anchor": int(med["rows_anchor"]), "freeze_s": round(med["freeze_s"], 3),
        "approve_s": round(med["approve_s"], 3), "pay_s": round(med["pay_s"], 3), "total_s": round(med["total_s"], 3),
        "copy_s": round(med["copy_s"], 3), "ratio": round(med["ratio"], 2), "goal_ratio": 3.0,
        "copy_nofk_s": round(med["copy_nofk_s"], 3), "ratio_nofk": round(med["ratio_nofk"], 2),
        "close_s": round(med["close_s"], 3), "bank_file_s": round(med["bank_file_s"], 3),
        "rows_per_s": round(med["rows"] / med["total_s"]), "setup": {k: round(v, 1) for k, v in setup.items()},
        "per_month_total_s": [round(m["total_s"], 3) for m in months],
        "per_month_ratio": [round(m["ratio"], 2) for m in months],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
