"""精准救助 routes (the lead mounts them at /assistance/)."""

from django.urls import path

from minzheng.assistance import views

app_name = "assistance"
urlpatterns = [
    path("", views.home, name="home"),
    path("visits/", views.visit_plan, name="visit-plan"),
    path("visits/<str:uid>/new/", views.visit_form, name="visit-form"),
    path("applications/", views.application_list, name="application-list"),
    path("applications/publicity.xlsx", views.publicity_export, name="publicity-export"),
    path("applications/new/<str:uid>/", views.application_new, name="application-new"),
    path("applications/<str:uid>/", views.application_detail, name="application-detail"),
    path("applications/<str:uid>/attachments/", views.attachment_upload, name="attachment-upload"),
    path("applications/<str:uid>/economy/", views.economy_form, name="economy"),
    path("applications/<str:uid>/<str:action>/", views.application_action, name="application-action"),
    path("enrolments/", views.enrolment_list, name="enrolment-list"),
    path("enrolments/<str:uid>/", views.enrolment_detail, name="enrolment-detail"),
    path("enrolments/<str:uid>/<str:action>/", views.enrolment_action, name="enrolment-action"),
    path("payroll/", views.roll_list, name="roll-list"),
    path("payroll/<str:uid>/", views.roll_detail, name="roll-detail"),
    path("payroll/<str:uid>/bank.xlsx", views.roll_bank_file, name="roll-bank-file"),
    path("payroll/<str:uid>/<str:action>/", views.roll_action, name="roll-action"),
    path("compliance/", views.compliance, name="compliance"),
    path("coverage/", views.coverage, name="coverage"),
    path("outreach/", views.outreach, name="outreach"),
    path("whatif/", views.whatif, name="whatif"),
    path("rescues/", views.rescue_list, name="rescue-list"),
    path("projects/", views.project_list, name="project-list"),
    path("housing/", views.housing_list, name="housing-list"),
]
