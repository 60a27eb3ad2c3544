"""The pharmacy API, mounted at /api/v1/pharmacy/."""

from rest_framework.routers import DefaultRouter

from cloud_pharmacy.api import views

router = DefaultRouter()
router.register("drugs", views.DrugViewSet, basename="drug")
router.register("prescriptions", views.PrescriptionViewSet, basename="prescription")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("stock", views.StockBatchViewSet, basename="stock-batch")
router.register(
    "replenishment-orders", views.ReplenishmentOrderViewSet, basename="replenishment-order"
)

app_name = "pharmacy-api"
urlpatterns = router.urls
