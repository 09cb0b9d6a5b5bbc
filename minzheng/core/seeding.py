"""The hook through which every app adds its part of the synthetic district (`minzheng seed`).

An app registers a step in ``AppConfig.ready()``::

    register_seed_step(SeedStep("meals", meals_seed, order=200))

``minzheng.synth`` runs the registered steps in ``order`` after the people registry exists,
handing each the same ``SeedContext``: the scale, a deterministic random generator per step, and
a progress reporter. Steps must be deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeedContext:
    scale: float
    seed: int
    progress: Callable[[str, int, int], None] = lambda label, done, total: None
    stats: dict[str, Any] = field(default_factory=dict)

    def rng(self, step: str) -> random.Random:
        """A generator of its own for each step, so adding a step never shifts another's data."""
        return random.Random(f"{self.seed}:{step}")  # noqa: S311 - synthetic data, not secrets


@dataclass(frozen=True)
class SeedStep:
    name: str
    run: Callable[[SeedContext], None]
    order: int = 100


_steps: dict[str, SeedStep] = {}


def register_seed_step(step: SeedStep) -> None:
    _steps[step.name] = step


def seed_steps() -> list[SeedStep]:
    return sorted(_steps.values(), key=lambda s: (s.order, s.name))
