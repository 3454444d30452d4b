from django.urls import path

from dashboards import (
    board_views,
    fleet_views,
    landing,
    report_views,
    seat_acknowledgements,
    seat_help,
    views,
)

app_name = "dashboards"
urlpatterns = [
    path("", landing.home, name="home"),
    path("floor/", views.floor_overview, name="floor"),
    path("fleet/", fleet_views.fleet_overview_page, name="fleet"),
    path("board/", board_views.shift_board, name="board"),
    path("board/seats/<int:seat_id>/acknowledge", board_views.board_acknowledge, name="board_acknowledge"),
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
    path("reports/", report_views.archive, name="reports"),
    path("reports/now", report_views.make_now, name="report_now"),
    path("reports/runs/<int:run_id>/", report_views.run_detail, name="report_run"),
    path("reports/runs/<int:run_id>/<str:format>", report_views.download, name="report_download"),
    path("reports/schedules/new", report_views.schedule_edit, name="report_schedule_new"),
    path("reports/schedules/<int:schedule_id>/", report_views.schedule_edit, name="report_schedule"),
    path(
        "reports/schedules/<int:schedule_id>/subscription",
        report_views.subscription,
        name="report_subscription",
    ),
    path("assets/plotly-<str:version>.min.js", views.plotly_js, name="plotly_js"),
]
