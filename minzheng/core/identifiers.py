"""Chinese identifiers: the resident ID number (GB 11643-1999) and phone numbers. Pure code.

Each parser returns the normalised value or raises ``IdentifierError`` whose message is the
Chinese text a user sees.
"""

from __future__ import annotations

import re
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# GB/T 2260 province-level prefixes (the first two digits of every valid region code).
PROVINCES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"]
)
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
OLDEST_BIRTH = date(1890, 1, 1)


class IdentifierError(ValueError):
    pass


def check_digit(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalise_id_number(raw: str) -> str:
    return (raw or "").strip().replace(" ", "").upper()


def parse_id_number(raw: str, *, today: date | None = None) -> str:
    """Validate an 18-digit ID number: format, region, birth date and check digit."""
    value = normalise_id_number(raw)
    if not _ID_RE.match(value):
        raise IdentifierError("身份证号须为18位,最后一位可为数字或X")
    if value[:2] not in PROVINCES or value[2:6] == "0000":
        raise IdentifierError("身份证号的地区码无效")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdentifierError("身份证号中的出生日期无效") from None
    if born < OLDEST_BIRTH or born > (today or date.today()):  # noqa: DTZ011
        raise IdentifierError("身份证号中的出生日期不合理")
    if check_digit(value[:17]) != value[17]:
        raise IdentifierError("身份证号校验码错误")
    return value


def id_birth_date(value: str) -> date:
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_gender(value: str) -> str:
    return "M" if int(value[16]) % 2 else "F"


def mask_id_number(value: str) -> str:
    """``330110********123X``: region kept for context, birth date and sequence hidden (DP-2)."""
    return value[:6] + "*" * 8 + value[-4:] if len(value) == 18 else "*" * len(value)


def normalise_phone(raw: str) -> str:
    value = re.sub(r"[\s()（）]", "", raw or "")
    value = value.removeprefix("+86").removeprefix("0086")
    if _MOBILE_RE.match(value):
        return value
    if _LANDLINE_RE.match(value):
        return value.replace("-", "")
    raise IdentifierError("电话号码格式不正确(11位手机号或带区号的固定电话)")


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else value[:3] + "***" + value[-4:]


def mask_name(name: str) -> str:
    """Names on screens that are not the person's record (publicity lists, the canteen till, the
    monitoring wall): 张三 → 张*, 王秀英 → 王*英, 欧阳娜娜 → 欧**娜 (first and last character kept)."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def phone_tail(value: str) -> str:
    return value[-4:]
