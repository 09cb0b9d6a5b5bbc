from django.urls import include, path

from minzheng.web.api import api_urls

urlpatterns = [
    path("api/v1/", api_urls()),  # django-ninja; each callback marked api_delegated (web.api)
    path("meals/", include("minzheng.meals.urls")),
    path("assistance/", include("minzheng.assistance.urls")),
    path("safety/", include("minzheng.safety.urls")),
    path("", include("minzheng.web.urls")),
]
