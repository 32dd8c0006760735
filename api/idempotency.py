"""`Idempotency-Key` on POST: see ``api.models.IdempotencyKey``.

How a keyed POST runs:

1. The key is reserved before any work, in its own committed transaction: a row ``in_progress``
   with the request's fingerprint. The unique constraint on user + key lets exactly one of the
   requests sent at once in (the owner).
2. The owner does the work and stores its answer in the same transaction (``done``): a record
   is never written without its answer, nor an answer kept without its record.
3. The others find the key and, if the fingerprint differs, answer 422
   ``idempotency_key_reused`` at once; if it is done, they replay its answer (same status, same
   body, ``Idempotent-Replayed: true``); if it is in progress, they poll (every
   ``POLL_SECONDS``) for up to ``IDEMPOTENCY_WAIT_SECONDS`` (setting, default 10), then replay.
4. When the owner's request is refused (4xx), fails (5xx) or meets a concurrent writer (409
   ``retry``), its work is rolled back and the reservation released (deleted): nothing was
   written, so the key is not used up. A request waiting on that key then takes the
   reservation and runs itself; the same request earns the same refusal, so N parallel
   requests still get N identical answers when the first is refused (``duplicate_voucher``,
   ``fractional_xof``...), one after the other.
5. A request still waiting when the time is up gets 409 ``idempotency_key_in_progress`` (it may
   send the request again later). A reservation older than ``IDEMPOTENCY_STALE_SECONDS``
   (default 300, well beyond any request's timeout) belongs to a process that died: a request
   finding one takes it over; should the owner still be alive after all, it finds its
   reservation gone when storing the answer and rolls its work back (409).

The reservation is committed at once only when the request runs outside a transaction (the
API's views are not wrapped in one: ``ATOMIC_REQUESTS`` is off); inside one, it lives and dies
with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api.exceptions import error_response, is_retryable
from api.models import IdempotencyKey, IdempotencyState
from grants.errors import Conflict, ErrorCode

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
POLL_SECONDS = 0.05

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER, type=OpenApiTypes.STR, location=OpenApiParameter.HEADER, required=False,
    description=(
        "Makes a POST safe to repeat: the same key with the same body returns the first answer "
        "and writes nothing more, also when the requests arrive at the same time (the later ones "
        "wait for the first); the same key with another body is refused with 422. A refused "
        "request does not use up its key."
    ),
)


def wait_seconds() -> float:
    return float(getattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 10))


def stale_seconds() -> float:
    return float(getattr(settings, "IDEMPOTENCY_STALE_SECONDS", 300))


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    raw = f"{request.method} {request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def _reserve(user, key: str, fingerprint: str, seconds: float) -> IdempotencyKey | None:
    """The reservation, or None when the key is taken (by this request's twin or an earlier one).

    On PostgreSQL the insert waits for the transaction of a twin still working on the key (the
    unique index cannot tell yet whether the key stays); ``lock_timeout`` bounds that wait by the
    time left, after which the key counts as in progress."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(1, int(seconds * 1000))}ms"])
            return IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint,
                                                 state=IdempotencyState.IN_PROGRESS)
    except IntegrityError:
        return None
    except OperationalError as exc:
        if is_retryable(exc):  # lock_timeout: the twin is still at work
            return None
        raise


def _release(reservation: IdempotencyKey) -> None:
    try:
        IdempotencyKey.objects.filter(pk=reservation.pk, state=IdempotencyState.IN_PROGRESS).delete()
    except DatabaseError:
        # The connection is unusable (inside a broken outer transaction): the reservation goes
        # with that transaction, or becomes stale and is taken over.
        pass


def _take_over_if_stale(stored: IdempotencyKey) -> bool:
    cutoff = timezone.now() - timedelta(seconds=stale_seconds())
    if stored.created_at >= cutoff:
        return False
    IdempotencyKey.objects.filter(pk=stored.pk, state=IdempotencyState.IN_PROGRESS,
                                  created_at__lt=cutoff).delete()
    return True


def _reused() -> Response:
    return error_response(422, [{
        "code": ErrorCode.IDEMPOTENCY_KEY_REUSED.value,
        "detail": "This Idempotency-Key was used for another request.",
        "attr": None,
    }])


def _still_in_progress() -> Response:
    response = error_response(409, [{
        "code": ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS.value,
        "detail": "A request with this Idempotency-Key is still being processed; send it again later.",
        "attr": None,
    }])
    response["Retry-After"] = "1"
    return response


def _replay(stored: IdempotencyKey) -> Response:
    response = Response(stored.response_body, status=stored.status_code)
    response[REPLAYED] = "true"
    return response


class IdempotentCreateMixin:
    """For viewsets: wraps ``create`` so that an ``Idempotency-Key`` header is honoured."""

    def create(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return super().create(request, *args, **kwargs)
        if len(key) > 255:
            return error_response(400, [{"code": ErrorCode.INVALID.value, "detail": "Idempotency-Key is too long.",
                                         "attr": None}])
        fingerprint = _fingerprint(request)
        deadline = time.monotonic() + wait_seconds()
        while True:
            reservation = _reserve(request.user, key, fingerprint, max(deadline - time.monotonic(), 0.001))
            if reservation is not None:
                return self._create_once(reservation, request, *args, **kwargs)
            stored = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if stored is None:
                continue  # released between our insert and our read: try to reserve it again
            if stored.fingerprint != fingerprint:
                return _reused()
            if stored.state == IdempotencyState.DONE:
                return _replay(stored)
            if _take_over_if_stale(stored):
                continue
            if time.monotonic() >= deadline:
                return _still_in_progress()
            time.sleep(POLL_SECONDS)

    def _create_once(self, reservation: IdempotencyKey, request, *args, **kwargs):
        """The work and its answer in one transaction; the reservation released unless it succeeds."""
        try:
            with transaction.atomic():
                response = super().create(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                    stored = IdempotencyKey.objects.filter(
                        pk=reservation.pk, state=IdempotencyState.IN_PROGRESS,
                    ).update(state=IdempotencyState.DONE, status_code=response.status_code, response_body=body)
                    if not stored:  # taken over as stale: the other request does the work
                        raise Conflict(_("A request with this Idempotency-Key is being processed elsewhere."),
                                       code=ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS)
                else:
                    transaction.set_rollback(True)
        except BaseException:
            _release(reservation)
            raise
        if not 200 <= response.status_code < 300:
            _release(reservation)
        return response
