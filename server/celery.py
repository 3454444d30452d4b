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
    "purge-old-checkins": {"task": "server.compliance.tasks.purge_old_checkins", "schedule": 3600.0},
    "purge-old-history": {"task": "server.compliance.tasks.purge_old_history", "schedule": 86400.0},
}
