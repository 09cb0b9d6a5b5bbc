"""The application workflow: 申请 → 受理 → 家庭经济状况核对 → 入户调查 → 公示 → 审批 (business_rules §1.7).

Each service is one transaction: it locks the application row, checks the state machine
(``domain.TRANSITIONS``), the permission, the actor's area, separation of duties and the authority
limit, writes the change, one ``ApplicationEvent`` and one audit row. A refusal raises before
anything is written (``ValidationFailed`` naming the field, ``Conflict``, ``PermissionDenied``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    APPLICABLE,
    HOUSEHOLD_PROGRAMS,
    LIVE_ENROLMENT,
    MONEY_ASSETS,
    ONE_OFF,
    OPEN_APPLICATION,
    RECURRING,
    SPECIAL,
    ApplicationStatus,
    AssetKind,
    AttachmentKind,
    AwayCode,
    CareForm,
    ChildCategory,
    EvidenceSource,
    GrantStatus,
    IncomeKind,
    Program,
    Stability,
)
from minzheng.assistance.models import (
    Application,
    ApplicationEvent,
    ApplicationMember,
    AssetItem,
    Attachment,
    Enrolment,
    EnrolmentMember,
    Grant,
    IncomeItem,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.assistance.services.decisions import (
    Outcome,
    decide_application,
    economy_totals,
    standard_fen,
)
from minzheng.assistance.services.status_tags import enrolment_tags_sync
from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.policy import policy
from minzheng.core.services import audit_record
from minzheng.people.enums import PersonStatus, Relation
from minzheng.people.models import Person
from minzheng.people.selectors import person_scope
from minzheng.rules.programs.tekun import ADL

MEANS_TESTED = frozenset({Program.DIBAO, Program.DIBIAN, Program.TEKUN})


# --------------------------------------------------------------------------------------- helpers


def _lock(actor: Actor | None, application: Application | Any) -> Application:
    pk = application.pk if isinstance(application, Application) else application
    app = Application.objects.select_for_update().filter(pk=pk).first()
    if app is None:
        raise NotFound()
    c.in_scope(actor, app.area_path)
    return app


def _transition(actor: Actor | None, app: Application, action: str, *, note: str = "",
                extra: dict[str, Any] | None = None, fields: Sequence[str] = ()) -> Application:
    """Move ``app`` by ``action`` (already validated), log it and audit it."""
    target = domain.next_status(action, app.status)
    if target is None:
        raise Conflict(
            f"当前状态({ApplicationStatus(app.status).label})不能执行此操作", code="bad_state",
            extra={"status": app.status, "action": action},
        )
    before = app.status
    app.status = target
    app.save(update_fields=["status", "updated_at", *fields])
    _log(actor, app, action, before, note)
    audit_record(actor=actor, event_type=f"assistance.application.{action}", object_type="assistance.application",
                 object_id=app.uid, reason=note[:200], extra={"from": before, "to": target, **(extra or {})})
    return app


def _log(actor: Actor | None, app: Application, action: str, before: str, note: str = "") -> None:
    actor_id, actor_name = c.who(actor)
    ApplicationEvent.objects.create(application=app, action=action, from_status=before, to_status=app.status,
                                    actor_id=actor_id, actor_name=actor_name, note=note[:2000])


def _check_state(app: Application, action: str) -> None:
    if domain.next_status(action, app.status) is None:
        raise Conflict(
            f"当前状态({ApplicationStatus(app.status).label})不能执行此操作", code="bad_state",
            extra={"status": app.status, "action": action},
        )


def _reason(value: Any, field: str = "reason", *, minimum: int = 4) -> str:
    text = domain.clean_text(value, field, max_len=1000)
    if len(text) < minimum:
        raise ValidationFailed({field: f"请写明理由(至少{minimum}个字)"}, code="reason_required")
    return text


def _person_in_scope(actor: Actor, uid: Any, field: str) -> Person:
    try:
        person = person_scope(actor=actor).select_related("division", "household").filter(uid=uid).first()
    except (ValueError, TypeError, Exception):  # malformed uuid → no such person, never a 500
        person = None
    if person is None:
        raise ValidationFailed({field: "人员不存在或不在您的管辖范围内"}, code="unknown_person")
    return person


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes", "是")
    return bool(value)


# ------------------------------------------------------------------------------------ creation


def _already(applicant: Person, program: str) -> None:
    """An application for a person already enrolled (or with an open application) is refused."""
    if Enrolment.objects.filter(person=applicant, program=program, status__in=sorted(LIVE_ENROLMENT)).exists():
        raise Conflict(f"该人员已在享受{Program(program).label},不能重复申请", code="already_enrolled",
                       extra={"program": program})
    if program in HOUSEHOLD_PROGRAMS and EnrolmentMember.objects.filter(
        person=applicant, active=True, enrolment__program__in=sorted(HOUSEHOLD_PROGRAMS),
        enrolment__status__in=sorted(LIVE_ENROLMENT),
    ).exists():
        raise Conflict("该人员所在家庭已在享受低保或低边,请走复核而不是重新申请", code="already_enrolled",
                       extra={"program": program})
    if Application.objects.filter(applicant=applicant, program=program,
                                  status__in=sorted(OPEN_APPLICATION)).exists():
        raise Conflict("该人员已有一件同类申请正在办理", code="application_open", extra={"program": program})


def _clean_members(actor: Actor, applicant: Person, program: str, members: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The declared household: the applicant first (as 户主/申请人), then every other member.

    For 低保/低边 the declaration must cover the applicant's whole registered household: a member
    left out makes the household incomplete (a member who does not live there is declared with
    ``co_resident = False`` rather than omitted)."""
    cleaned: list[dict[str, Any]] = [{"person": applicant, "relation": Relation.HEAD, "student": False,
                                      "cannot_live_independently": False, "co_resident": True, "away": 0,
                                      "able_bodied": False}]
    errors: dict[str, str] = {}
    seen = {applicant.pk}
    for i, raw in enumerate(members or ()):
        if not isinstance(raw, Mapping):
            errors[f"members[{i}]"] = "成员信息格式不正确"
            continue
        uid = raw.get("person")
        if str(uid) == str(applicant.uid):
            cleaned[0].update(able_bodied=_bool(raw.get("able_bodied")))
            continue
        try:
            person = _person_in_scope(actor, uid, f"members[{i}].person")
        except ValidationFailed as exc:
            errors.update(exc.fields)
            continue
        if person.pk in seen:
            errors[f"members[{i}].person"] = "同一成员重复申报"
            continue
        seen.add(person.pk)
        relation = str(raw.get("relation") or "")
        if relation not in Relation.value_set() or relation == Relation.HEAD:
            errors[f"members[{i}].relation"] = "请选择与申请人的关系"
            continue
        away = str(raw.get("away") or "0")
        if away not in AwayCode.value_set():
            errors[f"members[{i}].away"] = "离家情形无效"
            continue
        cleaned.append({
            "person": person, "relation": relation, "student": _bool(raw.get("student")),
            "cannot_live_independently": _bool(raw.get("cannot_live_independently")),
            "co_resident": _bool(raw.get("co_resident", True)), "away": int(away),
            "able_bodied": _bool(raw.get("able_bodied")),
        })
    if program in HOUSEHOLD_PROGRAMS:
        if applicant.household_id is None:
            errors["household"] = "申请人未登记家庭户,请先在一人一档中建立家庭户"
        else:
            registered = Person.objects.filter(household_id=applicant.household_id, status=PersonStatus.ACTIVE)
            missing = [p.name for p in registered if p.pk not in seen]
            if missing:
                errors["members"] = f"家庭成员申报不完整:{'、'.join(missing)} 未申报(不共同生活的请注明)"
    if errors:
        raise ValidationFailed(errors, code="incomplete_household" if "members" in errors or "household" in errors else "bad_members")
    return cleaned


def _clean_facts(program: str, applicant: Person, facts: Mapping[str, Any] | None, on: date) -> dict[str, Any]:
    facts = dict(facts or {})
    if program == Program.TEKUN:
        adl = facts.get("adl_failed") or []
        if isinstance(adl, str):
            adl = [a for a in adl.split(",") if a]
        bad = [a for a in adl if a not in ADL.value_set()]
        if bad:
            raise ValidationFailed({"adl_failed": "自理能力评估项目无效"}, code="bad_facts")
        form = str(facts.get("care_form") or CareForm.DISPERSED)
        if form not in CareForm.value_set():
            raise ValidationFailed({"care_form": "请选择集中供养或分散供养"}, code="bad_facts")
        return {"disabled": _bool(facts.get("disabled")), "able_to_work": _bool(facts.get("able_to_work")),
                "has_income_source": _bool(facts.get("has_income_source")),
                "has_capable_supporter": _bool(facts.get("has_capable_supporter")),
                "adl_failed": sorted(set(adl)), "care_form": form}
    if program == Program.CHILDREN:
        category = str(facts.get("category") or "")
        if category not in ChildCategory.value_set():
            raise ValidationFailed({"category": "请选择儿童类别"}, code="bad_facts")
        if applicant.age_on(on) >= 18:
            raise ValidationFailed({"applicant": "儿童生活保障仅适用于未满18周岁的儿童"}, code="not_a_child")
        return {"category": category}
    if program in SPECIAL or program == Program.LINSHI:
        return {"cause": domain.clean_text(facts.get("cause"), "cause", max_len=200)}
    return {}


def application_create(
    *,
    actor: Actor,
    program: str,
    applicant_uid: Any,
    members: Sequence[Mapping[str, Any]] = (),
    reason: str = "",
    emergency: bool = False,
    requested_yuan: Any = None,
    persons: Any = 1,
    exceptional: bool = False,
    facts: Mapping[str, Any] | None = None,
    bank_name: str = "",
    bank_account: str = "",
) -> Application:
    """Register an application (DRAFT) for a resident of the actor's area."""
    c.require(actor, AssistancePerm.APPLY)
    if program not in {p.value for p in APPLICABLE}:
        raise ValidationFailed({"program": "请选择救助类别(高龄津贴无需申请,自动纳入)"}, code="bad_program")
    applicant = _person_in_scope(actor, applicant_uid, "applicant")
    if applicant.status != PersonStatus.ACTIVE:
        raise ValidationFailed({"applicant": "该人员不在册(已故或已迁出)"}, code="person_not_active")
    on = c.today()
    errors: dict[str, str] = {}
    requested: int | None = None
    if program in ONE_OFF:
        try:
            requested = domain.yuan_to_fen(requested_yuan, "requested_yuan", maximum=domain.MAX_GRANT_FEN, allow_zero=False)
        except ValidationFailed as exc:
            errors.update(exc.fields)
    try:
        n_persons = int(str(persons or 1))
        if not 1 <= n_persons <= 20:
            raise ValueError
    except ValueError:
        errors["persons"] = "救助人数应为1-20"
        n_persons = 1
    if emergency and program != Program.LINSHI:
        errors["emergency"] = "先行救助仅适用于临时救助"
    reason_text = ""
    try:
        reason_text = domain.clean_text(reason, "reason", required=True)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    account = ""
    try:
        account = c.clean_bank_account(bank_account)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    try:
        clean_facts = _clean_facts(program, applicant, facts, on)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        clean_facts = {}
    try:
        cleaned_members = _clean_members(actor, applicant, program, members)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        cleaned_members = []
    if errors:
        code = "incomplete_household" if "members" in errors or "household" in errors else "bad_application"
        raise ValidationFailed(errors, code=code)
    _already(applicant, program)
    actor_id, actor_name = c.who(actor)
    app = Application(
        program=program, applicant=applicant, household_id=applicant.household_id, division=applicant.division,
        area_path=applicant.area_path, township_code=c.township_code(applicant.area_path), reason=reason_text,
        emergency=bool(emergency), requested_fen=requested, persons=n_persons, exceptional=bool(exceptional),
        facts=clean_facts, bank_name=domain.clean_text(bank_name, "bank_name", max_len=64),
        created_by_id=actor_id, created_by_name=actor_name,
    )
    if account:
        app.bank_account_sealed, app.bank_account_masked, _ref = c.seal_account("application", app.uid, account)
    try:
        with transaction.atomic():
            app.save()
            ApplicationMember.objects.bulk_create(
                ApplicationMember(application=app, person=m["person"], relation=m["relation"], student=m["student"],
                                  cannot_live_independently=m["cannot_live_independently"],
                                  co_resident=m["co_resident"], away=m["away"], able_bodied=m["able_bodied"])
                for m in cleaned_members
            )
            _log(actor, app, "create", "")
            audit_record(actor=actor, event_type="assistance.application.create", object_type="assistance.application",
                         object_id=app.uid, extra={"program": program, "members": len(cleaned_members)})
    except IntegrityError:
        raise Conflict("该人员已有一件同类申请正在办理", code="application_open") from None
    return app


# ---------------------------------------------------------------------------------- attachments


def attachment_add(*, actor: Actor, application: Application | int, kind: str, filename: str, content: bytes) -> Attachment:
    """Add evidence while the application is open: PDF/JPEG/PNG by content, within the size limit."""
    c.require(actor, AssistancePerm.APPLY)
    if kind not in AttachmentKind.value_set():
        raise ValidationFailed({"kind": "请选择材料类型"}, code="bad_attachment")
    if not isinstance(content, bytes | bytearray):
        raise ValidationFailed({"file": "请选择文件"}, code="bad_attachment")
    name, ctype = domain.check_attachment(filename, bytes(content), max_bytes=policy().upload_max_bytes)
    with transaction.atomic():
        app = _lock(actor, application)
        if app.status not in OPEN_APPLICATION:
            raise Conflict("申请已办结,不能再补充材料", code="bad_state")
        actor_id, actor_name = c.who(actor)
        att = Attachment.objects.create(
            application=app, kind=kind, filename=name, content_type=ctype, size=len(content),
            sm3=crypto.sm3(bytes(content)).hex(), content=bytes(content), uploaded_by_id=actor_id,
            uploaded_by_name=actor_name,
        )
        audit_record(actor=actor, event_type="assistance.attachment.add", object_type="assistance.application",
                     object_id=app.uid, extra={"attachment": att.pk, "kind": kind, "size": len(content), "sm3": att.sm3})
    return att


# ------------------------------------------------------------------------------ submit / accept


def application_submit(*, actor: Actor, application: Application | int) -> Application:
    c.require(actor, AssistancePerm.APPLY)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "submit")
        if app.program in MEANS_TESTED and not app.attachments.filter(kind=AttachmentKind.AUTHORIZATION).exists():
            raise ValidationFailed({"attachments": "请上传家庭经济状况核对授权书"}, code="authorization_missing")
        app.submitted_at = timezone.now()
        return _transition(actor, app, "submit", fields=["submitted_at"])


def application_accept(*, actor: Actor, application: Application | int) -> Application:
    """受理 by the 乡镇/街道: the 15-working-day clock for the preliminary opinion starts."""
    c.require(actor, AssistancePerm.ACCEPT)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "accept")
        on = c.today()
        deadline = domain.prelim_deadline(on)
        actor_id, actor_name = c.who(actor)
        app.accepted_on, app.prelim_due = on, deadline.due
        app.accepted_by_id, app.accepted_by_name = actor_id, actor_name
        app.deadlines_estimated = app.deadlines_estimated or deadline.estimated
        return _transition(actor, app, "accept", extra={"prelim_due": deadline.due.isoformat()},
                           fields=["accepted_on", "prelim_due", "accepted_by_id", "accepted_by_name", "deadlines_estimated"])


def application_not_accept(*, actor: Actor, application: Application | int, reason: str) -> Application:
    c.require(actor, AssistancePerm.ACCEPT)
    text = _reason(reason)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "not_accept")
        app.refusal_reason = text
        app.decided_on = c.today()
        app.notice_due = domain.denial_notice_deadline(app.decided_on).due
        return _transition(actor, app, "not_accept", note=text, fields=["refusal_reason", "decided_on", "notice_due"])


def application_withdraw(*, actor: Actor, application: Application | int, reason: str) -> Application:
    c.require(actor, AssistancePerm.APPLY)
    text = _reason(reason, minimum=2)
    with transaction.atomic():
        app = _lock(actor, application)
        return _transition(actor, app, "withdraw", note=text)


# ---------------------------------------------------------------------- economic check (核对)


def application_start_check(*, actor: Actor, application: Application | int) -> Application:
    c.require(actor, AssistancePerm.CHECK_ECONOMY)
    with transaction.atomic():
        app = _lock(actor, application)
        return _transition(actor, app, "start_check")


def economy_record(
    *,
    actor: Actor,
    application: Application | int,
    incomes: Sequence[Mapping[str, Any]] = (),
    assets: Sequence[Mapping[str, Any]] = (),
    housing_ok: bool = True,
) -> Application:
    """Record the household's incomes and assets (replacing earlier entries) during 核对.

    Each income: ``{"person": uid, "kind", "monthly_yuan", "source", "evidence": attachment id}``;
    each asset: ``{"kind", "value_yuan", "source", "evidence"}``. A non-zero amount needs evidence:
    an attached document, or the 核对平台 as its source. Negative and absurd amounts are refused.
    """
    c.require(actor, AssistancePerm.CHECK_ECONOMY)
    with transaction.atomic():
        app = _lock(actor, application)
        if app.status != ApplicationStatus.ECON_CHECK:
            raise Conflict("只能在经济状况核对阶段登记收入和财产", code="bad_state", extra={"status": app.status})
        members = {str(m.person.uid): m for m in app.members.select_related("person")}
        attachments = set(app.attachments.values_list("pk", flat=True))
        errors: dict[str, str] = {}
        income_rows: list[IncomeItem] = []
        for i, raw in enumerate(incomes or ()):
            f = f"incomes[{i}]"
            member = members.get(str(raw.get("person")))
            if member is None:
                errors[f"{f}.person"] = "该人员不是申报的家庭成员"
                continue
            kind = str(raw.get("kind") or "")
            if kind not in IncomeKind.value_set():
                errors[f"{f}.kind"] = "请选择收入类型"
                continue
            try:
                fen = domain.yuan_to_fen(raw.get("monthly_yuan"), f"{f}.monthly_yuan", maximum=domain.MAX_MONTHLY_INCOME_FEN)
            except ValidationFailed as exc:
                errors.update(exc.fields)
                continue
            source, evidence = _evidence(raw, fen, attachments, f, errors)
            income_rows.append(IncomeItem(application=app, member=member, kind=kind, monthly_fen=fen, source=source,
                                          evidence_id=evidence, note=domain.clean_text(raw.get("note"), f"{f}.note", max_len=200)))
        asset_rows: list[AssetItem] = []
        for i, raw in enumerate(assets or ()):
            f = f"assets[{i}]"
            kind = str(raw.get("kind") or "")
            if kind not in AssetKind.value_set():
                errors[f"{f}.kind"] = "请选择财产类型"
                continue
            try:
                fen = domain.yuan_to_fen(raw.get("value_yuan"), f"{f}.value_yuan", maximum=domain.MAX_ASSET_FEN)
            except ValidationFailed as exc:
                errors.update(exc.fields)
                continue
            source, evidence = _evidence(raw, fen, attachments, f, errors)
            asset_rows.append(AssetItem(application=app, kind=kind, value_fen=fen, source=source, evidence_id=evidence,
                                        note=domain.clean_text(raw.get("note"), f"{f}.note", max_len=200)))
        if errors:
            raise ValidationFailed(errors, code="bad_economy")
        app.incomes.all().delete()
        app.assets.all().delete()
        IncomeItem.objects.bulk_create(income_rows)
        AssetItem.objects.bulk_create(asset_rows)
        app.housing_ok = bool(housing_ok)
        app.save(update_fields=["housing_ok", "updated_at"])
        audit_record(actor=actor, event_type="assistance.application.economy", object_type="assistance.application",
                     object_id=app.uid, extra={"incomes": len(income_rows), "assets": len(asset_rows),
                                               "income_total_fen": sum(r.monthly_fen for r in income_rows),
                                               "money_assets_fen": sum(r.value_fen for r in asset_rows if r.kind in MONEY_ASSETS)})
    return app


def _evidence(raw: Mapping[str, Any], fen: int, attachments: set[int], f: str, errors: dict[str, str]) -> tuple[str, int | None]:
    source = str(raw.get("source") or EvidenceSource.DECLARED)
    if source not in EvidenceSource.value_set():
        errors[f"{f}.source"] = "来源无效"
        return EvidenceSource.DECLARED, None
    evidence = raw.get("evidence")
    evidence_id: int | None = None
    if evidence not in (None, ""):
        try:
            evidence_id = int(str(evidence))
        except ValueError:
            evidence_id = -1
        if evidence_id not in attachments:
            errors[f"{f}.evidence"] = "证明材料不属于本申请"
            return source, None
    if fen > 0 and evidence_id is None and source != EvidenceSource.PLATFORM:
        errors[f"{f}.evidence"] = "请关联证明材料,或注明来源为核对平台"
    return source, evidence_id


def application_complete_check(*, actor: Actor, application: Application | int) -> Application:
    """Close 核对: the totals are frozen on the application and the rules give a first opinion."""
    c.require(actor, AssistancePerm.CHECK_ECONOMY)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "complete_check")
        if app.program in HOUSEHOLD_PROGRAMS and not app.members.exists():
            raise ValidationFailed({"members": "请先申报家庭成员"}, code="incomplete_household")
        outcome = decide_application(app, on=c.today())
        _store_decision(app, outcome)
        app.economy = economy_totals(app)
        app.checked_at = timezone.now()
        app.checked_by_name = c.who(actor)[1]
        return _transition(actor, app, "complete_check", extra={"eligible": outcome.eligible, "amount_fen": outcome.amount_fen},
                           fields=["economy", "checked_at", "checked_by_name", "decision_eligible",
                                   "decision_amount_fen", "decision_trace"])


def _store_decision(app: Application, outcome: Outcome) -> None:
    app.decision_eligible = outcome.eligible
    app.decision_amount_fen = outcome.amount_fen
    app.decision_trace = {**outcome.trace, "explain": outcome.explain, "persons": outcome.persons}


# ------------------------------------------------------------------------- investigation


def application_investigate(
    *, actor: Actor, application: Application | int, visited_on: date, findings: str, recommends: bool,
) -> Application:
    """入户调查 and the preliminary opinion (初审). Whoever records it may not approve later."""
    c.require(actor, AssistancePerm.INVESTIGATE)
    text = _reason(findings, "findings", minimum=10)
    if not isinstance(visited_on, date) or visited_on > c.today():
        raise ValidationFailed({"visited_on": "调查日期不能晚于今天"}, code="bad_date")
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "investigate")
        if app.accepted_on and visited_on < app.accepted_on:
            raise ValidationFailed({"visited_on": "调查日期不能早于受理日期"}, code="bad_date")
        actor_id, actor_name = c.who(actor)
        app.investigator_id, app.investigator_name = actor_id, actor_name
        app.investigated_on, app.investigation_findings = visited_on, text
        app.investigation_recommends = bool(recommends)
        app.prelim_on = c.today()
        return _transition(actor, app, "investigate", note=text[:200], extra={"recommends": bool(recommends)},
                           fields=["investigator_id", "investigator_name", "investigated_on", "investigation_findings",
                                   "investigation_recommends", "prelim_on"])


# ------------------------------------------------------------------------------------- 公示


def application_publicize(*, actor: Actor, application: Application | int, start: date | None = None) -> Application:
    """Start the 7-day 公示 in the community (masked names and ID numbers only)."""
    c.require(actor, AssistancePerm.PUBLICIZE)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "publicize")
        if not app.investigator_name or app.investigation_recommends is None:
            raise Conflict("请先完成入户调查并提出初审意见", code="investigation_missing")
        if not app.investigation_recommends:
            raise Conflict("初审意见为不同意的申请不予公示,请提交审批机关作出不予批准决定", code="prelim_negative")
        first = start or c.today()
        app.publicity_start, app.publicity_end = first, domain.publicity_end(first)
        return _transition(actor, app, "publicize", extra={"until": app.publicity_end.isoformat()},
                           fields=["publicity_start", "publicity_end"])


def application_object(*, actor: Actor, application: Application | int, note: str) -> Application:
    """An objection during 公示: back to investigation for a re-check, then a new 公示."""
    c.require(actor, AssistancePerm.PUBLICIZE)
    text = _reason(note, "note")
    with transaction.atomic():
        app = _lock(actor, application)
        app.objection_note = (app.objection_note + "\n" if app.objection_note else "") + text
        app.investigation_recommends = None
        return _transition(actor, app, "objection", note=text, fields=["objection_note", "investigation_recommends"])


def application_close_publicity(*, actor: Actor, application: Application | int) -> Application:
    """After 7 full days without objection: to the approver, whose 5-working-day clock starts."""
    c.require(actor, AssistancePerm.PUBLICIZE)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "close_publicity")
        assert app.publicity_end is not None  # noqa: S101 - set when PUBLICITY was entered
        if c.today() <= app.publicity_end:
            raise Conflict(f"公示期至 {app.publicity_end.isoformat()},期满后方可提交审批", code="publicity_running",
                           extra={"until": app.publicity_end.isoformat()})
        deadline = domain.review_deadline(app.publicity_end)
        app.review_due = deadline.due
        app.deadlines_estimated = app.deadlines_estimated or deadline.estimated
        return _transition(actor, app, "close_publicity", fields=["review_due", "deadlines_estimated"])


# -------------------------------------------------------------------------------------- 审批


def _check_decider(actor: Actor, app: Application, amount_fen: int | None) -> None:
    if c.same_person(actor, app.investigator_id, app.investigator_name):
        raise PermissionDenied("审批人不能是本案的入户调查人(审调分离)", code="maker_checker")
    required = domain.approval_level(app.program, amount_fen, standard_fen(c.today()))
    if not domain.may_decide(actor.scope_path, required):
        raise PermissionDenied(
            f"超出审批权限:本案须由{domain.LEVEL_LABELS[required]}民政部门审批", code="authority_limit",
            extra={"required": required},
        )


def application_approve(*, actor: Actor, application: Application | int, amount_yuan: Any = None) -> Application:
    """审批: the rules decide eligibility and the monthly amount (recomputed today, with its trace);
    the approver (not the investigator, within the level's authority) confirms it. Recurring
    programs become an enrolment paid from the next month (S8 §56); one-off grants are paid in the
    next roll. An ineligible case cannot be approved (deny it with reasons instead)."""
    c.require(actor, AssistancePerm.APPROVE)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "approve")
        on = c.today()
        outcome = decide_application(app, on=on)
        amount = outcome.amount_fen
        if app.program in ONE_OFF:
            amount = domain.yuan_to_fen(amount_yuan, "amount_yuan", maximum=domain.MAX_GRANT_FEN, allow_zero=False) \
                if amount_yuan not in (None, "") else (app.requested_fen or 0)
            if app.program == Program.LINSHI and amount > int(outcome.trace.get("cap_fen", amount)):
                raise ValidationFailed({"amount_yuan": f"超过临时救助上限 {domain_cap_yuan(outcome)} 元"}, code="over_cap")
        _check_decider(actor, app, amount)
        if not outcome.eligible:
            raise Conflict("规则判定不符合条件,不能批准;请作出不予批准决定并写明理由", code="not_eligible",
                           extra={"failed_rules": list(outcome.failed), "explain": outcome.explain})
        _already_enrolled_at_approval(app)
        _store_decision(app, outcome)
        actor_id, actor_name = c.who(actor)
        app.approver_id, app.approver_name, app.decided_on = actor_id, actor_name, on
        app.approved_amount_fen = amount
        fields = ["approver_id", "approver_name", "decided_on", "approved_amount_fen", "decision_eligible",
                  "decision_amount_fen", "decision_trace"]
        if app.program in RECURRING:
            enrolment = _enrol(app, outcome, on)
            extra = {"enrolment": str(enrolment.uid), "monthly_fen": outcome.amount_fen}
        else:
            grant = _grant(app, amount, on, emergency=False)
            extra = {"grant": str(grant.uid), "amount_fen": amount}
        return _transition(actor, app, "approve", extra=extra, fields=fields)


def domain_cap_yuan(outcome: Outcome) -> str:
    cap = int(outcome.trace.get("cap_fen", 0))
    return f"{cap // 100}.{cap % 100:02d}"


def _already_enrolled_at_approval(app: Application) -> None:
    if app.program in RECURRING and Enrolment.objects.filter(
        person_id=app.applicant_id, program=app.program, status__in=sorted(LIVE_ENROLMENT)
    ).exists():
        raise Conflict("该人员已在享受同类救助", code="already_enrolled")


def _enrol(app: Application, outcome: Outcome, on: date) -> Enrolment:
    members = list(app.members.select_related("person").order_by("id"))
    incomes: dict[int, tuple[int, int]] = {}
    for member_id, kind, fen in app.incomes.values_list("member_id", "kind", "monthly_fen"):
        other, job = incomes.get(member_id, (0, 0))
        incomes[member_id] = (other, job + fen) if kind == IncomeKind.NEW_JOB else (other + fen, job)
    totals = app.economy or {}
    able = sum(1 for m in members if m.able_bodied)
    stability = domain.stability_for(able_bodied_members=able, income_irregular=bool(totals.get("new_job_income_fen")))
    if app.program == Program.TEKUN:
        stability = Stability.STABLE  # 特困: yearly review (年审)
    facts = app.facts or {}
    enrolment = Enrolment(
        program=app.program, person_id=app.applicant_id, household_id=app.household_id, application=app,
        division_id=app.division_id, area_path=app.area_path, township_code=app.township_code,
        start_month=domain.add_months(domain.month_start(on), 1), monthly_fen=outcome.amount_fen,
        persons=outcome.persons, stability=stability, next_review_on=domain.next_review(on, stability),
        last_trace={**outcome.trace, "explain": outcome.explain},
        money_assets_fen=int(totals.get("money_assets_fen", 0)), vehicles=int(totals.get("vehicles", 0)),
        vehicle_value_fen=int(totals.get("vehicle_value_fen", 0)), housing_ok=app.housing_ok,
        business_capital_fen=int(totals.get("business_capital_fen", 0)),
        disabled=bool(facts.get("disabled")), able_to_work=bool(facts.get("able_to_work")),
        has_income_source=bool(facts.get("has_income_source")),
        has_capable_supporter=bool(facts.get("has_capable_supporter")),
        adl_failed=len(facts.get("adl_failed", [])), care_form=str(facts.get("care_form", "")) if app.program == Program.TEKUN else "",
        child_category=str(facts.get("category", "")) if app.program == Program.CHILDREN else "",
        bank_name=app.bank_name,
    )
    _copy_account(app, enrolment, "enrolment")
    enrolment.save()
    if app.program in HOUSEHOLD_PROGRAMS:
        EnrolmentMember.objects.bulk_create(
            EnrolmentMember(enrolment=enrolment, person_id=m.person_id, relation=m.relation,
                            income_fen=incomes.get(m.pk, (0, 0))[0], job_income_fen=incomes.get(m.pk, (0, 0))[1],
                            student=m.student, cannot_live_independently=m.cannot_live_independently,
                            co_resident=m.co_resident, away=m.away, able_bodied=m.able_bodied)
            for m in members
        )
    enrolment_tags_sync(enrolment)
    return enrolment


def _copy_account(app: Application, target: Enrolment | Grant, kind: str) -> None:
    account = c.unseal_account("application", app.uid, app.bank_account_sealed)
    if account:
        target.bank_account_sealed, target.bank_account_masked, target.bank_ref = c.seal_account(kind, target.uid, account)
        target.bank_name = app.bank_name


def _grant(app: Application, amount: int, on: date, *, emergency: bool) -> Grant:
    grant = Grant(
        application=app, person_id=app.applicant_id, program=app.program, amount_fen=amount, persons=app.persons,
        emergency=emergency, approved_on=on, pay_month=domain.month_start(on), division_id=app.division_id,
        area_path=app.area_path, township_code=app.township_code, status=GrantStatus.APPROVED,
    )
    _copy_account(app, grant, "grant")
    grant.save()
    return grant


def application_deny(*, actor: Actor, application: Application | int, reason: str) -> Application:
    """不予批准, with written reasons (notice within 3 working days)."""
    c.require(actor, AssistancePerm.APPROVE)
    text = _reason(reason)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "deny")
        _check_decider(actor, app, app.requested_fen)
        on = c.today()
        actor_id, actor_name = c.who(actor)
        app.refusal_reason, app.decided_on = text, on
        app.approver_id, app.approver_name = actor_id, actor_name
        app.notice_due = domain.denial_notice_deadline(on).due
        return _transition(actor, app, "deny", note=text,
                           fields=["refusal_reason", "decided_on", "approver_id", "approver_name", "notice_due"])


# ---------------------------------------------------------------------- 先行救助 (pay first)


def application_emergency_pay(*, actor: Actor, application: Application | int, amount_yuan: Any) -> Grant:
    """临时救助 in an emergency: pay at once (within the cap), complete the paperwork within 5 WD."""
    from minzheng.assistance.services.payroll import pay_grant_now

    c.require(actor, AssistancePerm.EMERGENCY_PAY)
    amount = domain.yuan_to_fen(amount_yuan, "amount_yuan", maximum=domain.MAX_GRANT_FEN, allow_zero=False)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "emergency_pay")
        if app.program != Program.LINSHI or not app.emergency:
            raise Conflict("只有标明急难情形的临时救助可以先行救助", code="not_emergency")
        if not app.bank_account_sealed:
            raise ValidationFailed({"bank_account": "先行救助须登记收款账号"}, code="bank_account_missing")
        on = c.today()
        from minzheng.rules.programs import linshi

        cap = linshi.evaluate(linshi.LinshiRequest(app.persons, app.exceptional, amount), on=on)
        if not cap.eligible:
            raise ValidationFailed({"amount_yuan": f"超过临时救助上限 {cap.amount_fen // 100} 元"}, code="over_cap")
        if not domain.may_decide(actor.scope_path, domain.approval_level(app.program, amount, standard_fen(on))):
            raise PermissionDenied("超出先行救助权限,须由区级民政部门决定", code="authority_limit")
        grant = _grant(app, amount, on, emergency=True)
        pay_grant_now(actor=actor, grant=grant)
        deadline = domain.emergency_docs_deadline(on)
        app.docs_due, app.approved_amount_fen = deadline.due, amount
        app.decision_trace = {**cap.as_dict(), "explain": cap.explain()}
        app.decision_eligible, app.decision_amount_fen = True, amount
        _transition(actor, app, "emergency_pay", extra={"grant": str(grant.uid), "amount_fen": amount},
                    fields=["docs_due", "approved_amount_fen", "decision_trace", "decision_eligible", "decision_amount_fen"])
    return grant


def application_complete_emergency(*, actor: Actor, application: Application | int) -> Application:
    """The paperwork after 先行救助 is complete: the case closes as approved."""
    c.require(actor, AssistancePerm.APPROVE)
    with transaction.atomic():
        app = _lock(actor, application)
        _check_state(app, "complete_emergency")
        if not app.attachments.exists():
            raise ValidationFailed({"attachments": "请先补齐申请材料"}, code="documents_missing")
        actor_id, actor_name = c.who(actor)
        app.approver_id, app.approver_name, app.decided_on = actor_id, actor_name, c.today()
        return _transition(actor, app, "complete_emergency", fields=["approver_id", "approver_name", "decided_on"])


# ----------------------------------------------------------------------------------- 公示 export


PUBLICITY_COLUMNS = ("序号", "救助类别", "申请人", "身份证号", "家庭人数", "村(社区)", "公示期", "拟救助金额(元/月)")


def publicity_rows(*, actor: Actor, township: str = "") -> list[tuple[Any, ...]]:
    """The applications now in 公示 in the actor's area: names and ID numbers masked, no accounts."""
    c.require(actor, AssistancePerm.VIEW)
    qs = Application.objects.filter(status=ApplicationStatus.PUBLICITY, area_path__startswith=actor.scope_path)
    if township:
        qs = qs.filter(township_code=township)
    rows = []
    for i, app in enumerate(qs.select_related("applicant", "division").order_by("area_path", "publicity_start", "id"), 1):
        persons = int((app.decision_trace or {}).get("persons", app.persons))
        amount = app.decision_amount_fen or 0
        rows.append((
            i, Program(app.program).label, domain.mask_name(app.applicant.name), app.applicant.id_masked, persons,
            app.division.short_name, f"{app.publicity_start} 至 {app.publicity_end}", f"{amount // 100}.{amount % 100:02d}",
        ))
    return rows


def publicity_export(*, actor: Actor, township: str = "") -> bytes:
    """The 公示 list as Excel. It never holds a full ID number or account number (checked)."""
    from openpyxl import Workbook

    rows = publicity_rows(actor=actor, township=township)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("公示名单")
    ws.append(list(PUBLICITY_COLUMNS))
    for row in rows:
        if any(domain.contains_full_identifier(str(v)) for v in row):  # defence in depth
            raise Conflict("公示名单中出现完整证件号或账号,已拒绝导出", code="publicity_leak")
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    audit_record(actor=actor, event_type="assistance.publicity.export", object_type="assistance.application",
                 extra={"rows": len(rows), "township": township})
    return buf.getvalue()


def overdue(app: Application, on: date) -> list[str]:
    """Which statutory limits this application has passed (shown on lists and the detail page)."""
    late = []
    if app.status in (ApplicationStatus.ACCEPTED, ApplicationStatus.ECON_CHECK, ApplicationStatus.INVESTIGATION) \
            and app.prelim_due and on > app.prelim_due:
        late.append(f"初审超期(应于 {app.prelim_due} 前完成)")
    if app.status == ApplicationStatus.REVIEW and app.review_due and on > app.review_due:
        late.append(f"审批超期(应于 {app.review_due} 前完成)")
    if app.status == ApplicationStatus.EMERGENCY_PAID and app.docs_due and on > app.docs_due:
        late.append(f"先行救助补齐材料超期(应于 {app.docs_due} 前完成)")
    return late
