from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from minzheng.accounts.models import ApiKey, LoginFailure, Staff
from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.policy import policy


def staff_find(*, username: str) -> Staff | None:
    return Staff.objects.select_related("division").filter(username=username.strip().lower()).first()


def staff_list(*, actor: Actor) -> QuerySet[Staff]:
    """Accounts visible to an account manager: those inside the manager's own subtree."""
    return (
        Staff.objects.select_related("division")
        .prefetch_related("roles")
        .filter(division__path__startswith=actor.scope_path)
        .order_by("division__path", "username")
    )


def recent_failures(*, username: str = "", ip: str | None = None, since: datetime) -> int:
    qs = LoginFailure.objects.filter(at__gte=since)
    if username:
        qs = qs.filter(username=username)
    if ip:
        qs = qs.filter(ip=ip)
    return qs.count()


def ip_is_throttled(*, ip: str | None) -> bool:
    if not ip:
        return False
    cfg = policy()
    since = timezone.now() - cfg.ip_throttle_window
    return recent_failures(ip=ip, since=since) >= cfg.ip_throttle_failures


def api_key_for(*, raw: str) -> ApiKey | None:
    """The live key whose secret is ``raw`` (``<prefix>.<secret>``), or None."""
    prefix, _, secret = raw.strip().partition(".")
    if not prefix or not secret:
        return None
    key = ApiKey.objects.select_related("division").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None:
        return None
    if not crypto.constant_time_equal(crypto.sm3(secret.encode()), bytes(key.secret_digest)):
        return None
    return key


def staff_get(*, actor: Actor, pk: int) -> Staff:
    from minzheng.core.exceptions import NotFound

    staff = staff_list(actor=actor).filter(pk=pk).first()
    if staff is None:
        raise NotFound("工作人员不存在或不在您的管辖范围内")
    return staff


def api_key_list(*, actor: Actor) -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("division").filter(division__path__startswith=actor.scope_path).order_by("-id")
