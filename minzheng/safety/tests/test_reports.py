"""Metrics (time to acknowledge and resolve, time-limit compliance, false-alarm rate), the daily
and monthly report data, and early warning (baseline, daily anomaly score, weekly at-risk list)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from minzheng.core.exceptions import PermissionDenied
from minzheng.safety import services as sv
from minzheng.safety.models import ActivityHourly, DailyScore, HomeBaseline, Incident, WeeklyRisk
from minzheng.safety.selectors import daily_report, incident_metrics, monthly_report, risk_list
from minzheng.safety.tasks import safety_tick
from minzheng.safety.tests.conftest import bj

pytestmark = pytest.mark.django_db


def _handled(sender, operator, at, *, ack_after, outcome, sos_device="SOS-A"):
    sender.one(sos_device, "sos", 1, at)
    incident = Incident.objects.filter(state="new").latest("opened_at")
    with time_machine.travel(at + timedelta(seconds=ack_after), tick=False):
        sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    with time_machine.travel(at + timedelta(seconds=ack_after + 60), tick=False):
        sv.incident_log_call(actor=operator, incident_id=incident.pk, party="elder", result="answered_ok")
    with time_machine.travel(at + timedelta(seconds=ack_after + 600), tick=False):
        sv.incident_resolve(actor=operator, incident_id=incident.pk, outcome=outcome, note="核实")
        if outcome.startswith("false_alarm"):
            sv.incident_close(actor=operator, incident_id=incident.pk)
    return incident


def test_metrics(home_a, sender, operator, worker_b, make_staff):
    day = bj(5, 6, 0)
    _handled(sender, operator, bj(5, 6, 9), ack_after=20, outcome="false_alarm_accidental")
    _handled(sender, operator, bj(5, 7, 11), ack_after=40, outcome="assisted")  # > 24 h later: a new one
    sender.one("SOS-A", "sos", 1, bj(5, 8, 15))
    late = Incident.objects.get(state="new")
    safety_tick(bj(5, 8, 15, 2), with_daily=False)  # the 60-second limit passed
    with time_machine.travel(bj(5, 8, 15, 3), tick=False):
        sv.incident_acknowledge(actor=operator, incident_id=late.pk)
    m = incident_metrics(actor=operator, start=day, end=day + timedelta(days=3))["overall"]
    assert m["count"] == 3
    assert m["time_to_ack_s"]["median"] == 40.0
    assert m["ack_within_limit"] == round(2 / 3, 4)
    assert m["breached"] == 2  # the late acknowledgement, and the assisted one never followed up in 24 h
    assert (m["resolved"], m["false_alarms"], m["false_alarm_rate"]) == (2, 1, 0.5)
    assert m["false_alarm_reasons"] == {"false_alarm_accidental": 1}
    assert m["time_to_resolve_s"]["median"] == pytest.approx((620 + 640) / 2)
    assert m["within_all_limits"] == 1.0  # the one closed incident kept every limit
    with pytest.raises(PermissionDenied):
        incident_metrics(actor=worker_b, start=day, end=day + timedelta(days=1))
    elsewhere = make_staff(roles=["township_staff"], division="330110010000", username="liangzhu")
    assert incident_metrics(actor=elsewhere, start=day, end=day + timedelta(days=1))["overall"]["count"] == 0
    report = daily_report(actor=operator, day=day.date())
    assert report["by_township"][0]["township"] == "330110005000"
    assert report["by_township"][0]["incidents"] == 1
    month = monthly_report(actor=operator, year=2026, month=5)
    assert month["incidents_per_day"] == {"2026-05-06": 1, "2026-05-07": 1, "2026-05-08": 1}
    assert month["metrics"]["overall"]["count"] == 3


def _activity(home, day, counts):
    ActivityHourly.objects.bulk_create([
        ActivityHourly(home=home, hour=day + timedelta(hours=h), motion=c, events=c) for h, c in enumerate(counts) if c
    ])


NORMAL = [0, 0, 0, 0, 0, 0, 3, 9, 10, 9, 8, 6, 7, 4, 3, 6, 8, 9, 7, 6, 4, 2, 0, 0]
QUIET = [0] * 10 + [1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]


def test_early_warning_baseline_scores_and_weekly_list(home_a, operator, worker_a, worker_b):
    home = home_a[0]
    first = bj(5, 1, 0)
    for d in range(14):
        _activity(home, first + timedelta(days=d), NORMAL)
    for d in range(14, 17):
        _activity(home, first + timedelta(days=d), QUIET)
    assert sv.baseline_refresh(now=first + timedelta(days=14, minutes=5)) == 1
    baseline = HomeBaseline.objects.get(home=home)
    assert baseline.days == 14
    assert baseline.profile["total_mean"] == sum(NORMAL)
    for d in range(14, 17):
        sv.daily_scores_compute(day=(first + timedelta(days=d)).date())
    scores = list(DailyScore.objects.filter(home=home).order_by("day"))
    assert len(scores) == 3
    assert all(s.score > 80 for s in scores)
    assert any("起床" in r for r in scores[0].reasons)
    week = (first + timedelta(days=17)).date()
    assert sv.weekly_risk_compute(week_start=week, now=first + timedelta(days=17)) == 1
    [entry] = risk_list(actor=worker_a)
    assert entry.home_id == home.pk
    assert any("异常" in r for r in entry.reasons)
    assert list(risk_list(actor=worker_b)) == []  # another community
    assert WeeklyRisk.objects.count() == 1


def test_daily_jobs_run_once_per_day(home_a):
    report = safety_tick(bj(5, 6, 0, 5))
    assert [j.split(":")[0] for j in report.jobs] == ["daily", "weekly"]
    assert safety_tick(bj(5, 6, 0, 6)).jobs == []
    assert [j.split(":")[0] for j in safety_tick(bj(5, 7, 0, 5)).jobs] == ["daily"]


def test_baseline_learns_thresholds_and_archives_old_silences(home_a):
    from minzheng.safety import domain
    from minzheng.safety.models import HomeState

    now = bj(5, 20, 0, 5)
    today = domain.local_day(now.timestamp())
    row = [None] * 6 + [30.0] * 16 + [500.0, None, 420.0]
    HomeState.objects.filter(home=home_a[0]).update(gap_hist={str(d): row for d in range(today - 10, today)})
    sv.baseline_refresh(now=now)
    state = HomeState.objects.get(home=home_a[0])
    assert state.thresholds is not None
    assert state.thresholds[9] == 30 * 1.3 + 25
    assert sorted(int(d) for d in state.gap_hist) == [today - 2, today - 1]  # the hot row stays small
    baseline = HomeBaseline.objects.get(home=home_a[0])
    assert len(baseline.gap_history) == 8
    sv.baseline_refresh(now=now + timedelta(days=1))  # learned again from the archive plus the recent days
    assert HomeState.objects.get(home=home_a[0]).thresholds == state.thresholds
