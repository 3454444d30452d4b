"""The floor overview and the seat page, as an IT admin sees them (Django test client, real
PostgreSQL)."""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path

import plotly
import pytest
from django.urls import reverse
from readyfloor_agent.checks import fix_for

from tests.dashboards.conftest import (
    MIC_BLOCKED,
    NO_HEADSET,
    NOTIFICATIONS_ASK,
    NOW,
    SILENT,
    add_results,
    add_seat,
)

pytestmark = pytest.mark.django_db
FLOOR_URL = reverse("dashboards:floor")


def text_of(response) -> str:
    """The page as a reader sees it: tags gone, entities decoded, whitespace collapsed."""
    body = re.sub(r"<script\b.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def table_of(response) -> str:
    match = re.search(r'<table class="seats">.*?</table>', response.content.decode(), flags=re.S)
    return text_of_html(match.group(0)) if match else ""


def text_of_html(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


@pytest.mark.parametrize("path", ["/", "/seats/1/"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={path}"


def test_an_account_without_staff_access_is_told_whom_to_ask(client, outsider, floorplan):
    client.force_login(outsider)

    response = client.get(FLOOR_URL)

    assert response.status_code == 403
    assert "no staff access" in text_of(response)
    assert "B-01" not in text_of(response)


def test_the_login_form_signs_an_admin_in_and_lands_on_their_home_page(client, admin_user):
    page = client.get(reverse("login") + "?next=/")
    assert 'autocomplete="current-password"' in page.content.decode()
    assert '<label for="id_username">Username</label>' in page.content.decode()

    response = client.post(
        reverse("login"), {"username": "ines", "password": "correct horse battery", "next": "/"}
    )

    assert response.status_code == 302 and response["Location"] == "/"
    # "/" is each role's home: an IT admin's is the fleet overview.
    landing = client.get("/", follow=True)
    assert landing.status_code == 200
    assert landing.redirect_chain == [(reverse("dashboards:fleet"), 302)]


def test_a_wrong_password_is_explained_on_the_login_page(client, admin_user):
    response = client.post(reverse("login"), {"username": "ines", "password": "nope"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "enter a correct username and password" in text_of(response)


def test_the_overview_counts_seats_by_readiness(staff_client, floorplan):
    response = staff_client.get(FLOOR_URL)

    page = text_of(response)
    assert "4 of 8 seats need attention." in page
    for count, label in [(1, "Not ready"), (1, "Offline"), (1, "Unknown"), (1, "At risk"), (4, "Ready")]:
        assert f"{count} {label}" in page


def test_the_overview_lists_every_seat_that_is_not_ready_with_its_reasons(staff_client, floorplan):
    response = staff_client.get(FLOOR_URL)

    table = table_of(response)
    assert f"CTI sites may use the microphone — {MIC_BLOCKED['reason']}" in table
    assert f"Headset connected — {NO_HEADSET['reason']}" in table
    assert NOTIFICATIONS_ASK["reason"] in table
    assert SILENT["reason"] in table
    assert "No workstation is assigned to this seat." in table
    assert "A-01" not in table  # ready seats are not in the way
    assert f'href="{reverse("dashboards:seat", args=[floorplan.not_ready.pk])}"' in response.content.decode()


def test_the_worst_seats_come_first(staff_client, floorplan):
    table = table_of(staff_client.get(FLOOR_URL))

    order = [label for label in ("B-01", "B-03", "B-04", "B-02") if label in table]
    assert sorted(order, key=table.index) == ["B-01", "B-03", "B-04", "B-02"]


def test_the_table_shows_what_the_seat_stored_without_re_judging_it(staff_client, floor):
    # No CheckResult rows at all: the overview reads the seat's precomputed summary.
    add_seat(floor, "C-01", 0, 0, "not_ready", failing=[MIC_BLOCKED], hostname="lyon-c01")

    assert MIC_BLOCKED["reason"] in table_of(staff_client.get(FLOOR_URL))


@pytest.mark.parametrize(
    ("status", "listed", "not_listed"),
    [
        ("not_ready", ["B-01"], ["B-02", "B-03", "B-04", "A-01"]),
        ("at_risk", ["B-02"], ["B-01", "B-03"]),
        ("offline", ["B-03"], ["B-01", "B-02"]),
        ("ready", ["A-01", "A-04"], ["B-01"]),
        ("all", ["A-01", "B-01", "B-04"], []),
        ("nonsense", ["B-01", "B-02", "B-03", "B-04"], ["A-01"]),
    ],
)
def test_the_table_can_be_filtered_by_status(staff_client, floorplan, status, listed, not_listed):
    table = table_of(staff_client.get(FLOOR_URL, {"status": status}))

    assert all(label in table for label in listed)
    assert not any(label in table for label in not_listed)


def test_a_filter_with_no_match_says_so(staff_client, floor):
    add_seat(floor, "A-01", 0, 0, "not_ready", failing=[MIC_BLOCKED], hostname="lyon-a01")

    response = staff_client.get(FLOOR_URL, {"status": "offline"})

    assert "No offline seats on this floor right now." in text_of(response)


def test_an_empty_install_says_how_to_get_seats(staff_client):
    response = staff_client.get(FLOOR_URL)

    assert response.status_code == 200
    assert "No seats yet" in text_of(response)
    assert "python manage.py load_demo" in text_of(response)


def test_a_floor_without_seats_says_how_to_add_them(staff_client, floor):
    page = text_of(staff_client.get(FLOOR_URL))

    assert "No seats yet" in page
    assert "python manage.py load_demo" in page


def test_a_floor_where_every_seat_is_ready_says_so(staff_client, floor):
    for column in range(3):
        add_seat(floor, f"A-{column}", 0, column, "ready", hostname=f"lyon-{column}")

    page = text_of(staff_client.get(FLOOR_URL))

    assert "All 3 seats are ready." in page


def test_the_floor_picker_switches_floors_and_starts_on_the_first(staff_client, floorplan, site):
    from server.fleet.models import Floor

    second = Floor.objects.create(site=site, name="Floor 2")
    add_seat(second, "Z-01", 0, 0, "not_ready", failing=[SILENT], hostname="lyon-z01")

    first_page = staff_client.get(FLOOR_URL)
    second_page = staff_client.get(FLOOR_URL, {"floor": second.pk})

    assert "B-01" in table_of(first_page) and "Z-01" not in table_of(first_page)
    assert "Z-01" in table_of(second_page) and "B-01" not in table_of(second_page)
    assert f'<option value="{second.pk}" selected>Floor 2</option>' in second_page.content.decode()
    assert staff_client.get(FLOOR_URL, {"floor": 999999}).status_code == 404


def test_the_csv_link_exports_this_floor_from_the_operator_api(staff_client, floorplan):
    page = staff_client.get(FLOOR_URL).content.decode()
    csv_url = html.unescape(re.search(r'href="(/api/v1/seats\?[^"]+)"', page).group(1))

    export = staff_client.get(csv_url)

    assert "format=csv" in csv_url
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    body = b"".join(export.streaming_content).decode()
    assert "B-01" in body and MIC_BLOCKED["reason"] in body
    assert "A-01" not in body  # the export follows the table's "needs attention" filter


def test_the_floor_map_is_embedded_with_every_seat(staff_client, floorplan):
    page = staff_client.get(FLOOR_URL).content.decode()

    figure = re.search(
        r'<script type="application/json" id="floor-map-figure" data-live>(.*?)</script>', page, re.S
    )
    assert figure is not None
    for label in ("A-01", "B-01", "B-02", "B-03", "B-04"):
        assert label in figure.group(1)
    assert (
        'aria-label="Floor map of seats by readiness: 1 not ready, 1 offline, 1 unknown, 1 at risk, 4 ready"'
        in page
    )


def test_pages_load_plotly_from_this_server_not_a_cdn(staff_client, floorplan):
    page = staff_client.get(FLOOR_URL).content.decode()

    sources = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert f"/assets/plotly-{plotly.__version__}.min.js" in sources
    assert all(source.startswith("/") for source in sources)
    assert "cdn" not in page.lower()
    assert not re.search(r'(href|src)="https?://', page)


def test_plotly_js_is_the_packaged_file_cached_for_a_year(client):
    packaged = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    url = reverse("dashboards:plotly_js", args=[plotly.__version__])

    plain = client.get(url)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    again = client.get(url, headers={"If-None-Match": plain["ETag"]})

    assert plain.status_code == 200 and plain.content == packaged
    assert plain["Content-Type"].startswith("text/javascript")
    assert "immutable" in plain["Cache-Control"]
    assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(zipped.content) == packaged
    assert again.status_code == 304
    assert client.get(reverse("dashboards:plotly_js", args=["0.0.1"])).status_code == 404


def test_the_overview_asks_to_be_refreshed_every_30_seconds(staff_client, floorplan):
    page = staff_client.get(FLOOR_URL).content.decode()

    assert 'data-refresh-seconds="30"' in page
    assert '<meta http-equiv="refresh" content="30">' in page  # inside <noscript>, for browsers without JS


def test_the_overview_costs_the_same_few_queries_for_a_large_floor(
    staff_client, floor, django_assert_max_num_queries
):
    for n in range(120):
        add_seat(
            floor,
            f"S-{n:03d}",
            n // 12,
            n % 12,
            ("ready", "not_ready", "offline")[n % 3],
            failing=[] if n % 3 == 0 else [MIC_BLOCKED, NO_HEADSET],
            hostname=f"host-{n:03d}",
        )

    # session, user, floors, seats with their workstations
    with django_assert_max_num_queries(4):
        response = staff_client.get(FLOOR_URL, {"status": "all"})

    assert response.status_code == 200
    assert "S-119" in table_of(response)


def test_the_seat_page_shows_its_workstation_checks_and_fix_steps(staff_client, floorplan):
    seat = floorplan.not_ready

    response = staff_client.get(reverse("dashboards:seat", args=[seat.pk]))

    page = text_of(response)
    assert "Seat B-01" in page
    assert "Not ready since" in page
    assert "lyon-b01" in page and "Windows" in page and "Windows 11 23H2" in page
    assert "CTI sites may use the microphone" in page and MIC_BLOCKED["reason"] in page
    assert "Google Chrome installed" in page and "Chrome 131 is installed" in page
    for check_id in ("chrome.mic.site", "audio.headset.present"):
        fix = fix_for(check_id, "windows")
        assert all(html.unescape(step) in page for step in fix.steps)
        assert fix.it_note in page
    assert "How to fix it on Windows" in page
    assert "2 of 4 need attention" in page


def test_passing_checks_get_no_fix_steps(staff_client, floorplan):
    response = staff_client.get(reverse("dashboards:seat", args=[floorplan.not_ready.pk]))

    passing = re.search(
        r'<li class="check check-pass">.*?</li>\s*(?=<li class="check|</ul>)', response.content.decode(), re.S
    )
    assert passing is not None and "How to fix it" not in passing.group(0)


def test_fix_steps_follow_the_workstation_os(staff_client, floorplan):
    seat = floorplan.at_risk  # a Mac
    add_results(seat, {"chrome.notifications.site": ("warn", "warning", NOTIFICATIONS_ASK["reason"])})

    page = text_of(staff_client.get(reverse("dashboards:seat", args=[seat.pk])))

    assert "How to fix it on macOS" in page
    assert all(step in page for step in fix_for("chrome.notifications.site", "macos").steps)


def test_the_seat_page_shows_its_recent_transitions(staff_client, floorplan):
    page = text_of(staff_client.get(reverse("dashboards:seat", args=[floorplan.not_ready.pk])))

    assert f"✓ Ready → ✕ Not ready {MIC_BLOCKED['reason']}" in page


def test_a_check_the_catalog_does_not_know_is_still_listed_by_its_id(staff_client, floorplan):
    add_results(floorplan.offline, {"future.check": ("fail", "critical", "Something new is wrong")})

    page = text_of(staff_client.get(reverse("dashboards:seat", args=[floorplan.offline.pk])))

    assert "future.check" in page and "Something new is wrong" in page
    assert "No written fix for this check on Linux." in page


def test_a_seat_where_everything_passes_says_so(staff_client, floorplan):
    seat = floorplan.ready[0]
    add_results(seat, {"chrome.installed": ("pass", "critical", "Chrome 131 is installed")})

    page = text_of(staff_client.get(reverse("dashboards:seat", args=[seat.pk])))

    assert "Every check passes." in page
    assert "1 check passes or does not apply" in page
    assert "How to fix it" not in page


def test_a_seat_without_workstation_says_what_to_do(staff_client, floorplan):
    page = text_of(staff_client.get(reverse("dashboards:seat", args=[floorplan.unknown.pk])))

    assert "No workstation is assigned to this seat." in page
    assert "Nothing to check until a workstation sits at this seat." in page


def test_an_unknown_seat_is_not_found(staff_client, db):
    assert staff_client.get(reverse("dashboards:seat", args=[424242])).status_code == 404


def test_the_seat_page_costs_the_same_few_queries_however_long_its_history(
    staff_client, floorplan, django_assert_max_num_queries
):
    from server.compliance.models import SeatEvent

    seat = floorplan.not_ready
    SeatEvent.objects.bulk_create(
        SeatEvent(seat=seat, from_readiness="ready", to_readiness="not_ready", reason=f"flap {n}")
        for n in range(200)
    )

    # The seat's other histories grow too: check transitions and workstation moves.
    from server.compliance.models import CheckTransition
    from server.fleet.models import DeviceMove

    CheckTransition.objects.bulk_create(
        CheckTransition(
            seat=seat,
            check_id="chrome.mic.site",
            to_state="fail",
            severity="critical",
            reason="t",
            at=NOW,
        )
        for _ in range(200)
    )
    DeviceMove.objects.bulk_create(
        DeviceMove(device=seat.device, hostname="lyon-b01", to_seat=seat, to_label=seat.label)
        for _ in range(50)
    )

    # session, user, seat with floor/site/workstation, results, recent events; then the
    # timeline, the seat's acknowledgements, the floor's, the moves, the verdict's policy version
    with django_assert_max_num_queries(10):
        response = staff_client.get(reverse("dashboards:seat", args=[seat.pk]))

    assert response.status_code == 200
    assert text_of(response).count("flap ") == 20  # only the most recent changes


def test_the_team_filter_narrows_the_floor_page(staff_client, floorplan):
    page = staff_client.get(FLOOR_URL, {"team": "Support", "status": "all"})
    table = table_of(page)

    assert "B-01" in table  # the one Support seat
    assert "A-01" not in table and "B-02" not in table
    assert "Team Support" in text_of(page)
    assert staff_client.get(FLOOR_URL, {"team": "Nobody"}).status_code == 404


def test_the_floor_page_takes_the_floors_name_as_well_as_its_id(staff_client, floorplan):
    assert "B-01" in table_of(staff_client.get(FLOOR_URL, {"floor": "Floor 1"}))


def test_a_supervisor_sees_their_floor_only_and_the_csv_link_for_it(client, supervisor, floorplan, site):
    from server.fleet.models import Floor

    other = Floor.objects.create(site=site, name="Floor 9")
    add_seat(other, "Z-01", 0, 0, "not_ready", failing=[MIC_BLOCKED], hostname="secret-z01")
    client.force_login(supervisor)

    page = client.get(FLOOR_URL).content.decode()

    assert "B-01" in page and "Floor 9" not in page and "secret-z01" not in page
    assert "Download CSV" in page
    assert client.get(FLOOR_URL, {"floor": other.pk}).status_code == 404
