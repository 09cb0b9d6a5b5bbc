"""The JSON API v1 (django-ninja), mounted at /api/v1/ by config/urls.py.

- **Auth.** A machine sends ``X-API-Key: <prefix>.<secret>`` (``ApiKeyAuth``); the browser uses
  its signed-in session (``StaffSessionAuth``: ninja's SessionAuth, CSRF checked on unsafe methods).
  The key is tried first, so a machine's POST is never refused for a missing CSRF token. The
  authenticated actor (``accounts.Staff`` or ``accounts.ApiKey``, both ``core.access.Actor``) is
  ``request.auth`` and is what the selectors scope by. No or a bad credential → 401.
- **Permissions.** Each operation declares what it needs with ``core.access.requires(...)`` (the
  app routers cannot import this module: import-linter's layers). ``enforce_permissions`` wraps
  every operation of every router: an operation that declares nothing, or an actor lacking a
  declared permission, gets 403 ``permission_denied`` (deny by default, security AC-1/AC-3).
  ``api_requires`` is the same declaration for operations defined in ``web`` itself.
- **Errors.** Always ``{"code", "message", "extra"}``: ``ApplicationError`` with its own status;
  ninja's request validation errors as **400** ``validation_failed`` with
  ``extra["fields"] = {field: Chinese message}`` — the same status and shape as the services'
  ``ValidationFailed``, so a client handles one kind of bad-input answer; 401/403/404/429 with
  codes. Anything else is a real bug and stays a 500.
- **Docs.** Swagger UI at /api/v1/docs from the project's own static files (no CDN: government
  intranet); the schema at /api/v1/openapi.json. Both need a signed-in actor.
- **Routing.** ``RouteAccessMiddleware`` lets the API's URL patterns through only because
  ``api_urls()`` marks each callback ``api_delegated``: ninja checks auth and permission per
  operation instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import URLPattern, URLResolver
from ninja import Field, NinjaAPI, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from ninja.security import APIKeyHeader, SessionAuth

from minzheng.accounts.selectors import api_key_for
from minzheng.accounts.services import api_key_touch, password_expired
from minzheng.core.access import declared_permissions, requires
from minzheng.core.exceptions import ApplicationError, NotFound, PermissionDenied
from minzheng.divisions.api import router as divisions_router
from minzheng.meals.api import router as meals_router
from minzheng.people.api import households_router
from minzheng.people.api import router as people_router
from minzheng.safety.api import router as safety_router

NOT_AUTHENTICATED = "请先登录,或在请求头 X-API-Key 中提供有效的接口密钥"
_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,16}\.[A-Za-z0-9_-]{1,128}$")

api_requires = requires  # the declaration, under the name the API's own modules use


# --- Authentication --------------------------------------------------------------------------


class ApiKeyAuth(APIKeyHeader):
    """``X-API-Key: <prefix>.<secret>`` of a live key; a revoked or unknown key is no credential."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        key = (key or "").strip()
        if not _KEY_RE.match(key):
            return None
        api_key = api_key_for(raw=key)
        if api_key is None:
            return None
        api_key_touch(key=api_key)
        return api_key


class StaffSessionAuth(SessionAuth):
    """The browser's session (accounts.Staff). CSRF is checked on unsafe methods when a session
    cookie is sent; a half-signed-in admin (second factor pending) is not authenticated."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None  # no session, nothing a cross-site request could ride on
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user: Any = request.user
        if not user.is_authenticated:
            return None
        if password_expired(user):
            raise PermissionDenied("密码已过期,请先在网页端修改密码", code="password_expired")
        return user


AUTH = [ApiKeyAuth(), StaffSessionAuth()]


def authenticate(request: HttpRequest) -> Any:
    """The actor behind a request, by the API's rules, or None (used by the docs views)."""
    for auth in AUTH:
        actor = auth(request)
        if actor:
            return actor
    return None


# --- Permissions -----------------------------------------------------------------------------


def enforce_permissions(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an operation: refuse it unless it declared permissions and the actor holds them all."""

    @wraps(view_func)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        perms = declared_permissions(view_func)
        if not perms:
            raise PermissionDenied("该接口未声明访问权限")
        actor = getattr(request, "auth", None)
        if actor is None or not all(actor.has_permission(p) for p in perms):
            raise PermissionDenied()
        return view_func(request, *args, **kwargs)

    return checked


# --- Errors ----------------------------------------------------------------------------------


def _body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra or {}}


_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_parsing_size": "数值过大",
    "float_parsing": "须为数字",
    "bool_parsing": "须为 true 或 false",
    "string_type": "须为文字",
    "string_pattern_mismatch": "格式不正确",
    "uuid_parsing": "编号格式不正确",
    "uuid_type": "编号格式不正确",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式不正确",
    "json_invalid": "不是有效的 JSON",
    "list_type": "须为列表",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "extra_forbidden": "不接受该字段",
}


def _field_message(err: dict[str, Any]) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind in ("greater_than_equal", "greater_than"):
        return f"不能小于{ctx.get('ge', ctx.get('gt'))}" if kind == "greater_than_equal" else f"须大于{ctx.get('gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"不能大于{ctx.get('le')}" if kind == "less_than_equal" else f"须小于{ctx.get('lt')}"
    if kind == "string_too_long":
        return f"不能超过{ctx.get('max_length')}个字符"
    if kind == "string_too_short":
        return "必填" if ctx.get("min_length") == 1 else f"至少{ctx.get('min_length')}个字符"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"取值无效,可选: {expected}" if expected else "取值无效"
    return _MESSAGES.get(kind, "输入有误")


def validation_fields(errors: list[dict[str, Any]]) -> dict[str, str]:
    """ninja's error list → ``{field: Chinese message}``; the field is the location without its
    source (``("query", "limit")`` → ``limit``), the first message per field."""
    fields: dict[str, str] = {}
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        name = ".".join(loc[1:]) or (loc[0] if loc else "request")
        fields.setdefault(name, _field_message(err))
    return fields


class ChineseJSONRenderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}


# --- Docs without the internet ---------------------------------------------------------------

DOCS_STATIC = ("ninja/swagger-ui.css", "ninja/favicon.png", "ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js")
_DOCS_TEMPLATE = """{% load static %}<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ api.title }}</title>
<link rel="stylesheet" href="{% static 'ninja/swagger-ui.css' %}">
<link rel="icon" href="{% static 'ninja/favicon.png' %}" type="image/png">
</head>
<body data-csrf-token="{{ csrf_token }}" data-api-csrf="true">
<script type="application/json" id="swagger-settings">{{ swagger_settings|safe }}</script>
<div id="swagger-ui"></div>
<script src="{% static 'ninja/swagger-ui-bundle.js' %}"></script>
<script src="{% static 'ninja/swagger-ui-init.js' %}"></script>
</body>
</html>
"""


class OfflineSwagger(Swagger):
    """Swagger UI from django-ninja's bundled files through ``{% static %}``, never a CDN, and
    with the online spec validator switched off (it would call validator.swagger.io)."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings_ = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        html = engines["django"].from_string(_DOCS_TEMPLATE).render(
            {"api": api, "swagger_settings": json.dumps(settings_).replace("</", "<\\/")}, request
        )
        return HttpResponse(html)


def signed_in_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The docs page and schema are for authenticated actors only (no permission needed)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            actor = authenticate(request)
        except ApplicationError as exc:
            return api.create_response(request, exc.as_dict(), status=exc.status_code)
        except HttpError as exc:
            return _http_error(request, exc)
        if actor is None:
            return api.create_response(request, _body("not_authenticated", NOT_AUTHENTICATED), status=401)
        return view(request, *args, **kwargs)

    return guarded


# --- The API ---------------------------------------------------------------------------------

api = NinjaAPI(
    title="余杭民政平台 API",
    version="1",
    description=(
        "余杭区民政综合服务平台接口 v1。认证: 浏览器登录会话, 或请求头 `X-API-Key: <prefix>.<secret>`。"
        "人员数据按调用者的管辖区划过滤; 范围外的记录与不存在的记录一样返回 404。"
        "错误统一为 `{code, message, extra}`; 参数错误为 400 `validation_failed`, "
        "`extra.fields` 给出各字段的中文说明。"
    ),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs=OfflineSwagger(settings={"validatorUrl": None}),
    docs_decorator=signed_in_only,
    auth=AUTH,
    renderer=ChineseJSONRenderer(),
)
api.default_router.add_decorator(enforce_permissions)  # inherited by every router added below
api.add_router("/divisions", divisions_router)
api.add_router("/people", people_router)
api.add_router("/households", households_router)
api.add_router("/meals", meals_router)
api.add_router("/safety", safety_router)


class ApiError(Schema):
    """Every error answer of the API."""

    code: str = Field(..., description="机器可读的错误码, 如 validation_failed、not_found、permission_denied")
    message: str = Field(..., description="中文说明")
    extra: dict[str, Any] = Field(..., description="补充信息; 参数错误时 fields 给出 {字段: 中文说明}")


ERROR_STATUSES = (400, 401, 403, 404)


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = validation_fields(exc.errors)
    message = "请求参数有误:" + ";".join(f"{k} {v}" for k, v in fields.items())
    return api.create_response(request, _body("validation_failed", message, {"fields": fields}), status=400)


@api.exception_handler(AuthenticationError)
def _not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, _body("not_authenticated", NOT_AUTHENTICATED), status=401)


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    return api.create_response(request, _body("throttled", "请求过于频繁,请稍后再试"), status=429)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 403 and "csrf" in exc.message.lower():
        body = _body("csrf_failed", "请求缺少有效的 CSRF 令牌,请刷新页面后重试")
    elif exc.status_code == 400:
        body = _body("bad_request", "请求格式有误,无法解析")
    else:
        body = _body(f"http_{exc.status_code}", exc.message)
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, NotFound().as_dict(), status=404)


# --- Introspection and mounting --------------------------------------------------------------


def operations() -> Iterator[tuple[str, str, Operation]]:
    """Every operation of the API as ``(method, path, operation)`` (for tests and reviews)."""
    for bound in api._get_bound_routers():
        for path, path_view in bound.path_operations.items():
            for op in path_view.operations:
                full = "/".join(part.strip("/") for part in (bound.prefix, path) if part.strip("/"))
                for method in op.methods:
                    yield method, "/" + full, op


def _document_errors() -> None:
    """Every operation can answer 400/401/403/404 with ``ApiError``: say so in the schema."""
    for _, _, op in operations():
        for status in ERROR_STATUSES:
            op.response_models.setdefault(status, op._create_response_model(ApiError))


_document_errors()


def _mark(patterns: list[URLPattern | URLResolver]) -> None:
    for p in patterns:
        if isinstance(p, URLResolver):
            _mark(p.url_patterns)
        else:
            p.callback.api_delegated = True  # type: ignore[attr-defined]


def api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """``api.urls`` with every callback marked ``api_delegated`` for RouteAccessMiddleware.

    ninja builds fresh callbacks on each ``api.urls``, so mount exactly what this returns.
    """
    patterns, app_name, namespace = api.urls
    _mark(patterns)
    return patterns, app_name, namespace

