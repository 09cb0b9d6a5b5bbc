"""安居守护 screens (mounted at /safety/): the 24-hour console, incidents, homes, handover, metrics."""

from django.urls import path

from minzheng.safety import views

app_name = "safety"
urlpatterns = [
    path("", views.console, name="console"),
    path("board/", views.console_board, name="board"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("incidents/<int:pk>/call/", views.call, name="call"),
    path("incidents/<int:pk>/dispatch/", views.dispatch, name="dispatch"),
    path("incidents/<int:pk>/arrive/", views.arrive, name="arrive"),
    path("incidents/<int:pk>/resolve/", views.resolve, name="resolve"),
    path("incidents/<int:pk>/follow-up/", views.follow_up, name="follow-up"),
    path("incidents/<int:pk>/close/", views.close, name="close"),
    path("incidents/<int:pk>/reopen/", views.reopen, name="reopen"),
    path("incidents/<int:pk>/note/", views.note, name="note"),
    path("homes/<int:pk>/", views.home_detail, name="home"),
    path("handover/", views.handover, name="handover"),
    path("metrics/", views.metrics, name="metrics"),
]
