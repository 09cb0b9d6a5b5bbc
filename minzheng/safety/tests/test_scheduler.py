"""The scheduler's work on persisted deadlines: an inactivity window survives a restart and
alarms on time; a passed time limit escalates community → township → district; devices go offline."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection

from minzheng.safety import services as sv
from minzheng.safety.models import (
    Alarm,
    Device,
    HomeState,
    Incident,
    IncidentEntry,
    MaintenanceTicket,
    Notification,
)
from minzheng.safety.services import forget_rules
from minzheng.safety.tasks import safety_tick
from minzheng.safety.tests.conftest import bj

T9 = bj(5, 6, 9)


def _morning(sender, until):
    sender.one("PIR-A", "motion", 1, T9)
    t = T9 + timedelta(minutes=30)
    while t <= until:
        sender.one("PIR-A", "heartbeat", {"battery": 90}, t)
        t += timedelta(minutes=30)


@pytest.mark.django_db
def test_a_restart_in_the_middle_of_an_inactivity_window_still_alarms_on_time(home_a, sender):
    home = home_a[0]
    _morning(sender, bj(5, 6, 11))  # motion at 09:00, then only heartbeats
    assert HomeState.objects.get(home=home).next_check_at == bj(5, 6, 13)  # the timer is a stored due time

    # The process dies at 11:00. Nothing in memory survives: a new process starts from the database
    # (the same test in a separate OS process: test_the_alarm_comes_from_a_separate_scheduler_process).
    forget_rules()
    for t in (bj(5, 6, 11, 30), bj(5, 6, 12), bj(5, 6, 12, 30)):
        sender.one("PIR-A", "heartbeat", {"battery": 90}, t)
    assert safety_tick(bj(5, 6, 12, 59, 50), with_daily=False).alarm_changes == 0
    report = safety_tick(bj(5, 6, 13, 0, 10), with_daily=False)
    assert report.alarm_changes == 1
    alarm = Alarm.objects.get(home=home, alarm_type="inactivity")
    assert alarm.first_seen_at == bj(5, 6, 13)  # on time: four waking hours after the last motion
    assert Incident.objects.get(alarm_type="inactivity").opened_at == bj(5, 6, 13, 0, 10)


@pytest.mark.django_db
def test_a_platform_that_was_down_catches_up_late_rather_than_never(home_a, sender):
    _morning(sender, bj(5, 6, 12, 30))
    # Down from 12:30 to 15:00: the broker and the gateway kept the heartbeats, delivered now.
    buffered = [sender.msg("PIR-A", "heartbeat", {"battery": 90}, bj(5, 6, 12, 30) + timedelta(minutes=30 * k))
                for k in range(1, 6)]
    sender.send(*buffered, now=bj(5, 6, 15))
    safety_tick(bj(5, 6, 15), with_daily=False)
    alarm = Alarm.objects.get(alarm_type="inactivity")
    assert (alarm.first_seen_at, alarm.raised_at) == (bj(5, 6, 13), bj(5, 6, 15))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_alarm_comes_from_a_separate_scheduler_process(home_a, sender, require_postgres):
    """A real restart: the tick runs in a new OS process against the same database."""
    _morning(sender, bj(5, 6, 12, 30))
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    manage = Path(__file__).resolve().parents[3] / "manage.py"
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.test")
    run = subprocess.run([sys.executable, str(manage), "safety_tick", "--now", bj(5, 6, 13, 0, 10).isoformat(),
                          f"--settings={settings_module}"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert Alarm.objects.get(alarm_type="inactivity").first_seen_at == bj(5, 6, 13)


@pytest.mark.django_db
def test_escalation_when_a_time_limit_passes(home_a, sender, operator):
    t = bj(5, 6, 10)
    sender.one("SOS-A", "sos", 1, t)
    incident = Incident.objects.get()
    assert safety_tick(t + timedelta(seconds=59), with_daily=False).escalated == 0
    report = safety_tick(t + timedelta(seconds=61), with_daily=False)
    assert report.escalated == 1
    incident.refresh_from_db()
    assert (incident.escalation_level, incident.breaches, incident.escalations) == (1, 1, 1)
    assert incident.next_deadline_at == t + timedelta(seconds=61 + 120)
    new = Notification.objects.filter(incident=incident, level=1)
    assert set(new.values_list("target_kind", flat=True)) == {"division", "family"}
    assert new.filter(target_kind="division").first().target_division_id == "330110005000"  # 五常街道
    assert new.filter(target_kind="family").count() == 2  # every family contact on the first breach
    escalation = IncidentEntry.objects.get(incident=incident, action="escalate")
    assert escalation.data["to_level"] == 1

    safety_tick(t + timedelta(seconds=182), with_daily=False)
    incident.refresh_from_db()
    assert incident.escalation_level == 2  # 区级值班
    assert Notification.objects.filter(incident=incident, level=2, target_division_id="330110000000").exists()

    with time_machine.travel(t + timedelta(minutes=4), tick=False):
        sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    incident.refresh_from_db()
    assert (incident.escalations, incident.deadline_state) == (0, "acknowledged")
    assert incident.next_deadline_at == t + timedelta(minutes=6)  # two minutes to start verifying
    safety_tick(t + timedelta(minutes=6, seconds=1), with_daily=False)
    incident.refresh_from_db()
    assert incident.breaches == 2

    for k in range(10):  # repeats at the top level stop after the policy's loops
        safety_tick(t + timedelta(minutes=7 + 2 * k, seconds=5), with_daily=False)
    incident.refresh_from_db()
    assert incident.next_deadline_at is None
    assert incident.escalations == 5


@pytest.mark.django_db
def test_a_silent_device_goes_offline_with_a_ticket_and_comes_back(home_a, sender):
    t = bj(5, 6, 9)
    sender.one("PIR-A", "heartbeat", {"battery": 80}, t)
    safety_tick(t + timedelta(hours=2, minutes=59), with_daily=False)
    assert Device.objects.get(serial="PIR-A").online
    report = safety_tick(t + timedelta(hours=3, seconds=1), with_daily=False)
    assert report.devices_offline == 1
    assert MaintenanceTicket.objects.get(kind="offline").state == "open"
    alarm = Alarm.objects.get(alarm_type="device_offline")
    assert (alarm.severity, alarm.incident_id) == ("warning", None)  # a repair job, not the console
    sender.one("PIR-A", "heartbeat", {"battery": 80}, t + timedelta(hours=4))
    assert Device.objects.get(serial="PIR-A").online
    assert MaintenanceTicket.objects.get(kind="offline").state == "done"
    assert Alarm.objects.get(alarm_type="device_offline").state == "cleared"


@pytest.mark.django_db
def test_away_status_suppresses_and_expires(home_a, sender, worker_a):
    _morning(sender, bj(5, 6, 10))
    with time_machine.travel(bj(5, 6, 10, 5), tick=False):
        sv.home_set_status(actor=worker_a, home_id=home_a[0].pk, status="away", until=bj(5, 6, 14), note="去女儿家")
    for t in (bj(5, 6, 10, 30), bj(5, 6, 11), bj(5, 6, 11, 30), bj(5, 6, 12), bj(5, 6, 12, 30), bj(5, 6, 13)):
        sender.one("PIR-A", "heartbeat", {"battery": 90}, t)
    safety_tick(bj(5, 6, 13, 30), with_daily=False)
    assert not Alarm.objects.exists()
    report = safety_tick(bj(5, 6, 14, 1), with_daily=False)
    assert report.statuses_expired == 1
