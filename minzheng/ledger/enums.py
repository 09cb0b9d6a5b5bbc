from minzheng.core.choices import LabelledEnum


class AccountKind(LabelledEnum):
    """The five element classes of 政府会计 (government accounting)."""

    ASSET = "asset", "资产"
    LIABILITY = "liability", "负债"
    INCOME = "income", "收入"
    EXPENSE = "expense", "费用"
    EQUITY = "equity", "净资产"


# Accounts whose balance normally sits on the debit side (positive ``balance_fen``).
DEBIT_NORMAL = frozenset({AccountKind.ASSET, AccountKind.EXPENSE})
CREDIT_NORMAL = frozenset({AccountKind.LIABILITY, AccountKind.INCOME, AccountKind.EQUITY})

CURRENCY = "CNY"
