"""Periodic jobs of 精准救助, for the embedded scheduler (core.scheduler) or Celery beat."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from minzheng.assistance.services.visits import visit_plan_generate


def monthly_visit_plan(now: datetime) -> int:
    """On the first of each month: a visit task for every enrolled person (idempotent)."""
    return visit_plan_generate(actor=None, month=timezone.localtime(now).date().replace(day=1))


def register_jobs() -> None:
    from minzheng.core.scheduler import Job, register_job

    register_job(Job("assistance.visit_plan", monthly_visit_plan, monthly=True))
