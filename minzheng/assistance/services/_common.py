"""Helpers shared by the assistance services: who acts, where a record sits, sealed accounts."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.divisions.models import Division

SYSTEM_NAME = "system"


def require(actor: Actor | None, perm: str) -> None:
    """Jobs and event handlers run as ``actor=None`` (trusted, internal); people need the grant."""
    if actor is not None and not actor.has_permission(perm):
        raise PermissionDenied()


def who(actor: Actor | None) -> tuple[int | None, str]:
    if actor is None:
        return None, SYSTEM_NAME
    pk = getattr(actor, "pk", None)
    return (pk if isinstance(pk, int) else None), str(getattr(actor, "username", "") or "")[:150]


def same_person(actor: Actor | None, other_id: int | None, other_name: str) -> bool:
    """Staff and machine keys number their ids separately: compare the id and the username."""
    my_id, my_name = who(actor)
    return bool(other_name) and my_id == other_id and my_name == other_name


def in_scope(actor: Actor | None, area_path: str) -> None:
    if actor is not None and not area_path.startswith(actor.scope_path):
        raise NotFound()


def today() -> date:
    return timezone.localdate()


def township_code(area_path: str) -> str:
    parts = [p for p in area_path.split("/") if p]
    return parts[1] if len(parts) > 1 else ""


def division_of(code: str) -> Division:
    return Division.objects.get(code=code)


_ACCOUNT = re.compile(r"^\d{10,30}$")


def clean_bank_account(raw: Any, field: str = "bank_account") -> str:
    digits = re.sub(r"[\s-]", "", str(raw or ""))
    if not digits:
        return ""
    if not _ACCOUNT.match(digits):
        raise ValidationFailed({field: "银行账号应为10-30位数字"}, code="bad_bank_account")
    return digits


def seal_account(kind: str, uid: Any, account: str) -> tuple[bytes, str, str]:
    """(sealed, masked, blind-index ref) of a payee account; AAD binds it to its row."""
    from minzheng.assistance.domain import mask_account

    sealed = crypto.seal(account, f"assistance|{kind}|bank_account|{uid}")
    return sealed, mask_account(account), crypto.blind_index("bank", account).hex()


def unseal_account(kind: str, uid: Any, sealed: bytes | memoryview | None) -> str:
    if not sealed:
        return ""
    return crypto.unseal(bytes(sealed), f"assistance|{kind}|bank_account|{uid}")
