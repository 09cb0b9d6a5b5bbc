"""``minzheng scheduler``: the embedded default's periodic jobs (core.scheduler), in one process.

    minzheng scheduler           # run until SIGINT/SIGTERM (``minzheng serve`` starts it)
    minzheng scheduler --once    # run what is due now, then exit
    minzheng scheduler --list    # the registered jobs
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from minzheng.core import context
from minzheng.core.scheduler import Scheduler, jobs


class Command(BaseCommand):
    help = "定时任务: 安居守护巡检、助餐日结、每月探访计划等"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
        parser.add_argument("--list", action="store_true", help="list the registered jobs")
        parser.add_argument("--parent", type=int, default=0, help="stop when this process is gone (minzheng serve)")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["list"]:
            for job in jobs():
                when = (f"每 {job.every_seconds:g} 秒" if job.every_seconds is not None
                        else f"每天 {job.daily_at:%H:%M} 后" if job.daily_at is not None else "每月1日起")
                self.stdout.write(f"{job.name}\t{when}")
            return
        context.bind(context.RequestContext(request_id="scheduler", ip=None, channel="task"))
        if o["once"]:  # a one-shot process: no long-lived connection to look after
            self.stdout.write("ran: " + ", ".join(Scheduler(between=lambda: None).tick()))
            return
        scheduler = Scheduler()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"定时任务已启动: {', '.join(j.name for j in scheduler.jobs)}")
        scheduler.loop(stop, alive=(lambda: os.getppid() == o["parent"]) if o["parent"] else None)
