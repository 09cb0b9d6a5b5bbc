"""Checkout at the till: identify → quote → confirm; void by reversal; offline batches.

The rule that matters most (eldercare A4): **one subsidised meal per person per slot, city-wide.**
It is a partial UNIQUE index on ``MealService(diner, service_date, slot) WHERE subsidised AND
served``, claimed by ``INSERT … ON CONFLICT DO NOTHING`` in the same database transaction as the
ledger posting. Two points trying at once: the second insert waits for the first transaction,
then finds the slot taken and is re-priced at full price (or refused, by configuration) — never
two subsidies, never a 500. A void flips the row to ``voided`` and frees the slot.

Idempotency: ``(point, idempotency_key)`` is UNIQUE too. A retry (same key, same request) gets the
first result back and posts nothing; the same key with a different request is 409.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from minzheng.core.models import row_insert
from minzheng.core.services import audit_record
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.selectors import available, txn_by_key
from minzheng.ledger.services import AuditNote, txn_post, txn_reverse
from minzheng.meals import domain
from minzheng.meals.enums import (
    Channel,
    CredentialKind,
    DinerStatus,
    FlagKind,
    LeaveKind,
    MealStatus,
    Slot,
    Tender,
)
from minzheng.meals.models import FraudFlag, MealService
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import (
    Identified,
    PointConfig,
    actor_point_ids,
    benefit_used,
    diner_identify,
    is_terminal,
    point_config,
    require,
    rule_set_for,
)
from minzheng.meals.services import books

DIGEST_CONTEXT = b"minzheng.meals.checkout.v1\n"
MAX_KEY = 100
OFFLINE_MAX_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)
BATCH_MAX = 500


@dataclass(frozen=True)
class CheckoutRequest:
    point_id: int
    credential: str
    idempotency_key: str
    credential_kind: str = ""
    id_confirmed: bool = False
    price_fen: int | None = None  # None: the slot's standard set meal
    occurred_at: datetime | None = None  # offline terminals: the original time
    payment_method: str | None = None  # the whole self-pay by one tender …
    tenders: Mapping[str, int] | None = None  # … or split across several
    use_wallet: bool = True
    expected_self_pay_fen: int | None = None  # what the terminal showed the elder
    channel: str = Channel.TERMINAL


@dataclass(frozen=True)
class Priced:
    cfg: PointConfig
    identified: Identified
    at: datetime
    service_date: Any
    window: domain.SlotWindow
    rules: domain.RuleSet | None
    quote: domain.Quote
    payer: str
    age: int
    inputs: domain.QuoteInput


@dataclass(frozen=True)
class CheckoutResult:
    meal: MealService
    replayed: bool
    trace: list[dict[str, Any]]
    notice: str
    diner_name: str
    diner_categories: list[str]


# --- authorisation and time ---------------------------------------------------------------------


def authorise_point(actor: Actor, point_id: int, perm: str = MealsPerm.CHECKOUT) -> PointConfig:
    """The actor may act at this point: a terminal at the one its key is bound to, an operator at
    the points bound to them. Anything else → 403 with a code saying which."""
    require(actor, perm)
    ids = actor_point_ids(actor)
    cfg = point_config(point_id)
    if ids is not None and point_id not in ids:
        if is_terminal(actor):
            raise PermissionDenied("该终端密钥未绑定此助餐点, 不能在此结算", code="terminal_point_mismatch",
                                   extra={"point": cfg.code})
        raise PermissionDenied("您不是该助餐点的操作员", code="not_point_operator", extra={"point": cfg.code})
    if ids is None and not cfg.area_path.startswith(actor.scope_path):
        raise NotFound()
    return cfg


def _moment(occurred_at: datetime | None) -> tuple[datetime, bool]:
    now = timezone.now()
    if occurred_at is None:
        return now, False
    if timezone.is_naive(occurred_at):
        raise ValidationFailed({"occurred_at": "就餐时间须带时区, 如 2024-05-01T11:30:00+08:00"}, code="bad_occurred_at")
    if occurred_at > now + CLOCK_SKEW:
        raise ValidationFailed({"occurred_at": "就餐时间晚于当前时间, 请校准终端时钟"}, code="occurred_in_future")
    if occurred_at < now - OFFLINE_MAX_AGE:
        raise ValidationFailed({"occurred_at": "离线记录超过7天, 请由街道人工补录"}, code="offline_too_old")
    return occurred_at, True


def _window(cfg: PointConfig, at: datetime) -> tuple[Any, domain.SlotWindow]:
    if not cfg.is_active:
        raise Conflict(f"{cfg.name}已停用", code="point_inactive")
    local = timezone.localtime(at)
    if cfg.opening_days and local.isoweekday() not in cfg.opening_days:
        raise Conflict(f"{cfg.name}今日不营业", code="point_closed")
    window = domain.slot_at(local.time(), cfg.windows)
    if window is None:
        hours = "、".join(f"{Slot(w.slot).label} {w.starts:%H:%M}–{w.ends:%H:%M}" for w in cfg.windows)
        raise Conflict(f"当前不在供餐时段({hours or '未设置餐次'})", code="slot_closed",
                       extra={"time": local.strftime("%H:%M")})
    return local.date(), window


def _ineligible(identified: Identified) -> str:
    diner = identified.diner
    if diner.status == DinerStatus.PENDING:
        return "助餐登记待审核"
    if diner.status == DinerStatus.REJECTED:
        return "助餐登记未通过审核"
    if diner.status == DinerStatus.SUSPENDED:
        return f"助餐资格已暂停({diner.suspended_reason or '请联系社区'})"
    if identified.leave == LeaveKind.HOSPITAL:
        return "住院报备期间不享受助餐补贴"
    return ""


def _categories(identified: Identified, day: Any) -> frozenset[str]:
    person = identified.diner.person
    if person is None:
        return frozenset(identified.diner.categories or ())
    return domain.derive_categories(
        age=domain.age_on(person.birth_date, day), self_care=person.self_care,
        living_arrangement=person.living_arrangement, disability_category=person.disability_category,
        tags=person.tags or [],
    )


def price_meal(*, cfg: PointConfig, identified: Identified, at: datetime, price_fen: int | None,
               use_wallet: bool = True, slot_taken: bool | None = None) -> Priced:
    """The quote for one diner at one point and moment (read-only)."""
    service_date, window = _window(cfg, at)
    price = window.price_fen if price_fen is None else price_fen
    if not isinstance(price, int) or isinstance(price, bool) or not 1 <= price <= domain.MAX_PRICE_FEN:
        raise ValidationFailed({"price_fen": "餐费应为1分至1000元之间的整数分"}, code="bad_price")
    rules = rule_set_for(region=cfg.region, day=service_date)
    if rules is not None and cfg.second_meal:
        rules = dataclasses.replace(rules, second_meal=cfg.second_meal)
    diner = identified.diner
    age = domain.age_on(diner.birth_date, service_date)
    reason = _ineligible(identified)
    day_used = month_used = 0
    if rules is not None and not reason and rules.caps.needs_history:
        day_used, month_used = benefit_used(diner_id=diner.pk, day=service_date)
    wallet = 0
    wallet_ok = cfg.wallet_approved and diner.status == DinerStatus.ACTIVE
    if use_wallet and wallet_ok and diner.has_wallet:
        wallet = available(actor=None, account=books.wallet(str(diner.uid)))
    if slot_taken is None:
        slot_taken = False
    inputs = domain.QuoteInput(
        price_fen=price, age=age, categories=_categories(identified, service_date), eligible=not reason,
        ineligible_reason=reason, slot_taken=slot_taken, slot_label=Slot(window.slot).label,
        day_benefit_used_fen=day_used, month_benefit_used_fen=month_used, wallet_available_fen=wallet,
        use_wallet=use_wallet, wallet_allowed=wallet_ok,
    )
    q = domain.quote(rules, inputs)
    payer = domain.payer_for(rules.payer_rule if rules else "home_district", home_region=diner.home_region,
                             canteen_region=cfg.region)
    return Priced(cfg, identified, at, service_date, window, rules, q, payer, age, inputs)


def _identify(req: CheckoutRequest, at: datetime, actor: Actor, cfg: PointConfig) -> Identified:
    try:
        identified = diner_identify(value=req.credential, kind=req.credential_kind,
                                    day=timezone.localtime(at).date(), id_confirmed=req.id_confirmed)
    except ValidationFailed as exc:
        if exc.code == "unknown_credential":
            from minzheng.meals.services.interop import identify_foreign

            foreign = identify_foreign(value=req.credential, kind=req.credential_kind)
            if foreign is not None:
                return foreign
        raise
    if identified.deceased:
        _flag_now(diner_id=identified.diner.pk, kind=FlagKind.AFTER_DEATH, point_id=cfg.id,
                  dedup=f"after_death:{identified.diner.pk}:{timezone.localtime(at).date()}",
                  detail=f"已身故人员的{CredentialKind(identified.credential).label}在{cfg.name}被使用")
        raise ValidationFailed({"credential": "该凭证持有人已身故, 凭证已停用"}, code="credential_holder_deceased")
    return identified


def meal_quote(*, actor: Actor, point_id: int, credential: str, credential_kind: str = "", id_confirmed: bool = False,
               price_fen: int | None = None, use_wallet: bool = True, at: datetime | None = None) -> Priced:
    """Identify and price without writing anything; says whether the slot is already used."""
    cfg = authorise_point(actor, point_id)
    moment, _ = _moment(at)
    req = CheckoutRequest(point_id=point_id, credential=credential, idempotency_key="quote",
                          credential_kind=credential_kind, id_confirmed=id_confirmed)
    identified = _identify(req, moment, actor, cfg)
    priced = price_meal(cfg=cfg, identified=identified, at=moment, price_fen=price_fen, use_wallet=use_wallet)
    if priced.quote.subsidised:
        from minzheng.meals.selectors import subsidised_meal_in_slot

        taken = subsidised_meal_in_slot(diner_id=identified.diner.pk, day=priced.service_date, slot=priced.window.slot)
        if taken is not None:
            priced = price_meal(cfg=cfg, identified=identified, at=moment, price_fen=price_fen, use_wallet=use_wallet,
                                slot_taken=True)
    return priced


# --- confirm ------------------------------------------------------------------------------------


def _digest(req: CheckoutRequest, diner_id: int) -> bytes:
    body = {
        "point": req.point_id, "diner": diner_id, "price": req.price_fen,
        "occurred_at": req.occurred_at.isoformat() if req.occurred_at else None,
        "method": req.payment_method, "tenders": sorted((req.tenders or {}).items()),
        "use_wallet": req.use_wallet,
    }
    return crypto.sm3(DIGEST_CONTEXT + json.dumps(body, sort_keys=True, default=str).encode())


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not 8 <= len(key) <= MAX_KEY or not all(c.isalnum() or c in "-_:." for c in key):
        raise ValidationFailed({"idempotency_key": "幂等键应为8–100位字母、数字或 - _ : ."}, code="bad_idempotency_key")
    return key


def _tenders(req: CheckoutRequest, self_pay: int) -> dict[str, int]:
    if req.tenders is not None:
        bad = [t for t in req.tenders if t not in Tender.value_set()]
        if bad:
            raise ValidationFailed({"tenders": f"未知支付方式: {'、'.join(bad)}"}, code="bad_tender")
        try:
            return domain.split_tenders(self_pay, dict(req.tenders))
        except ValueError as exc:
            raise ValidationFailed({"tenders": str(exc)}, code="tender_mismatch") from None
    if self_pay == 0:
        return {}
    if req.payment_method is None:
        raise ValidationFailed({"payment_method": f"需自付 {domain.yuan(self_pay)}, 请选择支付方式"},
                               code="payment_method_required")
    if req.payment_method not in Tender.value_set():
        raise ValidationFailed({"payment_method": "支付方式取值无效"}, code="bad_tender")
    return {req.payment_method: self_pay}


_insert_sql: dict[str, tuple[str, Callable[[Model], list[Any]]]] = {}


def insert_meal(meal: MealService) -> bool:
    """INSERT unless the idempotency key or the diner's subsidised slot is taken (waits for a
    concurrent insert of either to commit or roll back, then inserts nothing instead of failing).
    The SQL is built once per database."""
    found = _insert_sql.get(connection.alias)
    if found is None:
        meta = MealService._meta
        sql, params = row_insert([f for f in meta.concrete_fields if not f.primary_key and f.column != "recorded_at"],
                                 connection)
        sql += f" ON CONFLICT DO NOTHING RETURNING {connection.ops.quote_name(meta.pk.column)}"
        found = _insert_sql[connection.alias] = (sql, params)
    sql, params = found
    with connection.cursor() as cursor:
        cursor.execute(sql, params(meal))
        row = cursor.fetchone()
    if row is None:
        return False
    meal.id = row[0]
    meal._state.adding = False
    meal._state.db = connection.alias
    return True


def _replay(existing: MealService, digest: bytes) -> CheckoutResult:
    if not crypto.constant_time_equal(bytes(existing.request_digest), digest):
        raise Conflict("该幂等键已用于另一笔内容不同的结算", code="idempotency_mismatch",
                       extra={"meal": existing.id})
    return _result(existing, replayed=True)


def _result(meal: MealService, *, replayed: bool, notice: str = "") -> CheckoutResult:
    diner = meal.diner
    return CheckoutResult(meal=meal, replayed=replayed, trace=list(meal.trace or []),
                          notice=notice or ("重复提交, 返回首次结算结果" if replayed else ""),
                          diner_name=diner.name_masked, diner_categories=domain.category_labels(diner.categories or []))


def _existing(point_id: int, key: str) -> MealService | None:
    return MealService.objects.select_related("diner").filter(point_id=point_id, idempotency_key=key).first()


def _lines(meal: MealService, cfg: PointConfig, diner_uid: str) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    benefit = meal.discount_fen + meal.subsidy_fen
    if benefit:
        lines.append((books.public_account(payer=meal.payer, point_code=cfg.code, point_region=cfg.region), benefit))
    if meal.wallet_fen:
        lines.append((books.wallet(diner_uid), meal.wallet_fen))
    for tender, amount in sorted(meal.tenders.items()):
        lines.append((books.selfpay(cfg.code, tender), amount))
    lines.append((books.payable(cfg.code), -meal.price_fen))
    return lines


def _meal_row(req: CheckoutRequest, priced: Priced, tenders: dict[str, int], digest: bytes, actor: Actor,
              key: str, offline: bool) -> MealService:
    q = priced.quote
    diner = priced.identified.diner
    return MealService(
        point_id=priced.cfg.id, diner_id=diner.pk, diner=diner, service_date=priced.service_date,
        slot=priced.window.slot, occurred_at=priced.at, price_fen=q.price_fen, discount_fen=q.discount_fen,
        subsidy_fen=q.subsidy_fen, wallet_fen=q.wallet_fen, self_pay_fen=q.self_pay_fen, tenders=tenders,
        subsidised=q.subsidised, status=MealStatus.SERVED, idempotency_key=key, request_digest=digest,
        ledger_key=f"meals:checkout:{priced.cfg.code}:{key}", payer=priced.payer, home_region=diner.home_region,
        canteen_region=priced.cfg.region, rule_ref=q.rule_ref, band=q.band, age=priced.age,
        credential=priced.identified.credential, channel=Channel.OFFLINE if offline else req.channel,
        terminal_key_id=actor.pk if is_terminal(actor) else None,
        operator_id=None if is_terminal(actor) else actor.pk, trace=q.trace_dicts(),
    )


@retry_on_conflict
def meal_checkout(*, actor: Actor, request: CheckoutRequest) -> CheckoutResult:
    """Confirm one meal: claim the slot, post the split to the ledger, audit — one transaction.

    Refusals, with nothing posted: unknown/expired credential (400 ``unknown_credential``,
    ``qr_expired``…), slot or point closed (409 ``slot_closed``/``point_closed``), a second
    subsidised meal where the rules refuse it (409 ``slot_already_subsidised``), tenders not adding
    up (400 ``tender_mismatch``), a changed quote (409 ``quote_changed``), a key reused for another
    request (409 ``idempotency_mismatch``), a terminal at another point (403
    ``terminal_point_mismatch``), a wallet spent meanwhile (409 ``insufficient_funds``)."""
    req = request
    key = _check_key(req.idempotency_key)
    cfg = authorise_point(actor, req.point_id)
    at, offline = _moment(req.occurred_at)
    identified = _identify(req, at, actor, cfg)
    digest = _digest(req, identified.diner.pk)
    try:
        priced = price_meal(cfg=cfg, identified=identified, at=at, price_fen=req.price_fen, use_wallet=req.use_wallet)
        tenders = _tenders(req, priced.quote.self_pay_fen)
        if req.expected_self_pay_fen is not None and req.expected_self_pay_fen != priced.quote.self_pay_fen:
            raise Conflict("结算金额已变化, 请重新确认", code="quote_changed",
                           extra={"self_pay_fen": priced.quote.self_pay_fen, "trace": priced.quote.trace_dicts()})
    except ApplicationError:
        existing = _existing(cfg.id, key)  # a retry whose wallet or slot has changed since: the first result
        if existing is not None:
            return _replay(existing, digest)
        raise
    if identified.foreign is not None and priced.quote.subsidised:
        from minzheng.meals.services.interop import claim_foreign_slot

        if not claim_foreign_slot(identified=identified, priced=priced, key=key):
            priced, tenders = _second_attempt(req, cfg, identified, at)
    with transaction.atomic():
        meal = _meal_row(req, priced, tenders, digest, actor, key, offline)
        if not insert_meal(meal):
            existing = _existing(cfg.id, key)
            if existing is not None:
                return _replay(existing, digest)
            # The slot was taken by another point meanwhile: full price, or refused.
            priced, tenders = _second_attempt(req, cfg, identified, at)
            meal = _meal_row(req, priced, tenders, digest, actor, key, offline)
            if not insert_meal(meal):
                existing = _existing(cfg.id, key)
                if existing is not None:
                    return _replay(existing, digest)
                raise Conflict("结算冲突, 请重试", code="checkout_conflict")  # pragma: no cover
        lines = _lines(meal, cfg, str(identified.diner.uid))
        books.ensure([code for code, _ in lines if not code.startswith("meals:wallet:")],
                     division_code=cfg.division_code or f"{cfg.region}000000", point_name=cfg.name,
                     owner=("meal_point", cfg.code))
        # One audit row records the whole checkout: the meal (what, where, who, the split) and its
        # posting (key, lines, MAC), written by the ledger as the posting's audit (AuditNote).
        txn_post(actor=actor, key=meal.ledger_key, kind="meal.checkout", lines=lines, occurred_at=at,
                 memo=f"{cfg.name} {Slot(meal.slot).label}", metadata={
                     "meal": meal.id, "point": cfg.code, "diner": str(identified.diner.uid),
                     "date": meal.service_date.isoformat(), "slot": meal.slot, "payer": meal.payer, "meals": 1},
                 audit=AuditNote("meals.checkout", {
                     "meal": meal.id, "point": cfg.code, "diner": str(identified.diner.uid), "slot": meal.slot,
                     "date": meal.service_date.isoformat(), "price": meal.price_fen, "benefit": meal.benefit_fen,
                     "wallet": meal.wallet_fen, "self_pay": meal.self_pay_fen, "subsidised": meal.subsidised,
                     "credential": meal.credential, "channel": meal.channel}),
                 savepoint=False)  # a refusal (a wallet spent meanwhile) ends the whole checkout
        if identified.leave == LeaveKind.HOSPITAL:
            _flag(diner_id=identified.diner.pk, kind=FlagKind.HOSPITAL_LEAVE, meal_id=meal.id, point_id=cfg.id,
                  dedup=f"hospital:{meal.id}", detail=f"住院报备期间在{cfg.name}就餐(已按原价结算)")
    return _result(meal, replayed=False, notice=priced.quote.notice)


def _second_attempt(req: CheckoutRequest, cfg: PointConfig, identified: Identified,
                    at: datetime) -> tuple[Priced, dict[str, int]]:
    priced = price_meal(cfg=cfg, identified=identified, at=at, price_fen=req.price_fen, use_wallet=req.use_wallet,
                        slot_taken=True)
    if priced.quote.refused:
        raise Conflict(priced.quote.notice, code="slot_already_subsidised",
                       extra={"slot": priced.window.slot, "date": priced.service_date.isoformat()})
    if req.expected_self_pay_fen is not None and req.expected_self_pay_fen != priced.quote.self_pay_fen:
        raise Conflict(priced.quote.notice + ", 请重新确认金额", code="quote_changed",
                       extra={"self_pay_fen": priced.quote.self_pay_fen, "trace": priced.quote.trace_dicts()})
    if req.tenders is not None:
        raise Conflict(priced.quote.notice + ", 请重新确认支付方式", code="quote_changed",
                       extra={"self_pay_fen": priced.quote.self_pay_fen, "trace": priced.quote.trace_dicts()})
    return priced, _tenders(req, priced.quote.self_pay_fen)


# --- void / refund --------------------------------------------------------------------------------


@retry_on_conflict
def meal_void(*, actor: Actor, meal_id: int, reason: str) -> MealService:
    """Void (refund) a meal: the ledger reversal restores every balance (the wallet included) and
    the slot is free again. Operators and terminals void at their own point on the same day;
    township and district staff at any time within their area."""
    require(actor, MealsPerm.VOID)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "请填写冲正原因"}, code="reason_required")
    if len(reason) > 200:
        raise ValidationFailed({"reason": "冲正原因不能超过200字"}, code="reason_too_long")
    meal = MealService.objects.select_related("point", "diner").filter(pk=meal_id).first()
    if meal is None:
        raise NotFound()
    ids = actor_point_ids(actor)
    if ids is not None:
        if meal.point_id not in ids:
            raise NotFound()
        if meal.service_date != timezone.localdate():
            raise PermissionDenied("助餐点只能冲正当日的记录, 请联系街道", code="void_not_same_day")
    elif not meal.point.area_path.startswith(actor.scope_path):
        raise NotFound()
    with transaction.atomic():
        locked = MealService.objects.select_for_update().get(pk=meal.pk)
        if locked.status != MealStatus.SERVED:
            raise Conflict("该记录已冲正", code="already_voided")
        original = txn_by_key(key=locked.ledger_key)
        if original is not None:
            txn_reverse(actor=actor, txn=original, key=f"meals:void:{meal.point.code}:{locked.id}", reason=reason,
                        occurred_at=original.occurred_at, metadata={"meal": locked.id, "meals": -1})
        MealService.objects.filter(pk=locked.pk).update(status=MealStatus.VOIDED, void_reason=reason,
                                                        voided_at=timezone.now(), voided_by_id=actor.pk)
        audit_record(actor=actor, event_type="meals.void", object_type="meals.meal", object_id=locked.id,
                     reason=reason, extra={"point": meal.point.code, "price": locked.price_fen})
    locked.refresh_from_db()
    return locked


# --- offline batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItemResult:
    idempotency_key: str
    ok: bool
    replayed: bool = False
    meal_id: int | None = None
    code: str = ""
    message: str = ""
    subsidised: bool = False
    self_pay_fen: int = 0


def meal_checkout_batch(*, actor: Actor, point_id: int, items: Sequence[CheckoutRequest]) -> list[BatchItemResult]:
    """An offline terminal's backlog, in the order recorded, each with its original time; each item
    in its own transaction, deduplicated by its key. One bad item does not stop the rest."""
    authorise_point(actor, point_id)
    if not items:
        raise ValidationFailed({"items": "批量记录为空"}, code="empty_batch")
    if len(items) > BATCH_MAX:
        raise ValidationFailed({"items": f"每批最多{BATCH_MAX}条"}, code="batch_too_large")
    keys = [i.idempotency_key for i in items]
    if len(set(keys)) != len(keys):
        raise ValidationFailed({"items": "同一批次中幂等键重复"}, code="duplicate_keys_in_batch")
    out: list[BatchItemResult] = []
    for item in sorted(items, key=lambda i: (i.occurred_at or timezone.now())):
        if item.point_id != point_id:
            out.append(BatchItemResult(item.idempotency_key, False, code="terminal_point_mismatch",
                                       message="批量记录中的助餐点与终端不符"))
            continue
        if item.occurred_at is None:
            out.append(BatchItemResult(item.idempotency_key, False, code="bad_occurred_at",
                                       message="离线记录须带原始就餐时间"))
            continue
        try:
            res = meal_checkout(actor=actor, request=dataclasses.replace(item, channel=Channel.OFFLINE))
        except ApplicationError as exc:
            out.append(BatchItemResult(item.idempotency_key, False, code=exc.code, message=exc.message))
            continue
        out.append(BatchItemResult(item.idempotency_key, True, replayed=res.replayed, meal_id=res.meal.id,
                                   subsidised=res.meal.subsidised, self_pay_fen=res.meal.self_pay_fen))
    return out


# --- flags ------------------------------------------------------------------------------------------


def _flag(*, diner_id: int, kind: str, detail: str, dedup: str, meal_id: int | None = None,
          other_meal_id: int | None = None, point_id: int | None = None) -> None:
    flag, created = FraudFlag.objects.get_or_create(dedup_key=dedup[:120], defaults={
        "diner_id": diner_id, "kind": kind, "meal_id": meal_id, "other_meal_id": other_meal_id,
        "point_id": point_id, "detail": detail[:300]})
    if created:
        audit_record(actor=None, event_type="meals.flag", object_type="meals.flag", object_id=flag.pk,
                     extra={"kind": kind, "diner": diner_id})


def _flag_now(**kw: Any) -> None:
    """A flag that must survive the refusal that follows it: its own committed transaction."""
    with transaction.atomic():
        _flag(**kw)

