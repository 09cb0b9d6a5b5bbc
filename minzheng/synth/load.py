"""Loading generated rows into the people registry: COPY on PostgreSQL, executemany on SQLite.

The tables' columns come from the models, so the loader writes whatever the models define. On
PostgreSQL the secondary indexes, unique and foreign-key constraints of the three tables can be
set aside for the load and rebuilt afterwards, inside the same transaction, from their own
definitions (``pg_get_indexdef`` / ``pg_get_constraintdef``): building a B-tree once from sorted
input is several times faster than inserting 1.3 million random keys (UUIDs, blind indexes) one by
one, and one validating join replaces a million row-level foreign-key triggers. The schema after
the seed is byte-for-byte what the migrations made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.color import no_style
from django.db import connection, models
from django.db.models import Max

from minzheng.divisions.enums import Level
from minzheng.divisions.models import Division
from minzheng.people.models import Household, Person, PersonPhone
from minzheng.synth.encode import GENERATED, HOUSEHOLD, PERSON, PHONE, EncodedChunk, TableSpec
from minzheng.synth.plan import DivisionInfo

MODELS: dict[str, type[models.Model]] = {HOUSEHOLD: Household, PERSON: Person, PHONE: PersonPhone}
LOAD_ORDER = (HOUSEHOLD, PERSON, PHONE)

_KINDS = {
    "BigAutoField": "int8", "BigIntegerField": "int8", "PositiveBigIntegerField": "int8",
    "AutoField": "int4", "IntegerField": "int4", "PositiveIntegerField": "int4",
    "SmallAutoField": "int2", "SmallIntegerField": "int2", "PositiveSmallIntegerField": "int2",
    "CharField": "text", "TextField": "text", "SlugField": "text", "EmailField": "text",
    "BinaryField": "bytea", "BooleanField": "bool", "DateField": "date", "DateTimeField": "timestamptz",
    "UUIDField": "uuid", "JSONField": "jsonb",
}
def division_infos() -> list[DivisionInfo]:
    """The civil-affairs villages (NBS 类似社区 codes 400–599 are not 民政 units and get nobody)."""
    townships = {d.code: d.name for d in Division.objects.filter(level=Level.TOWNSHIP)}
    return [
        DivisionInfo(code=d.code, name=d.name, path=d.path, township=townships[d.parent_id],
                     is_village=d.kind_label == "村")
        for d in Division.objects.filter(level=Level.VILLAGE, is_civil_affairs_unit=True).order_by("code")
        if d.parent_id in townships
    ]


def _kind(field: models.Field[Any, Any]) -> str:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    internal = target.get_internal_type()
    try:
        return _KINDS[internal]
    except KeyError:
        raise ImproperlyConfigured(f"minzheng.synth cannot load a {internal} column ({field})") from None


def table_specs() -> dict[str, TableSpec]:
    specs = {}
    for key, model in MODELS.items():
        fields = [f for f in model._meta.concrete_fields if not (key == PHONE and f.primary_key)]
        defaults: list[Any] = []
        for f in fields:
            if f.attname in GENERATED[key]:
                defaults.append(None)  # the generator always sets it
            elif f.has_default():
                defaults.append(f.get_default())  # a field added later: every row gets its default
            elif f.null:
                defaults.append(None)
            else:
                raise ImproperlyConfigured(f"minzheng.synth does not fill {model.__name__}.{f.name}: give it a default")
        specs[key] = TableSpec(
            key=key,
            table=model._meta.db_table,
            columns=tuple(f.column for f in fields),
            attnames=tuple(f.attname for f in fields),
            kinds=tuple(_kind(f) for f in fields),
            defaults=tuple(defaults),
        )
    return specs


def registry_state() -> tuple[bool, int]:
    """(anything registered?, next free person key)."""
    exists = Person.objects.exists() or Household.objects.exists()
    last = max(Person.objects.aggregate(m=Max("id"))["m"] or 0, Household.objects.aggregate(m=Max("id"))["m"] or 0)
    return exists, last + 1


def reset_registry() -> None:
    """Delete every person, phone and household (and, on PostgreSQL, rows that point at them)."""
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(MODELS[k]._meta.db_table) for k in (PHONE, PERSON, HOUSEHOLD))
        with connection.cursor() as cursor:
            # Rows written earlier in this transaction leave deferred foreign-key checks pending,
            # and TRUNCATE refuses a table with pending trigger events: run the checks now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are INITIALLY DEFERRED
        return
    PersonPhone.objects.all()._raw_delete(using="default")  # phones hold no relations: one DELETE
    Person.objects.all().delete()  # the ORM applies on_delete of other apps' relations
    Household.objects.all().delete()


@dataclass
class _Deferred:
    table: str
    drop: str
    create: str


class Loader:
    """Writes encoded chunks; ``finish`` restores what ``start`` set aside and fixes sequences."""

    binary_copy = False

    def truncated(self) -> None:
        """The registry was emptied in this transaction (``reset_registry``)."""

    def start(self) -> None:
        pass

    def write(self, chunk: EncodedChunk, specs: dict[str, TableSpec]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), [MODELS[k] for k in LOAD_ORDER])
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class SqliteLoader(Loader):
    def write(self, chunk: EncodedChunk, specs: dict[str, TableSpec]) -> None:
        raw = connection.connection  # the sqlite3 connection, inside Django's transaction
        for key in LOAD_ORDER:
            spec = specs[key]
            qn = connection.ops.quote_name  # names from the models' metadata, never from input
            sql = (f"INSERT INTO {qn(spec.table)} ({', '.join(qn(c) for c in spec.columns)}) "  # noqa: S608
                   f"VALUES ({', '.join('?' * len(spec.columns))})")
            raw.executemany(sql, chunk.payloads[key])


class PostgresLoader(Loader):
    binary_copy = True

    def __init__(self, *, rebuild_indexes: bool = True) -> None:
        self.rebuild_indexes = rebuild_indexes
        self.deferred: list[_Deferred] = []
        # COPY FREEZE writes rows frozen and pages all-visible, so index-only scans work at once
        # and the first readers do not rewrite every page to set hint bits. PostgreSQL allows it
        # only into a table truncated in the same (sub)transaction: see truncated().
        self.freeze = False

    def truncated(self) -> None:
        self.freeze = True

    def start(self) -> None:
        if not self.rebuild_indexes:
            return
        self.deferred = secondary_objects([MODELS[k]._meta.db_table for k in LOAD_ORDER])
        with connection.cursor() as cursor:
            for d in self.deferred:
                cursor.execute(d.drop)

    def write(self, chunk: EncodedChunk, specs: dict[str, TableSpec]) -> None:
        with connection.cursor() as cursor:
            for key in LOAD_ORDER:
                copy_into(cursor, specs[key].table, specs[key].columns, chunk.payloads[key], freeze=self.freeze)

    def finish(self) -> None:
        with connection.cursor() as cursor:
            # Sorting for index builds runs in maintenance_work_mem; the default 64 MB spills to disk.
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for d in reversed(self.deferred):
                cursor.execute(d.create)
        self.deferred = []
        super().finish()


def copy_into(cursor: Any, table: str, columns: tuple[str, ...], payload: bytes, *, freeze: bool = False) -> None:
    qn = connection.ops.quote_name
    options = "FORMAT BINARY, FREEZE" if freeze else "FORMAT BINARY"
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN ({options})"
    with cursor.copy(sql) as copy:
        copy.write(payload)


def secondary_objects(tables: list[str]) -> list[_Deferred]:
    """Foreign keys, unique constraints and plain indexes of ``tables``, in dropping order.

    Primary keys stay (keys arrive in ascending order, so their B-trees grow at the right edge),
    and so does any unique constraint another table's foreign key relies on.
    """
    qn = connection.ops.quote_name
    out: list[_Deferred] = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype
            FROM pg_constraint c
            WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')
              AND NOT (c.contype = 'u' AND EXISTS (
                    SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid))
            ORDER BY c.contype, c.conrelid::regclass::text, c.conname
            """,
            [tables],
        )
        for name, table, definition, _ in cursor.fetchall():
            out.append(_Deferred(table, f"ALTER TABLE {table} DROP CONSTRAINT {qn(name)}",
                                 f"ALTER TABLE {table} ADD CONSTRAINT {qn(name)} {definition}"))
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 2, 1
            """,
            [tables],
        )
        for name, table, definition in cursor.fetchall():
            out.append(_Deferred(table, f"DROP INDEX {name}", definition))
    return out


def analyze_tables() -> None:
    """Planner statistics for the loaded tables and for the divisions every person query joins:
    without them PostgreSQL guesses 60 divisions instead of 236 and picks nested loops."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        models_: list[type[models.Model]] = [*MODELS.values(), Division]
        for model in models_:
            cursor.execute(f"ANALYZE {qn(model._meta.db_table)}")


def loader_for_connection(*, rebuild_indexes: bool = True) -> Loader:
    if connection.vendor == "postgresql":
        return PostgresLoader(rebuild_indexes=rebuild_indexes)
    if connection.vendor == "sqlite":
        return SqliteLoader()
    raise ImproperlyConfigured(f"minzheng seed supports PostgreSQL and SQLite, not {connection.vendor}")
