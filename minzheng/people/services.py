"""Writes of the people registry. Each runs in one transaction and audits what it changed."""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.events import publish
from minzheng.core.exceptions import (
    ApprovalRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from minzheng.core.identifiers import mask_id_number, mask_phone
from minzheng.core.policy import policy
from minzheng.core.services import audit_record
from minzheng.divisions.enums import Level
from minzheng.divisions.models import Division
from minzheng.people import domain
from minzheng.people.enums import GrantStatus, PersonStatus, Relation
from minzheng.people.events import PersonDied, PersonMovedOut
from minzheng.people.models import Household, MinorAccessGrant, Person, PersonPhone
from minzheng.people.permissions import PeoplePerm
from minzheng.people.selectors import (
    PersonFilters,
    minor_grant_active,
    minor_grant_pending,
    minor_grant_queue,
    person_list,
    person_scope,
)

REVEALABLE = {"id_number": "身份证号", "phone": "联系电话", "address": "居住地址"}


def _require(actor: Actor, perm: str) -> None:
    if not actor.has_permission(perm):
        raise PermissionDenied()


def _aad(kind: str, uid: Any, field: str) -> str:
    return f"{kind}|{field}|{uid}"


def _division_in_scope(actor: Actor, code: str, field: str) -> Division:
    division = Division.objects.filter(code=(code or "").strip()).first()
    if division is None:
        raise ValidationFailed({field: "区划不存在"}, code="unknown_division")
    if division.level != Level.VILLAGE:
        raise ValidationFailed({field: "请选择到社区或村"}, code="division_not_village")
    if not division.path.startswith(actor.scope_path):
        raise ValidationFailed({field: "该村社不在您的管辖范围内"}, code="division_out_of_scope")
    return division


def _today() -> date:
    return timezone.localdate()


def _seal_phones(person: Person, phones: list[str]) -> None:
    PersonPhone.objects.filter(person=person).delete()
    PersonPhone.objects.bulk_create(
        PersonPhone(
            person=person,
            label="本人" if i == 0 else "其他",
            sealed=crypto.seal(p, _aad("person", person.uid, f"phone:{i}")),
            bidx=crypto.blind_index("phone", p),
            masked=mask_phone(p),
            tail=p[-4:],
        )
        for i, p in enumerate(phones)
    )


def person_create(*, actor: Actor, data: Mapping[str, Any]) -> Person:
    """Register a person in a community inside the actor's area. Refuses a known ID number."""
    _require(actor, PeoplePerm.CHANGE_PERSON)
    cleaned, errors = domain.clean_person(data, today=_today())
    for required in ("name", "id_number"):
        if required not in cleaned and required not in errors:
            errors[required] = "必填"
    division: Division | None = None
    try:
        division = _division_in_scope(actor, str(data.get("division_code") or ""), "division_code")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if "id_number" in cleaned and "id_number" not in errors:
        bidx = crypto.blind_index("id", cleaned["id_number"])
        if Person.objects.filter(id_bidx=bidx).exists():
            errors["id_number"] = "该身份证号已登记"
    if errors:
        raise ValidationFailed(errors, code="bad_person")
    assert division is not None  # noqa: S101 - errors would have been raised
    hukou_region = cleaned["id_number"][:6]
    person = Person(
        name=cleaned["name"],
        name_initials=domain.name_initials(cleaned["name"]),
        gender=cleaned["gender"],
        birth_date=cleaned["birth_date"],
        id_bidx=crypto.blind_index("id", cleaned["id_number"]),
        id_masked=mask_id_number(cleaned["id_number"]),
        hukou_region=hukou_region,
        hukou_in_zhejiang=cleaned.get("hukou_in_zhejiang", hukou_region.startswith("33")),
        division=division,
        area_path=division.path,
        address_masked=domain.mask_address(cleaned.get("address", "")) if cleaned.get("address") else "",
        living_arrangement=cleaned["living_arrangement"],
        self_care=cleaned["self_care"],
        disability_category=cleaned.get("disability_category", ""),
        disability_grade=cleaned.get("disability_grade"),
        health_flags=cleaned.get("health_flags", []),
        tags=cleaned.get("tags", []),
    )
    person.id_sealed = crypto.seal(cleaned["id_number"], _aad("person", person.uid, "id_number"))
    if cleaned.get("address"):
        person.address_sealed = crypto.seal(cleaned["address"], _aad("person", person.uid, "address"))
    try:
        with transaction.atomic():
            person.save()
            _seal_phones(person, cleaned.get("phones", []))
            audit_record(actor=actor, event_type="person.create", object_type="person", object_id=person.uid,
                         extra={"division": division.code})
    except IntegrityError:
        raise ValidationFailed({"id_number": "该身份证号已登记"}, code="bad_person") from None
    return person


UPDATABLE = (
    "name", "phones", "address", "living_arrangement", "self_care", "disability_category",
    "disability_grade", "health_flags", "tags", "hukou_in_zhejiang",
)


def person_update(*, actor: Actor, person: Person, data: Mapping[str, Any]) -> Person:
    """Change the editable fields of a person (ID number and birth date are not editable here)."""
    _require(actor, PeoplePerm.CHANGE_PERSON)
    if not person.area_path.startswith(actor.scope_path):
        raise NotFound()
    unknown = set(data) - set(UPDATABLE) - {"division_code"}
    if unknown:
        raise ValidationFailed(dict.fromkeys(sorted(unknown), "该字段不可修改"), code="field_not_editable")
    cleaned, errors = domain.clean_person({k: data[k] for k in UPDATABLE if k in data}, today=_today(), partial=True)
    division = None
    if "division_code" in data:
        try:
            division = _division_in_scope(actor, str(data["division_code"]), "division_code")
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors, code="bad_person")
    changed: list[str] = []
    with transaction.atomic():
        for field, value in cleaned.items():
            if field == "phones":
                _seal_phones(person, value)
                changed.append("phones")
            elif field == "address":
                person.address_sealed = crypto.seal(value, _aad("person", person.uid, "address")) if value else None
                person.address_masked = domain.mask_address(value) if value else ""
                changed += ["address_sealed", "address_masked"]
            elif getattr(person, field) != value:
                setattr(person, field, value)
                changed.append(field)
                if field == "name":
                    person.name_initials = domain.name_initials(value)
                    changed.append("name_initials")
        if division is not None and division.pk != person.division_id:
            person.division, person.area_path = division, division.path
            changed += ["division", "area_path"]
        model_fields = [f for f in changed if f != "phones"]
        if model_fields:
            person.save(update_fields=[*model_fields, "updated_at"])
        audit_record(actor=actor, event_type="person.update", object_type="person", object_id=person.uid,
                     extra={"fields": sorted(set(changed))})
    return person


def person_reveal(*, actor: Actor, person: Person, field: str, reason: str) -> str:
    """The full ID number, phone or address, for an actor allowed to see it; always audited."""
    _require(actor, PeoplePerm.REVEAL_IDENTIFIER)
    if not person.area_path.startswith(actor.scope_path):
        raise NotFound()
    if field not in REVEALABLE:
        raise ValidationFailed({"field": "不支持查看该字段"}, code="bad_field")
    if person.is_minor and minor_grant_active(actor=actor, person=person) is None:
        raise ApprovalRequired("查阅未成年人档案须经审批", code="minor_approval_required")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationFailed({"reason": "请填写查看原因"}, code="reason_required")
    if field == "id_number":
        value = crypto.unseal(bytes(person.id_sealed), _aad("person", person.uid, "id_number"))
    elif field == "address":
        value = crypto.unseal(bytes(person.address_sealed), _aad("person", person.uid, "address")) if person.address_sealed else ""
    else:
        values = [
            crypto.unseal(bytes(ph.sealed), _aad("person", person.uid, f"phone:{i}"))
            for i, ph in enumerate(PersonPhone.objects.filter(person=person).order_by("id"))
        ]
        value = "、".join(values)
    audit_record(actor=actor, event_type="person.reveal", object_type="person", object_id=person.uid,
                 reason=reason[:200], extra={"field": field})
    return value


def person_record_death(*, actor: Actor, person: Person, died_on: date) -> Person:
    _require(actor, PeoplePerm.RECORD_LIFE_EVENT)
    if not person.area_path.startswith(actor.scope_path):
        raise NotFound()
    if died_on > _today() or died_on < person.birth_date:
        raise ValidationFailed({"died_on": "死亡日期不合理"}, code="bad_date")
    if person.status == PersonStatus.DECEASED:
        raise Conflict("该人员已登记死亡", code="already_deceased")
    with transaction.atomic():
        person.status, person.deceased_on = PersonStatus.DECEASED, died_on
        person.save(update_fields=["status", "deceased_on", "updated_at"])
        audit_record(actor=actor, event_type="person.death", object_type="person", object_id=person.uid,
                     extra={"died_on": died_on.isoformat()})
        publish(PersonDied(person_id=person.pk, person_uid=str(person.uid), died_on=died_on))
    return person


def person_record_move_out(*, actor: Actor, person: Person, moved_on: date, destination: str) -> Person:
    _require(actor, PeoplePerm.RECORD_LIFE_EVENT)
    if not person.area_path.startswith(actor.scope_path):
        raise NotFound()
    errors = {}
    if moved_on > _today():
        errors["moved_on"] = "迁出日期不能晚于今天"
    if not (destination or "").strip():
        errors["destination"] = "请填写迁往地"
    if errors:
        raise ValidationFailed(errors, code="bad_move_out")
    if person.status != PersonStatus.ACTIVE:
        raise Conflict("该人员已不在册", code="not_active")
    with transaction.atomic():
        person.status, person.moved_out_on = PersonStatus.MOVED_OUT, moved_on
        person.save(update_fields=["status", "moved_out_on", "updated_at"])
        audit_record(actor=actor, event_type="person.move_out", object_type="person", object_id=person.uid,
                     extra={"moved_on": moved_on.isoformat()})
        publish(PersonMovedOut(person_id=person.pk, person_uid=str(person.uid), moved_on=moved_on,
                               destination=destination.strip()[:100]))
    return person


def household_create(*, actor: Actor, head: Person, address: str = "") -> Household:
    """Open a household with ``head`` as 户主, in the head's community."""
    _require(actor, PeoplePerm.CHANGE_PERSON)
    if not head.area_path.startswith(actor.scope_path):
        raise NotFound()
    if head.household_id:
        raise ValidationFailed({"head": "该人员已属于一个家庭户"}, code="already_in_household")
    if len(address) > domain.MAX_ADDRESS:
        raise ValidationFailed({"address": f"地址不超过{domain.MAX_ADDRESS}个字"}, code="bad_address")
    with transaction.atomic():
        household = Household(division=head.division, area_path=head.area_path)
        if address:
            household.address_sealed = crypto.seal(address, _aad("household", household.uid, "address"))
            household.address_masked = domain.mask_address(address)
        household.save()
        head.household, head.relation_to_head = household, Relation.HEAD
        head.save(update_fields=["household", "relation_to_head", "updated_at"])
        audit_record(actor=actor, event_type="household.create", object_type="household", object_id=household.uid)
    return household


def household_add_member(*, actor: Actor, household: Household, person: Person, relation: str) -> Person:
    _require(actor, PeoplePerm.CHANGE_PERSON)
    if not (household.area_path.startswith(actor.scope_path) and person.area_path.startswith(actor.scope_path)):
        raise NotFound()
    if relation not in Relation.value_set() or relation == Relation.HEAD:
        raise ValidationFailed({"relation": "与户主关系取值无效"}, code="bad_relation")
    if person.household_id and person.household_id != household.pk:
        raise ValidationFailed({"person": "该人员已属于另一个家庭户"}, code="already_in_household")
    with transaction.atomic():
        person.household, person.relation_to_head = household, relation
        person.save(update_fields=["household", "relation_to_head", "updated_at"])
        audit_record(actor=actor, event_type="household.add_member", object_type="household",
                     object_id=household.uid, extra={"person": str(person.uid), "relation": relation})
    return person


EXPORT_COLUMNS = (
    ("姓名", lambda p: p.name),
    ("性别", lambda p: p.get_gender_display()),
    ("出生日期", lambda p: p.birth_date.isoformat()),
    ("身份证号", lambda p: p.id_masked),
    ("街道/镇", lambda p: p.township_name),
    ("社区/村", lambda p: p.division.short_name),
    ("居住状况", lambda p: p.get_living_arrangement_display()),
    ("自理能力", lambda p: p.get_self_care_display()),
    ("状态", lambda p: p.get_status_display()),
)


def person_export(*, actor: Actor, filters: PersonFilters | None = None, query: str = "") -> tuple[bytes, int]:
    """An Excel file of the actor's scoped list, identifiers masked; audited (AU-1)."""
    from openpyxl import Workbook

    _require(actor, PeoplePerm.EXPORT_PERSON)
    limit = policy().export_max_rows
    qs = person_list(actor=actor, filters=filters, query=query)
    total = qs.count()
    if total > limit:
        raise ValidationFailed(
            {"export": f"导出上限为 {limit} 条,当前 {total} 条,请缩小筛选范围"}, code="export_too_large"
        )
    townships = {d.code: d.name for d in Division.objects.filter(level=Level.TOWNSHIP)}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员名单")
    ws.append([title for title, _ in EXPORT_COLUMNS])
    rows = 0
    for person in qs.iterator(chunk_size=2000):
        person.township_name = townships.get(person.area_path.split("/")[1], "")  # type: ignore[attr-defined]
        ws.append([get(person) for _, get in EXPORT_COLUMNS])
        rows += 1
    buf = io.BytesIO()
    wb.save(buf)
    audit_record(actor=actor, event_type="person.export", object_type="person", result="success",
                 extra={"rows": rows, "query": query[:40], "filters": {k: str(v) for k, v in vars(filters or PersonFilters()).items() if v}})
    return buf.getvalue(), rows


MINOR_GRANT_DAYS = 7


def minor_access_request(*, actor: Actor, person_uid: Any, reason: str) -> MinorAccessGrant:
    """Ask to open a minor's record; a second person (街道 or 区) decides."""
    _require(actor, PeoplePerm.VIEW_PERSON)
    if actor.is_machine:
        raise PermissionDenied("接口密钥不能申请查阅未成年人档案")
    person = person_scope(actor=actor).filter(uid=person_uid).first() if _is_uuid(person_uid) else None
    if person is None:
        raise NotFound()
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise ValidationFailed({"reason": "请说明查阅理由(至少4个字)"}, code="reason_required")
    existing = minor_grant_pending(actor=actor, person=person)
    if existing is not None:
        return existing
    with transaction.atomic():
        grant = MinorAccessGrant.objects.create(
            person=person, requested_by_id=actor.pk, requested_by_name=getattr(actor, "username", ""),
            reason=reason[:200],
        )
        audit_record(actor=actor, event_type="minor_access.request", object_type="person", object_id=person.uid,
                     reason=reason[:200], extra={"grant": grant.pk})
    return grant


def minor_access_decide(*, actor: Actor, grant_id: int, approve: bool) -> MinorAccessGrant:
    """Approve (for MINOR_GRANT_DAYS) or reject a request. Nobody approves their own request."""
    _require(actor, PeoplePerm.APPROVE_MINOR_ACCESS)
    with transaction.atomic():
        grant = minor_grant_queue(actor=actor).select_for_update(of=("self",)).filter(pk=grant_id).first()
        if grant is None:
            raise NotFound("审批申请不存在、已处理,或不在您的管辖范围内")
        now = timezone.now()
        grant.status = GrantStatus.APPROVED if approve else GrantStatus.REJECTED
        grant.decided_by_id, grant.decided_by_name, grant.decided_at = actor.pk, getattr(actor, "username", ""), now
        grant.expires_at = now + timedelta(days=MINOR_GRANT_DAYS) if approve else None
        grant.save(update_fields=["status", "decided_by_id", "decided_by_name", "decided_at", "expires_at", "updated_at"])
        audit_record(actor=actor, event_type="minor_access.approve" if approve else "minor_access.reject",
                     object_type="person", object_id=grant.person.uid,
                     extra={"grant": grant.pk, "requested_by": grant.requested_by_name})
    return grant


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
