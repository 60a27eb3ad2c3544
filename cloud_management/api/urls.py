"""The registry API, mounted at /api/v1/registry/ (CONTRACTS §3)."""

from rest_framework.routers import DefaultRouter

from cloud_management.api import views

router = DefaultRouter()
router.register("districts", views.DistrictViewSet, basename="district")
router.register("institutions", views.InstitutionViewSet, basename="institution")
router.register("patients", views.PatientViewSet, basename="patient")
router.register("contracts", views.ContractViewSet, basename="contract")
router.register("enrolments", views.EnrolmentViewSet, basename="enrolment")

app_name = "registry-api"
urlpatterns = router.urls
