"""Pure rules of the ledger (no Django): amounts in fen, the sign convention, request checks, and
what a request digest and a transaction MAC cover.

Sign convention
---------------
Every amount is an ``int`` number of fen (分). A posting's ``amount_fen`` is signed:
**debit is positive, credit is negative**. A transaction's postings sum to exactly 0. An account's
``balance_fen`` is the plain sum of its postings, so it is positive for accounts whose balance
normally sits on the debit side (assets, expenses) and negative for credit-side accounts
(liabilities, income, net assets). Summed over every account it is 0: that is the trial balance.

Because a liability such as a person's 电子津贴 wallet holds a *credit* balance, "may not go
negative" (``allow_negative=False``) is judged on the account's **normal side**:
``normal_balance = balance_fen × normal_sign(kind)`` (+1 for asset/expense, −1 for
liability/income/equity) must stay ≥ 0. A wallet holding ¥30 has ``balance_fen = -3000`` and
``normal_balance = 3000``; a bank fund account holding ¥30 has ``balance_fen = 3000``.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from minzheng.core import crypto
from minzheng.core.exceptions import ValidationFailed
from minzheng.ledger.enums import DEBIT_NORMAL, AccountKind

MAX_LINE_FEN = 10**14  # 1万亿元 on one line: far above any real movement, far below BIGINT overflow
MAX_LINES = 1000
MAX_KEY = 255
MAX_KIND = 64
MAX_MEMO = 500
MAX_NAME = 128
MAX_METADATA_BYTES = 8192

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)*$")
CODE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,127}$")

REQUEST_CONTEXT = b"minzheng.ledger.request.v1\n"
MAC_CONTEXT = b"minzheng.ledger.txn.v1\n"  # domain separation from the audit chain's MACs
MAC_KEY = "audit"  # core.crypto key name; see ADR note in ledger/README.md


# --- amounts ---------------------------------------------------------------------------------


def to_fen(value: Any, *, field: str = "amount_fen") -> int:
    """An amount as an ``int`` of fen. Refuses bool, float and fractional Decimal (M-1)."""
    if isinstance(value, bool):
        raise ValidationFailed({field: "金额必须是整数分,不能是布尔值"}, code="invalid_amount")
    if isinstance(value, numbers.Integral):
        fen = int(value)
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise ValidationFailed({field: "金额必须是整数分,不能有小数"}, code="invalid_amount")
        fen = int(value)
    else:
        raise ValidationFailed({field: "金额必须是整数分(int),不接受浮点数或文本"}, code="invalid_amount")
    if abs(fen) > MAX_LINE_FEN:
        raise ValidationFailed({field: "金额超出允许范围"}, code="invalid_amount")
    return fen


def normal_sign(kind: str) -> int:
    """+1 for debit-normal kinds (asset, expense), −1 for credit-normal ones."""
    return 1 if kind in DEBIT_NORMAL else -1


def normal_balance(kind: str, balance_fen: int) -> int:
    """The balance on the account's normal side: what a wallet can spend or a fund can pay."""
    return balance_fen * normal_sign(kind)


def format_fen(fen: int) -> str:
    """``123456`` → ``"¥1,234.56"``; integer arithmetic only."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


# --- request checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    code: str
    amount_fen: int


def check_text(value: Any, field: str, max_len: int, *, blank: bool, code: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailed({field: "必须是文本"}, code=code)
    if "\x00" in value:
        raise ValidationFailed({field: "含有非法字符"}, code=code)
    if not blank and not value.strip():
        raise ValidationFailed({field: "不能为空"}, code=code)
    if len(value) > max_len:
        raise ValidationFailed({field: f"不能超过{max_len}个字符"}, code=code)
    return value


def check_key(key: Any) -> str:
    return check_text(key, "key", MAX_KEY, blank=False, code="invalid_key")


def check_kind(kind: Any) -> str:
    check_text(kind, "kind", MAX_KIND, blank=False, code="invalid_kind")
    if not KIND_RE.match(kind):
        raise ValidationFailed({"kind": "业务类型格式应如 meal.checkout"}, code="invalid_kind")
    return str(kind)


def check_memo(memo: Any, field: str = "memo") -> str:
    return check_text(memo, field, MAX_MEMO, blank=True, code="invalid_memo")


def check_code(code: Any, field: str = "code") -> str:
    check_text(code, field, 128, blank=False, code="invalid_account_code")
    if not CODE_RE.match(code):
        raise ValidationFailed(
            {field: "账户代码只能由字母、数字和 _ . : - 组成,如 assistance:dibao:payable"},
            code="invalid_account_code",
        )
    return str(code)


def check_account_kind(kind: Any) -> str:
    if kind not in AccountKind.value_set():
        raise ValidationFailed({"kind": "账户类别应为资产、负债、收入、费用或净资产"}, code="invalid_account_kind")
    return str(kind)


def check_occurred_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed({"occurred_at": "业务发生时间必须是带时区的时间"}, code="invalid_occurred_at")
    return value


def check_lines(lines: Any) -> tuple[Line, ...]:
    """≥ 2 lines, each (account code, non-zero int fen), one line per account, summing to 0."""
    if isinstance(lines, str | bytes) or not isinstance(lines, Iterable):
        raise ValidationFailed({"lines": "分录必须是 (账户, 金额) 的列表"}, code="invalid_lines")
    items = list(lines)
    if len(items) < 2:
        raise ValidationFailed({"lines": "一笔记账至少需要两条分录"}, code="too_few_lines")
    if len(items) > MAX_LINES:
        raise ValidationFailed({"lines": f"一笔记账最多{MAX_LINES}条分录"}, code="too_many_lines")
    out: list[Line] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValidationFailed({f"lines[{i}]": "分录必须是 (账户, 金额)"}, code="invalid_lines")
        code = check_code(item[0], field=f"lines[{i}].account")
        fen = to_fen(item[1], field=f"lines[{i}].amount_fen")
        if fen == 0:
            raise ValidationFailed({f"lines[{i}].amount_fen": "分录金额不能为0"}, code="invalid_amount")
        if code in seen:
            raise ValidationFailed({f"lines[{i}].account": f"同一账户在一笔记账中只能出现一次:{code}"},
                                   code="duplicate_account")
        seen.add(code)
        out.append(Line(code, fen))
    total = sum(line.amount_fen for line in out)
    if total != 0:
        raise ValidationFailed({"lines": f"借贷不平衡:分录合计{total}分,应为0"}, code="unbalanced")
    return tuple(out)


def check_metadata(value: Any) -> dict[str, Any]:
    """A small JSON object of ints, strings, bools, lists and objects; no floats (money is fen)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationFailed({"metadata": "附加信息必须是键值对"}, code="invalid_metadata")

    def walk(v: Any, path: str) -> Any:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, str):
            if "\x00" in v:
                raise ValidationFailed({"metadata": f"附加信息含有非法字符({path})"}, code="invalid_metadata")
            return v
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for k, item in v.items():
                if not isinstance(k, str) or "\x00" in k:
                    raise ValidationFailed({"metadata": f"附加信息的键必须是文本({path})"}, code="invalid_metadata")
                out[k] = walk(item, f"{path}.{k}")
            return out
        if isinstance(v, list | tuple):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(v)]
        raise ValidationFailed(
            {"metadata": f"附加信息只能含整数、文本、布尔值、列表和对象,不能含浮点数({path})"},
            code="invalid_metadata",
        )

    out = walk(value, "metadata")
    if len(canonical_json(out)) > MAX_METADATA_BYTES:
        raise ValidationFailed({"metadata": "附加信息过大"}, code="invalid_metadata")
    return out


# --- digests and MACs ------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def request_digest(
    *,
    key: str,
    kind: str,
    lines: Iterable[Line],
    memo: str,
    occurred_at: datetime | None,
    metadata: Mapping[str, Any],
    reverses_id: int | None,
) -> bytes:
    """SM3 over the canonical request: a replay must match it byte for byte (A14).

    The actor is deliberately not part of it: a payroll batch resumed by another worker or another
    member of staff after a crash is the same request and must get the original result.
    """
    body = {
        "key": key,
        "kind": kind,
        "lines": sorted([line.code, line.amount_fen] for line in lines),
        "memo": memo,
        "metadata": dict(metadata),
        "occurred_at": iso(occurred_at),
        "reverses": reverses_id,
    }
    return crypto.sm3(REQUEST_CONTEXT + canonical_json(body))


@dataclass(frozen=True)
class TxnContent:
    """Everything a transaction's MAC covers: its columns but ``mac`` and ``id``, and its postings."""

    key: str
    request_digest: bytes
    kind: str
    memo: str
    occurred_at: datetime
    posted_at: datetime
    actor_id: int | None
    actor_username: str
    reverses_id: int | None
    metadata: Mapping[str, Any]
    postings: tuple[tuple[int, str, int], ...]  # (account id, account code, amount_fen)


def canonical_txn(content: TxnContent) -> bytes:
    body = {
        "actor_id": content.actor_id,
        "actor_username": content.actor_username,
        "key": content.key,
        "kind": content.kind,
        "memo": content.memo,
        "metadata": dict(content.metadata),
        "occurred_at": iso(content.occurred_at),
        "posted_at": iso(content.posted_at),
        "postings": sorted([a, c, f] for a, c, f in content.postings),
        "request_digest": bytes(content.request_digest).hex(),
        "reverses": content.reverses_id,
    }
    return canonical_json(body)


def txn_mac(content: TxnContent) -> bytes:
    """HMAC-SM3 over the canonical transaction (security DP-4): tampering shows in ledger_verify."""
    return crypto.hmac_sm3(MAC_KEY, MAC_CONTEXT + canonical_txn(content))
