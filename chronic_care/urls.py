"""Staff care pages at ``/care/``: the health managers' worklists."""

from django.urls import path

from chronic_care import views

app_name = "chronic_care"
urlpatterns = [
    path("", views.care_index, name="index"),
    path("<str:code>/worklists/", views.worklists, name="worklists"),
]
