"""Django's ValidationError, turned into the services' ApplicationError with the field named."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from grants.errors import ApplicationError, ErrorCode


def errors_of(exc: ValidationError, prefix: str = "") -> list[dict]:
    out = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            attr = None if field == NON_FIELD_ERRORS else f"{prefix}{field}"
            for error in errors:
                for message in error.messages:
                    out.append({"code": error.code or ErrorCode.INVALID, "detail": message, "attr": attr})
    else:
        for error in exc.error_list:
            for message in error.messages:
                out.append({"code": error.code or ErrorCode.INVALID, "detail": message,
                            "attr": prefix.rstrip(".") or None})
    return out


@contextmanager
def as_application_error(prefix: str = ""):
    try:
        yield
    except ValidationError as exc:
        errors = errors_of(exc, prefix)
        first = errors[0]
        raise ApplicationError(first["detail"], code=first["code"], attr=first["attr"],
                               errors=errors) from exc
