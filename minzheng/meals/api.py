"""JSON API of 智慧助餐 (django-ninja), mounted by ``minzheng.web.api`` at /api/v1/meals/.

Terminals authenticate with ``X-API-Key`` (a ``canteen_terminal`` key bound to one point), canteen
operators with their session; every operation declares its permission with ``core.access.requires``
and ``web.api`` enforces it. A terminal naming another point gets 403 ``terminal_point_mismatch``.

- ``POST /identify``          who is at the till (card, QR, ``face:<ref>``, ID number + confirmation)
- ``POST /quote``             the price, line by line, without writing anything
- ``POST /checkout``          confirm one meal (``idempotency_key`` in the body or ``Idempotency-Key``)
- ``POST /checkout/batch``    an offline terminal's backlog with original times
- ``POST /meals/{id}/void``   void/refund by ledger reversal, with a reason
- ``GET  /meals``             a point's meals of a day
- ``POST /faces``             a terminal's face engine enrolled a diner (reference only, no image)
- ``POST /terminal-reports``  the terminal's own daily totals, for reconciliation
- ``POST /interop/eligibility``, ``POST /interop/meals``, ``GET /interop/statements/daily``:
  全城通吃 for the city hub and peer districts (``peer_system`` keys). A card number is a
  credential, so it travels in a body, never in a URL (security AUTH-7).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import BaseModel

from minzheng.core.access import requires
from minzheng.core.exceptions import ValidationFailed
from minzheng.meals import domain
from minzheng.meals.enums import Slot
from minzheng.meals.models import MealService
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import diner_identify, meal_scope, point_config_by_code
from minzheng.meals.services import checkout as co
from minzheng.meals.services import diners as diner_services
from minzheng.meals.services import interop, settlement

router = Router(tags=["智慧助餐 meals"])

CredentialKindIn = Literal["card", "citizen_card", "love_card", "qr", "face", "id_number"]
TenderIn = Literal["cash", "citizen_card", "wechat", "alipay", "love_card"]
POINT_PATTERN = r"^[A-Za-z0-9-]{1,16}$"


# The till's requests and answers (identify, quote, checkout, the meal) are plain pydantic models:
# ninja's Schema reads every field through a Django-aware getter, which only ORM objects need and
# which costs ~100 µs on each checkout's answer; these are built from JSON bodies and dicts.


class CredentialIn(BaseModel):
    point: str = Field(..., pattern=POINT_PATTERN, description="助餐点编号")
    credential: str = Field(..., min_length=1, max_length=200,
                            description="卡号、动态二维码内容、face:<人脸引用号> 或身份证号")
    kind: CredentialKindIn | None = Field(None, description="识别方式; 留空则自动判断")
    id_confirmed: bool = Field(False, description="使用身份证号时, 操作员已核验本人证件")


class QuoteIn(CredentialIn):
    price_fen: int | None = Field(None, ge=1, le=domain.MAX_PRICE_FEN, description="餐费(分); 留空为该餐次标准餐价")
    use_wallet: bool = Field(True, description="使用电子津贴抵扣")


class CheckoutIn(QuoteIn):
    idempotency_key: str | None = Field(None, min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_:.\-]+$",
                                        description="每笔结算唯一; 也可放在请求头 Idempotency-Key")
    payment_method: TenderIn | None = Field(None, description="自付部分的支付方式(全部)")
    tenders: dict[TenderIn, int] | None = Field(None, description="自付部分拆分: {支付方式: 金额分}, 合计须等于自付")
    expected_self_pay_fen: int | None = Field(None, ge=0, description="终端显示给老人的自付金额; 不一致则 409")
    occurred_at: datetime | None = Field(None, description="离线补传的原始就餐时间(带时区)")


class BatchItemIn(Schema):
    credential: str = Field(..., min_length=1, max_length=200)
    kind: CredentialKindIn | None = None
    idempotency_key: str = Field(..., min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_:.\-]+$")
    occurred_at: datetime
    price_fen: int | None = Field(None, ge=1, le=domain.MAX_PRICE_FEN)
    payment_method: TenderIn | None = None
    tenders: dict[TenderIn, int] | None = None
    use_wallet: bool = True


class BatchIn(Schema):
    point: str = Field(..., pattern=POINT_PATTERN)
    items: list[BatchItemIn] = Field(..., min_length=1, max_length=co.BATCH_MAX)


class TraceLineOut(BaseModel):
    step: str
    label: str
    amount_fen: int
    remaining_fen: int
    rule: str


class DinerOut(Schema):
    uid: str
    name: str = Field(..., description="脱敏姓名")
    age: int
    status: str
    status_label: str
    categories: list[str]
    leave: str
    home_region: str
    credential: str


class QuoteOut(Schema):
    diner: DinerOut
    point: str
    date: date
    slot: Slot
    slot_label: str
    price_fen: int
    discount_fen: int
    subsidy_fen: int
    wallet_fen: int
    self_pay_fen: int
    subsidised: bool
    refused: bool
    notice: str
    rule: str
    to_confirm: list[str] = Field(..., description="规则中待民政局确认的部分")
    trace: list[TraceLineOut]


class MealOut(BaseModel):
    id: int
    point: str
    diner: str
    date: date
    slot: Slot
    occurred_at: datetime
    price_fen: int
    discount_fen: int
    subsidy_fen: int
    wallet_fen: int
    self_pay_fen: int
    tenders: dict[str, int]
    subsidised: bool
    payer: str
    status: str
    channel: str
    trace: list[TraceLineOut]


class CheckoutOut(MealOut):
    replayed: bool = Field(..., description="重复提交: 返回首次结算结果, 未重复记账")
    notice: str


class BatchItemOut(Schema):
    idempotency_key: str
    ok: bool
    replayed: bool
    meal_id: int | None
    code: str
    message: str
    subsidised: bool
    self_pay_fen: int


class BatchOut(Schema):
    accepted: int
    refused: int
    items: list[BatchItemOut]


class VoidIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


class FaceIn(CredentialIn):
    ref: str = Field(..., min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="人脸引擎的登记引用号")


class FaceOut(Schema):
    diner: str
    ref: str
    point: str


class TerminalReportIn(Schema):
    point: str = Field(..., pattern=POINT_PATTERN)
    date: date
    meals: int = Field(..., ge=0, le=100_000)
    price_fen: int = Field(..., ge=0)
    benefit_fen: int = Field(..., ge=0)
    wallet_fen: int = Field(..., ge=0)
    self_pay_fen: int = Field(..., ge=0)


class TerminalReportOut(Schema):
    point: str
    date: date
    accepted: bool


class MealListQuery(Schema):
    point: str = Field(..., pattern=POINT_PATTERN)
    date: date


class EligibilityIn(Schema):
    credential: str = Field(..., min_length=1, max_length=200, description="卡号/二维码, 或 kind=ref 时为余杭助餐对象编号")
    kind: Literal["card", "citizen_card", "love_card", "qr", "ref"] | None = None
    at: datetime | None = None


class EligibilityOut(Schema):
    external_ref: str
    home_region: str
    name_masked: str
    birth_date: date
    age: int
    status: str
    eligible: bool
    categories: list[str]
    rule: str
    slot: str | None
    slot_used: bool
    slot_used_at: str | None


class MealReportIn(Schema):
    key: str = Field(..., min_length=1, max_length=100)
    external_ref: str = Field(..., min_length=1, max_length=64, description="余杭区助餐对象编号(资格查询返回)")
    canteen_region: str = Field(..., pattern=r"^\d{6}$")
    point_code: str = Field(..., min_length=1, max_length=20)
    point_name: str = Field("", max_length=100)
    occurred_at: datetime
    slot: Slot
    price_fen: int = Field(..., ge=0, le=domain.MAX_PRICE_FEN)
    discount_fen: int = Field(..., ge=0, le=domain.MAX_PRICE_FEN)
    subsidy_fen: int = Field(..., ge=0, le=domain.MAX_PRICE_FEN)


class MealReportOut(Schema):
    accepted: bool
    meal: int
    payer: str
    replayed: bool


class StatementLineOut(Schema):
    home_region: str
    canteen_region: str
    payer: str
    meals: int
    price_fen: int
    benefit_fen: int


class StatementOut(Schema):
    date: date
    region: str
    peer: str
    meals: int
    benefit_fen: int
    lines: list[StatementLineOut]


class StatementQuery(Schema):
    date: date


# --- helpers ---------------------------------------------------------------------------------------


def _point_id(code: str) -> int:
    return point_config_by_code(code).id


def _meal_out(meal: MealService, point_code: str = "") -> dict[str, Any]:
    return {
        "id": meal.id, "point": point_code or meal.point.code, "diner": meal.diner.name_masked,
        "date": meal.service_date, "slot": meal.slot, "occurred_at": meal.occurred_at, "price_fen": meal.price_fen,
        "discount_fen": meal.discount_fen, "subsidy_fen": meal.subsidy_fen, "wallet_fen": meal.wallet_fen,
        "self_pay_fen": meal.self_pay_fen, "tenders": meal.tenders or {}, "subsidised": meal.subsidised,
        "payer": meal.payer, "status": meal.status, "channel": meal.channel, "trace": meal.trace or [],
    }


def _diner_out(priced: co.Priced) -> dict[str, Any]:
    d = priced.identified.diner
    return {"uid": str(d.uid), "name": d.name_masked, "age": priced.age, "status": d.status,
            "status_label": d.get_status_display(), "categories": domain.category_labels(priced.inputs.categories),
            "leave": priced.identified.leave, "home_region": d.home_region, "credential": priced.identified.credential}


def quote_out(priced: co.Priced) -> dict[str, Any]:
    q = priced.quote
    return {
        "diner": _diner_out(priced), "point": priced.cfg.code, "date": priced.service_date,
        "slot": priced.window.slot, "slot_label": Slot(priced.window.slot).label, "price_fen": q.price_fen,
        "discount_fen": q.discount_fen, "subsidy_fen": q.subsidy_fen, "wallet_fen": q.wallet_fen,
        "self_pay_fen": q.self_pay_fen, "subsidised": q.subsidised, "refused": q.refused, "notice": q.notice,
        "rule": q.rule_ref, "to_confirm": list(q.to_confirm), "trace": q.trace_dicts(),
    }


# --- the till ----------------------------------------------------------------------------------------


@router.post("/identify", response=DinerOut, summary="识别就餐老人")
@requires(MealsPerm.CHECKOUT)
def identify(request: HttpRequest, body: CredentialIn) -> dict[str, Any]:
    priced = co.meal_quote(actor=request.auth, point_id=_point_id(body.point), credential=body.credential,  # type: ignore[attr-defined]
                           credential_kind=body.kind or "", id_confirmed=body.id_confirmed)
    return _diner_out(priced)


@router.post("/quote", response=QuoteOut, summary="计价(逐行说明, 不记账)")
@requires(MealsPerm.CHECKOUT)
def quote(request: HttpRequest, body: QuoteIn) -> dict[str, Any]:
    priced = co.meal_quote(actor=request.auth, point_id=_point_id(body.point), credential=body.credential,  # type: ignore[attr-defined]
                           credential_kind=body.kind or "", id_confirmed=body.id_confirmed,
                           price_fen=body.price_fen, use_wallet=body.use_wallet)
    return quote_out(priced)


@router.post("/checkout", response={200: CheckoutOut, 201: CheckoutOut}, summary="确认结算")
@requires(MealsPerm.CHECKOUT)
def checkout(request: HttpRequest, body: CheckoutIn) -> Status[dict[str, Any]]:
    key = body.idempotency_key or request.headers.get("Idempotency-Key", "")
    if not key:
        raise ValidationFailed({"idempotency_key": "请提供幂等键(请求体 idempotency_key 或请求头 Idempotency-Key)"},
                               code="idempotency_key_required")
    result = co.meal_checkout(actor=request.auth, request=co.CheckoutRequest(  # type: ignore[attr-defined]
        point_id=_point_id(body.point), credential=body.credential, idempotency_key=key,
        credential_kind=body.kind or "", id_confirmed=body.id_confirmed, price_fen=body.price_fen,
        occurred_at=body.occurred_at, payment_method=body.payment_method,
        tenders={str(k): v for k, v in body.tenders.items()} if body.tenders is not None else None, use_wallet=body.use_wallet,
        expected_self_pay_fen=body.expected_self_pay_fen))
    out = {**_meal_out(result.meal, body.point), "replayed": result.replayed, "notice": result.notice}
    return Status(200 if result.replayed else 201, out)


@router.post("/checkout/batch", response=BatchOut, summary="离线记录批量补传")
@requires(MealsPerm.CHECKOUT)
def checkout_batch(request: HttpRequest, body: BatchIn) -> dict[str, Any]:
    point_id = _point_id(body.point)
    items = [co.CheckoutRequest(
        point_id=point_id, credential=i.credential, idempotency_key=i.idempotency_key, credential_kind=i.kind or "",
        price_fen=i.price_fen, occurred_at=i.occurred_at, payment_method=i.payment_method,
        tenders={str(k): v for k, v in i.tenders.items()} if i.tenders is not None else None, use_wallet=i.use_wallet)
        for i in body.items]
    results = co.meal_checkout_batch(actor=request.auth, point_id=point_id, items=items)  # type: ignore[attr-defined]
    return {"accepted": sum(r.ok for r in results), "refused": sum(not r.ok for r in results),
            "items": [r.__dict__ for r in results]}


@router.post("/meals/{meal_id}/void", response=MealOut, summary="冲正(退款)")
@requires(MealsPerm.VOID)
def void(request: HttpRequest, meal_id: int, body: VoidIn) -> dict[str, Any]:
    meal = co.meal_void(actor=request.auth, meal_id=meal_id, reason=body.reason)  # type: ignore[attr-defined]
    return _meal_out(meal)


@router.get("/meals", response=list[MealOut], summary="助餐点某日的就餐记录")
@requires(MealsPerm.VIEW)
def meals_of_day(request: HttpRequest, q: Query[MealListQuery]) -> list[dict[str, Any]]:
    actor: Any = request.auth  # type: ignore[attr-defined]
    point_id = _point_id(q.point)
    meals = meal_scope(actor=actor).filter(point_id=point_id, service_date=q.date).select_related("diner", "point")
    return [_meal_out(m) for m in meals.order_by("id")[:2000]]


@router.post("/faces", response={201: FaceOut}, summary="人脸登记(仅引用号, 不存图像)")
@requires(MealsPerm.ENROL_FACE)
def face_enrol(request: HttpRequest, body: FaceIn) -> Status[dict[str, Any]]:
    actor: Any = request.auth  # type: ignore[attr-defined]
    co.authorise_point(actor, _point_id(body.point), MealsPerm.ENROL_FACE)
    from django.utils import timezone

    found = diner_identify(value=body.credential, kind=body.kind or "", day=timezone.localdate(),
                           id_confirmed=body.id_confirmed)
    face = diner_services.face_enrol(actor=actor, diner=found.diner, ref=body.ref)
    return Status(201, {"diner": found.diner.name_masked, "ref": face.ref_masked, "point": body.point})


@router.post("/terminal-reports", response=TerminalReportOut, summary="终端日结汇总(用于对账)")
@requires(MealsPerm.CHECKOUT)
def terminal_report(request: HttpRequest, body: TerminalReportIn) -> dict[str, Any]:
    settlement.terminal_report_submit(
        actor=request.auth, point_id=_point_id(body.point), day=body.date,  # type: ignore[attr-defined]
        totals=domain.Totals(body.meals, body.price_fen, body.benefit_fen, body.wallet_fen, body.self_pay_fen))
    return {"point": body.point, "date": body.date, "accepted": True}


# --- 全城通吃 interop --------------------------------------------------------------------------------


@router.post("/interop/eligibility", response=EligibilityOut, summary="全城通: 余杭助餐对象资格查询")
@requires(MealsPerm.INTEROP)
def interop_eligibility(request: HttpRequest, body: EligibilityIn) -> dict[str, Any]:
    return interop.interop_eligibility(actor=request.auth, credential=body.credential, kind=body.kind or "",  # type: ignore[attr-defined]
                                       on=body.at)


@router.post("/interop/meals", response={200: MealReportOut, 201: MealReportOut}, summary="全城通: 余杭老人在外区就餐上报")
@requires(MealsPerm.INTEROP)
def interop_meal(request: HttpRequest, body: MealReportIn) -> Status[dict[str, Any]]:
    report = interop.InboundReport(**body.dict())
    result = interop.interop_meal_report(actor=request.auth, report=report)  # type: ignore[attr-defined]
    return Status(200 if result["replayed"] else 201, result)


@router.get("/interop/statements/daily", response=StatementOut, summary="全城通: 日对账单")
@requires(MealsPerm.INTEROP)
def interop_statement(request: HttpRequest, q: Query[StatementQuery]) -> dict[str, Any]:
    return interop.interop_daily_statement(actor=request.auth, day=q.date)  # type: ignore[attr-defined]
