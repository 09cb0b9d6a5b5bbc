"""Alarms become incidents; staff take them through the closed loop; every step is checked,
timed, audited and on the timeline; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.safety import services as sv
from minzheng.safety.models import Alarm, Incident, IncidentEntry, Notification
from minzheng.safety.selectors import incident_get, incident_list, incident_timeline
from minzheng.safety.tests.conftest import bj

pytestmark = pytest.mark.django_db
T = bj(5, 6, 10)


def sos(sender, at=T):
    sender.one("SOS-A", "sos", 1, at)
    return Incident.objects.get(home__code__isnull=False, alarm_type="sos", state__in=["new", "acknowledged"])


def test_sos_opens_a_critical_incident_at_once_with_notices(home_a, sender):
    incident = sos(sender)
    assert (incident.severity, incident.state, incident.opened_at) == ("critical", "new", T)
    assert incident.next_deadline_at == T + timedelta(seconds=60)
    alarm = Alarm.objects.get(home=home_a[0], alarm_type="sos")
    assert (alarm.state, alarm.incident_id, alarm.first_seen_at) == ("active", incident.pk, T)
    kinds = sorted(Notification.objects.filter(incident=incident).values_list("target_kind", flat=True))
    assert kinds == ["division", "division", "family"]  # the community's duty desk (app + SMS), the son
    assert {"safety.alarm.raise", "safety.incident.open"} <= set(AuditEvent.objects.values_list("event_type", flat=True))


def test_a_repeat_press_updates_the_alarm_and_never_opens_a_second_incident(home_a, sender):
    incident = sos(sender)
    sender.one("SOS-A", "sos", 1, T + timedelta(minutes=1))
    alarm = Alarm.objects.get(home=home_a[0], alarm_type="sos")
    assert (alarm.count, Incident.objects.count()) == (2, 1)
    assert IncidentEntry.objects.filter(incident=incident, action="repeat").count() == 1


def test_the_full_closed_loop(home_a, sender, operator, worker_a):
    incident = sos(sender)
    with time_machine.travel(T + timedelta(seconds=30), tick=False):
        sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    with time_machine.travel(T + timedelta(seconds=50), tick=False):
        sv.incident_log_call(actor=operator, incident_id=incident.pk, party="elder", result="no_answer")
        sv.incident_log_call(actor=operator, incident_id=incident.pk, party="family", result="unreachable")
    with time_machine.travel(T + timedelta(minutes=2), tick=False):
        sv.incident_dispatch(actor=operator, incident_id=incident.pk, target="community_worker",
                             assignee_id=worker_a.pk, note="请立即上门")
    mine = incident_list(actor=worker_a, assigned_to=worker_a.pk)
    assert [i.pk for i in mine] == [incident.pk]
    with time_machine.travel(T + timedelta(minutes=15), tick=False):
        sv.incident_arrive(actor=worker_a, incident_id=incident.pk, note="已到老人家中")
    with time_machine.travel(T + timedelta(minutes=40), tick=False):
        sv.incident_resolve(actor=worker_a, incident_id=incident.pk, outcome="hospitalised", note="摔倒, 已送医")
    with time_machine.travel(T + timedelta(hours=20), tick=False):
        sv.incident_start_follow_up(actor=operator, incident_id=incident.pk)
        done = sv.incident_close(actor=operator, incident_id=incident.pk, note="回访: 已出院")
    assert done.state == "closed"
    assert (done.acked_at, done.acked_by_id, done.assignee_id) == (T + timedelta(seconds=30), operator.pk, worker_a.pk)
    assert done.resolved_at == T + timedelta(minutes=40)
    assert done.next_deadline_at is None
    actions = [e.action for e in incident_timeline(actor=operator, incident_id=incident.pk)]
    assert actions == ["open", "notify", "acknowledge", "verify", "call", "call", "dispatch", "arrive", "resolve",
                       "follow_up", "close"]
    entries = IncidentEntry.objects.filter(incident=incident, action="arrive").get()
    assert (entries.actor_id, entries.state_from, entries.state_to) == (worker_a.pk, "dispatched", "on_site")
    audited = list(AuditEvent.objects.filter(object_type="safety_incident").values_list("event_type", flat=True))
    assert audited.count("safety.incident.call") == 2
    assert "safety.incident.close" in audited
    assert Alarm.objects.get(alarm_type="sos").state == "cleared"  # a point alarm ends with its incident


def test_refusals_change_nothing(home_a, home_b, sender, operator, worker_a, worker_b):
    incident = sos(sender)
    before = IncidentEntry.objects.count()
    with pytest.raises(NotFound):
        sv.incident_acknowledge(actor=worker_b, incident_id=incident.pk)  # another community: it does not exist
    with pytest.raises(NotFound):
        incident_get(actor=worker_b, pk=incident.pk)
    with pytest.raises(PermissionDenied):
        sv.incident_acknowledge(actor=worker_a, incident_id=incident.pk)  # may be dispatched, not run the console
    with pytest.raises(Conflict) as caught:
        sv.incident_arrive(actor=operator, incident_id=incident.pk)
    assert caught.value.code == "invalid_transition"
    sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    with pytest.raises(ValidationFailed) as caught:
        sv.incident_resolve(actor=operator, incident_id=incident.pk, outcome="")
    assert set(caught.value.fields) == {"outcome"}
    with pytest.raises(ValidationFailed) as caught:
        sv.incident_resolve(actor=operator, incident_id=incident.pk, outcome="false_alarm_other")
    assert set(caught.value.fields) == {"note"}
    with pytest.raises(ValidationFailed) as caught:
        sv.incident_dispatch(actor=operator, incident_id=incident.pk, target="community_worker", assignee_id=worker_b.pk)
    assert caught.value.code == "assignee_out_of_area"
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.state, stored.assignee_id, stored.outcome) == ("acknowledged", None, "")
    assert IncidentEntry.objects.count() == before + 1  # only the acknowledgement


def test_false_alarm_closes_without_follow_up_and_a_new_press_within_a_day_reopens(home_a, sender, operator):
    incident = sos(sender)
    sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    sv.incident_log_call(actor=operator, incident_id=incident.pk, party="elder", result="answered_ok")
    sv.incident_resolve(actor=operator, incident_id=incident.pk, outcome="false_alarm_accidental", note="误按")
    sv.incident_close(actor=operator, incident_id=incident.pk)
    sender.one("SOS-A", "sos", 1, T + timedelta(hours=3))
    again = Incident.objects.get(pk=incident.pk)
    assert (again.state, again.reopened_count, again.outcome) == ("new", 1, "")
    assert Incident.objects.count() == 1
    assert Alarm.objects.filter(alarm_type="sos").count() == 2


def test_staff_reopen_needs_a_reason(home_a, sender, operator):
    incident = sos(sender)
    sv.incident_acknowledge(actor=operator, incident_id=incident.pk)
    sv.incident_resolve(actor=operator, incident_id=incident.pk, outcome="assisted")
    with pytest.raises(ValidationFailed):
        sv.incident_reopen(actor=operator, incident_id=incident.pk, reason=" ")
    reopened = sv.incident_reopen(actor=operator, incident_id=incident.pk, reason="家属反映老人仍不适")
    assert reopened.state == "new"
    assert reopened.next_deadline_at is not None


def test_one_active_alarm_per_home_and_type_and_the_incident_follows_it(home_a, sender, operator):
    for k in range(9):
        sender.one("PIR-A", "heartbeat", None, bj(5, 6, 9) + timedelta(minutes=30 * k))
    sender.one("PIR-A", "motion", 1, bj(5, 6, 9))
    from minzheng.safety.tasks import safety_tick

    safety_tick(bj(5, 6, 13, 0, 15), with_daily=False)
    safety_tick(bj(5, 6, 13, 1), with_daily=False)
    assert Alarm.objects.filter(alarm_type="inactivity", state="active").count() == 1
    incident = Incident.objects.get(alarm_type="inactivity")
    assert incident.severity == "major"
    sender.one("PIR-A", "motion", 1, bj(5, 6, 13, 20))
    assert Alarm.objects.get(alarm_type="inactivity").state == "cleared"
    assert IncidentEntry.objects.filter(incident=incident, action="alarm_cleared").exists()
