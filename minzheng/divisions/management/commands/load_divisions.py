from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from minzheng.divisions.services import DEFAULT_CSV, division_load_csv


class Command(BaseCommand):
    help = "导入或更新行政区划 (code,name,level,parent_code,source CSV)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", nargs="?", default=str(DEFAULT_CSV))

    def handle(self, *args: Any, **options: Any) -> None:
        n = division_load_csv(path=Path(options["csv"]))
        self.stdout.write(self.style.SUCCESS(f"已导入 {n} 个区划"))
