from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "minzheng.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self) -> None:
        from minzheng.accounts.permissions import GRANTS
        from minzheng.core.access import register_grants

        register_grants(GRANTS)
