"""Reads of 智慧助餐. Lists and aggregates are cut to the actor's area (``scope_path``); a canteen
operator sees their own points, a terminal its one point.

Identification at the till (``diner_identify``) is deliberately city-wide (全城通吃: an elder eats at
any point), and answers a masked name and the tier only — never an ID number or a card number.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from minzheng.core import crypto, identifiers, statements
from minzheng.core.access import Actor, Role
from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.meals import domain
from minzheng.meals.enums import (
    YUHANG,
    Category,
    ClaimStatus,
    CredentialKind,
    DinerStatus,
    ExceptionStatus,
    LeaveKind,
    MealStatus,
    Slot,
)
from minzheng.meals.models import (
    ClearingStatement,
    Diner,
    DinerCard,
    DinerLeave,
    FaceEnrolment,
    FraudFlag,
    MealPoint,
    MealService,
    OperatorClaim,
    PointOperator,
    PointTerminal,
    PricingRule,
    ReconException,
)
from minzheng.meals.permissions import MealsPerm
from minzheng.people.domain import born_by
from minzheng.people.enums import PersonStatus
from minzheng.people.models import Person

CACHE_SECONDS = 30.0


def require(actor: Actor, perm: str) -> None:
    if not actor.has_permission(perm):
        raise PermissionDenied()


# --- configuration, cached per process ------------------------------------------------------------


@dataclass(frozen=True)
class PointConfig:
    id: int
    code: str
    name: str
    point_type: str
    region: str
    division_code: str
    area_path: str
    windows: tuple[domain.SlotWindow, ...]
    opening_days: frozenset[int]
    wallet_approved: bool
    second_meal: str
    is_active: bool
    connected_to_city: bool

    def window(self, slot: str) -> domain.SlotWindow | None:
        return next((w for w in self.windows if w.slot == slot), None)


_points: dict[int, tuple[float, PointConfig]] = {}
_terminals: dict[int, tuple[float, int | None]] = {}
_rules: dict[str, Any] = {"at": 0.0, "sets": ()}


def config_cache_clear() -> None:
    _codes.clear()
    _points.clear()
    _terminals.clear()
    _rules["at"] = 0.0


def _config_of(p: MealPoint) -> PointConfig:
    windows = tuple(
        domain.SlotWindow(s.slot, s.starts, s.ends, s.price_fen) for s in sorted(p.slots.all(), key=lambda s: s.starts)
    )
    return PointConfig(
        id=p.pk, code=p.code, name=p.name, point_type=p.point_type, region=p.region,
        division_code=p.division_id or "", area_path=p.area_path, windows=windows,
        opening_days=frozenset(int(d) for d in p.opening_days or []), wallet_approved=p.wallet_approved,
        second_meal=p.second_meal, is_active=p.is_active, connected_to_city=p.connected_to_city,
    )


def point_config(point_id: int) -> PointConfig:
    now = _time.monotonic()
    hit = _points.get(point_id)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    point = MealPoint.objects.prefetch_related("slots").filter(pk=point_id).first()
    if point is None:
        raise NotFound("助餐点不存在", code="unknown_point")
    cfg = _config_of(point)
    _points[point_id] = (now, cfg)
    return cfg


_codes: dict[str, tuple[float, int]] = {}


def point_config_by_code(code: str) -> PointConfig:
    now = _time.monotonic()
    hit = _codes.get(code)
    if hit and now - hit[0] < CACHE_SECONDS:
        return point_config(hit[1])
    point_id = MealPoint.objects.filter(code=code).values_list("pk", flat=True).first()
    if point_id is None:
        raise NotFound("助餐点不存在", code="unknown_point")
    _codes[code] = (now, point_id)
    return point_config(point_id)


def terminal_point_id(api_key_id: int) -> int | None:
    now = _time.monotonic()
    hit = _terminals.get(api_key_id)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    point_id = PointTerminal.objects.filter(api_key_id=api_key_id).values_list("point_id", flat=True).first()
    _terminals[api_key_id] = (now, point_id)
    return point_id


def operator_point_ids(staff_id: Any) -> list[int]:
    return list(PointOperator.objects.filter(staff_id=staff_id).order_by("point_id").values_list("point_id", flat=True))


def is_terminal(actor: Any) -> bool:
    return "canteen_terminal" in tuple(getattr(actor, "role_codes", ()) or ())


def actor_point_ids(actor: Any) -> list[int] | None:
    """The points an actor works at: a terminal its one point, an operator their bound points;
    ``None`` for area staff (who are cut by area instead)."""
    if is_terminal(actor):
        pid = terminal_point_id(actor.pk)
        return [pid] if pid else []
    roles = set(getattr(actor, "role_codes", ()) or ())
    if Role.CANTEEN_OPERATOR in roles and not roles & {Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER}:
        return operator_point_ids(actor.pk)
    return None


def rule_sets() -> tuple[domain.RuleSet, ...]:
    now = _time.monotonic()
    if now - _rules["at"] < CACHE_SECONDS:
        cached: tuple[domain.RuleSet, ...] = _rules["sets"]
        return cached
    stored = tuple(domain.rule_set_from_dict(r.body) for r in PricingRule.objects.order_by("region", "effective_from"))
    result = stored or (domain.hangzhou_default(),)
    _rules["at"], _rules["sets"] = now, result
    return result


def rule_set_for(*, region: str, day: date) -> domain.RuleSet | None:
    return domain.select_rule_set(rule_sets(), region=region, day=day)


# --- identification at the till -----------------------------------------------------------------


@dataclass
class Identified:
    diner: Diner
    credential: str  # CredentialKind
    leave: str = ""  # LeaveKind on the service day, or ""
    foreign: Any = None  # interop.ForeignDiner when the home district vouched for a visitor

    @property
    def deceased(self) -> bool:
        person = self.diner.person
        return bool(person is not None and (person.status == "deceased" or person.deceased_on))


def _leave_on(day: date, ref: str = "pk") -> Any:
    return DinerLeave.objects.filter(diner=OuterRef(ref), starts__lte=day).filter(
        Q(ends__isnull=True) | Q(ends__gte=day))


def _diners_for_till(day: date) -> QuerySet[Diner]:
    return Diner.objects.select_related("person").annotate(
        on_hospital=Exists(_leave_on(day).filter(kind=LeaveKind.HOSPITAL)),
        on_away=Exists(_leave_on(day).filter(kind=LeaveKind.AWAY)),
    )


def _identified(diner: Diner, kind: str) -> Identified:
    leave = LeaveKind.HOSPITAL if getattr(diner, "on_hospital", False) else (
        LeaveKind.AWAY if getattr(diner, "on_away", False) else "")
    return Identified(diner=diner, credential=kind, leave=leave)


def classify_credential(value: str, kind: str = "") -> str:
    value = (value or "").strip()
    if kind:
        if kind == "card":
            return CredentialKind.CITIZEN_CARD
        if kind not in CredentialKind.value_set():
            raise ValidationFailed({"credential.kind": "识别方式取值无效"}, code="bad_credential")
        return kind
    if domain.looks_like_qr(value):
        return CredentialKind.QR
    if value.lower().startswith("face:"):
        return CredentialKind.FACE
    if len(value) == 18 and value[:17].isdigit():
        return CredentialKind.ID_NUMBER
    return CredentialKind.CITIZEN_CARD


def _till_queryset(mode: str) -> QuerySet[Any]:
    """The till's lookup for one kind of credential, with probes where the request's values go."""
    day, value = statements.PROBE_DAY, statements.PROBE_BYTES
    if mode == CredentialKind.QR:
        return _diners_for_till(day).filter(pk=statements.PROBE_ID)
    if mode == CredentialKind.FACE:
        return _diners_for_till(day).filter(
            Exists(FaceEnrolment.objects.filter(diner=OuterRef("pk"), ref_bidx=value, active=True)))
    if mode == CredentialKind.ID_NUMBER:
        return _diners_for_till(day).filter(person__id_bidx=value)
    return (
        DinerCard.objects.select_related("diner", "diner__person")
        .annotate(on_hospital=Exists(_leave_on(day, "diner_id").filter(kind=LeaveKind.HOSPITAL)),
                  on_away=Exists(_leave_on(day, "diner_id").filter(kind=LeaveKind.AWAY)))
        .filter(bidx=value)
    )


def _till_lookup(mode: str, *, day: date, value: Any) -> Any:
    """One row (a Diner, or for cards a DinerCard with its diner), through a statement compiled
    once per mode: the ORM builds the same SQL on every checkout otherwise (``statements``)."""
    probe = statements.PROBE_ID if mode == CredentialKind.QR else statements.PROBE_BYTES
    stmt = statements.compiled(f"meals.till.{mode}", lambda: _till_queryset(mode).order_by("pk")[:1],
                               {"day": statements.PROBE_DAY, "value": probe})
    return stmt.first(day=day, value=value)


def diner_identify(*, value: str, kind: str = "", day: date, now_ts: int | None = None,
                   id_confirmed: bool = False) -> Identified:
    """Who is at the till: card (市民卡/爱心卡), dynamic QR, face reference, or an ID number the
    operator checked against the card in hand. Unknown, expired or invalid → ``ValidationFailed``
    on ``credential`` with a code the terminal can act on."""
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise ValidationFailed({"credential": "请刷卡、扫码或输入卡号"}, code="credential_missing")
    kind = classify_credential(value, kind)
    diner: Diner | None
    if kind == CredentialKind.QR:
        try:
            diner_id = domain.qr_read(value, now_ts=int(_time.time()) if now_ts is None else now_ts)
        except domain.TokenError as exc:
            raise ValidationFailed({"credential": exc.message}, code=exc.code) from None
        diner = _till_lookup(kind, day=day, value=diner_id)
    elif kind == CredentialKind.FACE:
        ref = value[5:] if value.lower().startswith("face:") else value
        diner = _till_lookup(kind, day=day, value=crypto.blind_index("meal_face", ref.strip()))
    elif kind == CredentialKind.ID_NUMBER:
        if not id_confirmed:
            raise ValidationFailed({"credential": "使用身份证号识别须由操作员核验本人证件后确认"},
                                   code="id_confirmation_required")
        try:
            number = identifiers.parse_id_number(value)
        except identifiers.IdentifierError as exc:
            raise ValidationFailed({"credential": str(exc)}, code="bad_id_number") from None
        diner = _till_lookup(kind, day=day, value=crypto.blind_index("id", number))
    else:
        number = domain.normalise_card(value)
        if not 4 <= len(number) <= 32:
            raise ValidationFailed({"credential": "卡号格式不正确"}, code="unknown_credential")
        card = _till_lookup(CredentialKind.CITIZEN_CARD, day=day, value=crypto.blind_index("meal_card", number))
        diner = None
        if card is not None:
            if not card.active:
                raise ValidationFailed({"credential": "该卡已挂失或停用"}, code="credential_inactive")
            diner = card.diner
            diner.on_hospital = card.on_hospital  # type: ignore[union-attr]
            diner.on_away = card.on_away  # type: ignore[union-attr]
            kind = card.kind
    if diner is None:
        raise ValidationFailed({"credential": "未找到该凭证对应的助餐对象, 请核对或先登记"}, code="unknown_credential")
    return _identified(diner, kind)


# --- points and diners for staff -----------------------------------------------------------------


def point_scope(*, actor: Actor) -> QuerySet[MealPoint]:
    require(actor, MealsPerm.VIEW)
    qs = MealPoint.objects.filter(region=YUHANG)
    ids = actor_point_ids(actor)
    if ids is not None:
        return qs.filter(pk__in=ids)
    return qs.filter(area_path__startswith=actor.scope_path)


def point_list(*, actor: Actor, query: str = "") -> QuerySet[MealPoint]:
    qs = point_scope(actor=actor).select_related("division")
    if query:
        qs = qs.filter(Q(name__contains=query) | Q(code__iexact=query) | Q(operator_org__contains=query))
    return qs.order_by("code")


def point_get(*, actor: Actor, code: str) -> MealPoint:
    point = point_scope(actor=actor).select_related("division").prefetch_related("slots").filter(code=code).first()
    if point is None:
        raise NotFound()
    return point


def licence_warnings(*, actor: Actor, today: date, days: int = 30) -> QuerySet[MealPoint]:
    """Points whose food licence expires within ``days`` (A11) or has expired."""
    return point_scope(actor=actor).filter(is_active=True, licence_expires__lte=today + timedelta(days=days)).order_by(
        "licence_expires")


def diner_scope(*, actor: Actor) -> QuerySet[Diner]:
    require(actor, MealsPerm.VIEW)
    return Diner.objects.filter(area_path__startswith=actor.scope_path, person__isnull=False)


def diner_get(*, actor: Actor, uid: Any) -> Diner:
    try:
        return diner_scope(actor=actor).select_related("person", "division").get(uid=uid)
    except (Diner.DoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise NotFound() from None


def diner_for_person(*, actor: Actor, person_id: int) -> Diner | None:
    return diner_scope(actor=actor).filter(person_id=person_id).first()


def review_queue(*, actor: Actor) -> QuerySet[Diner]:
    """Registrations waiting for review in the actor's area, the most urgent first."""
    require(actor, MealsPerm.REVIEW_DINER)
    return (
        Diner.objects.select_related("person", "division")
        .filter(status=DinerStatus.PENDING, area_path__startswith=actor.scope_path)
        .order_by("review_due", "created_at")
    )


def review_overdue(*, actor: Actor, today: date) -> int:
    return review_queue(actor=actor).filter(review_due__lt=today).count()


# --- meals ---------------------------------------------------------------------------------------


def meal_scope(*, actor: Actor) -> QuerySet[MealService]:
    """Meals at the points the actor may see (by point area, not by the diner's home)."""
    require(actor, MealsPerm.VIEW)
    ids = actor_point_ids(actor)
    if ids is not None:
        return MealService.objects.filter(point_id__in=ids)
    return MealService.objects.filter(point__area_path__startswith=actor.scope_path)


def meal_get(*, actor: Actor, meal_id: int) -> MealService:
    meal = meal_scope(actor=actor).select_related("point", "diner").filter(pk=meal_id).first()
    if meal is None:
        raise NotFound()
    return meal


def meals_today(*, actor: Actor, point_id: int, day: date, limit: int = 20) -> list[MealService]:
    return list(meal_scope(actor=actor).filter(point_id=point_id, service_date=day).select_related("diner")
                .order_by("-id")[:limit])


def subsidised_meal_in_slot(*, diner_id: int, day: date, slot: str) -> MealService | None:
    return (MealService.objects.select_related("point")
            .filter(diner_id=diner_id, service_date=day, slot=slot, subsidised=True, status=MealStatus.SERVED).first())


def benefit_used(*, diner_id: int, day: date) -> tuple[int, int]:
    """(today's, this month's) public benefit already enjoyed, for the per-day and per-month caps."""
    month_start = day.replace(day=1)
    served = MealService.objects.filter(diner_id=diner_id, status=MealStatus.SERVED,
                                        service_date__gte=month_start, service_date__lte=day)
    totals = served.aggregate(
        month=Coalesce(Sum("discount_fen"), 0) + Coalesce(Sum("subsidy_fen"), 0),
        today=Coalesce(Sum("discount_fen", filter=Q(service_date=day)), 0)
        + Coalesce(Sum("subsidy_fen", filter=Q(service_date=day)), 0),
    )
    return int(totals["today"]), int(totals["month"])


@dataclass(frozen=True)
class DayTotals:
    meals: int
    price_fen: int
    benefit_fen: int
    wallet_fen: int
    self_pay_fen: int

    def as_domain(self) -> domain.Totals:
        return domain.Totals(self.meals, self.price_fen, self.benefit_fen, self.wallet_fen, self.self_pay_fen)


def _totals(qs: QuerySet[MealService]) -> DayTotals:
    t = qs.aggregate(
        n=Count("id"), price=Coalesce(Sum("price_fen"), 0), discount=Coalesce(Sum("discount_fen"), 0),
        subsidy=Coalesce(Sum("subsidy_fen"), 0), wallet=Coalesce(Sum("wallet_fen"), 0),
        self_pay=Coalesce(Sum("self_pay_fen"), 0),
    )
    return DayTotals(t["n"], t["price"], t["discount"] + t["subsidy"], t["wallet"], t["self_pay"])


def point_day_totals(*, point_id: int, day: date) -> DayTotals:
    return _totals(MealService.objects.filter(point_id=point_id, service_date=day, status=MealStatus.SERVED))


def point_month_totals(*, point_id: int, month: date) -> DayTotals:
    start, end = month_bounds(month)
    return _totals(MealService.objects.filter(point_id=point_id, service_date__gte=start, service_date__lt=end,
                                              status=MealStatus.SERVED))


def month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


# --- statistics (A13) ----------------------------------------------------------------------------


def stats_by_point(*, actor: Actor, start: date, end: date) -> list[dict[str, Any]]:
    """Meals, unique diners and money per point in [start, end)."""
    qs = meal_scope(actor=actor).filter(service_date__gte=start, service_date__lt=end, status=MealStatus.SERVED)
    rows = (
        qs.values("point__code", "point__name")
        .annotate(meals=Count("id"), diners=Count("diner_id", distinct=True), price=Sum("price_fen"),
                  benefit=Sum("discount_fen") + Sum("subsidy_fen"), wallet=Sum("wallet_fen"))
        .order_by("point__code")
    )
    return list(rows)


def stats_by_slot(*, actor: Actor, start: date, end: date) -> dict[str, int]:
    qs = meal_scope(actor=actor).filter(service_date__gte=start, service_date__lt=end, status=MealStatus.SERVED)
    counts = dict(qs.values_list("slot").annotate(n=Count("id")).values_list("slot", "n"))
    return {s.label: counts.get(s.value, 0) for s in Slot}


def stats_by_day(*, actor: Actor, start: date, end: date) -> list[tuple[date, int]]:
    qs = meal_scope(actor=actor).filter(service_date__gte=start, service_date__lt=end, status=MealStatus.SERVED)
    return list(qs.values_list("service_date").annotate(n=Count("id")).order_by("service_date").values_list(
        "service_date", "n"))


@dataclass(frozen=True)
class Overview:
    meals: int
    unique_diners: int
    registered: int
    active: int
    pending: int
    benefit_fen: int
    wallet_fen: int
    self_pay_fen: int
    points: int
    connected: int


def overview(*, actor: Actor, start: date, end: date) -> Overview:
    meals = meal_scope(actor=actor).filter(service_date__gte=start, service_date__lt=end, status=MealStatus.SERVED)
    t = meals.aggregate(n=Count("id"), d=Count("diner_id", distinct=True), disc=Coalesce(Sum("discount_fen"), 0),
                        sub=Coalesce(Sum("subsidy_fen"), 0), w=Coalesce(Sum("wallet_fen"), 0),
                        s=Coalesce(Sum("self_pay_fen"), 0))
    diners = Diner.objects.filter(area_path__startswith=actor.scope_path, person__isnull=False)
    by_status = dict(diners.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    points = point_scope(actor=actor)
    return Overview(
        meals=t["n"], unique_diners=t["d"], registered=sum(by_status.values()),
        active=by_status.get(DinerStatus.ACTIVE, 0), pending=by_status.get(DinerStatus.PENDING, 0),
        benefit_fen=t["disc"] + t["sub"], wallet_fen=t["w"], self_pay_fen=t["s"],
        points=points.count(), connected=points.filter(connected_to_city=True).count(),
    )


# The target groups the registry's own columns decide; the assistance groups come from its tags.
_COLUMN_GROUPS: dict[str, str] = {
    Category.ADVANCED_AGE: "advanced_age", Category.ALONE: "alone",
    Category.DISABLED_CARE: "disabled_care", Category.DISABILITY: "disability",
}


def coverage_by_community(*, actor: Actor, categories: Iterable[str], day: date) -> list[dict[str, Any]]:
    """A13 coverage: per community, the registry's living elders (60+ on ``day``) in each target
    group, and how many of them are active diners. Rows are ``{"community", "elders": (diners,
    people), <category>: (diners, people)…}``, the least covered community first."""
    require(actor, MealsPerm.VIEW)
    cats = list(categories)
    advanced = born_by(day, domain.ADVANCED_AGE)
    elders = Person.objects.filter(area_path__startswith=actor.scope_path, status=PersonStatus.ACTIVE,
                                   birth_date__lte=born_by(day, domain.ELDER_AGE))
    diner = Exists(Diner.objects.filter(person=OuterRef("pk"), status=DinerStatus.ACTIVE))
    groups = {
        "elders": Count("id"), "advanced_age": Count("id", filter=Q(birth_date__lte=advanced)),
        "alone": Count("id", filter=Q(living_arrangement="alone")),
        "disabled_care": Count("id", filter=Q(self_care__in=("dependent", "partial"))),
        "disability": Count("id", filter=~Q(disability_category="")),
    }
    # Two scans, everyone and then the diners among them: an EXISTS inside each count would run
    # once per elder and group.
    people = elders.values("division_id", "division__name").annotate(**groups).order_by()
    diners = {r["division_id"]: r for r in elders.filter(diner).values("division_id").annotate(**groups).order_by()}
    rows: dict[str, dict[str, Any]] = {}
    for r in people:
        d = diners.get(r["division_id"], {})
        row = rows[r["division_id"]] = {"community": r["division__name"], "elders": (d.get("elders", 0), r["elders"])}
        for cat in cats:
            key = _COLUMN_GROUPS.get(cat)
            row[cat] = (d.get(key, 0), r[key]) if key else (0, 0)
    tag_cats = [c for c in cats if c not in _COLUMN_GROUPS]
    if tag_cats:  # few elders carry tags: their groups are read in Python, as the till reads them
        for division_id, tags, is_diner in (elders.exclude(tags=[]).annotate(is_diner=diner)
                                            .values_list("division_id", "tags", "is_diner").iterator(chunk_size=5000)):
            found = domain.derive_categories(age=0, self_care="", living_arrangement="", disability_category="",
                                             tags=tags or [])
            for cat in tag_cats:
                if cat in found:
                    n, total = rows[division_id][cat]
                    rows[division_id][cat] = (n + int(is_diner), total + 1)
    return sorted(rows.values(), key=lambda r: (r["elders"][0] / r["elders"][1], -r["elders"][1], r["community"]))


# --- settlement, flags --------------------------------------------------------------------------


def exception_queue(*, actor: Actor, status: str = ExceptionStatus.OPEN) -> QuerySet[ReconException]:
    require(actor, MealsPerm.RECONCILE)
    qs = ReconException.objects.select_related("point").filter(point__area_path__startswith=actor.scope_path)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-service_date", "point__code")


def claim_list(*, actor: Actor, status: str = "") -> QuerySet[OperatorClaim]:
    require(actor, MealsPerm.VIEW)
    ids = actor_point_ids(actor)
    qs = OperatorClaim.objects.select_related("point")
    qs = qs.filter(point_id__in=ids) if ids is not None else qs.filter(point__area_path__startswith=actor.scope_path)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-month", "point__code")


def claims_due(*, actor: Actor, today: date) -> int:
    """The actor's points that served meals last month and have no claim for it yet (rejected
    ones count as none): the operator's monthly to-do."""
    require(actor, MealsPerm.CLAIM_SUBMIT)
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    ids = actor_point_ids(actor)
    points = MealPoint.objects.filter(pk__in=ids) if ids is not None else point_scope(actor=actor)
    served = MealService.objects.filter(point=OuterRef("pk"), service_date__gte=first, service_date__lt=today.replace(day=1))
    claimed = OperatorClaim.objects.filter(point=OuterRef("pk"), month=first).exclude(status=ClaimStatus.REJECTED)
    return points.filter(Exists(served)).exclude(Exists(claimed)).count()


def claim_get(*, actor: Actor, claim_id: int) -> OperatorClaim:
    claim = claim_list(actor=actor).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound()
    return claim


def claims_payable(*, actor: Actor) -> QuerySet[OperatorClaim]:
    require(actor, MealsPerm.CLAIM_APPROVE)
    return claim_list(actor=actor, status=ClaimStatus.APPROVED)


def flag_list(*, actor: Actor, status: str = ExceptionStatus.OPEN) -> QuerySet[FraudFlag]:
    require(actor, MealsPerm.RECONCILE)
    qs = FraudFlag.objects.select_related("diner", "point", "meal").filter(
        Q(point__area_path__startswith=actor.scope_path) | Q(diner__area_path__startswith=actor.scope_path))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def clearing_list(*, actor: Actor) -> QuerySet[ClearingStatement]:
    require(actor, MealsPerm.CLEARING)
    return ClearingStatement.objects.order_by("-month", "-id")


def local_now() -> datetime:
    return timezone.localtime()


# --- the ledger's side of reconciliation and clearing ------------------------------------------------

LEDGER_KINDS = ("meal.checkout", "ledger.reversal", "meal.seed_day")


def day_bounds(start: date, end: date | None = None) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in Asia/Shanghai."""
    tz = timezone.get_default_timezone()
    lo = timezone.make_aware(datetime.combine(start, datetime.min.time()), tz)
    hi = timezone.make_aware(datetime.combine((end or start) + timedelta(days=1), datetime.min.time()), tz)
    return lo, hi


def ledger_day_totals(*, day: date, point_codes: Iterable[str] | None = None) -> dict[str, domain.Totals]:
    """Per point, what the ledger says happened on ``day`` (business time): meals, price, public
    part, wallet and self-pay, from the checkout, void and seeded-day transactions."""
    from minzheng.ledger.models import Posting

    lo, hi = day_bounds(day)
    wanted = set(point_codes) if point_codes is not None else None
    acc: dict[str, dict[str, int]] = {}
    seen: set[int] = set()
    rows = (Posting.objects.filter(txn__occurred_at__gte=lo, txn__occurred_at__lt=hi, txn__kind__in=LEDGER_KINDS,
                                   txn__idempotency_key__startswith="meals:")
            .values_list("txn_id", "txn__idempotency_key", "txn__metadata", "account__code", "amount_fen"))
    for txn_id, key, meta, code, amount in rows.iterator(chunk_size=5000):
        parts = key.split(":")
        if len(parts) < 4 or parts[1] not in ("checkout", "void", "seedday"):
            continue
        point = parts[2]
        if wanted is not None and point not in wanted:
            continue
        t = acc.setdefault(point, {"meals": 0, "price": 0, "benefit": 0, "wallet": 0, "self_pay": 0})
        if txn_id not in seen:
            seen.add(txn_id)
            t["meals"] += int((meta or {}).get("meals", 0))
        kind = code.split(":")[1]
        if code.endswith(":payable"):
            t["price"] -= amount
        elif kind in ("benefit", "due_from"):
            t["benefit"] += amount
        elif kind == "wallet":
            t["wallet"] += amount
        elif ":selfpay:" in code:
            t["self_pay"] += amount
    return {p: domain.Totals(t["meals"], t["price"], t["benefit"], t["wallet"], t["self_pay"]) for p, t in acc.items()}


def ledger_clearing_totals(*, start: date, end: date) -> dict[tuple[str, str], int]:
    """(payer, payee) → fen the ledger holds between districts for meals in [start, end]:
    ``due_from:{payer}:*`` (others owe Yuhang) and ``due_to:{region}`` (Yuhang owes others)."""
    from minzheng.ledger.models import Posting

    lo, hi = day_bounds(start, end)
    rows = (Posting.objects.filter(txn__occurred_at__gte=lo, txn__occurred_at__lt=hi)
            .filter(Q(account__code__startswith="meals:due_from:") | Q(account__code__startswith="meals:due_to:"))
            .values("account__code").annotate(total=Sum("amount_fen")).values_list("account__code", "total"))
    out: dict[tuple[str, str], int] = {}
    for code, total in rows:
        parts = code.split(":")
        pair = (parts[2], YUHANG) if parts[1] == "due_from" else (YUHANG, parts[2])
        out[pair] = out.get(pair, 0) + (total if parts[1] == "due_from" else -total)
    return {k: v for k, v in out.items() if v}


def clearing_flows(*, start: date, end: date) -> list[domain.ClearingFlow]:
    """Meals of [start, end] whose public part one district owes another (or the city pool owes
    Yuhang), from the meal records: one GROUP BY over the period."""
    rows = (MealService.objects.filter(service_date__gte=start, service_date__lte=end, status=MealStatus.SERVED,
                                       subsidised=True)
            .exclude(payer=F("canteen_region"))
            .filter(Q(payer=YUHANG) | Q(canteen_region=YUHANG))
            .values("payer", "canteen_region")
            .annotate(meals=Count("id"), benefit=Sum("discount_fen") + Sum("subsidy_fen"))
            .order_by("payer", "canteen_region"))
    return [domain.ClearingFlow(r["payer"], r["canteen_region"], r["meals"], int(r["benefit"] or 0)) for r in rows]


def clearing_what_if(*, start: date, end: date, payer_rule: str) -> list[domain.ClearingFlow]:
    """The same period's flows had every meal been paid under ``payer_rule`` (a what-if for the
    bureau; the ledger holds what the rule in force decided)."""
    rows = (MealService.objects.filter(service_date__gte=start, service_date__lte=end, status=MealStatus.SERVED,
                                       subsidised=True)
            .values("home_region", "canteen_region")
            .annotate(meals=Count("id"), benefit=Sum("discount_fen") + Sum("subsidy_fen")))
    acc: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        payer = domain.payer_for(payer_rule, home_region=r["home_region"], canteen_region=r["canteen_region"])
        if payer == r["canteen_region"] or YUHANG not in (payer, r["canteen_region"]):
            continue
        cell = acc.setdefault((payer, r["canteen_region"]), [0, 0])
        cell[0] += r["meals"]
        cell[1] += int(r["benefit"] or 0)
    return [domain.ClearingFlow(p, q, n, b) for (p, q), (n, b) in sorted(acc.items())]
