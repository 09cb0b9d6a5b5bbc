"""Resident ID numbers (GB 11643-1999) and phone numbers: validation, normalisation, masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minzheng.core.identifiers import (
    CHECK_CHARS,
    PROVINCES,
    WEIGHTS,
    IdentifierError,
    check_digit,
    id_birth_date,
    id_gender,
    mask_id_number,
    mask_phone,
    normalise_phone,
    parse_id_number,
)

TODAY = date(2025, 6, 30)
KNOWN_GOOD = "11010519491231002X"


@st.composite
def first17s(draw: st.DrawFn) -> str:
    """The first 17 digits of a plausible ID: real province, not a bare province code, real date."""
    province = draw(st.sampled_from(sorted(PROVINCES)))
    rest = draw(st.integers(min_value=1, max_value=9999))
    born = draw(st.dates(min_value=date(1890, 1, 1), max_value=TODAY))
    seq = draw(st.integers(min_value=0, max_value=999))
    return f"{province}{rest:04d}{born:%Y%m%d}{seq:03d}"


valid_ids = first17s().map(lambda f: f + check_digit(f))


def test_check_digit_catches_every_single_digit_error_in_principle():
    # Why the property below can hold: every weight is non-zero mod 11 and 11 is prime, so changing
    # one digit by 1..9 always changes the weighted sum mod 11; the 11 check characters are distinct.
    assert all(w % 11 for w in WEIGHTS)
    assert all(w * d % 11 for w in WEIGHTS for d in range(1, 10))
    assert len(set(CHECK_CHARS)) == 11


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failure
@given(first17s())
def test_every_valid_prefix_gets_a_check_digit_that_validates(first17):
    value = first17 + check_digit(first17)

    assert parse_id_number(value, today=TODAY) == value
    assert id_birth_date(value) == date(
        int(first17[6:10]), int(first17[10:12]), int(first17[12:14])
    )


@settings(deadline=None)
@given(valid_ids, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_character_change_is_rejected(value, position, replacement):
    if (position < 17 and replacement == "X") or value[position] == replacement:
        return  # not a single-digit change of this ID
    altered = value[:position] + replacement + value[position + 1 :]

    with pytest.raises(IdentifierError):
        parse_id_number(altered, today=TODAY)


def test_exhaustive_single_digit_errors_of_the_known_good_id():
    for position in range(18):
        for replacement in "0123456789" + ("X" if position == 17 else ""):
            if KNOWN_GOOD[position] == replacement:
                continue
            altered = KNOWN_GOOD[:position] + replacement + KNOWN_GOOD[position + 1 :]
            with pytest.raises(IdentifierError):
                parse_id_number(altered, today=TODAY)


@settings(deadline=None)
@given(valid_ids)
def test_masking_hides_the_birth_date_and_keeps_at_most_ten_characters(value):
    masked = mask_id_number(value)

    assert len(masked) == 18
    assert sum(c != "*" for c in masked) <= 10
    assert masked[6:14] == "*" * 8
    assert value[6:14] not in masked
    assert masked == value[:6] + "********" + value[-4:]


def test_known_good_id():
    assert parse_id_number(KNOWN_GOOD) == KNOWN_GOOD
    assert id_birth_date(KNOWN_GOOD) == date(1949, 12, 31)
    assert id_gender(KNOWN_GOOD) == "F"
    assert mask_id_number(KNOWN_GOOD) == "110105********002X"


def test_lowercase_x_and_spaces_are_normalised():
    assert parse_id_number(" 110105 19491231 002x ") == KNOWN_GOOD


@pytest.mark.parametrize(
    ("first17", "message"),
    [
        ("33011019990230123", "出生日期无效"),  # 30 February
        ("33011019991301123", "出生日期无效"),  # month 13
        ("33011018891231123", "出生日期不合理"),  # before 1890
        ("99011019800101123", "地区码无效"),  # no province 99
        ("00011019800101123", "地区码无效"),
        ("33000019800101123", "地区码无效"),  # a bare province code is not a region
    ],
)
def test_impossible_ids_are_refused_with_the_reason(first17, message):
    with pytest.raises(IdentifierError, match=message):
        parse_id_number(first17 + check_digit(first17), today=TODAY)


def test_future_birth_is_refused():
    first17 = "33011020250701123"  # born the day after TODAY

    with pytest.raises(IdentifierError, match="出生日期不合理"):
        parse_id_number(first17 + check_digit(first17), today=TODAY)


def test_born_today_is_accepted():
    first17 = f"330110{TODAY:%Y%m%d}123"

    assert parse_id_number(first17 + check_digit(first17), today=TODAY)


@pytest.mark.parametrize(
    "raw",
    ["", "1101051949123100", "11010519491231002Y", "11010519491231002XX", "ABCDEFGHIJKLMNOPQR"],
)
def test_malformed_ids_are_refused(raw):
    with pytest.raises(IdentifierError, match="18位"):
        parse_id_number(raw)


def test_wrong_check_digit_is_refused():
    with pytest.raises(IdentifierError, match="校验码错误"):
        parse_id_number("110105194912310021")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800001111", "13800001111"),
        ("+86 138 0000 1111", "13800001111"),
        ("0086-13800001111".replace("-", ""), "13800001111"),
        ("0571-88776655", "057188776655"),
        ("(0571)88776655", "057188776655"),
    ],
)
def test_phones_are_normalised(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "12800001111", "1380000111", "138000011112", "abc"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(IdentifierError, match="电话号码格式不正确"):
        normalise_phone(raw)


def test_phone_masking():
    assert mask_phone("13800001111") == "138****1111"
