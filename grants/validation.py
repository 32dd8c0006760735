"""Django's ValidationError, turned into the services' ApplicationError with the field named; what
a code may hold; the NUL character, which PostgreSQL refuses."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy

from grants.errors import ApplicationError, ErrorCode

NUL = "\x00"


def holds_nul(text) -> bool:
    """A text with a NUL character. PostgreSQL refuses one in a text column, a jsonb value or a
    query's parameter (a ``DataError``, a 500): no code holds one, so a lookup by such a text finds
    nothing (404, ``unknown_<record>``), and a text to be stored with one is refused (400
    ``null_characters_not_allowed``, as Django's and DRF's text fields refuse it)."""
    return isinstance(text, str) and NUL in text


@deconstructible(path="grants.validation.CodeValidator")
class CodeValidator(RegexValidator):
    """A record's code (grant, partner, location, donor, budget line) names it in URLs
    (``/api/v1/grants/ML-ESEC-2015/``): letters, digits, "-", "_" and ".", beginning with a letter
    or a digit (no "." or ".." segment), nothing a URL would have to escape or would read as a
    separator. ``invalid_code`` otherwise."""

    regex = r"\A[A-Za-z0-9][A-Za-z0-9._-]*\Z"
    message = gettext_lazy('A code holds letters, digits, "-", "_" and "." only, and begins with a letter or a digit.')
    code = ErrorCode.INVALID_CODE.value


validate_code = CodeValidator()


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
