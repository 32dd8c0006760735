"""One registry of error codes (``grants.errors.ErrorCode``): every code the source raises is in it,
with the status it is raised with, and the served schema documents the registry's codes.

The source is read, not run: an AST walk of grants/, budget/, expenditures/, reports/ and api/
finds every code given as ``code=`` or ``unknown_code=`` (a string, a module constant or an
``ErrorCode`` member), as the first argument of a problem list's ``add``/``_problem``, or as the
value of a ``"code"`` key in a dict literal, and every ``ErrorCode.X`` named anywhere.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest

from grants.errors import ErrorCode, codes_for

ROOT = Path(__file__).resolve().parents[2]
APPS = ("grants", "budget", "expenditures", "reports", "api")
# ``code=`` is also a lookup on the records' ``code`` column: these calls name a record, not an error.
LOOKUPS = {"get", "filter", "exclude", "create", "get_or_create", "update_or_create", "Q", "get_object_or_404",
           "filter_by", "update"}
# The status each raiser answers with (others: only membership in the registry is checked).
STATUS_OF_RAISER = {
    "ApplicationError": HTTPStatus.BAD_REQUEST, "ValidationError": HTTPStatus.BAD_REQUEST,
    "ErrorDetail": HTTPStatus.BAD_REQUEST, "CodeRelatedField": HTTPStatus.BAD_REQUEST,
    "_problem": HTTPStatus.BAD_REQUEST, "add": HTTPStatus.BAD_REQUEST, "_error": HTTPStatus.BAD_REQUEST,
    "Conflict": HTTPStatus.CONFLICT, "PeriodLocked": HTTPStatus.CONFLICT,
    "PermissionRefused": HTTPStatus.FORBIDDEN, "Throttled": HTTPStatus.TOO_MANY_REQUESTS,
}


@dataclass(frozen=True)
class RaisedCode:
    code: str
    raiser: str
    where: str


def _constants(tree: ast.Module) -> dict[str, str]:
    return {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def _member(node: ast.AST) -> str | None:
    """``ErrorCode.X`` or ``ErrorCode.X.value`` -> "X"."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode":
        return node.attr
    return None


def _code_of(node: ast.AST, constants: dict[str, str]) -> str | None:
    """The code a node names, or None when it is computed (a variable passing a code on)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    member = _member(node)
    if member is not None:
        return ErrorCode[member].value if member in ErrorCode.__members__ else f"ErrorCode.{member}"
    return None


def _callee(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "?")


def raised_codes() -> list[RaisedCode]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            constants = _constants(tree)
            for node in ast.walk(tree):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                candidates: list[tuple[ast.AST, str]] = []
                if isinstance(node, ast.Call) and _callee(node) not in LOOKUPS:
                    candidates += [(kw.value, _callee(node)) for kw in node.keywords
                                   if kw.arg in ("code", "unknown_code")]
                    if _callee(node) in ("add", "_problem") and node.args:
                        candidates.append((node.args[0], _callee(node)))
                    if _callee(node) == "_error" and len(node.args) == 3:
                        candidates.append((node.args[2], "_error"))
                elif isinstance(node, ast.Dict):
                    candidates += [(value, "dict") for key, value in zip(node.keys, node.values, strict=True)
                                   if isinstance(key, ast.Constant) and key.value == "code"]
                elif isinstance(node, ast.Assign) and any(
                        isinstance(target, ast.Name) and target.id == "default_code" for target in node.targets):
                    candidates.append((node.value, "default_code"))
                elif isinstance(node, ast.Attribute) and _member(node) is not None:
                    candidates.append((node, "ErrorCode"))
                for value, raiser in candidates:
                    code = _code_of(value, constants)
                    if code is not None:
                        found.append(RaisedCode(code, raiser, where))
    return found


RAISED = raised_codes()
REGISTRY = {code.value for code in ErrorCode}


def test_the_scan_finds_the_codes_it_should():
    # given codes known to be raised as a literal (before the registry), a member and a dict value
    codes = {raised.code for raised in RAISED}
    # then the scan sees each form
    assert {"in_use", "immutable", "statement_exists", "too_many_decimals", "idempotency_key_reused",
            "not_a_workbook", "unknown_grant", "not_found"} <= codes
    assert len(RAISED) > 150


def test_every_raised_code_is_in_the_registry():
    missing = sorted({f"{raised.code} ({raised.where})" for raised in RAISED if raised.code not in REGISTRY})
    assert missing == []


def test_every_code_is_raised_with_a_status_the_registry_gives_it():
    wrong = sorted(
        f"{raised.code} raised by {raised.raiser} ({raised.where}): {STATUS_OF_RAISER[raised.raiser].value}, "
        f"registry says {sorted(s.value for s in ErrorCode(raised.code).statuses)}"
        for raised in RAISED
        if raised.raiser in STATUS_OF_RAISER and raised.code in REGISTRY
        and STATUS_OF_RAISER[raised.raiser] not in ErrorCode(raised.code).statuses)
    assert wrong == []


def test_every_code_of_the_registry_has_a_status():
    assert [code for code in ErrorCode if not code.statuses] == []


@pytest.fixture(scope="module")
def served_schema(django_db_setup, django_db_blocker):
    from rest_framework.test import APIClient
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(("status", "component"), [
    (HTTPStatus.CONFLICT, "Conflict409ErrorComponent"),
    (HTTPStatus.FORBIDDEN, "Forbidden403ErrorComponent"),
    (HTTPStatus.NOT_FOUND, "NotFound404ErrorComponent"),
    (HTTPStatus.UNPROCESSABLE_ENTITY, "IdempotencyKeyReused422ErrorComponent"),
    (HTTPStatus.TOO_MANY_REQUESTS, "TooManyRequests429ErrorComponent"),
])
def test_the_served_schema_lists_every_code_of_the_status(served_schema, status, component):
    documented = served_schema["components"]["schemas"][component]["properties"]["code"]["enum"]
    # the registry's codes for that status, named here by hand for 409 so that a code dropped from
    # the registry by mistake shows too
    assert sorted(documented) == codes_for(status)


def test_the_409_codes_include_those_the_hand_kept_list_lacked(served_schema):
    documented = set(served_schema["components"]["schemas"]["Conflict409ErrorComponent"]["properties"]["code"]["enum"])
    assert {"donor_approval_required", "donor_approval_rejected", "use_revalue", "revaluation_needs_confirm",
            "statement_exists", "statement_not_editable", "statement_not_submitted",
            "statement_not_accepted"} <= documented


def test_every_write_documents_the_409_body_and_no_read_does(served_schema):
    conflict = "#/components/schemas/Conflict409ErrorResponse"
    for path, operations in served_schema["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            response = operation["responses"].get("409")
            # The one read that answers 409: the IATI export refuses to publish what would fail
            # the IATI Validator's rules (iati_rules_failed).
            if method in ("post", "put", "patch", "delete") or path.endswith("/iati.xml"):
                assert response is not None, (method, path)
                assert response["content"]["application/json"]["schema"]["$ref"] == conflict
            else:
                assert response is None, (method, path)


def _field_raises() -> list[tuple[str, str, str]]:
    """(code, attr, where) of every 400 raised with a literal ``attr``: ``ApplicationError(...,
    code=..., attr="...")`` and ``serializers.ValidationError({"field": ...}, code=...)``."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            constants = _constants(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or _callee(node) not in ("ApplicationError", "ValidationError"):
                    continue
                keywords = {kw.arg: kw.value for kw in node.keywords}
                code = _code_of(keywords["code"], constants) if "code" in keywords else None
                attr = keywords.get("attr")
                if attr is None and node.args and isinstance(node.args[0], ast.Dict) and len(node.args[0].keys) == 1:
                    attr = node.args[0].keys[0]
                if code is None or not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                    continue
                found.append((code, attr.value, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def test_the_field_scan_finds_the_raises_it_should():
    raises = {(code, attr) for code, attr, _ in _field_raises()}
    assert {("immutable", "code"), ("unknown_budget_line", "budget_line"), ("required", "partner")} <= raises


def test_every_code_raised_on_a_field_is_in_the_registrys_codes_for_that_field():
    from grants.errors import codes_for_field

    missing = sorted(f"{code} on {attr} ({where})" for code, attr, where in _field_raises()
                     if ErrorCode(code).statuses == {HTTPStatus.BAD_REQUEST} and code not in codes_for_field(attr))
    assert missing == []


def test_the_served_schema_documents_the_registrys_codes_of_a_field(served_schema):
    from grants.errors import codes_for_field

    schemas = served_schema["components"]["schemas"]
    amount = set(schemas["V1ExpendituresCreateAmountErrorComponent"]["properties"]["code"]["enum"])
    assert set(codes_for_field("amount")) <= amount
    # a list field named whole, and the errors of no field
    assert set(codes_for_field("donors")) <= set(
        schemas["V1GrantsCreateDonorsErrorComponent"]["properties"]["code"]["enum"])
    no_field = schemas["V1ExpendituresCreateErrorComponent"]["properties"]["code"]["enum"]
    assert set(codes_for_field(None)) <= set(no_field)
    # the fields of a list of objects: a pattern, as the body names them
    share = schemas["V1GrantsCreateDonorsINDEXSharePctErrorComponent"]["properties"]["attr"]
    assert share["pattern"] == r"^donors\.\d+\.share_pct$"
