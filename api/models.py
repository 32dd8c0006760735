"""Idempotency keys: a POST repeated with the same key returns the first answer, writes nothing.

A key belongs to a user. The request's method, path and body are fingerprinted: the same key
with another request is refused (422).

A key is *reserved* before the work starts (``state = in_progress``, in its own committed
transaction: the unique constraint on user + key lets one request in, whatever the number sent
at once); the answer is stored with the work, in the work's transaction (``state = done``), so
a written record always has its answer. Requests that find the key in progress wait for the
answer and replay it. Only successful answers are kept: a refused or failed request wrote
nothing, so its reservation is released and it may be sent again (once corrected).
"""

from django.conf import settings
from django.db import models


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "in progress"
    DONE = "done", "done"


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=IdempotencyState.choices, default=IdempotencyState.DONE)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user"),
            models.CheckConstraint(
                condition=models.Q(state="in_progress") | models.Q(status_code__isnull=False),
                name="idempotency_key_done_has_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} ({self.state})"
