"""Reads of the ledger: accounts, balances, statements, the trial balance and the MAC check.

``actor`` is keyword-only everywhere. An actor cuts the read to its area (the account's
``area_path`` under ``actor.scope_path``; outside it an account does not exist → ``NotFound``).
``actor=None`` is for trusted internal callers — a domain service that has already checked its own
permission, a nightly job — and reads everything. The ledger checks no permission of its own:
whoever exposes ledger data (a wallet panel, a payroll screen) declares and checks it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import NotFound, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.ledger import domain
from minzheng.ledger.models import Account, Posting, Transaction

AUDIT_OBJECT = "ledger.transaction"
# The ledger's own audit events; a caller may name the row after its business event instead
# (services.AuditNote: ``meals.checkout``), so the audit of a transaction is found by its object.
AUDIT_EVENTS = ("ledger.txn_post", "ledger.txn_reverse")

AccountRef = Account | str
Basis = Literal["posted", "occurred"]


# --- accounts --------------------------------------------------------------------------------


def _accounts(actor: Actor | None) -> QuerySet[Account]:
    qs = Account.objects.all()
    if actor is not None:
        qs = qs.filter(area_path__startswith=actor.scope_path)
    return qs


def account_get(*, actor: Actor | None, code: str) -> Account:
    account = _accounts(actor).filter(code=code).first()
    if account is None:
        raise NotFound("账户不存在或不在您的管辖范围内", code="unknown_account")
    return account


def account_list(
    *,
    actor: Actor | None,
    owner_type: str | None = None,
    owner_ref: str | None = None,
    code_prefix: str | None = None,
    kind: str | None = None,
    include_closed: bool = False,
) -> QuerySet[Account]:
    qs = _accounts(actor)
    if owner_type is not None:
        qs = qs.filter(owner_type=owner_type)
    if owner_ref is not None:
        qs = qs.filter(owner_ref=owner_ref)
    if code_prefix:
        qs = qs.filter(code__startswith=code_prefix)
    if kind:
        qs = qs.filter(kind=kind)
    if not include_closed:
        qs = qs.filter(closed_at__isnull=True)
    return qs.order_by("code")


def _resolve(actor: Actor | None, account: AccountRef) -> Account:
    code = account.code if isinstance(account, Account) else account
    return account_get(actor=actor, code=code)


def balance(*, actor: Actor | None, account: AccountRef) -> int:
    """The account's ``balance_fen`` as stored now (signed: debit positive, credit negative)."""
    return _resolve(actor, account).balance_fen


def available(*, actor: Actor | None, account: AccountRef) -> int:
    """The balance on the account's normal side: what a wallet can spend or a fund can pay."""
    return _resolve(actor, account).normal_balance_fen


def txn_by_key(*, key: str) -> Transaction | None:
    """The transaction posted under an idempotency key, if any (e.g. "was this line paid?")."""
    return Transaction.objects.filter(idempotency_key=key).first()


# --- postings and statements -----------------------------------------------------------------


def _bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """Dates are whole local (Asia/Shanghai) days, an end date included; datetimes are exact."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            raise ValidationFailed({"end" if end else "start": "时间必须带时区"}, code="invalid_period")
        return value
    day = value + timedelta(days=1) if end else value
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def postings_for(
    *,
    actor: Actor | None,
    account: AccountRef,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    basis: Basis = "posted",
) -> QuerySet[Posting]:
    """Postings of one account in [start, end), by posting time (default) or business time."""
    acct = _resolve(actor, account)
    lo, hi = _bound(start, end=False), _bound(end, end=True)
    qs = Posting.objects.filter(account_id=acct.id).select_related("txn")
    column = "posted_at" if basis == "posted" else "txn__occurred_at"
    if lo is not None:
        qs = qs.filter(**{f"{column}__gte": lo})
    if hi is not None:
        qs = qs.filter(**{f"{column}__lt": hi})
    return qs.order_by(column, "id")


@dataclass(frozen=True)
class StatementLine:
    posted_at: datetime
    occurred_at: datetime
    txn_id: int
    kind: str
    memo: str
    amount_fen: int
    balance_fen: int  # running balance after this line


@dataclass(frozen=True)
class Statement:
    account_code: str
    account_name: str
    account_kind: str
    normal_sign: int  # multiply signed figures by this to show them on the account's normal side
    start: datetime | None
    end: datetime | None
    opening_fen: int
    debit_fen: int  # Σ of positive postings in the period
    credit_fen: int  # Σ of negative postings in the period (≤ 0)
    closing_fen: int
    lines: tuple[StatementLine, ...]


def statement(
    *,
    actor: Actor | None,
    account: AccountRef,
    start: date | datetime | None,
    end: date | datetime | None,
    basis: Basis = "posted",
    with_lines: bool = True,
) -> Statement:
    """Opening balance at ``start``, the period's postings, closing balance at ``end``."""
    acct = _resolve(actor, account)
    lo, hi = _bound(start, end=False), _bound(end, end=True)
    column = "posted_at" if basis == "posted" else "txn__occurred_at"
    every = Posting.objects.filter(account_id=acct.id)
    opening = 0
    if lo is not None:
        opening = every.filter(**{f"{column}__lt": lo}).aggregate(s=Coalesce(Sum("amount_fen"), 0))["s"]
    period = postings_for(actor=None, account=acct, start=lo, end=hi, basis=basis)
    totals = period.aggregate(
        debit=Coalesce(Sum("amount_fen", filter=Q(amount_fen__gt=0)), 0),
        credit=Coalesce(Sum("amount_fen", filter=Q(amount_fen__lt=0)), 0),
    )
    lines: list[StatementLine] = []
    if with_lines:
        running = opening
        for p in period:
            running += p.amount_fen
            lines.append(
                StatementLine(p.posted_at, p.txn.occurred_at, p.txn_id, p.txn.kind, p.txn.memo, p.amount_fen, running)
            )
    return Statement(
        account_code=acct.code,
        account_name=acct.name,
        account_kind=acct.kind,
        normal_sign=domain.normal_sign(acct.kind),
        start=lo,
        end=hi,
        opening_fen=opening,
        debit_fen=totals["debit"],
        credit_fen=totals["credit"],
        closing_fen=opening + totals["debit"] + totals["credit"],
        lines=tuple(lines),
    )


# --- reconciliation (security M-6) -----------------------------------------------------------


@dataclass(frozen=True)
class AccountMismatch:
    code: str
    balance_fen: int
    postings_fen: int


@dataclass(frozen=True)
class TrialBalance:
    balances_total_fen: int  # Σ Account.balance_fen: 0 when the books balance
    postings_total_fen: int  # Σ Posting.amount_fen: 0 when every entry balances
    debit_total_fen: int  # Σ of debit (positive) balances
    credit_total_fen: int  # Σ of credit (negative) balances
    mismatched_accounts: tuple[AccountMismatch, ...]  # balance_fen ≠ Σ of its postings
    unbalanced_txns: tuple[int, ...]  # postings not summing to 0, or fewer than 2
    overdrawn_accounts: tuple[str, ...]  # no-overdraft accounts below 0 on their normal side

    @property
    def ok(self) -> bool:
        return (
            self.balances_total_fen == 0
            and self.postings_total_fen == 0
            and not self.mismatched_accounts
            and not self.unbalanced_txns
            and not self.overdrawn_accounts
        )


def trial_balance() -> TrialBalance:
    """Σ of all balances is 0, and every account's balance is the sum of its postings."""
    sums = Account.objects.aggregate(
        total=Coalesce(Sum("balance_fen"), 0),
        debit=Coalesce(Sum("balance_fen", filter=Q(balance_fen__gt=0)), 0),
        credit=Coalesce(Sum("balance_fen", filter=Q(balance_fen__lt=0)), 0),
    )
    posted = Posting.objects.aggregate(total=Coalesce(Sum("amount_fen"), 0))["total"]
    per_account = (
        Posting.objects.filter(account_id=OuterRef("pk")).order_by().values("account_id")
        .annotate(s=Sum("amount_fen")).values("s")
    )
    mismatched = (
        Account.objects.annotate(posted=Coalesce(Subquery(per_account), Value(0)))
        .exclude(balance_fen=F("posted"))
        .order_by("code")
        .values_list("code", "balance_fen", "posted")
    )
    unbalanced = set(
        Posting.objects.order_by().values("txn_id").annotate(s=Sum("amount_fen"), n=Count("id"))
        .filter(Q(s__lt=0) | Q(s__gt=0) | Q(n__lt=2)).values_list("txn_id", flat=True)
    )
    unbalanced.update(Transaction.objects.filter(postings__isnull=True).values_list("id", flat=True))
    overdrawn = [
        a.code
        for a in Account.objects.filter(allow_negative=False).exclude(balance_fen=0).only("code", "kind", "balance_fen")
        if a.normal_balance_fen < 0
    ]
    return TrialBalance(
        balances_total_fen=sums["total"],
        postings_total_fen=posted,
        debit_total_fen=sums["debit"],
        credit_total_fen=sums["credit"],
        mismatched_accounts=tuple(AccountMismatch(c, b, p) for c, b, p in mismatched),
        unbalanced_txns=tuple(sorted(unbalanced)),
        overdrawn_accounts=tuple(sorted(overdrawn)),
    )


@dataclass(frozen=True)
class LedgerProblem:
    txn_id: int
    kind: str  # altered | posting_time | unaudited | audit_mismatch | missing
    detail: str


def mac_tag(mac: bytes) -> str:
    """The MAC as it is quoted in the audit log: hex in groups of 8, so that the audit log's
    redaction of ID and phone numbers can never match a run of digits inside it."""
    h = bytes(mac).hex()
    return "-".join(h[i : i + 8] for i in range(0, len(h), 8))


def content_of(txn: Transaction, postings: Sequence[tuple[int, str, int]]) -> domain.TxnContent:
    return domain.TxnContent(
        key=txn.idempotency_key,
        request_digest=bytes(txn.request_digest),
        kind=txn.kind,
        memo=txn.memo,
        occurred_at=txn.occurred_at,
        posted_at=txn.posted_at,
        actor_id=txn.actor_id,
        actor_username=txn.actor_username,
        reverses_id=txn.reverses_id,
        metadata=txn.metadata,
        postings=tuple(postings),
    )


def _batches(batch: int) -> Iterator[list[Transaction]]:
    last = 0
    while True:
        rows = list(Transaction.objects.filter(id__gt=last).order_by("id")[:batch])
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _missing(batch: int) -> Iterator[LedgerProblem]:
    """Transactions the audit log says were posted but that are no longer in the ledger."""
    last = 0
    while True:
        events = list(
            AuditEvent.objects.filter(object_type=AUDIT_OBJECT, id__gt=last)
            .order_by("id").values_list("id", "object_id")[:batch]
        )
        if not events:
            return
        last = events[-1][0]
        claimed = {int(object_id) for _, object_id in events}
        present = set(Transaction.objects.filter(id__in=claimed).values_list("id", flat=True))
        for txn_id in sorted(claimed - present):
            yield LedgerProblem(txn_id, "missing", f"审计记录中的记账凭证 #{txn_id} 已不存在")


def ledger_verify(*, batch: int = 1000, check_audit: bool = True) -> list[LedgerProblem]:
    """Recompute every transaction's HMAC-SM3 over its columns and postings; name each that fails.

    With ``check_audit`` it also matches transactions against the hash-chained audit log, where
    every posting wrote the transaction's MAC: a transaction deleted together with its postings
    (which no per-row MAC can show) is reported as ``missing``.
    """
    problems: list[LedgerProblem] = []
    for rows in _batches(batch):
        ids = [t.id for t in rows]
        lines: dict[int, list[tuple[int, str, int]]] = {i: [] for i in ids}
        times: dict[int, set[datetime]] = {i: set() for i in ids}
        for txn_id, account_id, code, amount, posted_at in Posting.objects.filter(txn_id__in=ids).values_list(
            "txn_id", "account_id", "account__code", "amount_fen", "posted_at"
        ):
            lines[txn_id].append((account_id, code, amount))
            times[txn_id].add(posted_at)
        audited: dict[int, Any] = {}
        if check_audit:
            for object_id, extra in AuditEvent.objects.filter(
                object_type=AUDIT_OBJECT, object_id__in=[str(i) for i in ids]
            ).values_list("object_id", "extra"):
                audited[int(object_id)] = (extra or {}).get("mac")
        for txn in rows:
            mac = domain.txn_mac(content_of(txn, lines[txn.id]))
            if not crypto.constant_time_equal(mac, bytes(txn.mac)):
                problems.append(LedgerProblem(txn.id, "altered", f"记账凭证 #{txn.id} 的内容或分录被改动"))
            if times[txn.id] - {txn.posted_at}:
                problems.append(LedgerProblem(txn.id, "posting_time", f"记账凭证 #{txn.id} 的分录记账时间不一致"))
            if check_audit:
                if txn.id not in audited:
                    problems.append(LedgerProblem(txn.id, "unaudited", f"记账凭证 #{txn.id} 没有审计记录"))
                elif audited[txn.id] != mac_tag(bytes(txn.mac)):
                    problems.append(LedgerProblem(txn.id, "audit_mismatch", f"记账凭证 #{txn.id} 与审计记录不符"))
    if check_audit:
        problems.extend(_missing(batch))
    return sorted(problems, key=lambda p: (p.txn_id, p.kind))
