from __future__ import annotations

import functools
import ipaddress
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from minzheng.core import context


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the first X-Forwarded-For hop when we sit behind a trusted proxy.

    None when the value is not an IP address (a forged header must not fail an insert later)."""
    raw = request.META.get("REMOTE_ADDR") or ""
    if getattr(settings, "MINZHENG_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            raw = forwarded.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def in_admin_network(request: HttpRequest) -> bool:
    """Whether the request comes from an allow-listed management network (AUTH-8)."""
    from minzheng.core.policy import policy

    ip = client_ip(request)
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in net for net in _networks(policy().admin_networks))


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and records where it came from."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex[:16]
        channel = "api" if request.path.startswith("/api/") else "web"
        token = context.bind(context.RequestContext(request_id=request_id, ip=client_ip(request), channel=channel))
        request.request_id = request_id  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """Pages and answers that may carry personal data are never cached (security DP-7)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            response["Cache-Control"] = "no-store"
        return response
