"""Querysets compiled to SQL once per process, run many times with fresh parameters.

Hot reads (the person search box, the till's "who is this diner") are the same few statements on
every request, and compiling each through the ORM (joins, EXISTS subqueries, ``select_related``)
costs more than running it. ``Compiled`` takes a queryset built with *probe* values where the
request's values go, compiles it once, remembers where each probe landed among the parameters,
and afterwards only fills those in, runs the SQL and builds the instances as ``ModelIterable``
does (``select_related`` objects and annotations included; columns left out by ``only()`` stay
deferred).

Probes must be values no real request uses (a date in the year 1111, a negative id, text or bytes
with NUL markers); ``Compiled`` refuses a queryset where a probe does not show up among the
parameters. A text probe may stand inside a LIKE pattern (``__startswith``): the request's value
is escaped for LIKE and put where the probe was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

from minzheng.core.models import instances_from_rows

PROBE_DAY = date(1111, 1, 11)
PROBE_ID = -7_654_321
PROBE_BYTES = b"\x00probe\x00value\x00"


def probe_text(name: str) -> str:
    return f"\x00probe\x00{name}\x00"


def _same(param: Any, probe: Any, using: str) -> Callable[[Any], Any] | None:
    """How a request value must be shaped to stand where ``param`` (the compiled probe) stands,
    or None when ``param`` is not this probe. Dates are strings on SQLite, bytes come wrapped."""
    raw = getattr(param, "obj", param)  # psycopg's Binary wraps bytes; so does SQLite's memoryview
    if isinstance(probe, bytes):
        return (lambda v: v) if isinstance(raw, bytes | memoryview) and bytes(raw) == probe else None
    if isinstance(probe, str):
        if raw == probe:
            return lambda v: v
        if isinstance(raw, str) and probe in raw:  # a LIKE pattern around the probe
            prep = connections[using].ops.prep_for_like_query
            return lambda v: raw.replace(probe, prep(v))
        return None
    if isinstance(probe, date):
        if raw == probe:
            return lambda v: v
        if isinstance(raw, str) and raw == str(probe):
            return str
        return None
    return (lambda v: v) if type(raw) is type(probe) and raw == probe else None


class Compiled:
    """One queryset's SQL and the recipe to turn its rows into model instances."""

    def __init__(self, queryset: QuerySet[Any], probes: Mapping[str, Any], using: str = "default") -> None:
        self.using = using
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        slots: list[tuple[int, str, Callable[[Any], Any]]] = []
        for i, param in enumerate(params):
            for name, probe in probes.items():
                shape = _same(param, probe, using)
                if shape is not None:
                    slots.append((i, name, shape))
        missing = set(probes) - {name for _, name, _ in slots}
        if missing:
            raise RuntimeError(f"compiled statement: cannot place {sorted(missing)} among the parameters")
        self.sql = sql
        self.params = tuple(params)
        self.slots = tuple(slots)
        self.compiler = compiler
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        self.converters = compiler.get_converters(fields)
        klass_info = compiler.klass_info
        self.model: type[Model] = klass_info["model"]
        select_fields = klass_info["select_fields"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.init_list = [f[0].target.attname for f in compiler.select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, compiler.select, using)
        self.annotations = tuple(compiler.annotation_col_map.items())
        # rows that are exactly the model's own columns are built without Model.__init__
        self.plain = not self.populators and not self.annotations and (self.start, self.end) == (0, compiler.col_count)

    def run(self, **values: Any) -> list[Any]:
        params = list(self.params)
        for index, name, shape in self.slots:
            params[index] = shape(values[name])
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows: Any = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.plain:
            return instances_from_rows(self.model, self.using, self.init_list, rows)
        out = []
        for row in rows:
            obj = self.model.from_db(self.using, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for attr, pos in self.annotations:
                setattr(obj, attr, row[pos])
            out.append(obj)
        return out

    def first(self, **values: Any) -> Any:
        found = self.run(**values)
        return found[0] if found else None


_cache: dict[tuple[str, str, str], Compiled] = {}


def compiled(name: str, build: Callable[[], QuerySet[Any]], probes: Mapping[str, Any],
             using: str = "default") -> Compiled:
    """The statement ``name`` for the database ``using``, compiled on first use in this process."""
    key = (using, connections[using].vendor, name)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = Compiled(build(), probes, using)
    return found


def forget() -> None:
    """Drop every compiled statement (a test that changes the schema or the database)."""
    _cache.clear()
