"""`minzheng seed`: plan, generate in parallel, load in one transaction, then the domains' steps.

Generation and sealing (the CPU cost) run in a pool of forked workers, one village per task; the
main process only streams finished chunks into the database, in plan order, with a bounded number
of chunks in flight so memory stays flat at any scale. Primary keys and ID-number ranges are fixed
by the plan, so the result does not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import date, datetime
from multiprocessing.pool import AsyncResult
from typing import Any

from django.db import connection, connections, transaction
from django.utils import timezone
from tqdm import tqdm

from minzheng.core.seeding import SeedContext, seed_steps
from minzheng.people.enums import LivingArrangement, PersonStatus
from minzheng.people.models import Household, Person, PersonPhone
from minzheng.synth import load
from minzheng.synth.encode import EncodedChunk, TableSpec, encode_chunk
from minzheng.synth.plan import (
    ELDER_AGE,
    ELDERS_80_LOCAL_AT_SCALE_1,
    REFERENCE_DATE,
    ChunkSpec,
    Plan,
    make_plan,
)
from minzheng.synth.population import generate_chunk


class SeedRefused(Exception):
    """The database already holds a registry and --reset was not given."""


@dataclass
class SeedReport:
    scale: float
    seed: int
    persons: int = 0
    active: int = 0
    households: int = 0
    phones: int = 0
    elders_80_local: int = 0
    aged_60: int = 0
    alone_60: int = 0
    empty_nest_60: int = 0
    target_80_local: float = 0.0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        deviation = (self.elders_80_local / self.target_80_local - 1) * 100 if self.target_80_local else 0.0
        share = (lambda n: f"{n / self.aged_60:.1%}") if self.aged_60 else (lambda n: "-")
        return [
            f"persons            {self.persons:>10,}  (active {self.active:,})",
            f"households         {self.households:>10,}",
            f"phones             {self.phones:>10,}",
            f"80+ Zhejiang hukou {self.elders_80_local:>10,}  (target {self.target_80_local:,.0f}, {deviation:+.1f}%)",
            f"aged 60+           {self.aged_60:>10,}  (独居 {share(self.alone_60)}, 空巢 {share(self.empty_nest_60)})",
            "time               " + f"{self.seconds:>9.1f}s  ("
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()) + ")",
        ]


def build_chunk(spec: ChunkSpec, specs: dict[str, TableSpec], binary_copy: bool, now: datetime) -> EncodedChunk:
    """One village, generated, sealed and encoded; runs in a worker process."""
    return encode_chunk(generate_chunk(spec), specs, binary_copy=binary_copy, now=now)


def encoded_chunks(plan: Plan, specs: dict[str, TableSpec], *, binary_copy: bool, now: datetime,
                   workers: int) -> Generator[EncodedChunk, None, None]:
    """The plan's chunks in order; with ``workers`` > 0 built by a forked pool, at most a few ahead."""
    if workers <= 0 or len(plan.chunks) < 2:
        for spec in plan.chunks:
            yield build_chunk(spec, specs, binary_copy, now)
        return
    # A forked child must not share the parent's database socket.
    connections.close_all()
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        window: deque[AsyncResult[EncodedChunk]] = deque()
        pending = iter(plan.chunks)
        for spec in pending:
            window.append(pool.apply_async(build_chunk, (spec, specs, binary_copy, now)))
            if len(window) > 2 * workers:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_seed(*, scale: float, seed: int, reset: bool = False, workers: int | None = None,
             progress: bool = True, rebuild_indexes: bool = True, run_steps: bool = True) -> SeedReport:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    exists, first_id = load.registry_state()
    if exists and not reset:
        raise SeedRefused("the database already has persons or households: add --reset to replace them")
    if reset:
        first_id = 1
    divisions = load.division_infos()
    if not divisions:
        raise SeedRefused("no villages in divisions.Division: run `minzheng migrate` first")
    plan = make_plan(divisions, scale=scale, seed=seed, first_id=first_id)
    specs = load.table_specs()
    loader = load.loader_for_connection(rebuild_indexes=rebuild_indexes)
    if workers is None:
        workers = default_workers()
    nested = connection.in_atomic_block
    if nested:
        workers = 0  # inside a caller's transaction (tests): the connection must stay open, no fork
    now = timezone.now()
    timings["plan"] = time.perf_counter() - started

    generated: Counter[str] = Counter()
    bar = tqdm(total=plan.persons, unit="人", desc="居民", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    chunks = encoded_chunks(plan, specs, binary_copy=loader.binary_copy, now=now, workers=workers)
    try:
        first = next(chunks, None)  # start the workers before the transaction opens the connection
        mark = time.perf_counter()
        with transaction.atomic():
            if reset:
                load.reset_registry()
                if not nested:  # COPY FREEZE is refused after earlier activity in the transaction
                    loader.truncated()
            loader.start()
            while first is not None:
                loader.write(first, specs)
                generated.update(first.stats)
                bar.update(first.stats["persons"])
                first = next(chunks, None)
            timings["generate+load"] = time.perf_counter() - mark
            mark = time.perf_counter()
            loader.finish()
            timings["indexes"] = time.perf_counter() - mark
    finally:
        chunks.close()
        bar.close()
    mark = time.perf_counter()
    load.analyze_tables()
    timings["analyze"] = time.perf_counter() - mark

    report = SeedReport(scale=scale, seed=seed, target_80_local=ELDERS_80_LOCAL_AT_SCALE_1 * scale,
                        timings=timings, generated=dict(generated))
    if run_steps:
        mark = time.perf_counter()
        run_domain_steps(scale=scale, seed=seed, stats={"reference_date": REFERENCE_DATE, **generated},
                         progress=progress)
        timings["domain steps"] = time.perf_counter() - mark
    registry_figures(report)
    report.seconds = time.perf_counter() - started
    return report


def run_domain_steps(*, scale: float, seed: int, stats: dict[str, Any], progress: bool) -> SeedContext:
    bars: dict[str, tqdm[Any]] = {}

    def report_progress(label: str, done: int, total: int) -> None:
        if not progress:
            return
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = tqdm(total=total, desc=label, file=sys.stderr, dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.refresh()

    ctx = SeedContext(scale=scale, seed=seed, progress=report_progress, stats=stats)
    try:
        for step in seed_steps():
            step.run(ctx)
    finally:
        for bar in bars.values():
            bar.close()
    return ctx


def _birth_on_or_before(age: int) -> date:
    return REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age)


def registry_figures(report: SeedReport) -> SeedReport:
    """Count the achieved figures in the database itself, not in the generator's bookkeeping."""
    active = Person.objects.filter(status=PersonStatus.ACTIVE)
    elders = active.filter(birth_date__lte=_birth_on_or_before(60))
    report.persons = Person.objects.count()
    report.active = active.count()
    report.households = Household.objects.count()
    report.phones = PersonPhone.objects.count()
    report.elders_80_local = active.filter(hukou_in_zhejiang=True,
                                           birth_date__lte=_birth_on_or_before(ELDER_AGE)).count()
    report.aged_60 = elders.count()
    report.alone_60 = elders.filter(living_arrangement=LivingArrangement.ALONE).count()
    report.empty_nest_60 = elders.filter(living_arrangement=LivingArrangement.EMPTY_NEST).count()
    return report

