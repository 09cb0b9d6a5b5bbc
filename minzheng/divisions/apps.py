from django.apps import AppConfig


class DivisionsConfig(AppConfig):
    name = "minzheng.divisions"
    label = "divisions"
    verbose_name = "行政区划"

    def ready(self) -> None:
        from minzheng.core.access import register_grants
        from minzheng.divisions.permissions import GRANTS

        register_grants(GRANTS)
