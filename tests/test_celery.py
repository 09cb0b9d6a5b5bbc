"""Production's job runner (config/celery.py): beat's schedule is the registry's, and a worker
runs a registered job through the one task, over Redis."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta

from celery.schedules import crontab

from minzheng.core import scheduler
from minzheng.core.scheduler import Job


def test_beat_runs_every_registered_job_on_its_schedule():
    from config.celery import app

    beat = app.conf.beat_schedule
    assert set(beat) == {job.name for job in scheduler.jobs()}
    assert beat["safety.tick"]["schedule"] == timedelta(seconds=15)
    assert beat["meals.nightly"]["schedule"] == crontab(hour=0, minute=30)
    assert beat["assistance.visit_plan"]["schedule"] == crontab(hour=0, minute=5)  # daily: a missed 1st is caught up
    assert all(entry["task"] == "minzheng.run_job" and entry["args"] == (name,) for name, entry in beat.items())
    assert app.conf.timezone == "Asia/Shanghai"


def test_a_worker_runs_a_registered_job_sent_over_redis(require_redis):
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    done = threading.Event()
    seen: list[datetime] = []

    def ping(now: datetime) -> None:
        seen.append(now)
        done.set()

    scheduler.register_job(Job("test.ping", ping, daily_at=time(0, 0)))
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=require_redis, task_always_eager=False)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
            app.send_task("minzheng.run_job", args=["test.ping"])
            assert done.wait(20), "the worker did not run the job"
    finally:
        app.conf.update(saved)
        scheduler._jobs.pop("test.ping", None)
    assert len(seen) == 1 and seen[0].tzinfo is not None
