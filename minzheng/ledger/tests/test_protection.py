"""What the database itself refuses (security M-1, M-2, A6-style tampering), and what the checks
find when a superuser goes behind the application's back (DP-4, M-6)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, models, transaction

from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.selectors import ledger_verify, trial_balance
from minzheng.ledger.services import txn_post, txn_reverse

_protect = importlib.import_module("minzheng.ledger.migrations.0002_protect")


def _raw(sql: str, params: tuple = ()) -> None:
    # A savepoint of its own, so the test's transaction survives the refusal on PostgreSQL
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)


@pytest.fixture
def posted(funded):
    return txn_post(actor=None, key="meal:p1", kind="meal.checkout", memo="午餐",
                    lines=[(funded.wallet, 300), (funded.operator, -300)])


# --- append-only ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount_fen = amount_fen * 2",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_transaction SET memo = '晚餐'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_raw_update_and_delete_of_postings_and_transactions_are_refused(posted, sql):
    before = list(Posting.objects.order_by("id").values_list("id", "amount_fen"))

    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql)

    assert list(Posting.objects.order_by("id").values_list("id", "amount_fen")) == before
    assert Transaction.objects.get(pk=posted.pk).memo == "午餐"


def test_orm_delete_of_a_transaction_is_refused(posted):
    with pytest.raises(DatabaseError), transaction.atomic():
        Posting.objects.filter(txn=posted).delete()

    assert Posting.objects.filter(txn=posted).count() == 2


@pytest.mark.parametrize("table", ["ledger_posting", "ledger_transaction", "ledger_account"])
def test_truncate_is_refused_on_postgres(posted, require_postgres, table):
    with pytest.raises(DatabaseError):
        _raw(f"TRUNCATE {table} CASCADE")

    assert Posting.objects.count() > 0


# --- accounts ---------------------------------------------------------------------------------


def test_accounts_are_never_deleted(funded):
    with pytest.raises(DatabaseError):
        _raw("DELETE FROM ledger_account WHERE code = %s", (funded.equity,))

    assert Account.objects.filter(code=funded.equity).exists()


@pytest.mark.parametrize(
    ("column", "value"),
    [("code", "meals:wallet:other"), ("kind", "asset"), ("allow_negative", True), ("owner_ref", "p2"),
     ("currency", "USD")],
)
def test_identity_of_an_account_is_immutable(funded, column, value):
    with pytest.raises(DatabaseError):
        _raw(f"UPDATE ledger_account SET {column} = %s WHERE code = %s", (value, funded.wallet))  # noqa: S608

    assert Account.objects.get(code=funded.wallet).kind == "liability"


def test_name_and_balance_of_an_open_account_may_change(funded):
    # (the balance changes with postings; trial_balance catches a balance moved by hand)
    _raw("UPDATE ledger_account SET name = %s, balance_fen = balance_fen - 1 WHERE code = %s",
         ("新名称", funded.wallet))

    assert Account.objects.get(code=funded.wallet).name == "新名称"
    tb = trial_balance()
    assert not tb.ok
    assert [m.code for m in tb.mismatched_accounts] == [funded.wallet]
    assert tb.balances_total_fen == -1


def test_a_closed_account_is_frozen(db):
    from conftest import DISTRICT
    from minzheng.ledger.services import account_close, account_open

    account_open(actor=None, code="x:frozen", name="已关闭", kind="asset", division_code=DISTRICT, allow_negative=True)
    account_close(actor=None, account="x:frozen")

    for sql in ("UPDATE ledger_account SET closed_at = NULL WHERE code = 'x:frozen'",
                "UPDATE ledger_account SET balance_fen = 5 WHERE code = 'x:frozen'"):
        with pytest.raises(DatabaseError):
            _raw(sql)


# --- CHECK constraints ------------------------------------------------------------------------


def test_a_zero_posting_is_refused_by_the_database(posted, funded):
    wallet = Account.objects.get(code=funded.cash)

    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(txn=posted, account=wallet, amount_fen=0)


def test_the_database_refuses_an_overdraft_whatever_the_code(funded):
    # The wallet (a liability) holds ¥100: balance_fen −10000. Taking it to +1 is an overdraft.
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(code=funded.wallet).update(balance_fen=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(code=funded.bank).update(balance_fen=-1)
    # Accounts allowed to go negative may
    Account.objects.filter(code=funded.operator).update(balance_fen=models.F("balance_fen") + 5)


def test_no_float_or_decimal_columns_in_the_ledger():
    # M-1: money is integer fen; nothing in the ledger's tables can hold a float
    for model in apps.get_app_config("ledger").get_models():
        for field in model._meta.get_fields():
            assert not isinstance(field, models.FloatField | models.DecimalField), f"{model.__name__}.{field.name}"


def test_no_float_in_the_ledgers_source():
    from pathlib import Path

    import minzheng.ledger as pkg

    root = Path(pkg.__file__).parent
    for path in root.rglob("*.py"):
        if "tests" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert "float(" not in text, path
        assert "FloatField" not in text, path


# --- the deferred balance check (PostgreSQL) --------------------------------------------------


def test_unbalanced_rows_inserted_by_hand_fail_the_deferred_check(posted, funded, require_postgres):
    account = Account.objects.get(code=funded.cash)

    def add_a_line_and_check_now() -> None:
        with transaction.atomic(), connection.cursor() as cur:
            # A line added to an existing entry; the deferred check forced now rather than at COMMIT
            cur.execute("INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at)"
                        " VALUES (%s, %s, 5, now())", (posted.id, account.id))
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")

    with pytest.raises(IntegrityError, match="unbalanced"):
        add_a_line_and_check_now()

    assert Posting.objects.filter(txn=posted).count() == 2


def test_the_deferred_check_runs_again_after_more_postings(posted, funded, require_postgres):
    # A check that already passed for an entry must not be remembered once more lines arrive
    cash = Account.objects.get(code=funded.cash)

    def check_then_add_a_line() -> None:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the entry is checked (and passes) here
            cur.execute("INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at)"
                        " VALUES (%s, %s, 5, now())", (posted.id, cash.id))

    with pytest.raises(IntegrityError, match="unbalanced"):
        check_then_add_a_line()


# --- tampering, found by ledger_verify and trial_balance -------------------------------------


def test_ledger_verify_names_a_transaction_whose_memo_was_changed(posted, funded, tamper):
    other = txn_post(actor=None, key="meal:p2", kind="meal.checkout",
                     lines=[(funded.wallet, 100), (funded.operator, -100)])
    assert ledger_verify() == []

    # A superuser lifts the trigger and rewrites the memo
    tamper("ledger_transaction", "UPDATE ledger_transaction SET memo = %s WHERE id = %s", ("晚餐", posted.id))

    problems = ledger_verify()
    assert [(p.txn_id, p.kind) for p in problems] == [(posted.id, "altered")]
    assert other.id not in {p.txn_id for p in problems}


def test_ledger_verify_names_a_posting_whose_amount_was_changed(posted, funded, tamper):
    # Both lines changed together so the entry still sums to 0: only the MAC can tell
    tamper("ledger_posting", "UPDATE ledger_posting SET amount_fen = amount_fen * 10 WHERE txn_id = %s", (posted.id,))

    assert [(p.txn_id, p.kind) for p in ledger_verify()] == [(posted.id, "altered")]
    assert [m.code for m in trial_balance().mismatched_accounts] == sorted([funded.wallet, funded.operator])


def test_ledger_verify_names_a_posting_moved_to_another_transaction(posted, funded, tamper):
    other = txn_post(actor=None, key="meal:p3", kind="meal.checkout",
                     lines=[(funded.cash, 100), (funded.dibao_payable, -100)])
    tamper("ledger_posting", "UPDATE ledger_posting SET txn_id = %s WHERE txn_id = %s", (other.id, posted.id))

    found = {(p.txn_id, p.kind) for p in ledger_verify()}
    assert {(posted.id, "altered"), (other.id, "altered")} <= found
    assert {txn_id for txn_id, _ in found} == {posted.id, other.id}


def test_ledger_verify_names_a_transaction_deleted_with_its_postings(posted, funded, tamper):
    # A superuser removes a whole entry and puts the balances back: the books balance again...
    tamper("ledger_posting", "DELETE FROM ledger_posting WHERE txn_id = %s", (posted.id,))
    tamper("ledger_transaction", "DELETE FROM ledger_transaction WHERE id = %s", (posted.id,))
    Account.objects.filter(code=funded.wallet).update(balance_fen=models.F("balance_fen") - 300)
    Account.objects.filter(code=funded.operator).update(balance_fen=models.F("balance_fen") + 300)
    assert trial_balance().ok

    # ...but the audit log remembers the transaction and its MAC
    assert [(p.txn_id, p.kind) for p in ledger_verify()] == [(posted.id, "missing")]


def test_ledger_verify_names_a_transaction_inserted_behind_the_application(posted, funded, tamper):
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO ledger_transaction (idempotency_key, request_digest, kind, memo, occurred_at, posted_at,"
            " actor_username, metadata, mac) SELECT 'forged', request_digest, kind, memo, occurred_at, posted_at,"
            " actor_username, metadata, mac FROM ledger_transaction WHERE id = %s",
            (posted.id,),
        )
        forged = Transaction.objects.get(idempotency_key="forged")
        cur.execute(
            "INSERT INTO ledger_posting (txn_id, account_id, amount_fen, posted_at)"
            " SELECT %s, account_id, amount_fen, posted_at FROM ledger_posting WHERE txn_id = %s",
            (forged.id, posted.id),
        )

    kinds = {p.kind for p in ledger_verify() if p.txn_id == forged.id}
    assert kinds == {"altered", "unaudited"}


def test_trial_balance_reports_an_entry_that_does_not_sum_to_zero(posted, funded, tamper):
    tamper("ledger_posting", "UPDATE ledger_posting SET amount_fen = 299 WHERE txn_id = %s AND amount_fen = 300",
           (posted.id,))

    tb = trial_balance()
    assert tb.unbalanced_txns == (posted.id,)
    assert tb.postings_total_fen == -1
    assert not tb.ok


def test_reversal_keeps_the_books_verifiable(posted):
    txn_reverse(actor=None, txn=posted, key="meal:p1:rev", reason="撤销")

    assert ledger_verify() == []
    assert trial_balance().ok


def test_the_nightly_check_command(posted, funded, tamper):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "试算平衡" in out.getvalue()
    assert "账本完整" in out.getvalue()

    tamper("ledger_transaction", "UPDATE ledger_transaction SET memo = %s WHERE id = %s", ("晚餐", posted.id))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert f"#{posted.id}: altered" in err.getvalue()


def test_the_protective_triggers_are_installed(db):
    # A later migration that rebuilds a ledger table (SQLite does so for most ALTERs) drops its
    # triggers silently: this names the one that went missing.
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'ledger_%%'")
            expected = {
                "ledger_transaction_append_only", "ledger_transaction_no_truncate", "ledger_transaction_balanced",
                "ledger_posting_append_only", "ledger_posting_no_truncate", "ledger_posting_balanced",
                "ledger_posting_forget_checked", "ledger_account_no_delete", "ledger_account_no_truncate",
                "ledger_account_guard",
            }
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger_%'")
            expected = set(_protect.SQLITE_TRIGGERS)
        assert {row[0] for row in cur.fetchall()} == expected
