from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "minzheng.safety"
    label = "safety"
    verbose_name = "安居守护"
