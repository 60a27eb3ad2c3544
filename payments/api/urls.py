"""The payments API, mounted at /api/v1/payments/ (CONTRACTS §3)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from payments.api import views

router = DefaultRouter()
router.register("settlement-runs", views.SettlementRunViewSet, basename="settlement-run")
router.register("claims", views.ClaimLineViewSet, basename="claim")

app_name = "payments-api"
urlpatterns = [
    path("settlements/", views.SettlementLineListView.as_view(), name="settlement-lines"),
    *router.urls,
]
