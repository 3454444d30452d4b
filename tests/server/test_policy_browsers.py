"""The policy names the browsers the softphone runs in; the catalog judges each, and pages word
titles and fix steps for the browser a result was judged in."""

from __future__ import annotations

import pytest
from readyfloor_agent.checks import fix_for, title_for

from server.compliance.models import CheckResult, Policy
from server.fleet.models import Device

pytestmark = pytest.mark.django_db


def test_a_policy_is_chrome_unless_it_names_other_browsers(site) -> None:
    assert Policy.objects.create(name="default").to_catalog().browsers == ("chrome",)
    edge = Policy.objects.create(name="Lyon", site=site, browsers=["edge", "chrome"])
    assert edge.to_catalog().browsers == ("edge", "chrome")


def test_changing_the_browsers_changes_the_agents_config(site) -> None:
    policy = Policy.objects.create(name="Lyon", site=site)
    before = policy.config_version()
    policy.browsers = ["edge"]
    assert policy.config_version() != before


def test_an_unknown_browser_is_refused_naming_the_field(site) -> None:
    from django.core.exceptions import ValidationError

    policy = Policy(name="Lyon", site=site, browsers=["netscape"])
    with pytest.raises(ValidationError) as caught:
        policy.clean()
    assert "browsers" in str(caught.value)


def test_the_seat_page_words_an_edge_result_for_edge(client, admin_user, seats) -> None:
    device = Device.objects.create(
        site=seats[0].floor.site, host_identifier="h1", hostname="lyon-a01", os="windows", seat=seats[0]
    )
    CheckResult.objects.create(
        device=device,
        check_id="chrome.mic.site",
        state="fail",
        severity="critical",
        reason="Microphone set to Block in Edge",
        evidence={"browser": "edge"},
    )
    client.force_login(admin_user)
    page = client.get(f"/seats/{seats[0].pk}/").content.decode()
    assert title_for("chrome.mic.site", "edge") in page
    edge_steps = fix_for("chrome.mic.site", "windows", browser="edge").steps
    assert edge_steps != fix_for("chrome.mic.site", "windows").steps
    assert edge_steps[0].replace("'", "&#x27;") in page
