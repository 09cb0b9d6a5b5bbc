"""安居守护 detection: the alarm rules against injected ground truth, 1,000 homes × 30 days.

    .venv/bin/python bench/safety_detect.py [--homes 1000] [--days 30] [--warmup 28] [--repeat 3]
                                            [--workers 2] [--seed 1]

Each repetition simulates ``--homes`` homes (``minzheng.safety.simulation``: daily routines with
naps, outings and night trips, PIR false triggers and blind time, sensor failures, visits away
(60 % registered), and injected emergencies in the evaluated days: falls (sudden inactivity),
night wandering, SOS presses, water leaks) for ``--warmup`` days of history plus ``--days``
evaluated days, and replays every stream through the production rules exactly as the services
apply them (``simulation.replay_home``: each reading folded in, the absence rules at every
persisted due time with a 15-second scheduler, thresholds relearned each midnight, operators
resolving SOS after 30 minutes).

The anchor, on the same streams in the same run: the fixed rule of the deployed kits (临安: PIR
alarm after 4 h without activity within waking hours; no personal baseline), i.e. the same
engine with learning switched off.

Goals (issue 3): 100 % of SOS; ≥ 95 % of injected inactivity emergencies (falls) with median
delay < 2 h; ≤ 0.02 false alarms per home-day (published methods: 0.09, Wilhelm & Wahl 2024).
Prints one JSON line (medians over ``--repeat`` seeds); per-run details on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minzheng.safety import domain, simulation


def _chunk(job: tuple[list[simulation.SimHome], int, int, int, int]) -> dict[str, Any]:
    homes, start_day, days, warmup, seed = job
    learned = domain.RuleParams()
    fixed = replace(learned, learn_min_days=10_000)  # never learns: the fixed 4 h waking-hours rule
    truth: list[simulation.Truth] = []
    alarms: dict[str, list[simulation.AlarmRecord]] = {"learned": [], "fixed": []}
    n = 0
    for h in homes:
        # one more day after the evaluated ones, without emergencies: the last ones can play out
        sim = simulation.simulate_home(h, start_day=start_day, days=warmup + days + 1,
                                       eval_from_day=start_day + warmup, eval_to_day=start_day + warmup + days,
                                       seed=seed)
        truth += sim.truth
        n += len(sim.messages)
        for name, params in (("learned", learned), ("fixed", fixed)):
            got, _ = simulation.replay_home(h, sim.messages, sim.statuses, params)
            alarms[name] += [a for a in got if a.at >= domain.day_start(start_day + warmup)]
    return {"truth": truth, "alarms": alarms, "messages": n}


def _run(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    homes = simulation.synthetic_homes(args.homes, seed=seed)
    start_day = domain.local_day(time.time()) - args.warmup - args.days - 1
    size = max(1, len(homes) // (args.workers * 8))
    jobs = [(homes[i:i + size], start_day, args.days, args.warmup, seed) for i in range(0, len(homes), size)]
    t0 = time.perf_counter()
    truth: list[simulation.Truth] = []
    alarms: dict[str, list[simulation.AlarmRecord]] = {"learned": [], "fixed": []}
    messages = 0
    with ProcessPoolExecutor(args.workers) as pool:
        for part in pool.map(_chunk, jobs):
            truth += part["truth"]
            messages += part["messages"]
            for k in alarms:
                alarms[k] += part["alarms"][k]
    took = time.perf_counter() - t0
    eval_from = domain.day_start(start_day + args.warmup)
    eval_to = domain.day_start(start_day + args.warmup + args.days)
    home_days = len(homes) * args.days
    out: dict[str, Any] = {"seed": seed, "messages": messages, "seconds": round(took, 1)}
    for name, got in alarms.items():
        out[name] = simulation.evaluate(truth, got, home_days=home_days, eval_from=eval_from, eval_to=eval_to)
    return out


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    k = r["kinds"]
    return {
        "sos_sensitivity": k["sos"]["sensitivity"],
        "fall_sensitivity": k["fall"]["sensitivity"],
        "fall_delay_median_min": k["fall"]["delay_median_min"],
        "fall_delay_p90_min": k["fall"]["delay_p90_min"],
        "wander_sensitivity": k["wander"]["sensitivity"],
        "water_leak_sensitivity": k["water_leak"]["sensitivity"],
        "sensor_failure_sensitivity": k["sensor_failure"]["sensitivity"],
        "false_alarms_per_home_day": r["false_alarms"]["per_home_day"],
        "inactivity_class_fa_per_home_day": r["false_alarms"]["inactivity_class_per_home_day"],
        "injected": {kind: v["injected"] for kind, v in k.items()},
        "sos_lost_to_dead_buttons": r["sos_lost"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--homes", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=28)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    runs = []
    for i in range(args.repeat):
        r = _run(args, args.seed + i)
        figures = {"seed": r["seed"], "seconds": r["seconds"], "messages": r["messages"],
                   "learned": _figures(r["learned"]), "fixed_anchor": _figures(r["fixed"]),
                   "false_alarms_by_type": r["learned"]["false_alarms"]["by_type"]}
        runs.append(figures)
        print(json.dumps(figures, ensure_ascii=False), file=sys.stderr, flush=True)

    def med(variant: str, key: str) -> Any:
        values = [r[variant][key] for r in runs if r[variant][key] is not None]
        return round(statistics.median(values), 5) if values else None

    keys = ["sos_sensitivity", "fall_sensitivity", "fall_delay_median_min", "fall_delay_p90_min",
            "wander_sensitivity", "water_leak_sensitivity", "sensor_failure_sensitivity",
            "false_alarms_per_home_day", "inactivity_class_fa_per_home_day"]
    result = {
        "bench": "safety_detect", "homes": args.homes, "days": args.days, "warmup": args.warmup,
        "repeat": args.repeat, "home_days": args.homes * args.days,
        "learned": {k: med("learned", k) for k in keys},
        "fixed_anchor": {k: med("fixed_anchor", k) for k in keys},
        "goals": {"sos_sensitivity": 1.0, "fall_sensitivity": 0.95, "fall_delay_median_min": 120,
                  "false_alarms_per_home_day": 0.02},
    }
    lr = result["learned"]
    result["goals_met"] = bool(
        lr["sos_sensitivity"] == 1.0 and (lr["fall_sensitivity"] or 0) >= 0.95
        and (lr["fall_delay_median_min"] or 1e9) < 120 and (lr["false_alarms_per_home_day"] or 1) <= 0.02
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
