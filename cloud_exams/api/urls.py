"""The exams API, mounted at /api/v1/exams/ (CONTRACTS §3)."""

from rest_framework.routers import DefaultRouter

from cloud_exams.api import views

router = DefaultRouter()
router.register("items", views.ExamItemViewSet, basename="exam-item")
router.register("orders", views.ExamOrderViewSet, basename="exam-order")
router.register("specimens", views.SpecimenViewSet, basename="specimen")
router.register("results", views.ExamResultViewSet, basename="exam-result")
router.register("critical-alerts", views.CriticalValueAlertViewSet, basename="critical-alert")

app_name = "exams-api"
urlpatterns = router.urls
