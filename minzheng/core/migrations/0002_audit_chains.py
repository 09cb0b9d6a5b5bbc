"""The audit log becomes several independent hash chains (ADR 0006).

Rows written so far all belong to chain 1, whose head is the existing head row. Event ids now
come from the id column's sequence on PostgreSQL (the head no longer counts them), so the
sequence is moved past the ids the head handed out. SQLite rebuilds the table to add a NOT NULL
column, which drops its append-only triggers: they are created again.
"""

import importlib

from django.db import migrations, models

_initial = importlib.import_module("minzheng.core.migrations.0001_initial")


def after_adding_chain(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor == "postgresql":
        schema_editor.execute(
            "SELECT setval(pg_get_serial_sequence('core_auditevent', 'id'), COALESCE(MAX(id), 0) + 1, false) "
            "FROM core_auditevent"
        )
    elif conn.vendor == "sqlite":
        for sql in _initial.SQLITE_PROTECT:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.PositiveSmallIntegerField(default=1, verbose_name="审计链"),
        ),
        migrations.RunPython(after_adding_chain, migrations.RunPython.noop),
    ]
