"""Operations monitoring at ``/dashboards/``: city → district → institution."""

from django.urls import path

from cloud_management import views

app_name = "dashboards"
urlpatterns = [
    path("", views.dashboard_index, name="index"),
    path("districts/<str:code>/", views.dashboard_district, name="district"),
    path("institutions/<str:code>/", views.dashboard_institution, name="institution"),
]
