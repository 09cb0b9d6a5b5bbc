"""Reconciliation, operator claims and payment, cross-district clearing (A7, A8, A12).

- **Daily, per point**: the meal records, the ledger and the terminal's own totals must agree
  (meals, price, public part, wallet, self-pay); each difference becomes an open exception.
- **Monthly**: operator claim → 街道 review → 区 approval → payment file (Excel) → paid, which
  posts the settlement: the operator's payable is cleared against the self-pay it already holds
  and the district fund pays the rest (plus the operating subsidy computed from platform data).
- **Clearing**: who owes whom between districts (and the city pool) for a month, from the meal
  records, checked against the ledger's ``due_from``/``due_to`` accounts.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font

from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.services import txn_post
from minzheng.meals import domain
from minzheng.meals.enums import (
    YUHANG,
    ClaimStatus,
    ExceptionStatus,
    MealStatus,
    PayerRule,
    RuleStatus,
)
from minzheng.meals.models import (
    ClearingStatement,
    MealPoint,
    MealService,
    OperatorClaim,
    Reconciliation,
    ReconException,
    TerminalReport,
)
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import (
    actor_point_ids,
    clearing_flows,
    clearing_what_if,
    ledger_clearing_totals,
    ledger_day_totals,
    month_bounds,
    point_day_totals,
    require,
    rule_set_for,
)
from minzheng.meals.services import books

# Operating subsidy per meal by age band (黄浦 model: from platform data). Configuration for the
# bureau to confirm; the quality factor comes from inspection scores (100 % until scored).
OPERATING_RATES_FEN = {"60–79岁": 100, "80–89岁": 150, "90岁以上": 200}
OPERATING_RATES_STATUS = RuleStatus.TO_CONFIRM


# --- terminal totals and daily reconciliation -------------------------------------------------------


def terminal_report_submit(*, actor: Actor, point_id: int, day: date, totals: domain.Totals) -> TerminalReport:
    """A terminal's own 日结 for a day (replaces an earlier one for the same day)."""
    from minzheng.meals.services.checkout import authorise_point

    authorise_point(actor, point_id)
    if day > timezone.localdate():
        raise ValidationFailed({"date": "不能上报未来日期"}, code="bad_date")
    values = {"meals": totals.meals, "price_fen": totals.price_fen, "benefit_fen": totals.benefit_fen,
              "wallet_fen": totals.wallet_fen, "self_pay_fen": totals.self_pay_fen,
              "terminal_key_id": getattr(actor, "pk", None)}
    with transaction.atomic():
        report, _ = TerminalReport.objects.update_or_create(point_id=point_id, service_date=day, defaults=values)
        audit_record(actor=actor, event_type="meals.terminal_report", object_type="meals.point", object_id=point_id,
                     extra={"date": day.isoformat(), **{k: v for k, v in values.items() if k != "terminal_key_id"}})
    return report


def _totals_dict(t: domain.Totals) -> dict[str, int]:
    return {"meals": t.meals, "price_fen": t.price_fen, "benefit_fen": t.benefit_fen, "wallet_fen": t.wallet_fen,
            "self_pay_fen": t.self_pay_fen}


def reconcile_day(*, actor: Actor | None, day: date) -> list[Reconciliation]:
    """Compare, per Yuhang point, the records, the ledger and the terminal's totals for ``day``.
    Re-running replaces the day's open exceptions (resolved ones stay on record)."""
    if actor is not None:
        require(actor, MealsPerm.RECONCILE)
    points = MealPoint.objects.filter(region=YUHANG)
    if actor is not None:
        points = points.filter(area_path__startswith=actor.scope_path)
    by_code = {p.code: p for p in points}
    record_points = set(MealService.objects.filter(service_date=day, point__in=points)
                        .values_list("point__code", flat=True).distinct())
    reports = {r.point_id: r for r in TerminalReport.objects.filter(service_date=day, point__in=points)}
    ledger = ledger_day_totals(day=day, point_codes=by_code)
    codes = sorted(record_points | set(ledger) | {p.code for p in points if p.pk in reports})
    out = []
    with transaction.atomic():
        for code in codes:
            point = by_code[code]
            records = point_day_totals(point_id=point.pk, day=day).as_domain()
            books_side = ledger.get(code, domain.Totals())
            report = reports.get(point.pk)
            terminal = (domain.Totals(report.meals, report.price_fen, report.benefit_fen, report.wallet_fen,
                                      report.self_pay_fen) if report else None)
            problems = [("records_vs_ledger", d) for d in domain.compare_totals(records, books_side)]
            if terminal is not None:
                problems += [("terminal_vs_ledger", d) for d in domain.compare_totals(terminal, books_side)]
            ReconException.objects.filter(point=point, service_date=day, status=ExceptionStatus.OPEN).delete()
            ReconException.objects.bulk_create(
                ReconException(point=point, service_date=day, kind=d.kind, source=source, field=d.field,
                               expected=d.expected, actual=d.actual)
                for source, d in problems)
            rec, _ = Reconciliation.objects.update_or_create(point=point, service_date=day, defaults={
                "ok": not problems, "records": _totals_dict(records), "ledger": _totals_dict(books_side),
                "terminal": _totals_dict(terminal) if terminal else {}})
            out.append(rec)
        audit_record(actor=actor, event_type="meals.reconcile", object_type="meals.day", object_id=day.isoformat(),
                     extra={"points": len(codes), "problems": sum(not r.ok for r in out)})
    return out


def exception_resolve(*, actor: Actor, exception_id: int, note: str) -> ReconException:
    require(actor, MealsPerm.RECONCILE)
    exc = ReconException.objects.select_related("point").filter(pk=exception_id).first()
    if exc is None or not exc.point.area_path.startswith(actor.scope_path):
        raise NotFound()
    if not (note or "").strip():
        raise ValidationFailed({"note": "请填写处理说明"}, code="note_required")
    if exc.status != ExceptionStatus.OPEN:
        raise Conflict("该异常已处理", code="already_resolved")
    with transaction.atomic():
        ReconException.objects.filter(pk=exc.pk).update(status=ExceptionStatus.RESOLVED, resolution=note.strip()[:200],
                                                        resolved_by_id=actor.pk, resolved_at=timezone.now())
        audit_record(actor=actor, event_type="meals.exception_resolve", object_type="meals.exception",
                     object_id=exc.pk, reason=note)
    exc.refresh_from_db()
    return exc


# --- monthly operator claims ------------------------------------------------------------------------


def _month(value: date) -> date:
    return value.replace(day=1)


def _claim_figures(point: MealPoint, month: date) -> dict[str, Any]:
    start, end = month_bounds(month)
    served = MealService.objects.filter(point=point, service_date__gte=start, service_date__lt=end,
                                        status=MealStatus.SERVED)
    t = served.aggregate(n=Count("id"), price=Sum("price_fen"), disc=Sum("discount_fen"), sub=Sum("subsidy_fen"),
                         wallet=Sum("wallet_fen"), self_pay=Sum("self_pay_fen"))
    by_band = dict(served.filter(subsidised=True).exclude(band="").values_list("band").annotate(n=Count("id"))
                   .values_list("band", "n"))
    operating, lines = domain.operating_subsidy(by_band, OPERATING_RATES_FEN)
    if OPERATING_RATES_STATUS == RuleStatus.TO_CONFIRM:
        lines.append("运营补贴标准待民政局确认")
    benefit = (t["disc"] or 0) + (t["sub"] or 0)
    return {"meals": t["n"], "price_fen": t["price"] or 0, "benefit_fen": benefit, "wallet_fen": t["wallet"] or 0,
            "self_pay_fen": t["self_pay"] or 0, "claim_fen": benefit + (t["wallet"] or 0),
            "operating_subsidy_fen": operating, "explanation": lines}


def claim_submit(*, actor: Actor, point_id: int, month: date) -> OperatorClaim:
    """The operator's claim for a finished month, computed from the platform's records."""
    require(actor, MealsPerm.CLAIM_SUBMIT)
    ids = actor_point_ids(actor)
    if ids is None or point_id not in ids:
        raise PermissionDenied("您不是该助餐点的操作员", code="not_point_operator")
    month = _month(month)
    if month_bounds(month)[1] > timezone.localdate():
        raise ValidationFailed({"month": "只能申报已结束的月份"}, code="month_not_over")
    point = MealPoint.objects.get(pk=point_id)
    if OperatorClaim.objects.filter(point=point, month=month).exclude(status=ClaimStatus.REJECTED).exists():
        raise Conflict("该月已申报", code="claim_exists")
    figures = _claim_figures(point, month)
    if not figures["meals"]:
        raise ValidationFailed({"month": "该月没有就餐记录"}, code="nothing_to_claim")
    with transaction.atomic():
        claim = OperatorClaim.objects.create(point=point, month=month, submitted_by_id=actor.pk, **figures)
        audit_record(actor=actor, event_type="meals.claim_submit", object_type="meals.claim", object_id=claim.pk,
                     extra={"point": point.code, "month": month.isoformat(), "claim": claim.claim_fen})
    return claim


def _decide(*, actor: Actor, claim: OperatorClaim, approve: bool, note: str, expect: str, to: str, perm: str,
            stage: str) -> OperatorClaim:
    require(actor, perm)
    if not claim.point.area_path.startswith(actor.scope_path):
        raise NotFound()
    if claim.submitted_by_id == actor.pk:
        raise PermissionDenied("不能审核自己提交的申请", code="self_review")
    if not approve and not (note or "").strip():
        raise ValidationFailed({"note": "退回时请填写原因"}, code="note_required")
    with transaction.atomic():
        locked = OperatorClaim.objects.select_for_update().get(pk=claim.pk)
        if locked.status != expect:
            raise Conflict(f"当前状态为「{locked.get_status_display()}」, 不能{stage}", code="bad_claim_state")
        locked.status = to if approve else ClaimStatus.REJECTED
        locked.note = (note or "").strip()[:200]
        if perm == MealsPerm.CLAIM_REVIEW:
            locked.township_by_id, locked.township_at = actor.pk, timezone.now()
        else:
            locked.district_by_id, locked.district_at = actor.pk, timezone.now()
        locked.save()
        audit_record(actor=actor, event_type=f"meals.claim_{stage}", object_type="meals.claim", object_id=locked.pk,
                     extra={"approve": approve}, reason=locked.note)
    return locked


def claim_township_review(*, actor: Actor, claim: OperatorClaim, approve: bool, note: str = "") -> OperatorClaim:
    return _decide(actor=actor, claim=claim, approve=approve, note=note, expect=ClaimStatus.SUBMITTED,
                   to=ClaimStatus.TOWNSHIP_APPROVED, perm=MealsPerm.CLAIM_REVIEW, stage="review")


def claim_district_approve(*, actor: Actor, claim: OperatorClaim, approve: bool, note: str = "") -> OperatorClaim:
    return _decide(actor=actor, claim=claim, approve=approve, note=note, expect=ClaimStatus.TOWNSHIP_APPROVED,
                   to=ClaimStatus.APPROVED, perm=MealsPerm.CLAIM_APPROVE, stage="approve")


PAYMENT_HEADERS = ["助餐点编号", "助餐点名称", "运营机构", "统一社会信用代码", "月份", "餐数", "餐费(元)", "优惠补贴(元)",
                   "电子津贴(元)", "自付(运营方已收,元)", "结算金额(元)", "运营补贴(元)", "应付合计(元)"]


def _yuan_cell(fen: int) -> str:
    return domain.yuan(fen).replace("¥", "")


def payment_file(*, actor: Actor, claims: Iterable[OperatorClaim]) -> bytes:
    """The payment file (Excel) of approved claims; audited."""
    require(actor, MealsPerm.CLAIM_APPROVE)
    rows = [c for c in claims if c.status == ClaimStatus.APPROVED and c.point.area_path.startswith(actor.scope_path)]
    wb = Workbook()
    ws = wb.active
    ws.title = "助餐结算支付"
    ws.append(PAYMENT_HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    total = 0
    for c in rows:
        due = c.claim_fen + c.operating_subsidy_fen
        total += due
        ws.append([c.point.code, c.point.name, c.point.operator_org, c.point.operator_credit_code,
                   c.month.strftime("%Y-%m"), c.meals, _yuan_cell(c.price_fen), _yuan_cell(c.benefit_fen),
                   _yuan_cell(c.wallet_fen), _yuan_cell(c.self_pay_fen), _yuan_cell(c.claim_fen),
                   _yuan_cell(c.operating_subsidy_fen), _yuan_cell(due)])
    ws.append(["合计", "", "", "", "", sum(c.meals for c in rows), "", "", "", "", "", "", _yuan_cell(total)])
    buf = io.BytesIO()
    wb.save(buf)
    audit_record(actor=actor, event_type="meals.payment_file", object_type="meals.claim",
                 object_id=",".join(str(c.pk) for c in rows)[:64], extra={"claims": len(rows), "total": total})
    return buf.getvalue()


@retry_on_conflict
def claim_mark_paid(*, actor: Actor, claim: OperatorClaim) -> OperatorClaim:
    """The fund paid the operator: clear the month's payable against the self-pay the operator holds
    and the fund's payment (claim + operating subsidy). One balanced ledger transaction."""
    require(actor, MealsPerm.CLAIM_APPROVE)
    if not claim.point.area_path.startswith(actor.scope_path):
        raise NotFound()
    point = claim.point
    start, end = month_bounds(claim.month)
    tender_rows = (MealService.objects.filter(point=point, service_date__gte=start, service_date__lt=end,
                                              status=MealStatus.SERVED).values_list("tenders", flat=True))
    by_tender: dict[str, int] = {}
    for tenders in tender_rows.iterator(chunk_size=5000):
        for t, amount in (tenders or {}).items():
            by_tender[t] = by_tender.get(t, 0) + int(amount)
    paid = claim.claim_fen + claim.operating_subsidy_fen
    lines: list[tuple[str, int]] = [(books.payable(point.code), claim.price_fen)]
    lines += [(books.selfpay(point.code, t), -a) for t, a in sorted(by_tender.items()) if a]
    if claim.operating_subsidy_fen:
        lines.append((books.operating(YUHANG), claim.operating_subsidy_fen))
    if paid:
        lines.append((books.treasury(YUHANG), -paid))
    with transaction.atomic():
        locked = OperatorClaim.objects.select_for_update().get(pk=claim.pk)
        if locked.status != ClaimStatus.APPROVED:
            raise Conflict("只有已审批的申请可以登记支付", code="bad_claim_state")
        books.ensure([books.treasury(YUHANG), books.operating(YUHANG)], division_code=f"{YUHANG}000000")
        key = f"meals:claim_paid:{locked.pk}"
        txn_post(actor=actor, key=key, kind="meal.claim_paid", lines=lines,
                 memo=f"{point.name} {locked.month:%Y-%m} 助餐结算", metadata={"claim": locked.pk, "point": point.code})
        locked.status, locked.paid_at, locked.payment_ledger_key = ClaimStatus.PAID, timezone.now(), key
        locked.save(update_fields=["status", "paid_at", "payment_ledger_key", "updated_at"])
        audit_record(actor=actor, event_type="meals.claim_paid", object_type="meals.claim", object_id=locked.pk,
                     extra={"paid": paid})
    return locked


# --- cross-district clearing -----------------------------------------------------------------------


def clearing_compute(*, start: date, end: date) -> tuple[list[domain.ClearingFlow], dict[str, Any], bool]:
    """(flows from the records, the ledger check, agrees?) for [start, end]."""
    flows = clearing_flows(start=start, end=end)
    ledger = ledger_clearing_totals(start=start, end=end)
    from_records = {(f.payer, f.payee): f.benefit_fen for f in flows}
    pairs = sorted(set(from_records) | set(ledger))
    check = {f"{p}->{q}": {"records": from_records.get((p, q), 0), "ledger": ledger.get((p, q), 0)} for p, q in pairs}
    agrees = all(v["records"] == v["ledger"] for v in check.values())
    return flows, check, agrees


def clearing_statement(*, actor: Actor | None, month: date, payer_rule: str | None = None) -> ClearingStatement:
    """The month's statement: who owes whom. With ``payer_rule`` other than the one in force it is
    a what-if (not compared with the ledger)."""
    if actor is not None:
        require(actor, MealsPerm.CLEARING)
    start, end_excl = month_bounds(month)
    end = end_excl.fromordinal(end_excl.toordinal() - 1)
    rules = rule_set_for(region=YUHANG, day=start)
    in_force = rules.payer_rule if rules else PayerRule.HOME_DISTRICT
    if payer_rule is not None and payer_rule not in PayerRule.value_set():
        raise ValidationFailed({"payer_rule": "付费方规则取值无效"}, code="bad_payer_rule")
    if payer_rule is None or payer_rule == in_force:
        flows, check, agrees = clearing_compute(start=start, end=end)
        rule = in_force
    else:
        flows, check, agrees, rule = clearing_what_if(start=start, end=end, payer_rule=payer_rule), {}, False, payer_rule
    with transaction.atomic():
        statement = ClearingStatement.objects.create(
            month=start, payer_rule=rule,
            flows=[{"payer": f.payer, "payee": f.payee, "meals": f.meals, "benefit_fen": f.benefit_fen} for f in flows],
            settlements=[{"debtor": a, "creditor": b, "fen": v} for a, b, v in domain.net_settlements(flows)],
            ledger_agrees=agrees, ledger_check=check, created_by_id=getattr(actor, "pk", None),
        )
        audit_record(actor=actor, event_type="meals.clearing", object_type="meals.clearing", object_id=statement.pk,
                     extra={"month": start.isoformat(), "rule": rule, "agrees": agrees, "what_if": rule != in_force})
    return statement


def exceptions_open_count(*, actor: Actor) -> int:
    require(actor, MealsPerm.RECONCILE)
    return ReconException.objects.filter(Q(point__area_path__startswith=actor.scope_path),
                                         status=ExceptionStatus.OPEN).count()
