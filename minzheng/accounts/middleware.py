"""Session lifetime (AUTH-5, AUTH-3) and deny-by-default route access (AC-1)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse

from minzheng.accounts.services import logout_record, password_expired
from minzheng.core.access import ADMIN_ROLES, declared_permissions, holders_of, is_public
from minzheng.core.middleware import in_admin_network
from minzheng.core.policy import policy

log = logging.getLogger(__name__)
AUTH_AT = "mz_auth_at"
ACTIVE_AT = "mz_active_at"
# Sent by screens that refresh themselves (the 24-hour console's board): such a request is served
# but is not the member's activity, so it does not keep an unattended session alive (AUTH-5).
BACKGROUND_HEADER = "X-MZ-Background"
PASSWORD_CHANGE_URL = "web:password-change"  # noqa: S105 - a URL name
# Where a signed-in member whose password has expired may still go (AUTH-3).
_PASSWORD_EXPIRED_ALLOWED = {"web:password-change", "web:logout"}


class SessionLifetimeMiddleware:
    """Idle timeout 30 min (15 for the 三员) and an absolute 12 h from sign-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        if user.is_authenticated:
            cfg = policy()
            started = request.session.get(AUTH_AT)
            if started is None or time.time() - started > cfg.absolute_timeout.total_seconds():
                logout_record(staff=user, reason="会话超过12小时")
                auth.logout(request)
                return _to_login(request, "登录已超过12小时,请重新登录")
            idle = cfg.admin_idle_timeout if user.is_admin_role else cfg.idle_timeout
            now = time.time()
            if now - request.session.get(ACTIVE_AT, started) > idle.total_seconds():
                logout_record(staff=user, reason="空闲超时")
                auth.logout(request)
                return _to_login(request, "长时间未操作,请重新登录")
            if request.headers.get(BACKGROUND_HEADER) != "1":
                request.session[ACTIVE_AT] = now
            request.session.set_expiry(int(idle.total_seconds()))
        return self.get_response(request)


def _to_login(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_authenticated", "message": message, "extra": {}}, status=401)
    request.session["mz_login_notice"] = message
    return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")


def is_admin_route(perms: tuple[str, ...]) -> bool:
    """A route for the 三员 only: one of its permissions is held by no other role."""
    return any((holders := holders_of(p)) and holders <= ADMIN_ROLES for p in perms)


class RouteAccessMiddleware:
    """Every view must declare its permissions (``@requires``/``@login_only``/``@public``).

    A view that declares nothing is refused with 403 — a new route is closed until someone
    decides who may use it. The JSON API declares per operation instead (see web.api).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if getattr(view_func, "api_delegated", False):
            return None  # django-ninja checks auth and permission per operation
        perms = declared_permissions(view_func)
        if perms is None:
            log.error("route %s declares no permission: refused", request.path)
            return HttpResponseForbidden("此页面未声明访问权限")
        if is_public(view_func):
            return None
        user: Any = request.user
        # AUTH-8: the 三员 screens, and anything a 三员 holder opens, exist only on the
        # management networks; elsewhere they are 404, before any login prompt gives them away.
        admin = is_admin_route(perms) or (user.is_authenticated and user.is_admin_role)
        if admin and not in_admin_network(request):
            log.warning("admin route %s refused from outside the management networks", request.path)
            raise Http404
        if not user.is_authenticated:
            return _to_login(request, "请先登录")
        match = request.resolver_match
        url_name = f"{match.namespace}:{match.url_name}" if match and match.namespace else ""
        if url_name not in _PASSWORD_EXPIRED_ALLOWED and password_expired(user):
            return redirect(PASSWORD_CHANGE_URL)
        if not all(user.has_permission(p) for p in perms):
            html = render_to_string("web/forbidden.html", {"perms": perms}, request=request)
            return HttpResponseForbidden(html)
        return None
