from django.urls import path

from dashboards import board_views, fleet_views, landing, seat_help, views

app_name = "dashboards"
urlpatterns = [
    path("", landing.home, name="home"),
    path("floor/", views.floor_overview, name="floor"),
    path("fleet/", fleet_views.fleet_overview_page, name="fleet"),
    path("board/", board_views.shift_board, name="board"),
    path("seats/<int:seat_id>/", views.seat_detail, name="seat"),
    path("seats/<int:seat_id>/recheck", seat_help.seat_recheck, name="seat_recheck"),
    path("fix/<str:token>/", seat_help.fix_page, name="fix"),
    path("fix/<str:token>/recheck", seat_help.fix_recheck, name="fix_recheck"),
    path("assets/plotly-<str:version>.min.js", views.plotly_js, name="plotly_js"),
]
