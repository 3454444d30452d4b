"""Which policy governs a seat is one rule (server/compliance/governing.py), in an ORM form
and a prepared-SQL form: for every arrangement of policies, both choose the same row,
including when several default policies exist (the oldest wins)."""

from __future__ import annotations

import itertools

import pytest

from server.compliance import governing
from server.compliance.models import Policy
from server.fleet import rawsql
from server.fleet.models import Device, Floor, Site

pytestmark = pytest.mark.django_db

SCOPES = ["default", "second default", "third default", "site", "floor", "other floor", "other site"]


def governing_by_sql(device: Device) -> int | None:
    sql = governing.device_sql("d.id", where="d.id = %(device)s")
    row = rawsql.fetch_one_prepared(sql, {"device": device.pk})
    assert row is not None
    return row[1]


@pytest.mark.parametrize("seated", [True, False], ids=["seated", "unseated"])
@pytest.mark.parametrize(
    "scopes",
    [combo for size in range(len(SCOPES) + 1) for combo in itertools.combinations(SCOPES, size)][::5],
    ids=lambda scopes: "+".join(scopes) or "none",
)
def test_the_orm_and_the_sql_form_choose_the_same_policy(site, floor, seats, scopes, seated):
    other_floor = Floor.objects.create(site=site, name="Floor 2")
    other_site = Site.objects.create(name="Elsewhere")
    where = {
        "default": {},
        "second default": {},
        "third default": {},
        "site": {"site": site},
        "floor": {"floor": floor},
        "other floor": {"floor": other_floor},
        "other site": {"site": other_site},
    }
    for scope in scopes:
        Policy.objects.create(name=scope, **where[scope])
    device = Device.objects.create(
        site=site, host_identifier="h1", hostname="h1", os="linux", seat=seats[0] if seated else None
    )

    chosen = governing.policy_for(device.seat, device.site)

    assert governing_by_sql(device) == chosen.pk
    if "floor" in scopes and seated:
        assert chosen.name == "floor"
    elif "site" in scopes:
        assert chosen.name == "site"
    elif any("default" in scope for scope in scopes):
        # Created in the order listed, so the first default listed is the oldest.
        assert chosen.name == next(scope for scope in scopes if "default" in scope)
    else:
        assert chosen.pk is None and chosen.name == "built-in default"


def test_several_default_policies_go_to_the_oldest_in_both_forms(site, seats):
    oldest = Policy.objects.create(name="first default")
    Policy.objects.create(name="second default")
    Policy.objects.create(name="third default")
    device = Device.objects.create(site=site, host_identifier="h1", hostname="h1", os="linux", seat=seats[0])

    assert governing.policy_for(device.seat, device.site) == oldest
    assert governing_by_sql(device) == oldest.pk
