"""The archive keeps every run with what it was made from, and forgets runs past the retention."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from server.reports import rendering, running
from server.reports.models import ReportFile, ReportRun, RunStatus, Trigger
from server.reports.scoping import Scope

pytestmark = pytest.mark.django_db


def test_a_run_keeps_its_parameters_files_sizes_and_checksums(known_floor, admin_user) -> None:
    run = running.run_now(
        Scope.parse("team:Floor 1/Sales"), formats=["pdf", "csv"], period_days=30, user=admin_user
    )
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.generated_at is not None and run.duration_ms is not None
    assert run.parameters["scope"] == {
        "kind": "team",
        "site_id": known_floor.floor.site_id,
        "floor_id": known_floor.floor.pk,
        "team": "Sales",
        "label": "team Sales on Lyon contact centre / Floor 1",
    }
    assert run.parameters["formats"] == ["csv", "pdf"] and run.parameters["period_days"] == 30
    assert run.parameters["requested_by"] == "ines" and run.parameters["counts"]["not_ready"] == 1
    for file in ReportFile.objects.filter(run=run):
        content = bytes(file.content)
        assert file.size == len(content) and file.sha256 == hashlib.sha256(content).hexdigest()
        assert file.filename.startswith("readyfloor-lyon_contact_centre-floor_1-sales-")


def test_a_run_that_fails_to_render_says_why_and_keeps_no_files(known_floor, monkeypatch) -> None:
    def broken(content):
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setitem(rendering.RENDERERS, "pdf", (broken, "application/pdf"))
    run = running.create_run(Scope.parse("floor:Floor 1"), formats=["csv", "pdf"], trigger=Trigger.API)
    with pytest.raises(OSError):
        running.generate(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "libpango" in run.error
    assert not ReportFile.objects.filter(run=run).exists()
    # And it is not made twice: a failed run is not pending any more.
    assert running.generate(run.pk) is None


def test_runs_past_the_retention_are_purged_with_their_files(known_floor, settings) -> None:
    settings.READYFLOOR_REPORT_RETENTION_DAYS = 30
    old = running.run_now(Scope.parse("floor:Floor 1"), formats=["csv"], trigger=Trigger.COMMAND)
    recent = running.run_now(Scope.parse("floor:Floor 1"), formats=["csv"], trigger=Trigger.COMMAND)
    ReportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    assert running.purge_old_runs() == 1
    assert list(ReportRun.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(ReportFile.objects.values_list("run_id", flat=True)) == [recent.pk]
