"""Personal data at rest and on reveal (security DP-1, DP-2; DESIGN §5; attack A10)."""

from __future__ import annotations

import pytest
from django.db import connection

from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.people.models import Person
from minzheng.people.services import household_create, person_reveal, person_update
from minzheng.people.tests.data import ADDRESS_B, ID_A, ID_B, PHONE_A, PHONE_B

HOUSEHOLD_ADDRESS = "五常街道沿山河路18号3幢"
TABLES = ("people_person", "people_personphone", "people_household", "core_auditevent")


def _all_values(table: str) -> list[str | bytes]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        rows = cur.fetchall()
    values: list[str | bytes] = []
    for row in rows:
        for value in row:
            if isinstance(value, bytes | memoryview):
                values.append(bytes(value))
            elif value is not None:
                values.append(str(value))
    return values


def _leaks(plaintext: str) -> list[tuple[str, str]]:
    found = []
    for table in TABLES:
        for value in _all_values(table):
            needle: str | bytes = plaintext.encode() if isinstance(value, bytes) else plaintext
            if needle in value:
                found.append((table, repr(value)[:80]))
    return found


def test_no_plaintext_identifier_phone_or_address_at_rest(person_a, person_b, district):
    # Given persons with ID numbers, phones and addresses, and a household with an address
    household_create(actor=district, head=person_b, address=HOUSEHOLD_ADDRESS)

    # Then no column of any row holds them in clear (raw SQL, every column, as text and bytes)
    for plaintext in (ID_A, ID_B, PHONE_A, PHONE_B, ADDRESS_B, HOUSEHOLD_ADDRESS):
        assert _leaks(plaintext) == [], plaintext
    # And the ID numbers without their check digit are not there either
    assert _leaks(ID_A[:17]) == []


def test_stored_forms_are_masked(person_b):
    stored = Person.objects.get(pk=person_b.pk)

    assert stored.id_masked == ID_B[:6] + "********" + ID_B[-4:]
    assert stored.address_masked == "五常街道沿山河路****"
    assert [p.masked for p in stored.phones.all()] == ["139****2222"]


@pytest.mark.parametrize(("field", "expected"), [("id_number", ID_A), ("phone", PHONE_A)])
def test_reveal_returns_the_plaintext_and_is_audited(worker_a, person_a, field, expected):
    # When a worker with the reveal permission gives a reason
    value = person_reveal(actor=worker_a, person=person_a, field=field, reason="核对低保申请材料")

    # Then the full value is shown
    assert value == expected
    # And the reveal is on record, with the reason and the field, but without the value
    row = AuditEvent.objects.get(event_type="person.reveal")
    assert (row.actor_username, row.object_id, row.reason) == (
        "worker_a",
        str(person_a.uid),
        "核对低保申请材料",
    )
    assert row.extra == {"field": field}
    assert not any(expected in v for v in _all_values("core_auditevent") if isinstance(v, str))


def test_reveal_of_the_address(township, person_b):
    assert (
        person_reveal(actor=township, person=person_b, field="address", reason="上门走访")
        == ADDRESS_B
    )


def test_reveal_reason_with_a_number_is_redacted(worker_a, person_a):
    person_reveal(actor=worker_a, person=person_a, field="id_number", reason=f"核对 {ID_A}")

    row = AuditEvent.objects.get(event_type="person.reveal")
    assert ID_A not in row.reason


@pytest.mark.parametrize("reason", ["", " ", "看"])
def test_reveal_needs_a_reason(worker_a, person_a, reason):
    with pytest.raises(ValidationFailed) as caught:
        person_reveal(actor=worker_a, person=person_a, field="id_number", reason=reason)

    assert set(caught.value.fields) == {"reason"}
    assert not AuditEvent.objects.filter(event_type="person.reveal").exists()


@pytest.mark.parametrize(
    "role", ["monitoring_operator", "auditor", "security_admin", "system_admin"]
)
def test_reveal_needs_the_permission(make_staff, person_a, role):
    actor = make_staff(roles=[role], division="330110005001")

    with pytest.raises(PermissionDenied):
        person_reveal(actor=actor, person=person_a, field="id_number", reason="核对材料")

    assert not AuditEvent.objects.filter(event_type="person.reveal").exists()


def test_reveal_outside_the_area_is_not_found(worker_a, person_b):
    with pytest.raises(NotFound):
        person_reveal(actor=worker_a, person=person_b, field="id_number", reason="核对材料")

    assert not AuditEvent.objects.filter(event_type="person.reveal").exists()


def test_unknown_field_cannot_be_revealed(worker_a, person_a):
    with pytest.raises(ValidationFailed) as caught:
        person_reveal(actor=worker_a, person=person_a, field="password", reason="核对材料")

    assert set(caught.value.fields) == {"field"}


def test_changed_phones_are_sealed_and_revealed(worker_a, person_a):
    person_update(actor=worker_a, person=person_a, data={"phones": ["13700003333", "13700004444"]})

    assert _leaks("13700003333") == []
    assert (
        person_reveal(actor=worker_a, person=person_a, field="phone", reason="电话回访")
        == "13700003333、13700004444"
    )
