"""`Idempotency-Key` on POST: see ``api.models.IdempotencyKey``."""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from api.exceptions import error_response
from api.models import IdempotencyKey

HEADER = "Idempotency-Key"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER, type=OpenApiTypes.STR, location=OpenApiParameter.HEADER, required=False,
    description=(
        "Makes a POST safe to repeat: the same key with the same body returns the first answer "
        "and writes nothing more; the same key with another body is refused with 422."
    ),
)


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    raw = f"{request.method} {request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


class IdempotentCreateMixin:
    """For viewsets: wraps ``create`` so that an ``Idempotency-Key`` header is honoured."""

    def create(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return super().create(request, *args, **kwargs)
        if len(key) > 255:
            return error_response(400, [{"code": "invalid", "detail": "Idempotency-Key is too long.",
                                         "attr": None}])
        fingerprint = _fingerprint(request)
        replay = self._replay(request.user, key, fingerprint)
        if replay is not None:
            return replay
        try:
            with transaction.atomic():
                response = super().create(request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyKey.objects.create(
                        user=request.user, key=key, fingerprint=fingerprint,
                        status_code=response.status_code,
                        response_body=json.loads(json.dumps(response.data, default=str)),
                    )
        except IntegrityError:
            # The same key arrived twice at once: the other request won; answer as it did.
            replay = self._replay(request.user, key, fingerprint)
            if replay is not None:
                return replay
            raise
        return response

    @staticmethod
    def _replay(user, key: str, fingerprint: str) -> Response | None:
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is None:
            return None
        if stored.fingerprint != fingerprint:
            return error_response(422, [{
                "code": "idempotency_key_reused",
                "detail": "This Idempotency-Key was used for another request.",
                "attr": None,
            }])
        response = Response(stored.response_body, status=stored.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
