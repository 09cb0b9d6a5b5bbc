"""Concurrency and commit-time behaviour on a real PostgreSQL (security A14, A15, F2, M-2, M-4).

Each thread has its own database connection (Django connections are per thread) and closes it
when done. These tests commit for real, so they run as transactional tests; the project's flush
command (synth) lifts the append-only tables' TRUNCATE protection for the flush afterwards and
restores the reference data.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from conftest import DISTRICT
from minzheng.ledger.exceptions import InsufficientFunds, LedgerBusy
from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.retry import retry_on_conflict
from minzheng.ledger.selectors import ledger_verify, trial_balance
from minzheng.ledger.services import account_open, txn_post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def in_threads(n: int, work: Callable[[int], Any], timeout: float = 120) -> list[tuple[str, Any]]:
    """Run ``work(i)`` in ``n`` threads released together; ("ok", result) or ("error", exception)."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, Any]] = [("missing", None)] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = ("ok", work(i))
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def _fund(code: str, kind: str, fen: int) -> None:
    """A no-overdraft account holding ``fen`` on its normal side, plus its counterparts."""
    account_open(actor=None, code=code, name="资金", kind=kind, division_code=DISTRICT)
    account_open(actor=None, code="t:equity", name="期初", kind="equity", division_code=DISTRICT, allow_negative=True)
    account_open(actor=None, code="t:expense", name="支出", kind="expense", division_code=DISTRICT, allow_negative=True)
    sign = 1 if kind == "asset" else -1
    txn_post(actor=None, key=f"t:fund:{code}", kind="treasury.opening",
             lines=[(code, sign * fen), ("t:equity", -sign * fen)])


def _spend(code: str, kind: str, fen: int) -> list[tuple[str, int]]:
    sign = 1 if kind == "asset" else -1
    return [(code, -sign * fen), ("t:expense", sign * fen)]


@pytest.mark.parametrize("kind", ["asset", "liability"])
def test_a15_twenty_parallel_spends_of_a_fund_that_can_pay_one(require_postgres, kind):
    # Given a fund (asset) or a wallet (liability) that holds exactly ¥1
    _fund("t:fund", kind, 100)

    # When 20 threads each try to pay ¥1 out of it at the same moment, under different keys
    results = in_threads(20, lambda i: txn_post(actor=None, key=f"A15:{i}", kind="payroll.disburse",
                                                lines=_spend("t:fund", kind, 100)))

    # Then exactly one succeeds, the other 19 are refused for insufficient funds
    outcomes = Counter(type(r).__name__ if status == "error" else status for status, r in results)
    assert outcomes == Counter({"ok": 1, "InsufficientFunds": 19})
    assert all(r.code == "insufficient_funds" for s, r in results if s == "error")
    # And the fund is empty, never below zero, and the books balance
    fund = Account.objects.get(code="t:fund")
    assert fund.balance_fen == 0
    assert fund.normal_balance_fen >= 0
    assert Transaction.objects.filter(idempotency_key__startswith="A15:").count() == 1
    tb = trial_balance()
    assert tb.ok
    assert tb.balances_total_fen == 0
    assert ledger_verify() == []


def test_fifty_parallel_replays_of_one_key_make_one_transaction(require_postgres):
    # Given a wallet that can pay one ¥1 meal
    _fund("t:wallet", "liability", 100)
    lines = _spend("t:wallet", "liability", 100)

    # When a terminal's request arrives 50 times at once under the same idempotency key
    results = in_threads(50, lambda i: txn_post(actor=None, key="meal:T9:1", kind="meal.checkout", lines=lines))

    # Then every caller gets the same transaction: one posted it, 49 got it back as a replay
    assert [s for s, _ in results] == ["ok"] * 50, [r for s, r in results if s != "ok"][:3]
    assert len({txn.id for _, txn in results}) == 1
    assert sorted(txn.replayed for _, txn in results) == [False] + [True] * 49
    # And the ledger holds one transaction with two postings, and the wallet paid once
    assert Transaction.objects.filter(idempotency_key="meal:T9:1").count() == 1
    txn = Transaction.objects.get(idempotency_key="meal:T9:1")
    assert Posting.objects.filter(txn=txn).count() == 2
    assert Account.objects.get(code="t:wallet").balance_fen == 0
    assert trial_balance().ok


def test_fifty_parallel_replays_with_one_changed_amount_409(require_postgres):
    _fund("t:wallet", "liability", 10_000)

    def work(i: int) -> Any:
        fen = 101 if i == 0 else 100  # one caller changed the amount
        return txn_post(actor=None, key="meal:T9:2", kind="meal.checkout", lines=_spend("t:wallet", "liability", fen))

    results = in_threads(50, work)

    statuses = Counter(
        (s if s == "ok" else r.code) for s, r in results
    )
    # Whichever arrives first wins; every request that differs from the winner gets 409
    assert Transaction.objects.filter(idempotency_key="meal:T9:2").count() == 1
    assert statuses["ok"] + statuses["idempotency_mismatch"] == 50
    assert statuses["idempotency_mismatch"] in (1, 49)
    assert trial_balance().ok


# --- the deferred balance check, at COMMIT ----------------------------------------------------


def _raw_txn(cur: Any, key: str) -> int:
    cur.execute(
        "INSERT INTO ledger_transaction (idempotency_key, request_digest, kind, memo, occurred_at, posted_at,"
        " actor_username, metadata, mac) VALUES (%s, '\\x00', 'raw', '', now(), now(), '', '{}', '\\x00') RETURNING id",
        (key,),
    )
    return int(cur.fetchone()[0])


def test_an_unbalanced_entry_inserted_with_raw_sql_fails_at_commit(require_postgres):
    _fund("t:fund", "asset", 1000)
    fund = Account.objects.get(code="t:fund")

    def one_sided_entry() -> None:
        with transaction.atomic(), connection.cursor() as cur:
            txn_id = _raw_txn(cur, "raw:unbalanced")
            cur.execute("INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at)"
                        " VALUES (%s, %s, 500, now())", (txn_id, fund.id))
            # every statement succeeded: only COMMIT runs the deferred check

    with pytest.raises(IntegrityError, match="unbalanced"):
        one_sided_entry()

    assert not Transaction.objects.filter(idempotency_key="raw:unbalanced").exists()
    assert trial_balance().ok


def test_an_entry_without_postings_fails_at_commit(require_postgres):
    def empty_entry() -> None:
        with transaction.atomic(), connection.cursor() as cur:
            _raw_txn(cur, "raw:empty")

    with pytest.raises(IntegrityError, match="unbalanced"):
        empty_entry()

    assert not Transaction.objects.filter(idempotency_key="raw:empty").exists()


def test_a_line_added_later_to_a_committed_entry_fails_at_commit(require_postgres):
    _fund("t:fund", "asset", 1000)
    txn = Transaction.objects.get(idempotency_key="t:fund:t:fund")
    expense = Account.objects.get(code="t:expense")

    def late_line() -> None:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at)"
                        " VALUES (%s, %s, 7, now())", (txn.id, expense.id))

    with pytest.raises(IntegrityError, match="unbalanced"):
        late_line()

    assert Posting.objects.filter(txn=txn).count() == 2


def test_a_balanced_entry_inserted_with_raw_sql_commits_but_fails_verification(require_postgres):
    _fund("t:fund", "asset", 1000)
    fund, expense = Account.objects.get(code="t:fund"), Account.objects.get(code="t:expense")

    with transaction.atomic(), connection.cursor() as cur:
        txn_id = _raw_txn(cur, "raw:balanced")
        cur.execute("INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at) VALUES"
                    " (%s, %s, -5, now()), (%s, %s, 5, now())", (txn_id, fund.id, txn_id, expense.id))

    # The database accepts a balanced entry; the MAC and the audit log do not know it
    assert {p.kind for p in ledger_verify() if p.txn_id == txn_id} == {"altered", "unaudited"}


# --- retries (M-4, F2) ------------------------------------------------------------------------


def _raise_sqlstate(state: str) -> None:
    with connection.cursor() as cur:
        cur.execute(f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{state}'; END $$")


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_serialization_failures_and_deadlocks_are_retried(require_postgres, state):
    calls: list[int] = []

    @retry_on_conflict
    def unit() -> str:
        calls.append(1)
        with transaction.atomic():
            if len(calls) < 3:
                _raise_sqlstate(state)
            return "done"

    assert unit() == "done"
    assert len(calls) == 3


def test_a_conflict_that_persists_becomes_ledger_busy(require_postgres):
    calls: list[int] = []

    @retry_on_conflict
    def unit() -> None:
        calls.append(1)
        with transaction.atomic():
            _raise_sqlstate("40001")

    with pytest.raises(LedgerBusy) as err:
        unit()
    assert err.value.status_code == 503
    assert len(calls) == 3


def test_no_retry_inside_an_enclosing_transaction(require_postgres):
    calls: list[int] = []

    @retry_on_conflict
    def unit() -> None:
        calls.append(1)
        with transaction.atomic():
            _raise_sqlstate("40001")

    with pytest.raises(DatabaseError), transaction.atomic():
        unit()
    assert len(calls) == 1  # the outermost caller owns the retry


def test_other_errors_are_not_retried(require_postgres):
    calls: list[int] = []

    @retry_on_conflict
    def unit() -> None:
        calls.append(1)
        with transaction.atomic():
            _raise_sqlstate("23505")

    with pytest.raises(IntegrityError):
        unit()
    assert len(calls) == 1


def test_a_real_deadlock_between_two_domain_services_is_retried(require_postgres):
    # Two domain services each lock "their" account first, then post to the other's:
    # opposite lock orders, a genuine deadlock. PostgreSQL aborts one; its retry succeeds.
    for code in ("t:a", "t:b"):
        account_open(actor=None, code=code, name=code, kind="asset", division_code=DISTRICT, allow_negative=True)
    first_attempt = threading.Barrier(2)
    attempts = Counter()

    @retry_on_conflict
    def service(mine: str, other: str, key: str) -> int:
        attempts[key] += 1
        with transaction.atomic():
            list(Account.objects.select_for_update().filter(code=mine))
            if attempts[key] == 1:
                first_attempt.wait(timeout=30)
            return txn_post(actor=None, key=key, kind="test.transfer", lines=[(other, 1), (mine, -1)]).id

    results = in_threads(2, lambda i: service(*(("t:a", "t:b") if i == 0 else ("t:b", "t:a")), f"dl:{i}"))

    assert [s for s, _ in results] == ["ok", "ok"], results
    assert sorted(attempts.values()) == [1, 2]
    assert trial_balance().ok


def test_a_lost_connection_is_retried_and_the_key_keeps_it_exactly_once(require_postgres):
    _fund("t:wallet", "liability", 1000)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    settings = connection.settings_dict
    # The database drops our session (a restart, a failover, an idle-connection reaper)
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         password=settings["PASSWORD"] or None, dbname=settings["NAME"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    txn = txn_post(actor=None, key="meal:T9:3", kind="meal.checkout", lines=_spend("t:wallet", "liability", 100))

    assert txn.replayed is False
    assert Transaction.objects.filter(idempotency_key="meal:T9:3").count() == 1
    assert Account.objects.get(code="t:wallet").normal_balance_fen == 900


def test_insufficient_funds_is_not_retried(require_postgres):
    _fund("t:fund", "asset", 100)

    with pytest.raises(InsufficientFunds):
        txn_post(actor=None, key="t:over", kind="payroll.disburse", lines=_spend("t:fund", "asset", 101))
