"""``minzheng simulate-homes``: synthetic sensor streams with injected ground-truth emergencies.

    minzheng simulate-homes --homes 50 --days 30 --warmup 28 --out file --path var/sim.jsonl
    minzheng simulate-homes --homes 20 --days 1 --out mqtt                 # registered homes, via Mosquitto
    minzheng simulate-homes --homes 20 --days 1 --out http --url http://127.0.0.1:8000 --keys var/keys.json
    minzheng evaluate-detection --truth var/sim.jsonl.truth.jsonl --events var/sim.jsonl

Streams to MQTT or HTTP use the homes registered in the database (their device serials and
gateways) and timestamps ending now (the platform refuses readings older than the retention
or from the future); ``--speed 60`` replays an hour per minute instead of as fast as possible.
The file output also writes the ground truth (``<path>.truth.jsonl``) and the away
registrations (外出报备) the scenario made.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from minzheng.safety import domain, simulation
from minzheng.safety.conf import safety_settings
from minzheng.safety.enums import DeviceStatus, HomeStatus, KitStatus
from minzheng.safety.models import Device, Home


def homes_from_db(n: int) -> list[simulation.SimHome]:
    homes = list(Home.objects.exclude(status=HomeStatus.INACTIVE).filter(kit__status=KitStatus.ACTIVE)
                 .prefetch_related("gateways").order_by("pk")[:n])
    devices: dict[int, dict[str, list[str]]] = {}
    for home_id, kind, serial in Device.objects.filter(home__in=homes, status=DeviceStatus.ACTIVE).order_by(
        "kind", "serial"
    ).values_list("home_id", "kind", "serial"):
        devices.setdefault(home_id, {}).setdefault(kind, []).append(serial)
    out = []
    for h in homes:
        gw = next(iter(h.gateways.all()), None)
        if gw is None or not devices.get(h.pk):
            continue
        out.append(simulation.SimHome(h.code, gw.code, h.lat or 30.42, h.lon or 120.3, devices[h.pk]))
    return out


class Command(BaseCommand):
    help = "生成模拟家庭传感器数据(含注入的真实紧急事件), 输出到文件、MQTT 或 HTTP"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--homes", type=int, default=10)
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--warmup", type=int, default=0, help="days of history before the evaluated days")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", choices=("file", "mqtt", "http"), default="file")
        parser.add_argument("--path", default="var/simulated.jsonl")
        parser.add_argument("--synthetic", action="store_true", help="synthetic homes even for mqtt/http")
        parser.add_argument("--host", default=safety_settings().mqtt_host)
        parser.add_argument("--port", type=int, default=safety_settings().mqtt_port)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--keys", default="", help="JSON file: gateway code → API key (http)")
        parser.add_argument("--speed", type=float, default=0.0, help="simulated seconds per real second (0: max)")

    def handle(self, *args: Any, **o: Any) -> None:
        total_days = o["warmup"] + o["days"]
        if o["out"] == "file" or o["synthetic"]:
            homes = simulation.synthetic_homes(o["homes"], seed=o["seed"])
        else:
            homes = homes_from_db(o["homes"])
            if not homes:
                raise CommandError("数据库中没有已安装设备的家庭: 先运行 minzheng seed, 或使用 --out file")
        today = domain.local_day(timezone.now().timestamp())
        tail = 1 if o["out"] == "file" else 0  # a file gets a quiet day after, so the last emergencies play out
        start_day = today - total_days - tail  # streams end now (the platform refuses readings from the future)
        eval_from = start_day + o["warmup"]
        eval_to = eval_from + o["days"]
        sims = [simulation.simulate_home(h, start_day=start_day, days=total_days + tail, eval_from_day=eval_from,
                                         eval_to_day=eval_to, seed=o["seed"]) for h in homes]
        now = timezone.now().timestamp()
        messages = [m for s in sims for m in s.messages if o["out"] == "file" or m["ts"] <= now + 60]
        messages.sort(key=lambda m: m["ts"])
        truth = [t for s in sims for t in s.truth]
        statuses = [st for s in sims for st in s.statuses]
        meta = {"kind": "meta", "start_day": start_day, "days": o["days"], "warmup": o["warmup"],
                "eval_from": domain.day_start(eval_from), "eval_to": domain.day_start(eval_to), "seed": o["seed"],
                "homes": [{"code": h.code, "gateway": h.gateway, "lat": h.lat, "lon": h.lon, "devices": h.devices}
                          for h in homes]}
        path = Path(o["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.truth.jsonl", "w", encoding="utf-8") as f:
            f.write(json.dumps(meta, ensure_ascii=False) + "\n")
            for t in truth:
                f.write(json.dumps(t.as_dict()) + "\n")
        if o["out"] == "file":
            with open(path, "w", encoding="utf-8") as f:
                for st in statuses:
                    f.write(json.dumps(st) + "\n")
                for m in messages:
                    f.write(json.dumps(m, separators=(",", ":")) + "\n")
            self.stdout.write(f"{len(messages)} readings of {len(homes)} homes → {path}; truth → {path}.truth.jsonl")
            return
        started = time.monotonic()
        sent = self._mqtt(messages, o) if o["out"] == "mqtt" else self._http(messages, o)
        took = time.monotonic() - started
        self.stdout.write(f"{sent} readings of {len(homes)} homes sent over {o['out']} in {took:.1f}s "
                          f"({sent / took:.0f}/s); truth → {path}.truth.jsonl")

    def _pace(self, first_ts: float, ts: float, started: float, speed: float) -> None:
        if speed > 0:
            wait = (ts - first_ts) / speed - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)

    def _mqtt(self, messages: list[dict[str, Any]], o: dict[str, Any]) -> int:
        from minzheng.safety.management.mqtt import GatewayPublisher

        pub = GatewayPublisher(host=o["host"], port=o["port"], client_id=f"simulator-{o['seed']}")
        pub.start()
        started = time.monotonic()
        first = messages[0]["ts"] if messages else 0.0
        for m in messages:
            self._pace(first, m["ts"], started, o["speed"])
            gw = m.pop("gw")
            pub.publish(gw, m)
        ok = pub.wait_all_acked(120)
        pub.stop()
        if not ok:
            self.stderr.write(f"{len(pub.pending)} readings were never acknowledged (is `minzheng ingest` running?)")
        return len(messages)

    def _http(self, messages: list[dict[str, Any]], o: dict[str, Any]) -> int:
        import urllib.request

        if not o["keys"]:
            raise CommandError("--out http 需要 --keys: 网关编号 → 接口密钥 的 JSON 文件")
        keys = json.loads(Path(o["keys"]).read_text(encoding="utf-8"))
        url = o["url"].rstrip("/") + "/api/v1/safety/ingest"
        started = time.monotonic()
        first = messages[0]["ts"] if messages else 0.0
        sent = 0
        for m in messages:
            self._pace(first, m["ts"], started, o["speed"])
            gw = m.pop("gw")
            if gw not in keys:
                continue
            req = urllib.request.Request(url, data=json.dumps([m]).encode(), method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json", "X-API-Key": keys[gw]})
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the operator's own URL
                resp.read()
            sent += 1
        return sent
