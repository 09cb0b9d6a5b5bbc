"""Periodic jobs of 智慧助餐. Plain functions: Celery beat (production) or the embedded scheduler
call them; `minzheng meals-nightly` runs them by hand. Each is idempotent for its day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from minzheng.meals.services.monitoring import absence_scan, flag_scan
from minzheng.meals.services.settlement import reconcile_day
from minzheng.meals.services.wallets import wallet_expire_all


def nightly(*, today: date | None = None) -> dict[str, Any]:
    """After midnight: reconcile and scan yesterday, expire wallets, look for absent regulars."""
    today = today or timezone.localdate()
    yesterday = today - timedelta(days=1)
    recs = reconcile_day(actor=None, day=yesterday)
    return {
        "reconciled_points": len(recs),
        "reconcile_problems": sum(not r.ok for r in recs),
        "flags": flag_scan(day=yesterday),
        "wallet_expired_fen": wallet_expire_all(today=today),
        "absence_signals": len(absence_scan(today=today)),
    }


def register_jobs() -> None:
    """For the embedded scheduler (core.scheduler): the nightly run once a day after 00:30."""
    from datetime import time

    from minzheng.core.scheduler import Job, register_job

    register_job(Job("meals.nightly", lambda now: nightly(today=timezone.localtime(now).date()), daily_at=time(0, 30)))
