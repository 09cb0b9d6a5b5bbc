from django.db import migrations, models

PG_PROTECT = """
CREATE OR REPLACE FUNCTION minzheng_refuse_change() RETURNS trigger AS $$
BEGIN
  -- Only the test suite's flush (core's flush command, MINZHENG_ALLOW_FLUSH) may empty these tables.
  IF TG_OP = 'TRUNCATE' AND current_setting('minzheng.allow_flush', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditevent_append_only
  BEFORE UPDATE OR DELETE ON core_auditevent
  FOR EACH ROW EXECUTE FUNCTION minzheng_refuse_change();
CREATE TRIGGER core_auditevent_no_truncate
  BEFORE TRUNCATE ON core_auditevent
  FOR EACH STATEMENT EXECUTE FUNCTION minzheng_refuse_change();
"""
PG_UNPROTECT = """
DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent;
DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;
"""
SQLITE_PROTECT = [
    "CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only'); END;",
    "CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'core_auditevent is append-only'); END;",
]


def protect(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor == "postgresql":
        schema_editor.execute(PG_PROTECT, params=None)  # no client-side %-formatting: the SQL holds a literal %
    elif conn.vendor == "sqlite":
        for sql in SQLITE_PROTECT:
            schema_editor.execute(sql)
    apps.get_model("core", "AuditChainHead").objects.create(id=1, last_event_id=0, last_mac=b"")


def unprotect(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor == "postgresql":
        schema_editor.execute(PG_UNPROTECT)
    elif conn.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS core_auditevent_no_update")
        schema_editor.execute("DROP TRIGGER IF EXISTS core_auditevent_no_delete")


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("last_event_id", models.BigIntegerField(default=0)),
                ("last_mac", models.BinaryField(default=b"", max_length=32)),
            ],
        ),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("at", models.DateTimeField(verbose_name="时间")),
                ("actor_id", models.BigIntegerField(null=True, verbose_name="操作人ID")),
                ("actor_username", models.CharField(blank=True, max_length=150, verbose_name="操作人")),
                ("actor_roles", models.CharField(blank=True, max_length=200, verbose_name="角色")),
                ("actor_division", models.CharField(blank=True, max_length=12, verbose_name="所属区划")),
                ("ip", models.GenericIPAddressField(null=True, verbose_name="来源IP")),
                ("request_id", models.CharField(blank=True, max_length=32, verbose_name="请求ID")),
                ("channel", models.CharField(blank=True, max_length=8, verbose_name="渠道")),
                ("event_type", models.CharField(db_index=True, max_length=64, verbose_name="事件类型")),
                ("object_type", models.CharField(blank=True, max_length=64, verbose_name="对象类型")),
                ("object_id", models.CharField(blank=True, max_length=64, verbose_name="对象ID")),
                ("result", models.CharField(max_length=16, verbose_name="结果")),
                ("reason", models.CharField(blank=True, max_length=500, verbose_name="原因")),
                ("extra", models.JSONField(default=dict, verbose_name="附加信息")),
                ("prev_mac", models.BinaryField(max_length=32)),
                ("mac", models.BinaryField(max_length=32)),
            ],
            options={
                "verbose_name": "审计日志",
                "indexes": [
                    models.Index(fields=["actor_id", "at"], name="core_audite_actor_i_idx"),
                    models.Index(fields=["object_type", "object_id"], name="core_audite_object__idx"),
                ],
            },
        ),
        migrations.RunPython(protect, unprotect),
    ]
