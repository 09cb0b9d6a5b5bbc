"""Typed access to the security policy numbers in ``settings.MINZHENG``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Policy:
    idle_timeout: timedelta
    admin_idle_timeout: timedelta
    absolute_timeout: timedelta
    lockout_failures: int
    lockout_window: timedelta
    lockout_duration: timedelta
    admin_lockout_duration: timedelta
    ip_throttle_failures: int
    ip_throttle_window: timedelta
    password_max_age: timedelta
    export_max_rows: int
    export_approval_rows: int
    export_daily_rows: int
    upload_max_bytes: int
    admin_networks: tuple[str, ...]


def policy() -> Policy:
    raw: dict[str, Any] = settings.MINZHENG
    return Policy(**{f.name: raw[f.name.upper()] for f in fields(Policy)})
