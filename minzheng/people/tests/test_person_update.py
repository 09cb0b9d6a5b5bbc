"""Editing a person: only the editable fields, only inside the actor's area (attack A5)."""

from __future__ import annotations

import pytest

from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.people.models import Person
from minzheng.people.services import person_update
from minzheng.people.tests.data import COMMUNITY_A, COMMUNITY_B, ID_B, WUCHANG

SNAPSHOT = (
    "name",
    "id_bidx",
    "id_masked",
    "birth_date",
    "division_id",
    "area_path",
    "status",
    "self_care",
)


def _snapshot(person: Person) -> dict[str, object]:
    stored = Person.objects.get(pk=person.pk)
    return {
        f: bytes(v) if isinstance(v, memoryview) else v
        for f in SNAPSHOT
        for v in [getattr(stored, f)]
    }


@pytest.mark.parametrize(
    "data",
    [
        {"id_number": ID_B},
        {"area_path": "330110000000/330110005000/330110005002/"},
        {"status": "deceased"},
        {"birth_date": "1990-01-01"},
        {"division_id": COMMUNITY_B},
        {"is_superuser": True},
        {"name": "张三丰", "status": "deceased"},
    ],
)
def test_fields_that_are_not_editable_are_refused(worker_a, person_a, data):
    before = _snapshot(person_a)

    with pytest.raises(ValidationFailed) as caught:
        person_update(actor=worker_a, person=person_a, data=data)

    # The refusal names each forbidden field; nothing at all changed (not even the allowed name)
    forbidden = set(data) - {"name"}
    assert set(caught.value.fields) == forbidden
    assert all(caught.value.fields[f] == "该字段不可修改" for f in forbidden)
    assert _snapshot(person_a) == before
    assert not AuditEvent.objects.filter(event_type="person.update").exists()


def test_a_worker_cannot_move_a_person_out_of_their_area(worker_a, person_a):
    before = _snapshot(person_a)

    with pytest.raises(ValidationFailed) as caught:
        person_update(actor=worker_a, person=person_a, data={"division_code": COMMUNITY_B})

    assert caught.value.fields == {"division_code": "该村社不在您的管辖范围内"}
    assert _snapshot(person_a) == before


@pytest.mark.parametrize(
    ("code", "message"), [(WUCHANG, "请选择到社区或村"), ("330110999999", "区划不存在")]
)
def test_a_person_lives_in_a_known_village(township, person_a, code, message):
    with pytest.raises(ValidationFailed) as caught:
        person_update(actor=township, person=person_a, data={"division_code": code})

    assert caught.value.fields == {"division_code": message}


def test_a_township_moves_a_person_between_its_communities(township, person_a):
    person_update(actor=township, person=person_a, data={"division_code": COMMUNITY_B})

    stored = Person.objects.get(pk=person_a.pk)
    assert stored.division_id == COMMUNITY_B
    assert stored.area_path == f"330110000000/{WUCHANG}/{COMMUNITY_B}/"
    assert AuditEvent.objects.get(event_type="person.update").extra == {
        "fields": ["area_path", "division"]
    }


def test_a_township_cannot_move_a_person_to_another_township(township, person_a):
    with pytest.raises(ValidationFailed) as caught:
        person_update(actor=township, person=person_a, data={"division_code": "330110010001"})

    assert set(caught.value.fields) == {"division_code"}
    assert Person.objects.get(pk=person_a.pk).division_id == COMMUNITY_A


def test_editing_a_neighbours_resident_is_not_found(worker_a, person_b):
    before = _snapshot(person_b)

    with pytest.raises(NotFound):
        person_update(actor=worker_a, person=person_b, data={"name": "李四四"})

    assert _snapshot(person_b) == before


def test_another_township_cannot_edit(liangzhu, person_a):
    with pytest.raises(NotFound):
        person_update(actor=liangzhu, person=person_a, data={"name": "张三丰"})


def test_caseworker_cannot_edit(make_staff, person_a):
    caseworker = make_staff(roles=["caseworker"], division=COMMUNITY_A)

    with pytest.raises(PermissionDenied):
        person_update(actor=caseworker, person=person_a, data={"name": "张三丰"})


def test_editable_fields_change_and_are_audited(worker_a, person_a):
    person_update(actor=worker_a, person=person_a, data={"name": "张三丰", "self_care": "partial"})

    stored = Person.objects.get(pk=person_a.pk)
    assert (stored.name, stored.name_initials, stored.self_care) == ("张三丰", "zsf", "partial")
    assert AuditEvent.objects.get(event_type="person.update").extra == {
        "fields": ["name", "name_initials", "self_care"]
    }


def test_bad_edit_is_named_and_nothing_changes(worker_a, person_a):
    before = _snapshot(person_a)

    with pytest.raises(ValidationFailed) as caught:
        person_update(actor=worker_a, person=person_a, data={"name": "x", "self_care": "flying"})

    assert set(caught.value.fields) == {"name", "self_care"}
    assert _snapshot(person_a) == before
