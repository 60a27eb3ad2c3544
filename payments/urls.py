"""Regulator settlement dashboards at ``/dashboards/settlements/``."""

from django.urls import path

from payments import views

app_name = "settlements"
urlpatterns = [
    path("", views.index, name="index"),
    path("districts/<str:code>/", views.district, name="district"),
    path("institutions/<str:code>/", views.institution, name="institution"),
    path("institutions/<str:code>/members/", views.members, name="members"),
    path("institutions/<str:code>/claims/", views.claims, name="claims"),
    path("download.csv", views.download_csv, name="download_csv"),
    path("download.xlsx", views.download_xlsx, name="download_xlsx"),
    path("what-if/", views.what_if, name="what_if"),
]
