"""The platform's URLconf with 精准救助 mounted at /assistance/, as the lead will mount it."""

from django.urls import include, path

from config.urls import urlpatterns as platform

urlpatterns = [path("assistance/", include("minzheng.assistance.urls")), *platform]
