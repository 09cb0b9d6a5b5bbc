"""Writes of the ledger. Each is keyword-only, runs in one transaction and writes an audit row.

The API domains code against:

    account_open(*, actor, code, name, kind, division_code, owner_type="", owner_ref="",
                 allow_negative=False) -> Account
    account_update(*, actor, account, name=None, division_code=None) -> Account
    account_close(*, actor, account) -> Account
    txn_post(*, actor, key, kind, lines, memo="", occurred_at=None, metadata=None) -> Transaction
    txn_reverse(*, actor, txn, key, reason, occurred_at=None, metadata=None) -> Transaction

``lines`` is a sequence of ``(account, amount_fen)`` with ``account`` an ``Account`` or its code
and ``amount_fen`` an ``int``: **debit positive, credit negative**, summing to 0 (see
``ledger.domain`` for the convention and for what "may not go negative" means on a credit-side
account such as a wallet).

Posting, in order (a fixed number of statements whatever the number of lines, each compiled
once per process and number of lines):

1. the accounts are locked ``SELECT … FOR NO KEY UPDATE`` ordered by id (one deterministic order
   for every caller, so two postings never deadlock each other), which also reads the database
   clock for ``posted_at``;
2. the transaction row is inserted with ``ON CONFLICT DO NOTHING`` on the idempotency key: when
   nothing is inserted the key was posted before (a replay), or by a concurrent request that
   committed while we waited — either way the ORIGINAL transaction is returned (``.replayed`` is
   True) and nothing is written; different content → 409 ``idempotency_mismatch``. Never a 500,
   never a second transaction. (A replay is rare: looking the key up first would cost every new
   posting a statement to save a replay two row locks.)
3. funds are checked on the locked rows: a closed account → 409 ``account_closed``; a
   no-overdraft account that would go below 0 on its normal side → 409 ``insufficient_funds``
   (the row inserted in step 2 goes with the rolled-back savepoint);
4. postings are inserted and balances moved with one ``UPDATE … FROM (VALUES …)``, in a single
   statement on PostgreSQL (a data-modifying ``WITH``);
   the database CHECK refuses an overdraft regardless;
5. the audit row is written last, so the audit chain's head lock is held as briefly as possible.

Lock order for domain services: post to the ledger *before* calling ``audit_record`` yourself in
the same transaction; taking the audit head first and account rows second can deadlock with a
concurrent posting (PostgreSQL resolves it, and ``@retry_on_conflict`` on your service re-runs it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db import transaction as db_transaction
from django.db.models.functions import Now

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.models import execute_chained, row_insert
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.ledger import domain
from minzheng.ledger.exceptions import (
    AccountClosed,
    AlreadyReversed,
    IdempotencyMismatch,
    InsufficientFunds,
    ReversalOfReversal,
)
from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.selectors import AUDIT_OBJECT, content_of, mac_tag

REVERSAL_KIND = "ledger.reversal"

AccountRef = Account | str
LineInput = tuple[AccountRef, int]


# --- accounts --------------------------------------------------------------------------------


def _division(code: Any) -> Division:
    division = Division.objects.filter(code=str(code or "").strip()).first()
    if division is None:
        raise ValidationFailed({"division_code": "区划不存在"}, code="unknown_division")
    return division


def account_open(
    *,
    actor: Actor | None,
    code: str,
    name: str,
    kind: str,
    division_code: str,
    owner_type: str = "",
    owner_ref: str = "",
    allow_negative: bool = False,
) -> Account:
    """Open an account, or return the one already open under ``code`` (idempotent by code).

    The same code with a different kind, owner or overdraft rule → 409 ``account_mismatch``.
    Name and division are not identity: an existing account is returned as it is (use
    ``account_update`` to rename or move it).
    """
    code = domain.check_code(code)
    name = domain.check_text(name, "name", domain.MAX_NAME, blank=False, code="invalid_name")
    kind = domain.check_account_kind(kind)
    owner_type = domain.check_text(owner_type, "owner_type", 32, blank=True, code="invalid_owner")
    owner_ref = domain.check_text(owner_ref, "owner_ref", 64, blank=True, code="invalid_owner")
    if not isinstance(allow_negative, bool):
        raise ValidationFailed({"allow_negative": "必须是是/否"}, code="invalid_allow_negative")
    division = _division(division_code)
    wanted = {"kind": kind, "owner_type": owner_type, "owner_ref": owner_ref, "allow_negative": allow_negative}
    with db_transaction.atomic():
        account, created = Account.objects.get_or_create(
            code=code,
            defaults={**wanted, "name": name, "division_code": division.code, "area_path": division.path},
        )
        if not created:
            differs = sorted(f for f, v in wanted.items() if getattr(account, f) != v)
            if differs:
                raise Conflict(
                    f"账户代码 {code} 已存在且属性不同", code="account_mismatch", extra={"code": code, "fields": differs}
                )
            return account
        audit_record(
            actor=actor,
            event_type="ledger.account_open",
            object_type="ledger.account",
            object_id=account.id,
            extra={"code": code, "kind": kind, "allow_negative": allow_negative, "division": division.code},
        )
    return account


def _locked_account(account: AccountRef) -> Account:
    code = account.code if isinstance(account, Account) else account
    found = Account.objects.select_for_update().filter(code=code).first()
    if found is None:
        raise NotFound("账户不存在", code="unknown_account")
    return found


def account_update(
    *, actor: Actor | None, account: AccountRef, name: str | None = None, division_code: str | None = None
) -> Account:
    """Rename an account or move it to another division (a person moved, a 村 became a 社区)."""
    with db_transaction.atomic():
        acct = _locked_account(account)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = domain.check_text(name, "name", domain.MAX_NAME, blank=False, code="invalid_name")
        if division_code is not None:
            division = _division(division_code)
            changes["division_code"], changes["area_path"] = division.code, division.path
        changes = {k: v for k, v in changes.items() if getattr(acct, k) != v}
        if not changes:
            return acct
        Account.objects.filter(pk=acct.pk).update(**changes)
        audit_record(
            actor=actor, event_type="ledger.account_update", object_type="ledger.account", object_id=acct.id,
            extra={"code": acct.code, "changes": {k: v for k, v in changes.items() if k != "area_path"}},
        )
        acct.refresh_from_db()
    return acct


def account_close(*, actor: Actor | None, account: AccountRef) -> Account:
    """Close an account whose balance is 0; no posting can touch it afterwards. Idempotent."""
    with db_transaction.atomic():
        acct = _locked_account(account)
        if acct.closed_at is not None:
            return acct
        if acct.balance_fen != 0:
            raise Conflict(
                "账户余额不为零,不能关闭", code="balance_not_zero",
                extra={"code": acct.code, "balance_fen": acct.balance_fen},
            )
        Account.objects.filter(pk=acct.pk).update(closed_at=Now())
        audit_record(actor=actor, event_type="ledger.account_close", object_type="ledger.account", object_id=acct.id,
                     extra={"code": acct.code})
        acct.refresh_from_db()
    return acct


# --- transactions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    key: str
    kind: str
    lines: tuple[domain.Line, ...]
    memo: str
    occurred_at: datetime | None
    metadata: dict[str, Any]
    reverses_id: int | None
    digest: bytes


def _request(
    *,
    key: Any,
    kind: Any,
    lines: Any,
    memo: Any,
    occurred_at: Any,
    metadata: Any,
    reverses_id: int | None,
    memo_field: str = "memo",
) -> _Request:
    key = domain.check_key(key)
    kind = domain.check_kind(kind)
    if isinstance(lines, Iterable) and not isinstance(lines, str | bytes | Mapping):
        lines = [
            (item[0].code, item[1]) if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], Account)
            else item
            for item in lines
        ]
    checked = domain.check_lines(lines)
    memo = domain.check_memo(memo, memo_field)
    when = domain.check_occurred_at(occurred_at)
    meta = domain.check_metadata(metadata)
    digest = domain.request_digest(
        key=key, kind=kind, lines=checked, memo=memo, occurred_at=when, metadata=meta, reverses_id=reverses_id
    )
    return _Request(key, kind, checked, memo, when, meta, reverses_id, digest)


def _replay(existing: Transaction, request: _Request) -> Transaction:
    if not crypto.constant_time_equal(bytes(existing.request_digest), request.digest):
        raise IdempotencyMismatch(request.key, existing.id)
    existing.replayed = True
    return existing


_sql: dict[tuple[str, str, int], Any] = {}


def _claim_sql() -> tuple[str, Callable[[Transaction], list[Any]]]:
    key = (connection.alias, "claim", 0)
    found = _sql.get(key)
    if found is None:
        meta = Transaction._meta
        sql, params = row_insert([f for f in meta.concrete_fields if not f.primary_key], connection)
        sql += f" ON CONFLICT DO NOTHING RETURNING {connection.ops.quote_name(meta.pk.column)}"
        found = _sql[key] = (sql, params)
    return found


def _claim(txn: Transaction) -> bool:
    """INSERT the transaction unless its key (or the reversed transaction) is already taken.

    ``ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same key to commit or roll
    back, and then inserts nothing instead of raising: the transaction stays usable, no savepoint.
    """
    sql, params = _claim_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params(txn))
        row = cursor.fetchone()
    if row is None:
        return False
    txn.id = row[0]
    txn._state.adding = False
    txn._state.db = connection.alias
    return True


@dataclass(frozen=True)
class _Locked:
    """An account row as ``_post`` reads it under its lock (what the checks and postings need)."""

    id: int
    code: str
    kind: str
    allow_negative: bool
    balance_fen: int
    closed_at: datetime | None

    @property
    def normal_balance_fen(self) -> int:
        return domain.normal_balance(self.kind, self.balance_fen)


_LOCKED_COLUMNS = ("id", "code", "kind", "allow_negative", "balance_fen", "closed_at", "db_now")


def _lock_accounts(codes: Sequence[str]) -> tuple[list[_Locked], datetime | None]:
    """``SELECT … FOR NO KEY UPDATE`` of the accounts named, ordered by id, with the database clock:
    compiled by the ORM once per number of lines (and database), then only the codes change."""
    key = (connection.alias, "lock", len(codes))
    found = _sql.get(key)
    if found is None:
        probes = [f"\x00code{i}\x00" for i in range(len(codes))]
        qs = (Account.objects.filter(code__in=probes).order_by("id").select_for_update(no_key=True)
              .annotate(db_now=Now()).values_list(*_LOCKED_COLUMNS))
        compiler = qs.query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        slots = [params.index(p) for p in probes]
        converters = compiler.get_converters([s[0] for s in compiler.select[0 : compiler.col_count]])
        found = _sql[key] = (sql, tuple(params), slots, compiler, converters)
    sql, template, slots, compiler, converters = found
    params = list(template)
    for slot, code in zip(slots, codes, strict=True):
        params[slot] = code
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: Any = cursor.fetchall()
    if converters:
        rows = list(compiler.apply_converters(rows, converters))
    if not rows:
        return [], None
    return [_Locked(*row[:6]) for row in rows], rows[0][6]


def _apply_postings(txn_id: int, posted_at: datetime, postings: Sequence[tuple[int, str, int]]) -> None:
    """Insert the transaction's postings and move the balances (``balance_fen += amount``, the
    accounts already locked; the CHECK constraint still refuses an overdraft), chained into one
    statement on PostgreSQL (``execute_chained``). Built once per number of lines."""
    key = (connection.alias, "postings", len(postings))
    found = _sql.get(key)
    if found is None:
        meta = Posting._meta
        qn = connection.ops.quote_name
        by_name = {f.name: f for f in meta.concrete_fields}
        fields = [by_name[n] for n in ("txn", "account", "amount_fen", "posted_at")]
        columns = ", ".join(qn(f.column) for f in fields)
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(postings))
        table = qn(Account._meta.db_table)
        moves = ", ".join(["(%s, %s)"] * len(postings))
        # Identifiers from the models' metadata; every value is a bound parameter.
        insert = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES {rows}"  # noqa: S608
        update = (f"UPDATE {table} SET balance_fen = balance_fen + v.column2 FROM (VALUES {moves}) AS v "  # noqa: S608
                  f"WHERE {table}.id = v.column1")
        found = _sql[key] = (insert, update, fields[3])
    insert, update, posted_field = found
    when = posted_field.get_db_prep_save(posted_at, connection=connection)
    rows_params: list[Any] = []
    for account_id, _code, amount in postings:
        rows_params.extend((txn_id, account_id, amount, when))
    move_params = [x for account_id, _code, amount in postings for x in (account_id, amount)]
    with connection.cursor() as cursor:
        execute_chained(cursor, insert, rows_params, update, move_params)


@dataclass(frozen=True)
class AuditNote:
    """The caller's audit of the business event a posting belongs to (a meal served, a benefit
    paid), written by ``txn_post`` as the posting's one audit row instead of two rows in the same
    transaction: ``event_type`` is the caller's (``meals.checkout``), the object is still the
    ledger transaction (``ledger_verify`` matches it by id and MAC), and ``extra`` holds the
    caller's fields beside the posting's (key, kind, lines, debit_fen, reverses, mac)."""

    event_type: str
    extra: Mapping[str, Any]


def _post(*, actor: Actor | None, request: _Request, event_type: str, reason: str = "",
          note: AuditNote | None = None) -> Transaction:
    """Steps 1–6 of the module docstring. The caller holds the atomic block."""
    codes = [line.code for line in request.lines]
    rows, posted_at = _lock_accounts(codes)
    by_code = {a.code: a for a in rows}
    unknown = [c for c in codes if c not in by_code]
    if unknown or posted_at is None:
        raise ValidationFailed({"lines": f"账户不存在:{'、'.join(unknown)}"}, code="unknown_account")

    actor_id = getattr(actor, "pk", None)
    postings = tuple((by_code[line.code].id, line.code, line.amount_fen) for line in request.lines)
    txn = Transaction(
        idempotency_key=request.key,
        request_digest=request.digest,
        kind=request.kind,
        memo=request.memo,
        occurred_at=request.occurred_at or posted_at,
        posted_at=posted_at,
        actor_id=actor_id if isinstance(actor_id, int) else None,
        actor_username=str(getattr(actor, "username", "") or "")[:150],
        reverses_id=request.reverses_id,
        metadata=request.metadata,
    )
    txn.mac = domain.txn_mac(content_of(txn, postings))
    if not _claim(txn):
        # The key was posted before (a replay) or by a concurrent request we waited for.
        existing = Transaction.objects.filter(idempotency_key=request.key).first()
        if existing is not None:
            return _replay(existing, request)
        if request.reverses_id is not None:
            raise AlreadyReversed(request.reverses_id)
        raise Conflict("记账请求冲突,请重试", code="ledger_conflict")  # pragma: no cover - no other UNIQUE

    for account in rows:
        if account.closed_at is not None:
            raise AccountClosed(account.code)
    for line in request.lines:
        account = by_code[line.code]
        if account.allow_negative:
            continue
        after = domain.normal_balance(account.kind, account.balance_fen + line.amount_fen)
        if after < 0:
            raise InsufficientFunds(
                account=account.code,
                available_fen=account.normal_balance_fen,
                required_fen=-line.amount_fen * domain.normal_sign(account.kind),
            )

    _apply_postings(txn.id, posted_at, postings)
    extra: dict[str, Any] = {
        "key": request.key,
        "kind": request.kind,
        "lines": len(postings),
        "debit_fen": sum(a for _, _, a in postings if a > 0),
        "reverses": request.reverses_id,
        "mac": mac_tag(txn.mac),
    }
    if note is not None:
        event_type = note.event_type
        extra = {**note.extra, **extra}
    audit_record(actor=actor, event_type=event_type, object_type=AUDIT_OBJECT, object_id=txn.id, reason=reason,
                 extra=extra)
    txn.replayed = False
    return txn


_LEDGER_EXTRA = frozenset({"key", "kind", "lines", "debit_fen", "reverses", "mac"})


def _checked_note(note: Any) -> AuditNote | None:
    if note is None:
        return None
    if not isinstance(note, AuditNote) or not isinstance(note.event_type, str) or not note.event_type:
        raise ValidationFailed({"audit": "审计说明无效"}, code="invalid_audit_note")
    clash = sorted(_LEDGER_EXTRA & set(note.extra))
    if clash:
        raise ValidationFailed({"audit": f"审计说明不能使用记账字段: {'、'.join(clash)}"}, code="invalid_audit_note")
    return note


@retry_on_conflict
def txn_post(
    *,
    actor: Actor | None,
    key: str,
    kind: str,
    lines: Sequence[LineInput],
    memo: str = "",
    occurred_at: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
    audit: AuditNote | None = None,
    savepoint: bool = True,
) -> Transaction:
    """Post one balanced journal entry under an idempotency key (see the module docstring).

    ``savepoint=False``, inside the caller's own ``atomic()``: no SAVEPOINT/RELEASE pair around the
    posting, for a caller that never carries on after a refusal (the error dooms its whole
    transaction instead of just the posting). The RELEASE would otherwise come after the audit
    row, i.e. while the audit chain's head is locked.

    ``audit``: the caller's own audit of the event behind the posting, recorded in the posting's
    audit row (one row per posting either way; see ``AuditNote``). Without it the row is
    ``ledger.txn_post``.

    Refusals (nothing is written): ``ValidationFailed`` 400 for bad input (fewer than 2 lines, not
    summing to 0, a float or bool amount, 0, an unknown account, one account twice...);
    ``IdempotencyMismatch`` 409; ``AccountClosed`` 409; ``InsufficientFunds`` 409;
    ``LedgerBusy`` 503 when PostgreSQL keeps reporting serialization failures or deadlocks.
    """
    request = _request(
        key=key, kind=kind, lines=lines, memo=memo, occurred_at=occurred_at, metadata=metadata, reverses_id=None
    )
    with db_transaction.atomic(savepoint=savepoint):
        return _post(actor=actor, request=request, event_type="ledger.txn_post", note=_checked_note(audit))


@retry_on_conflict
def txn_reverse(
    *,
    actor: Actor | None,
    txn: Transaction | int,
    key: str,
    reason: str,
    occurred_at: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Transaction:
    """Post the mirror image of ``txn`` (every posting negated), linked by ``reverses``.

    A transaction is reversed at most once (409 ``already_reversed``, also enforced by a UNIQUE
    constraint), a reversal is never itself reversed (409 ``reversal_of_reversal``: post a new
    entry instead), and a no-overdraft account must still afford it (409 ``insufficient_funds``:
    a wallet grant that has been spent cannot be clawed back below zero). Replaying the same key
    returns the original reversal.
    """
    reason = domain.check_memo(reason, "reason")
    if not reason.strip():
        raise ValidationFailed({"reason": "请填写冲正原因"}, code="reason_required")
    txn_id = txn.pk if isinstance(txn, Transaction) else txn
    if not isinstance(txn_id, int) or isinstance(txn_id, bool):
        raise ValidationFailed({"txn": "请指定要冲正的记账凭证"}, code="invalid_txn")
    with db_transaction.atomic():
        original = Transaction.objects.filter(pk=txn_id).first()
        if original is None:
            raise NotFound("记账凭证不存在", code="unknown_transaction")
        if original.reverses_id is not None:
            raise ReversalOfReversal(original.id)
        lines = [
            (code, -amount)
            for code, amount in Posting.objects.filter(txn_id=original.id).order_by("id").values_list(
                "account__code", "amount_fen"
            )
        ]
        request = _request(
            key=key,
            kind=REVERSAL_KIND,
            lines=lines,
            memo=reason,
            occurred_at=occurred_at,
            metadata=metadata,
            reverses_id=original.id,
            memo_field="reason",
        )
        return _post(actor=actor, request=request, event_type="ledger.txn_reverse", reason=reason)
