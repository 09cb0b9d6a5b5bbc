"""养老服务电子津贴: a prepaid, purpose-restricted wallet per diner, on the ledger.

- grant: Dr ``meals:wallet_grants:{region}`` / Cr ``meals:wallet:{diner}`` (idempotent by key);
- spend: at checkout, at approved providers only (``MealPoint.wallet_approved``);
- expiry: the unspent part of a grant past its date goes back (spending uses the soonest-expiring
  money first, ``domain.unspent_by_grant``);
- clawback: with a reason (death, fraud), the balance or one grant's unspent part goes back.

The wallet account may not go negative (the ledger refuses, and a CHECK constraint backs it).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.selectors import available
from minzheng.ledger.services import txn_post
from minzheng.meals import domain
from minzheng.meals.enums import YUHANG, DinerStatus
from minzheng.meals.models import Diner, WalletGrant
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import require
from minzheng.meals.services import books

MAX_GRANT_FEN = 1_000_000  # ¥10,000 in one grant


def _division_code(diner: Diner) -> str:
    return diner.division_id or f"{YUHANG}000000"


def wallet_open(*, diner: Diner) -> str:
    code = books.wallet(str(diner.uid))
    owner = ("person", str(diner.person.uid)) if diner.person is not None else ("diner", str(diner.uid))
    books.ensure([code, books.wallet_grants(YUHANG)], division_code=_division_code(diner), owner=owner,
                 diner=diner.name_masked)
    if not diner.has_wallet:
        Diner.objects.filter(pk=diner.pk).update(has_wallet=True)
        diner.has_wallet = True
    return code


def wallet_balance(*, diner: Diner) -> int:
    if not diner.has_wallet:
        return 0
    return available(actor=None, account=books.wallet(str(diner.uid)))


@retry_on_conflict
def wallet_grant(*, actor: Actor | None, diner: Diner, amount_fen: int, expires_on: date, key: str,
                 program: str = "养老服务电子津贴", granted_on: date | None = None) -> WalletGrant:
    """Grant ``amount_fen`` to a diner's wallet. ``key`` (e.g. ``2024-05:<diner uid>``) makes a
    batch re-run grant each diner once; the same key with another amount is 409."""
    if actor is not None:
        require(actor, MealsPerm.MANAGE_WALLETS)
        if diner.area_path and not diner.area_path.startswith(actor.scope_path):
            raise NotFound()
    errors: dict[str, str] = {}
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 0 < amount_fen <= MAX_GRANT_FEN:
        errors["amount_fen"] = "发放金额应为1分至1万元之间的整数分"
    today = timezone.localdate()
    granted_on = granted_on or today
    if not isinstance(expires_on, date) or expires_on < granted_on:
        errors["expires_on"] = "有效期不能早于发放日期"
    if not key or len(key) > 120:
        errors["key"] = "请提供1–120个字符的发放批次键"
    if errors:
        raise ValidationFailed(errors, code="bad_grant")
    ledger_key = f"meals:wallet:grant:{key}"
    existing = WalletGrant.objects.filter(ledger_key=ledger_key).first()
    if existing is not None:
        if existing.diner_id != diner.pk or existing.amount_fen != amount_fen or existing.expires_on != expires_on:
            raise Conflict("该批次键已用于另一笔发放", code="idempotency_mismatch")
        return existing
    if diner.status not in (DinerStatus.ACTIVE, DinerStatus.PENDING):
        raise Conflict("该助餐对象已暂停或未通过审核, 不能发放电子津贴", code="diner_not_active")
    with transaction.atomic():
        code = wallet_open(diner=diner)
        grant = WalletGrant.objects.create(diner=diner, amount_fen=amount_fen, program=program[:60],
                                           granted_on=granted_on, expires_on=expires_on, ledger_key=ledger_key,
                                           created_by_id=getattr(actor, "pk", None))
        txn_post(actor=actor, key=ledger_key, kind="meal.wallet_grant", memo=f"{program} 发放",
                 lines=[(books.wallet_grants(YUHANG), amount_fen), (code, -amount_fen)],
                 metadata={"grant": grant.pk, "diner": str(diner.uid), "expires_on": expires_on.isoformat()})
        audit_record(actor=actor, event_type="meals.wallet_grant", object_type="meals.diner", object_id=diner.uid,
                     extra={"amount": amount_fen, "expires_on": expires_on.isoformat(), "grant": grant.pk})
    return grant


def _open_grants(diner: Diner) -> list[WalletGrant]:
    return list(WalletGrant.objects.select_for_update().filter(diner=diner, closed=False).order_by("expires_on", "id"))


def _take_back(*, actor: Actor | None, diner: Diner, amount: int, key: str, kind: str, memo: str, reason: str) -> None:
    txn_post(actor=actor, key=key, kind=kind, memo=memo[:200],
             lines=[(books.wallet(str(diner.uid)), amount), (books.wallet_grants(YUHANG), -amount)],
             metadata={"diner": str(diner.uid), "reason": reason[:100]})


@retry_on_conflict
def wallet_expire_due(*, actor: Actor | None, diner: Diner, today: date | None = None) -> int:
    """Return the unspent part of every grant of ``diner`` that expired before ``today``."""
    today = today or timezone.localdate()
    if not diner.has_wallet:
        return 0
    total = 0
    with transaction.atomic():
        grants = _open_grants(diner)
        if not grants:
            return 0
        balance = available(actor=None, account=books.wallet(str(diner.uid)))
        unspent = domain.unspent_by_grant(
            balance, [(g.pk, g.expires_on, g.amount_fen - g.expired_fen - g.clawed_fen) for g in grants])
        for g in grants:
            if g.expires_on >= today:
                continue
            amount = unspent.get(g.pk, 0)
            if amount:
                _take_back(actor=actor, diner=diner, amount=amount, key=f"meals:wallet:expire:{g.pk}",
                           kind="meal.wallet_expire", memo=f"{g.program} 到期收回", reason="到期")
            WalletGrant.objects.filter(pk=g.pk).update(expired_fen=g.expired_fen + amount, closed=True)
            audit_record(actor=actor, event_type="meals.wallet_expire", object_type="meals.diner",
                         object_id=diner.uid, extra={"grant": g.pk, "amount": amount})
            total += amount
    return total


def wallet_expire_all(*, today: date | None = None) -> int:
    """The nightly job: every diner with a grant past its date."""
    today = today or timezone.localdate()
    total = 0
    ids = WalletGrant.objects.filter(closed=False, expires_on__lt=today).values_list("diner_id", flat=True).distinct()
    for diner in Diner.objects.filter(pk__in=list(ids)):
        total += wallet_expire_due(actor=None, diner=diner, today=today)
    return total


@retry_on_conflict
def wallet_clawback(*, actor: Actor | None, grant: WalletGrant, reason: str) -> int:
    """Take back what is left of one grant (e.g. granted by mistake). Spent money stays spent:
    the ledger refuses to take a wallet below zero."""
    if actor is not None:
        require(actor, MealsPerm.MANAGE_WALLETS)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "请填写追回原因"}, code="reason_required")
    diner = grant.diner
    with transaction.atomic():
        grants = _open_grants(diner)
        if grant.pk not in {g.pk for g in grants}:
            raise Conflict("该笔发放已结束", code="grant_closed")
        balance = available(actor=None, account=books.wallet(str(diner.uid)))
        unspent = domain.unspent_by_grant(
            balance, [(g.pk, g.expires_on, g.amount_fen - g.expired_fen - g.clawed_fen) for g in grants])
        amount = unspent.get(grant.pk, 0)
        if amount:
            _take_back(actor=actor, diner=diner, amount=amount, key=f"meals:wallet:clawback:{grant.pk}",
                       kind="meal.wallet_clawback", memo=f"{grant.program} 追回", reason=reason)
        WalletGrant.objects.filter(pk=grant.pk).update(clawed_fen=grant.clawed_fen + amount, closed=True)
        audit_record(actor=actor, event_type="meals.wallet_clawback", object_type="meals.diner", object_id=diner.uid,
                     reason=reason, extra={"grant": grant.pk, "amount": amount})
    return amount


@retry_on_conflict
def wallet_clawback_all(*, actor: Actor | None, diner: Diner, reason: str) -> int:
    """Take back the whole balance (the diner died or left): every open grant closes."""
    if actor is not None:
        require(actor, MealsPerm.MANAGE_WALLETS)
    if not diner.has_wallet:
        return 0
    with transaction.atomic():
        grants = _open_grants(diner)
        balance = available(actor=None, account=books.wallet(str(diner.uid)))
        unspent = domain.unspent_by_grant(
            balance, [(g.pk, g.expires_on, g.amount_fen - g.expired_fen - g.clawed_fen) for g in grants])
        if balance:
            _take_back(actor=actor, diner=diner, amount=balance,
                       key=f"meals:wallet:clawback_all:{diner.uid}:{timezone.now():%Y%m%d%H%M%S%f}",
                       kind="meal.wallet_clawback", memo="电子津贴余额收回", reason=reason)
        for g in grants:
            WalletGrant.objects.filter(pk=g.pk).update(clawed_fen=g.clawed_fen + unspent.get(g.pk, 0), closed=True)
        audit_record(actor=actor, event_type="meals.wallet_clawback", object_type="meals.diner", object_id=diner.uid,
                     reason=reason, extra={"amount": balance, "grants": [g.pk for g in grants]})
    return balance
