"""The home-service patient pages, mounted at ``/services/``."""

from django.urls import path

from cloud_services import views

app_name = "cloud_services"
urlpatterns = [
    path("", views.my_bookings, name="my_bookings"),
    path("register/", views.register, name="register"),
    path("book/", views.choose_service, name="choose_service"),
    path("book/<str:item_code>/", views.choose_institution, name="choose_institution"),
    path(
        "book/<str:item_code>/at/<str:institution_code>/",
        views.choose_slot,
        name="choose_slot",
    ),
    path("book/<str:item_code>/slot/<int:slot_id>/", views.confirm, name="confirm"),
    path("bookings/<int:pk>/", views.booking_detail, name="booking_detail"),
    path("bookings/<int:pk>/cancel/", views.cancel, name="cancel"),
]
