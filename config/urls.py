from django.urls import include, path

urlpatterns = [
    path("", include("minzheng.web.urls")),
]
