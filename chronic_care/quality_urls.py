"""Diabetes quality dashboards at ``/dashboards/quality/``."""

from django.urls import path

from chronic_care import views

app_name = "chronic_care_quality"
urlpatterns = [
    path("", views.quality_index, name="index"),
    path("districts/<str:code>/", views.quality_district, name="district"),
    path("institutions/<str:code>/", views.quality_institution, name="institution"),
    path("institutions/<str:code>/patients/", views.quality_patients, name="patients"),
]
