"""The patient pages at ``/``: home, login, logout and the patient's own record."""

from django.urls import path

from cloud_management import views

app_name = "cloud_management"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.PatientLoginView.as_view(), name="login"),
    path("logout/", views.PatientLogoutView.as_view(), name="logout"),
    path("me/", views.my_record, name="my_record"),
    path("patients/<int:pk>/", views.record_detail, name="record_detail"),
]
