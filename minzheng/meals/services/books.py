"""The meals domain's ledger accounts: codes, names, and opening them on first use.

Accounts are per meal point wherever checkouts post, so that two points never wait on each
other's account rows (``ledger.txn_post`` locks every account it touches):

===========================================  =========  ================================================
code                                         kind       holds
===========================================  =========  ================================================
``meals:benefit:{payer}:{point}``            expense    discount + subsidy the payer district bears
``meals:due_from:{payer}:{point}``           asset      public part another district / the city pool owes
``meals:due_to:{region}``                    liability  what Yuhang owes another district's canteens
``meals:point:{point}:payable``              liability  what the platform owes the operator (full price)
``meals:point:{point}:selfpay:{tender}``     asset      self-pay the operator took at the counter
``meals:wallet:{diner uid}``                 liability  a diner's 电子津贴 (may not go negative)
``meals:wallet_grants:{region}``             expense    电子津贴 granted (net of expiry and clawback)
``meals:treasury:{region}``                  asset      the district's meal fund paying operators
``meals:operating:{region}``                 expense    operating subsidies paid to operators
===========================================  =========  ================================================
"""

from __future__ import annotations

from django.db import connection

from minzheng.ledger.services import account_open
from minzheng.meals.enums import CITY_POOL, YUHANG, Tender

_known: set[str] = set()


def benefit(payer: str, point_code: str) -> str:
    return f"meals:benefit:{payer}:{point_code}"


def due_from(payer: str, point_code: str) -> str:
    return f"meals:due_from:{payer}:{point_code}"


def due_to(region: str) -> str:
    return f"meals:due_to:{region}"


def payable(point_code: str) -> str:
    return f"meals:point:{point_code}:payable"


def selfpay(point_code: str, tender: str) -> str:
    return f"meals:point:{point_code}:selfpay:{tender}"


def wallet(diner_uid: str) -> str:
    return f"meals:wallet:{diner_uid}"


def wallet_grants(region: str = YUHANG) -> str:
    return f"meals:wallet_grants:{region}"


def treasury(region: str = YUHANG) -> str:
    return f"meals:treasury:{region}"


def operating(region: str = YUHANG) -> str:
    return f"meals:operating:{region}"


def public_account(*, payer: str, point_code: str, point_region: str) -> str:
    """Where the public part of a meal at a Yuhang point is debited."""
    if payer == point_region == YUHANG:
        return benefit(payer, point_code)
    return due_from(payer, point_code)


_REGION_NAMES = {CITY_POOL: "市级统筹"}


def _name(code: str, point_name: str = "", diner: str = "") -> tuple[str, str, bool]:
    """(name, kind, allow_negative) for a code of this module."""
    parts = code.split(":")
    kind = parts[1]
    if kind == "benefit":
        return f"助餐优惠补贴支出({parts[2]}·{point_name or parts[3]})", "expense", True
    if kind == "due_from":
        who = _REGION_NAMES.get(parts[2], parts[2])
        return f"应收{who}助餐补贴({point_name or parts[3]})", "asset", True
    if kind == "due_to":
        return f"应付{parts[2]}助餐补贴", "liability", True
    if kind == "point" and parts[3] == "payable":
        return f"应付助餐点款({point_name or parts[2]})", "liability", False
    if kind == "point" and parts[3] == "selfpay":
        return f"助餐点代收自付-{Tender(parts[4]).label}({point_name or parts[2]})", "asset", False
    if kind == "wallet":
        return f"电子津贴({diner or parts[2][:8]})", "liability", False
    if kind == "wallet_grants":
        return f"电子津贴发放支出({parts[2]})", "expense", True
    if kind == "operating":
        return f"助餐运营补贴支出({parts[2]})", "expense", True
    if kind == "treasury":
        return f"助餐资金专户({parts[2]})", "asset", True
    raise ValueError(code)


def ensure(codes: list[str], *, division_code: str, point_name: str = "", owner: tuple[str, str] = ("", ""),
           diner: str = "") -> None:
    """Open any of ``codes`` not yet known to this process (``account_open`` is idempotent by code)."""
    for code in codes:
        if code in _known:
            continue
        name, kind, allow_negative = _name(code, point_name, diner)
        owner_type, owner_ref = owner if code.startswith(("meals:wallet:", "meals:point:")) else ("", "")
        account_open(actor=None, code=code, name=name[:128], kind=kind, division_code=division_code,
                     owner_type=owner_type, owner_ref=owner_ref, allow_negative=allow_negative)
        if not connection.in_atomic_block:
            _known.add(code)
        else:
            connection.on_commit(lambda c=code: _known.add(c))  # type: ignore[misc]


def forget() -> None:
    """Tests that flush the database call this so accounts are opened again."""
    _known.clear()
