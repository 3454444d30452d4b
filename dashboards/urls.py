from django.urls import path

from dashboards import board_views, seat_acknowledgements, seat_help, views

app_name = "dashboards"
urlpatterns = [
    path("", views.floor_overview, name="floor"),
    path("board/", board_views.shift_board, name="board"),
    path("seats/<int:seat_id>/", views.seat_detail, name="seat"),
    path("seats/<int:seat_id>/recheck", seat_help.seat_recheck, name="seat_recheck"),
    path("seats/<int:seat_id>/acknowledge", seat_acknowledgements.seat_acknowledge, name="seat_acknowledge"),
    path(
        "seats/<int:seat_id>/acknowledgements/<int:acknowledgement_id>/revoke",
        seat_acknowledgements.seat_revoke_acknowledgement,
        name="seat_revoke_acknowledgement",
    ),
    path("fix/<str:token>/", seat_help.fix_page, name="fix"),
    path("fix/<str:token>/recheck", seat_help.fix_recheck, name="fix_recheck"),
    path("assets/plotly-<str:version>.min.js", views.plotly_js, name="plotly_js"),
]
