"""Chinese personal names for synthetic residents. Pure code.

Surnames follow real frequencies (a Hangzhou table for locals, the national one for migrants);
given names are one or two characters picked from cohort- and gender-typical pools, so a woman
born in 1938 is a 秀英 or 桂兰 and a boy born in 2015 a 浩宇 or 梓轩.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_right

from minzheng.synth.tables import (
    GIVEN_NAME_CHARS,
    LOCAL_SURNAMES,
    NATIONAL_SURNAMES,
    ONE_CHAR_NAME_SHARE,
)


class WeightedChoice:
    """O(log n) weighted draw from a fixed table (random.choices recomputes the sums each call)."""

    def __init__(self, table: tuple[tuple[str, float], ...]) -> None:
        self.values = [v for v, _ in table]
        self.cumulative = list(itertools.accumulate(w for _, w in table))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> str:
        return self.values[bisect_right(self.cumulative, rng.random() * self.total)]


local_surname = WeightedChoice(LOCAL_SURNAMES)
national_surname = WeightedChoice(NATIONAL_SURNAMES)


def cohort(birth_year: int) -> str:
    if birth_year < 1960:
        return "old"
    if birth_year < 1990:
        return "mid"
    return "young"


def given_name(rng: random.Random, gender: str, birth_year: int) -> str:
    era = cohort(birth_year)
    first, second = GIVEN_NAME_CHARS[(era, gender)]
    last = rng.choice(second)
    if rng.random() < ONE_CHAR_NAME_SHARE[era]:
        return last
    head = rng.choice(first)
    while head == last:  # 明明 and 涵涵 exist, but as nicknames rather than registered names
        head = rng.choice(first)
    return head + last


def surname(rng: random.Random, *, local: bool) -> str:
    return local_surname(rng) if local else national_surname(rng)
