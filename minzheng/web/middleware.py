from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from minzheng.core.exceptions import ApplicationError


class ApplicationErrorMiddleware:
    """An ApplicationError escaping a staff screen becomes a Chinese error page with its status
    (404 for a record outside the viewer's area, 403, 409 ...), never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError) or request.path.startswith("/api/"):
            return None
        context: dict[str, Any] = {"error": exception, "request_id": getattr(request, "request_id", "")}
        return render(request, "web/error.html", context, status=exception.status_code)
