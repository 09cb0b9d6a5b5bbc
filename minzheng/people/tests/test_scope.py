"""Data scope (DESIGN §4.3, security AC-2/AC-3, attack A4): each actor sees its own subtree only."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from minzheng.core.exceptions import NotFound, PermissionDenied
from minzheng.core.models import AuditEvent
from minzheng.people.models import Person
from minzheng.people.selectors import (
    household_get,
    household_list,
    person_by_id_number,
    person_count,
    person_get,
    person_list,
    person_search,
)
from minzheng.people.services import household_add_member, household_create, person_export
from minzheng.people.tests.data import DISTRICT, ID_A, ID_B, PHONE_A, PHONE_B

# Every way of finding 李四 (community B) and 张三 (community A)
QUERIES_B = ["李四", "李", "ls", "LS", PHONE_B[-4:], PHONE_B, ID_B, ID_B.lower()]
QUERIES_A = ["张三", "张", "zs", PHONE_A[-4:], PHONE_A, ID_A]


def _names(people) -> list[str]:
    return sorted(p.name for p in people)


def _export_names(actor) -> list[str]:
    content, rows = person_export(actor=actor)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert len(lines) == rows + 1  # a header line, then one line per person
    return sorted(line[0] for line in lines[1:])


def test_community_worker_lists_and_counts_only_their_community(worker_a, person_a, person_b):
    assert _names(person_list(actor=worker_a)) == ["张三"]
    assert person_count(actor=worker_a) == 1


@pytest.mark.parametrize("query", QUERIES_B)
def test_community_worker_never_finds_a_neighbours_resident(worker_a, person_a, person_b, query):
    mode, found = person_search(actor=worker_a, query=query)

    assert found == []
    assert list(person_list(actor=worker_a, query=query)) == []
    assert person_count(actor=worker_a, query=query) == 0
    assert mode.mode != "invalid"


@pytest.mark.parametrize("query", QUERIES_A)
def test_community_worker_finds_their_own_resident_every_way(worker_a, person_a, person_b, query):
    _mode, found = person_search(actor=worker_a, query=query)

    assert _names(found) == ["张三"]


def test_full_id_lookup_is_scoped(worker_a, person_a, person_b):
    assert person_by_id_number(actor=worker_a, id_number=ID_A) == person_a
    assert person_by_id_number(actor=worker_a, id_number=ID_B) is None


def test_neighbours_record_is_not_found(worker_a, person_a, person_b):
    with pytest.raises(NotFound) as caught:
        person_get(actor=worker_a, uid=person_b.uid)

    assert caught.value.status_code == 404
    assert caught.value.message == "记录不存在或不在您的管辖范围内"
    assert person_get(actor=worker_a, uid=person_a.uid) == person_a


@pytest.mark.parametrize("uid", ["not-a-uuid", "", None, 12])
def test_malformed_ids_are_not_found(worker_a, uid):
    with pytest.raises(NotFound):
        person_get(actor=worker_a, uid=uid)


def test_neighbours_household_is_not_found(worker_a, district, person_a, person_b):
    household_b = household_create(actor=district, head=person_b, address="五常街道沿山河路18号")
    household_a = household_create(actor=district, head=person_a)

    with pytest.raises(NotFound):
        household_get(actor=worker_a, uid=household_b.uid)
    assert household_get(actor=worker_a, uid=household_a.uid) == household_a
    assert list(household_list(actor=worker_a)) == [household_a]


def test_export_holds_only_the_actors_area(worker_a, person_a, person_b):
    assert _export_names(worker_a) == ["张三"]
    audit = AuditEvent.objects.get(event_type="person.export")
    assert (audit.actor_username, audit.extra["rows"]) == ("worker_a", 1)


def test_a_neighbours_resident_cannot_join_the_actors_household(
    worker_a, district, person_a, person_b
):
    household_a = household_create(actor=district, head=person_a)

    with pytest.raises(NotFound):
        household_add_member(
            actor=worker_a, household=household_a, person=person_b, relation="spouse"
        )

    assert Person.objects.get(pk=person_b.pk).household_id is None


def test_export_masks_identifiers(worker_a, person_a):
    content, _rows = person_export(actor=worker_a)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]

    assert ID_A not in cells
    assert ID_A[:6] + "********" + ID_A[-4:] in cells


def test_township_sees_both_communities(township, person_a, person_b):
    assert _names(person_list(actor=township)) == ["张三", "李四"]
    assert person_count(actor=township) == 2
    assert _names(person_search(actor=township, query=ID_B)[1]) == ["李四"]
    assert _names(person_search(actor=township, query=PHONE_A[-4:])[1]) == ["张三"]
    assert person_get(actor=township, uid=person_b.uid) == person_b
    assert _export_names(township) == ["张三", "李四"]


def test_another_township_sees_neither(liangzhu, person_a, person_b):
    assert list(person_list(actor=liangzhu)) == []
    assert person_count(actor=liangzhu) == 0
    for query in [*QUERIES_A, *QUERIES_B]:
        assert person_search(actor=liangzhu, query=query)[1] == []
    for person in (person_a, person_b):
        with pytest.raises(NotFound):
            person_get(actor=liangzhu, uid=person.uid)
    assert _export_names(liangzhu) == []


def test_district_sees_everyone(district, person_a, person_b):
    assert person_count(actor=district) == 2


@pytest.mark.parametrize("role", ["auditor", "security_admin", "system_admin"])
def test_the_three_admins_read_no_person_records(make_staff, person_a, role):
    # 三员 (AC-3): even at district level they see no person records
    admin = make_staff(roles=[role], division=DISTRICT)

    for read in (
        lambda: list(person_list(actor=admin)),
        lambda: person_count(actor=admin),
        lambda: person_search(actor=admin, query="张三"),
        lambda: person_get(actor=admin, uid=person_a.uid),
        lambda: person_by_id_number(actor=admin, id_number=ID_A),
        lambda: list(household_list(actor=admin)),
        lambda: person_export(actor=admin),
    ):
        with pytest.raises(PermissionDenied):
            read()
