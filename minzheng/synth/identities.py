"""Synthetic resident ID numbers and phone numbers. Pure code.

A synthetic ID number is valid under GB 11643 (region prefix, real birth date, check digit) and so
passes every validator, but it can never belong to a real person:

* the region code is ``PP 99 NN``: a real province ``PP`` with city code 99, which GB/T 2260 never
  assigns (Zhejiang residents get ``33 99 NN``);
* the sequence number is 900–999, its last digit odd for men and even for women as the standard says.

``is_synthetic_id`` recognises such numbers, e.g. to refuse them in production imports.
"""

from __future__ import annotations

import random
import re
from datetime import date

from minzheng.core.identifiers import PROVINCES, check_digit
from minzheng.synth.tables import MOBILE_PREFIXES

SYNTHETIC_CITY = "99"
FIRST_SEQUENCE = 900
SLOT_WIDTH = 10  # sequence numbers per slot: 5 odd (men) and 5 even (women)
SLOTS_PER_NN = (1000 - FIRST_SEQUENCE) // SLOT_WIDTH  # 10 slots in 900–999
MAX_SLOTS = 99 * SLOTS_PER_NN  # NN runs 01–99
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def is_synthetic_id(value: str) -> bool:
    """True for a valid ID number in the synthetic space (city code 99, sequence 900–999)."""
    v = (value or "").strip().upper()
    if not _ID_RE.match(v) or v[:2] not in PROVINCES or v[2:4] != SYNTHETIC_CITY or v[4:6] == "00":
        return False
    if not FIRST_SEQUENCE <= int(v[14:17]) <= 999:
        return False
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return check_digit(v[:17]) == v[17]


def make_id_number(province: str, nn: int, born: date, sequence: int) -> str:
    # str.format of the date parts: strftime costs more than the whole rest of a synthetic ID
    first17 = f"{province}{SYNTHETIC_CITY}{nn:02d}{born.year:04d}{born.month:02d}{born.day:02d}{sequence:03d}"
    return first17 + check_digit(first17)


class IdAllocator:
    """Hands out unique synthetic ID numbers inside one generation chunk.

    Chunks are generated independently (in parallel), so each owns a disjoint part of the number
    space: a ``slot`` fixes the region's NN and a band of ten sequence numbers. Inside the chunk
    five numbers per (province, birth date, gender) are available; when a birthday is full the
    caller moves the birth to another day of the same year (the age on the reference date, 31
    December, does not change).
    """

    def __init__(self, slot: int) -> None:
        if not 0 <= slot < MAX_SLOTS:
            raise ValueError(f"ID slot {slot} outside 0–{MAX_SLOTS - 1}: too many generation chunks")
        self.nn = slot % 99 + 1
        self.first = FIRST_SEQUENCE + (slot // 99) * SLOT_WIDTH
        self._used: dict[tuple[str, date, str], int] = {}

    def region(self, province: str) -> str:
        return f"{province}{SYNTHETIC_CITY}{self.nn:02d}"

    def take(self, province: str, born: date, gender: str) -> str | None:
        """The next free number for that birth date and gender, or None when all five are used."""
        key = (province, born, gender)
        n = self._used.get(key, 0)
        if n >= SLOT_WIDTH // 2:
            return None
        self._used[key] = n + 1
        sequence = self.first + 2 * n + (1 if gender == "M" else 0)
        return make_id_number(province, self.nn, born, sequence)


def make_mobile(rng: random.Random) -> str:
    """An 11-digit mobile number; the last eight digits are uniform, so tails spread evenly."""
    return MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))] + f"{int(rng.random() * 100_000_000):08d}"
