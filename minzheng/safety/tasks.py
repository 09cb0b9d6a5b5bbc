"""The scheduler's work: ``safety_tick(now)`` runs every few seconds (Celery beat in production,
``minzheng scheduler`` in the embedded default, ``minzheng safety_tick --loop`` alone). Everything
it acts on is a persisted deadline (a home's next check, a device's offline time, an incident's
time limit, a status's end), so a restarted scheduler picks up exactly where the last one
stopped, late rather than never.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from minzheng.core.scheduler import Job, Scheduler, register_job
from minzheng.safety.models import JobRun
from minzheng.safety.services.devices import devices_mark_offline, expire_home_statuses
from minzheng.safety.services.early_warning import (
    baseline_refresh,
    daily_scores_compute,
    weekly_risk_compute,
)
from minzheng.safety.services.incidents import incidents_escalate_due
from minzheng.safety.services.ingest import homes_evaluate_due, raw_event_purge

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    at: datetime
    statuses_expired: int = 0
    homes_evaluated: int = 0
    alarm_changes: int = 0
    devices_offline: int = 0
    escalated: int = 0
    notices: int = 0
    jobs: list[str] = field(default_factory=list)


def _once(name: str, key: str, now: datetime) -> bool:
    """True the first time (name, key) is seen: a daily job runs once per day across restarts."""
    with transaction.atomic():
        run, created = JobRun.objects.select_for_update().get_or_create(
            name=name, defaults={"last_key": key, "ran_at": now})
        if created:
            return True
        if run.last_key == key:
            return False
        run.last_key, run.ran_at = key, now
        run.save(update_fields=["last_key", "ran_at"])
        return True


def daily_jobs(now: datetime) -> list[str]:
    """After local midnight: purge raw events, refresh baselines, score yesterday; on Mondays the
    weekly at-risk list."""
    local = timezone.localtime(now)
    ran: list[str] = []
    today = local.date()
    if _once("daily", today.isoformat(), now):
        purged = raw_event_purge(now=now)
        refreshed = baseline_refresh(now=now)
        scored = daily_scores_compute(day=today - timedelta(days=1), now=now)
        ran.append(f"daily: purged {purged}, baselines {refreshed}, scores {scored}")
    monday = today - timedelta(days=today.weekday())
    if _once("weekly", monday.isoformat(), now):
        ran.append(f"weekly: at-risk {weekly_risk_compute(week_start=monday, now=now)}")
    return ran


def safety_tick(now: datetime | None = None, *, with_daily: bool = True) -> TickReport:
    now = now or timezone.now()
    report = TickReport(at=now)
    report.statuses_expired = expire_home_statuses(now=now)
    report.homes_evaluated, report.alarm_changes = homes_evaluate_due(now=now)
    report.devices_offline = devices_mark_offline(now=now)
    esc = incidents_escalate_due(now=now)
    report.escalated, report.notices = esc.escalated, esc.notices
    if with_daily:
        report.jobs = daily_jobs(now)
    return report


def tick_job(now: datetime) -> TickReport:
    """``safety_tick`` as the scheduler runs it (core.scheduler), logging a tick that changed something."""
    report = safety_tick(now)
    if report.alarm_changes or report.escalated or report.devices_offline or report.jobs:
        log.info("safety tick: %s", report)
    return report


def tick_scheduler(interval: float) -> Scheduler:
    """A scheduler with the tick alone (``minzheng safety_tick --loop``)."""
    return Scheduler([Job("safety.tick", tick_job, every_seconds=interval)])


def register_jobs() -> None:
    """For the embedded scheduler (core.scheduler): the tick, every ``tick_seconds``."""
    from minzheng.safety.conf import safety_settings

    register_job(Job("safety.tick", tick_job, every_seconds=safety_settings().tick_seconds))
