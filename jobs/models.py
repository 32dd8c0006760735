"""A job: long work (the whole grant's workbook, a revaluation) asked for through the API and run
by a Celery worker, or by the web process itself when there is no broker (``jobs.services``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobKind(models.TextChoices):
    WORKBOOK = "variance_workbook", _("Donor's workbook")
    REVALUE = "revalue", _("Revaluation")


class JobState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


class JobError(models.TextChoices):
    """A failed job's own error codes (in the job's body, never an HTTP answer), besides the codes
    of the service it ran (``grants.errors.ErrorCode``: revaluation_needs_confirm, ...)."""

    TIME_LIMIT = "job_time_limit", _("Past its time limit")
    UNEXPECTED = "job_error", _("Unexpected error")


def job_file_path(job: Job, filename: str) -> str:
    return f"jobs/{job.pk}/{filename}"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    grant = models.ForeignKey("grants.Grant", on_delete=models.CASCADE, related_name="jobs")
    # The request's parameters, normalised (defaults resolved), and their digest: the same request
    # while a job of it is queued or running gets that job.
    params = models.JSONField(default=dict)
    params_key = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    done = models.PositiveBigIntegerField(default=0, help_text=_("Rows done."))
    total = models.PositiveBigIntegerField(null=True, blank=True, help_text=_("Rows to do, once known."))
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    time_limit = models.PositiveIntegerField(help_text=_("Seconds the job may run."))
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    file = models.FileField(upload_to=job_file_path, max_length=255, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    file_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one queued or running job per owner, kind, grant and parameters.
            models.UniqueConstraint(fields=["owner", "kind", "grant", "params_key"],
                                    condition=Q(state__in=["queued", "running"]), name="jobs_one_active_per_request"),
        ]
        indexes = [models.Index(fields=["state", "finished_at"], name="jobs_state_finished")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.state})"
