"""The one family of exceptions the services raise, and the one registry of the codes they carry.

``ErrorCode`` lists every ``code`` a service, a policy, a view, a serializer, a statement's checks
or the workbook reader answers; clients branch on them, so they are stable. Each code knows the
HTTP status(es) it is answered with: the API's OpenAPI schema documents the codes of each error
status from here (``codes_for``), and ``tests/api/test_error_codes.py`` fails when the source
raises a code that is not listed, or raises it with an exception of another status.
``attr`` names the field concerned.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus


class ErrorCode(StrEnum):
    """``NAME = "code", status[, status...]``: the code and the statuses it is answered with."""

    def __new__(cls, value: str, *statuses: HTTPStatus):
        member = str.__new__(cls, value)
        member._value_ = value
        member.statuses = frozenset(statuses)
        return member

    # --- 400: the request, or the record it would make, breaks a rule --------------------------
    INVALID = "invalid", HTTPStatus.BAD_REQUEST
    REQUIRED = "required", HTTPStatus.BAD_REQUEST
    UNIQUE = "unique", HTTPStatus.BAD_REQUEST
    UNIQUE_TOGETHER = "unique_together", HTTPStatus.BAD_REQUEST  # Django's model validation, passed on
    IMMUTABLE = "immutable", HTTPStatus.BAD_REQUEST
    # money (grants.money.parse_amount, validate_money): the same codes through the API and a statement
    CURRENCY_MISSING = "currency_missing", HTTPStatus.BAD_REQUEST
    CURRENCY_NOT_ALLOWED = "currency_not_allowed", HTTPStatus.BAD_REQUEST
    NEGATIVE_AMOUNT = "negative_amount", HTTPStatus.BAD_REQUEST
    FRACTIONAL_XOF = "fractional_xof", HTTPStatus.BAD_REQUEST
    TOO_MANY_DECIMALS = "too_many_decimals", HTTPStatus.BAD_REQUEST
    MAX_DIGITS = "max_digits", HTTPStatus.BAD_REQUEST
    MAX_WHOLE_DIGITS = "max_whole_digits", HTTPStatus.BAD_REQUEST
    # related records
    UNKNOWN_GRANT = "unknown_grant", HTTPStatus.BAD_REQUEST
    UNKNOWN_BUDGET_LINE = "unknown_budget_line", HTTPStatus.BAD_REQUEST
    UNKNOWN_PARTNER = "unknown_partner", HTTPStatus.BAD_REQUEST
    UNKNOWN_LOCATION = "unknown_location", HTTPStatus.BAD_REQUEST
    UNKNOWN_DONOR = "unknown_donor", HTTPStatus.BAD_REQUEST
    UNKNOWN_ALLOCATION = "unknown_allocation", HTTPStatus.BAD_REQUEST
    UNKNOWN_FX_METHOD = "unknown_fx_method", HTTPStatus.BAD_REQUEST
    HEADING_NOT_A_LINE = "heading_not_a_line", HTTPStatus.BAD_REQUEST
    PARTNER_NOT_ON_GRANT = "partner_not_on_grant", HTTPStatus.BAD_REQUEST
    LINE_NOT_ALLOCATED = "line_not_allocated", HTTPStatus.BAD_REQUEST
    TRANSFER_TO_LEAD = "transfer_to_lead", HTTPStatus.BAD_REQUEST
    # grants, budgets and expenditures
    DATE_OUTSIDE_GRANT = "date_outside_grant", HTTPStatus.BAD_REQUEST
    DUPLICATE_VOUCHER = "duplicate_voucher", HTTPStatus.BAD_REQUEST
    SHARES_NOT_100 = "shares_not_100", HTTPStatus.BAD_REQUEST
    TOTAL_MISMATCH = "total_mismatch", HTTPStatus.BAD_REQUEST
    INSUFFICIENT_ALLOCATION = "insufficient_allocation", HTTPStatus.BAD_REQUEST
    # a statement's checks (expenditures.statements.statement_check), all listed at once
    BALANCE_MISMATCH = "balance_mismatch", HTTPStatus.BAD_REQUEST
    CASH_MISMATCH = "cash_mismatch", HTTPStatus.BAD_REQUEST
    OPENING_BALANCE_MISMATCH = "opening_balance_mismatch", HTTPStatus.BAD_REQUEST
    FUNDS_RECEIVED_MISMATCH = "funds_received_mismatch", HTTPStatus.BAD_REQUEST
    DATE_OUTSIDE_PERIOD = "date_outside_period", HTTPStatus.BAD_REQUEST
    EXPLANATION_REQUIRED = "explanation_required", HTTPStatus.BAD_REQUEST
    PERIOD_NOT_ENDED = "period_not_ended", HTTPStatus.BAD_REQUEST
    # a statement workbook that is not the template (expenditures.workbook)
    NOT_A_WORKBOOK = "not_a_workbook", HTTPStatus.BAD_REQUEST
    NOT_A_TEMPLATE = "not_a_template", HTTPStatus.BAD_REQUEST
    TEMPLATE_VERSION = "template_version", HTTPStatus.BAD_REQUEST
    TOO_MANY_ROWS = "too_many_rows", HTTPStatus.BAD_REQUEST
    # statements (issue 13): finance's comment on a row the statement does not have
    UNKNOWN_ROW = "unknown_row", HTTPStatus.BAD_REQUEST
    # bad input (issue 15)
    OUT_OF_RANGE = "out_of_range", HTTPStatus.BAD_REQUEST  # a date, year or period beyond grants.periods' bounds
    GRANT_TOO_LONG = "grant_too_long", HTTPStatus.BAD_REQUEST  # longer than grants.periods.MAX_GRANT_YEARS
    INVALID_CODE = "invalid_code", HTTPStatus.BAD_REQUEST  # a code with a character a URL does not carry as is
    NULL_CHARACTERS_NOT_ALLOWED = "null_characters_not_allowed", HTTPStatus.BAD_REQUEST  # Django's and DRF's too
    # a list's query string (issue 14): a parameter or an ordering the list does not know
    UNKNOWN_PARAMETER = "unknown_parameter", HTTPStatus.BAD_REQUEST
    UNKNOWN_ORDERING = "unknown_ordering", HTTPStatus.BAD_REQUEST
    # IATI (issue 17): a grant's DAC sectors (grants.iati.validate_dac_sectors)
    INVALID_SECTORS = "invalid_sectors", HTTPStatus.BAD_REQUEST

    # --- 403: who asks may not do this ---------------------------------------------------------
    FORBIDDEN = "forbidden", HTTPStatus.FORBIDDEN
    NOT_YOUR_PARTNER = "not_your_partner", HTTPStatus.FORBIDDEN
    PERMISSION_DENIED = "permission_denied", HTTPStatus.FORBIDDEN  # DRF's permission classes

    # --- 404 -----------------------------------------------------------------------------------
    NOT_FOUND = "not_found", HTTPStatus.NOT_FOUND
    JOB_NO_FILE = "job_no_file", HTTPStatus.NOT_FOUND  # a job's file: not done yet, failed, or removed

    # --- 409: the records' state forbids it now (another state may allow it) -------------------
    CONFLICT = "conflict", HTTPStatus.CONFLICT
    IN_USE = "in_use", HTTPStatus.CONFLICT
    USE_REVALUE = "use_revalue", HTTPStatus.CONFLICT
    VERSION_NOT_EDITABLE = "version_not_editable", HTTPStatus.CONFLICT
    DRAFT_EXISTS = "draft_exists", HTTPStatus.CONFLICT
    DONOR_APPROVAL_REQUIRED = "donor_approval_required", HTTPStatus.CONFLICT
    DONOR_APPROVAL_REJECTED = "donor_approval_rejected", HTTPStatus.CONFLICT
    DONOR_APPROVAL_STALE = "donor_approval_stale", HTTPStatus.CONFLICT
    PERIOD_LOCKED = "period_locked", HTTPStatus.CONFLICT
    REVALUATION_NEEDS_CONFIRM = "revaluation_needs_confirm", HTTPStatus.CONFLICT
    EXPENDITURE_VALIDATED = "expenditure_validated", HTTPStatus.CONFLICT
    STATEMENT_SUBMITTED = "statement_submitted", HTTPStatus.CONFLICT
    REVERSAL_FIXED = "reversal_fixed", HTTPStatus.CONFLICT
    QUARTER_OPEN = "quarter_open", HTTPStatus.CONFLICT
    LATER_QUARTER_ACCEPTED = "later_quarter_accepted", HTTPStatus.CONFLICT
    STATEMENT_EXISTS = "statement_exists", HTTPStatus.CONFLICT
    STATEMENT_NOT_EDITABLE = "statement_not_editable", HTTPStatus.CONFLICT
    STATEMENT_NOT_SUBMITTED = "statement_not_submitted", HTTPStatus.CONFLICT
    STATEMENT_NOT_ACCEPTED = "statement_not_accepted", HTTPStatus.CONFLICT
    # Concurrency: a deadlock, a serialization failure or a busy database (safe to resend).
    RETRY = "retry", HTTPStatus.CONFLICT
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress", HTTPStatus.CONFLICT
    # IATI (issue 17): the export would fail the IATI Validator's rules; each problem names its rule
    IATI_RULES_FAILED = "iati_rules_failed", HTTPStatus.CONFLICT

    # --- 422 -----------------------------------------------------------------------------------
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", HTTPStatus.UNPROCESSABLE_ENTITY

    # uploads (issue 15): what bounds the work a request or a statement workbook may ask for
    # (expenditures.upload_limits, api.exceptions), and the statement line's description
    UPLOAD_TOO_LARGE = "upload_too_large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE  # attr "file"
    REQUEST_TOO_LARGE = "request_too_large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE  # DATA_UPLOAD_MAX_MEMORY_SIZE
    TOO_MANY_FIELDS = "too_many_fields", HTTPStatus.BAD_REQUEST  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    TOO_MANY_FILES = "too_many_files", HTTPStatus.BAD_REQUEST  # DATA_UPLOAD_MAX_NUMBER_FILES
    WORKBOOK_TOO_LARGE = "workbook_too_large", HTTPStatus.BAD_REQUEST  # uncompressed, parts, one part
    TOO_MANY_STRINGS = "too_many_strings", HTTPStatus.BAD_REQUEST  # the workbook's shared strings
    CELL_TOO_LONG = "cell_too_long", HTTPStatus.BAD_REQUEST
    FORMULA_WITHOUT_VALUE = "formula_without_value", HTTPStatus.BAD_REQUEST  # an input cell, saved uncomputed
    MAX_LENGTH = "max_length", HTTPStatus.BAD_REQUEST  # a text longer than its field (DRF's code too)
    # security (issue 15)
    # --- 429: too many requests; Retry-After says when to try again ----------------------------
    THROTTLED = "throttled", HTTPStatus.TOO_MANY_REQUESTS  # DRF's throttles (api.throttling)
    TOO_MANY_FAILED_TOKENS = "too_many_failed_tokens", HTTPStatus.TOO_MANY_REQUESTS  # api.authentication


_MONEY = frozenset({ErrorCode.REQUIRED, ErrorCode.NEGATIVE_AMOUNT, ErrorCode.FRACTIONAL_XOF,
                    ErrorCode.TOO_MANY_DECIMALS, ErrorCode.MAX_DIGITS, ErrorCode.MAX_WHOLE_DIGITS,
                    ErrorCode.CURRENCY_NOT_ALLOWED, ErrorCode.CURRENCY_MISSING, ErrorCode.INVALID})
_CURRENCY = frozenset({ErrorCode.REQUIRED, ErrorCode.CURRENCY_MISSING, ErrorCode.CURRENCY_NOT_ALLOWED})
_DATE = frozenset({ErrorCode.DATE_OUTSIDE_GRANT, ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE})

# The 400 codes a service, a policy or a view gives a field (``attr``), by the field's name (its
# last part: ``donors.0.share_pct`` is ``share_pct``), beyond the checks of the request's own
# fields. The OpenAPI schema documents them on every request body with a field of that name
# (``api.schema.document_field_codes``); ``tests/api/test_error_codes.py`` fails when the source
# raises a 400 code on a named field that is not listed here.
FIELD_CODES: dict[str, frozenset[ErrorCode]] = {
    "amount": _MONEY | {ErrorCode.INSUFFICIENT_ALLOCATION}, "amount_currency": _CURRENCY,
    "amount_sent": _MONEY, "amount_sent_currency": _CURRENCY,
    "amount_received": _MONEY, "amount_received_currency": _CURRENCY,
    "fees": _MONEY, "fees_currency": _CURRENCY,
    "total": _MONEY | {ErrorCode.TOTAL_MISMATCH}, "total_currency": _CURRENCY,
    # a statement's amounts (expenditures.statements.MONEY_FIELDS)
    "opening_balance": _MONEY, "opening_balance_currency": _CURRENCY,
    "funds_received": _MONEY, "funds_received_currency": _CURRENCY,
    "closing_balance": _MONEY, "closing_balance_currency": _CURRENCY,
    "cash_on_hand": _MONEY, "cash_on_hand_currency": _CURRENCY,
    "bank_balance": _MONEY, "bank_balance_currency": _CURRENCY,
    "date": _DATE, "sent_on": _DATE, "received_on": _DATE,
    "start_date": frozenset({ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE}),
    "end_date": frozenset({ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE, ErrorCode.GRANT_TOO_LONG}),
    "as_of": frozenset({ErrorCode.OUT_OF_RANGE}),
    "grant": frozenset({ErrorCode.UNKNOWN_GRANT, ErrorCode.IMMUTABLE}),
    "partner": frozenset({ErrorCode.UNKNOWN_PARTNER, ErrorCode.PARTNER_NOT_ON_GRANT, ErrorCode.REQUIRED,
                          ErrorCode.IMMUTABLE, ErrorCode.TRANSFER_TO_LEAD}),
    "partners": frozenset({ErrorCode.UNKNOWN_PARTNER}),
    "location": frozenset({ErrorCode.UNKNOWN_LOCATION}),
    "budget_line": frozenset({ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.HEADING_NOT_A_LINE}),
    "parent": frozenset({ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.INVALID}),
    "voucher": frozenset({ErrorCode.DUPLICATE_VOUCHER, ErrorCode.REQUIRED}),
    "year": frozenset({ErrorCode.INVALID}),
    "code": frozenset({ErrorCode.UNIQUE, ErrorCode.IMMUTABLE, ErrorCode.INVALID_CODE}),
    "month": frozenset({ErrorCode.UNIQUE, ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE}),
    "donors": frozenset({ErrorCode.SHARES_NOT_100, ErrorCode.INVALID}),
    "period": frozenset({ErrorCode.INVALID, ErrorCode.DATE_OUTSIDE_GRANT, ErrorCode.IMMUTABLE,
                         ErrorCode.OUT_OF_RANGE}),
    "explanations": frozenset({ErrorCode.NULL_CHARACTERS_NOT_ALLOWED}),
    "expenditures": frozenset({ErrorCode.INVALID}),
    "file": frozenset({ErrorCode.NOT_A_WORKBOOK, ErrorCode.NOT_A_TEMPLATE, ErrorCode.TEMPLATE_VERSION,
                       ErrorCode.TOO_MANY_ROWS, ErrorCode.WORKBOOK_TOO_LARGE, ErrorCode.TOO_MANY_STRINGS,
                       ErrorCode.CELL_TOO_LONG}),
    "description": frozenset({ErrorCode.MAX_LENGTH}),
    "method": frozenset({ErrorCode.UNKNOWN_FX_METHOD}),
    "reason": frozenset({ErrorCode.REQUIRED}), "comment": frozenset({ErrorCode.REQUIRED}),
    # statements (issue 13): a returned statement's comments on rows and balances
    "comments": frozenset({ErrorCode.INVALID}), "row": frozenset({ErrorCode.UNKNOWN_ROW}),
    "field": frozenset({ErrorCode.INVALID}),
    "decision": frozenset({ErrorCode.INVALID}),
    "from": frozenset({ErrorCode.UNKNOWN_ALLOCATION}), "to": frozenset({ErrorCode.INVALID}),
    # IATI (issue 17): grants.iati's rules, through full_clean
    "iati_org_ref": frozenset({ErrorCode.INVALID}), "iati_identifier": frozenset({ErrorCode.INVALID}),
    "dac_sectors": frozenset({ErrorCode.INVALID, ErrorCode.INVALID_SECTORS}),
    "donor": frozenset({ErrorCode.UNKNOWN_DONOR}),  # a donor's payment: a donor of the grant
}
# What concerns no one field (a constraint across fields, an ``Idempotency-Key``): ``attr`` null.
NON_FIELD_CODES = frozenset({ErrorCode.INVALID, ErrorCode.UNIQUE, ErrorCode.UNIQUE_TOGETHER})


def codes_for_field(name: str | None) -> list[str]:
    """The registry's 400 codes for a field named ``name`` (a dotted path is read by its last part),
    or for no field (``None``), sorted."""
    if name is None:
        return sorted(code.value for code in NON_FIELD_CODES)
    return sorted(code.value for code in FIELD_CODES.get(name.rsplit(".", 1)[-1], ()))


def codes_for(status: int) -> list[str]:
    """The codes answered with ``status``, sorted: what the schema lists for that status."""
    return sorted(code.value for code in ErrorCode if status in code.statuses)


class ApplicationError(Exception):
    """A business rule refused the action. ``status`` is the HTTP status it maps to."""

    status = HTTPStatus.BAD_REQUEST
    default_code = ErrorCode.INVALID

    def __init__(self, message: str, *, code: ErrorCode | str | None = None, attr: str | None = None,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.code = str(code or self.default_code)
        self.attr = attr
        # Several problems at once: [{"code", "detail", "attr"}, ...]
        self.errors = errors or [{"code": self.code, "detail": message, "attr": attr}]


class Conflict(ApplicationError):
    """The record's state forbids the action (an approved version, a locked quarter): 409."""

    status = HTTPStatus.CONFLICT
    default_code = ErrorCode.CONFLICT


class PeriodLocked(Conflict):
    default_code = ErrorCode.PERIOD_LOCKED


class PermissionRefused(ApplicationError):
    status = HTTPStatus.FORBIDDEN
    default_code = ErrorCode.FORBIDDEN


class Missing(ApplicationError):
    """What was asked for is not there (or not the user's to see): 404."""

    status = HTTPStatus.NOT_FOUND
    default_code = ErrorCode.NOT_FOUND


class PayloadTooLarge(ApplicationError):
    """More bytes than the API reads for this request (an upload over its limit): 413."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    default_code = ErrorCode.UPLOAD_TOO_LARGE
