"""A test URLconf: the real staff routes plus one view that forgot to declare its permissions."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

CALLS: list[str] = []


def undeclared_view(request: HttpRequest) -> HttpResponse:
    CALLS.append(request.path)
    return HttpResponse("机密名单:王秀英")


urlpatterns = [
    path("undeclared/", undeclared_view, name="undeclared"),
    path("", include("minzheng.web.urls")),
]
