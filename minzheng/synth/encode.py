"""Turn a generated chunk into database rows: seal identifiers, then encode for the loader.

No Django here: workers of a process pool run this (sealing is the CPU cost of a seed). The sealed
and masked forms are built exactly as ``people.services`` builds them (``person_create``,
``_seal_phones``, ``household_create``), so a seeded person reveals like a registered one.

Two encodings: PostgreSQL's binary COPY format (one ``bytes`` per table and chunk, written
straight into ``COPY … FROM STDIN (FORMAT BINARY)``), and parameter tuples for SQLite's
``executemany``. Columns come from the models (``TableSpec``), so a new model field with a default
is filled without touching this module.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from minzheng.core import crypto
from minzheng.core.identifiers import mask_id_number, mask_phone
from minzheng.people.domain import mask_address, name_initials
from minzheng.synth.population import Chunk

PERSON, HOUSEHOLD, PHONE = "person", "household", "phone"
# The columns (attnames) sealed_rows fills; the loader gives any other column its model default.
GENERATED: dict[str, frozenset[str]] = {
    HOUSEHOLD: frozenset({"id", "created_at", "updated_at", "uid", "division_id", "area_path", "address_sealed",
                          "address_masked"}),
    PERSON: frozenset({
        "id", "created_at", "updated_at", "uid", "name", "name_initials", "gender", "birth_date", "id_sealed",
        "id_bidx", "id_masked", "hukou_region", "hukou_division_id", "hukou_in_zhejiang", "division_id",
        "area_path", "address_sealed", "address_masked", "household_id", "relation_to_head",
        "living_arrangement", "disability_category", "disability_grade", "self_care", "health_flags", "tags",
        "status", "deceased_on", "moved_out_on",
    }),
    PHONE: frozenset({"person_id", "label", "sealed", "bidx", "masked", "tail"}),
}


@dataclass(frozen=True)
class TableSpec:
    """A table as the loader writes it: columns in order, each with its attname and value kind."""

    key: str  # HOUSEHOLD, PERSON or PHONE
    table: str
    columns: tuple[str, ...]
    attnames: tuple[str, ...]
    kinds: tuple[str, ...]  # int8 int4 int2 text bytea bool date timestamptz uuid jsonb
    defaults: tuple[Any, ...]


@dataclass
class EncodedChunk:
    index: int
    payloads: dict[str, Any]  # table key → bytes (binary COPY) or list of tuples (SQLite)
    rows: dict[str, int]
    stats: dict[str, int]


# --- sealing ------------------------------------------------------------------------------------
# Associated data as people.services._aad builds it: f"{kind}|{field}|{uid}".


def sealed_rows(chunk: Chunk, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Row dicts keyed by attname, with identifiers sealed, indexed and masked."""
    seal, blind_index = crypto.seal, crypto.blind_index
    division = chunk.spec.division
    households = []
    for h in chunk.households:
        households.append({
            "id": h.id, "created_at": now, "updated_at": now, "uid": h.uid,
            "division_id": division.code, "area_path": division.path,
            "address_sealed": seal(h.address, f"household|address|{h.uid}"),
            "address_masked": mask_address(h.address),
        })
    persons = []
    phones = []
    for p in chunk.persons:
        uid = str(p.uid)
        persons.append({
            "id": p.id, "created_at": now, "updated_at": now, "uid": p.uid,
            "name": p.name, "name_initials": name_initials(p.name), "gender": p.gender,
            "birth_date": p.birth_date,
            "id_sealed": seal(p.id_number, f"person|id_number|{uid}"),
            "id_bidx": blind_index("id", p.id_number),
            "id_masked": mask_id_number(p.id_number),
            "hukou_region": p.hukou_region, "hukou_division_id": p.hukou_division,
            "hukou_in_zhejiang": p.local,
            "division_id": division.code, "area_path": division.path,
            "address_sealed": seal(p.address, f"person|address|{uid}") if p.address else None,
            "address_masked": mask_address(p.address) if p.address else "",
            "household_id": p.household_id, "relation_to_head": p.relation,
            "living_arrangement": p.living,
            "disability_category": p.disability_category, "disability_grade": p.disability_grade,
            "self_care": p.self_care, "health_flags": p.health_flags, "tags": [],
            "status": p.status, "deceased_on": p.deceased_on, "moved_out_on": p.moved_out_on,
        })
        for i, number in enumerate(p.phones):
            phones.append({
                "person_id": p.id, "label": "本人" if i == 0 else "其他",
                "sealed": seal(number, f"person|phone:{i}|{uid}"),
                "bidx": blind_index("phone", number),
                "masked": mask_phone(number), "tail": number[-4:],
            })
    return {HOUSEHOLD: households, PERSON: persons, PHONE: phones}


# --- PostgreSQL binary COPY -----------------------------------------------------------------------
# Each encoder returns the field as COPY wants it: a 4-byte length, then the value in binary.

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_PG_DATE_EPOCH = date(2000, 1, 1).toordinal()
_PG_TS_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NULL = struct.pack(">i", -1)
_pack_len = struct.Struct(">i").pack
_pack_q, _pack_i, _pack_h = struct.Struct(">q").pack, struct.Struct(">i").pack, struct.Struct(">h").pack


def _sized(b: bytes) -> bytes:
    return _pack_len(len(b)) + b


def _text(v: str) -> bytes:
    b = v.encode()
    return _pack_len(len(b)) + b


def _ts(v: datetime) -> bytes:
    delta = v - _PG_TS_EPOCH
    return b"\x00\x00\x00\x08" + _pack_q((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


@lru_cache(maxsize=4096)
def _jsonb(value: str) -> bytes:
    return _sized(b"\x01" + value.encode())


_PG_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "int8": lambda v: b"\x00\x00\x00\x08" + _pack_q(v),
    "int4": lambda v: b"\x00\x00\x00\x04" + _pack_i(v),
    "int2": lambda v: b"\x00\x00\x00\x02" + _pack_h(v),
    "text": _text,
    "bytea": _sized,
    "bool": lambda v: b"\x00\x00\x00\x01\x01" if v else b"\x00\x00\x00\x01\x00",
    "date": lambda v: b"\x00\x00\x00\x04" + _pack_i(v.toordinal() - _PG_DATE_EPOCH),
    "timestamptz": _ts,
    "uuid": lambda v: b"\x00\x00\x00\x10" + v.bytes,
    # health flags and tags are short lists drawn from a few values: encode each distinct one once
    "jsonb": lambda v: _jsonb(json.dumps(v, ensure_ascii=False)),
}


def _field_plan(spec: TableSpec, encoders: dict[str, Callable[[Any], Any]], *, binary: bool) -> list[tuple[str, Any, Any]]:
    """Per column: (attname, encoder, None) for generated values, or ("", None, constant)."""
    plan: list[tuple[str, Any, Any]] = []
    for attname, kind, default in zip(spec.attnames, spec.kinds, spec.defaults, strict=True):
        enc = encoders[kind]
        if attname in GENERATED[spec.key]:
            plan.append((attname, enc, None))
        else:
            plan.append(("", None, (_NULL if binary else None) if default is None else enc(default)))
    return plan


def encode_copy(spec: TableSpec, rows: Sequence[dict[str, Any]]) -> bytes:
    """A complete binary COPY stream (header, tuples, trailer) for ``rows``."""
    plan = _field_plan(spec, _PG_ENCODERS, binary=True)
    count = _pack_h(len(spec.columns))
    null = _NULL
    out = [COPY_HEADER]
    append = out.append
    for row in rows:
        append(count)
        for attname, enc, constant in plan:
            if enc is None:
                append(constant)
            else:
                v = row[attname]
                append(null if v is None else enc(v))
    append(COPY_TRAILER)
    return b"".join(out)


# --- SQLite parameters --------------------------------------------------------------------------


def _sqlite_ts(v: datetime) -> str:
    # Django's SQLite backend stores aware datetimes as naive UTC text (USE_TZ = True).
    return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


_SQLITE_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "int8": int, "int4": int, "int2": int, "text": str, "bytea": bytes,
    "bool": lambda v: 1 if v else 0,
    "date": lambda v: v.isoformat(),
    "timestamptz": _sqlite_ts,
    "uuid": lambda v: v.hex,  # Django's char(32) UUID column
    "jsonb": json.dumps,
}


def encode_params(spec: TableSpec, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    plan = _field_plan(spec, _SQLITE_ENCODERS, binary=False)
    out = []
    for row in rows:
        values = []
        for attname, enc, constant in plan:
            if enc is None:
                values.append(constant)
            else:
                v = row[attname]
                values.append(None if v is None else enc(v))
        out.append(tuple(values))
    return out


def encode_chunk(chunk: Chunk, specs: dict[str, TableSpec], *, binary_copy: bool, now: datetime) -> EncodedChunk:
    rows = sealed_rows(chunk, now)
    encode = encode_copy if binary_copy else encode_params
    return EncodedChunk(
        index=chunk.spec.index,
        payloads={key: encode(specs[key], rows[key]) for key in (HOUSEHOLD, PERSON, PHONE)},
        rows={key: len(rows[key]) for key in rows},
        stats=chunk.stats,
    )
