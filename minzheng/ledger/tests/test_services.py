"""Posting, replaying and reversing journal entries; opening and closing accounts (security M-1..M-3,
A14). Every refusal is checked to leave nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.ledger import domain
from minzheng.ledger.exceptions import (
    AccountClosed,
    AlreadyReversed,
    IdempotencyMismatch,
    InsufficientFunds,
    ReversalOfReversal,
)
from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.selectors import ledger_verify, mac_tag, trial_balance
from minzheng.ledger.services import (
    account_close,
    account_open,
    account_update,
    txn_post,
    txn_reverse,
)


def _balances(*codes: str) -> list[int]:
    by_code = dict(Account.objects.filter(code__in=codes).values_list("code", "balance_fen"))
    return [by_code[c] for c in codes]


# --- posting: the happy path -----------------------------------------------------------------


def test_meal_checkout_splits_one_meal_over_four_accounts(funded):
    b = funded
    # Given 张三 has ¥100 on his wallet; a ¥15 meal: ¥3 from the wallet, ¥5 district subsidy, ¥7 cash
    lines = [(b.wallet, 300), (b.subsidy_expense, 500), (b.cash, 700), (b.operator, -1500)]

    # When the canteen checks out the meal
    txn = txn_post(actor=None, key="meal:yp1:T1:0001", kind="meal.checkout", lines=lines, memo="午餐")

    # Then one transaction with four postings, summing to 0
    assert txn.replayed is False
    assert sorted(Posting.objects.filter(txn=txn).values_list("amount_fen", flat=True)) == [-1500, 300, 500, 700]
    # And the balances moved by exactly those amounts (debit positive, credit negative)
    assert _balances(b.wallet, b.subsidy_expense, b.cash, b.operator) == [-9_700, 10_500, 700, -1500]
    assert Account.objects.get(code=b.wallet).normal_balance_fen == 9_700
    # And posted_at comes from the database; occurred_at defaults to it
    assert txn.posted_at is not None
    assert txn.occurred_at == txn.posted_at
    # And the books still balance and every MAC verifies
    assert trial_balance().ok
    assert ledger_verify() == []


def test_posting_writes_one_audit_row_quoting_the_mac(funded):
    txn = txn_post(actor=None, key="k1", kind="meal.checkout",
                   lines=[(funded.wallet, 100), (funded.operator, -100)])

    row = AuditEvent.objects.get(event_type="ledger.txn_post", object_id=str(txn.id))
    assert row.object_type == "ledger.transaction"
    assert row.extra["key"] == "k1"
    assert row.extra["mac"] == mac_tag(bytes(txn.mac))
    assert row.extra["debit_fen"] == 100


def test_a_callers_audit_note_is_the_postings_one_audit_row(funded, state):
    from minzheng.ledger.services import AuditNote

    before = AuditEvent.objects.count()
    txn = txn_post(actor=None, key="k-note", kind="meal.checkout",
                   lines=[(funded.wallet, 100), (funded.operator, -100)],
                   audit=AuditNote("meals.checkout", {"meal": 42, "point": "YH001"}))

    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.get(object_type="ledger.transaction", object_id=str(txn.id))
    assert row.event_type == "meals.checkout"
    assert (row.extra["meal"], row.extra["point"]) == (42, "YH001")
    assert (row.extra["key"], row.extra["lines"], row.extra["debit_fen"]) == ("k-note", 2, 100)
    assert row.extra["mac"] == mac_tag(bytes(txn.mac))
    assert ledger_verify() == []  # the audit of a transaction is found by its object, whatever its name

    # a note may not overwrite what the ledger records
    unchanged = state()
    with pytest.raises(ValidationFailed) as err:
        txn_post(actor=None, key="k-note-2", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)],
                 audit=AuditNote("meals.checkout", {"mac": "forged"}))
    assert err.value.code == "invalid_audit_note"
    assert state() == unchanged


def test_without_a_savepoint_a_refusal_dooms_the_callers_transaction(funded, state):
    from django.db import transaction

    from minzheng.ledger.services import AuditNote

    def checkout_spending_too_much() -> None:
        with transaction.atomic():
            txn_post(actor=None, key="k-nosp-ok", kind="meal.checkout", savepoint=False,
                     lines=[(funded.wallet, 100), (funded.operator, -100)], audit=AuditNote("meals.checkout", {"meal": 1}))
            txn_post(actor=None, key="k-nosp", kind="meal.checkout", savepoint=False,
                     lines=[(funded.wallet, 10_000), (funded.operator, -10_000)])

    before = state()
    with pytest.raises(InsufficientFunds):
        checkout_spending_too_much()
    assert state() == before  # both postings went with the caller's transaction


def test_lines_accept_account_objects_and_integral_numbers(funded):
    wallet = Account.objects.get(code=funded.wallet)

    txn = txn_post(actor=None, key="k-np", kind="meal.checkout",
                   lines=[(wallet, np.int64(250)), (funded.operator, Decimal("-250"))])

    assert sorted(Posting.objects.filter(txn=txn).values_list("amount_fen", flat=True)) == [-250, 250]


def test_lines_may_be_any_iterable(funded):
    accounts = {a.code: a for a in Account.objects.filter(code__in=[funded.wallet, funded.operator])}

    txn = txn_post(actor=None, key="k-gen", kind="meal.checkout",
                   lines=((accounts[c], f) for c, f in ((funded.wallet, 120), (funded.operator, -120))))

    assert Posting.objects.filter(txn=txn).count() == 2


def test_business_time_of_an_offline_terminal_is_kept(funded):
    when = datetime(2024, 3, 1, 3, 30, 15, 123456, tzinfo=UTC)

    txn = txn_post(actor=None, key="offline:1", kind="meal.checkout", occurred_at=when,
                   lines=[(funded.wallet, 100), (funded.operator, -100)])

    txn.refresh_from_db()
    assert txn.occurred_at == when
    assert txn.posted_at > when


def test_actor_is_recorded(funded, make_staff):
    staff = make_staff(roles=("district_admin",), division=DISTRICT)

    txn = txn_post(actor=staff, key="k-actor", kind="meal.checkout",
                   lines=[(funded.wallet, 100), (funded.operator, -100)])

    txn.refresh_from_db()
    assert (txn.actor_id, txn.actor_username) == (staff.pk, staff.username)


def test_query_count_is_fixed_whatever_the_number_of_lines(funded, django_assert_num_queries):
    b = funded
    two = [(b.bank, -100), (b.dibao_expense, 100)]
    five = [(b.wallet, 300), (b.subsidy_expense, 500), (b.cash, 700), (b.equity, 100), (b.operator, -1600)]
    # lock accounts (+clock), insert txn (ON CONFLICT on the key), insert postings and update
    # balances, audit (advance and lock the chain head; insert and head MAC), and the savepoint
    # pair of our own atomic() inside the test's transaction. PostgreSQL does each "and" in one
    # statement (a data-modifying WITH), SQLite in two.
    expected = 7 if connection.vendor == "postgresql" else 9

    with django_assert_num_queries(expected):
        txn_post(actor=None, key="q2", kind="payroll.disburse", lines=two)
    with django_assert_num_queries(expected):
        txn_post(actor=None, key="q5", kind="meal.checkout", lines=five)
    # A replay: the locks, the insert that finds the key taken, the lookup, inside the savepoint pair
    with django_assert_num_queries(5):
        replay = txn_post(actor=None, key="q5", kind="meal.checkout", lines=five)
    assert replay.replayed


# --- refusals: each leaves nothing behind ----------------------------------------------------


BAD_LINES = {
    "one line": ([("W", -100)], "too_few_lines"),
    "empty": ([], "too_few_lines"),
    "unbalanced": ([("W", 100), ("O", -99)], "unbalanced"),
    "float amount": ([("W", 100.0), ("O", -100.0)], "invalid_amount"),
    "bool amount": ([("W", True), ("O", -1)], "invalid_amount"),
    "fractional decimal": ([("W", Decimal("100.5")), ("O", Decimal("-100.5"))], "invalid_amount"),
    "string amount": ([("W", "100"), ("O", -100)], "invalid_amount"),
    "zero line": ([("W", 0), ("O", 100), ("C", -100)], "invalid_amount"),
    "same account twice": ([("W", 100), ("W", -100)], "duplicate_account"),
    "not a pair": ([("W", 100, 1), ("O", -100)], "invalid_lines"),
    "absurd amount": ([("W", 10**15), ("O", -(10**15))], "invalid_amount"),
    "unknown account": ([("W", 100), ("nope:account", -100)], "unknown_account"),
    "not a list": ("W,100", "invalid_lines"),
}


@pytest.mark.parametrize("case", BAD_LINES.keys())
def test_bad_lines_are_refused_and_nothing_changes(funded, state, case):
    raw, code = BAD_LINES[case]
    alias = {"W": funded.wallet, "O": funded.operator, "C": funded.cash}
    lines = raw if isinstance(raw, str) else [(alias.get(item[0], item[0]), *item[1:]) for item in raw]
    before = state()

    with pytest.raises(ValidationFailed) as err:
        txn_post(actor=None, key=f"bad:{case}", kind="meal.checkout", lines=lines)

    assert err.value.code == code
    assert err.value.status_code == 400
    assert state() == before


@pytest.mark.parametrize(
    ("field", "kwargs", "code"),
    [
        ("key", {"key": ""}, "invalid_key"),
        ("key", {"key": "x" * 256}, "invalid_key"),
        ("key", {"key": 42}, "invalid_key"),
        ("kind", {"kind": "Meal Checkout"}, "invalid_kind"),
        ("kind", {"kind": ""}, "invalid_kind"),
        ("memo", {"memo": "x" * 501}, "invalid_memo"),
        ("occurred_at", {"occurred_at": datetime(2024, 3, 1, 12, 0)}, "invalid_occurred_at"),  # noqa: DTZ001
        ("metadata", {"metadata": {"price": 15.5}}, "invalid_metadata"),
        ("metadata", {"metadata": ["not", "a", "dict"]}, "invalid_metadata"),
        ("metadata", {"metadata": {"x": object()}}, "invalid_metadata"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(funded, state, field, kwargs, code):
    before = state()
    args = {"key": "k-field", "kind": "meal.checkout", "lines": [(funded.wallet, 100), (funded.operator, -100)]}

    with pytest.raises(ValidationFailed) as err:
        txn_post(actor=None, **{**args, **kwargs})

    assert err.value.code == code
    assert field in err.value.fields
    assert state() == before


def test_overdraft_of_a_wallet_is_refused_and_nothing_changes(funded, state):
    before = state()

    # 张三 has ¥100; a meal wanting ¥100.01 from the wallet
    with pytest.raises(InsufficientFunds) as err:
        txn_post(actor=None, key="meal:over", kind="meal.checkout",
                 lines=[(funded.wallet, 10_001), (funded.operator, -10_001)])

    assert err.value.status_code == 409
    assert err.value.code == "insufficient_funds"
    assert err.value.extra == {"account": funded.wallet, "available_fen": 10_000, "required_fen": 10_001}
    assert state() == before


def test_the_last_fen_can_be_spent(funded):
    txn_post(actor=None, key="meal:all", kind="meal.checkout",
             lines=[(funded.wallet, 10_000), (funded.operator, -10_000)])

    assert Account.objects.get(code=funded.wallet).balance_fen == 0


def test_overdraft_of_an_asset_fund_is_refused(funded, state):
    before = state()

    with pytest.raises(InsufficientFunds):
        txn_post(actor=None, key="pay:too-much", kind="payroll.disburse",
                 lines=[(funded.dibao_payable, 1_000_001), (funded.bank, -1_000_001)])

    assert state() == before


def test_accounts_that_may_go_negative_do(funded):
    # An expense account refunded beyond what it has spent, a payable debited: both allowed
    txn_post(actor=None, key="k-neg", kind="adjust",
             lines=[(funded.dibao_payable, 500), (funded.dibao_expense, -500)])

    assert _balances(funded.dibao_payable, funded.dibao_expense) == [500, -500]


def test_closed_account_refuses_postings(funded, state):
    account_open(actor=None, code="meals:wallet:gone", name="已注销", kind="liability", division_code=COMMUNITY_A)
    account_close(actor=None, account="meals:wallet:gone")
    before = state()

    with pytest.raises(AccountClosed) as err:
        txn_post(actor=None, key="k-closed", kind="meal.grant",
                 lines=[(funded.subsidy_expense, 100), ("meals:wallet:gone", -100)])

    assert err.value.status_code == 409
    assert state() == before


# --- idempotency (A14, F5) -------------------------------------------------------------------


def test_replay_returns_the_original_and_posts_nothing(funded, state):
    lines = [(funded.wallet, 300), (funded.operator, -300)]
    first = txn_post(actor=None, key="meal:T1:42", kind="meal.checkout", lines=lines, memo="午餐",
                     metadata={"terminal": "T1", "seq": 42})
    after_first = state()

    again = txn_post(actor=None, key="meal:T1:42", kind="meal.checkout", lines=list(reversed(lines)),
                     memo="午餐", metadata={"seq": 42, "terminal": "T1"})

    assert again.replayed is True
    assert again.id == first.id
    assert bytes(again.mac) == bytes(first.mac)
    assert state() == after_first
    assert Transaction.objects.filter(idempotency_key="meal:T1:42").count() == 1


def test_replay_even_when_the_wallet_is_now_empty(funded):
    # The wallet pays its whole ¥100; the terminal did not hear the answer and retries
    lines = [(funded.wallet, 10_000), (funded.operator, -10_000)]
    first = txn_post(actor=None, key="meal:T1:43", kind="meal.checkout", lines=lines)

    again = txn_post(actor=None, key="meal:T1:43", kind="meal.checkout", lines=lines)

    assert (again.id, again.replayed) == (first.id, True)


def test_replay_even_when_an_account_of_it_has_since_been_closed(funded, state):
    account_open(actor=None, code="meals:wallet:later", name="后注销", kind="liability", division_code=COMMUNITY_A)
    lines = [(funded.subsidy_expense, 100), ("meals:wallet:later", -100)]
    first = txn_post(actor=None, key="grant:later", kind="meal.grant", lines=lines)
    txn_post(actor=None, key="spend:later", kind="meal.checkout",
             lines=[("meals:wallet:later", 100), (funded.operator, -100)])
    account_close(actor=None, account="meals:wallet:later")
    before = state()

    again = txn_post(actor=None, key="grant:later", kind="meal.grant", lines=lines)

    assert (again.id, again.replayed) == (first.id, True)
    assert state() == before


def test_a_refused_posting_leaves_its_key_free(funded, state):
    """The transaction row is claimed before the funds check; a refusal must take it back."""
    before = state()
    with pytest.raises(InsufficientFunds):
        txn_post(actor=None, key="meal:T1:99", kind="meal.checkout",
                 lines=[(funded.wallet, 10_001), (funded.operator, -10_001)])
    assert state() == before
    ok = txn_post(actor=None, key="meal:T1:99", kind="meal.checkout",
                  lines=[(funded.wallet, 100), (funded.operator, -100)])
    assert ok.replayed is False


@pytest.mark.parametrize(
    "change",
    [
        {"lines": "amount"},
        {"memo": "晚餐"},
        {"kind": "meal.refund"},
        {"metadata": {"seq": 43}},
        {"occurred_at": datetime(2024, 3, 1, tzinfo=UTC)},
        {"lines": "account"},
    ],
)
def test_same_key_with_different_content_is_409(funded, state, change):
    base = {"key": "meal:T1:44", "kind": "meal.checkout", "memo": "午餐", "metadata": {"seq": 42},
            "lines": [(funded.wallet, 300), (funded.operator, -300)]}
    first = txn_post(actor=None, **base)
    before = state()
    changed = {**base, **change}
    if change.get("lines") == "amount":
        changed["lines"] = [(funded.wallet, 301), (funded.operator, -301)]
    elif change.get("lines") == "account":
        changed["lines"] = [(funded.cash, 300), (funded.operator, -300)]

    with pytest.raises(IdempotencyMismatch) as err:
        txn_post(actor=None, **changed)

    assert err.value.status_code == 409
    assert err.value.code == "idempotency_mismatch"
    assert err.value.extra["transaction"] == first.id
    assert state() == before


def test_same_key_for_a_reversal_and_a_posting_is_409(funded):
    txn = txn_post(actor=None, key="k-a", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)])

    with pytest.raises(IdempotencyMismatch):
        txn_reverse(actor=None, txn=txn, key="k-a", reason="重复")


# --- reversal ---------------------------------------------------------------------------------


def test_reversal_negates_every_posting_and_restores_balances(funded):
    b = funded
    codes = (b.wallet, b.subsidy_expense, b.cash, b.operator)
    before = _balances(*codes)
    txn = txn_post(actor=None, key="meal:r1", kind="meal.checkout",
                   lines=[(b.wallet, 300), (b.subsidy_expense, 500), (b.cash, 700), (b.operator, -1500)])

    rev = txn_reverse(actor=None, txn=txn, key="meal:r1:reverse", reason="误操作,整单撤销")

    assert rev.reverses_id == txn.id
    assert rev.kind == "ledger.reversal"
    assert rev.memo == "误操作,整单撤销"
    original = dict(Posting.objects.filter(txn=txn).values_list("account_id", "amount_fen"))
    mirrored = dict(Posting.objects.filter(txn=rev).values_list("account_id", "amount_fen"))
    assert mirrored == {a: -v for a, v in original.items()}
    assert _balances(*codes) == before
    assert Transaction.objects.get(pk=txn.pk).reversed_by == rev
    assert AuditEvent.objects.filter(event_type="ledger.txn_reverse", object_id=str(rev.id)).count() == 1
    assert trial_balance().ok
    assert ledger_verify() == []


def test_reversal_replay_returns_the_original_reversal(funded, state):
    txn = txn_post(actor=None, key="k-r2", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)])
    rev = txn_reverse(actor=None, txn=txn.id, key="k-r2:rev", reason="撤销")
    before = state()

    again = txn_reverse(actor=None, txn=txn, key="k-r2:rev", reason="撤销")

    assert (again.id, again.replayed) == (rev.id, True)
    assert state() == before


def test_a_transaction_is_reversed_once(funded, state):
    txn = txn_post(actor=None, key="k-r3", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)])
    txn_reverse(actor=None, txn=txn, key="k-r3:rev", reason="撤销")
    before = state()

    with pytest.raises(AlreadyReversed) as err:
        txn_reverse(actor=None, txn=txn, key="k-r3:rev2", reason="再撤销一次")

    assert err.value.status_code == 409
    assert state() == before


def test_a_reversal_is_not_reversed(funded, state):
    txn = txn_post(actor=None, key="k-r4", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)])
    rev = txn_reverse(actor=None, txn=txn, key="k-r4:rev", reason="撤销")
    before = state()

    with pytest.raises(ReversalOfReversal):
        txn_reverse(actor=None, txn=rev, key="k-r4:rev:rev", reason="撤销撤销")

    assert state() == before


def test_a_spent_grant_cannot_be_clawed_back_below_zero(funded, state):
    b = funded
    grant = txn_post(actor=None, key="grant:2", kind="meal.grant", lines=[(b.subsidy_expense, 5000), (b.wallet, -5000)])
    txn_post(actor=None, key="meal:spend", kind="meal.checkout", lines=[(b.wallet, 12_000), (b.operator, -12_000)])
    before = state()

    # The wallet holds ¥30 now; reversing the ¥50 grant would take it to −¥20
    with pytest.raises(InsufficientFunds):
        txn_reverse(actor=None, txn=grant, key="grant:2:clawback", reason="资格取消")

    assert state() == before


def test_reversal_needs_a_reason_and_an_existing_transaction(funded, state):
    txn = txn_post(actor=None, key="k-r5", kind="meal.checkout", lines=[(funded.wallet, 100), (funded.operator, -100)])
    before = state()

    with pytest.raises(ValidationFailed) as err:
        txn_reverse(actor=None, txn=txn, key="k-r5:rev", reason="  ")
    assert "reason" in err.value.fields
    with pytest.raises(NotFound):
        txn_reverse(actor=None, txn=987654, key="k-r5:rev", reason="撤销")
    assert state() == before


# --- accounts ---------------------------------------------------------------------------------


def test_account_open_is_idempotent_by_code(db):
    first = account_open(actor=None, code="meals:wallet:p9", name="电子津贴", kind="liability",
                         division_code=COMMUNITY_A, owner_type="person", owner_ref="p9")
    audit_rows = AuditEvent.objects.filter(event_type="ledger.account_open").count()

    again = account_open(actor=None, code="meals:wallet:p9", name="电子津贴", kind="liability",
                         division_code=COMMUNITY_A, owner_type="person", owner_ref="p9")

    assert again.pk == first.pk
    assert first.currency == "CNY"
    assert first.allow_negative is False
    assert first.area_path.endswith(f"{COMMUNITY_A}/")
    assert first.opened_at is not None
    assert AuditEvent.objects.filter(event_type="ledger.account_open").count() == audit_rows == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"kind": "asset"}, "kind"), ({"allow_negative": True}, "allow_negative"), ({"owner_ref": "p10"}, "owner_ref")],
)
def test_account_open_with_a_different_identity_is_409(db, change, field):
    spec = {"code": "meals:wallet:p9", "name": "电子津贴", "kind": "liability", "division_code": COMMUNITY_A,
            "owner_type": "person", "owner_ref": "p9"}
    account_open(actor=None, **spec)

    with pytest.raises(Conflict) as err:
        account_open(actor=None, **{**spec, **change})

    assert err.value.code == "account_mismatch"
    assert err.value.extra["fields"] == [field]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "has space"}, "code"),
        ({"code": ""}, "code"),
        ({"kind": "cash"}, "kind"),
        ({"division_code": "999999999999"}, "division_code"),
        ({"name": ""}, "name"),
        ({"allow_negative": "no"}, "allow_negative"),
    ],
)
def test_account_open_refuses_bad_input(db, kwargs, field):
    spec = {"code": "x:y", "name": "测试", "kind": "asset", "division_code": DISTRICT}

    with pytest.raises(ValidationFailed) as err:
        account_open(actor=None, **{**spec, **kwargs})

    assert field in err.value.fields
    assert not Account.objects.exists()


def test_account_update_moves_and_renames(funded):
    acct = account_update(actor=None, account=funded.wallet, name="电子津贴(张三,迁居)", division_code=COMMUNITY_B)

    assert acct.division_code == COMMUNITY_B
    assert acct.area_path.endswith(f"{COMMUNITY_B}/")
    assert AuditEvent.objects.filter(event_type="ledger.account_update").count() == 1


def test_account_with_money_cannot_be_closed(funded, state):
    before = state()

    with pytest.raises(Conflict) as err:
        account_close(actor=None, account=funded.wallet)

    assert err.value.code == "balance_not_zero"
    assert state() == before


def test_account_close_is_idempotent(db):
    account_open(actor=None, code="x:closing", name="待关闭", kind="asset", division_code=DISTRICT)

    first = account_close(actor=None, account="x:closing")
    again = account_close(actor=None, account="x:closing")

    assert first.closed_at is not None
    assert again.closed_at == first.closed_at
    assert AuditEvent.objects.filter(event_type="ledger.account_close").count() == 1


def test_amount_helpers():
    assert domain.format_fen(123456) == "¥1,234.56"
    assert domain.format_fen(-5) == "-¥0.05"
    assert domain.normal_balance("liability", -3000) == 3000
    assert domain.normal_balance("asset", 3000) == 3000
