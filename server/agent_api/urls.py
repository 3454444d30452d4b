from django.urls import path

from server.agent_api import views

app_name = "agent_api"
urlpatterns = [
    path("enroll", views.EnrollView.as_view(), name="enroll"),
    path("checkin", views.CheckinView.as_view(), name="checkin"),
    path("config", views.ConfigView.as_view(), name="config"),
]
