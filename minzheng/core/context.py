"""Per-request facts the audit log needs (source IP, request id), set by RequestContextMiddleware."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None
    channel: str  # "web", "api", "cli", "task"


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "minzheng_request", default=None
)


def current() -> RequestContext:
    return _current.get() or RequestContext(request_id=uuid.uuid4().hex[:16], ip=None, channel="cli")


def bound() -> RequestContext | None:
    """The context a request or job bound, or None outside any (a shell, a test, a CLI command)."""
    return _current.get()


def bind(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
