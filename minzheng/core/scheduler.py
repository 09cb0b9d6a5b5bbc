"""The periodic jobs (DESIGN §2). Domains register plain job functions with a schedule; two
runners read the same registry, and nothing may depend on which one runs:

* the embedded default: ``minzheng scheduler`` (which ``minzheng serve`` starts beside the web
  server) runs ``Scheduler.tick`` every second, in one process;
* production: Celery beat (``config/celery.py``) turns the registry into its ``beat_schedule`` and
  workers run the jobs through one task, ``minzheng.run_job``.

A job runs *every* N seconds, *daily* from a local time on, or *monthly* from the first day on.
Daily and monthly jobs must be idempotent for their period: the embedded scheduler remembers
periods in memory only (a restart runs the current period once more), and beat runs a monthly
job every day (so a month whose first day the workers missed is caught up the next day).
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
    daily_at: time | None = None  # local time
    monthly: bool = False

    def __post_init__(self) -> None:
        if sum((self.every_seconds is not None, self.daily_at is not None, self.monthly)) != 1:
            raise ValueError(f"job {self.name}: give exactly one of every_seconds, daily_at, monthly")

    def period(self, local: datetime) -> str | None:
        """The period due at local time ``local`` (None before today's run time; interval jobs have none)."""
        if self.daily_at is not None:
            return local.date().isoformat() if local.time() >= self.daily_at else None
        if self.monthly:
            return f"{local.year:04d}-{local.month:02d}"
        return None


_jobs: dict[str, Job] = {}


def register_job(job: Job) -> None:
    _jobs[job.name] = job


def jobs() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: j.name)


def run_job(name: str, now: datetime | None = None) -> None:
    """Run one registered job now (what Celery's ``minzheng.run_job`` task does)."""
    _jobs[name].run(now or timezone.now())


class Scheduler:
    """The embedded runner: each ``tick(now)`` runs what is due; one job's failure is logged and
    does not stop the rest. A failed daily or monthly job is tried again ``RETRY_SECONDS`` later."""

    RETRY_SECONDS = 60

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
            else:
                name, last = job.period(local), self._last_run.get(job.name)
                if name is not None and self._last_period.get(job.name) != name and (
                        last is None or (now - last).total_seconds() >= self.RETRY_SECONDS):
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
                self._last_period[job.name] = job.period(timezone.localtime(now)) or ""
            finally:
                self._last_run[job.name] = now
                self.between()
        return ran

    def loop(self, stop: threading.Event, resolution: float = 1.0, alive: Callable[[], bool] | None = None) -> None:
        """Until ``stop`` is set, or ``alive()`` says the process that started it is gone."""
        while not stop.is_set() and (alive is None or alive()):
            self.tick()
            stop.wait(resolution)
