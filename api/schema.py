"""The OpenAPI schema of the API: drf-standardized-errors' error responses, for this API's handler.

drf-standardized-errors documents the error responses (400 with each field's codes, 401, 403,
404, ...); our handler (``api.exceptions``) is its handler fed the services' errors too, so it
is documented the same way, with the codes of the registry (``grants.errors.ErrorCode``):

- 400: the codes the services give each field (``SERVICE_CODES``), so that a client may branch
  on ``fractional_xof`` or ``duplicate_voucher`` as documented values;
- 403, 404, 409, 422: every code the registry answers with that status (``codes_for``), in
  bodies given to the library through its ``ERROR_SCHEMAS`` setting;
- which statuses an operation documents is decided here, from its method, its permissions and
  its view (``AutoSchema._should_add_error_response``, the override the library documents for
  this), without the library's private ``_should_add_*`` helpers: 409 on writes only, 422 on
  the POSTs that honour ``Idempotency-Key``, 403 unless authentication alone is asked.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from drf_spectacular.utils import PolymorphicProxySerializer
from drf_standardized_errors.openapi import AutoSchema as StandardizedAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ValidationErrorEnum
from drf_standardized_errors.openapi_utils import get_error_serializer, get_validation_error_serializer
from drf_standardized_errors.settings import package_settings
from inflection import camelize
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated

from api.exceptions import exception_handler as ledger_exception_handler
from api.idempotency import IdempotentCreateMixin
from grants.errors import ErrorCode, codes_for

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
    "grant": {ErrorCode.UNKNOWN_GRANT, ErrorCode.IMMUTABLE},
    "partner": {ErrorCode.UNKNOWN_PARTNER, ErrorCode.PARTNER_NOT_ON_GRANT, ErrorCode.REQUIRED, ErrorCode.IMMUTABLE},
    "partners": {ErrorCode.UNKNOWN_PARTNER},
    "location": {ErrorCode.UNKNOWN_LOCATION},
    "budget_line": {ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.HEADING_NOT_A_LINE},
    "parent": {ErrorCode.UNKNOWN_BUDGET_LINE, ErrorCode.INVALID},
    "voucher": {ErrorCode.DUPLICATE_VOUCHER, ErrorCode.REQUIRED},
    "year": {ErrorCode.INVALID},
    "code": {ErrorCode.UNIQUE, ErrorCode.IMMUTABLE},
    "month": {ErrorCode.UNIQUE},
    "donors": {ErrorCode.SHARES_NOT_100, ErrorCode.INVALID},
}

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


# The bodies of 403, 404, 409 and 422, their codes from the registry; named in the settings'
# DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"].
ErrorResponse403Serializer = _error_serializers("Forbidden403", codes_for(HTTPStatus.FORBIDDEN))
ErrorResponse404Serializer = _error_serializers("NotFound404", codes_for(HTTPStatus.NOT_FOUND))
ErrorResponse409Serializer = _error_serializers("Conflict409", codes_for(HTTPStatus.CONFLICT))
ErrorResponse422Serializer = _error_serializers("IdempotencyKeyReused422", codes_for(HTTPStatus.UNPROCESSABLE_ENTITY))


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
        """Which error statuses the operation documents: decided from its view, method and
        permissions (DRF's public view API), not by the library's private helpers."""
        view = self.view
        if status_code in responses or view.get_exception_handler() is not ledger_exception_handler:
            return False
        if status_code == "401":
            return bool(view.get_authenticators())
        if status_code == "403":
            return self._may_be_forbidden()
        if status_code == "409":
            return self.method in WRITES
        if status_code == "422":
            return self.method == "POST" and isinstance(view, IdempotentCreateMixin) and \
                getattr(view, "action", None) == "create"
        if status_code == "429":
            return bool(view.get_throttles())
        # Any operation: 400 (a body or a query the API cannot read; the JSON parser is on every
        # view), 404 (DRF's ?format= with no such renderer, besides unknown records), 405, 406, 415.
        return status_code in ("400", "404", "405", "406", "415")

    def _may_be_forbidden(self) -> bool:
        """403 is possible unless the view lets anyone in, or asks only that one is authenticated
        (DRF then answers 401, not 403)."""
        permissions = self.view.get_permissions()
        if not permissions or all(type(permission) is AllowAny for permission in permissions):
            return False
        return not (len(permissions) == 1 and type(permissions[0]) is IsAuthenticated
                    and self.view.get_authenticators())

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
        codes[None].update({ErrorCode.INVALID.value, ErrorCode.UNIQUE.value, "unique_together"})
        return codes
