"""One error shape for the whole API: drf-standardized-errors' body, fed by the services too.

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field" | null}]}

A statement's problems say where they are besides ``attr``: ``row``, the expenditure's line
number (1-based), and ``cell``, the workbook cell it was typed in ("Dépenses!D5"), when they apply.

The services raise ``grants.errors.ApplicationError`` (400), ``Conflict`` (409),
``PermissionRefused`` (403) and Django's ``ValidationError``; without this handler those would be
500s. Every ``code`` is stable and listed in ``grants.errors.ErrorCode``.

Two writers meeting on the same records are not a server error: a deadlock, a serialization
failure or a lock that could not be had (PostgreSQL), or a database still locked once the
timeout has passed (SQLite), answer 409 ``retry`` (with ``Retry-After``): the transaction was
rolled back, nothing was written, and the same request may be sent again. ``is_retryable``
recognises them; ``api.middleware.RetryableConflictMiddleware`` answers the same for the pages
that are not the API (the admin).

A body larger than Django reads (``DATA_UPLOAD_MAX_MEMORY_SIZE``: a JSON body, the fields of a
form) raises ``RequestDataTooBig`` as it is read: 413 ``request_too_large``, not a 500. A statement
workbook over its own limit answers 413 ``upload_too_large`` (``expenditures.upload_limits``).
A query string or form with more parameters than Django reads (``DATA_UPLOAD_MAX_NUMBER_FIELDS``)
answers 400 ``too_many_fields``, and a form with more files than it reads
(``DATA_UPLOAD_MAX_NUMBER_FILES``) 400 ``too_many_files``: before, both were 500s.
"""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_standardized_errors.handler import exception_handler as standardized_handler
from rest_framework.response import Response
from rest_framework.views import set_rollback

from expenditures.upload_limits import megabytes
from grants.errors import ApplicationError, ErrorCode
from grants.validation import errors_of

logger = logging.getLogger(__name__)

# PostgreSQL's SQLSTATEs: class 40 "transaction rollback" (40001 serialization_failure,
# 40P01 deadlock_detected, ...) and 55P03 lock_not_available (NOWAIT, lock_timeout).
RETRYABLE_SQLSTATE_CLASSES = ("40",)
RETRYABLE_SQLSTATES = {"55P03"}
# SQLite: the busy timeout ran out ("database is locked"), or a shared-cache table lock.
RETRYABLE_SQLITE_MESSAGES = ("database is locked", "database table is locked")

RETRY_DETAIL = gettext_lazy("Another change to the same records ran at the same time; try again.")
RETRY_AFTER_SECONDS = "1"


def error_type(status: int) -> str:
    if status == 400:
        return "validation_error"
    return "server_error" if status >= 500 else "client_error"


def error_response(status: int, errors: list[dict]) -> Response:
    return Response({"type": error_type(status), "errors": errors}, status=status)


def is_retryable(exc: BaseException) -> bool:
    """A database error that only says another transaction got there first: resending succeeds."""
    if not isinstance(exc, DatabaseError | sqlite3.Error) and getattr(exc, "sqlstate", None) is None:
        return False
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate[:2] in RETRYABLE_SQLSTATE_CLASSES
                                          or sqlstate in RETRYABLE_SQLSTATES):
            return True
        if isinstance(current, DatabaseError | sqlite3.Error):
            message = str(current).lower()
            if any(text in message for text in RETRYABLE_SQLITE_MESSAGES):
                return True
        current = current.__cause__ or current.__context__
    return False


def retry_errors() -> list[dict]:
    return [{"code": ErrorCode.RETRY.value, "detail": str(RETRY_DETAIL), "attr": None}]


def log_retryable(exc: BaseException, where: str) -> None:
    logger.warning("409 retry on %s: %s: %s", where, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")


def request_too_large_errors() -> list[dict]:
    return [{"code": ErrorCode.REQUEST_TOO_LARGE.value,
             "detail": _("This request's body is larger than the %(limit)s MB the API reads.") % {
                 "limit": megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}, "attr": None}]


def too_many_parts_errors(exc: TooManyFieldsSent | TooManyFilesSent) -> list[dict]:
    if isinstance(exc, TooManyFilesSent):
        return [{"code": ErrorCode.TOO_MANY_FILES.value, "attr": None,
                 "detail": _("This request sends more than %(limit)s files; the API reads at most that many.") % {
                     "limit": settings.DATA_UPLOAD_MAX_NUMBER_FILES}}]
    return [{"code": ErrorCode.TOO_MANY_FIELDS.value, "attr": None,
             "detail": _("This request sends more than %(limit)s parameters or form fields; the API reads at most "
                         "that many.") % {"limit": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}}]


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, met as the body is read: 413, not a 500.
        set_rollback()
        return error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, request_too_large_errors())
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS / _FILES, met as the query string or the form is
        # read: the caller's mistake (400), not a 500.
        set_rollback()
        return error_response(HTTPStatus.BAD_REQUEST, too_many_parts_errors(exc))
    if isinstance(exc, ApplicationError):
        set_rollback()
        return error_response(exc.status, [_clean(e) for e in exc.errors])
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return error_response(400, [_clean(e) for e in errors_of(exc)])
    if is_retryable(exc):
        # The atomic block the error left has rolled back already; a request-wide one
        # (ATOMIC_REQUESTS) is marked for rollback here.
        set_rollback()
        request = context.get("request") if context else None
        log_retryable(exc, getattr(request, "path", "the API"))
        response = error_response(409, retry_errors())
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    return standardized_handler(exc, context)


def _clean(error: dict) -> dict:
    clean = {"code": str(error.get("code") or "invalid"), "detail": str(error.get("detail", "")),
             "attr": error.get("attr")}
    # Where a statement's problem is, besides its attr: the line number and the workbook's cell.
    # An IATI rule's number, for the IATI export's refusal (api.views_iati).
    for key in ("row", "cell", "rule"):
        if error.get(key) is not None:
            clean[key] = error[key]
    return clean
