"""Property test (DESIGN §8, security M-2..M-4): whatever sequence of openings, grants, spends,
replays and reversals, the books balance, no wallet or fund is overdrawn, every balance is the
sum of its postings, and a reversal restores what it reverses."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from conftest import DISTRICT
from minzheng.ledger.domain import normal_sign
from minzheng.ledger.exceptions import (
    AlreadyReversed,
    IdempotencyMismatch,
    InsufficientFunds,
    ReversalOfReversal,
)
from minzheng.ledger.models import Account, Posting, Transaction
from minzheng.ledger.services import account_open, txn_post, txn_reverse

from .conftest import snapshot

SOURCE = "m:grants"  # expense: where grants come from (may go negative)
SINK = "m:operators"  # liability: where spending goes (may go negative)


class LedgerMachine(RuleBasedStateMachine):
    wallets = Bundle("wallets")
    txns = Bundle("txns")
    reversals = Bundle("reversals")

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.savepoint()
        self.n = 0
        self.kind: dict[str, str] = {}
        self.model: dict[str, int] = {}  # expected balance_fen per account
        self.lines: dict[str, list[tuple[str, int]]] = {}  # posted key → its lines
        self.ids: dict[str, int] = {}
        self.reversed: set[str] = set()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self._savepoint)

    def _next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}:{self.n}"

    def _apply(self, lines: list[tuple[str, int]]) -> None:
        for code, amount in lines:
            self.model[code] += amount

    def _affordable(self, lines: list[tuple[str, int]]) -> bool:
        return all(
            code in (SOURCE, SINK) or normal_sign(self.kind[code]) * (self.model[code] + amount) >= 0
            for code, amount in lines
        )

    @initialize()
    def open_pools(self) -> None:
        for code, kind in ((SOURCE, "expense"), (SINK, "liability")):
            account_open(actor=None, code=code, name=code, kind=kind, division_code=DISTRICT, allow_negative=True)
            self.kind[code], self.model[code] = kind, 0

    @rule(target=wallets, kind=st.sampled_from(["liability", "asset"]))
    def open_wallet(self, kind: str) -> str:
        # A liability is a person's 电子津贴 wallet; an asset is a fund held at the bank
        code = self._next("m:wallet")
        account_open(actor=None, code=code, name="钱包", kind=kind, division_code=DISTRICT, owner_type="person",
                     owner_ref=code)
        self.kind[code], self.model[code] = kind, 0
        return code

    @rule(target=txns, wallet=wallets, amount=st.integers(1, 10_000))
    def grant(self, wallet: str, amount: int) -> str:
        sign = normal_sign(self.kind[wallet])
        lines = [(wallet, sign * amount), (SOURCE, -sign * amount)]
        key = self._next("grant")
        txn = txn_post(actor=None, key=key, kind="meal.grant", lines=lines)
        self._apply(lines)
        self.lines[key], self.ids[key] = lines, txn.id
        return key

    @rule(target=txns, wallet=wallets, amount=st.integers(1, 20_000))
    def spend(self, wallet: str, amount: int) -> Any:
        sign = normal_sign(self.kind[wallet])
        lines = [(wallet, -sign * amount), (SINK, sign * amount)]
        key = self._next("spend")
        if not self._affordable(lines):
            before = snapshot()
            with pytest.raises(InsufficientFunds):
                txn_post(actor=None, key=key, kind="meal.checkout", lines=lines)
            assert snapshot() == before
            return multiple()
        txn = txn_post(actor=None, key=key, kind="meal.checkout", lines=lines)
        self._apply(lines)
        self.lines[key], self.ids[key] = lines, txn.id
        return key

    @rule(key=txns)
    def replay(self, key: str) -> None:
        before = snapshot()
        kind = "meal.grant" if key.startswith("grant") else "meal.checkout"
        txn = txn_post(actor=None, key=key, kind=kind, lines=list(reversed(self.lines[key])))
        assert (txn.id, txn.replayed) == (self.ids[key], True)
        assert snapshot() == before

    @rule(key=txns, extra=st.integers(1, 5))
    def replay_with_another_amount(self, key: str, extra: int) -> None:
        before = snapshot()
        (a, x), (b, y) = self.lines[key]
        changed = [(a, x + extra if x > 0 else x - extra), (b, y - extra if y < 0 else y + extra)]
        kind = "meal.grant" if key.startswith("grant") else "meal.checkout"
        with pytest.raises(IdempotencyMismatch):
            txn_post(actor=None, key=key, kind=kind, lines=changed)
        assert snapshot() == before

    @rule(target=reversals, key=consumes(txns))
    def reverse(self, key: str) -> Any:
        mirrored = [(code, -amount) for code, amount in self.lines[key]]
        rkey = f"{key}:reversal"
        if not self._affordable(mirrored):
            # e.g. a grant already spent: a wallet cannot be clawed back below zero
            before = snapshot()
            with pytest.raises(InsufficientFunds):
                txn_reverse(actor=None, txn=self.ids[key], key=rkey, reason="冲正")
            assert snapshot() == before
            return multiple()
        touched = [code for code, _ in mirrored]
        balances_before = dict(Account.objects.filter(code__in=touched).values_list("code", "balance_fen"))
        rev = txn_reverse(actor=None, txn=self.ids[key], key=rkey, reason="冲正")
        self._apply(mirrored)
        self.reversed.add(key)
        # The reversal undoes exactly the original: per account, original + reversal == 0 ...
        for code, amount in self.lines[key]:
            posted = Posting.objects.filter(account__code=code, txn_id__in=[self.ids[key], rev.id])
            assert posted.aggregate(s=Sum("amount_fen"))["s"] == 0
            # ... and moves each balance back by what the original moved it
            assert Account.objects.get(code=code).balance_fen == balances_before[code] - amount
        return (key, rev.id)

    @rule(pair=reversals)
    def reverse_again(self, pair: tuple[str, int]) -> None:
        key, _ = pair
        before = snapshot()
        with pytest.raises(AlreadyReversed):
            txn_reverse(actor=None, txn=self.ids[key], key=self._next("again"), reason="再次冲正")
        assert snapshot() == before

    @rule(pair=reversals)
    def replay_a_reversal(self, pair: tuple[str, int]) -> None:
        key, rev_id = pair
        before = snapshot()
        again = txn_reverse(actor=None, txn=self.ids[key], key=f"{key}:reversal", reason="冲正")
        assert (again.id, again.replayed) == (rev_id, True)
        assert snapshot() == before

    @rule(pair=reversals)
    def reverse_a_reversal(self, pair: tuple[str, int]) -> None:
        _, rev_id = pair
        before = snapshot()
        with pytest.raises(ReversalOfReversal):
            txn_reverse(actor=None, txn=rev_id, key=self._next("rr"), reason="冲正的冲正")
        assert snapshot() == before

    @invariant()
    def postings_sum_to_zero(self) -> None:
        assert (Posting.objects.aggregate(s=Sum("amount_fen"))["s"] or 0) == 0
        assert (Account.objects.aggregate(s=Sum("balance_fen"))["s"] or 0) == 0

    @invariant()
    def each_balance_is_the_sum_of_its_postings_and_matches_the_model(self) -> None:
        posted = dict(Posting.objects.values("account__code").annotate(s=Sum("amount_fen")).values_list("account__code", "s"))
        stored = dict(Account.objects.values_list("code", "balance_fen"))
        assert stored == self.model
        assert {c: posted.get(c, 0) for c in stored} == stored

    @invariant()
    def no_wallet_or_fund_is_overdrawn(self) -> None:
        for account in Account.objects.filter(allow_negative=False):
            assert account.normal_balance_fen >= 0, account.code

    @invariant()
    def every_entry_balances(self) -> None:
        unbalanced = Posting.objects.values("txn_id").annotate(s=Sum("amount_fen")).exclude(s=0)
        assert not unbalanced.exists()
        assert Transaction.objects.count() == len(self.ids) + len(self.reversed)


def test_ledger_state_machine(db):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "30")),
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
