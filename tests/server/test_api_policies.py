"""Operator API, policies: read them and their versions, diff two versions, preview a change
(nothing saved), and change one as an IT admin (a new version, refused values named)."""

from __future__ import annotations

import pytest
from django.db import transaction

from server.accounts.models import ApiToken
from server.compliance import evaluation, policy_versions
from server.compliance.models import Policy, PolicyVersion
from server.fleet.models import Floor, Site
from tests.server.floors import seated_devices
from tests.server.reports import healthy_facts, site_blocked

pytestmark = pytest.mark.django_db

CTI = "https://acme.my.salesforce.com"
POLICIES = "/api/v1/policies"


@pytest.fixture
def default_policy(db) -> Policy:
    policy = Policy(name="Everywhere", cti_origins=[CTI])
    policy_versions.save(policy, comment="first rollout")
    return policy


@pytest.fixture
def floor_policy(floor) -> Policy:
    policy = Policy(name="Floor 1", floor=floor, cti_origins=[CTI])
    policy_versions.save(policy, comment="first rollout")
    return policy


@pytest.fixture
def paris_policy(db) -> Policy:
    """The policy of another site, which a supervisor of Floor 1 must not see."""
    site = Site.objects.create(name="Paris office", timezone="Europe/Paris")
    Floor.objects.create(site=site, name="Mezzanine")
    policy = Policy(name="Paris", site=site, cti_origins=[CTI])
    policy_versions.save(policy)
    return policy


@pytest.fixture
def token(admin_user) -> str:
    return ApiToken.issue(admin_user, "scripts")[1]


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def patch(client, url: str, body: dict, **headers):
    return client.patch(url, body, content_type="application/json", **headers)


def test_an_it_admin_lists_every_policy_with_its_version_in_force(
    client, token, default_policy, floor_policy, paris_policy
):
    body = client.get(POLICIES, **bearer(token)).json()

    assert body["count"] == 3
    assert [(p["name"], p["scope"], p["version"]) for p in body["results"]] == [
        ("Everywhere", "default", 1),
        ("Floor 1", "floor", 1),
        ("Paris", "site", 1),
    ]
    assert body["results"][1]["cti_origins"] == [CTI]


def test_a_supervisor_sees_the_default_and_their_own_floors_policies_only(
    client, supervisor, default_policy, floor_policy, paris_policy
):
    client.force_login(supervisor)

    names = [p["name"] for p in client.get(POLICIES).json()["results"]]

    assert names == ["Everywhere", "Floor 1"]
    assert client.get(f"{POLICIES}/{paris_policy.pk}").status_code == 404
    assert client.get(f"{POLICIES}/{paris_policy.pk}/versions").status_code == 404
    assert client.get(f"{POLICIES}/{floor_policy.pk}").json()["name"] == "Floor 1"


def test_an_auditor_reads_every_policy(client, auditor, floor_policy, paris_policy):
    client.force_login(auditor)

    assert client.get(POLICIES).json()["count"] == 2
    assert client.get(f"{POLICIES}/{paris_policy.pk}").json()["scope"] == "site"


def test_policies_are_paginated(client, token, default_policy, floor_policy, paris_policy):
    first = client.get(POLICIES, {"page_size": 2}, **bearer(token)).json()
    second = client.get(first["next"], **bearer(token)).json()

    assert (first["count"], first["pages"], len(first["results"])) == (3, 2, 2)
    assert [p["name"] for p in second["results"]] == ["Paris"]
    assert client.get(POLICIES, {"page": 3, "page_size": 2}, **bearer(token)).json()["field"] == "page"


def test_an_it_admin_changes_a_policy_and_a_version_records_who_why_and_what(
    client, admin_user, token, floor_policy
):
    response = patch(
        client,
        f"{POLICIES}/{floor_policy.pk}",
        {
            "cti_origins": [CTI, "https://app.hubspot.com"],
            "min_chrome_major": 120,
            "comment": "HubSpot pilot",
        },
        **bearer(token),
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["policy"]["version"] == 2
    assert body["version"]["created_by"] == "ines"
    assert body["version"]["comment"] == "HubSpot pilot"
    assert [change["text"] for change in body["version"]["changes"]] == [
        "CTI origins: added https://app.hubspot.com",
        "Minimum Chrome major version: none → 120",
    ]
    stored = Policy.objects.get(pk=floor_policy.pk)
    assert (stored.min_chrome_major, stored.current_version.number) == (120, 2)
    assert stored.current_version.created_by == admin_user


def test_saving_the_same_values_again_creates_no_version(client, token, floor_policy):
    response = patch(client, f"{POLICIES}/{floor_policy.pk}", {"cti_origins": [CTI]}, **bearer(token))

    assert response.status_code == 200
    assert response.json()["version"] is None
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"cti_origins": ["not an origin"]}, "cti_origins", "not a web origin"),
        ({"cti_origins": [CTI, CTI]}, "cti_origins", "listed twice"),
        ({"approved_headsets": ["0b0e:zzzz"]}, "approved_headsets", "not a USB id"),
        ({"disabled_checks": ["no.such.check"]}, "disabled_checks", "no.such.check"),
        ({"browsers": ["netscape"]}, "browsers", "netscape"),
        ({"severities": {"no.such.check": "critical"}}, "severities.no.such.check", "not a check"),
        ({"severities": {"chrome.mic.site": "dire"}}, "severities.chrome.mic.site", "dire"),
        ({"freshness_s": -5}, "freshness_s", ""),
        ({"name": ""}, "name", ""),
        ({"freshness_s": None}, "freshness_s", "must not be null"),
        ({"freshness_s": "soon"}, "freshness_s", ""),
        ({"colour": "blue"}, "colour", ""),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_nothing_is_stored(
    client, token, floor_policy, change, field, words
):
    response = patch(client, f"{POLICIES}/{floor_policy.pk}", change, **bearer(token))

    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert words in response.json()["detail"]
    stored = Policy.objects.get(pk=floor_policy.pk)
    assert policy_versions.content_of(stored) == PolicyVersion.objects.get(policy=floor_policy).content
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1


def test_only_it_admins_change_policies(client, supervisor, auditor, floor_policy):
    for user in (supervisor, auditor):
        client.force_login(user)
        response = patch(client, f"{POLICIES}/{floor_policy.pk}", {"min_chrome_major": 120})
        assert response.status_code == 403, user
    assert Policy.objects.get(pk=floor_policy.pk).min_chrome_major is None


def test_versions_are_listed_newest_first_read_one_by_one_and_diffed(client, token, admin_user, floor_policy):
    for major in (118, 120, 122):
        floor_policy.min_chrome_major = major
        policy_versions.save(floor_policy, by=admin_user, comment=f"Chrome {major}")

    versions = client.get(f"{POLICIES}/{floor_policy.pk}/versions", {"page_size": 3}, **bearer(token)).json()
    one = client.get(f"{POLICIES}/{floor_policy.pk}/versions/1", **bearer(token)).json()
    diff = client.get(
        f"{POLICIES}/{floor_policy.pk}/diff", {"from_version": 2, "to_version": 4}, **bearer(token)
    ).json()

    assert (versions["count"], versions["pages"]) == (4, 2)
    assert [v["number"] for v in versions["results"]] == [4, 3, 2]
    assert (one["number"], one["comment"], one["content"]["cti_origins"]) == (1, "first rollout", [CTI])
    assert [c["text"] for c in diff["changes"]] == ["Minimum Chrome major version: 118 → 122"]
    missing = client.get(
        f"{POLICIES}/{floor_policy.pk}/diff", {"from_version": 1, "to_version": 9}, **bearer(token)
    )
    assert (missing.status_code, missing.json()["field"]) == (404, "to_version")
    assert client.get(f"{POLICIES}/{floor_policy.pk}/diff", **bearer(token)).json()["field"] == "from_version"


def test_the_preview_says_where_seats_would_move_and_saves_nothing(client, token, floor, floor_policy):
    devices = seated_devices(floor, 12) + seated_devices(floor, 3, facts=site_blocked(healthy_facts()))
    with transaction.atomic():
        evaluation.judge([d.pk for d in devices], now=devices[0].last_seen_at)

    response = client.post(
        f"{POLICIES}/{floor_policy.pk}/preview",
        {"min_chrome_major": 999},
        content_type="application/json",
        **bearer(token),
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "seats": 15,
        "unchanged": 3,
        "moves": [{"from": "ready", "to": "not_ready", "seats": 12}],
        "summary": ["12 seats would turn NOT READY (12 from READY)", "3 seats would keep their readiness."],
    }
    assert Policy.objects.get(pk=floor_policy.pk).min_chrome_major is None
    assert PolicyVersion.objects.filter(policy=floor_policy).count() == 1


def test_the_preview_refuses_bad_values_naming_the_field(client, token, floor_policy):
    response = client.post(
        f"{POLICIES}/{floor_policy.pk}/preview",
        {"cti_origins": ["not an origin"]},
        content_type="application/json",
        **bearer(token),
    )

    assert (response.status_code, response.json().get("field")) == (400, "cti_origins"), response.json()


def test_a_supervisor_may_not_preview_what_counts_other_floors(client, supervisor, default_policy):
    client.force_login(supervisor)

    response = client.post(
        f"{POLICIES}/{default_policy.pk}/preview", {"min_chrome_major": 1}, content_type="application/json"
    )

    assert response.status_code == 403


def test_the_policy_endpoints_are_in_the_served_openapi_document(client):
    paths = client.get("/api/schema.json").json()["paths"]

    assert {"get", "patch"} <= set(paths["/api/v1/policies/{policy_id}"])
    assert "post" in paths["/api/v1/policies/{policy_id}/preview"]
    for path in (
        "/api/v1/policies",
        "/api/v1/policies/{policy_id}/versions",
        "/api/v1/policies/{policy_id}/versions/{number}",
        "/api/v1/policies/{policy_id}/diff",
    ):
        assert "get" in paths[path], path
