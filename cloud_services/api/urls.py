"""The home-services API, mounted at /api/v1/services/ (CONTRACTS §3)."""

from rest_framework.routers import DefaultRouter

from cloud_services.api import views

router = DefaultRouter()
router.register("items", views.ServiceItemViewSet, basename="service-item")
router.register("slots", views.ServiceSlotViewSet, basename="service-slot")
router.register("bookings", views.BookingViewSet, basename="booking")

app_name = "services-api"
urlpatterns = router.urls
