"""Diners: registration from the people registry, review within one working day, credentials
(市民卡/爱心卡, dynamic QR, face reference), leave, and suspension on death or moving out."""

from __future__ import annotations

import time as _time
from datetime import date
from typing import Any

import chinese_calendar
from django.db import IntegrityError, transaction
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.meals import domain
from minzheng.meals.enums import CARD_KINDS, YUHANG, DinerStatus, LeaveKind
from minzheng.meals.models import Diner, DinerCard, DinerLeave, FaceEnrolment
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import require, rule_set_for, terminal_point_id
from minzheng.people.events import PersonDied, PersonMovedOut, StatusTagsChanged
from minzheng.people.selectors import person_get


def is_workday(day: date) -> bool:
    """Statutory holidays and make-up workdays from chinese-calendar; weekdays beyond its data."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def categories_of(person: Any, day: date) -> list[str]:
    cats = domain.derive_categories(
        age=domain.age_on(person.birth_date, day), self_care=person.self_care,
        living_arrangement=person.living_arrangement, disability_category=person.disability_category,
        tags=person.tags or [],
    )
    return sorted(cats)


def _in_scope(actor: Actor, diner: Diner) -> None:
    if not diner.area_path.startswith(actor.scope_path):
        raise NotFound()


def diner_register(*, actor: Actor, person_uid: Any, note: str = "") -> Diner:
    """Register a resident as a diner (pending review, due by the end of the next working day).

    The person is looked up through the people registry with the actor's area scope; a person
    under the rule set's minimum age, deceased or moved out is refused."""
    require(actor, MealsPerm.REGISTER_DINER)
    person = person_get(actor=actor, uid=person_uid)
    today = timezone.localdate()
    if person.status != "active":
        raise ValidationFailed({"person": "该人员已身故或迁出, 不能登记助餐"}, code="person_inactive")
    rules = rule_set_for(region=YUHANG, day=today)
    min_age = rules.min_age if rules else domain.ELDER_AGE
    age = domain.age_on(person.birth_date, today)
    if age < min_age:
        raise ValidationFailed({"person": f"{age}岁, 未满{min_age}周岁, 不属于老年助餐对象"}, code="too_young")
    existing = Diner.objects.filter(person=person).first()
    if existing is not None and existing.status != DinerStatus.REJECTED:
        raise Conflict("该老人已登记为助餐对象", code="already_registered", extra={"diner": str(existing.uid)})
    with transaction.atomic():
        diner = existing or Diner(person=person)
        diner.name_masked = domain.mask_name(person.name)
        diner.birth_date = person.birth_date
        diner.home_region = YUHANG
        diner.division_id = person.division_id
        diner.area_path = person.area_path
        diner.status = DinerStatus.PENDING
        diner.categories = categories_of(person, today)
        diner.registered_by_id = getattr(actor, "pk", None)
        diner.review_due = domain.review_deadline(today, is_workday)
        diner.reviewed_by_id = None
        diner.reviewed_at = None
        diner.review_note = (note or "")[:200]
        diner.save()
        audit_record(actor=actor, event_type="meals.diner_register", object_type="meals.diner", object_id=diner.uid,
                     extra={"categories": diner.categories, "review_due": diner.review_due.isoformat()})
    return diner


def diner_review(*, actor: Actor, diner: Diner, approve: bool, note: str = "") -> Diner:
    """Approve or reject a registration; nobody reviews a registration they made (four eyes)."""
    require(actor, MealsPerm.REVIEW_DINER)
    _in_scope(actor, diner)
    if diner.registered_by_id is not None and diner.registered_by_id == getattr(actor, "pk", None):
        raise PermissionDenied("不能审核自己登记的助餐对象", code="self_review")
    if not approve and not (note or "").strip():
        raise ValidationFailed({"note": "不通过时请填写原因"}, code="note_required")
    with transaction.atomic():
        locked = Diner.objects.select_for_update().get(pk=diner.pk)
        if locked.status != DinerStatus.PENDING:
            raise Conflict("该登记已审核", code="already_reviewed")
        locked.status = DinerStatus.ACTIVE if approve else DinerStatus.REJECTED
        locked.reviewed_by_id = getattr(actor, "pk", None)
        locked.reviewed_at = timezone.now()
        locked.review_note = (note or "").strip()[:200]
        locked.save(update_fields=["status", "reviewed_by_id", "reviewed_at", "review_note", "updated_at"])
        audit_record(actor=actor, event_type="meals.diner_review", object_type="meals.diner", object_id=locked.uid,
                     extra={"approve": approve, "late": bool(locked.review_due and timezone.localdate() > locked.review_due)})
    return locked


def diner_refresh_categories(*, actor: Actor | None, diner: Diner) -> Diner:
    """Re-derive the target groups from the registry (after the registry changed)."""
    if diner.person is None:
        return diner
    cats = categories_of(diner.person, timezone.localdate())
    if cats != list(diner.categories or []):
        with transaction.atomic():
            Diner.objects.filter(pk=diner.pk).update(categories=cats)
            audit_record(actor=actor, event_type="meals.diner_categories", object_type="meals.diner",
                         object_id=diner.uid, extra={"before": diner.categories, "after": cats})
        diner.categories = cats
    return diner


# --- credentials --------------------------------------------------------------------------------


def card_issue(*, actor: Actor, diner: Diner, kind: str, number: str) -> DinerCard:
    """Bind a 市民卡 or 爱心卡 to a diner: sealed, blind-indexed, shown masked."""
    require(actor, MealsPerm.REGISTER_DINER)
    _in_scope(actor, diner)
    if kind not in CARD_KINDS:
        raise ValidationFailed({"kind": "卡类应为市民卡或爱心卡"}, code="bad_card_kind")
    norm = domain.normalise_card(number)
    if not 6 <= len(norm) <= 32:
        raise ValidationFailed({"number": "卡号应为6–32位字母或数字"}, code="bad_card_number")
    bidx = crypto.blind_index("meal_card", norm)
    if DinerCard.objects.filter(bidx=bidx).exists():
        raise ValidationFailed({"number": "该卡号已绑定助餐对象"}, code="card_taken")
    try:
        with transaction.atomic():
            card = DinerCard.objects.create(
                diner=diner, kind=kind, sealed=crypto.seal(norm, f"meals|card|{diner.uid}"), bidx=bidx,
                masked=domain.mask_card(norm),
            )
            audit_record(actor=actor, event_type="meals.card_issue", object_type="meals.diner", object_id=diner.uid,
                         extra={"kind": kind, "card": card.masked})
    except IntegrityError:
        raise ValidationFailed({"number": "该卡号已绑定助餐对象"}, code="card_taken") from None
    return card


def card_deactivate(*, actor: Actor, card: DinerCard, reason: str) -> DinerCard:
    require(actor, MealsPerm.REGISTER_DINER)
    _in_scope(actor, card.diner)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "请填写停用原因"}, code="reason_required")
    with transaction.atomic():
        DinerCard.objects.filter(pk=card.pk).update(active=False)
        audit_record(actor=actor, event_type="meals.card_deactivate", object_type="meals.diner",
                     object_id=card.diner.uid, reason=reason, extra={"card": card.masked})
    card.active = False
    return card


def qr_issue(*, actor: Actor, diner: Diner, ttl: int = domain.QR_TTL_SECONDS) -> str:
    """A dynamic QR code for the elder's phone or a printed fallback; valid ``ttl`` seconds."""
    require(actor, MealsPerm.REGISTER_DINER)
    _in_scope(actor, diner)
    if diner.status != DinerStatus.ACTIVE:
        raise Conflict("助餐对象状态不是正常, 不能出示就餐码", code="diner_not_active")
    return domain.qr_make(diner.pk, now_ts=int(_time.time()), ttl=max(10, min(ttl, 600)))


def face_enrol(*, actor: Actor, diner: Diner, ref: str) -> FaceEnrolment:
    """A terminal's face engine enrolled the elder and issued ``ref``; the platform keeps the
    reference only (blind-indexed), never an image."""
    require(actor, MealsPerm.ENROL_FACE)
    point_id = terminal_point_id(actor.pk)
    if point_id is None:
        raise PermissionDenied("该终端未绑定助餐点", code="terminal_unbound")
    ref = (ref or "").strip()
    if not 8 <= len(ref) <= 64 or not all(c.isalnum() or c in "-_" for c in ref):
        raise ValidationFailed({"ref": "人脸登记引用号应为8–64位字母、数字、- 或 _"}, code="bad_face_ref")
    if diner.status != DinerStatus.ACTIVE:
        raise Conflict("助餐对象状态不是正常, 不能登记人脸", code="diner_not_active")
    bidx = crypto.blind_index("meal_face", ref)
    try:
        with transaction.atomic():
            FaceEnrolment.objects.filter(diner=diner, active=True).update(active=False)
            face = FaceEnrolment.objects.create(diner=diner, ref_bidx=bidx, ref_masked=ref[:4] + "****",
                                                point_id=point_id, terminal_key_id=actor.pk)
            audit_record(actor=actor, event_type="meals.face_enrol", object_type="meals.diner", object_id=diner.uid,
                         extra={"point": point_id})
    except IntegrityError:
        raise ValidationFailed({"ref": "该引用号已被使用"}, code="face_ref_taken") from None
    return face


# --- leave --------------------------------------------------------------------------------------


def leave_record(*, actor: Actor, diner: Diner, kind: str, starts: date, ends: date | None = None,
                 note: str = "") -> DinerLeave:
    """外出/住院报备: hospital leave suppresses the subsidy; either kind silences the absence check."""
    require(actor, MealsPerm.REGISTER_DINER)
    _in_scope(actor, diner)
    errors = {}
    if kind not in LeaveKind.value_set():
        errors["kind"] = "请选择外出或住院"
    if ends is not None and ends < starts:
        errors["ends"] = "结束日期不能早于开始日期"
    if errors:
        raise ValidationFailed(errors, code="bad_leave")
    with transaction.atomic():
        leave = DinerLeave.objects.create(diner=diner, kind=kind, starts=starts, ends=ends, note=(note or "")[:200],
                                          created_by_id=getattr(actor, "pk", None))
        audit_record(actor=actor, event_type="meals.leave_record", object_type="meals.diner", object_id=diner.uid,
                     extra={"kind": kind, "starts": starts.isoformat(), "ends": ends.isoformat() if ends else None})
    return leave


def leave_end(*, actor: Actor, leave: DinerLeave, ends: date) -> DinerLeave:
    require(actor, MealsPerm.REGISTER_DINER)
    _in_scope(actor, leave.diner)
    if ends < leave.starts:
        raise ValidationFailed({"ends": "结束日期不能早于开始日期"}, code="bad_leave")
    with transaction.atomic():
        DinerLeave.objects.filter(pk=leave.pk).update(ends=ends)
        audit_record(actor=actor, event_type="meals.leave_end", object_type="meals.diner",
                     object_id=leave.diner.uid, extra={"ends": ends.isoformat()})
    leave.ends = ends
    return leave


# --- life events (subscribed in MealsConfig.ready) ----------------------------------------------


def diner_suspend(*, actor: Actor | None, diner: Diner, reason: str) -> Diner:
    with transaction.atomic():
        locked = Diner.objects.select_for_update().get(pk=diner.pk)
        if locked.status == DinerStatus.SUSPENDED:
            return locked
        locked.status = DinerStatus.SUSPENDED
        locked.suspended_reason = reason[:200]
        locked.suspended_at = timezone.now()
        locked.save(update_fields=["status", "suspended_reason", "suspended_at", "updated_at"])
        audit_record(actor=actor, event_type="meals.diner_suspend", object_type="meals.diner", object_id=locked.uid,
                     reason=reason)
    return locked


def diner_resume(*, actor: Actor, diner: Diner, note: str = "") -> Diner:
    require(actor, MealsPerm.REVIEW_DINER)
    _in_scope(actor, diner)
    if diner.person is not None and diner.person.status != "active":
        raise Conflict("该人员已身故或迁出, 不能恢复", code="person_inactive")
    with transaction.atomic():
        updated = Diner.objects.filter(pk=diner.pk, status=DinerStatus.SUSPENDED).update(
            status=DinerStatus.ACTIVE, suspended_reason="", suspended_at=None)
        if not updated:
            raise Conflict("该助餐对象未处于暂停状态", code="not_suspended")
        audit_record(actor=actor, event_type="meals.diner_resume", object_type="meals.diner", object_id=diner.uid,
                     reason=note)
    diner.refresh_from_db()
    return diner


def on_person_died(event: PersonDied) -> None:
    from minzheng.meals.services.wallets import wallet_clawback_all

    diner = diner_scope_all().filter(person_id=event.person_id).first()
    if diner is None:
        return
    diner = diner_suspend(actor=None, diner=diner, reason=f"身故({event.died_on.isoformat()}), 自动暂停")
    if diner.has_wallet:
        wallet_clawback_all(actor=None, diner=diner, reason="身故, 电子津贴余额收回")


def on_person_moved_out(event: PersonMovedOut) -> None:
    diner = diner_scope_all().filter(person_id=event.person_id).first()
    if diner is None:
        return
    diner_suspend(actor=None, diner=diner, reason=f"迁出({event.moved_on.isoformat()}), 自动暂停")


def on_status_tags_changed(event: StatusTagsChanged) -> None:
    """Another domain rewrote status tags (低保/低边/特困) on people's records: the diners among them
    get their groups derived again. The till reads the record itself, so its prices already follow."""
    for diner in diner_scope_all().select_related("person").filter(person_id__in=event.person_ids).iterator(chunk_size=500):
        diner_refresh_categories(actor=None, diner=diner)


def diner_scope_all() -> Any:
    """Internal callers without an actor (event handlers, jobs): every diner."""
    return Diner.objects.all()

