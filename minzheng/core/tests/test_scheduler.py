"""The embedded scheduler (core.scheduler): interval and once-per-period jobs, failures isolated."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import time_machine
from django.core.management import call_command

from minzheng.core.scheduler import Job, Scheduler, jobs


def nothing() -> None:
    pass


T0 = datetime(2026, 3, 31, 16, 10, tzinfo=UTC)  # 00:10 on 1 April in Shanghai


def test_an_interval_job_runs_at_once_then_each_interval():
    calls: list[datetime] = []
    s = Scheduler([Job("tick", calls.append, every_seconds=15)], between=nothing)
    assert s.tick(T0) == ["tick"]
    assert s.tick(T0 + timedelta(seconds=14)) == []
    assert s.tick(T0 + timedelta(seconds=15)) == ["tick"]
    assert calls == [T0, T0 + timedelta(seconds=15)]


def test_a_daily_job_waits_for_its_hour_and_runs_once_a_local_day():
    calls: list[datetime] = []
    s = Scheduler([Job("nightly", calls.append, daily_at=time(0, 30))], between=nothing)
    assert s.tick(T0) == []  # 00:10 local: not yet
    assert s.tick(T0 + timedelta(minutes=21)) == ["nightly"]  # 00:31
    assert s.tick(T0 + timedelta(hours=12)) == []  # the same local day
    assert s.tick(T0 + timedelta(days=1, minutes=21)) == ["nightly"]


def test_a_monthly_job_runs_once_a_local_month():
    calls: list[datetime] = []
    s = Scheduler([Job("plan", calls.append, monthly=True)], between=nothing)
    before = T0 - timedelta(hours=1)  # 23:10 on 31 March in Shanghai (15:10 UTC)
    assert s.tick(before) == ["plan"]
    assert s.tick(T0) == ["plan"]  # April began in Shanghai, though not yet in UTC
    assert s.tick(T0 + timedelta(days=20)) == []


def test_a_failing_job_does_not_stop_the_others_and_runs_again_when_next_due(caplog):
    calls: list[str] = []

    def broken(now: datetime) -> None:
        calls.append("broken")
        raise RuntimeError("boom")

    s = Scheduler([Job("broken", broken, monthly=True), Job("fine", lambda now: calls.append("fine"), every_seconds=1)], between=nothing)
    assert s.tick(T0) == ["fine"]
    assert "broken failed" in caplog.text
    assert s.tick(T0 + timedelta(seconds=2)) == ["fine"]  # not retried at once …
    assert s.tick(T0 + timedelta(seconds=61)) == ["fine"]  # … but a minute later
    assert calls == ["broken", "fine", "fine", "broken", "fine"]


def test_the_domains_register_their_periodic_jobs():
    assert {"safety.tick", "meals.nightly", "assistance.visit_plan"} <= {j.name for j in jobs()}


def test_every_registered_job_runs_once_on_an_empty_database(db, capsys):
    # at noon in Shanghai every daily job is past its hour (meals.nightly waits for 00:30)
    with time_machine.travel(datetime(2026, 4, 1, 4, 0, tzinfo=UTC), tick=True):
        call_command("scheduler", "--once")
    ran = capsys.readouterr().out
    for name in ("safety.tick", "meals.nightly", "assistance.visit_plan"):
        assert name in ran
