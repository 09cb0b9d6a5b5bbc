"""Registering a person (一人一档): every bad input is named, and nothing half-written stays behind."""

from __future__ import annotations

from datetime import date

import pytest

from minzheng.core.exceptions import PermissionDenied, ValidationFailed
from minzheng.core.identifiers import check_digit
from minzheng.core.models import AuditEvent
from minzheng.people.models import Person, PersonPhone
from minzheng.people.services import person_create
from minzheng.people.tests.data import COMMUNITY_A, COMMUNITY_B, ID_A, ID_B, WUCHANG, make_id

GOOD_ID = make_id("19450815", 302)  # 17th digit even: a woman


def _data(**overrides: object) -> dict[str, object]:
    return {
        "name": "王秀英",
        "id_number": GOOD_ID,
        "division_code": COMMUNITY_A,
        "phones": ["13812340000"],
        **overrides,
    }


def _counts() -> tuple[int, int, int]:
    return Person.objects.count(), PersonPhone.objects.count(), AuditEvent.objects.count()


def test_a_worker_registers_a_person_in_their_community(worker_a):
    person = person_create(actor=worker_a, data=_data(address="五常街道顾家桥路8号"))

    stored = Person.objects.get(pk=person.pk)
    assert stored.name == "王秀英"
    assert stored.name_initials == "wxy"
    assert stored.birth_date == date(1945, 8, 15)
    assert stored.gender == "F"
    assert stored.id_masked == GOOD_ID[:6] + "********" + GOOD_ID[-4:]
    assert stored.area_path.endswith(f"{WUCHANG}/{COMMUNITY_A}/")
    assert stored.address_masked == "五常街道顾家桥路****"
    assert [p.masked for p in stored.phones.all()] == ["138****0000"]
    audit = AuditEvent.objects.get(event_type="person.create")
    assert (audit.actor_username, audit.object_id) == ("worker_a", str(person.uid))


ODD_DATE = "33990119990230302"  # 30 February
BAD_CHECK = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id_number": BAD_CHECK}, "id_number", "身份证号校验码错误"),
        ({"id_number": ODD_DATE + check_digit(ODD_DATE)}, "id_number", "出生日期无效"),
        ({"id_number": "1234"}, "id_number", "18位"),
        ({"id_number": ""}, "id_number", "18位"),
        ({"name": ""}, "name", "姓名须为"),
        ({"name": "张"}, "name", "姓名须为"),
        ({"division_code": "330110005999"}, "division_code", "区划不存在"),
        ({"division_code": WUCHANG}, "division_code", "请选择到社区或村"),
        ({"division_code": COMMUNITY_B}, "division_code", "不在您的管辖范围内"),
        ({"phones": ["12345"]}, "phones", "电话号码格式不正确"),
        (
            {"disability_category": "physical", "disability_grade": 9},
            "disability_grade",
            "残疾等级应为1–4级",
        ),
        (
            {"disability_category": "physical", "disability_grade": "abc"},
            "disability_grade",
            "残疾等级应为1–4级",
        ),
        ({"disability_category": "physical"}, "disability_grade", "请填写残疾等级"),
        (
            {"disability_category": "wings", "disability_grade": 2},
            "disability_category",
            "取值无效",
        ),
        ({"living_arrangement": "on_the_moon"}, "living_arrangement", "取值无效"),
        ({"health_flags": ["immortal"]}, "health_flags", "取值无效"),
        ({"address": "长" * 121}, "address", "地址不超过120个字"),
        ({"birth_date": "1950-01-01"}, "birth_date", "出生日期与身份证号不一致"),
        ({"gender": "M"}, "gender", "性别与身份证号不一致"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(worker_a, overrides, field, message):
    # Given the database before the attempt
    before = _counts()

    # When a worker of community A submits a person with one bad field
    with pytest.raises(ValidationFailed) as caught:
        person_create(actor=worker_a, data=_data(**overrides))

    # Then the refusal names that field with a Chinese message
    assert field in caught.value.fields
    assert message in caught.value.fields[field]
    assert caught.value.status_code == 400
    # And no Person, PersonPhone or audit row was left behind
    assert _counts() == before


def test_a_known_id_number_is_refused(worker_a):
    person_create(actor=worker_a, data=_data())
    before = _counts()

    with pytest.raises(ValidationFailed) as caught:
        person_create(actor=worker_a, data=_data(name="王小英", id_number=GOOD_ID.lower()))

    assert caught.value.fields == {"id_number": "身份证号已登记,请联系上级核实"}
    assert _counts() == before


def test_a_known_id_number_is_refused_even_outside_the_actors_area(worker_a, person_b):
    # The registry is one for the whole district: a number registered in B cannot be registered again in A
    before = _counts()

    with pytest.raises(ValidationFailed) as caught:
        person_create(actor=worker_a, data=_data(id_number=ID_B))

    assert caught.value.fields == {"id_number": "身份证号已登记,请联系上级核实"}
    assert _counts() == before


def test_a_duplicate_elsewhere_reads_exactly_like_one_at_home(worker_a, person_a, person_b):
    # Given one person registered in the worker's own community (A) and one in the sibling (B)
    def refusal(id_number: str) -> tuple[str, str, dict[str, str], int]:
        with pytest.raises(ValidationFailed) as caught:
            person_create(actor=worker_a, data=_data(name="赵新民", id_number=id_number))
        return caught.value.code, caught.value.message, caught.value.fields, caught.value.status_code

    before = _counts()
    # When the worker registers each number again
    home, elsewhere = refusal(ID_A), refusal(ID_B)

    # Then both refusals are word for word the same: the form does not say the person lives elsewhere
    assert home == elsewhere == ("bad_person", "身份证号已登记,请联系上级核实",
                                 {"id_number": "身份证号已登记,请联系上级核实"}, 400)
    assert "沿山河" not in str(elsewhere) and "李四" not in str(elsewhere)
    assert _counts() == before


def test_all_problems_are_reported_at_once(worker_a):
    with pytest.raises(ValidationFailed) as caught:
        person_create(
            actor=worker_a,
            data={"name": "", "id_number": BAD_CHECK, "division_code": WUCHANG, "phones": ["1"]},
        )

    assert set(caught.value.fields) >= {"name", "id_number", "division_code", "phones"}


@pytest.mark.parametrize(
    "role", ["caseworker", "monitoring_operator", "auditor", "system_admin", "security_admin"]
)
def test_roles_without_the_change_permission_cannot_register(make_staff, role):
    actor = make_staff(roles=[role], division=COMMUNITY_A)
    before = _counts()

    with pytest.raises(PermissionDenied):
        person_create(actor=actor, data=_data())

    assert _counts() == before


def test_phones_are_normalised_and_deduplicated(worker_a):
    person = person_create(
        actor=worker_a, data=_data(phones=["138 1234 0000", "+8613812340000", "0571-88776655"])
    )

    assert sorted(p.masked for p in person.phones.all()) == ["057****6655", "138****0000"]
