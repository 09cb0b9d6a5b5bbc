from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class CoreConfig(AppConfig):
    name = "minzheng.core"
    label = "core"
    verbose_name = "平台核心"

    def ready(self) -> None:
        from django.conf import settings

        from minzheng.core import crypto
        from minzheng.core.access import register_grants
        from minzheng.core.permissions import GRANTS

        # Fail closed (security F10): without keys nothing personal may be written.
        try:
            crypto.configure(settings.MINZHENG_KEYS)
        except crypto.KeyConfigError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        register_grants(GRANTS)
