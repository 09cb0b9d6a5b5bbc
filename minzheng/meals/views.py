"""Staff screens of 智慧助餐. The canteen page (助餐结算) is built for a tablet at a lunch queue:
scan or type → the diner (masked) and the price line by line → Enter confirms → next diner.

Each view checks input, calls one service or selector and renders (DESIGN §4.1); each declares
its permission with ``core.access.requires``.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minzheng.core.access import requires
from minzheng.core.exceptions import ApplicationError, NotFound, ValidationFailed
from minzheng.meals import domain, selectors
from minzheng.meals.enums import Category, ClaimStatus, PayerRule, Slot, Tender
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.services import checkout as co
from minzheng.meals.services import diners as diner_services
from minzheng.meals.services import settlement

PENDING = "meals_pending"
PENDING_MAX = 20


def _actor(request: HttpRequest) -> Any:
    return request.user


def _point_for(request: HttpRequest) -> selectors.PointConfig | None:
    actor = _actor(request)
    ids = selectors.actor_point_ids(actor) or []
    wanted = (request.GET.get("point") or request.POST.get("point") or "").strip()
    for pid in ids:
        cfg = selectors.point_config(pid)
        if not wanted or cfg.code == wanted:
            return cfg
    return None


def _fen(raw: str, field: str) -> int | None:
    raw = (raw or "").strip().replace("¥", "")
    if not raw:
        return None
    try:
        if "." in raw:
            yuan_part, _, cents = raw.partition(".")
            if (yuan_part and not yuan_part.isdigit()) or not cents.isdigit() or len(cents) > 2:
                raise ValueError
            return int(yuan_part or "0") * 100 + int(cents.ljust(2, "0"))
        return int(raw) * 100
    except ValueError:
        raise ValidationFailed({field: "请输入金额, 如 15 或 15.50"}, code="bad_price") from None


# --- the canteen page ---------------------------------------------------------------------------


@requires(MealsPerm.CHECKOUT)
@require_GET
def canteen(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    cfg = _point_for(request)
    ids = selectors.actor_point_ids(actor) or []
    points = [selectors.point_config(pid) for pid in ids]
    context: dict[str, Any] = {"cfg": cfg, "points": points, "tenders": list(Tender)}
    if cfg is not None:
        now = timezone.localtime()
        window = domain.slot_at(now.time(), cfg.windows)
        context.update({
            "window": window, "slot_label": Slot(window.slot).label if window else "",
            "windows": [(Slot(w.slot).label, w) for w in cfg.windows],
            "standard_price": domain.yuan(window.price_fen).replace("¥", "") if window and window.price_fen else "",
            "recent": selectors.meals_today(actor=actor, point_id=cfg.id, day=now.date(), limit=10),
            "totals": selectors.point_day_totals(point_id=cfg.id, day=now.date()),
        })
    return render(request, "meals/canteen.html", context)


def _pending(request: HttpRequest) -> dict[str, Any]:
    return dict(request.session.get(PENDING) or {})


@requires(MealsPerm.CHECKOUT)
@require_POST
def canteen_quote(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    cfg = _point_for(request)
    credential = (request.POST.get("credential") or "").strip()
    id_confirmed = request.POST.get("id_confirmed") == "1"
    context: dict[str, Any] = {"cfg": cfg, "credential_kind": ""}
    try:
        if cfg is None:
            raise NotFound("您尚未绑定助餐点")
        price = _fen(request.POST.get("price", ""), "price")
        priced = co.meal_quote(actor=actor, point_id=cfg.id, credential=credential, id_confirmed=id_confirmed,
                               price_fen=price, use_wallet=request.POST.get("use_wallet", "1") == "1")
    except ApplicationError as exc:
        context.update({"error": exc, "needs_id_confirmation": exc.code == "id_confirmation_required",
                        "credential_hint": credential if exc.code == "id_confirmation_required" else ""})
        return render(request, "meals/_quote.html", context, status=200)
    key = uuid.uuid4().hex
    pending = _pending(request)
    if len(pending) >= PENDING_MAX:
        pending = dict(list(pending.items())[-PENDING_MAX + 1:])
    pending[key] = {"point": cfg.id, "credential": credential, "id_confirmed": id_confirmed, "price": price,
                    "use_wallet": priced.inputs.use_wallet, "self_pay": priced.quote.self_pay_fen}
    request.session[PENDING] = pending
    q = priced.quote
    context.update({
        "priced": priced, "quote": q, "key": key, "tenders": list(Tender),
        "diner": priced.identified.diner, "categories": domain.category_labels(priced.inputs.categories),
        "lines": [{"label": t.label, "amount": domain.yuan(t.amount_fen), "step": t.step, "rule": t.rule}
                  for t in q.trace],
        "price": domain.yuan(q.price_fen), "benefit": domain.yuan(q.benefit_fen), "wallet": domain.yuan(q.wallet_fen),
        "self_pay": domain.yuan(q.self_pay_fen), "slot_label": Slot(priced.window.slot).label,
        "warn": q.refused or any(t.step in ("slot", "eligibility", "cap") for t in q.trace),
    })
    return render(request, "meals/_quote.html", context)


@requires(MealsPerm.CHECKOUT)
@require_POST
def canteen_confirm(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    key = (request.POST.get("key") or "").strip()
    pending = _pending(request)
    item = pending.get(key)
    if item is None:
        return render(request, "meals/_result.html", {"error": ValidationFailed(
            {"key": "该笔报价已失效, 请重新刷卡"}, code="quote_expired")})
    method = request.POST.get("method") or Tender.CASH
    try:
        result = co.meal_checkout(actor=actor, request=co.CheckoutRequest(
            point_id=item["point"], credential=item["credential"], idempotency_key=f"page-{key}",
            id_confirmed=item["id_confirmed"], price_fen=item["price"], use_wallet=item["use_wallet"],
            payment_method=method if method in Tender.value_set() else None,
            expected_self_pay_fen=item["self_pay"], channel="page"))
    except ApplicationError as exc:
        return render(request, "meals/_result.html", {"error": exc})
    pending.pop(key, None)
    request.session[PENDING] = pending
    if not request.headers.get("HX-Request"):  # submitted before the page's script took over
        return redirect("meals:canteen")
    meal = result.meal
    cfg = selectors.point_config(item["point"])
    return render(request, "meals/_result.html", {
        "meal": meal, "result": result, "self_pay": domain.yuan(meal.self_pay_fen),
        "benefit": domain.yuan(meal.benefit_fen), "wallet": domain.yuan(meal.wallet_fen),
        "method": Tender(method).label if method in Tender.value_set() and meal.self_pay_fen else "",
        "recent": selectors.meals_today(actor=actor, point_id=cfg.id, day=meal.service_date, limit=10),
        "totals": selectors.point_day_totals(point_id=cfg.id, day=meal.service_date), "cfg": cfg,
    })


@requires(MealsPerm.VOID)
@require_POST
def canteen_void(request: HttpRequest, meal_id: int) -> HttpResponse:
    actor = _actor(request)
    try:
        meal = co.meal_void(actor=actor, meal_id=meal_id, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        return render(request, "meals/_result.html", {"error": exc})
    cfg = selectors.point_config(meal.point_id)
    return render(request, "meals/_result.html", {
        "voided": meal, "cfg": cfg,
        "recent": selectors.meals_today(actor=actor, point_id=cfg.id, day=meal.service_date, limit=10),
        "totals": selectors.point_day_totals(point_id=cfg.id, day=meal.service_date)})


# --- overview and points ------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        start = date.fromisoformat(request.GET.get("start", "")) if request.GET.get("start") else today.replace(day=1)
        end = date.fromisoformat(request.GET.get("end", "")) if request.GET.get("end") else today
    except ValueError:
        raise ValidationFailed({"start": "日期格式应为 YYYY-MM-DD"}, code="bad_date") from None
    if end < start or (end - start).days > 400:
        raise ValidationFailed({"end": "统计区间应为1–400天"}, code="bad_period")
    return start, end


def _share(part: int, whole: int) -> tuple[int, int, str]:
    return part, whole, f"{part * 100 / whole:.1f}%" if whole else "—"


@requires(MealsPerm.VIEW)
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    start, end = _period(request)
    stop = end + timedelta(days=1)
    ov = selectors.overview(actor=actor, start=start, end=stop)
    cats = [Category.TEKUN, Category.DIBAO, Category.ALONE, Category.ADVANCED_AGE, Category.DISABLED_CARE]
    today = timezone.localdate()
    context = {
        "start": start, "end": end, "ov": ov, "benefit": domain.yuan(ov.benefit_fen), "wallet": domain.yuan(ov.wallet_fen),
        "by_point": selectors.stats_by_point(actor=actor, start=start, end=stop)[:200],
        "by_slot": selectors.stats_by_slot(actor=actor, start=start, end=stop),
        "by_day": selectors.stats_by_day(actor=actor, start=start, end=stop)[-31:],
        "coverage": [
            {"community": r["community"], "cells": [_share(*r[k]) for k in ("elders", *cats)]}
            for r in selectors.coverage_by_community(actor=actor, categories=cats, day=today)
        ],
        "coverage_labels": [c.label for c in cats],
        "licences": selectors.licence_warnings(actor=actor, today=today)[:20], "today": today,
    }
    return render(request, "meals/overview.html", context)


@requires(MealsPerm.VIEW)
@require_GET
def points(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    query = request.GET.get("q", "").strip()[:40]
    return render(request, "meals/points.html", {
        "points": selectors.point_list(actor=actor, query=query)[:300], "query": query,
        "today": timezone.localdate(), "soon": timezone.localdate() + timedelta(days=30)})


# --- diners ---------------------------------------------------------------------------------------------


@requires(MealsPerm.REVIEW_DINER)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    return render(request, "meals/review_queue.html", {
        "diners": selectors.review_queue(actor=actor)[:200], "today": timezone.localdate(),
        "overdue": selectors.review_overdue(actor=actor, today=timezone.localdate()),
        "flash": request.session.pop("mz_flash", "")})


@requires(MealsPerm.REVIEW_DINER)
@require_POST
def review_decide(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    diner = selectors.diner_get(actor=actor, uid=uid)
    approve = request.POST.get("decision") == "approve"
    try:
        diner_services.diner_review(actor=actor, diner=diner, approve=approve, note=request.POST.get("note", ""))
        request.session["mz_flash"] = f"{diner.name_masked} 已{'通过' if approve else '退回'}"
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    return redirect("meals:review-queue")


@requires(MealsPerm.REGISTER_DINER)
@require_POST
def diner_register(request: HttpRequest, person_uid: str) -> HttpResponse:
    actor = _actor(request)
    try:
        diner = diner_services.diner_register(actor=actor, person_uid=person_uid, note=request.POST.get("note", ""))
        request.session["mz_flash"] = f"已登记为助餐对象, 请于 {diner.review_due:%Y-%m-%d} 前完成审核"
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    return redirect("web:person-detail", uid=person_uid)


# --- reconciliation, claims, clearing, flags --------------------------------------------------------------


@requires(MealsPerm.RECONCILE)
@require_http_methods(["GET", "POST"])
def reconciliation(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    message = ""
    if request.method == "POST":
        try:
            day = date.fromisoformat(request.POST.get("day", ""))
        except ValueError:
            day = None
        if day is None or day > timezone.localdate():
            message = "请选择今天或以前的日期"
        else:
            recs = settlement.reconcile_day(actor=actor, day=day)
            message = f"{day:%Y-%m-%d} 对账完成: {len(recs)} 个助餐点, {sum(not r.ok for r in recs)} 个有差异"
    return render(request, "meals/reconciliation.html", {
        "exceptions": selectors.exception_queue(actor=actor)[:200],
        "message": message or request.session.pop("mz_flash", ""),
        "yesterday": timezone.localdate() - timedelta(days=1)})


@requires(MealsPerm.RECONCILE)
@require_POST
def exception_resolve(request: HttpRequest, exception_id: int) -> HttpResponse:
    actor = _actor(request)
    try:
        settlement.exception_resolve(actor=actor, exception_id=exception_id, note=request.POST.get("note", ""))
        request.session["mz_flash"] = "已标记为已处理"
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    return redirect("meals:reconciliation")


@requires(MealsPerm.VIEW)
@require_GET
def claims(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    status = request.GET.get("status", "")
    return render(request, "meals/claims.html", {
        "claims": selectors.claim_list(actor=actor, status=status if status in ClaimStatus.value_set() else "")[:200],
        "statuses": ClaimStatus.as_choices(), "status": status, "flash": request.session.pop("mz_flash", ""),
        "can_submit": actor.has_permission(MealsPerm.CLAIM_SUBMIT),
        "can_review": actor.has_permission(MealsPerm.CLAIM_REVIEW),
        "can_approve": actor.has_permission(MealsPerm.CLAIM_APPROVE),
        "points": [selectors.point_config(p) for p in selectors.actor_point_ids(actor) or []],
        "last_month": (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1),
    })


@requires(MealsPerm.CLAIM_SUBMIT)
@require_POST
def claim_submit(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    try:
        month = date.fromisoformat((request.POST.get("month", "") + "-01")[:10])
        cfg = selectors.point_config_by_code(request.POST.get("point", ""))
        claim = settlement.claim_submit(actor=actor, point_id=cfg.id, month=month)
        request.session["mz_flash"] = f"已提交 {cfg.name} {month:%Y-%m} 结算申请: {domain.yuan(claim.claim_fen)}"
    except (ApplicationError, ValueError) as exc:
        request.session["mz_flash"] = getattr(exc, "message", "月份格式应为 YYYY-MM")
    return redirect("meals:claims")


@requires(MealsPerm.VIEW)
@require_POST
def claim_decide(request: HttpRequest, claim_id: int) -> HttpResponse:
    actor = _actor(request)
    claim = selectors.claim_get(actor=actor, claim_id=claim_id)
    approve = request.POST.get("decision") == "approve"
    note = request.POST.get("note", "")
    try:
        if claim.status == ClaimStatus.SUBMITTED:
            settlement.claim_township_review(actor=actor, claim=claim, approve=approve, note=note)
        elif claim.status == ClaimStatus.TOWNSHIP_APPROVED:
            settlement.claim_district_approve(actor=actor, claim=claim, approve=approve, note=note)
        elif claim.status == ClaimStatus.APPROVED and request.POST.get("decision") == "paid":
            settlement.claim_mark_paid(actor=actor, claim=claim)
        request.session["mz_flash"] = "已处理"
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    return redirect("meals:claims")


@requires(MealsPerm.CLAIM_APPROVE)
@require_GET
def payment_file(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    content = settlement.payment_file(actor=actor, claims=selectors.claims_payable(actor=actor))
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="meals-payment-{timezone.localdate():%Y%m%d}.xlsx"'
    return response


@requires(MealsPerm.CLEARING)
@require_http_methods(["GET", "POST"])
def clearing(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    message = ""
    if request.method == "POST":
        try:
            month = date.fromisoformat((request.POST.get("month", "") + "-01")[:10])
            rule = request.POST.get("payer_rule") or None
            statement = settlement.clearing_statement(actor=actor, month=month, payer_rule=rule)
            message = f"已生成 {month:%Y-%m} 清算单" + ("(与账本一致)" if statement.ledger_agrees else "")
        except (ApplicationError, ValueError) as exc:
            message = getattr(exc, "message", "月份格式应为 YYYY-MM")
    statements = [
        {"s": s, "lines": [f"{x['debtor']} → {x['creditor']}: {domain.yuan(x['fen'])}" for x in s.settlements]}
        for s in selectors.clearing_list(actor=actor)[:24]]
    return render(request, "meals/clearing.html", {
        "statements": statements, "message": message, "rules": PayerRule.as_choices(),
        "last_month": (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")})


@requires(MealsPerm.RECONCILE)
@require_GET
def flags(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    return render(request, "meals/flags.html", {"flags": selectors.flag_list(actor=actor)[:200]})
