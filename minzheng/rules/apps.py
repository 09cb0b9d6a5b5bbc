from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "minzheng.rules"
    label = "rules"
    verbose_name = "政策规则"
