"""cloud_pharmacy pages: the patient's prescriptions under /me/."""

from django.urls import path

from cloud_pharmacy import views

app_name = "cloud_pharmacy"
urlpatterns = [
    path("me/prescriptions/", views.my_prescriptions, name="my_prescriptions"),
]
