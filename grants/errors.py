"""The one family of exceptions the services raise; the API turns each into its error body.

``code`` values are stable: clients branch on them. ``attr`` names the field concerned.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"
    REQUIRED = "required"
    CURRENCY_MISSING = "currency_missing"
    CURRENCY_NOT_ALLOWED = "currency_not_allowed"
    NEGATIVE_AMOUNT = "negative_amount"
    FRACTIONAL_XOF = "fractional_xof"
    TOO_MANY_DECIMALS = "too_many_decimals"
    DATE_OUTSIDE_GRANT = "date_outside_grant"
    HEADING_NOT_A_LINE = "heading_not_a_line"
    UNKNOWN_BUDGET_LINE = "unknown_budget_line"
    UNKNOWN_PARTNER = "unknown_partner"
    UNKNOWN_LOCATION = "unknown_location"
    PARTNER_NOT_ON_GRANT = "partner_not_on_grant"
    DUPLICATE_VOUCHER = "duplicate_voucher"
    SHARES_NOT_100 = "shares_not_100"
    TOTAL_MISMATCH = "total_mismatch"
    VERSION_NOT_EDITABLE = "version_not_editable"
    DRAFT_EXISTS = "draft_exists"
    PERIOD_LOCKED = "period_locked"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    REVALUATION_NEEDS_CONFIRM = "revaluation_needs_confirm"
    UNKNOWN_FX_METHOD = "unknown_fx_method"
    LINE_NOT_ALLOCATED = "line_not_allocated"
    NOT_YOUR_PARTNER = "not_your_partner"
    IMMUTABLE = "immutable"
    EXPENDITURE_VALIDATED = "expenditure_validated"
    STATEMENT_SUBMITTED = "statement_submitted"
    REVERSAL_FIXED = "reversal_fixed"
    TRANSFER_TO_LEAD = "transfer_to_lead"
    QUARTER_OPEN = "quarter_open"
    LATER_QUARTER_ACCEPTED = "later_quarter_accepted"
    # Concurrency: a deadlock, a serialization failure or a busy database (409, safe to resend).
    RETRY = "retry"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"


class ApplicationError(Exception):
    """A business rule refused the action. ``status`` is the HTTP status it maps to."""

    status = 400
    default_code = ErrorCode.INVALID

    def __init__(self, message: str, *, code: str | None = None, attr: str | None = None,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.code = str(code or self.default_code)
        self.attr = attr
        # Several problems at once: [{"code", "detail", "attr"}, ...]
        self.errors = errors or [{"code": self.code, "detail": message, "attr": attr}]


class Conflict(ApplicationError):
    """The record's state forbids the action (an approved version, a locked quarter): 409."""

    status = 409
    default_code = ErrorCode.CONFLICT


class PeriodLocked(Conflict):
    default_code = ErrorCode.PERIOD_LOCKED


class PermissionRefused(ApplicationError):
    status = 403
    default_code = ErrorCode.FORBIDDEN
