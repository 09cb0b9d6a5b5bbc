"""``minzheng safety_tick``: the scheduler's tick (absence rules, offline devices, escalation,
daily baselines and scores, weekly at-risk list, raw-event purge).

    minzheng safety_tick                 # once, now
    minzheng safety_tick --loop          # the embedded default's scheduler, every 15 s
    minzheng safety_tick --now 2026-05-06T13:00:10+08:00   # once, at a given time (tests, replays)
"""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minzheng.core import context
from minzheng.safety.conf import safety_settings
from minzheng.safety.tasks import safety_tick, tick_scheduler


class Command(BaseCommand):
    help = "安居守护定时任务: 无活动等规则、设备离线、超时升级、每日基线与评分"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true", help="run forever (the embedded scheduler)")
        parser.add_argument("--interval", type=float, default=safety_settings().tick_seconds)
        parser.add_argument("--now", default="", help="ISO time to tick at (once)")
        parser.add_argument("--no-daily", action="store_true", help="skip the daily and weekly jobs")

    def handle(self, *args: Any, **o: Any) -> None:
        context.bind(context.RequestContext(request_id="safety-tick", ip=None, channel="task"))
        if o["loop"]:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            self.stdout.write(f"安居守护定时任务: 每 {o['interval']} 秒")
            tick_scheduler(o["interval"]).loop(stop)
            return
        now = None
        if o["now"]:
            try:
                now = datetime.fromisoformat(o["now"])
            except ValueError:
                raise CommandError("--now: ISO 8601 time with zone, e.g. 2026-05-06T13:00:00+08:00") from None
            if now.tzinfo is None:
                raise CommandError("--now needs a time zone")
        report = safety_tick(now, with_daily=not o["no_daily"])
        self.stdout.write(str(report))
