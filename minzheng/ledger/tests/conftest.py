"""Fixtures of the ledger tests: a small set of books, a snapshot of everything the ledger holds,
and raw access behind the application's back."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT

_protect = importlib.import_module("minzheng.ledger.migrations.0002_protect")


@dataclass(frozen=True)
class Books:
    """Accounts of a miniature district: a bank fund, expenses, a pool, a wallet, an operator."""

    bank: str = "treasury:bank:assistance"  # asset, may not overdraw
    dibao_expense: str = "assistance:dibao:expense"  # expense
    dibao_payable: str = "assistance:dibao:payable"  # liability
    subsidy_expense: str = "meals:subsidy:district"  # expense
    wallet: str = "meals:wallet:p1"  # liability (电子津贴), may not overdraw
    wallet_b: str = "meals:wallet:p2"  # liability, in another community
    operator: str = "meals:operator:yp1:payable"  # liability
    cash: str = "meals:operator:yp1:cash"  # asset (self-pay taken at the counter)
    equity: str = "treasury:fund:opening"  # equity (opening balance of the fund)


class Scoped:
    """A stand-in actor: only ``scope_path`` matters to the ledger's selectors."""

    pk = 7
    username = "tester"
    role_codes = ("district_admin",)
    division_id = DISTRICT

    def __init__(self, scope_path: str):
        self.scope_path = scope_path

    def has_permission(self, perm: str) -> bool:
        return True


@pytest.fixture
def books(db: Any) -> Books:
    from minzheng.ledger.services import account_open

    b = Books()
    spec = [
        (b.bank, "救助资金专户", "asset", False, DISTRICT, "", ""),
        (b.dibao_expense, "低保金支出", "expense", True, DISTRICT, "", ""),
        (b.dibao_payable, "应付低保金", "liability", True, DISTRICT, "", ""),
        (b.subsidy_expense, "区级助餐补贴支出", "expense", True, DISTRICT, "", ""),
        (b.wallet, "电子津贴(张三)", "liability", False, COMMUNITY_A, "person", "p1"),
        (b.wallet_b, "电子津贴(李四)", "liability", False, COMMUNITY_B, "person", "p2"),
        (b.operator, "助餐点应付款", "liability", True, COMMUNITY_A, "meal_point", "yp1"),
        (b.cash, "助餐点自付现金", "asset", True, COMMUNITY_A, "meal_point", "yp1"),
        (b.equity, "期初资金", "equity", True, DISTRICT, "", ""),
    ]
    for code, name, kind, allow_negative, division, owner_type, owner_ref in spec:
        account_open(actor=None, code=code, name=name, kind=kind, division_code=division,
                     owner_type=owner_type, owner_ref=owner_ref, allow_negative=allow_negative)
    return b


@pytest.fixture
def funded(books: Books) -> Books:
    """The bank fund holds ¥10,000 and 张三's wallet ¥100."""
    from minzheng.ledger.services import txn_post

    txn_post(actor=None, key="setup:fund", kind="treasury.opening",
             lines=[(books.bank, 1_000_000), (books.equity, -1_000_000)])
    txn_post(actor=None, key="setup:grant", kind="meal.grant",
             lines=[(books.subsidy_expense, 10_000), (books.wallet, -10_000)])
    return books


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave untouched."""
    from minzheng.core.models import AuditEvent
    from minzheng.ledger.models import Account, Posting, Transaction

    return {
        "txns": list(Transaction.objects.order_by("id").values_list("id", "idempotency_key")),
        "postings": Posting.objects.count(),
        "balances": dict(Account.objects.values_list("code", "balance_fen")),
        "closed": dict(Account.objects.values_list("code", "closed_at")),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def state() -> Callable[[], dict[str, Any]]:
    return snapshot


def _lift(table: str) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while deferred checks are pending: run them now (they pass)
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {_protect.PG_APPEND_ONLY[table]}")
        else:
            cur.execute(f"DROP TRIGGER {table}_no_update")
            cur.execute(f"DROP TRIGGER {table}_no_delete")


def _restore(table: str) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {_protect.PG_APPEND_ONLY[table]}")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for sql in _protect.SQLITE_APPEND_ONLY[table]:
                cur.execute(sql)


def _as_superuser(table: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run ``sql`` with ``table``'s append-only triggers lifted, then restore them: what a
    database superuser could do. The ledger's checks must still notice."""
    _lift(table)
    try:
        with connection.cursor() as cur:
            cur.execute(sql, params)
    finally:
        _restore(table)


@pytest.fixture
def tamper(db: Any) -> Callable[..., None]:
    return _as_superuser
