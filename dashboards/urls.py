from django.urls import path

from dashboards import board_views, views

app_name = "dashboards"
urlpatterns = [
    path("", views.floor_overview, name="floor"),
    path("board/", board_views.shift_board, name="board"),
    path("seats/<int:seat_id>/", views.seat_detail, name="seat"),
    path("assets/plotly-<str:version>.min.js", views.plotly_js, name="plotly_js"),
]
