"""Load the 236 real divisions (NBS 2023) shipped with the app."""

import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "yuhang_divisions.csv"


def load(apps, schema_editor):
    Division = apps.get_model("divisions", "Division")
    known = {}
    with CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            level = row["level"]
            parent = known.get(row["parent_code"]) if level != "district" else None
            path = (parent.path if parent else "") + row["code"] + "/"
            is_unit = not (level == "village" and 400 <= int(row["code"][-3:]) <= 599)
            known[row["code"]] = Division.objects.create(
                code=row["code"], name=row["name"], level=level, parent=parent, path=path,
                depth=path.count("/") - 1, is_civil_affairs_unit=is_unit, source=row["source"][:120],
            )


def unload(apps, schema_editor):
    apps.get_model("divisions", "Division").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("divisions", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
