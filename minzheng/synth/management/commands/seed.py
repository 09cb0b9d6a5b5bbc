"""`minzheng seed --scale S --seed N [--reset]`: build the synthetic district."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minzheng.synth.runner import SeedRefused, default_workers, run_seed


class Command(BaseCommand):
    help = "Build a synthetic district: residents, households and addresses, then each domain's records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, default=0.01,
                            help="1.0 = the whole district (about 1.3 million residents); default 0.01")
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same district")
        parser.add_argument("--reset", action="store_true",
                            help="delete the existing persons, phones and households first")
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="generator processes (0 = generate in this process)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        parser.add_argument("--keep-indexes", action="store_true",
                            help="PostgreSQL: load with all indexes in place instead of rebuilding them after")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not 0 < opts["scale"] <= 10:
            raise CommandError("--scale must be in (0, 10]")
        try:
            report = run_seed(
                scale=opts["scale"], seed=opts["seed"], reset=opts["reset"], workers=opts["workers"],
                progress=not opts["no_progress"], rebuild_indexes=not opts["keep_indexes"],
            )
        except SeedRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"seeded scale {report.scale} with seed {report.seed}"))
        for line in report.lines():
            self.stdout.write("  " + line)
