"""Identification at the till runs statements compiled once per credential kind (``meals.statements``):
the same compiled SQL must give each request its own answer — the day's leave, the right diner, a
stopped card — whichever request compiled it first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from minzheng.core import statements
from minzheng.core.exceptions import ValidationFailed
from minzheng.meals.models import DinerCard
from minzheng.meals.selectors import diner_identify
from minzheng.meals.services.diners import face_enrol, leave_record, qr_issue

pytestmark = pytest.mark.django_db


def test_every_credential_kind_finds_its_own_diner_with_one_statement(site, make_diner, staff):
    statements.forget()
    from conftest import synthetic_id

    first, second = make_diner(birth="19480808"), make_diner(name="李建国", birth="19400202")
    number = synthetic_id(birth="19480808", seq=501)
    assert first.person_obj.id_masked.endswith(number[-4:])
    face_enrol(actor=site.key, diner=second, ref="FACE-REF-0002")
    today = timezone.localdate()
    for diner, value, kind, expected in [
        (first, first.card, "", "citizen_card"),
        (second, second.card, "", "citizen_card"),
        (first, qr_issue(actor=staff.worker_a, diner=first), "", "qr"),
        (second, qr_issue(actor=staff.worker_a, diner=second), "", "qr"),
        (second, "face:FACE-REF-0002", "", "face"),
        (first, number, "", "id_number"),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            found = diner_identify(value=value, kind=kind, day=today, id_confirmed=True)
        assert found.diner.pk == diner.pk
        assert found.credential == expected
        assert found.diner.person is not None and found.diner.person.pk == diner.person_id
        assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]


def test_leave_is_read_for_the_day_asked_not_the_day_compiled(site, make_diner, staff):
    statements.forget()
    diner = make_diner()
    today = timezone.localdate()
    leave_record(actor=staff.worker_a, diner=diner, kind="hospital", starts=today + timedelta(days=1),
                 ends=today + timedelta(days=3))
    leave_record(actor=staff.worker_a, diner=diner, kind="away", starts=today + timedelta(days=5))
    assert diner_identify(value=diner.card, day=today).leave == ""
    assert diner_identify(value=diner.card, day=today + timedelta(days=2)).leave == "hospital"
    assert diner_identify(value=diner.card, day=today + timedelta(days=4)).leave == ""
    assert diner_identify(value=diner.card, day=today + timedelta(days=6)).leave == "away"


def test_a_stopped_card_and_an_unknown_card_are_refused(site, make_diner):
    statements.forget()
    diner = make_diner()
    assert diner_identify(value=diner.card, day=timezone.localdate()).diner.pk == diner.pk
    DinerCard.objects.filter(diner=diner).update(active=False)
    with pytest.raises(ValidationFailed) as err:
        diner_identify(value=diner.card, day=timezone.localdate())
    assert err.value.code == "credential_inactive"
    with pytest.raises(ValidationFailed) as err:
        diner_identify(value="HZ9999999999", day=timezone.localdate())
    assert err.value.code == "unknown_credential"


def test_a_probe_missing_from_the_parameters_is_refused():
    from minzheng.meals.models import Diner

    with pytest.raises(RuntimeError):
        statements.Compiled(Diner.objects.filter(pk=1), {"value": statements.PROBE_ID})
