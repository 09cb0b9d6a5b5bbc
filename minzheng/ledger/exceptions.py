"""The ledger's refusals. Each is a core ``ApplicationError``; domains may catch the specific class."""

from __future__ import annotations

from typing import Any

from minzheng.core.exceptions import ApplicationError, Conflict


class IdempotencyMismatch(Conflict):
    """The idempotency key was already used for a different request (security A14, M-3)."""

    code = "idempotency_mismatch"

    def __init__(self, key: str, txn_id: int):
        super().__init__(
            "该幂等键已用于另一笔内容不同的记账请求",
            extra={"key": key, "transaction": txn_id},
        )


class InsufficientFunds(Conflict):
    """A no-overdraft account (wallet, fund) would go below zero on its normal side (M-4).

    409 rather than 400: the request is well-formed, the ledger's current state refuses it, and the
    same request may succeed later (after a grant or a top-up).
    """

    code = "insufficient_funds"

    def __init__(self, *, account: str, available_fen: int, required_fen: int):
        super().__init__(
            f"账户余额不足:{account}",
            extra={"account": account, "available_fen": available_fen, "required_fen": required_fen},
        )


class AccountClosed(Conflict):
    code = "account_closed"

    def __init__(self, account: str):
        super().__init__(f"账户已关闭:{account}", extra={"account": account})


class AlreadyReversed(Conflict):
    code = "already_reversed"

    def __init__(self, txn_id: int):
        super().__init__("该笔记账已被冲正,不能再次冲正", extra={"transaction": txn_id})


class ReversalOfReversal(Conflict):
    code = "reversal_of_reversal"

    def __init__(self, txn_id: int):
        super().__init__("冲正记录不能再被冲正,请重新记一笔", extra={"transaction": txn_id})


class LedgerBusy(ApplicationError):
    """Serialization failures or deadlocks persisted through every retry: try again later."""

    status_code = 503
    code = "ledger_busy"

    def __init__(self, message: str = "账务系统繁忙,请稍后重试", **kw: Any):
        super().__init__(message, **kw)
