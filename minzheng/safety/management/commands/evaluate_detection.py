"""``minzheng evaluate-detection``: sensitivity, detection delay and false alarms per home-day of
the alarm rules against the ground truth of ``simulate-homes``.

    minzheng evaluate-detection --truth var/sim.jsonl.truth.jsonl --events var/sim.jsonl   # replay offline
    minzheng evaluate-detection --truth var/sim.jsonl.truth.jsonl --db     # the alarms in the database

Offline, the stream is replayed through the production rules (the parameters in force, from
the database) exactly as the services apply them, with a scheduler ticking every 15 s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minzheng.safety import domain, simulation
from minzheng.safety.models import Alarm
from minzheng.safety.services import current_rules


def load_truth(path: Path) -> tuple[dict[str, Any], list[simulation.Truth]]:
    meta: dict[str, Any] = {}
    truth = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("kind") == "meta":
                meta = row
            else:
                truth.append(simulation.Truth(**row))
    if not meta:
        raise CommandError("truth file has no meta line (made by simulate-homes?)")
    return meta, truth


class Command(BaseCommand):
    help = "按真实注入事件评估告警规则: 检出率、检出延迟、每户每日误报"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--truth", required=True)
        parser.add_argument("--events", default="", help="replay this stream offline through the rules")
        parser.add_argument("--db", action="store_true", help="use the alarms stored in the database")
        parser.add_argument("--json", action="store_true", help="print one JSON line")

    def handle(self, *args: Any, **o: Any) -> None:
        meta, truth = load_truth(Path(o["truth"]))
        homes = [simulation.SimHome(h["code"], h["gateway"], h["lat"], h["lon"], h["devices"]) for h in meta["homes"]]
        if o["events"]:
            alarms = self._replay(homes, Path(o["events"]))
        elif o["db"]:
            alarms = [simulation.AlarmRecord(code, t, raised.timestamp(), first.timestamp())
                      for code, t, raised, first in Alarm.objects.filter(home__code__in=[h.code for h in homes])
                      .values_list("home__code", "alarm_type", "raised_at", "first_seen_at")]
        else:
            raise CommandError("give --events FILE (offline replay) or --db")
        result = simulation.evaluate(truth, alarms, home_days=len(homes) * meta["days"], eval_from=meta["eval_from"],
                                     eval_to=meta.get("eval_to"))
        if o["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        self.stdout.write(f"homes {len(homes)}, evaluated home-days {result['home_days']}")
        for kind, r in result["kinds"].items():
            self.stdout.write(f"  {kind:15s} injected {r['injected']:5d}  detected {r['detected']:5d}  "
                              f"sensitivity {r['sensitivity']}  delay median {r['delay_median_min']} min, "
                              f"p90 {r['delay_p90_min']} min")
        fa = result["false_alarms"]
        self.stdout.write(f"  false alarms    {fa['total']} ({fa['per_home_day']} per home-day; inactivity class "
                          f"{fa['inactivity_class_per_home_day']}) {fa['by_type']}")

    def _replay(self, homes: list[simulation.SimHome], events: Path) -> list[simulation.AlarmRecord]:
        params = domain.RuleParams.build(current_rules())
        home_of = {s: h.code for h in homes for ss in h.devices.values() for s in ss}
        by_home: dict[str, list[dict[str, Any]]] = defaultdict(list)
        statuses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with open(events, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("kind") == "status":
                    statuses[row["home"]].append(row)
                elif row.get("device") in home_of:
                    by_home[home_of[row["device"]]].append(row)
        alarms: list[simulation.AlarmRecord] = []
        for h in homes:
            got, _ = simulation.replay_home(h, sorted(by_home[h.code], key=lambda m: m["ts"]), statuses[h.code], params)
            alarms += got
        return alarms
