"""Monthly and yearly cross-district clearing over the seeded year (≈ 2.72 M meals at scale 1),
against the single SQL aggregate that computes the same totals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minzheng_meals_bench \\
      .venv/bin/python bench/meals_clearing.py --year 2023 --repeat 5

``clearing_compute`` is what a statement runs: the flows from the meal records (one GROUP BY) and
the ledger check (the ``due_from``/``due_to`` postings of the period). The anchor is the bare SQL
GROUP BY of the flows alone. Both must give the same totals; the goal is to stay within 2×.
One JSON line per period kind (median of ``--repeat`` runs), then a summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANCHOR_SQL = """
SELECT payer, canteen_region, count(*), sum(discount_fen + subsidy_fen)
  FROM meals_mealservice
 WHERE service_date >= %s AND service_date <= %s AND status = 'served' AND subsidised
   AND payer <> canteen_region AND (payer = '330110' OR canteen_region = '330110')
 GROUP BY 1, 2
"""


def months(year: int) -> list[tuple[date, date]]:
    out = []
    for m in range(1, 13):
        start = date(year, m, 1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        out.append((start, end))
    return out


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minzheng_meals_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.db import connection

    from minzheng.meals.models import MealService
    from minzheng.meals.services.settlement import clearing_compute

    def anchor(start: date, end: date) -> dict[tuple[str, str], int]:
        with connection.cursor() as cur:
            cur.execute(ANCHOR_SQL, [start, end])
            return {(p, q): int(s) for p, q, _n, s in cur.fetchall()}

    def ours(start: date, end: date) -> tuple[dict[tuple[str, str], int], bool]:
        flows, _check, agrees = clearing_compute(start=start, end=end)
        return {(f.payer, f.payee): f.benefit_fen for f in flows}, agrees

    meals = MealService.objects.filter(service_date__year=args.year).count()
    periods = {"month": months(args.year), "year": [(date(args.year, 1, 1), date(args.year, 12, 31))]}
    summary: dict[str, Any] = {"bench": "meals_clearing", "summary": "median", "meals": meals}
    for kind, spans in periods.items():
        ours_t: list[float] = []
        anchor_t: list[float] = []
        agrees_all = True
        same = True
        for _ in range(args.repeat):
            # alternate the order so neither side always runs on a warmer cache
            for start, end in spans:
                ta, a = timed(lambda s=start, e=end: anchor(s, e))
                to, (o, agrees) = timed(lambda s=start, e=end: ours(s, e))
                anchor_t.append(ta)
                ours_t.append(to)
                agrees_all &= agrees
                same &= a == o
        line = {
            "bench": "meals_clearing", "period": kind, "periods": len(spans), "meals": meals,
            "ours_ms": round(statistics.median(ours_t) * 1000, 1),
            "sql_ms": round(statistics.median(anchor_t) * 1000, 1),
            "ratio": round(statistics.median(ours_t) / statistics.median(anchor_t), 2),
            "same_totals": same, "ledger_agrees": agrees_all,
        }
        summary[f"{kind}_ratio"] = line["ratio"]
        print(json.dumps(line, ensure_ascii=False), flush=True)
    summary["goal"] = "ratio <= 2"
    summary["goal_met"] = summary["month_ratio"] <= 2 and summary["year_ratio"] <= 2
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
