"""Dynamic management (动态管理): reviews, 渐退, exits with reasons, adjustments, payee accounts; the
高龄津贴 auto-enrolment job; and what happens when a person dies or moves away (spine events)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q, Sum

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    HOUSEHOLD_PROGRAMS,
    LIVE_ENROLMENT,
    RECURRING,
    AdjustmentKind,
    AdjustmentStatus,
    EnrolmentStatus,
    ExitReason,
    GrantStatus,
    LineStatus,
    Program,
    ReviewOutcome,
    Stability,
    TaskStatus,
)
from minzheng.assistance.models import (
    Adjustment,
    Enrolment,
    EnrolmentMember,
    EnrolmentReview,
    Grant,
    PayrollLine,
    PayrollRoll,
    VisitTask,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.assistance.services.decisions import Outcome, decide_enrolment
from minzheng.assistance.services.status_tags import enrolment_tags_sync, status_tags_sync
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.people.domain import born_by
from minzheng.people.enums import PersonStatus
from minzheng.people.events import PersonDied, PersonMovedOut
from minzheng.people.models import Person
from minzheng.rules.engine import ymd
from minzheng.rules.programs import longevity

LONGEVITY_AGE = 80


def _lock(actor: Actor | None, enrolment: Enrolment | int) -> Enrolment:
    pk = enrolment.pk if isinstance(enrolment, Enrolment) else enrolment
    found = Enrolment.objects.select_for_update().select_related("person").filter(pk=pk).first()
    if found is None:
        raise NotFound()
    c.in_scope(actor, found.area_path)
    return found


# ------------------------------------------------------------------------------- 高龄津贴 job


def longevity_enrol(*, actor: Actor | None, on: date) -> int:
    """Enrol every living Zhejiang-hukou resident aged 80+ on ``on`` (no application), from the month
    of ``on``; end the allowance of anyone who no longer has Zhejiang hukou. Returns the number enrolled."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    month = domain.month_start(on)
    live = Enrolment.objects.filter(program=Program.LONGEVITY, status__in=sorted(LIVE_ENROLMENT))
    with transaction.atomic():
        candidates = list(
            Person.objects.filter(status=PersonStatus.ACTIVE, hukou_in_zhejiang=True, birth_date__lte=born_by(on, LONGEVITY_AGE))
            .exclude(pk__in=live.values("person_id"))
            .order_by("id").values_list("id", "division_id", "area_path", "birth_date")
        )
        if candidates:
            amounts = longevity.evaluate_arrays(
                np.asarray([ymd(b) for *_, b in candidates], dtype=np.int64),
                np.ones(len(candidates), dtype=np.bool_), on=month,
            ).amount_fen
            Enrolment.objects.bulk_create(
                (Enrolment(program=Program.LONGEVITY, person_id=pid, division_id=div, area_path=path,
                           township_code=c.township_code(path), start_month=month, monthly_fen=int(amount),
                           stability=Stability.STABLE, last_trace={"rule": "longevity.auto", "on": month.isoformat()})
                 for (pid, div, path, _b), amount in zip(candidates, amounts, strict=True)),
                batch_size=2000,
            )
        lost = list(live.filter(person__hukou_in_zhejiang=False).values_list("pk", flat=True))
        if lost:
            Enrolment.objects.filter(pk__in=lost).update(
                status=EnrolmentStatus.TERMINATED, exit_reason=ExitReason.OTHER, exit_note="户籍已不在浙江",
                exited_on=on, end_month=domain.add_months(month, -1))
        if candidates or lost:
            audit_record(actor=actor, event_type="assistance.longevity.enrol", object_type="assistance.enrolment",
                         extra={"on": on.isoformat(), "enrolled": len(candidates), "ended": len(lost)})
    return len(candidates)


def grace_expire(*, actor: Actor | None, on: date) -> int:
    """End 渐退 whose period is over: back to ACTIVE if the household qualifies without the job-income
    disregard, otherwise out with the reason 渐退期满 (paid through the last grace month)."""
    count = 0
    with transaction.atomic():
        for enrolment in Enrolment.objects.select_for_update().select_related("person").filter(
            status=EnrolmentStatus.GRACE, grace_until__lt=on
        ):
            outcome = decide_enrolment(enrolment, on=on)
            if outcome.eligible:
                enrolment.status, enrolment.grace_until = EnrolmentStatus.ACTIVE, None
                enrolment.monthly_fen = outcome.amount_fen
                enrolment.save(update_fields=["status", "grace_until", "monthly_fen", "updated_at"])
            else:
                _terminate(enrolment, ExitReason.GRACE_ENDED, "渐退期满,家庭收入超过标准",
                           domain.add_months(domain.month_start(on), -1), on)
            audit_record(actor=actor, event_type="assistance.enrolment.grace_end", object_type="assistance.enrolment",
                         object_id=enrolment.uid, extra={"eligible": outcome.eligible})
            count += 1
    return count


# -------------------------------------------------------------------------------- reviews


def _exit_reason(outcome: Outcome) -> str:
    failed = " ".join(outcome.failed)
    if ".income" in failed:
        return ExitReason.INCOME_ABOVE
    if any(k in failed for k in (".money_assets", ".vehicles", ".housing", ".business_capital")):
        return ExitReason.ASSETS_ABOVE
    if "age" in failed:
        return ExitReason.AGE_OUT
    return ExitReason.NOT_ELIGIBLE


def _apply_member_changes(enrolment: Enrolment, members: Sequence[Mapping[str, Any]]) -> list[EnrolmentMember]:
    current = {str(m.person.uid): m for m in enrolment.members.filter(active=True).select_related("person")}
    errors: dict[str, str] = {}
    changed: list[EnrolmentMember] = []
    for i, raw in enumerate(members):
        m = current.get(str(raw.get("person")))
        if m is None:
            errors[f"members[{i}].person"] = "不是本户在册成员(新增成员请重新申请)"
            continue
        try:
            if "income_yuan" in raw:
                m.income_fen = domain.yuan_to_fen(raw["income_yuan"], f"members[{i}].income_yuan",
                                                  maximum=domain.MAX_MONTHLY_INCOME_FEN)
            if "job_income_yuan" in raw:
                m.job_income_fen = domain.yuan_to_fen(raw["job_income_yuan"], f"members[{i}].job_income_yuan",
                                                      maximum=domain.MAX_MONTHLY_INCOME_FEN)
        except ValidationFailed as exc:
            errors.update(exc.fields)
            continue
        for flag in ("co_resident", "student", "cannot_live_independently", "able_bodied"):
            if flag in raw:
                setattr(m, flag, bool(raw[flag]) if not isinstance(raw[flag], str) else raw[flag] in ("1", "true", "on"))
        changed.append(m)
    if errors:
        raise ValidationFailed(errors, code="bad_review")
    return changed


def _apply_assets(enrolment: Enrolment, assets: Mapping[str, Any]) -> None:
    fields = {"money_assets_yuan": "money_assets_fen", "vehicle_value_yuan": "vehicle_value_fen",
              "business_capital_yuan": "business_capital_fen"}
    for key, attr in fields.items():
        if key in assets:
            setattr(enrolment, attr, domain.yuan_to_fen(assets[key], key, maximum=domain.MAX_ASSET_FEN))
    if "vehicles" in assets:
        try:
            vehicles = int(str(assets["vehicles"]))
            if not 0 <= vehicles <= 20:
                raise ValueError
        except ValueError:
            raise ValidationFailed({"vehicles": "车辆数应为0-20"}, code="bad_review") from None
        enrolment.vehicles = vehicles
    if "housing_ok" in assets:
        enrolment.housing_ok = bool(assets["housing_ok"])


def enrolment_review(
    *,
    actor: Actor,
    enrolment: Enrolment | int,
    members: Sequence[Mapping[str, Any]] = (),
    assets: Mapping[str, Any] | None = None,
    adl_failed: int | None = None,
    note: str = "",
) -> EnrolmentReview:
    """复核: record the household's current incomes and assets and let the rules decide.

    Eligible → continue (or adjust the amount). Ineligible because a member found a job → 渐退: that
    job income is disregarded (up to 3 × standard) for ``GRACE_MONTHS`` and the benefit continues.
    Otherwise → exit, with the failed rule as the reason, paid through this month.
    """
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    today = c.today()
    note_text = domain.clean_text(note, "note", max_len=1000)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        if e.status not in LIVE_ENROLMENT:
            raise Conflict("该对象已退出保障", code="not_live")
        if e.program not in RECURRING:
            raise Conflict("一次性救助不需要复核", code="bad_program")
        changed = _apply_member_changes(e, members) if members else []
        if assets:
            _apply_assets(e, assets)
        if adl_failed is not None:
            if not isinstance(adl_failed, int) or not 0 <= adl_failed <= 6:
                raise ValidationFailed({"adl_failed": "不能自理项数应为0-6"}, code="bad_review")
            e.adl_failed = adl_failed
        EnrolmentMember.objects.bulk_update(
            changed, ["income_fen", "job_income_fen", "co_resident", "student", "cannot_live_independently", "able_bodied"]
        ) if changed else None
        e.save()
        previous = e.monthly_fen
        outcome = decide_enrolment(e, on=today)
        result = ReviewOutcome.CONTINUE if outcome.amount_fen == previous else ReviewOutcome.ADJUST
        if not outcome.eligible and e.program in HOUSEHOLD_PROGRAMS and e.status != EnrolmentStatus.GRACE:
            jobs = e.members.filter(active=True, job_income_fen__gt=0)
            if jobs.exists():
                until = domain.month_end(domain.add_months(domain.month_start(today), domain.GRACE_MONTHS - 1))
                jobs.update(job_disregard_until=until)
                grace = decide_enrolment(e, on=today)
                if grace.eligible:
                    outcome, result = grace, ReviewOutcome.GRACE
                    e.status, e.grace_until = EnrolmentStatus.GRACE, until
                else:
                    jobs.update(job_disregard_until=None)
        if not outcome.eligible:
            result = ReviewOutcome.EXIT
            _terminate(e, _exit_reason(outcome), "复核不再符合条件:" + "、".join(outcome.failed), domain.month_start(today), today)
        else:
            able = e.members.filter(active=True, able_bodied=True).exists() or \
                e.members.filter(active=True, job_income_fen__gt=0).exists()
            e.stability = domain.stability_for(able_bodied_members=int(able), income_irregular=False) \
                if e.program in HOUSEHOLD_PROGRAMS else Stability.STABLE
            e.next_review_on = domain.next_review(today, e.stability)
            e.monthly_fen, e.persons = outcome.amount_fen, outcome.persons
            e.last_trace = {**outcome.trace, "explain": outcome.explain}
            e.save()
        reviewer_id, reviewer_name = c.who(actor)
        review = EnrolmentReview.objects.create(
            enrolment=e, reviewed_on=today, outcome=result, eligible=outcome.eligible, amount_fen=outcome.amount_fen,
            previous_fen=previous, trace={**outcome.trace, "explain": outcome.explain}, note=note_text,
            reviewer_id=reviewer_id, reviewer_name=reviewer_name,
        )
        audit_record(actor=actor, event_type="assistance.enrolment.review", object_type="assistance.enrolment",
                     object_id=e.uid, extra={"outcome": result, "amount_fen": outcome.amount_fen, "previous_fen": previous})
    return review


# ---------------------------------------------------------------------------------- exits


def _terminate(e: Enrolment, reason: str, note: str, last_month: date, on: date) -> None:
    """Stop an enrolment after ``last_month``: unpaid later lines are held, paid ones are owed back,
    future visits are cancelled. The caller holds the transaction and audits."""
    e.status, e.exit_reason, e.exit_note, e.exited_on = EnrolmentStatus.TERMINATED, reason, note[:1000], on
    e.end_month = last_month
    e.save(update_fields=["status", "exit_reason", "exit_note", "exited_on", "end_month", "updated_at"])
    enrolment_tags_sync(e)
    _hold(PayrollLine.objects.filter(enrolment=e, for_month__gt=last_month), f"已退出保障:{ExitReason(reason).label}")
    paid_after = PayrollLine.objects.filter(enrolment=e, for_month__gt=last_month).paid()
    overpaid = paid_after.aggregate(total=Sum("total_fen"))["total"] or 0
    if overpaid:
        months = sorted({domain.month_label(m) for m in paid_after.values_list("for_month", flat=True)})
        Adjustment.objects.create(enrolment=e, kind=AdjustmentKind.RECOVERY, amount_fen=-overpaid,
                                  months=",".join(months)[:200], reason=f"退出后多发金额追回({ExitReason(reason).label})",
                                  status=AdjustmentStatus.RECEIVABLE, created_by_name=c.SYSTEM_NAME)
    VisitTask.objects.filter(enrolment=e, month__gt=last_month, status=TaskStatus.PLANNED).update(status=TaskStatus.CANCELLED)


def _hold(lines: Any, reason: str) -> int:
    """Hold the not-yet-paid lines among ``lines``; the rolls are locked first, so a township being
    paid at the same moment either paid them already (then they are owed back) or never sees them."""
    unpaid = lines.unpaid()
    rolls = sorted(set(unpaid.values_list("roll_id", flat=True)))
    if not rolls:
        return 0
    list(PayrollRoll.objects.select_for_update().filter(pk__in=rolls).order_by("pk").values_list("pk", flat=True))
    return int(lines.unpaid().update(status=LineStatus.HELD, hold_reason=reason[:200]))


def enrolment_exit(*, actor: Actor, enrolment: Enrolment | int, reason: str, note: str, last_month: Any = None) -> Enrolment:
    """退出 with a reason and a written explanation (S8 §51): paid through ``last_month``."""
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    if reason not in ExitReason.value_set():
        raise ValidationFailed({"reason": "请选择退出原因"}, code="reason_required")
    text = domain.clean_text(note, "note", required=True, max_len=1000)
    if len(text) < 4:
        raise ValidationFailed({"note": "请写明退出理由(至少4个字)"}, code="reason_required")
    today = c.today()
    last = domain.parse_month(last_month, "last_month") if last_month not in (None, "") else domain.month_start(today)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        if e.status not in LIVE_ENROLMENT:
            raise Conflict("该对象已退出保障", code="not_live")
        if last < domain.add_months(e.start_month, -1):
            raise ValidationFailed({"last_month": "最后发放月不能早于起始发放月"}, code="bad_month")
        _terminate(e, reason, text, last, today)
        audit_record(actor=actor, event_type="assistance.enrolment.exit", object_type="assistance.enrolment",
                     object_id=e.uid, reason=text[:200], extra={"reason": reason, "last_month": domain.month_label(last)})
    return e


def enrolment_suspend(*, actor: Actor, enrolment: Enrolment | int, reason: str) -> Enrolment:
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    text = domain.clean_text(reason, "reason", required=True, max_len=200)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        if e.status not in (EnrolmentStatus.ACTIVE, EnrolmentStatus.GRACE):
            raise Conflict("只有在保对象可以暂停", code="bad_state")
        e.status, e.suspended_reason = EnrolmentStatus.SUSPENDED, text
        e.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_record(actor=actor, event_type="assistance.enrolment.suspend", object_type="assistance.enrolment",
                     object_id=e.uid, reason=text)
    return e


def enrolment_resume(*, actor: Actor, enrolment: Enrolment | int) -> Enrolment:
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        if e.status != EnrolmentStatus.SUSPENDED:
            raise Conflict("该对象未暂停", code="bad_state")
        if e.person.status != PersonStatus.ACTIVE:
            raise Conflict("收款人已不在册,请先变更收款人", code="payee_not_active")
        e.status, e.suspended_reason = (EnrolmentStatus.GRACE if e.grace_until else EnrolmentStatus.ACTIVE), ""
        e.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_record(actor=actor, event_type="assistance.enrolment.resume", object_type="assistance.enrolment",
                     object_id=e.uid)
    return e


def enrolment_set_account(*, actor: Actor, enrolment: Enrolment | int, bank_name: str, bank_account: str) -> Enrolment:
    """Change the payee account (sealed; the bank file refuses lines frozen with the old one)."""
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    account = c.clean_bank_account(bank_account)
    if not account:
        raise ValidationFailed({"bank_account": "请填写银行账号"}, code="bad_bank_account")
    bank = domain.clean_text(bank_name, "bank_name", required=True, max_len=64)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        e.bank_account_sealed, e.bank_account_masked, e.bank_ref = c.seal_account("enrolment", e.uid, account)
        e.bank_name = bank
        e.save(update_fields=["bank_account_sealed", "bank_account_masked", "bank_ref", "bank_name", "updated_at"])
        audit_record(actor=actor, event_type="assistance.enrolment.account", object_type="assistance.enrolment",
                     object_id=e.uid, extra={"masked": e.bank_account_masked})
    return e


def adjustment_create(*, actor: Actor, enrolment: Enrolment | int, kind: str, amount_yuan: Any, reason: str,
                      months: str = "") -> Adjustment:
    """补发 (paid with the next roll) or 追回 (deducted from the next payments, never below zero)."""
    c.require(actor, AssistancePerm.MANAGE_ENROLMENT)
    if kind not in AdjustmentKind.value_set():
        raise ValidationFailed({"kind": "请选择补发或追回"}, code="bad_adjustment")
    amount = domain.yuan_to_fen(amount_yuan, "amount_yuan", maximum=domain.MAX_GRANT_FEN, allow_zero=False)
    text = domain.clean_text(reason, "reason", required=True, max_len=300)
    with transaction.atomic():
        e = _lock(actor, enrolment)
        live = e.status in LIVE_ENROLMENT
        if kind == AdjustmentKind.SUPPLEMENT and not live:
            raise Conflict("已退出的对象不能补发,请走一次性救助", code="not_live")
        actor_id, actor_name = c.who(actor)
        adj = Adjustment.objects.create(
            enrolment=e, kind=kind, amount_fen=amount if kind == AdjustmentKind.SUPPLEMENT else -amount,
            months=domain.clean_text(months, "months", max_len=200), reason=text,
            status=AdjustmentStatus.OPEN if live else AdjustmentStatus.RECEIVABLE,
            created_by_id=actor_id, created_by_name=actor_name,
        )
        audit_record(actor=actor, event_type="assistance.adjustment.create", object_type="assistance.enrolment",
                     object_id=e.uid, reason=text[:200], extra={"kind": kind, "amount_fen": adj.amount_fen})
    return adj


# ------------------------------------------------------------------------ spine event handlers


def _stop_person(person_id: int, reason: str, on: date, label: str) -> None:
    last_month = domain.month_start(on)  # paid through the month of the event (assumption)
    today = c.today()
    stopped: list[str] = []
    with transaction.atomic():
        EnrolmentMember.objects.filter(person_id=person_id, active=True).update(active=False)
        ids = set(Enrolment.objects.filter(
            Q(person_id=person_id) | Q(members__person_id=person_id), status__in=sorted(LIVE_ENROLMENT)
        ).values_list("pk", flat=True))
        for e in Enrolment.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            if e.person_id == person_id:
                others = e.members.filter(active=True).exists() if e.program in HOUSEHOLD_PROGRAMS else False
                if others:
                    e.status = EnrolmentStatus.SUSPENDED
                    e.suspended_reason = f"收款人{label},请变更收款人并复核"
                    e.next_review_on = today
                    e.save(update_fields=["status", "suspended_reason", "next_review_on", "updated_at"])
                    _hold(PayrollLine.objects.filter(enrolment=e, for_month__gt=last_month), f"收款人{label}")
                else:
                    _terminate(e, reason, f"收款人{label}({on.isoformat()})", last_month, today)
            else:
                e.next_review_on = today  # a member left: the household is reviewed (复核 on change)
                e.save(update_fields=["next_review_on", "updated_at"])
            stopped.append(str(e.uid))
        Grant.objects.filter(person_id=person_id, status=GrantStatus.APPROVED, emergency=False).update(status=GrantStatus.CANCELLED)
        _hold(PayrollLine.objects.filter(person_id=person_id, for_month__gt=last_month), f"收款人{label}")
        status_tags_sync(person_ids=[person_id])  # no longer in any household's 低保
        if stopped:
            audit_record(actor=None, event_type=f"assistance.enrolment.{reason}", object_type="assistance.person",
                         object_id=person_id, extra={"enrolments": stopped, "on": on.isoformat()})


def on_person_died(event: PersonDied) -> None:
    _stop_person(event.person_id, ExitReason.DEATH, event.died_on, "已故")


def on_person_moved_out(event: PersonMovedOut) -> None:
    _stop_person(event.person_id, ExitReason.MOVED_OUT, event.moved_on, "已迁出")
