"""The project's URLconf plus what the lead will mount for meals: the screens at /meals/ and the
router at /api/v1/meals/ (mounted the way ``minzheng.web.api`` mounts every router: same
authentication, permission enforcement and error handlers). Once config.urls and web.api mount
them, this module adds nothing."""

from __future__ import annotations

import importlib

from django.urls import include, path
from ninja import NinjaAPI

from minzheng.meals.api import router

web_api = importlib.import_module("minzheng.web.api")  # the top layer, looked up at run time


def _mounted() -> bool:
    return any(r is router for _, r in getattr(web_api.api, "_routers", []))


def _screens_mounted() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("meals:canteen", urlconf="config.urls")
    except NoReverseMatch:
        return False
    return True


screens = [] if _screens_mounted() else [path("meals/", include("minzheng.meals.urls"))]

if _mounted():
    urlpatterns = [*screens, path("", include("config.urls"))]
else:
    api = NinjaAPI(title="meals-test", urls_namespace="meals-test-api", auth=web_api.AUTH,
                   renderer=web_api.ChineseJSONRenderer(), docs_url=None, openapi_url=None)
    api.default_router.add_decorator(web_api.enforce_permissions)
    for exc_class, handler in web_api.api._exception_handlers.items():
        api.add_exception_handler(exc_class, handler)
    api.add_router("/meals", router)
    patterns, app_name, namespace = api.urls
    web_api._mark(patterns)
    urlpatterns = [path("api/v1/", (patterns, app_name, namespace)), *screens, path("", include("config.urls"))]
