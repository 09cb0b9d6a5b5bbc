from django.urls import path

from minzheng.web import views, views_auth, views_staff

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views_auth.login_view, name="login"),
    path("login/otp/", views_auth.login_otp_view, name="login-otp"),
    path("login/otp/setup/", views_auth.login_otp_setup_view, name="login-otp-setup"),
    path("logout/", views_auth.logout_view, name="logout"),
    path("password/", views_auth.password_change_view, name="password-change"),
    path("people/", views.person_list_view, name="person-list"),
    path("people/export.xlsx", views.person_export_view, name="person-export"),
    path("people/export/approval/", views.export_approval_request_view, name="export-approval-request"),
    path("people/new/", views.person_create_view, name="person-create"),
    path("people/<str:uid>/", views.person_detail_view, name="person-detail"),
    path("people/<str:uid>/edit/", views.person_edit_view, name="person-edit"),
    path("people/<str:uid>/reveal/", views.person_reveal_view, name="person-reveal"),
    path("people/<str:uid>/life-event/", views.person_life_event_view, name="person-life-event"),
    path("people/<str:uid>/minor-access/", views.minor_access_request_view, name="minor-access-request"),
    path("approvals/minors/", views.minor_access_queue_view, name="minor-access-queue"),
    path("approvals/minors/<int:grant_id>/", views.minor_access_decide_view, name="minor-access-decide"),
    path("approvals/exports/", views.export_approval_queue_view, name="export-approval-queue"),
    path("approvals/exports/<int:approval_id>/", views.export_approval_decide_view, name="export-approval-decide"),
    path("households/<str:uid>/", views.household_detail_view, name="household-detail"),
    path("audit/", views.audit_log_view, name="audit-log"),
    path("staff/", views_staff.staff_list_view, name="staff-list"),
    path("staff/new/", views_staff.staff_create_view, name="staff-create"),
    path("staff/<int:pk>/roles/", views_staff.staff_roles_view, name="staff-roles"),
    path("staff/<int:pk>/unlock/", views_staff.staff_unlock_view, name="staff-unlock"),
    path("staff/<int:pk>/disable/", views_staff.staff_disable_view, name="staff-disable"),
    path("staff/keys/new/", views_staff.api_key_create_view, name="api-key-create"),
]
