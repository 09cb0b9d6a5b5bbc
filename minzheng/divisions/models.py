from __future__ import annotations

from django.db import models

from minzheng.divisions.enums import Level


class Division(models.Model):
    """A node of the 区 → 街道/镇 → 社区/村 tree; the anchor of every data scope.

    ``path`` is the materialised path of codes (``330110000000/330110005000/330110005001/``), so a
    subtree is one indexed prefix scan at any depth and a scope check is a string prefix test.
    """

    code = models.CharField("区划代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=64)
    level = models.CharField("层级", max_length=16, choices=Level.as_choices())
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, related_name="children", verbose_name="上级")
    path = models.CharField("路径", max_length=255, unique=True)
    depth = models.PositiveSmallIntegerField("深度")
    is_civil_affairs_unit = models.BooleanField(
        "民政确认的村社", default=True, help_text="NBS 400–599 codes (类似社区) are not 民政 units"
    )
    code_system = models.CharField("代码体系", max_length=32, default="nbs")
    code_version = models.CharField("代码版本", max_length=16, default="2023")
    source = models.CharField("来源", max_length=120, blank=True)

    class Meta:
        verbose_name = "行政区划"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind_label(self) -> str:
        if self.level == Level.VILLAGE:
            return "村" if self.name.endswith("村委会") or self.name.endswith("村") else "社区"
        return self.get_level_display()

    @property
    def short_name(self) -> str:
        """NBS writes villages as "XX村委会"; addresses and screens say "XX村"."""
        return self.name.removesuffix("委会") if self.name.endswith("村委会") else self.name
