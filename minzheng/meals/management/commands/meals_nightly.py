"""`minzheng meals-nightly [--date YYYY-MM-DD]`: the nightly jobs of 智慧助餐 (see meals.tasks)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minzheng.meals.tasks import nightly


class Command(BaseCommand):
    help = "Reconcile yesterday, scan for anomalies, expire 电子津贴 grants, signal absent regular diners."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="run as if today were this date (YYYY-MM-DD)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            today = date.fromisoformat(opts["date"]) if opts.get("date") else None
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD") from None
        self.stdout.write(json.dumps(nightly(today=today), ensure_ascii=False))
