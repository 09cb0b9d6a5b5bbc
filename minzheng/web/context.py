from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from minzheng.web.navigation import menu_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_menu": menu_for(user, request.path)}
