from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import models
from django.db.models import signals  # noqa: TID251 -- read only: is any __init__ receiver connected?
from django.db.models.base import ModelState

M = TypeVar("M", bound=models.Model)


class BaseModel(models.Model):
    created_at = models.DateTimeField("创建时间", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        abstract = True


class AuditEvent(models.Model):
    """One row per security-relevant action (security AU-1). Append-only and hash-chained.

    ``mac = HMAC-SM3(K_audit, prev_mac ‖ canonical(row))``, where ``prev_mac`` is the MAC of the
    previous row of the same ``chain`` (one of ``MINZHENG["AUDIT_CHAINS"]`` chains, ADR 0006).
    A PostgreSQL (and SQLite) trigger refuses UPDATE and DELETE; `minzheng audit-verify`
    recomputes every chain and names any row that was changed, removed or inserted behind the
    application's back.
    """

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField("时间")
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_username = models.CharField("操作人", max_length=150, blank=True)
    actor_roles = models.CharField("角色", max_length=200, blank=True)
    actor_division = models.CharField("所属区划", max_length=12, blank=True)
    ip = models.GenericIPAddressField("来源IP", null=True)
    request_id = models.CharField("请求ID", max_length=32, blank=True)
    channel = models.CharField("渠道", max_length=8, blank=True)
    event_type = models.CharField("事件类型", max_length=64, db_index=True)
    object_type = models.CharField("对象类型", max_length=64, blank=True)
    object_id = models.CharField("对象ID", max_length=64, blank=True)
    result = models.CharField("结果", max_length=16)
    reason = models.CharField("原因", max_length=500, blank=True)
    extra = models.JSONField("附加信息", default=dict)
    chain = models.PositiveSmallIntegerField("审计链", default=1)
    prev_mac = models.BinaryField(max_length=32)
    mac = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = "审计日志"
        indexes = [
            models.Index(fields=["actor_id", "at"], name="core_audite_actor_i_idx"),
            models.Index(fields=["object_type", "object_id"], name="core_audite_object__idx"),
        ]


class AuditChainHead(models.Model):
    """The last link of one audit chain (``id`` = the chain's number); locked by every insert
    into that chain so its links never fork."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_mac = models.BinaryField(max_length=32, default=b"")


def instances_from_rows(model: type[M], alias: str, attnames: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[M]:
    """Model instances from fetched rows, as ``Model.from_db`` builds them (not added, bound to
    ``alias``, columns not fetched left deferred), without running ``Model.__init__`` once per row,
    which costs ~20 µs and dominates a fast indexed query that returns 50 rows. Models with
    ``pre_init``/``post_init`` receivers (image dimensions, generic relations…) take the ORM path."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return [model.from_db(alias, attnames, row) for row in rows]
    new = model.__new__
    out: list[M] = []
    for row in rows:
        obj = new(model)
        state = ModelState()
        state.adding, state.db = False, alias
        values = obj.__dict__
        values.update(zip(attnames, row, strict=True))
        values["_state"] = state
        out.append(obj)
    return out


# Columns whose get_db_prep_save returns a str, int, bool or None unchanged (exact classes only: a
# subclass may prepare values its own way, e.g. sealing them).
_PLAIN_FIELDS = frozenset({
    models.CharField, models.TextField, models.BooleanField, models.IntegerField, models.BigIntegerField,
    models.SmallIntegerField, models.PositiveIntegerField, models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField, models.AutoField, models.BigAutoField, models.SmallAutoField,
})
_PLAIN_VALUES = frozenset({str, int, bool, type(None)})


def row_params(fields: Sequence[models.Field[Any, Any]], connection: Any) -> Callable[[models.Model], list[Any]]:
    """A function giving an instance's values of ``fields`` as an INSERT's parameters, exactly as
    ``Field.get_db_prep_save`` gives them, for statements compiled once (a checkout's rows). It
    skips that call (~5 µs a column) where it changes nothing: a text, integer or boolean column
    (a foreign key by its target) holding a str, int, bool or None."""
    plan = tuple(
        (field, field.attname, type(getattr(field, "target_field", None) or field) in _PLAIN_FIELDS)
        for field in fields
    )

    def params(obj: models.Model) -> list[Any]:
        out = []
        for field, attname, plain in plan:
            value = getattr(obj, attname)
            out.append(value if plain and type(value) in _PLAIN_VALUES else field.get_db_prep_save(value, connection=connection))
        return out

    return params


def row_insert(fields: Sequence[models.Field[Any, Any]], connection: Any) -> tuple[str, Callable[[models.Model], list[Any]]]:
    """``INSERT INTO <table> (<columns>) VALUES (%s, …)`` for ``fields`` of one model (a caller may
    append ``ON CONFLICT …``), and the function giving an instance's parameters for it
    (``row_params``). Identifiers come from the model's metadata; every value is a bound parameter."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    sql = f"INSERT INTO {qn(fields[0].model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    return sql, row_params(fields, connection)


def execute_chained(cursor: Any, first: str, first_params: list[Any], then: str, then_params: list[Any]) -> None:
    """Run ``first`` (a write) and then ``then``, which does not read what ``first`` wrote: one
    statement on PostgreSQL (a data-modifying WITH: one round trip less while rows are locked),
    two elsewhere."""
    if cursor.db.vendor == "postgresql":
        cursor.execute(f"WITH w AS ({first}) {then}", first_params + then_params)
    else:
        cursor.execute(first, first_params)
        cursor.execute(then, then_params)
