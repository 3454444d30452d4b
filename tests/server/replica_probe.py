"""Run by test_replica_reads.py in a process of its own, with DATABASE_URL naming a primary and
DATABASE_REPLICA_URL its streaming replica: migrates, then shows where each read and write
went. Prints one JSON document. Not a test module itself (Django must be set up with the
replica configured, which the outer test run is not)."""

from __future__ import annotations

import json
import time

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from server.fleet.models import Floor, Seat, Site  # noqa: E402
from server.replica import STICKY_COOKIE, ReplicaRouter, reads_from_replica  # noqa: E402


def replica_caught_up(timeout: float = 30.0) -> float:
    """Seconds until the replica has replayed everything the primary has written."""
    began = time.monotonic()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    while time.monotonic() - began < timeout:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return time.monotonic() - began
        time.sleep(0.05)
    raise SystemExit(f"the replica did not replay up to {target} within {timeout} s")


def listed(client: Client, label: str) -> dict[str, bool]:
    api = client.get("/api/v1/seats")
    page = client.get("/floor/", {"status": "all"})
    assert api.status_code == 200 and page.status_code == 200, (api.status_code, page.status_code)
    return {"api": label in api.content.decode(), "dashboard": label in page.content.decode()}


call_command("migrate", verbosity=0, interactive=False)
results: dict = {}
site = Site.objects.create(name="Replica contact centre")
floor = Floor.objects.create(site=site, name="Floor 1")
Seat.objects.create(floor=floor, label="ON-BOTH", readiness="ready")
user = User.objects.create_superuser("ines", "ines@example.com", "correct horse battery")
client = Client()
client.force_login(user)
results["caught_up_s"] = replica_caught_up()

router = ReplicaRouter()
with reads_from_replica():
    results["read_db_in_replica_block"] = router.db_for_read(Seat)
    results["read_db_of_users"] = router.db_for_read(User)
    results["write_db_in_replica_block"] = router.db_for_write(Seat)
results["read_db_elsewhere"] = router.db_for_read(Seat)
results["replica_is_in_recovery"] = connections["replica"].cursor().execute(
    "SELECT pg_is_in_recovery()").fetchone()[0]
results["both_list_the_replicated_seat"] = listed(client, "ON-BOTH")

# Stop the replica replaying: from now on it cannot know what the primary is told.
with connections["replica"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_pause()")
with reads_from_replica():
    # Writes go to the primary even inside a replica block (the standby would refuse them).
    Seat.objects.create(floor=floor, label="ONLY-ON-PRIMARY", readiness="not_ready")
    updated = Seat.objects.filter(label="ON-BOTH").update(team="Updated on the primary")
    results["replica_block_write_updated"] = updated
    results["replica_read_sees_new_seat"] = Seat.objects.filter(label="ONLY-ON-PRIMARY").exists()
results["primary_read_sees_new_seat"] = Seat.objects.filter(label="ONLY-ON-PRIMARY").exists()
results["primary_team"] = Seat.objects.get(label="ON-BOTH").team
results["pages_while_replay_paused"] = listed(client, "ONLY-ON-PRIMARY")
admin = client.get("/admin/fleet/seat/")
assert admin.status_code == 200, admin.status_code
results["admin_while_replay_paused"] = "ONLY-ON-PRIMARY" in admin.content.decode()

# Someone who just changed something reads the primary for a while.
posted = client.post("/api/v1/seats")
results["post_sets_sticky_cookie"] = STICKY_COOKIE in posted.cookies
results["pages_right_after_a_post"] = listed(client, "ONLY-ON-PRIMARY")
client.cookies.pop(STICKY_COOKIE, None)

with connections["replica"].cursor() as cursor:
    cursor.execute("SELECT pg_wal_replay_resume()")
results["caught_up_after_resume_s"] = replica_caught_up()
results["pages_after_resume"] = listed(client, "ONLY-ON-PRIMARY")
print(json.dumps(results))
