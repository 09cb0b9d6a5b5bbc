"""`flush` that knows the append-only tables.

Django's flush empties every table; the audit log and the ledger refuse that by trigger. Only where
``MINZHENG_ALLOW_FLUSH`` is set (the test settings, for transactional tests) does this command lift
the protection for the flush itself, put it back, and restore the reference data the migrations
created (the division tree and the audit chain head). Anywhere else it refuses.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlush
from django.db import DEFAULT_DB_ALIAS, connections


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        if not getattr(settings, "MINZHENG_ALLOW_FLUSH", False):
            raise CommandError("审计日志与账本为只追加表,不允许 flush (append-only tables cannot be flushed)")
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        triggers: list[tuple[str, str]] = []
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("SELECT set_config('minzheng.allow_flush', 'on', false)")
            elif connection.vendor == "sqlite":
                cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                triggers = list(cur.fetchall())
                for name, _sql in triggers:
                    cur.execute(f'DROP TRIGGER "{name}"')
        try:
            super().handle(**options)
        finally:
            with connection.cursor() as cur:
                if connection.vendor == "postgresql":
                    cur.execute("SELECT set_config('minzheng.allow_flush', 'off', false)")
                for _name, sql in triggers:
                    cur.execute(sql)
        _restore_reference_data(options.get("database") or DEFAULT_DB_ALIAS)


def _restore_reference_data(alias: str) -> None:
    from minzheng.core.models import AuditChainHead
    from minzheng.divisions.models import Division
    from minzheng.divisions.services import division_load_csv

    AuditChainHead.objects.using(alias).get_or_create(pk=1, defaults={"last_event_id": 0, "last_mac": b""})
    if not Division.objects.using(alias).exists():
        division_load_csv()
