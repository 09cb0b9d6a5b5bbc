"""Reactions to other domains (spine events), the seed step, the person-page panel, grants."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from minzheng.core.access import holders_of
from minzheng.core.events import publish
from minzheng.core.seeding import SeedContext, seed_steps
from minzheng.people.events import CareSignalRaised
from minzheng.people.panels import panels_for
from minzheng.people.services import person_record_death, person_record_move_out
from minzheng.safety.models import (
    Device,
    Gateway,
    Home,
    HomeContact,
    Incident,
    IngestRejection,
    Kit,
)
from minzheng.safety.permissions import SafetyPerm
from minzheng.safety.selectors import home_panel
from minzheng.safety.services.seed import seed_safety
from minzheng.safety.tests.conftest import COMMUNITY_A, bj

pytestmark = pytest.mark.django_db


def signal(person, kind="diner_absent", source="meals"):
    return CareSignalRaised(person_id=person.pk, person_uid=str(person.uid), source=source, kind=kind,
                            reason="连续5天未到助餐点用餐")


def test_a_care_signal_opens_one_low_severity_care_check(elder_a, home_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish(signal(elder_a))
    with django_capture_on_commit_callbacks(execute=True):
        publish(signal(elder_a))  # the same signal again: added to the open check
    incident = Incident.objects.get()
    assert (incident.alarm_type, incident.severity, incident.source) == ("care_check", "low", "meals:diner_absent")
    assert incident.home_id == home_a[0].pk
    assert incident.entries.filter(action="repeat").count() == 1
    assert incident.next_deadline_at - incident.opened_at == timedelta(hours=4)


def test_a_care_signal_for_an_elder_without_a_kit_and_our_own_signals(elder_b, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish(signal(elder_b, kind="visit_missed", source="assistance"))
        publish(signal(elder_b, source="safety"))  # announced by safety itself: for the other domains
    incident = Incident.objects.get()
    assert (incident.home_id, incident.person_id, incident.area_path) == (None, elder_b.pk, elder_b.area_path)


def test_death_stops_the_kit_and_closes_open_incidents(elder_a, home_a, sender, worker_a,
                                                       django_capture_on_commit_callbacks):
    sender.one("SOS-A", "sos", 1, bj(5, 6, 10))
    with django_capture_on_commit_callbacks(execute=True):
        person_record_death(actor=worker_a, person=elder_a, died_on=timezone.localdate())
    home = Home.objects.get(pk=home_a[0].pk)
    assert home.status == "inactive"
    assert Kit.objects.get(home=home).status == "deactivated"
    incident = Incident.objects.get()
    assert (incident.state, incident.outcome) == ("closed", "cancelled")
    assert "老人已故" in incident.outcome_note
    assert sender.one("PIR-A", "motion", 1, bj(5, 6, 11)).rejected == 1
    assert IngestRejection.objects.get().reason == "kit_inactive"


def test_moving_out_stops_the_kit(elder_a, home_a, worker_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        person_record_move_out(actor=worker_a, person=elder_a, moved_on=timezone.localdate(), destination="上海市")
    assert Kit.objects.get(home=home_a[0]).deactivation_reason.startswith("老人已迁出")


def test_seed_picks_elders_living_alone_aged_60_and_over(make_person):
    eligible = [make_person(name=n, birth=f"19{40 + i}0101", living_arrangement="alone")
                for i, n in enumerate(("赵一", "钱二", "孙三"))]
    make_person(name="年轻独居", birth="19900101", living_arrangement="alone")
    make_person(name="与子女同住", birth="19400101", living_arrangement="with_family")
    assert [s.name for s in seed_steps()].count("safety") == 1
    ctx = SeedContext(scale=2 / 5000, seed=7)
    seed_safety(ctx)
    homes = list(Home.objects.select_related("person"))
    assert len(homes) == 2
    assert {h.person_id for h in homes} <= {p.pk for p in eligible}
    assert all(h.area_path == h.person.area_path for h in homes)
    assert Device.objects.filter(kind="door_contact").count() == 2
    assert Device.objects.filter(kind="pir").count() >= 2
    assert Gateway.objects.count() == 2
    assert HomeContact.objects.count() >= 2
    assert Incident.objects.count() >= 1  # a month of history for the console and the reports
    first = sorted(h.person_id for h in homes)
    Incident.objects.all().delete()
    for model in (Device, Gateway, HomeContact):
        model.objects.all().delete()
    from minzheng.safety.models import HomeState

    HomeState.objects.all().delete()
    Kit.objects.all().delete()
    Home.objects.all().delete()
    seed_safety(SeedContext(scale=2 / 5000, seed=7))
    assert sorted(Home.objects.values_list("person_id", flat=True)) == first  # deterministic


def test_the_person_page_panel(elder_a, elder_b, home_a, operator, worker_a):
    assert "safety" in [p.key for p in panels_for(operator)]
    data = home_panel(actor=worker_a, person=elder_a)
    assert data is not None
    assert [d.serial for d in data["devices"]] == sorted(d.serial for d in data["devices"])
    html = render_to_string("safety/panels/home.html", {"panel": data, "person": elder_a})
    assert home_a[0].code in html
    assert "门磁" in html
    assert home_panel(actor=worker_a, person=elder_b) is None  # no kit: the panel is hidden


def test_grants():
    assert holders_of(SafetyPerm.INGEST) == frozenset({"sensor_gateway"})
    assert holders_of(SafetyPerm.HANDLE_INCIDENT) == frozenset({"monitoring_operator"})
    assert {"community_worker", "township_staff", "district_admin"} <= holders_of(SafetyPerm.RESPOND_INCIDENT)
    for admin in ("auditor", "security_admin", "system_admin"):
        assert not any(admin in holders_of(p) for p in SafetyPerm)


def test_registration_refusals(installer, worker_a, elder_a, home_a):
    from minzheng.core.exceptions import Conflict, PermissionDenied, ValidationFailed
    from minzheng.safety.services import home_register

    with pytest.raises(PermissionDenied):
        home_register(actor=worker_a, person_uid=elder_a.uid, devices=[{"kind": "pir", "serial": "X1"}])
    with pytest.raises(Conflict):
        home_register(actor=installer, person_uid=elder_a.uid, devices=[{"kind": "pir", "serial": "X1"}])
    assert COMMUNITY_A in home_a[0].area_path
    assert date.today() >= home_a[0].kit.installed_on  # noqa: DTZ011
    from minzheng.safety.services import device_add

    with pytest.raises(ValidationFailed) as caught:
        device_add(actor=installer, home_id=home_a[0].pk, kind="toaster", serial="T-1")
    assert set(caught.value.fields) == {"kind"}
