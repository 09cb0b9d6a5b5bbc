"""PostgreSQL: leave room in the pages of the rows every reading rewrites, so the updates are HOT
(in place, no index maintenance). Nothing to do on SQLite."""

from django.db import migrations

TABLES = ("safety_homestate", "safety_device", "safety_activityhourly", "safety_gateway")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("safety", "0002_default_rules")]
    operations = [migrations.RunPython(forwards, backwards)]
