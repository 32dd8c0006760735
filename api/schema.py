"""The OpenAPI schema of the API: drf-standardized-errors' error responses, for this API's handler.

drf-standardized-errors documents the error responses (400 with each field's codes, 401, 403,
404, ...) only for views whose exception handler is its own; ours (``api.exceptions``) is its
handler fed the services' errors too, so it is documented the same way, plus:

- 400: the codes the services give each field (``SERVICE_CODES``), so that a client may branch
  on ``fractional_xof`` or ``duplicate_voucher`` as documented values;
- 403: ``not_your_partner`` (a partner member naming another partner) besides DRF's code;
- 409: a state conflict (an approved version, a locked quarter, a record in use), on writes;
- 422: an ``Idempotency-Key`` reused with another request, on the POSTs that honour the header.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import PolymorphicProxySerializer
from drf_standardized_errors.openapi import AutoSchema as StandardizedAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ValidationErrorEnum
from drf_standardized_errors.openapi_utils import get_error_serializer, get_validation_error_serializer
from drf_standardized_errors.settings import package_settings
from inflection import camelize
from rest_framework import serializers

from api.exceptions import exception_handler as ledger_exception_handler
from api.idempotency import IdempotentCreateMixin
from grants.errors import ErrorCode

WRITES = ("POST", "PUT", "PATCH", "DELETE")

# What the services refuse, by field, beyond what the serializer's own fields may say. The keys are
# field names; a key applies to every request body with a field of that name.
_MONEY = {ErrorCode.REQUIRED, ErrorCode.NEGATIVE_AMOUNT, ErrorCode.FRACTIONAL_XOF, ErrorCode.TOO_MANY_DECIMALS,
          ErrorCode.CURRENCY_NOT_ALLOWED, ErrorCode.CURRENCY_MISSING, ErrorCode.INVALID}
_CURRENCY = {ErrorCode.REQUIRED, ErrorCode.CURRENCY_MISSING, ErrorCode.CURRENCY_NOT_ALLOWED}
SERVICE_CODES: dict[str, set[str]] = {
    "amount": _MONEY, "amount_currency": _CURRENCY,
    "amount_sent": _MONEY, "amount_sent_currency": _CURRENCY,
    "amount_received": _MONEY, "amount_received_currency": _CURRENCY,
    "fees": _MONEY, "fees_currency": _CURRENCY,
    "total": _MONEY | {ErrorCode.TOTAL_MISMATCH}, "total_currency": _CURRENCY,
    "date": {ErrorCode.DATE_OUTSIDE_GRANT, ErrorCode.INVALID},
    "sent_on": {ErrorCode.DATE_OUTSIDE_GRANT, ErrorCode.INVALID},
    "received_on": {ErrorCode.DATE_OUTSIDE_GRANT, ErrorCode.INVALID},
    "start_date": {ErrorCode.INVALID}, "end_date": {ErrorCode.INVALID},
    "grant": {"unknown_grant", "immutable"},
    "partner": {ErrorCode.UNKNOWN_PARTNER, ErrorCode.PARTNER_NOT_ON_GRANT, ErrorCode.REQUIRED, "immutable"},
    "partners": {ErrorCode.UNKNOWN_PARTNER},
    "location": {ErrorCode.UNKNOWN_LOCATION},
    "budget_line": {ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.HEADING_NOT_A_LINE},
    "parent": {ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.INVALID},
    "voucher": {ErrorCode.DUPLICATE_VOUCHER, ErrorCode.REQUIRED},
    "year": {ErrorCode.INVALID},
    "code": {"unique", "immutable"},
    "month": {"unique"},
    "donors": {ErrorCode.SHARES_NOT_100, ErrorCode.INVALID},
}

CONFLICT_CODES = ["conflict", "draft_exists", "idempotency_key_in_progress", "in_use", "period_locked", "retry",
                  "version_not_editable"]
FORBIDDEN_CODES = ["forbidden", "not_your_partner", "permission_denied"]


def _error_serializers(name: str, codes: list[str]):
    # Component names end in drf-standardized-errors' suffix, so that its enum hook leaves their
    # ``code`` choices alone (each error response has its own).
    error = type(f"{name}Error", (serializers.Serializer,), {
        "code": serializers.ChoiceField(choices=sorted(codes)),
        "detail": serializers.CharField(),
        "attr": serializers.CharField(allow_null=True, help_text="The field concerned, if one."),
        "Meta": type("Meta", (), {"ref_name": f"{name}ErrorComponent"}),
    })
    return type(f"{name}ErrorResponse", (serializers.Serializer,), {
        "type": serializers.ChoiceField(choices=ClientErrorEnum.choices),
        "errors": error(many=True),
        "Meta": type("Meta", (), {"ref_name": f"{name}ErrorResponse"}),
    })


ErrorResponse403Serializer = _error_serializers("Forbidden403", FORBIDDEN_CODES)
ErrorResponse409Serializer = _error_serializers("Conflict409", CONFLICT_CODES)
ErrorResponse422Serializer = _error_serializers("IdempotencyKeyReused422", ["idempotency_key_reused"])


def _validation_error_serializer(operation_id: str, codes_by_field: dict):
    """drf-standardized-errors' 400 body, except for the fields of a list of objects (a grant's
    donors): the library names them ``donors.INDEX.share_pct`` in the schema while the body says
    ``donors.0.share_pct``. Their ``attr`` is then a pattern (digits for INDEX) and the errors a
    plain ``oneOf`` (a discriminator maps exact values only)."""
    index = package_settings.LIST_INDEX_IN_API_SCHEMA
    if not any(name and index in name.split(".") for name in codes_by_field):
        return get_validation_error_serializer(operation_id, codes_by_field)

    def error_serializer(attr, codes):
        plain = get_error_serializer(operation_id, attr, codes)
        if not attr or index not in attr.split("."):
            return plain
        pattern = r"\.".join(r"\d+" if part == index else re.escape(part) for part in attr.split("."))
        return type("ErrorSerializer", (serializers.Serializer,), {
            "attr": serializers.RegexField(f"^{pattern}$", help_text=f"{attr}, INDEX being the item's position."),
            "code": serializers.ChoiceField(choices=sorted((code, code) for code in codes)),
            "detail": serializers.CharField(),
            "Meta": plain.Meta,
        })

    return type("ValidationErrorSerializer", (serializers.Serializer,), {
        "type": serializers.ChoiceField(choices=ValidationErrorEnum.choices),
        "errors": PolymorphicProxySerializer(
            component_name=f"{camelize(operation_id)}Error", resource_type_field_name=None, many=True,
            serializers=[error_serializer(attr, codes) for attr, codes in codes_by_field.items()],
        ),
        "Meta": type("Meta", (), {"ref_name": f"{camelize(operation_id)}ValidationError"}),
    })


class AutoSchema(StandardizedAutoSchema):
    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in responses or self.view.get_exception_handler() is not ledger_exception_handler:
            return False
        if status_code == "409":
            return self.method in WRITES
        if status_code == "422":
            return self.method == "POST" and isinstance(self.view, IdempotentCreateMixin) and \
                getattr(self.view, "action", None) == "create"
        checks = {
            "400": lambda: self._should_add_parse_error_response() or self._should_add_validation_error_response(),
            "401": self._should_add_http401_error_response,
            "403": self._should_add_http403_error_response,
            "404": self._should_add_http404_error_response,
            "405": self._should_add_http405_error_response,
            "406": self._should_add_http406_error_response,
            "415": self._should_add_http415_error_response,
            "429": self._should_add_http429_error_response,
            "500": self._should_add_http500_error_response,
        }
        check = checks.get(status_code)
        return bool(check()) if check else False

    def _get_error_response_serializer(self, status_code: str):
        extra = {"403": ErrorResponse403Serializer, "409": ErrorResponse409Serializer,
                 "422": ErrorResponse422Serializer}
        return extra.get(status_code) or super()._get_error_response_serializer(status_code)

    def _get_serializer_for_validation_error_response(self):
        codes_by_field = self._get_validation_error_codes_by_field(self._determine_fields_with_error_codes())
        return _validation_error_serializer(self.get_operation_id(), codes_by_field)

    def _get_validation_error_codes_by_field(self, data_fields):
        codes = super()._get_validation_error_codes_by_field(data_fields)
        if self.method not in ("PUT", "PATCH", "POST") or not data_fields:
            return codes
        # a field the services name: its codes (a list field, such as donors, is named whole too)
        top_level = {field.name for field in data_fields}
        top_level |= {name.split(".", 1)[0] for name in top_level}
        for name in top_level | set(codes):
            service_codes = SERVICE_CODES.get(name.rsplit(".", 1)[-1])
            if service_codes and (name in codes or name in top_level):
                codes[name].update(str(code) for code in service_codes)
        # and what concerns no one field (a constraint across fields, an Idempotency-Key): attr null
        codes[None].update({ErrorCode.INVALID.value, "unique", "unique_together"})
        return codes
