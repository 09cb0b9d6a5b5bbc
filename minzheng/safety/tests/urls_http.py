"""A test-only mount of the safety router, the way ``minzheng.web.api`` mounts routers
(X-API-Key auth, declared permissions enforced), so the HTTP ingest endpoint is tested here
before the lead mounts it at /api/v1/safety/."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import APIKeyHeader

from minzheng.accounts.selectors import api_key_for
from minzheng.core.access import declared_permissions
from minzheng.core.exceptions import ApplicationError, PermissionDenied
from minzheng.safety.api import router


class KeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return api_key_for(raw=key or "") if key else None


def enforce(view: Any) -> Any:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        perms = declared_permissions(view)
        if not perms or not all(request.auth.has_permission(p) for p in perms):  # type: ignore[attr-defined]
            raise PermissionDenied()
        return view(request, *args, **kwargs)

    return checked


api = NinjaAPI(urls_namespace="safety-test-api", auth=[KeyAuth()], docs_url=None, openapi_url=None)
api.default_router.add_decorator(enforce)
api.add_router("/safety", router, url_name_prefix="safetytest")


@api.exception_handler(ApplicationError)
def _app_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(AuthenticationError)
def _no_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"code": "not_authenticated", "message": "", "extra": {}}, status=401)


patterns, app_name, namespace = api.urls
for p in patterns:
    p.callback.api_delegated = True  # type: ignore[union-attr]
urlpatterns = [path("api/v1/", (patterns, app_name, namespace))]
