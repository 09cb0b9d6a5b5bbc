from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "minzheng.ledger"
    label = "ledger"
    verbose_name = "资金账本"
