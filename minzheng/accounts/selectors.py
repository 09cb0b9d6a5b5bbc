from __future__ import annotations

import time
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


# A machine sends its key with every request (a till: every checkout). The live key behind a
# prefix is kept per process for API_KEY_CACHE_SECONDS, so that a key revoked by another process
# (another web worker, a script) is refused at the latest that many seconds later; the process
# that revokes forgets it at once (``api_key_forget``). Misses are not kept: a new key works at once.
API_KEY_CACHE_SECONDS = 5.0
_live_keys: dict[str, tuple[float, ApiKey]] = {}


def api_key_for(*, raw: str) -> ApiKey | None:
    """The live key whose secret is ``raw`` (``<prefix>.<secret>``), or None."""
    prefix, _, secret = raw.strip().partition(".")
    if not prefix or not secret:
        return None
    now = time.monotonic()
    hit = _live_keys.get(prefix)
    if hit is not None and now - hit[0] < API_KEY_CACHE_SECONDS:
        key = hit[1]
    else:
        found = ApiKey.objects.select_related("division").filter(prefix=prefix, revoked_at__isnull=True).first()
        if found is None:
            _live_keys.pop(prefix, None)
            return None
        key = found
        _live_keys[prefix] = (now, key)
    if not crypto.constant_time_equal(crypto.sm3(secret.encode()), bytes(key.secret_digest)):
        return None
    return key


def api_key_forget(prefix: str | None = None) -> None:
    """Forget one cached key (revoked in this process), or all of them."""
    if prefix is None:
        _live_keys.clear()
    else:
        _live_keys.pop(prefix, None)


def staff_get(*, actor: Actor, pk: int) -> Staff:
    from minzheng.core.exceptions import NotFound

    staff = staff_list(actor=actor).filter(pk=pk).first()
    if staff is None:
        raise NotFound("工作人员不存在或不在您的管辖范围内")
    return staff


def api_key_list(*, actor: Actor) -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("division").filter(division__path__startswith=actor.scope_path).order_by("-id")
