"""The Celery app: `celery -A config worker` runs the jobs (jobs.tasks), `celery -A config beat`
schedules the cleanup. Its settings are Django's CELERY_* settings (config.settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("ledger")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["jobs"])
