"""Chrome's version on the device row: ingest keeps `Device.chrome_version` with the current
facts (`chrome.version`), and the fleet overview counts devices by Chrome major from it."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from server.compliance.fleet_overview import breakdowns
from server.fleet.models import Device
from tests.server.reports import checkin_body, healthy_facts, heartbeat_body
from tests.server.test_agent_api import CHECKIN, post
from tests.server.test_checkin_fast_path import enrolled

pytestmark = pytest.mark.django_db


def with_chrome(version: str | None) -> dict[str, Any]:
    facts = copy.deepcopy(healthy_facts())
    facts["chrome"]["version"] = version
    return facts


def chrome_majors() -> dict[str, int]:
    return {line.value: line.devices for line in breakdowns(None)["chrome"]}


@pytest.fixture
def node_key(client, seats, enroll_secret, policy) -> str:
    return enrolled(client, enroll_secret, ("Floor 1", "A-01"))


def test_a_checkin_with_new_facts_sets_the_chrome_version_and_the_breakdown_counts_it(client, node_key):
    post(client, CHECKIN, checkin_body(with_chrome("131.0.6778.85")), key=node_key)
    assert Device.objects.get().chrome_version == "131.0.6778.85"
    assert chrome_majors() == {"131": 1}

    response = post(client, CHECKIN, checkin_body(with_chrome("132.0.6834.57")), key=node_key)

    assert response.status_code == 202
    assert Device.objects.get().chrome_version == "132.0.6834.57"
    assert chrome_majors() == {"132": 1}


def test_facts_that_do_not_report_chrome_s_version_leave_it_blank_and_not_reported(client, node_key):
    post(client, CHECKIN, checkin_body(with_chrome("131.0.6778.85")), key=node_key)

    post(client, CHECKIN, checkin_body(with_chrome(None)), key=node_key)

    assert Device.objects.get().chrome_version == ""
    assert chrome_majors() == {"not reported": 1}


def test_a_heartbeat_naming_facts_held_from_before_brings_their_chrome_version_back(client, node_key):
    old, new = with_chrome("131.0.6778.85"), with_chrome("132.0.6834.57")
    post(client, CHECKIN, checkin_body(old), key=node_key)
    post(client, CHECKIN, checkin_body(new), key=node_key)

    # Only the hash of facts the server already holds: ingest reads the version from them.
    response = post(client, CHECKIN, heartbeat_body(old), key=node_key)

    assert response.status_code == 202, response.content
    assert Device.objects.get().chrome_version == "131.0.6778.85"


def test_an_older_report_never_moves_the_chrome_version_back(client, node_key):
    now = dt.datetime.now(dt.timezone.utc)
    post(client, CHECKIN, checkin_body(with_chrome("132.0.6834.57"), collected_at=now), key=node_key)

    late = checkin_body(with_chrome("131.0.6778.85"), collected_at=now - dt.timedelta(minutes=5))
    post(client, CHECKIN, late, key=node_key)

    assert Device.objects.get().chrome_version == "132.0.6834.57"


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_each_device_s_chrome_version_from_its_current_facts() -> None:
    before = [("fleet", "0008_enrolment_token_and_db_defaults")]
    after = [("fleet", "0009_device_chrome_version")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    site = old.get_model("fleet", "Site").objects.create(name="Lyon", timezone="Europe/Paris")
    snapshots = old.get_model("fleet", "FactSnapshot").objects
    facts = {
        "reported": {"chrome": {"installed": True, "version": "131.0.6778.85"}},
        "not-reported": {"chrome": {"installed": False, "version": None}},
        "no-chrome-group": {"host": {"os": "linux"}},
    }
    devices = old.get_model("fleet", "Device").objects
    for name, reported in facts.items():
        devices.create(
            site=site,
            host_identifier=name,
            hostname=name,
            os="linux",
            current_facts=snapshots.create(sha256=name, facts=reported),
        )
    devices.create(site=site, host_identifier="never", hostname="never", os="linux")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the rest of the schema, as before

    versions = dict(Device.objects.values_list("host_identifier", "chrome_version"))
    assert versions == {"reported": "131.0.6778.85", "not-reported": "", "no-chrome-group": "", "never": ""}
