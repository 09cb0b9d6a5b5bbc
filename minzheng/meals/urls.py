from django.urls import path

from minzheng.meals import views

app_name = "meals"
urlpatterns = [
    path("", views.canteen, name="canteen"),
    path("canteen/quote/", views.canteen_quote, name="canteen-quote"),
    path("canteen/confirm/", views.canteen_confirm, name="canteen-confirm"),
    path("canteen/void/<int:meal_id>/", views.canteen_void, name="canteen-void"),
    path("overview/", views.overview, name="overview"),
    path("points/", views.points, name="points"),
    path("diners/review/", views.review_queue, name="review-queue"),
    path("diners/<str:uid>/review/", views.review_decide, name="review-decide"),
    path("diners/register/<str:person_uid>/", views.diner_register, name="diner-register"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/exceptions/<int:exception_id>/resolve/", views.exception_resolve, name="exception-resolve"),
    path("claims/", views.claims, name="claims"),
    path("claims/submit/", views.claim_submit, name="claim-submit"),
    path("claims/<int:claim_id>/decide/", views.claim_decide, name="claim-decide"),
    path("claims/payment.xlsx", views.payment_file, name="payment-file"),
    path("clearing/", views.clearing, name="clearing"),
    path("flags/", views.flags, name="flags"),
]
