"""`minzheng seed`: a small district on the test database, checked the way a user would see it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from conftest import DISTRICT, synthetic_id
from minzheng.core import crypto, seeding
from minzheng.core.identifiers import check_digit, parse_id_number
from minzheng.people.domain import mask_address, name_initials
from minzheng.people.models import Household, Person, PersonPhone
from minzheng.people.selectors import person_search
from minzheng.people.services import person_reveal
from minzheng.synth import is_synthetic_id
from minzheng.synth.identities import IdAllocator
from minzheng.synth.load import division_infos
from minzheng.synth.plan import ELDERS_80_LOCAL_AT_SCALE_1, REFERENCE_DATE, make_plan
from minzheng.synth.population import generate_chunk
from minzheng.synth.runner import SeedRefused, run_seed

SCALE = 0.002  # about 2,600 residents: a few seconds on SQLite
ADULTS_BORN_BEFORE = date(2000, 1, 1)


def age(born: date) -> int:
    return REFERENCE_DATE.year - born.year - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (born.month, born.day))


def seed(scale: float = SCALE, seed: int = 1, **kw: Any) -> Any:
    kw.setdefault("workers", 0)
    return run_seed(scale=scale, seed=seed, progress=False, **kw)


def snapshot() -> list[tuple[str, str, str, str]]:
    return list(Person.objects.order_by("id").values_list("name", "id_masked", "division_id", "address_masked"))


@pytest.fixture(autouse=True)
def no_domain_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry on its own: other apps' seed steps are their tests' business."""
    monkeypatch.setattr(seeding, "_steps", {})


@pytest.fixture
def district_admin(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=("district_admin",), division=DISTRICT)


# --- the population ---------------------------------------------------------------------------


def test_scale_gives_about_1300_residents_per_thousandth(db: Any) -> None:
    report = seed()

    assert 2_550 <= report.active <= 2_650
    assert report.persons == Person.objects.count() > report.active  # plus deceased and moved-out records
    # mean household size: ≈2.2 at scale 0.1, smaller here where a village has only a dozen people
    assert 0.4 * report.active <= report.households == Household.objects.count() <= 0.7 * report.active
    villages = {d.code for d in division_infos()}
    assert set(Person.objects.values_list("division_id", flat=True)) <= villages
    assert not Person.objects.filter(division_id="330110010400").exists()  # 类似社区: not a 民政 unit


def test_the_80_plus_zhejiang_hukou_figure_is_calibrated_at_any_scale(db: Any) -> None:
    report = seed()

    target = ELDERS_80_LOCAL_AT_SCALE_1 * SCALE
    assert abs(report.elders_80_local - target) <= max(2, 0.03 * target)
    born_by = date(1943, 12, 31)
    counted = Person.objects.filter(status="active", hukou_in_zhejiang=True, birth_date__lte=born_by).count()
    assert counted == report.elders_80_local
    assert any(str(report.elders_80_local) in line for line in report.lines())


def test_the_plan_hits_18700_at_full_scale_without_generating_it(db: Any) -> None:
    plan = make_plan(division_infos(), scale=1.0, seed=7)

    assert plan.expected_elders_80_local == pytest.approx(18_700)
    planned = sum(sum(c.local_ages[80:]) for c in plan.chunks)
    assert abs(planned - 18_700) <= 1
    assert 1_295_000 <= sum(sum(c.local_ages) + sum(c.migrant_ages) for c in plan.chunks) <= 1_305_000


def test_working_age_residents_are_often_migrants_and_elders_mostly_local(db: Any) -> None:
    seed()

    people = [(age(b), local) for b, local in Person.objects.filter(status="active").values_list("birth_date", "hukou_in_zhejiang")]
    working = [local for a, local in people if 20 <= a < 60]
    elders = [local for a, local in people if a >= 80]
    assert 0.3 <= 1 - sum(working) / len(working) <= 0.65
    assert sum(elders) / len(elders) >= 0.85
    share_60 = sum(a >= 60 for a, _ in people) / len(people)
    assert 0.10 <= share_60 <= 0.22


def test_western_towns_are_older_and_more_local_than_the_jiedao(db: Any) -> None:
    seed(scale=0.01)

    def figures(prefixes: tuple[str, ...]) -> tuple[float, float]:
        rows = [(age(b), local) for b, local, path in
                Person.objects.filter(status="active").values_list("birth_date", "hukou_in_zhejiang", "area_path")
                if path.split("/")[1][6:9] in prefixes]
        return sum(a >= 60 for a, _ in rows) / len(rows), sum(local for _, local in rows) / len(rows)

    west_old, west_local = figures(("109", "110", "111", "112", "113"))
    urban_old, urban_local = figures(("005", "012"))  # 五常, 仓前
    assert west_old > urban_old
    assert west_local > urban_local + 0.2


def test_disability_self_care_health_and_life_events_are_realistic(db: Any) -> None:
    seed(scale=0.01)

    active = Person.objects.filter(status="active")
    total = active.count()
    disabled = active.exclude(disability_category="")
    assert 0.045 <= disabled.count() / total <= 0.075
    assert set(disabled.values_list("disability_grade", flat=True)) <= {1, 2, 3, 4}
    assert not active.filter(disability_category="", disability_grade__isnull=False).exists()
    old = active.filter(birth_date__lte=date(1933, 12, 31))  # 90+
    young_old = active.filter(birth_date__gt=date(1953, 12, 31), birth_date__lte=date(1963, 12, 31))  # 60–69
    dependent = lambda qs: qs.exclude(self_care="independent").count() / max(qs.count(), 1)  # noqa: E731
    assert dependent(young_old) < dependent(old)
    assert active.filter(birth_date__lte=date(1963, 12, 31), self_care="independent").count() / max(
        active.filter(birth_date__lte=date(1963, 12, 31)).count(), 1) > 0.8
    flagged = sum(1 for flags in active.values_list("health_flags", flat=True) if flags)
    assert 0.02 < flagged / total < 0.25
    deceased = Person.objects.filter(status="deceased")
    assert deceased.exists()
    assert not deceased.filter(deceased_on__isnull=True).exists()
    assert all(d >= b for b, d in deceased.values_list("birth_date", "deceased_on"))
    moved = Person.objects.filter(status="moved_out")
    assert moved.exists()
    assert not moved.filter(moved_out_on__isnull=True).exists()


# --- households -----------------------------------------------------------------------------


def test_every_household_has_one_head_and_consistent_living_arrangements(db: Any) -> None:
    seed()

    members: dict[int, list[tuple[str, str, int, str, str]]] = {}
    for hh, relation, living, born, division, address in Person.objects.filter(household__isnull=False).values_list(
        "household_id", "relation_to_head", "living_arrangement", "birth_date", "division_id", "address_masked"
    ):
        members.setdefault(hh, []).append((relation, living, age(born), division, address))
    households = {h.id: h for h in Household.objects.all()}
    assert set(members) == set(households)
    sizes = Counter(len(m) for m in members.values())
    assert set(sizes) <= {1, 2, 3, 4, 5, 6}
    assert sizes[1]
    assert sizes[2]
    assert sizes[3]
    assert sizes[4]
    saw_alone_elder = saw_empty_nest = False
    for hh, people in members.items():
        relations = [r for r, *_ in people]
        assert relations.count("head") == 1
        assert relations.count("spouse") <= 1
        assert len({living for _, living, *_ in people}) == 1
        assert {division for *_, division, _ in people} == {households[hh].division_id}
        assert {address for *_, address in people} == {households[hh].address_masked}
        living = people[0][1]
        if len(people) == 1:
            assert living == "alone"
            saw_alone_elder |= people[0][2] >= 60
        elif len(people) == 2 and sorted(relations) == ["head", "spouse"] and min(a for _, _, a, *_ in people) >= 60:
            assert living == "empty_nest"
            saw_empty_nest = True
        else:
            assert living == "with_family"
    assert saw_alone_elder
    assert saw_empty_nest
    outside = Person.objects.filter(household__isnull=True)
    assert set(outside.filter(status="active").values_list("living_arrangement", flat=True)) <= {"institution"}
    assert not outside.exclude(relation_to_head="").exists()


def test_children_live_with_adults_of_a_plausible_age(db: Any) -> None:
    seed(scale=0.01)

    by_household: dict[int, list[tuple[str, int]]] = {}
    for hh, relation, born in Person.objects.filter(household__isnull=False).values_list(
        "household_id", "relation_to_head", "birth_date"
    ):
        by_household.setdefault(hh, []).append((relation, age(born)))
    minors_alone = [m for m in by_household.values() if all(a < 18 for _, a in m)]
    assert len(minors_alone) <= 2  # only where a village has no adult of a fitting age at tiny scales
    for people in by_household.values():
        heads = [a for r, a in people if r == "head"]
        for relation, a in people:
            if relation == "child" and heads[0] >= 18:
                assert heads[0] - a >= 14 or any(r == "spouse" and s - a >= 14 for r, s in people)


# --- names and identifiers --------------------------------------------------------------------


def test_names_are_chinese_with_their_pinyin_initials(db: Any) -> None:
    seed()

    rows = list(Person.objects.values_list("name", "name_initials", "gender", "birth_date"))
    assert all(2 <= len(n) <= 4 for n, *_ in rows)
    assert all(initials == name_initials(n) for n, initials, *_ in rows)
    surnames = Counter(n[0] for n, *_ in rows)
    assert {"王", "陈", "张", "李"} <= {s for s, _ in surnames.most_common(8)}
    assert len({n for n, *_ in rows}) > 0.8 * len(rows)
    elder_women = [n for n, _, g, b in rows if g == "F" and b.year < 1950]
    assert any(n[-1] in "英兰珍芳" for n in elder_women)


def test_every_id_number_is_valid_synthetic_unique_and_matches_the_person(db: Any, district_admin: Any) -> None:
    seed()

    plan = make_plan(division_infos(), scale=SCALE, seed=1)
    seen = set()
    for spec in plan.chunks:
        for p in generate_chunk(spec).persons:
            number = p.id_number
            assert parse_id_number(number) == number
            assert is_synthetic_id(number)
            assert number[2:4] == "99"
            assert 900 <= int(number[14:17]) <= 999
            assert (number[:2] == "33") == p.local
            assert int(number[16]) % 2 == (1 if p.gender == "M" else 0)
            assert number[6:14] == p.birth_date.strftime("%Y%m%d")
            seen.add(number)
    assert len(seen) == Person.objects.count()
    assert Person.objects.values("id_bidx").distinct().count() == Person.objects.count()
    stored = Person.objects.values_list("hukou_region", "hukou_in_zhejiang")
    assert all(region.startswith("33") == local for region, local in stored)


def test_is_synthetic_id_recognises_only_the_synthetic_space() -> None:
    first17 = "33990119500101" + "951"
    assert is_synthetic_id(first17 + check_digit(first17))
    assert is_synthetic_id((first17 + check_digit(first17)).lower())
    assert not is_synthetic_id(first17 + ("0" if check_digit(first17) != "0" else "1"))  # bad check digit
    assert not is_synthetic_id(synthetic_id(seq=101))  # city 99 but an ordinary sequence number
    real_city = "33011018950101951"
    assert not is_synthetic_id(real_city + check_digit(real_city))
    bad_date = "33990119500230951"
    assert not is_synthetic_id(bad_date + check_digit(bad_date))
    assert not is_synthetic_id("")


def test_id_slots_of_different_chunks_never_overlap() -> None:
    born = date(1990, 5, 17)
    numbers = set()
    for slot in range(0, 990, 7):
        ids = IdAllocator(slot)
        for gender in "MF":
            for _ in range(5):
                number = ids.take("34", born, gender)
                assert number is not None
                assert number not in numbers
                numbers.add(number)
            assert ids.take("34", born, gender) is None
    with pytest.raises(ValueError, match="too many"):
        IdAllocator(990)


def test_phones_are_mobile_numbers_with_spread_tails(db: Any) -> None:
    seed(scale=0.01)

    adults = Person.objects.filter(status="active", birth_date__range=(date(1960, 1, 1), date(2004, 12, 31)))
    with_phone = adults.filter(phones__isnull=False).distinct().count()
    assert with_phone / adults.count() > 0.9
    phones = list(PersonPhone.objects.values_list("masked", "tail", "label"))
    assert all(m[0] == "1" and m[1] in "3456789" and len(m) == 11 and m.endswith(t) for m, t, _ in phones)
    tails = Counter(t for _, t, _ in phones)
    assert len(tails) > 0.6 * min(len(phones), 10_000) * 0.9
    assert tails.most_common(1)[0][1] <= 8
    assert {label for *_, label in phones} == {"本人", "其他"}


def test_addresses_follow_the_district_conventions(db: Any, district_admin: Any) -> None:
    seed()

    adults = Person.objects.filter(household__isnull=False, birth_date__lt=ADULTS_BORN_BEFORE)  # minors need approval
    communities = adults.filter(division__name__endswith="社区")[:30]
    villages = adults.filter(division__name__endswith="村委会")[:30]
    for p in communities:
        address = person_reveal(actor=district_admin, person=p, field="address", reason="测试地址格式")
        assert address.startswith("浙江省杭州市余杭区")
        assert all(part in address for part in ("号", "幢", "单元", "室"))
        assert p.address_masked == mask_address(address)
    for p in villages:
        address = person_reveal(actor=district_admin, person=p, field="address", reason="测试地址格式")
        assert address.startswith("浙江省杭州市余杭区")
        assert p.division.short_name in address
        assert "组" in address
        assert address.endswith("号")


# --- stored exactly as the services store it --------------------------------------------------


def test_a_seeded_person_reveals_and_searches_like_a_registered_one(db: Any, district_admin: Any) -> None:
    seed()

    plan = make_plan(division_infos(), scale=SCALE, seed=1)
    generated = {p.uid: p for spec in plan.chunks[:20] for p in generate_chunk(spec).persons}
    checked = 0
    adults = Person.objects.filter(uid__in=list(generated), birth_date__lt=ADULTS_BORN_BEFORE)  # minors need approval
    for person in adults.order_by("id")[:40]:
        truth = generated[person.uid]
        assert person_reveal(actor=district_admin, person=person, field="id_number", reason="核对身份") == truth.id_number
        assert person_reveal(actor=district_admin, person=person, field="address", reason="核对地址") == truth.address
        assert person_reveal(actor=district_admin, person=person, field="phone", reason="核对电话") == "、".join(truth.phones)
        assert person.id_masked == truth.id_number[:6] + "********" + truth.id_number[-4:]
        mode, found = person_search(actor=district_admin, query=truth.id_number)
        assert mode.mode == "id_number"
        assert [p.pk for p in found] == [person.pk]
        if truth.phones:
            mode, found = person_search(actor=district_admin, query=truth.phones[0])
            assert mode.mode == "phone"
            assert person.pk in [p.pk for p in found]
            mode, found = person_search(actor=district_admin, query=truth.phones[0][-4:])
            assert mode.mode == "phone_tail"
            assert (person.pk in [p.pk for p in found] or len(found) == 50)
        if person.household_id:
            household = person.household
            assert household is not None
            sealed = bytes(household.address_sealed)
            assert crypto.unseal(sealed, f"household|address|{household.uid}") == truth.address
            assert household.address_masked == person.address_masked == mask_address(truth.address)
        checked += 1
    assert checked == 40


# --- determinism, refusal, reset, domain steps ------------------------------------------------


def test_the_same_seed_gives_the_same_district_and_another_seed_another(db: Any) -> None:
    seed(seed=5)
    first = snapshot()
    seed(seed=5, reset=True)
    assert snapshot() == first
    seed(seed=6, reset=True)
    other = snapshot()
    assert other != first
    assert len({n for n, *_ in other} & {n for n, *_ in first}) < 0.5 * len(first)


def test_generation_is_deterministic_per_village(db: Any) -> None:
    spec = make_plan(division_infos(), scale=0.01, seed=3).chunks[40]
    a, b = generate_chunk(spec), generate_chunk(spec)
    assert [(p.uid, p.name, p.id_number, p.address, p.phones) for p in a.persons] == [
        (p.uid, p.name, p.id_number, p.address, p.phones) for p in b.persons]


def test_seed_refuses_a_database_with_persons_unless_reset(db: Any, make_person: Callable[..., Any]) -> None:
    make_person()

    with pytest.raises(SeedRefused, match="--reset"):
        seed()
    assert Person.objects.count() == 1
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed", "--scale", "0.001", "--workers", "0", "--no-progress")

    seed(reset=True)
    assert Person.objects.count() > 2_000
    assert not Person.objects.filter(name="张三").exists()


def test_registered_domain_steps_run_after_the_registry_with_one_context(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float, int, int]] = []

    def step(name: str) -> Callable[[seeding.SeedContext], None]:
        def run(ctx: seeding.SeedContext) -> None:
            calls.append((name, ctx.scale, ctx.seed, Person.objects.count()))
            ctx.progress(name, 1, 1)
            ctx.stats[name] = ctx.rng(name).random()

        return run

    seeding.register_seed_step(seeding.SeedStep("late", step("late"), order=300))
    seeding.register_seed_step(seeding.SeedStep("early", step("early"), order=100))

    seed(seed=9)

    assert [c[0] for c in calls] == ["early", "late"]
    assert all(c[1] == SCALE and c[2] == 9 and c[3] > 2_000 for c in calls)


def test_the_command_prints_the_achieved_figures(db: Any, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed", "--scale", "0.002", "--seed", "4", "--workers", "0", "--no-progress")

    out = capsys.readouterr().out
    assert "80+ Zhejiang hukou" in out
    assert "target 37" in out
    assert "households" in out
    with pytest.raises(CommandError, match="scale"):
        call_command("seed", "--scale", "0", "--workers", "0", "--no-progress")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_processes_and_copy_give_the_same_district_as_one_process(require_postgres: None) -> None:
    seed(scale=0.001, seed=11, workers=2)  # no caller transaction: forked workers and COPY
    pooled = snapshot()
    with_keys = list(Person.objects.order_by("id").values_list("id", "uid", "household_id"))

    run_seed(scale=0.001, seed=11, reset=True, workers=0, progress=False)

    assert snapshot() == pooled
    assert list(Person.objects.order_by("id").values_list("id", "uid", "household_id")) == with_keys
    seed_again = run_seed(scale=0.001, seed=11, reset=True, workers=2, progress=False)
    assert abs(seed_again.elders_80_local - ELDERS_80_LOCAL_AT_SCALE_1 * 0.001) < 1
