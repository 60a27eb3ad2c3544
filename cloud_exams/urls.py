"""cloud_exams pages: the patient's results under /me/, reports and labels under /exams/."""

from django.urls import path

from cloud_exams import views

app_name = "cloud_exams"
urlpatterns = [
    path("me/results/", views.my_results, name="my_results"),
    path("exams/orders/<int:pk>/report/", views.order_report, name="order_report"),
    path("exams/specimens/<int:pk>/label/", views.specimen_label, name="specimen_label"),
]
