"""Generate the residents of one village: persons, households and plaintext identifiers. Pure code.

``generate_chunk(spec)`` is deterministic: everything is drawn from a generator seeded with
(seed, village code), so a chunk comes out the same in any process and in any order.

The plan fixes how many people of each age and hukou live in the village; this module only
arranges them. Adults are married off by age, family cores (couples and single adults under 55/60)
receive children of a plausible age, elders either stay on their own (独居, 空巢), move in with a
child's family, or live in an institution; young singles partly live with their parents. Within
a household everyone shares the hukou (migrant families come from one province).
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from minzheng.synth.identities import IdAllocator, make_mobile
from minzheng.synth.names import WeightedChoice, given_name, surname
from minzheng.synth.plan import ELDER_AGE, REFERENCE_DATE, ChunkSpec, DivisionInfo
from minzheng.synth.tables import (
    DISABILITY_CATEGORIES,
    ESTATE_FIRST,
    ESTATE_SUFFIX,
    MIGRANT_PROVINCES,
    TOWNSHIPS,
)

MAX_HOUSEHOLD = 6
ADDRESS_PREFIX = "浙江省杭州市余杭区"
LIFE_EVENTS_FROM = date(2019, 1, 1)  # deaths and moves recorded in the five years before the reference date

_province = WeightedChoice(MIGRANT_PROVINCES)
_NO_UUID = uuid.UUID(int=0)  # placeholder until generate_chunk draws the real one
_disability = WeightedChoice(DISABILITY_CATEGORIES)


@dataclass(slots=True, eq=False)
class SynthPerson:
    age: int  # on REFERENCE_DATE (for the deceased: at death)
    gender: str
    local: bool  # Zhejiang hukou
    birth_date: date = REFERENCE_DATE
    id: int = 0
    uid: uuid.UUID = _NO_UUID
    name: str = ""
    province: str = "33"
    id_number: str = ""
    hukou_region: str = ""
    hukou_division: str | None = None
    household_id: int | None = None
    relation: str = ""
    living: str = "with_family"
    disability_category: str = ""
    disability_grade: int | None = None
    self_care: str = "independent"
    health_flags: list[str] = field(default_factory=list)
    status: str = "active"
    deceased_on: date | None = None
    moved_out_on: date | None = None
    phones: list[str] = field(default_factory=list)
    address: str = ""


@dataclass(slots=True, eq=False)
class SynthHousehold:
    members: list[SynthPerson]  # head first; relation_to_head set on each
    id: int = 0
    uid: uuid.UUID = _NO_UUID
    address: str = ""


@dataclass
class Chunk:
    spec: ChunkSpec
    persons: list[SynthPerson]
    households: list[SynthHousehold]
    stats: dict[str, int]


@dataclass(slots=True, eq=False)
class _Unit:
    """A couple or a single adult, and whoever attaches to them before they become a household."""

    members: list[SynthPerson]
    anchor: int  # the mother's age for couples (children are placed by it), else the adult's age
    kids: list[SynthPerson] = field(default_factory=list)
    adult_children: list[SynthPerson] = field(default_factory=list)
    elders: list[SynthPerson] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members) + len(self.kids) + len(self.adult_children) + len(self.elders)


# --- shares by age ------------------------------------------------------------------------------


def _married_share(age: int) -> float:
    for upper, share in ((24, 0.12), (29, 0.45), (34, 0.75), (39, 0.85), (59, 0.88), (69, 0.85), (79, 0.75), (89, 0.55)):
        if age <= upper:
            return share
    return 0.35


def _male_share(age: int, local: bool) -> float:
    if age < 20:
        return 0.53  # sex ratio at birth of the 2000s–2010s
    if age < 60:
        return 0.51 if local else 0.55  # migrant labour is slightly male
    if age < 80:
        return 0.48
    if age < 90:
        return 0.42
    return 0.33


def _institution_share(age: int) -> float:
    return 0.01 if age < 80 else 0.05 if age < 90 else 0.10


def _disability_share(age: int) -> float:
    for upper, share in ((17, 0.017), (44, 0.04), (59, 0.075), (69, 0.115), (79, 0.17)):
        if age <= upper:
            return share
    return 0.25


def _dependency(age: int) -> tuple[float, float]:
    """(half-dependent 半失能, dependent 失能) shares: most elders manage on their own."""
    if age < 60:
        return 0.002, 0.001
    for upper, shares in ((69, (0.03, 0.01)), (79, (0.07, 0.025)), (89, (0.15, 0.06))):
        if age <= upper:
            return shares
    return 0.28, 0.15


def _phone_share(age: int) -> float:
    for upper, share in ((11, 0.0), (17, 0.35), (69, 0.96), (79, 0.80), (89, 0.55)):
        if age <= upper:
            return share
    return 0.30


# --- addresses ----------------------------------------------------------------------------------


class AddressBook:
    """Dwellings of one village, handed out once each; the street geography is fixed per village.

    Urban: "浙江省杭州市余杭区{街道}{路}{n}号{小区}{b}幢{u}单元{室}室" over a few 小区 per community.
    Rural: "浙江省杭州市余杭区{镇}{村}{N}组{M}号".
    """

    def __init__(self, division: DivisionInfo, households: int) -> None:
        geo = random.Random(f"geo:{division.code}")  # same streets for every seed and scale
        self.division = division
        self.prefix = ADDRESS_PREFIX + division.township
        roads = TOWNSHIPS[division.township][2]
        self._used: set[tuple[int, ...]] = set()
        home_road = geo.choice(roads)
        self.institution = f"{self.prefix}{home_road}{geo.randrange(1, 400)}号{division.township[:2]}颐养院"
        households = max(households, 1)
        if division.is_village:
            self.groups = max(6, math.ceil(households / 45))
            self.numbers = max(40, math.ceil(households / self.groups * 2))
            self.estates: list[tuple[str, str, int, int]] = []
            return
        stem = division.short_name.removesuffix("社区")
        names = [stem + geo.choice(ESTATE_SUFFIX)]
        count = min(8, max(2, round(households / 900)))
        while len(names) < count:
            name = geo.choice(ESTATE_FIRST) + geo.choice(ESTATE_SUFFIX)
            if name not in names:
                names.append(name)
        flats_per_building = 3 * 18 * 4  # units × floors × doors
        buildings = max(8, math.ceil(households / count / flats_per_building / 0.3))
        self.estates = [(n, geo.choice(roads), geo.randrange(1, 1500), buildings) for n in names]

    def dwelling(self, rng: random.Random) -> str:
        for _ in range(1000):
            if not self.estates:
                key: tuple[int, ...] = (1 + int(rng.random() * self.groups), 1 + int(rng.random() * self.numbers))
                if key not in self._used:
                    self._used.add(key)
                    return f"{self.prefix}{self.division.short_name}{key[0]}组{key[1]}号"
                continue
            r = rng.random
            e = int(r() * len(self.estates))
            name, road, number, buildings = self.estates[e]
            key = (e, 1 + int(r() * buildings), 1 + int(r() * 3), 1 + int(r() * 18), 1 + int(r() * 4))
            if key not in self._used:
                self._used.add(key)
                return f"{self.prefix}{road}{number}号{name}{key[1]}幢{key[2]}单元{key[3]}{key[4]:02d}室"
        raise RuntimeError(f"no free dwelling left in {self.division.name}")


# --- households ---------------------------------------------------------------------------------


def _take_nearest(pool: dict[int, list[SynthPerson]], target: int, lo: int, hi: int) -> SynthPerson | None:
    for offset in range(2 * (hi - lo) + 1):
        age = target + (offset + 1) // 2 * (1 if offset % 2 else -1)
        if lo <= age <= hi and pool.get(age):
            return pool[age].pop()
    return None


class _Buckets:
    """Units indexed by anchor age, for "find a family whose mother is 20–45 years older"."""

    def __init__(self, units: list[_Unit]) -> None:
        self.by_age: dict[int, list[_Unit]] = {}
        for u in units:
            self.by_age.setdefault(u.anchor, []).append(u)

    def find(self, rng: random.Random, center: int, lo: int, hi: int, fits: Callable[[_Unit], bool]) -> _Unit | None:
        for offset in range(2 * (hi - lo) + 1):
            age = center + (offset + 1) // 2 * (1 if offset % 2 else -1)
            if not lo <= age <= hi:
                continue
            units = self.by_age.get(age)
            if not units:
                continue
            start = rng.randrange(len(units))
            for k in range(min(len(units), 6)):
                u = units[(start + k) % len(units)]
                if fits(u):
                    return u
        return None


def _assemble(rng: random.Random, people: list[SynthPerson], *, local: bool,
              urban: bool) -> tuple[list[SynthHousehold], list[SynthPerson], list[SynthPerson]]:
    """Households (head first, relations set), the people in an institution, and the children
    for whom no adult of a fitting age was found (the caller places them elsewhere)."""
    kids = [p for p in people if p.age < 18]
    grown = [p for p in people if p.age >= 18]
    females: dict[int, list[SynthPerson]] = {}
    for p in grown:
        if p.gender == "F" and p.age >= 20:
            females.setdefault(p.age, []).append(p)
    males = [p for p in grown if p.gender == "M" and p.age >= 20]
    rng.shuffle(males)
    couples: list[_Unit] = []
    paired: set[int] = set()
    for m in males:
        if rng.random() >= _married_share(m.age):
            continue
        wife = _take_nearest(females, m.age - round(rng.triangular(-3, 10, 2)), m.age - 12, m.age + 5)
        if wife is not None:
            couples.append(_Unit([m, wife], anchor=wife.age))
            paired.update((id(m), id(wife)))
    singles = [p for p in grown if id(p) not in paired]

    cores: list[_Unit] = []  # family cores: children and elders attach to them
    elder_units: list[_Unit] = []
    for u in couples:
        (elder_units if u.anchor >= 55 else cores).append(u)
    at_home_share = (0.35 if urban else 0.55) if local else 0.05
    joining_share_couple = (0.25 if urban else 0.35) if local else 0.6
    joining_share_single = (0.45 if urban else 0.55) if local else 0.8
    young_at_home: list[SynthPerson] = []
    institution: list[SynthPerson] = []
    for p in singles:
        if p.age >= 60:
            elder_units.append(_Unit([p], anchor=p.age))
        elif p.age < 30 and rng.random() < at_home_share:
            young_at_home.append(p)
        else:
            cores.append(_Unit([p], anchor=p.age))
    joining: list[_Unit] = []
    staying: list[_Unit] = []
    for u in elder_units:
        if len(u.members) == 1 and rng.random() < _institution_share(u.anchor):
            u.members[0].living = "institution"
            institution.append(u.members[0])
        elif rng.random() < (joining_share_couple if len(u.members) == 2 else joining_share_single):
            joining.append(u)
        else:
            staying.append(u)

    core_buckets = _Buckets([u for u in cores if len(u.members) == 2])
    single_buckets = _Buckets([u for u in cores if len(u.members) == 1])
    staying_buckets = _Buckets(staying)
    kid_cap = 2 if (urban or not local) else 3

    def fits_kid(u: _Unit) -> bool:
        return len(u.kids) < kid_cap and u.size < MAX_HOUSEHOLD

    unplaced: list[SynthPerson] = []
    rng.shuffle(kids)
    for kid in kids:
        center = kid.age + round(rng.triangular(21, 40, 28))
        buckets = core_buckets if rng.random() < 0.92 else single_buckets
        home = (buckets.find(rng, center, kid.age + 20, kid.age + 45, fits_kid)
                or core_buckets.find(rng, center, kid.age + 20, kid.age + 45, fits_kid)
                or single_buckets.find(rng, center, kid.age + 20, kid.age + 45, fits_kid)
                or staying_buckets.find(rng, kid.age + 55, kid.age + 40, kid.age + 80, fits_kid))
        if home is None:  # few adults of the right age (small scales): any family with room
            home = next((u for u in (*cores, *staying) if u.size < MAX_HOUSEHOLD and u.anchor >= kid.age + 16), None)
        if home is None:
            unplaced.append(kid)
        else:
            home.kids.append(kid)

    parent_buckets = _Buckets([*cores, *staying])
    for p in young_at_home:
        home = parent_buckets.find(rng, p.age + 28, p.age + 20, p.age + 45,
                                   lambda u: u.size < MAX_HOUSEHOLD and len(u.adult_children) < 2 and u.anchor > 35)
        if home is None:
            cores.append(_Unit([p], anchor=p.age))
        else:
            home.adult_children.append(p)

    family_buckets = _Buckets([u for u in cores if u.anchor >= 25])

    def room_for(incoming: int) -> Callable[[_Unit], bool]:
        return lambda f: not f.elders and f.size + incoming <= MAX_HOUSEHOLD

    for u in joining:
        home = family_buckets.find(rng, u.anchor - 28, u.anchor - 45, u.anchor - 20, room_for(len(u.members)))
        if home is None:
            staying.append(u)
        else:
            home.elders.extend(u.members)

    households = [_household(rng, u, elder=False) for u in cores]
    households += [_household(rng, u, elder=True) for u in staying]
    return households, institution, unplaced


def _household(rng: random.Random, u: _Unit, *, elder: bool) -> SynthHousehold:
    if len(u.members) == 2:
        husband, wife = u.members
        head, spouse = (husband, wife) if rng.random() < (0.8 if elder else 0.75) else (wife, husband)
        members = [head, spouse]
        head.relation, spouse.relation = "head", "spouse"
    else:
        head = u.members[0]
        members = [head]
        head.relation = "head"
    for kid in u.kids:
        kid.relation = "grandchild" if elder else "child"
    for child in u.adult_children:
        child.relation = "child"
    for parent in u.elders:
        parent.relation = "parent"
    members += u.adult_children + u.kids + u.elders
    if len(members) == 1:
        living = "alone"
    elif len(members) == 2 and len(u.members) == 2 and min(p.age for p in members) >= 60:
        living = "empty_nest"
    else:
        living = "with_family"
    for p in members:
        p.living = living
    return SynthHousehold(members=members)


# --- names, identifiers and health --------------------------------------------------------------


def _random_birthday(rng: random.Random, year: int, latest: date = date.max) -> date:
    first = date(year, 1, 1).toordinal()
    days = min(date(year + 1, 1, 1).toordinal() - first, latest.toordinal() - first + 1)
    return date.fromordinal(first + int(rng.random() * max(days, 1)))


def _name_household(rng: random.Random, hh: SynthHousehold, local: bool) -> None:
    family: dict[str, str] = {}
    for p in hh.members[:2]:
        if p.relation in ("head", "spouse"):
            family[p.gender] = surname(rng, local=local)
    father_name = family.get("M") or family.get("F") or surname(rng, local=local)
    for p in hh.members:
        if p.relation in ("head", "spouse"):
            last = family[p.gender]
        elif p.relation in ("child", "grandchild"):
            last = father_name if rng.random() < 0.9 else surname(rng, local=local)
        elif p.relation == "parent" and p.gender == "M" and rng.random() < 0.7:
            last = family.get("M", father_name)  # the husband's father shares the family name
        else:
            last = surname(rng, local=local)
        p.name = last + given_name(rng, p.gender, p.birth_date.year)


def _health(rng: random.Random, p: SynthPerson) -> None:
    age = p.age
    if rng.random() < _disability_share(age):
        p.disability_category = _disability(rng)
        r = rng.random()
        p.disability_grade = 1 if r < 0.12 else 2 if r < 0.32 else 3 if r < 0.60 else 4
    partial, dependent = _dependency(age)
    if p.living == "institution":
        partial, dependent = partial * 2, dependent * 3
    if p.disability_grade in (1, 2):
        partial, dependent = partial + 0.2, dependent + 0.1 * (3 - p.disability_grade)
    r = rng.random()
    p.self_care = "dependent" if r < dependent else "partial" if r < dependent + partial else "independent"
    flags: list[str] = []
    if age >= 18 and rng.random() < (0.18 if age >= 60 else 0.04):
        flags.append("chronic")
    if age >= 18 and rng.random() < 0.01:
        flags.append("serious_illness")
    if age >= 70 and rng.random() < (0.02 if age < 80 else 0.06 if age < 90 else 0.15):
        flags.append("dementia")
    if p.self_care == "dependent" and rng.random() < 0.5:
        flags.append("bedridden")
    if age >= 16 and rng.random() < (0.6 if p.disability_category == "mental" else 0.002):
        flags.append("mental_illness")
    p.health_flags = sorted(flags)


def _phones(rng: random.Random, p: SynthPerson) -> None:
    if rng.random() < _phone_share(p.age):
        p.phones = [make_mobile(rng)]
        if 18 <= p.age < 70 and rng.random() < 0.08:
            second = make_mobile(rng)
            if second != p.phones[0]:
                p.phones.append(second)


def _assign_id(rng: random.Random, ids: IdAllocator, p: SynthPerson) -> None:
    latest = p.deceased_on or REFERENCE_DATE
    for _ in range(200):
        number = ids.take(p.province, p.birth_date, p.gender)
        if number is not None:
            p.id_number = number
            p.hukou_region = number[:6]
            return
        p.birth_date = _random_birthday(rng, p.birth_date.year, latest)  # the birthday is full: move it
    raise RuntimeError("synthetic ID space exhausted for one birth year: lower the scale")


def _inactive(rng: random.Random, spec: ChunkSpec) -> list[SynthPerson]:
    """Residents who died or moved away in the five years before the reference date."""
    span = (REFERENCE_DATE - LIFE_EVENTS_FROM).days + 1
    out = []
    for _ in range(spec.deceased):
        r = rng.random()
        age = rng.randrange(20, 50) if r < 0.05 else rng.randrange(50, 70) if r < 0.2 else min(104, round(rng.triangular(70, 102, 86)))
        died = LIFE_EVENTS_FROM + timedelta(days=rng.randrange(span))
        local = rng.random() >= spec.migrant_share * 0.3
        p = SynthPerson(age=age, gender="M" if rng.random() < 0.52 else "F", local=local,
                        status="deceased", deceased_on=died)
        p.birth_date = _random_birthday(rng, died.year - age, died)
        out.append(p)
    for _ in range(spec.moved_out):
        age = round(rng.triangular(18, 66, 28))
        local = rng.random() >= min(0.9, spec.migrant_share * 1.3)
        p = SynthPerson(age=age, gender="M" if rng.random() < 0.53 else "F", local=local, status="moved_out",
                        moved_out_on=LIFE_EVENTS_FROM + timedelta(days=rng.randrange(span)))
        p.birth_date = _random_birthday(rng, REFERENCE_DATE.year - age)
        out.append(p)
    return out


# --- the chunk ----------------------------------------------------------------------------------


def _name_and_origin(rng: random.Random, households: list[SynthHousehold], *, local: bool) -> None:
    for h in households:
        province = "33" if local else _province(rng)
        for p in h.members:
            p.province = province
        _name_household(rng, h, local)


def _residents(rng: random.Random, ages: tuple[int, ...], *, local: bool) -> list[SynthPerson]:
    out = []
    year = REFERENCE_DATE.year
    for age, count in enumerate(ages):
        male = _male_share(age, local)
        for _ in range(count):
            p = SynthPerson(age=age, gender="M" if rng.random() < male else "F", local=local)
            p.birth_date = _random_birthday(rng, year - age)  # age on 31 December = year difference
            out.append(p)
    return out


def generate_chunk(spec: ChunkSpec) -> Chunk:
    rng = random.Random(f"{spec.seed}:{spec.division.code}")
    d = spec.division
    # Migrants first: a migrant child with no migrant adult of a fitting age in the village joins
    # the locals' pass (a child's hukou follows the family it lives with).
    migrants = _residents(rng, spec.migrant_ages, local=False)
    households, institution, orphans = _assemble(rng, migrants, local=False, urban=d.is_urban)
    _name_and_origin(rng, households, local=False)
    for kid in orphans:
        kid.local = True
    locals_ = _residents(rng, spec.local_ages, local=True) + orphans
    local_households, local_institution, orphans = _assemble(rng, locals_, local=True, urban=d.is_urban)
    _name_and_origin(rng, local_households, local=True)
    households += local_households
    institution += local_institution
    for kid in orphans:  # still nobody fitting: any household with an adult and room, else on their own
        home = next((h for h in households if len(h.members) < MAX_HOUSEHOLD and h.members[0].age >= 18), None)
        if home is None:
            kid.relation, kid.living = "head", "alone"
            households.append(SynthHousehold(members=[kid]))
            _name_and_origin(rng, households[-1:], local=True)
            continue
        kid.relation, kid.living, kid.province = "other", home.members[0].living, home.members[0].province
        kid.local = home.members[0].local
        kid.name = surname(rng, local=kid.local) + given_name(rng, kid.gender, kid.birth_date.year)
        home.members.append(kid)
        if home.members[0].living != "with_family":  # an elder alone or a couple now lives with a child
            for p in home.members:
                p.living = "with_family"
    rng.shuffle(households)  # interleave local and migrant households in key order
    inactive = _inactive(rng, spec)
    for p in institution + inactive:
        if not p.local:
            p.province = _province(rng)
        p.name = surname(rng, local=p.local) + given_name(rng, p.gender, p.birth_date.year)

    persons = [p for h in households for p in h.members] + institution + inactive
    assert len(persons) == spec.size, (len(persons), spec.size)  # noqa: S101 - the plan reserved these keys
    book = AddressBook(d, len(households))
    ids = IdAllocator(spec.index)
    for i, p in enumerate(persons):
        p.id = spec.first_id + i
        p.uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        _assign_id(rng, ids, p)
        if p.local and p.status == "active" and rng.random() < 0.85:
            p.hukou_division = d.code  # registered where they live (人户一致)
        _health(rng, p)
        _phones(rng, p)
    for h in households:
        h.id = h.members[0].id  # a head heads one household, so the head's key is free to reuse
        h.uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        h.address = book.dwelling(rng)
        for p in h.members:
            p.household_id = h.id
            p.address = h.address
    for p in institution:
        p.address = book.institution
    for p in inactive:
        p.address = book.dwelling(rng)
    return Chunk(spec=spec, persons=persons, households=households, stats=chunk_stats(persons, households))


def chunk_stats(persons: list[SynthPerson], households: list[SynthHousehold]) -> dict[str, int]:
    stats = dict.fromkeys(("active", "local", "aged_60", "aged_80_local", "alone_60", "empty_nest_60",
                           "institution", "disabled", "deceased", "moved_out"), 0)
    stats.update(persons=len(persons), households=len(households), phones=sum(len(p.phones) for p in persons))
    for p in persons:
        if p.status != "active":
            stats[p.status] += 1
            continue
        stats["active"] += 1
        stats["local"] += p.local
        stats["disabled"] += bool(p.disability_category)
        stats["institution"] += p.living == "institution"
        if p.age >= 60:
            stats["aged_60"] += 1
            stats["aged_80_local"] += p.age >= ELDER_AGE and p.local
            stats["alone_60"] += p.living == "alone"
            stats["empty_nest_60"] += p.living == "empty_nest"
    return stats
