import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="Division",
            fields=[
                ("code", models.CharField(max_length=12, primary_key=True, serialize=False, verbose_name="区划代码")),
                ("name", models.CharField(max_length=64, verbose_name="名称")),
                ("level", models.CharField(choices=[("province", "省"), ("city", "市"), ("district", "区"), ("township", "街道/镇"), ("village", "社区/村")], max_length=16, verbose_name="层级")),
                ("path", models.CharField(max_length=255, unique=True, verbose_name="路径")),
                ("depth", models.PositiveSmallIntegerField(verbose_name="深度")),
                ("is_civil_affairs_unit", models.BooleanField(default=True, help_text="NBS 400–599 codes (类似社区) are not 民政 units", verbose_name="民政确认的村社")),
                ("code_system", models.CharField(default="nbs", max_length=32, verbose_name="代码体系")),
                ("code_version", models.CharField(default="2023", max_length=16, verbose_name="代码版本")),
                ("source", models.CharField(blank=True, max_length=120, verbose_name="来源")),
                ("parent", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="children", to="divisions.division", verbose_name="上级")),
            ],
            options={"verbose_name": "行政区划", "ordering": ["code"]},
        ),
    ]
