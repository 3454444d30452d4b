"""The admin: every model is there for an IT admin, and secrets are shown once, never stored."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from server.accounts.models import ApiToken
from server.fleet.models import EnrollSecret, sha256_hex
from tests.server.reports import checkin_body, enroll_body, healthy_facts
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "correct horse battery")


def test_every_readyfloor_model_is_in_the_admin():
    registered = {model._meta.label for model in admin.site._registry}

    assert {
        "fleet.Site", "fleet.Floor", "fleet.Seat", "fleet.Device", "fleet.EnrollSecret", "fleet.CheckIn",
        "fleet.FactSnapshot", "compliance.Policy", "compliance.CheckResult", "compliance.SeatEvent",
        "accounts.ApiToken",
    } <= registered  # fmt: skip


def test_every_list_and_change_page_opens(client, superuser, enroll_secret, seats, policy):
    key = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    client.force_login(superuser)

    for model in admin.site._registry:
        if model._meta.app_label not in {"fleet", "compliance", "accounts"}:
            continue
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        first = model.objects.first()
        if first is not None:
            change = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]
            )
            assert client.get(change).status_code == 200, change


def test_a_new_enroll_secret_is_shown_once_and_only_its_hash_kept(client, superuser, site):
    client.force_login(superuser)

    response = client.post(
        reverse("admin:fleet_enrollsecret_add"), {"site": site.pk, "name": "rollout"}, follow=True
    )

    message = next(str(m) for m in response.context["messages"] if "enroll secret" in str(m))
    plain = message.rsplit(" ", 1)[-1]
    secret = EnrollSecret.objects.get(name="rollout")
    assert secret.secret_hash == sha256_hex(plain)
    assert plain not in str(list(EnrollSecret.objects.values()))


def test_a_new_api_token_is_shown_once_and_works(client, superuser):
    client.force_login(superuser)

    response = client.post(
        reverse("admin:accounts_apitoken_add"), {"user": superuser.pk, "name": "reports"}, follow=True
    )

    plain = next(str(m) for m in response.context["messages"] if "API token" in str(m)).rsplit(" ", 1)[-1]
    assert ApiToken.objects.get(name="reports").token_hash == sha256_hex(plain)
    client.logout()
    assert client.get("/api/v1/seats", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200
