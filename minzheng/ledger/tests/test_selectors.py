"""Reads: accounts by owner and prefix, cut to the actor's area; balances; statements by period."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, LIANGZHU, WUCHANG
from minzheng.core.exceptions import NotFound, ValidationFailed
from minzheng.ledger.selectors import (
    account_get,
    account_list,
    available,
    balance,
    postings_for,
    statement,
    trial_balance,
    txn_by_key,
)
from minzheng.ledger.services import account_close, account_open, txn_post

from .conftest import Scoped


def _path(*codes: str) -> str:
    return "".join(f"{c}/" for c in codes)


DISTRICT_STAFF = Scoped(_path(DISTRICT))
WUCHANG_STAFF = Scoped(_path(DISTRICT, WUCHANG))
COMMUNITY_A_WORKER = Scoped(_path(DISTRICT, WUCHANG, COMMUNITY_A))
LIANGZHU_STAFF = Scoped(_path(DISTRICT, LIANGZHU))


def test_accounts_by_owner(books):
    wallets = account_list(actor=None, owner_type="person")

    assert [a.code for a in wallets] == [books.wallet, books.wallet_b]
    assert [a.code for a in account_list(actor=None, owner_type="person", owner_ref="p2")] == [books.wallet_b]


def test_accounts_by_code_prefix(books):
    assert [a.code for a in account_list(actor=None, code_prefix="assistance:dibao:")] == [
        books.dibao_expense, books.dibao_payable,
    ]
    assert [a.code for a in account_list(actor=None, code_prefix="meals:", kind="asset")] == [books.cash]


def test_closed_accounts_are_listed_only_on_request(books):
    account_open(actor=None, code="meals:wallet:p3", name="电子津贴", kind="liability", division_code=COMMUNITY_A,
                 owner_type="person", owner_ref="p3")
    account_close(actor=None, account="meals:wallet:p3")

    assert "meals:wallet:p3" not in {a.code for a in account_list(actor=None, owner_type="person")}
    assert "meals:wallet:p3" in {a.code for a in account_list(actor=None, owner_type="person", include_closed=True)}


def test_lists_are_cut_to_the_actors_area(books):
    def codes(actor):
        return {a.code for a in account_list(actor=actor, owner_type="person")}

    assert codes(DISTRICT_STAFF) == {books.wallet, books.wallet_b}
    assert codes(WUCHANG_STAFF) == {books.wallet, books.wallet_b}
    assert codes(COMMUNITY_A_WORKER) == {books.wallet}
    assert codes(LIANGZHU_STAFF) == set()
    # District-level accounts are not a community's business
    assert books.bank not in {a.code for a in account_list(actor=COMMUNITY_A_WORKER)}


def test_an_account_outside_the_area_does_not_exist(funded):
    assert account_get(actor=COMMUNITY_A_WORKER, code=funded.wallet).code == funded.wallet

    for code in (funded.wallet_b, funded.bank, "no:such:account"):
        with pytest.raises(NotFound):
            account_get(actor=COMMUNITY_A_WORKER, code=code)
    with pytest.raises(NotFound):
        balance(actor=COMMUNITY_A_WORKER, account=funded.wallet_b)


def test_balance_and_available(funded):
    # The wallet (a liability) holds ¥100: balance −10000 (credit), available +10000
    assert balance(actor=None, account=funded.wallet) == -10_000
    assert available(actor=None, account=funded.wallet) == 10_000
    assert balance(actor=None, account=funded.bank) == available(actor=None, account=funded.bank) == 1_000_000


def test_txn_by_key(funded):
    assert txn_by_key(key="setup:grant").kind == "meal.grant"
    assert txn_by_key(key="never") is None


def _meals(books, n: int, start: int = 0) -> list:
    out = []
    for i in range(start, start + n):
        # SQLite's clock has millisecond resolution and a posting takes less than that: the tests
        # that cut a statement between two postings need them in different milliseconds.
        time.sleep(0.002)
        out.append(txn_post(actor=None, key=f"meal:{i}", kind="meal.checkout", memo=f"第{i}餐",
                            occurred_at=datetime(2024, 3, 1 + i, 4, 0, tzinfo=UTC),
                            lines=[(books.wallet, 100 * (i + 1)), (books.operator, -100 * (i + 1))]))
    return out


def test_statement_has_opening_lines_and_closing(funded):
    meals = _meals(funded, 3)
    # Business time is what the terminal said; posting time is the database's. Split on posting time.
    cut = meals[1].posted_at
    end = meals[2].posted_at + timedelta(seconds=1)

    st = statement(actor=None, account=funded.wallet, start=cut, end=end)

    # Opening: the ¥100 grant (credit −10000) and meal 0 (debit +100)
    assert st.opening_fen == -10_000 + 100
    assert [line.amount_fen for line in st.lines] == [200, 300]
    assert [line.balance_fen for line in st.lines] == [-9_900 + 200, -9_900 + 500]
    assert (st.debit_fen, st.credit_fen) == (500, 0)
    assert st.closing_fen == -9_400 == balance(actor=None, account=funded.wallet)
    assert st.normal_sign == -1  # a wallet is shown on its credit side: ¥94.00 left
    assert st.lines[0].memo == "第1餐"


def test_statement_by_business_time(funded):
    _meals(funded, 3)

    # 2 March (local) contains only meal 1, whichever day it was posted
    st = statement(actor=None, account=funded.wallet, start=date(2024, 3, 2), end=date(2024, 3, 2), basis="occurred")

    assert [line.memo for line in st.lines] == ["第1餐"]
    # (the grant happened today, after March 2024 in business time, so it is not in the opening)
    assert st.opening_fen == 100
    assert st.closing_fen == 300


def test_statement_of_a_whole_day_by_posting_time(funded):
    _meals(funded, 2)
    today = timezone.localdate()

    st = statement(actor=None, account=funded.wallet, start=today, end=today, with_lines=False)

    assert st.opening_fen == 0
    assert st.lines == ()
    assert (st.debit_fen, st.credit_fen, st.closing_fen) == (300, -10_000, -9_700)


def test_postings_for_a_period(funded):
    _meals(funded, 3)

    march_2_to_3 = postings_for(actor=None, account=funded.wallet, start=date(2024, 3, 2), end=date(2024, 3, 3),
                                basis="occurred")
    assert [p.amount_fen for p in march_2_to_3] == [200, 300]
    assert len(postings_for(actor=None, account=funded.wallet)) == 4
    with pytest.raises(ValidationFailed):
        postings_for(actor=None, account=funded.wallet, start=datetime(2024, 3, 2))  # noqa: DTZ001


def test_statement_is_cut_to_the_area_too(funded):
    with pytest.raises(NotFound):
        statement(actor=COMMUNITY_A_WORKER, account=funded.wallet_b, start=None, end=None)


def test_trial_balance_of_fresh_books_is_zero(funded):
    tb = trial_balance()

    assert tb.ok
    assert tb.balances_total_fen == tb.postings_total_fen == 0
    assert tb.debit_total_fen == -tb.credit_total_fen == 1_000_000 + 10_000


def test_account_in_another_community(books):
    assert account_get(actor=None, code=books.wallet_b).division_code == COMMUNITY_B
