"""Celery for production (DESIGN §2): workers run the periodic jobs the domains register in
``minzheng.core.scheduler`` through one task, and beat's schedule is made from the same registry.
The embedded default needs none of this (``minzheng scheduler``); nothing depends on which runs.

    MINZHENG_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A config worker
    MINZHENG_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A config beat
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import django
from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()  # the registry is filled by the apps' ready()

from minzheng.core import context  # noqa: E402
from minzheng.core.scheduler import Job, jobs, run_job  # noqa: E402

app = Celery("minzheng")
app.config_from_object("django.conf:settings", namespace="CELERY")

MONTHLY_AT = (0, 5)  # beat runs a monthly job every day at 00:05: idempotent, so a missed 1st is caught up


def schedule_of(job: Job) -> Any:
    if job.every_seconds is not None:
        return timedelta(seconds=job.every_seconds)
    if job.daily_at is not None:
        return crontab(hour=job.daily_at.hour, minute=job.daily_at.minute)
    return crontab(hour=MONTHLY_AT[0], minute=MONTHLY_AT[1])


@app.task(name="minzheng.run_job")
def run_job_task(name: str) -> None:
    context.bind(context.RequestContext(request_id=f"job:{name}"[:32], ip=None, channel="task"))
    run_job(name)


app.conf.beat_schedule = {
    job.name: {"task": "minzheng.run_job", "schedule": schedule_of(job), "args": (job.name,),
               # a tick that could not run in its interval is worthless later: let it expire
               "options": {"expires": job.every_seconds} if job.every_seconds else {}}
    for job in jobs()
}
