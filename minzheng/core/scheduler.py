"""The embedded default's scheduler (DESIGN §2): the periodic jobs domains register, run in one
process by ``minzheng scheduler`` (which ``minzheng serve`` starts beside the web server).
Production runs the same job functions from Celery beat; nothing may depend on which.

A job is either *every* N seconds, or *once per period*: ``period(local_now)`` names the period
that is due (a day, a month), or None before it is; the job runs when that name changes. Periods
are remembered in memory only, so every job function must be idempotent for its period (a
restarted scheduler runs the current period once more, which must change nothing).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time

from django.db import close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], object]  # called with the (aware) time of the run
    every_seconds: float | None = None
    period: Callable[[datetime], str | None] | None = None  # local time → due period's name


def daily_after(at: time) -> Callable[[datetime], str | None]:
    """Once a day, from local ``at`` on: the period is the local date."""
    return lambda local: local.date().isoformat() if local.time() >= at else None


def monthly() -> Callable[[datetime], str]:
    """Once a month, from its first day on."""
    return lambda local: f"{local.year:04d}-{local.month:02d}"


_jobs: dict[str, Job] = {}


def register_job(job: Job) -> None:
    if (job.every_seconds is None) == (job.period is None):
        raise ValueError(f"job {job.name}: give exactly one of every_seconds and period")
    _jobs[job.name] = job


def jobs() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


class Scheduler:
    """Runs what is due at each ``tick(now)``; one job's failure is logged and does not stop the rest."""

    def __init__(self, registered: list[Job] | None = None,
                 between: Callable[[], None] = close_old_connections) -> None:
        self.jobs = registered if registered is not None else jobs()
        self.between = between  # connection hygiene around each job (a long-lived process)
        self._last_run: dict[str, datetime] = {}
        self._last_period: dict[str, str] = {}

    def due(self, now: datetime) -> list[Job]:
        local = timezone.localtime(now)
        out = []
        for job in self.jobs:
            if job.every_seconds is not None:
                last = self._last_run.get(job.name)
                if last is None or (now - last).total_seconds() >= job.every_seconds:
                    out.append(job)
            elif job.period is not None:
                name = job.period(local)
                if name is not None and self._last_period.get(job.name) != name:
                    out.append(job)
        return out

    def tick(self, now: datetime | None = None) -> list[str]:
        now = now or timezone.now()
        ran = []
        for job in self.due(now):
            self.between()
            try:
                job.run(now)
            except Exception:
                log.exception("scheduled job %s failed; it runs again when next due", job.name)
            else:
                ran.append(job.name)
                if job.period is not None:
                    self._last_period[job.name] = job.period(timezone.localtime(now)) or ""
            finally:
                self._last_run[job.name] = now  # a failing job waits its interval, not a busy loop
                self.between()
        return ran

    def loop(self, stop: threading.Event, resolution: float = 1.0, alive: Callable[[], bool] | None = None) -> None:
        """Until ``stop`` is set, or ``alive()`` says the process that started it is gone."""
        while not stop.is_set() and (alive is None or alive()):
            self.tick()
            stop.wait(resolution)
