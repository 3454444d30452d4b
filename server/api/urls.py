from django.urls import path

from server.api import views

app_name = "api"
urlpatterns = [
    path("v1/seats", views.seats, name="seats"),
    path("v1/seats/<int:seat_id>", views.seat_detail, name="seat"),
    path("schema.json", views.openapi, name="openapi"),
]
