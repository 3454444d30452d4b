"""The Celery app: `celery -A server worker` and `celery -A server beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

app = Celery("readyfloor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "sweep": {
        "task": "server.compliance.tasks.sweep",
        "schedule": float(os.getenv("READYFLOOR_SWEEP_INTERVAL_S", "30")),
    },
    # Each shift's start is recorded by the first run after it (see server/shifts/snapshots.py).
    "take-shift-snapshots": {
        "task": "server.shifts.tasks.take_shift_snapshots",
        "schedule": float(os.getenv("READYFLOOR_SHIFT_SNAPSHOT_INTERVAL_S", "60")),
    },
    "purge-old-checkins": {"task": "server.compliance.tasks.purge_old_checkins", "schedule": 3600.0},
    # Seat events → alert digests → deliveries, on the alerts queue (CELERY_TASK_ROUTES).
    "collect-alerts": {
        "task": "server.alerts.tasks.collect",
        "schedule": float(os.getenv("READYFLOOR_ALERT_COLLECT_S", "10")),
    },
    "purge-alert-log": {"task": "server.alerts.tasks.purge_old_digests", "schedule": 3600.0},
    # Acknowledgements end by themselves; this writes the "expired" step of their audit trail.
    "record-acknowledgement-expiries": {
        "task": "server.acknowledgements.tasks.record_expiries",
        "schedule": 60.0,
    },
    "purge-old-history": {"task": "server.compliance.tasks.purge_old_history", "schedule": 86400.0},
    # "N minutes before each shift" reports: which are due is worked out from the shifts each tick.
    # Daily, weekly and cron reports are rows of their own in django-celery-beat's tables.
    "report-shift-tick": {
        "task": "server.reports.tasks.tick",
        "schedule": float(os.getenv("READYFLOOR_REPORT_TICK_S", "60")),
    },
    "purge-old-reports": {"task": "server.reports.tasks.purge", "schedule": 86400.0},
}
