"""One error shape for the whole API: drf-standardized-errors' body, fed by the services too.

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field" | null}]}

The services raise ``grants.errors.ApplicationError`` (400), ``Conflict`` (409),
``PermissionRefused`` (403) and Django's ``ValidationError``; without this handler those would be
500s. Every ``code`` is stable and listed in ``grants.errors.ErrorCode``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.handler import exception_handler as standardized_handler
from rest_framework.response import Response
from rest_framework.views import set_rollback

from grants.errors import ApplicationError
from grants.validation import errors_of


def error_type(status: int) -> str:
    if status == 400:
        return "validation_error"
    return "server_error" if status >= 500 else "client_error"


def error_response(status: int, errors: list[dict]) -> Response:
    return Response({"type": error_type(status), "errors": errors}, status=status)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        return error_response(exc.status, [_clean(e) for e in exc.errors])
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return error_response(400, [_clean(e) for e in errors_of(exc)])
    return standardized_handler(exc, context)


def _clean(error: dict) -> dict:
    return {"code": str(error.get("code") or "invalid"), "detail": str(error.get("detail", "")),
            "attr": error.get("attr")}
