"""全城通吃: Yuhang diners eat in other districts, other districts' diners eat in Yuhang.

Outbound (a visitor at a Yuhang till): the city hub (``CityHub``, registered with ``register_hub``)
says who the visitor is and, before a subsidised meal, asks the visitor's home district to claim
the slot — the city-wide "one subsidised meal per slot" rule holds across systems because each
home district keeps the one UNIQUE claim for its own diners.

Inbound (a peer district or the city reports a Yuhang diner's meal at one of its points): the
report claims the slot in Yuhang's own table (the same partial UNIQUE index), so a Yuhang diner
cannot have a subsidised lunch both in Yuhang and in 西湖区; if the slot is taken the peer is
told to charge full price. Whoever pays under the payer rule is posted to the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, PermissionDenied, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.services import txn_post
from minzheng.meals import domain
from minzheng.meals.enums import (
    YUHANG,
    Channel,
    CredentialKind,
    DinerStatus,
    MealStatus,
    PointType,
    Slot,
)
from minzheng.meals.models import Diner, InteropMessage, InteropPeer, MealPoint, MealService
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import (
    Identified,
    diner_identify,
    require,
    rule_set_for,
    subsidised_meal_in_slot,
)
from minzheng.meals.services import books

# --- the city hub (outbound) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ForeignDiner:
    external_ref: str  # the home district's id of the diner
    home_region: str
    name_masked: str
    birth_date: date
    categories: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class SlotClaim:
    key: str
    external_ref: str
    home_region: str
    canteen_region: str
    point_code: str
    point_name: str
    service_date: date
    slot: str
    occurred_at: datetime
    price_fen: int
    discount_fen: int
    subsidy_fen: int


@dataclass(frozen=True)
class ClaimAnswer:
    accepted: bool
    code: str = ""
    message: str = ""


class CityHub(Protocol):
    def lookup(self, *, credential: str, kind: str) -> ForeignDiner | None: ...

    def claim(self, *, claim: SlotClaim) -> ClaimAnswer: ...


_hub: list[CityHub | None] = [None]


def register_hub(hub: CityHub | None) -> None:
    """Connect (or with None disconnect) the city system; tests plug a simulated peer district in."""
    _hub[0] = hub


def current_hub() -> CityHub | None:
    return _hub[0]


def identify_foreign(*, value: str, kind: str = "") -> Identified | None:
    """A credential unknown in Yuhang: ask the city who it is, and keep a visitor record."""
    hub = current_hub()
    if hub is None:
        return None
    info = hub.lookup(credential=value, kind=kind)
    if info is None or info.home_region == YUHANG:
        return None
    with transaction.atomic():
        diner, _ = Diner.objects.update_or_create(
            external_ref=f"{info.home_region}:{info.external_ref}",
            defaults={"name_masked": info.name_masked[:32], "birth_date": info.birth_date,
                      "home_region": info.home_region, "categories": sorted(info.categories),
                      "status": DinerStatus.ACTIVE if info.active else DinerStatus.SUSPENDED,
                      "suspended_reason": "" if info.active else "户籍区暂停"},
        )
    credential = kind or (CredentialKind.QR if domain.looks_like_qr(value) else CredentialKind.CITIZEN_CARD)
    return Identified(diner=diner, credential=credential, foreign=info)


def claim_foreign_slot(*, identified: Identified, priced: Any, key: str) -> bool:
    """Ask the visitor's home district to claim the slot before a subsidised meal."""
    hub = current_hub()
    info: ForeignDiner = identified.foreign
    if hub is None:
        return False
    q = priced.quote
    claim = SlotClaim(key=f"{YUHANG}:{priced.cfg.code}:{key}", external_ref=info.external_ref,
                      home_region=info.home_region, canteen_region=YUHANG, point_code=priced.cfg.code,
                      point_name=priced.cfg.name, service_date=priced.service_date, slot=priced.window.slot,
                      occurred_at=priced.at, price_fen=q.price_fen, discount_fen=q.discount_fen,
                      subsidy_fen=q.subsidy_fen)
    answer = hub.claim(claim=claim)
    with transaction.atomic():
        InteropMessage.objects.get_or_create(peer_region=info.home_region, direction="out", key=claim.key, defaults={
            "kind": "slot_claim", "body": {"slot": claim.slot, "date": claim.service_date.isoformat(),
                                           "benefit": q.benefit_fen},
            "result": {"accepted": answer.accepted, "code": answer.code}})
    return answer.accepted


# --- inbound: the API a peer district or the city calls ------------------------------------------


def peer_region_of(actor: Actor) -> str:
    """The region a peer key speaks for (the city hub, 3301, may speak for any district)."""
    require(actor, MealsPerm.INTEROP)
    region = InteropPeer.objects.filter(api_key_id=actor.pk).values_list("region", flat=True).first()
    if region is None:
        raise PermissionDenied("该接口密钥未登记为全城通对接方", code="peer_unknown")
    return str(region)


def _diner_by_ref(ref: str) -> Diner | None:
    try:
        return Diner.objects.select_related("person").filter(uid=ref, person__isnull=False).first()
    except (ValueError, TypeError):
        return None
    except Exception:
        return None


def interop_eligibility(*, actor: Actor, credential: str, kind: str = "", on: datetime | None = None) -> dict[str, Any]:
    """Is this a Yuhang diner, what is their tier, and is the slot at ``on`` still free?"""
    peer_region_of(actor)
    at = on or timezone.now()
    day = timezone.localtime(at).date()
    diner = _diner_by_ref(credential) if kind == "ref" else None
    if diner is None and kind != "ref":
        identified = diner_identify(value=credential, kind=kind, day=day, id_confirmed=False)
        diner = identified.diner
        if diner.person is None:
            raise ValidationFailed({"credential": "非余杭区登记的助餐对象"}, code="unknown_credential")
    if diner is None:
        raise ValidationFailed({"credential": "未找到该助餐对象"}, code="unknown_credential")
    window = domain.slot_at(timezone.localtime(at).time(), domain.DEFAULT_WINDOWS)
    used = subsidised_meal_in_slot(diner_id=diner.pk, day=day, slot=window.slot) if window else None
    rules = rule_set_for(region=YUHANG, day=day)
    return {
        "external_ref": str(diner.uid), "home_region": YUHANG, "name_masked": diner.name_masked,
        "birth_date": diner.birth_date.isoformat(), "age": domain.age_on(diner.birth_date, day),
        "status": diner.status, "eligible": diner.status == DinerStatus.ACTIVE,
        "categories": sorted(diner.categories or []), "rule": rules.ref if rules else "",
        "slot": window.slot if window else None, "slot_used": used is not None,
        "slot_used_at": used.point.name if used else None,
    }


@dataclass(frozen=True)
class InboundReport:
    key: str
    external_ref: str  # the Yuhang diner's uid as our eligibility answer gave it
    canteen_region: str
    point_code: str
    point_name: str
    occurred_at: datetime
    slot: str
    price_fen: int
    discount_fen: int
    subsidy_fen: int


def _foreign_point(region: str, code: str, name: str) -> MealPoint:
    point, _ = MealPoint.objects.get_or_create(
        code=f"X{region}-{code}"[:32],
        defaults={"name": name[:100] or code, "point_type": PointType.MEAL_POINT, "region": region,
                  "connected_to_city": True, "wallet_approved": False},
    )
    return point


def _check_report(r: InboundReport) -> None:
    errors: dict[str, str] = {}
    if not r.key or len(r.key) > 100:
        errors["key"] = "幂等键应为1–100个字符"
    if r.slot not in Slot.value_set():
        errors["slot"] = "餐次取值无效"
    for name in ("price_fen", "discount_fen", "subsidy_fen"):
        v = getattr(r, name)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= domain.MAX_PRICE_FEN:
            errors[name] = "金额应为非负整数分"
    if not errors and r.discount_fen + r.subsidy_fen > r.price_fen:
        errors["subsidy_fen"] = "优惠与补贴之和不能超过餐费"
    if timezone.is_naive(r.occurred_at):
        errors["occurred_at"] = "就餐时间须带时区"
    if errors:
        raise ValidationFailed(errors, code="bad_meal_report")


@retry_on_conflict
def interop_meal_report(*, actor: Actor, report: InboundReport) -> dict[str, Any]:
    """A peer reports (and claims) a Yuhang diner's meal at its point. Idempotent by the peer's key.

    Answers ``accepted`` (the subsidy stands and the payer posts it) or 409
    ``slot_already_subsidised`` (the peer must charge full price)."""
    region = peer_region_of(actor)
    _check_report(report)
    if region != report.canteen_region and region != "3301":
        raise PermissionDenied("对接方只能上报本区助餐点的就餐记录", code="peer_region_mismatch")
    if report.canteen_region == YUHANG:
        raise ValidationFailed({"canteen_region": "余杭区助餐点的就餐由本系统直接记录"}, code="bad_meal_report")
    body = json.dumps({**report.__dict__, "occurred_at": report.occurred_at.isoformat()}, sort_keys=True)
    digest = crypto.sm3(b"minzheng.meals.interop.v1\n" + body.encode())
    prior = InteropMessage.objects.filter(peer_region=region, direction="in", key=report.key).first()
    if prior is not None:
        if prior.body.get("digest") != digest.hex():
            raise Conflict("该幂等键已用于另一条内容不同的就餐上报", code="idempotency_mismatch")
        return {**prior.result, "replayed": True}
    diner = _diner_by_ref(report.external_ref)
    if diner is None:
        raise ValidationFailed({"external_ref": "未找到该余杭区助餐对象"}, code="unknown_credential")
    day = timezone.localtime(report.occurred_at).date()
    benefit = report.discount_fen + report.subsidy_fen
    rules = rule_set_for(region=YUHANG, day=day)
    payer = domain.payer_for(rules.payer_rule if rules else "home_district", home_region=YUHANG,
                             canteen_region=report.canteen_region)
    eligible = diner.status == DinerStatus.ACTIVE
    with transaction.atomic():
        point = _foreign_point(report.canteen_region, report.point_code, report.point_name)
        subsidised = benefit > 0 and eligible
        meal = MealService(
            point=point, diner=diner, service_date=day, slot=report.slot, occurred_at=report.occurred_at,
            price_fen=report.price_fen, discount_fen=report.discount_fen if subsidised else 0,
            subsidy_fen=report.subsidy_fen if subsidised else 0, wallet_fen=0,
            self_pay_fen=report.price_fen - (benefit if subsidised else 0), tenders={}, subsidised=subsidised,
            idempotency_key=report.key, request_digest=digest, ledger_key="", payer=payer, home_region=YUHANG,
            canteen_region=report.canteen_region, rule_ref="", band="", age=domain.age_on(diner.birth_date, day),
            credential=CredentialKind.CITIZEN_CARD, channel=Channel.INTEROP,
        )
        from minzheng.meals.services.checkout import insert_meal

        if not subsidised and benefit > 0:
            raise Conflict("该老人助餐资格已暂停, 请按原价结算", code="diner_not_eligible")
        if subsidised and payer == YUHANG:
            meal.ledger_key = f"meals:interop:{region}:{report.key}"
        if not insert_meal(meal):
            existing = MealService.objects.filter(point=point, idempotency_key=report.key).first()
            if existing is not None:
                return {"accepted": True, "meal": existing.id, "payer": existing.payer, "replayed": True}
            raise Conflict("该老人本餐次已在其他助餐点享受优惠, 请按原价结算", code="slot_already_subsidised")
        if meal.ledger_key:
            books.ensure([books.benefit(YUHANG, point.code), books.due_to(report.canteen_region)],
                          division_code=f"{YUHANG}000000", point_name=point.name)
            txn_post(actor=actor, key=meal.ledger_key, kind="meal.interop", occurred_at=report.occurred_at,
                     memo=f"全城通 {point.name} {Slot(report.slot).label}",
                     lines=[(books.benefit(YUHANG, point.code), benefit), (books.due_to(report.canteen_region), -benefit)],
                     metadata={"meal": meal.id, "peer": region, "diner": str(diner.uid)})
        result = {"accepted": True, "meal": meal.id, "payer": payer, "benefit_fen": meal.benefit_fen}
        InteropMessage.objects.create(peer_region=region, direction="in", kind="meal_report", key=report.key,
                                      body={"digest": digest.hex(), "meal": meal.id}, result=result)
        audit_record(actor=actor, event_type="meals.interop_report", object_type="meals.meal", object_id=meal.id,
                     extra={"peer": region, "payer": payer, "benefit": meal.benefit_fen})
    return {**result, "replayed": False}


def interop_daily_statement(*, actor: Actor, day: date) -> dict[str, Any]:
    """The day's meals between Yuhang and the caller's region, both ways, with who pays."""
    region = peer_region_of(actor)
    served = MealService.objects.filter(service_date=day, status=MealStatus.SERVED)
    if region != "3301":
        served = served.filter(Q(home_region=region, canteen_region=YUHANG) | Q(home_region=YUHANG,
                                                                                  canteen_region=region))
    else:
        served = served.exclude(home_region=YUHANG, canteen_region=YUHANG, payer=YUHANG)
    rows = (served.values("home_region", "canteen_region", "payer")
            .annotate(meals=Count("id"), price=Coalesce(Sum("price_fen"), 0),
                      benefit=Coalesce(Sum("discount_fen"), 0) + Coalesce(Sum("subsidy_fen"), 0))
            .order_by("home_region", "canteen_region", "payer"))
    lines = [{"home_region": r["home_region"], "canteen_region": r["canteen_region"], "payer": r["payer"],
              "meals": r["meals"], "price_fen": r["price"], "benefit_fen": r["benefit"]} for r in rows]
    return {"date": day.isoformat(), "region": YUHANG, "peer": region, "lines": lines,
            "benefit_fen": sum(line["benefit_fen"] for line in lines), "meals": sum(line["meals"] for line in lines)}


def peer_register(*, actor: Actor | None, region: str, name: str, api_key: Any = None) -> InteropPeer:
    if actor is not None:
        require(actor, MealsPerm.MANAGE_POINTS)
    if not region.isdigit() or len(region) not in (4, 6) or region == YUHANG:
        raise ValidationFailed({"region": "对接方应为其他区县(6位)或市(3301)"}, code="bad_region")
    with transaction.atomic():
        peer, _ = InteropPeer.objects.update_or_create(region=region, defaults={"name": name[:60], "api_key": api_key})
        audit_record(actor=actor, event_type="meals.peer_register", object_type="meals.peer", object_id=region)
    return peer


def statement_window(day: date) -> tuple[date, date]:
    return day, day + timedelta(days=1)


def normalise_report(data: Mapping[str, Any]) -> InboundReport:
    return InboundReport(**{k: data[k] for k in InboundReport.__dataclass_fields__})
