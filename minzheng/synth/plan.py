"""The population plan: how many residents of which age and hukou live in each village. Pure code.

The plan is fixed before any person is generated, from (scale, seed) and the division list alone:

* each civil-affairs village gets a share of the district total from its township's population,
  its kind (社区 hold more people than 村) and a fixed per-village jitter;
* residents split into locals (Zhejiang hukou) and migrants, with age pyramids by kind of place;
* the 80+ bands of the local pyramids are rescaled (``calibrate``) so that the expected number of
  living Zhejiang-hukou residents aged 80+ on the reference date equals the seed's 18,700 × scale;
* expected counts per (sub-population, age, village) are rounded by systematic sampling with the
  cells ordered by age, so the 80+ total is within one person of its expectation at any scale.

Knowing every chunk's size up front lets chunks be generated in parallel and still receive
deterministic, contiguous primary keys.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from minzheng.synth.identities import MAX_SLOTS
from minzheng.synth.tables import (
    COMMUNITY_VS_VILLAGE,
    MAX_AGE,
    PYRAMIDS,
    TOWNSHIPS,
    VILLAGE_MIGRANT_FACTOR,
    WESTERN_TOWNS,
)

REFERENCE_DATE = date(2023, 12, 31)  # ages and the 高龄津贴 figure refer to the end of 2023
RESIDENTS_AT_SCALE_1 = 1_300_000
ELDERS_80_LOCAL_AT_SCALE_1 = 18_700  # 高龄津贴 recipients, 2023 work summary ("惠及1.87万名高龄老人")
DECEASED_SHARE = 0.004  # extra records of residents who died 2019–2023 (status="deceased")
MOVED_OUT_SHARE = 0.008  # extra records of residents who left (status="moved_out")
ELDER_AGE = 80
AGES = MAX_AGE + 1


@dataclass(frozen=True)
class DivisionInfo:
    """What the generator needs to know about one civil-affairs village (社区 or 村)."""

    code: str
    name: str  # as NBS writes it: "XX社区" / "XX村委会"
    path: str
    township: str  # "良渚街道"
    is_village: bool  # 村: rural addresses (N组M号); 社区: urban (road, 小区, 幢, 单元, 室)

    @property
    def short_name(self) -> str:
        return self.name.removesuffix("委会") if self.name.endswith("村委会") else self.name

    @property
    def is_urban(self) -> bool:
        """Young, migrant-rich 街道 communities, as opposed to villages and the western 镇."""
        return not self.is_village and self.township not in WESTERN_TOWNS

    @property
    def local_pyramid(self) -> str:
        return "local_urban" if self.is_urban else "local_rural"


@dataclass(frozen=True)
class ChunkSpec:
    """One unit of generation: a village's residents, with their IDs and primary keys reserved."""

    index: int
    seed: int
    division: DivisionInfo
    local_ages: tuple[int, ...]  # living Zhejiang-hukou residents per age 0..MAX_AGE
    migrant_ages: tuple[int, ...]  # living non-Zhejiang residents per age
    deceased: int
    moved_out: int
    migrant_share: float
    first_id: int  # primary keys first_id .. first_id + size - 1

    @property
    def size(self) -> int:
        return sum(self.local_ages) + sum(self.migrant_ages) + self.deceased + self.moved_out


@dataclass
class Plan:
    scale: float
    seed: int
    chunks: list[ChunkSpec]
    elder_factor: float  # the calibrated multiplier of the local 80+ bands
    expected_elders_80_local: float
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def persons(self) -> int:
        return sum(c.size for c in self.chunks)


def age_distribution(pyramid: str, elder_factor: float = 1.0) -> list[float]:
    """Probabilities per single year of age, the 80+ bands multiplied by ``elder_factor``."""
    bands = PYRAMIDS[pyramid]
    weights = [bands[a // 5] / 5 * (elder_factor if a >= ELDER_AGE else 1.0) for a in range(AGES)]
    total = sum(weights)
    return [w / total for w in weights]


def share_80(pyramid: str, elder_factor: float) -> float:
    return sum(age_distribution(pyramid, elder_factor)[ELDER_AGE:])


def systematic_round(expected: Sequence[float], rng: random.Random) -> list[int]:
    """Integers whose running sums stay within one of the expected running sums.

    Any contiguous run of cells therefore totals within ±1 of its expectation; independent draws
    would give ±√n noise, which at small scales would swamp the calibration.
    """
    u = rng.random()
    out: list[int] = []
    running, previous = 0.0, 0
    for e in expected:
        running += e
        current = math.floor(running + u)
        out.append(current - previous)
        previous = current
    return out


def _jitter(code: str) -> float:
    """A fixed size factor per village: the same community is always about as large."""
    return math.exp(random.Random(f"size:{code}").gauss(0.0, 0.35))


def division_sizes(divisions: Sequence[DivisionInfo], total: float) -> tuple[list[float], list[float]]:
    """Expected residents and migrant share per division (in the order given)."""
    weights = [(COMMUNITY_VS_VILLAGE if not d.is_village else 1.0) * _jitter(d.code) for d in divisions]
    township_weight: dict[str, float] = {}
    for d, w in zip(divisions, weights, strict=True):
        township_weight[d.township] = township_weight.get(d.township, 0.0) + w
    township_people = {t: TOWNSHIPS[t][0] for t in township_weight}
    scale_to = total / sum(township_people.values())
    sizes = [township_people[d.township] * scale_to * w / township_weight[d.township]
             for d, w in zip(divisions, weights, strict=True)]
    # Migrant shares: villages hold VILLAGE_MIGRANT_FACTOR times the share of communities, scaled
    # so that each township keeps its overall share from the table.
    shares: list[float] = []
    urban_people: dict[str, float] = {}
    village_people: dict[str, float] = {}
    for d, n in zip(divisions, sizes, strict=True):
        bucket = village_people if d.is_village else urban_people
        bucket[d.township] = bucket.get(d.township, 0.0) + n
    for d in divisions:
        t = d.township
        people = urban_people.get(t, 0.0) + village_people.get(t, 0.0)
        base = TOWNSHIPS[t][1] * people / (urban_people.get(t, 0.0) + VILLAGE_MIGRANT_FACTOR * village_people.get(t, 0.0))
        shares.append(min(0.85, base * (VILLAGE_MIGRANT_FACTOR if d.is_village else 1.0)))
    return sizes, shares


def calibrate(local_people: dict[str, float], target: float) -> float:
    """The 80+ multiplier that makes the expected local 80+ count equal ``target`` (bisection)."""
    if target <= 0 or not local_people:
        return 1.0

    def expected(factor: float) -> float:
        return sum(n * share_80(p, factor) for p, n in local_people.items())

    low, high = 1e-3, 1e3
    if not expected(low) <= target <= expected(high):
        raise ValueError("the local age pyramids cannot reach the 80+ target")
    for _ in range(100):
        mid = math.sqrt(low * high)
        if expected(mid) < target:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)


def make_plan(divisions: Sequence[DivisionInfo], *, scale: float, seed: int, first_id: int = 1) -> Plan:
    if scale <= 0:
        raise ValueError("scale must be positive")
    divisions = sorted(divisions, key=lambda d: d.code)
    if len(divisions) > MAX_SLOTS:
        raise ValueError(f"at most {MAX_SLOTS} villages can be generated")
    rng = random.Random(f"plan:{seed}")
    total = RESIDENTS_AT_SCALE_1 * scale
    sizes, shares = division_sizes(divisions, total)
    local_people: dict[str, float] = {}
    for d, n, s in zip(divisions, sizes, shares, strict=True):
        local_people[d.local_pyramid] = local_people.get(d.local_pyramid, 0.0) + n * (1 - s)
    factor = calibrate(local_people, ELDERS_80_LOCAL_AT_SCALE_1 * scale)
    dist = {p: age_distribution(p, factor) for p in ("local_urban", "local_rural")}
    dist["migrant"] = age_distribution("migrant")

    # Cells ordered (age, division) inside each sub-population: see systematic_round.
    counts: dict[str, list[list[int]]] = {}
    for sub in ("local", "migrant"):
        expected = []
        for age in range(AGES):
            for d, n, s in zip(divisions, sizes, shares, strict=True):
                if sub == "local":
                    expected.append(n * (1 - s) * dist[d.local_pyramid][age])
                else:
                    expected.append(n * s * dist["migrant"][age])
        flat = systematic_round(expected, rng)
        width = len(divisions)
        counts[sub] = [[flat[age * width + i] for age in range(AGES)] for i in range(width)]
    deceased = systematic_round([n * DECEASED_SHARE for n in sizes], rng)
    moved = systematic_round([n * MOVED_OUT_SHARE for n in sizes], rng)

    chunks: list[ChunkSpec] = []
    next_id = first_id
    for i, d in enumerate(divisions):
        chunk = ChunkSpec(
            index=i, seed=seed, division=d,
            local_ages=tuple(counts["local"][i]), migrant_ages=tuple(counts["migrant"][i]),
            deceased=deceased[i], moved_out=moved[i], migrant_share=shares[i], first_id=next_id,
        )
        chunks.append(chunk)
        next_id += chunk.size
    expected_80 = sum(n * (1 - s) * share_80(d.local_pyramid, factor)
                      for d, n, s in zip(divisions, sizes, shares, strict=True))
    return Plan(scale=scale, seed=seed, chunks=chunks, elder_factor=factor, expected_elders_80_local=expected_80)
