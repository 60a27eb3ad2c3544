"""Root URLs: /admin/ for staff, / for patients, /dashboards/ for regulators, /api/ for systems."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/auth/token/", obtain_auth_token, name="api-token"),
    path("api/v1/registry/", include("cloud_management.api.urls")),
    path("api/v1/payments/", include("payments.api.urls")),
    path("api/v1/exams/", include("cloud_exams.api.urls")),
    path("api/v1/services/", include("cloud_services.api.urls")),
    path("api/v1/pharmacy/", include("cloud_pharmacy.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("dashboards/settlements/", include("payments.urls")),
    path("dashboards/quality/", include("chronic_care.quality_urls")),
    path("care/", include("chronic_care.urls")),
    path("dashboards/", include("cloud_management.dashboard_urls")),
    path("services/", include("cloud_services.urls")),
    path("", include("cloud_exams.urls")),
    path("", include("cloud_pharmacy.urls")),
    path("", include("cloud_management.urls")),
]
urlpatterns += static(settings.STATIC_URL)
