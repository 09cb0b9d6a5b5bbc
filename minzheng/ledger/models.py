"""The double-entry ledger: accounts, transactions (journal entries) and their postings.

Money is ``int`` fen in ``BigIntegerField``s; there is no float or decimal column here. Postings are
signed: **debit positive, credit negative** (see ``ledger.domain``). Transactions and postings are
append-only (database triggers refuse UPDATE, DELETE and TRUNCATE); a mistake is corrected by a
reversal transaction. Only ``Account`` rows change: ``balance_fen`` as postings land, ``name``,
the division scope, and ``closed_at`` once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from minzheng.ledger.domain import normal_balance
from minzheng.ledger.enums import CREDIT_NORMAL, CURRENCY, DEBIT_NORMAL, AccountKind

PATTERN_OPS = ["varchar_pattern_ops"]  # prefix LIKE on PostgreSQL; ignored by SQLite


def _values(kinds: frozenset[AccountKind] | frozenset[str]) -> list[str]:
    return sorted(str(k) for k in kinds)


class Account(models.Model):
    """One ledger account, e.g. ``assistance:dibao:payable`` or one person's meal wallet.

    ``owner_type``/``owner_ref`` let a domain own accounts (``"person"``, a person's uid) without a
    foreign key sideways or up. ``division_code``/``area_path`` place the account in the division
    tree, so selectors can cut lists to an actor's area.
    """

    id = models.BigAutoField(primary_key=True)
    code = models.CharField("账户代码", max_length=128, unique=True)
    name = models.CharField("账户名称", max_length=128)
    kind = models.CharField("类别", max_length=16, choices=AccountKind.as_choices())
    owner_type = models.CharField("所有者类型", max_length=32, blank=True, default="")
    owner_ref = models.CharField("所有者", max_length=64, blank=True, default="")
    division_code = models.CharField("所属区划", max_length=12)
    area_path = models.CharField("区划路径", max_length=255)
    currency = models.CharField("币种", max_length=3, default=CURRENCY, editable=False)
    allow_negative = models.BooleanField("允许透支", default=False)
    balance_fen = models.BigIntegerField("余额(分,借正贷负)", default=0)
    opened_at = models.DateTimeField("开户时间", db_default=Now())
    closed_at = models.DateTimeField("销户时间", null=True, blank=True)

    class Meta:
        verbose_name = "账户"
        verbose_name_plural = "账户"
        indexes = [
            models.Index(fields=["owner_type", "owner_ref"], name="ledger_acct_owner_idx"),
            models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="ledger_acct_area_idx"),
        ]  # prefix searches on ``code`` use the pattern index PostgreSQL gets with its UNIQUE
        constraints = [
            models.CheckConstraint(condition=Q(currency=CURRENCY), name="ledger_account_cny_only"),
            models.CheckConstraint(condition=Q(kind__in=_values(AccountKind.value_set())), name="ledger_account_kind_valid"),
            # The last line of defence against an overdraft: the normal-side balance of a
            # no-overdraft account is never below 0, whatever code or SQL tries.
            models.CheckConstraint(
                condition=Q(allow_negative=True)
                | Q(kind__in=_values(DEBIT_NORMAL), balance_fen__gte=0)
                | Q(kind__in=_values(CREDIT_NORMAL), balance_fen__lte=0),
                name="ledger_account_no_overdraft",
            ),
            models.CheckConstraint(condition=Q(closed_at__isnull=True) | Q(balance_fen=0), name="ledger_account_closed_is_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.code})"

    @property
    def normal_balance_fen(self) -> int:
        """The balance on the account's normal side (what a wallet can spend, a fund can pay)."""
        return normal_balance(self.kind, self.balance_fen)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Transaction(models.Model):
    """A journal entry: ≥ 2 postings summing to 0, under a UNIQUE idempotency key.

    ``request_digest`` (SM3 of the canonical request) tells a replay from a different request that
    reuses the key. ``mac`` (HMAC-SM3) covers every column and every posting, so an edit made
    behind the application's back shows up in ``ledger_verify``. Nothing here is ever updated.
    """

    id = models.BigAutoField(primary_key=True)
    idempotency_key = models.CharField("幂等键", max_length=255, unique=True)
    request_digest = models.BinaryField("请求摘要", max_length=32)
    kind = models.CharField("业务类型", max_length=64, db_index=True)
    memo = models.CharField("摘要", max_length=500, blank=True, default="")
    occurred_at = models.DateTimeField("业务发生时间")
    posted_at = models.DateTimeField("记账时间", db_default=Now(), db_index=True)
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True, default="")
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by", verbose_name="冲正的记账"
    )
    metadata = models.JSONField("附加信息", default=dict)
    mac = models.BinaryField(max_length=32)

    # Set by txn_post/txn_reverse on the returned instance: True when the key was already posted
    # and the original transaction is returned unchanged (a replay). Not a column.
    replayed: bool = False

    class Meta:
        verbose_name = "记账凭证"
        verbose_name_plural = "记账凭证"
        constraints = [
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="ledger_txn_key_not_blank"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Posting(models.Model):
    """One line of a transaction. ``amount_fen`` is signed: debit > 0, credit < 0, never 0.

    ``posted_at`` repeats the transaction's, so a statement is one index range scan per account.
    """

    id = models.BigAutoField(primary_key=True)
    txn = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="postings", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount_fen = models.BigIntegerField("金额(分,借正贷负)")
    posted_at = models.DateTimeField("记账时间", db_default=Now())

    class Meta:
        verbose_name = "分录"
        verbose_name_plural = "分录"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="ledger_posting_amount_nonzero"),
            models.UniqueConstraint(fields=["txn", "account"], name="ledger_posting_one_line_per_account"),
        ]
        indexes = [models.Index(fields=["account", "posted_at", "id"], name="ledger_posting_stmt_idx")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount_fen}"
