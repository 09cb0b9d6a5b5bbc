"""Writes of the people registry. Each runs in one transaction and audits what it changed."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, NoReturn

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.events import publish
from minzheng.core.exceptions import (
    ApplicationError,
    ApprovalRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from minzheng.core.identifiers import mask_id_number, mask_phone
from minzheng.core.policy import policy
from minzheng.core.services import audit_record
from minzheng.divisions.enums import Level
from minzheng.divisions.models import Division
from minzheng.people import domain
from minzheng.people.enums import GrantStatus, PersonStatus, Relation
from minzheng.people.events import PersonDied, PersonMovedOut, StatusTagsChanged
from minzheng.people.models import (
    ExportApproval,
    ExportRecord,
    Household,
    MinorAccessGrant,
    Person,
    PersonPhone,
)
from minzheng.people.permissions import PeoplePerm
from minzheng.people.selectors import (
    PersonFilters,
    export_approval_pending,
    export_approval_queue,
    export_approval_usable,
    export_criteria,
    export_description,
    export_fingerprint,
    export_rows_today,
    minor_grant_active,
    minor_grant_pending,
    minor_grant_queue,
    person_count,
    person_list,
    person_scope,
)

# The same words whether the number is registered in the actor's area or in anyone else's: a
# registration form must not tell a worker that someone lives elsewhere in the district (AC-2).
DUPLICATE_ID = "身份证号已登记,请联系上级核实"

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


# Tags a domain owns and keeps in step itself (``person_status_tags_sync``): staff cannot type them.
_owned_tags: dict[str, str] = {}


def register_owned_tags(owner: str, tags: Iterable[str]) -> None:
    """Called from the owning app's ``ready()``: ``owner`` names it for the error staff see."""
    for tag in tags:
        _owned_tags[tag] = owner


def _owned_tags_error(before: Iterable[str], after: Iterable[str]) -> str | None:
    touched = sorted((set(before) ^ set(after)) & set(_owned_tags))
    if not touched:
        return None
    owners = "、".join(sorted({_owned_tags[t] for t in touched}))
    return f"标签{'、'.join(touched)}由{owners}业务自动维护, 不能手工增删"


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
            errors["id_number"] = DUPLICATE_ID
    owned = _owned_tags_error((), cleaned.get("tags", ()))
    if owned:
        errors["tags"] = owned
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
        raise ValidationFailed({"id_number": DUPLICATE_ID}, code="bad_person") from None
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
    owned = _owned_tags_error(person.tags or (), cleaned["tags"]) if "tags" in cleaned else None
    if owned:
        errors["tags"] = owned
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


def person_status_tags_sync(*, source: str, managed: Iterable[str], held: Mapping[int, Iterable[str]],
                            person_ids: Iterable[int] | None = None) -> int:
    """Make the tags in ``managed`` on each person's record read exactly ``held[person]`` (none
    when absent), leaving every other tag alone: how a domain that owns a status (assistance owns
    低保/低边/特困) keeps the registry, which the other domains read, in step with it.

    ``person_ids``: the people whose status may have changed; ``None`` reconciles everyone (the
    holders and whoever carries one of the tags now). A system action, audited as one row naming
    the people changed; publishes ``StatusTagsChanged``. Returns how many records changed."""
    managed = tuple(dict.fromkeys(managed))
    wanted = {pid: set(tags) for pid, tags in held.items()}
    if person_ids is None:
        owned = frozenset(managed)
        carriers = (pid for pid, tags in Person.objects.exclude(tags=[]).values_list("id", "tags").iterator(chunk_size=5000)
                    if not owned.isdisjoint(tags or ()))
        candidates = sorted(set(wanted) | set(carriers))
    else:
        candidates = sorted(set(person_ids))
    now = timezone.now()
    changed: list[Person] = []
    for start in range(0, len(candidates), 5000):
        for pid, uid, tags in Person.objects.filter(pk__in=candidates[start:start + 5000]).values_list("id", "uid", "tags"):
            tags = list(tags or [])
            new = [t for t in tags if t not in managed] + [t for t in managed if t in wanted.get(pid, ())]
            if new != tags:
                changed.append(Person(pk=pid, uid=uid, tags=new, updated_at=now))
    if not changed:
        return 0
    with transaction.atomic():
        Person.objects.bulk_update(changed, ["tags", "updated_at"], batch_size=1000)
        audit_record(actor=None, event_type="person.status_tags", object_type="person",
                     object_id=changed[0].uid if len(changed) == 1 else f"{len(changed)}人",
                     extra={"source": source, "tags": list(managed), "changed": len(changed),
                            "persons": [str(p.uid) for p in changed[:500]]})
        publish(StatusTagsChanged(person_ids=tuple(p.pk for p in changed), source=source))
    return len(changed)


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


EXPORT_APPROVAL_HOURS = 24
_EXPORT_LOCK = 0x4D5A4558  # pg_advisory_xact_lock class id of "one exporter at a time"


def _lock_exporter(actor: Actor) -> None:
    """Serialise one member's exports so two at once cannot both pass the daily cap. SQLite
    serialises writers by itself; PostgreSQL takes a transaction-scoped advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_EXPORT_LOCK, int(actor.pk) % 2**31])


def _refuse_export(actor: Actor, error: ApplicationError, extra: dict[str, Any]) -> NoReturn:
    """The refusal is the alert of A13: one audit row with result failure, nothing else written."""
    audit_record(actor=actor, event_type="person.export_refused", object_type="person", result="failure",
                 reason=error.message[:200], extra=extra)
    raise error


def person_export(*, actor: Actor, filters: PersonFilters | None = None, query: str = "") -> tuple[bytes, int]:
    """An Excel file of the actor's scoped list, identifiers masked; audited (AU-1).

    Security AC-5 / A13: more than ``export_approval_rows`` rows need the actor's own approved,
    unused approval of exactly these criteria (used up by this export); nobody exports more than
    ``export_daily_rows`` rows a calendar day (Asia/Shanghai); ``export_max_rows`` is the ceiling.
    """
    from openpyxl import Workbook

    _require(actor, PeoplePerm.EXPORT_PERSON)
    rules = policy()
    limit = rules.export_max_rows
    qs = person_list(actor=actor, filters=filters, query=query)
    criteria = export_criteria(filters=filters, query=query)
    fingerprint = export_fingerprint(criteria)
    refusal: ApplicationError | None = None
    with transaction.atomic():
        _lock_exporter(actor)
        total = qs.count()
        used = export_rows_today(actor=actor)
        approval: ExportApproval | None = None
        if total > limit:
            raise ValidationFailed(
                {"export": f"导出上限为 {limit} 条,当前 {total} 条,请缩小筛选范围"}, code="export_too_large"
            )
        if used + total > rules.export_daily_rows:
            refusal = Throttled(
                f"今日已导出 {used} 条,本次 {total} 条将超过每人每日导出上限 {rules.export_daily_rows} 条,"
                "导出被拒绝;如确需导出,请明日再试或联系上级",
                code="export_daily_limit", extra={"rows": total, "used_today": used},
            )
        elif total > rules.export_approval_rows:
            approval = export_approval_usable(actor=actor, fingerprint=fingerprint)
            if approval is not None:
                approval = ExportApproval.objects.select_for_update().get(pk=approval.pk)
                if approval.used_at is not None or approval.status != GrantStatus.APPROVED:
                    approval = None
            if approval is None:
                pending = export_approval_pending(actor=actor, fingerprint=fingerprint)
                refusal = ApprovalRequired(
                    f"您的导出申请({total} 条)正在等待街道或区级审批" if pending else
                    f"导出 {total} 条超过 {rules.export_approval_rows} 条,须经街道或区级审批后方可导出",
                    code="export_approval_required", extra={"rows": total, "pending": pending is not None},
                )
            elif total > approval.row_count:
                refusal = ApprovalRequired(
                    f"当前 {total} 条多于审批时的 {approval.row_count} 条,请重新申请导出审批",
                    code="export_approval_required", extra={"rows": total, "pending": False},
                )
                approval = None
        if refusal is None:
            content, rows = _export_workbook(Workbook, qs)
            now = timezone.now()
            if approval is not None:
                approval.used_at = now
                approval.save(update_fields=["used_at", "updated_at"])
            ExportRecord.objects.create(exported_by_id=actor.pk, exported_by_name=getattr(actor, "username", ""),
                                        at=now, rows=rows, approval=approval)
            audit_record(actor=actor, event_type="person.export", object_type="person", result="success",
                         extra={"rows": rows, "query": query[:40], "approval": approval.pk if approval else None,
                                "filters": {k: v for k, v in criteria.items() if v and k != "query"}})
            return content, rows
    _refuse_export(actor, refusal, {"rows": total, "used_today": used, "code": refusal.code,
                                    "query": query[:40]})


def _export_workbook(workbook: Any, qs: Any) -> tuple[bytes, int]:
    townships = {d.code: d.name for d in Division.objects.filter(level=Level.TOWNSHIP)}
    wb = workbook(write_only=True)
    ws = wb.create_sheet("人员名单")
    ws.append([title for title, _ in EXPORT_COLUMNS])
    rows = 0
    for person in qs.iterator(chunk_size=2000):
        person.township_name = townships.get(person.area_path.split("/")[1], "")
        ws.append([get(person) for _, get in EXPORT_COLUMNS])
        rows += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), rows


def export_approval_request(
    *, actor: Actor, filters: PersonFilters | None = None, query: str = "", reason: str
) -> ExportApproval:
    """Ask a second person (街道 or 区) to approve one export of more than ``export_approval_rows``
    rows with exactly these criteria. A pending request for the same criteria is returned as is."""
    _require(actor, PeoplePerm.EXPORT_PERSON)
    if actor.is_machine:
        raise PermissionDenied("接口密钥不能申请导出")
    rules = policy()
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise ValidationFailed({"reason": "请说明导出理由(至少4个字)"}, code="reason_required")
    if domain.query_is_sensitive(query):  # an ID or phone search never reaches 100 rows; never stored
        raise ValidationFailed({"q": "按身份证号或手机号查询的结果无需审批,可直接导出"}, code="export_approval_not_needed")
    total = person_count(actor=actor, filters=filters, query=query)
    if total <= rules.export_approval_rows:
        raise ValidationFailed(
            {"export": f"共 {total} 条,不超过 {rules.export_approval_rows} 条,无需审批,可直接导出"},
            code="export_approval_not_needed",
        )
    ceiling = min(rules.export_max_rows, rules.export_daily_rows)
    if total > ceiling:
        raise ValidationFailed(
            {"export": f"共 {total} 条,超过每人每日导出上限 {ceiling} 条,请缩小筛选范围后再申请"},
            code="export_too_large",
        )
    criteria = export_criteria(filters=filters, query=query)
    fingerprint = export_fingerprint(criteria)
    existing = export_approval_pending(actor=actor, fingerprint=fingerprint)
    if existing is not None:
        return existing
    with transaction.atomic():
        approval = ExportApproval.objects.create(
            requested_by_id=actor.pk, requested_by_name=getattr(actor, "username", ""),
            scope_path=actor.scope_path, criteria=criteria, fingerprint=fingerprint,
            description=export_description(criteria), row_count=total, reason=reason[:200],
        )
        audit_record(actor=actor, event_type="export_approval.request", object_type="export_approval",
                     object_id=approval.pk, reason=reason[:200],
                     extra={"rows": total, "criteria": approval.description})
    return approval


def export_approval_decide(*, actor: Actor, approval_id: int, approve: bool) -> ExportApproval:
    """Approve (one export within EXPORT_APPROVAL_HOURS) or reject. Nobody decides their own request;
    a request from outside the approver's area does not exist for them (404)."""
    _require(actor, PeoplePerm.APPROVE_EXPORT)
    with transaction.atomic():
        in_scope = ExportApproval.objects.filter(
            pk=approval_id, status=GrantStatus.PENDING, scope_path__startswith=actor.scope_path
        )
        if in_scope.filter(requested_by_id=actor.pk, requested_by_name=getattr(actor, "username", "")).exists():
            raise PermissionDenied("不能审批本人提交的导出申请", code="own_request")
        approval = export_approval_queue(actor=actor).select_for_update().filter(pk=approval_id).first()
        if approval is None:
            raise NotFound("审批申请不存在、已处理,或不在您的管辖范围内")
        now = timezone.now()
        approval.status = GrantStatus.APPROVED if approve else GrantStatus.REJECTED
        approval.decided_by_id, approval.decided_by_name, approval.decided_at = (
            actor.pk, getattr(actor, "username", ""), now)
        approval.expires_at = now + timedelta(hours=EXPORT_APPROVAL_HOURS) if approve else None
        approval.save(update_fields=["status", "decided_by_id", "decided_by_name", "decided_at", "expires_at",
                                     "updated_at"])
        audit_record(actor=actor, event_type="export_approval.approve" if approve else "export_approval.reject",
                     object_type="export_approval", object_id=approval.pk,
                     extra={"requested_by": approval.requested_by_name, "rows": approval.row_count})
    return approval


MINOR_GRANT_DAYS = 7


def minor_access_request(*, actor: Actor, person_uid: Any, reason: str) -> MinorAccessGrant:
    """Ask to open a minor's record; a second person (街道 or 区) decides."""
    _require(actor, PeoplePerm.VIEW_PERSON)
    if actor.is_machine:
        raise PermissionDenied("接口密钥不能申请查阅未成年人档案")
    person = person_scope(actor=actor).filter(uid=person_uid).first() if _is_uuid(person_uid) else None
    if person is None:
        raise NotFound()
    if not person.is_minor:
        raise ValidationFailed({"person": "该人员已成年,查阅档案无需审批"}, code="not_a_minor")
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
