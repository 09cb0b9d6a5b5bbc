"""Pure rules of the assistance app, with property tests on the payroll amounts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minzheng.assistance import domain
from minzheng.core.exceptions import ValidationFailed

ON = dt.date(2024, 6, 1)
FLAGS = domain.F_CO_RESIDENT | domain.F_HUKOU


def household(incomes: list[int], assets: int = 0) -> dict:
    members = [["head" if i == 0 else "spouse" if i == 1 else "child", 19700101 if i < 2 else 20100101, inc, FLAGS, 0, 0]
               for i, inc in enumerate(incomes)]
    return {"p": "dibao", "m": members, "a": [assets, 0, 0, 1, 0]}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 400_000), min_size=1, max_size=5), st.integers(0, 600_000))
def test_payroll_amounts_are_never_negative_and_never_rise_with_income(incomes, extra):
    base = domain.compute([household(incomes)], on=ON)
    richer = domain.compute([household([incomes[0] + extra, *incomes[1:]])], on=ON)
    assert base.amount_fen[0] >= 0
    assert richer.amount_fen[0] >= 0
    assert richer.amount_fen[0] <= base.amount_fen[0]
    if not base.eligible[0]:
        assert base.amount_fen[0] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 300_000), min_size=1, max_size=4), st.integers(0, 1_000_000))
def test_the_new_job_disregard_never_lowers_the_amount(incomes, job):
    plain = household(incomes)
    plain["m"][0][5] = job
    disregarded = household(incomes)
    disregarded["m"][0][5] = job
    disregarded["m"][0][3] |= domain.F_DISREGARD
    a, b = domain.compute([plain, disregarded], on=ON).amount_fen
    assert b >= a >= 0


def test_compute_runs_each_program_through_the_rules():
    rows = [household([80_000, 0]), domain.longevity_snapshot(dt.date(1930, 1, 1), True),
            {"p": "tekun", "b": 19400101, "f": [0, 0, 0, 0], "adl": 6},
            {"p": "children", "b": 20150101, "c": 1, "fam": 0}, {"p": "linshi", "amt": 12_345, "n": 2}]
    out = domain.compute(rows, on=ON)
    assert out.amount_fen.tolist() == [(125_900 - 40_000) * 2, 10_000, 209_800 + 228_000 * 80 // 100, 235_000, 12_345]
    assert out.persons.tolist() == [2, 1, 1, 1, 2]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.integers(-10**6, 10**6).filter(bool), max_size=4))
def test_adjustments_never_pay_below_zero_and_keep_the_debt(amount, adjustments):
    total, used, owed = domain.apply_adjustments(amount, adjustments)
    assert total >= 0
    assert owed <= 0
    assert total == amount + used
    assert used + owed == sum(adjustments)


def test_the_seal_covers_the_snapshot_and_every_amount():
    from dataclasses import replace

    base = domain.LineSealInput("k", "r", domain.beneficiary_ref(7, None), "p", "dibao", "regular", "2024-06", 2, 100, 0, 100)
    digest = domain.snapshot_digest(domain.canonical(household([1, 2])))
    seal = domain.line_seal(base, digest)
    assert len(seal) == 32 and seal == domain.line_seal(base, digest)
    assert domain.line_sealer()(base.header(), digest) == seal
    for change in ({"amount_fen": 101}, {"total_fen": 99}, {"persons": 3}, {"payment_key": "k2"},
                   {"for_month": "2024-07"}, {"adjustment_fen": -1}, {"person": "q"},
                   {"beneficiary": domain.beneficiary_ref(None, 7)}):
        assert domain.line_seal(replace(base, **change), digest) != seal
    assert domain.line_seal(base, domain.snapshot_digest(domain.canonical(household([1, 3])))) != seal
    with pytest.raises(ValueError):
        domain.line_seal(replace(base, program="di|bao"), digest).hex()


SNAPSHOT_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(SNAPSHOT_VALUES)
def test_canonical_json_is_the_stdlib_form_byte_for_byte(value):
    # Rolls frozen before the switch to orjson keep their digests: both writers agree on every
    # snapshot-shaped value, including non-ASCII text, control characters and key order.
    import json

    assert domain.canonical(value) == json.dumps(value, sort_keys=True, ensure_ascii=False,
                                                 separators=(",", ":")).encode()


@pytest.mark.parametrize(("name", "masked"), [("张三", "张*"), ("王秀英", "王*英"), ("欧阳娜娜", "欧**娜"), ("李", "李")])
def test_publicity_masks_names(name, masked):
    assert domain.mask_name(name) == masked


def test_full_identifiers_are_detected():
    assert domain.contains_full_identifier("330110194001011234")
    assert domain.contains_full_identifier("6228480012345678901")
    assert not domain.contains_full_identifier("330110********1234")


@pytest.mark.parametrize(("raw", "fen"), [("1259", 125_900), ("0.01", 1), ("1,234.50", 123_450), (12, 1_200)])
def test_yuan_to_fen_is_exact(raw, fen):
    assert domain.yuan_to_fen(raw, "x", maximum=10**9) == fen


@pytest.mark.parametrize("raw", ["-1", "1.001", "NaN", "Infinity", "", None, True, 1.5, "12元"])
def test_yuan_to_fen_refuses(raw):
    with pytest.raises(ValidationFailed):
        domain.yuan_to_fen(raw, "x", maximum=10**9)


def test_levels_and_authority():
    assert domain.actor_level("330110000000/") == "district"
    assert domain.actor_level("330110000000/330110005000/") == "township"
    assert domain.actor_level("330110000000/330110005000/330110005001/") == "community"
    assert domain.approval_level("dibao", 0, 125_900) == "district"
    assert domain.approval_level("linshi", 3 * 125_900, 125_900) == "township"
    assert domain.approval_level("linshi", 3 * 125_900 + 1, 125_900) == "district"
    assert domain.may_decide("330110000000/", "township")
    assert not domain.may_decide("330110000000/330110005000/", "district")


def test_months_and_quarters():
    assert domain.add_months(dt.date(2024, 11, 1), 3) == dt.date(2025, 2, 1)
    assert domain.months_between(dt.date(2024, 11, 1), dt.date(2025, 1, 1)) == [
        dt.date(2024, 11, 1), dt.date(2024, 12, 1), dt.date(2025, 1, 1)]
    assert domain.quarter_of(dt.date(2024, 12, 31)) == "2024Q4"
    assert domain.parse_month("2024-6") == dt.date(2024, 6, 1)
    with pytest.raises(ValidationFailed):
        domain.parse_month("June")
    assert domain.next_review(dt.date(2024, 9, 20), "unstable") == dt.date(2025, 3, 20)


def test_attachment_checks():
    assert domain.check_attachment("a.PDF", b"%PDF-1.7 x", max_bytes=100) == ("a.PDF", "application/pdf")
    with pytest.raises(ValidationFailed):
        domain.check_attachment("../../etc/x.jpg", b"GIF89a", max_bytes=100)
    name, _ = domain.check_attachment("../a.png", b"\x89PNG\r\n\x1a\n", max_bytes=100)
    assert "/" not in name
