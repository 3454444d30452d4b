"""Policy versions: every change is an immutable, numbered record with who, when, why and
what changed; each seat's verdict names the version it was judged under; a seat judged under
an old version is healed by the next sweep; the admin previews a change before saving it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from server.compliance import evaluation, policy_versions, preview
from server.compliance.models import Policy, PolicyVersion, SeatVerdict
from server.compliance.tasks import sweep
from server.fleet.models import Readiness, Seat
from tests.server.floors import seated_devices
from tests.server.reports import healthy_facts, site_blocked

pytestmark = pytest.mark.django_db(transaction=True)

CTI = "https://acme.my.salesforce.com"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "correct horse battery")


@pytest.fixture
def floor_policy(floor):
    policy = Policy(name="Floor 1", floor=floor, cti_origins=[CTI])
    policy_versions.save(policy, comment="first rollout")
    return policy


def form_data(policy: Policy, **changes) -> dict:
    data = {
        "name": policy.name,
        "site": policy.site_id or "",
        "floor": policy.floor_id or "",
        "cti_origins": "\n".join(policy.cti_origins),
        "notifications_required": "on" if policy.notifications_required else "",
        "min_chrome_major": policy.min_chrome_major or "",
        "approved_headsets": "\n".join(policy.approved_headsets),
        "freshness_s": policy.freshness_s,
        "checkin_interval_s": policy.checkin_interval_s,
        "disabled_checks": list(policy.disabled_checks),
        "comment": "",
        "previewed": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def change_url(policy: Policy) -> str:
    return reverse("admin:compliance_policy_change", args=[policy.pk])


def verdict_versions() -> set[int | None]:
    return set(SeatVerdict.objects.values_list("policy_version_id", flat=True))


def test_every_change_is_a_numbered_version_with_who_why_and_what_changed(superuser, floor_policy):
    floor_policy.cti_origins = [CTI, "https://app.hubspot.com"]
    floor_policy.min_chrome_major = 120
    second = policy_versions.save(floor_policy, by=superuser, comment="HubSpot pilot")

    first = PolicyVersion.objects.get(policy=floor_policy, number=1)
    assert (second.number, second.created_by, second.comment) == (2, superuser, "HubSpot pilot")
    assert floor_policy.current_version == second
    assert [change["text"] for change in policy_versions.diff(first, second)] == [
        "CTI origins: added https://app.hubspot.com",
        "Minimum Chrome major version: none → 120",
    ]
    assert policy_versions.describe_all(second.changes) == [
        change["text"] for change in policy_versions.diff(first, second)
    ]


def test_saving_without_a_change_makes_no_version(floor_policy):
    assert policy_versions.save(floor_policy) is None
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1


def test_a_version_cannot_be_rewritten(floor_policy):
    version = floor_policy.current_version

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        PolicyVersion.objects.filter(pk=version.pk).update(content={"cti_origins": []})


def test_each_verdict_names_the_version_it_was_judged_under(floor, floor_policy):
    devices = seated_devices(floor, 3)

    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)

    assert verdict_versions() == {floor_policy.current_version_id}
    assert set(Seat.objects.values_list("readiness", flat=True)) == {Readiness.READY}


def test_a_policy_saved_while_the_worker_is_busy_is_in_force_on_every_seat_after_one_sweep(
    client, superuser, floor, floor_policy
):
    """The worker never gets to the re-evaluation the save queued (it is busy, or the task
    is lost): one sweep is enough for every seat to be judged under the new version."""
    devices = seated_devices(floor, 30)
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)
    old = floor_policy.current_version_id
    client.force_login(superuser)

    # No worker consumes the queue. Two submits: the preview, then the save.
    data = form_data(floor_policy, min_chrome_major="999")
    previewed = client.post(change_url(floor_policy), data)
    data["previewed"] = previewed.context["adminform"].form.data["previewed"]
    saved = client.post(change_url(floor_policy), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    floor_policy.refresh_from_db()
    assert floor_policy.current_version.number == 2
    assert verdict_versions() == {old}  # nothing re-judged yet

    sweep()

    assert verdict_versions() == {floor_policy.current_version_id}
    assert set(Seat.objects.values_list("readiness", flat=True)) == {Readiness.NOT_READY}


def test_a_verdict_made_under_a_version_just_replaced_is_healed_by_the_sweep(floor, floor_policy):
    """A worker that read the policy just before a save committed stamps the old version."""
    devices = seated_devices(floor, 5)
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)
    floor_policy.cti_origins = ["https://app.hubspot.com"]
    policy_versions.save(floor_policy)

    assert len(evaluation.stale_devices()) == 5
    assert evaluation.reevaluate_stale(chunk_size=2) == 5
    assert evaluation.stale_devices() == []
    assert verdict_versions() == {floor_policy.current_version_id}
    assert set(Seat.objects.values_list("readiness", flat=True)) == {Readiness.AT_RISK}


def test_a_seat_moved_under_another_policy_is_stale_until_judged_again(site, floor, floor_policy):
    from server.fleet.models import Floor

    devices = seated_devices(floor, 2)
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)
    other = Floor.objects.create(site=site, name="Floor 2")
    Seat.objects.filter(pk=devices[0].seat_id).update(floor=other)

    assert evaluation.stale_devices() == [devices[0].pk]


def test_the_preview_counts_where_the_seats_would_move_from_stored_facts(floor, floor_policy):
    devices = seated_devices(floor, 12) + seated_devices(floor, 3, facts=site_blocked(healthy_facts()))
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)

    impact = preview.impact(floor_policy, {"min_chrome_major": 999})

    assert (impact.seats, impact.unchanged) == (15, 3)
    assert impact.moves == {("ready", "not_ready"): 12}
    assert impact.lines() == [
        "12 seats would turn NOT READY (12 from READY)",
        "3 seats would keep their readiness.",
    ]
    assert Policy.objects.get(pk=floor_policy.pk).min_chrome_major is None  # nothing saved


def test_the_admin_shows_the_impact_before_saving_and_saves_on_confirmation(
    client, superuser, floor, floor_policy
):
    devices = seated_devices(floor, 12)
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)
    client.force_login(superuser)
    data = form_data(floor_policy, cti_origins="https://app.hubspot.com", comment="move to HubSpot")

    first = client.post(change_url(floor_policy), data)

    assert first.status_code == 200
    page = first.content.decode()
    assert "Nothing saved yet." in page
    assert "12 seats would turn AT RISK (12 from READY)" in page
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1

    data["previewed"] = first.context["adminform"].form.data["previewed"]
    second = client.post(change_url(floor_policy), data)

    assert second.status_code == 302
    latest = PolicyVersion.objects.filter(policy=floor_policy).latest("number")
    assert (latest.number, latest.comment, latest.created_by) == (2, "move to HubSpot", superuser)
    assert policy_versions.describe_all(latest.changes) == [
        "CTI origins: added https://app.hubspot.com; removed https://acme.my.salesforce.com"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "cti_origins",
            "https://ok.example.com\nnot an origin",
            "line 2: 'not an origin' is not a web origin",
        ),
        ("cti_origins", "https://a.example.com\nhttps://a.example.com", "listed twice"),
        ("approved_headsets", "0b0e:24dz", "line 1: '0b0e:24dz' is not a USB id"),
        ("freshness_s", "-5", "greater than or equal to 0"),
        ("disabled_checks", "no.such.check", "Select a valid choice"),
        ("severity__os__mic__in_use", "fatal", "Select a valid choice"),
    ],
)
def test_the_admin_refuses_bad_values_naming_the_field(
    client, superuser, floor_policy, field, value, message
):
    client.force_login(superuser)

    response = client.post(change_url(floor_policy), form_data(floor_policy, **{field: value}))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message in " ".join(form.errors[field])
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1


def test_the_policy_form_offers_the_catalogs_checks_by_title(client, superuser, floor_policy):
    client.force_login(superuser)

    page = client.get(change_url(floor_policy)).content.decode()

    assert 'type="checkbox" name="disabled_checks" value="chrome.mic.site"' in page
    assert "CTI sites may use the microphone (chrome.mic.site)" in page
    assert 'name="severity__os__mic__in_use"' in page


def test_a_saved_policy_reaches_every_seat_through_the_worker_within_seconds(
    client, superuser, floor, floor_policy, celery_worker
):
    from tests.conftest import wait_until

    devices = seated_devices(floor, 20)
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)
    client.force_login(superuser)
    data = form_data(floor_policy, min_chrome_major="999")
    preview_page = client.post(change_url(floor_policy), data)
    data["previewed"] = preview_page.context["adminform"].form.data["previewed"]

    assert client.post(change_url(floor_policy), data).status_code == 302

    new = Policy.objects.get(pk=floor_policy.pk).current_version_id
    wait_until(lambda: verdict_versions() == {new})
    assert set(Seat.objects.values_list("readiness", flat=True)) == {Readiness.NOT_READY}
