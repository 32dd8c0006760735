"""The OpenAPI schema of the API: drf-standardized-errors' error responses, for this API's handler.

drf-standardized-errors documents the error responses (400 with each field's codes, 401, 403,
404, ...); our handler (``api.exceptions``) is its handler fed the services' errors too, so it
is documented the same way, with the codes of the registry (``grants.errors.ErrorCode``):

- 400: the codes the registry gives each field (``grants.errors.FIELD_CODES``), added by a
  drf-spectacular postprocessing hook (``document_field_codes``) to the bodies the library
  generated, so that a client may branch on ``fractional_xof`` or ``duplicate_voucher`` as
  documented values;
- 403, 404, 409, 413, 422, 429: every code the registry answers with that status (``codes_for``), in
  bodies given to the library through its ``ERROR_SCHEMAS`` setting;
- the 400 bodies whose problems the view names rather than the request's fields (a statement's
  submission, a workbook's upload, a query), as serializers the views name, so that every error
  body has a schema a generated client can read;
- a statement's problems (400 of its submission, acceptance and upload): every 400 code, each
  item with the optional ``row`` and ``cell`` that say where it is (also on the 403, 404, 409
  and 422 items: a refused upload names its cell);
- which statuses an operation documents is decided here, from its method, its permissions and
  its view (``AutoSchema._should_add_error_response``, the override the library documents for
  this), without the library's private ``_should_add_*`` helpers: 409 on writes only, 422 on
  the POSTs that honour ``Idempotency-Key``, 403 unless authentication alone is asked.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from drf_standardized_errors.openapi import AutoSchema as StandardizedAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ValidationErrorEnum
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from drf_standardized_errors.settings import package_settings
from inflection import camelize
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated

from api.exceptions import exception_handler as ledger_exception_handler
from api.idempotency import IdempotentCreateMixin
from api.resources import standard_text, tag_of
from grants.errors import codes_for, codes_for_field

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _place_fields() -> dict:
    """Where a statement's problem is, besides ``attr``: present only when they apply."""
    return {
        "row": serializers.IntegerField(required=False, min_value=1, help_text=(
            "The expenditure's line number in the statement, from 1, as the partner counts them.")),
        "cell": serializers.CharField(required=False, help_text=(
            'The workbook cell it was typed in, e.g. "Dépenses!D5", for a statement read from a workbook.')),
        "rule": serializers.CharField(required=False, help_text=(
            'The IATI Validator rule a grant\'s IATI export breaks, e.g. "11.2.1" (iati_rules_failed).')),
    }


def _error_serializers(name: str, codes: list[str] | None, *, error_type=ClientErrorEnum,
                       attr_help: str = "The field concerned, if one.", code_help: str = ""):
    """An error body ``{"type", "errors": [{"code", "detail", "attr"}]}`` as a serializer: ``codes``
    the documented values of ``code``, or None for any string (described by ``code_help``)."""
    # Component names end in drf-standardized-errors' suffix, so that its enum hook leaves their
    # ``code`` choices alone (each error response has its own).
    code = serializers.ChoiceField(choices=sorted(codes)) if codes is not None else \
        serializers.CharField(help_text=code_help)
    error = type(f"{name}Error", (serializers.Serializer,), {
        "code": code,
        "detail": serializers.CharField(),
        "attr": serializers.CharField(allow_null=True, help_text=attr_help),
        **_place_fields(),
        "Meta": type("Meta", (), {"ref_name": f"{name}ErrorComponent"}),
    })
    return type(f"{name}ErrorResponse", (serializers.Serializer,), {
        "type": serializers.ChoiceField(choices=error_type.choices),
        "errors": error(many=True),
        "Meta": type("Meta", (), {"ref_name": f"{name}ErrorResponse"}),
    })


# The bodies of 403, 404, 409, 413, 422 and 429, their codes from the registry; named in the settings'
# DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"].
ErrorResponse403Serializer = _error_serializers("Forbidden403", codes_for(HTTPStatus.FORBIDDEN))
ErrorResponse404Serializer = _error_serializers("NotFound404", codes_for(HTTPStatus.NOT_FOUND))
ErrorResponse409Serializer = _error_serializers("Conflict409", codes_for(HTTPStatus.CONFLICT))
ErrorResponse422Serializer = _error_serializers("IdempotencyKeyReused422", codes_for(HTTPStatus.UNPROCESSABLE_ENTITY))
# 413 (issue 15): a body over Django's limit, on any write; a statement workbook over its own.
ErrorResponse413Serializer = _error_serializers("PayloadTooLarge413", codes_for(HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
ErrorResponse429Serializer = _error_serializers("TooManyRequests429", codes_for(HTTPStatus.TOO_MANY_REQUESTS))

# 400 bodies whose problems the view names, not the request's fields (from which the library
# documents a 400): a statement's checks at submission, by field and line; a workbook's, by cell;
# a query's, by parameter. Named in the views' ``extend_schema``, so that a generated client
# reads them as it reads any error.
StatementProblemsSerializer = _error_serializers(
    # with DRF's invalid_choice: the upload's ?lang is read by a choice field
    "StatementProblems400", sorted({*codes_for(HTTPStatus.BAD_REQUEST), "invalid_choice"}),
    error_type=ValidationErrorEnum,
    attr_help='The field or line concerned: "closing_balance", "expenditures.0.date", "explanations.2.3".')
WorkbookProblemsSerializer = _error_serializers(
    "WorkbookProblems400", None, error_type=ValidationErrorEnum,
    attr_help='The cell concerned ("Dépenses!D14"), else the field ("file").',
    code_help="A code of the registry (grants.errors.ErrorCode), or a field's own (required, blank, null...).")
QueryProblemsSerializer = _error_serializers(
    "QueryProblems400", None, error_type=ValidationErrorEnum,
    attr_help="The query parameter concerned.",
    code_help="The parameter's problem: required, invalid, invalid_choice, min_value, max_value..., or "
              "unknown_parameter for a parameter the endpoint does not read.")
# A statement's problems, all at once (submission, acceptance, a workbook's upload): any 400 code,
# each problem with its row and cell when they apply (every error item may carry them).
StatementProblemsResponseSerializer = StatementProblemsSerializer


def _first_sentence(text: str) -> str:
    """A summary from a description: its first clause, at most a line."""
    first = re.split(r"(?<=[a-z0-9)])[.:;]\s|\s\(|\n\n", text.strip(), maxsplit=1)[0]
    first = " ".join(first.split()).rstrip(".")
    return first.split(", ")[0] if len(first) > 100 else first


class AutoSchema(StandardizedAutoSchema):
    """Tags, summaries and descriptions written for the API's users.

    The rule: an operation's description is an ``extend_schema(description=...)``, else the
    docstring of its own handler written in ``api/views*.py`` (the action or method itself, never a
    class's docstring, nor one inherited from a mixin or from DRF), else the standard action's
    text (``api.resources``). Its summary: ``extend_schema(summary=...)``, else the standard
    action's, else the description's first clause. Tags: by path (``api.resources.tag_of``).
    ``tests/api/test_front_door.py`` checks every operation has both and no internal wording."""

    def get_tags(self) -> list[str]:
        return [tag_of(self.path)]

    def _own_handler_doc(self) -> str:
        name = getattr(self.view, "action", None) or self.method.lower()
        handler = getattr(type(self.view), name, None)
        module = getattr(handler, "__module__", "") or ""
        doc = getattr(handler, "__doc__", None)
        if not doc or not module.startswith("api.views"):
            return ""
        return " ".join(line.strip() for line in doc.strip().splitlines())

    def get_description(self) -> str:
        own = self._own_handler_doc()
        if own:
            return own
        standard = standard_text(getattr(self.view, "action", None), self.path)
        return standard[1] if standard else ""

    def get_summary(self) -> str | None:
        standard = standard_text(getattr(self.view, "action", None), self.path)
        if standard:
            return standard[0]
        return _first_sentence(self.get_description()) or None

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
        if status_code == "413":
            return self.method in ("POST", "PUT", "PATCH")  # a body that may be too large
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


def document_retry_after(result: dict, generator=None, request=None, public=None) -> dict:
    """drf-spectacular's postprocessing hook: every 429 answer carries ``Retry-After``, the seconds
    to wait (DRF's throttles and ``api.authentication`` set it)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("429") if isinstance(operation, dict) else None
            if response is not None:
                response.setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"}, "description": "Seconds to wait before sending the request again."}
    return result


# --- 400 of a query string read by a serializer -----------------------------------------------------

def document_query_errors(query_serializer: type[serializers.Serializer], *, actions: list[str] | None = None,
                          methods: tuple[str, ...] = ("get",)):
    """A view decorator: the 400 ``validation_error`` body of a query string that the view reads
    with ``query_serializer`` (a flat one; drf-standardized-errors documents a request body's and a
    filterset's fields by itself, not a serializer given as ``parameters``): each field with the
    codes of its messages and validators (DRF's field API) and the registry's
    (``codes_for_field``), through the library's public ``extend_validation_errors``."""
    codes = {name: sorted(set(field.error_messages) | set(codes_for_field(name))
                          | {v.code for v in field.validators if isinstance(getattr(v, "code", None), str)})
             for name, field in query_serializer().fields.items() if not field.read_only}

    def decorate(view):
        for name, field_codes in codes.items():
            view = extend_validation_errors(field_codes, field_name=name, actions=actions, methods=list(methods))(view)
        return view

    return decorate


# --- 400: the registry's codes per field, added to the schema the libraries generated -----------

def _enum(values: list) -> dict:
    return {"enum": values, "description": "\n".join(f"* `{value}` - {value}" for value in values)}


def _component_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _body_fields(operation: dict, schemas: dict) -> set[str]:
    names = set()
    for content in operation.get("requestBody", {}).get("content", {}).values():
        ref = content.get("schema", {}).get("$ref")
        if ref:
            names |= set(schemas[_component_name(ref)].get("properties", {}))
    return names


def document_field_codes(result: dict, generator=None, request=None, public=None) -> dict:
    """drf-spectacular's postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``): on
    every write's 400 body generated by drf-standardized-errors, add to each field's ``code`` the
    codes the registry gives it (``grants.errors.codes_for_field``), with a component for a body
    field the library did not list (a list field, named whole: ``donors``) and one for errors of no
    field (``attr`` null). The fields of a list of objects, which the library names
    ``donors.INDEX.share_pct`` while the body says ``donors.0.share_pct``, get a pattern (digits for
    INDEX), and their union a plain ``oneOf`` (a discriminator maps exact values only); so do the
    values of a dict, which the library names ``explanations.KEY`` (any text, an empty one too, for
    KEY)."""
    schemas = result.get("components", {}).get("schemas", {})
    index = package_settings.LIST_INDEX_IN_API_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or not isinstance(operation, dict):
                continue
            body_400 = operation.get("responses", {}).get("400", {}).get("content", {}).get("application/json", {})
            ref = body_400.get("schema", {}).get("$ref")
            if not ref:
                continue
            refs = [item["$ref"] for item in schemas[_component_name(ref)].get("oneOf", ()) if "$ref" in item]
            validation = next((schemas[_component_name(r)] for r in refs
                               if _component_name(r).endswith("ValidationError")), None)
            if validation is None:
                continue
            body_fields = _body_fields(operation, schemas)
            if body_fields:  # a write without a body (approve, submit) has no field of its own
                union_name = _component_name(validation["properties"]["errors"]["items"]["$ref"])
                _document_union(union_name, schemas, body_fields, index)
    return result


def _document_union(union_name: str, schemas: dict, body_fields: set[str], index: str) -> None:
    union = schemas[union_name]
    by_attr = {}
    for item in union.get("oneOf", ()):
        component = schemas[_component_name(item["$ref"])]
        attr = component["properties"]["attr"]
        by_attr[(attr.get("enum") or [attr.get("description", "").split(",")[0]])[0]] = component
    prefix = union_name[:-len("Error")]
    wanted = {name for name in body_fields if codes_for_field(name)} | {None}
    for name in sorted(wanted - set(by_attr), key=str):
        component_name = f"{prefix}{camelize(name or '')}ErrorComponent"
        attr = {"enum": [None], "description": "* `None` - None", "nullable": True} if name is None else \
            {"type": "string", **_enum([name])}
        schemas[component_name] = {"type": "object", "required": ["attr", "code", "detail"], "properties": {
            "attr": attr, "code": {"type": "string", **_enum([])}, "detail": {"type": "string"}}}
        union["oneOf"].append({"$ref": f"#/components/schemas/{component_name}"})
        if "discriminator" in union:
            union["discriminator"]["mapping"]["null" if name is None else name] = \
                f"#/components/schemas/{component_name}"
        by_attr[name] = schemas[component_name]
    patterned = False
    for name, component in by_attr.items():
        code = component["properties"]["code"]
        code.update(_enum(sorted(set(code.get("enum", [])) | set(codes_for_field(name)))))
        parts = name.split(".") if isinstance(name, str) else []
        key = package_settings.DICT_KEY_IN_API_SCHEMA
        if index in parts or key in parts:
            placeholders = {index: r"\d+", key: r"[\s\S]*"}
            pattern = r"\.".join(placeholders.get(part, re.escape(part)) for part in parts)
            meanings = [f"{index} being the item's position"] * (index in parts) + [f"{key} the dict's key"] * (
                key in parts)
            component["properties"]["attr"] = {"type": "string", "pattern": f"^{pattern}$",
                                               "description": f"{name}, {', '.join(meanings)}."}
            patterned = True
    if patterned:
        union.pop("discriminator", None)


# --- 400 of a list's query string: unknown parameters and orderings (api.filters) ---------------

def document_list_query_errors(result: dict, generator=None, request=None, public=None) -> dict:
    """drf-spectacular's postprocessing hook: every list and every query string refuses a query
    parameter it does not read (400 ``unknown_parameter``, ``attr`` the parameter;
    ``api.filters.StrictQueryParams`` and ``QuerySerializer``), and a list an ordering it does not
    offer (400 ``unknown_ordering`` on ``ordering``, ``StrictOrderingFilter``): their error items
    join the operation's 400 validation body."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    ordering_name, unknown_name = "ListOrderingErrorComponent", "ListUnknownParameterErrorComponent"
    schemas[ordering_name] = {"type": "object", "required": ["attr", "code", "detail"], "properties": {
        "attr": {"type": "string", **_enum(["ordering"])}, "code": {"type": "string", **_enum(["unknown_ordering"])},
        "detail": {"type": "string"}}}
    schemas[unknown_name] = {"type": "object", "required": ["attr", "code", "detail"], "properties": {
        "attr": {"type": "string", "description": "The query parameter the endpoint does not read."},
        "code": {"type": "string", **_enum(["unknown_parameter"])}, "detail": {"type": "string"}}}
    operations_with_query = [operation for operations in result.get("paths", {}).values()
                             for method, operation in operations.items()
                             if method in ("get", "post", "put", "patch", "delete") and isinstance(operation, dict)]
    for operation in operations_with_query:
        query = {parameter.get("name") for parameter in operation.get("parameters", ())
                 if parameter.get("in") == "query"}
        if not query:
            continue
        items_added = (ordering_name, unknown_name) if "ordering" in query else (unknown_name,)
        body = operation.get("responses", {}).get("400", {}).get("content", {}).get("application/json", {})
        ref = body.get("schema", {}).get("$ref")
        if not ref:
            continue
        response = schemas[_component_name(ref)]
        if "properties" in response:
            continue  # a body written by hand (``QueryProblemsSerializer``): its items take any code
        mapping = response.setdefault("discriminator", {"propertyName": "type", "mapping": {}})["mapping"]
        validation_ref = mapping.get("validation_error")
        prefix = camelize(operation["operationId"])
        if validation_ref is None:
            union_name, validation_name = f"{prefix}QueryError", f"{prefix}QueryValidationError"
            schemas[union_name] = {"oneOf": []}
            schemas[validation_name] = {"type": "object", "required": ["errors", "type"], "properties": {
                "type": {"$ref": "#/components/schemas/ValidationErrorEnum"},
                "errors": {"type": "array", "items": {"$ref": f"#/components/schemas/{union_name}"}}}}
            validation_ref = f"#/components/schemas/{validation_name}"
            response.setdefault("oneOf", []).append({"$ref": validation_ref})
            mapping["validation_error"] = validation_ref
        validation = schemas[_component_name(validation_ref)]
        union = schemas[_component_name(validation["properties"]["errors"]["items"]["$ref"])]
        items = union.setdefault("oneOf", [])
        for name in items_added:
            item = {"$ref": f"#/components/schemas/{name}"}
            if item not in items:
                items.append(item)
        # An unknown parameter's attr is any name: no discriminator maps it (each item's code
        # enum keeps exactly one match).
        union.pop("discriminator", None)
    return result
