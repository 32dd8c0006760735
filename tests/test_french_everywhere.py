"""French everywhere: every message the API can answer exists in French and in English.

Three walks:

- every error code of the registry (``grants.errors.ErrorCode``), through every place the source
  raises it: its message is marked for translation (gettext), never a plain English string, and
  the French catalogue translates it;
- every other exception the API answers with (DRF's permissions' ``message``, ``NotFound``,
  ``ValidationError``...): the same;
- requests in French for each kind of answer (401, 403, 404, 409, 400 of a choice, of a parse, of a
  query; the workbook): the body carries no English sentence and ``Content-Language`` is ``fr``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import translation

from grants.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[1]
APPS = ("grants", "budget", "expenditures", "reports", "api", "portal", "jobs")
# What the API answers with: the services' exceptions, DRF's, Django's ValidationError.
RAISERS = {"ApplicationError", "Conflict", "PeriodLocked", "PermissionRefused", "PayloadTooLarge",
           "ValidationError", "NotFound", "PermissionDenied", "ParseError", "Throttled", "AuthenticationFailed",
           "NotAuthenticated", "BadGrouping", "UnknownVersion", "_problem", "add", "_error"}
GETTEXT = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy", "_lazy"}
# msgids whose French is the same word
SAME_IN_FRENCH = {"API", "Total", "Version", "Note", "Notes", "Description", "Code", "Type", "Budget", "Transferts",
                  "Date", "Source", "Region", "Mode"}


@dataclass(frozen=True)
class Message:
    where: str
    code: str | None
    text: str | None  # the msgid when marked, else the English source
    marked: bool
    context: str | None = None  # pgettext's


def _gettext_call(node: ast.AST) -> ast.Call | None:
    """The gettext call a message is built from: ``_("...")``, ``_("... %(x)s") % {...}``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT:
        return node
    return None


def _english(node: ast.AST) -> bool:
    """A plain string a person reads: a literal or an f-string with words in it."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{3,} [A-Za-z]", node.value))
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.Constant) and re.search(r"[A-Za-z]{3,} [a-z]", part.value)
                   for part in node.values)
    return False


def _msgid(call: ast.Call) -> str | None:
    args = call.args[1:] if call.func.id.startswith("pgettext") else call.args
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return args[0].value
    return None


def _context(call: ast.Call) -> str | None:
    if call.func.id.startswith("pgettext") and isinstance(call.args[0], ast.Constant):
        return call.args[0].value
    return None


def _code_of(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "code":
            value = keyword.value
            if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "ErrorCode":
                return ErrorCode[value.attr].value
            if isinstance(value, ast.Constant):
                return value.value
    if _callee(call) in ("add", "_problem", "_error") and call.args:
        value = call.args[0]
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "ErrorCode":
            return ErrorCode[value.attr].value
    return DEFAULT_CODES.get(_callee(call))


# The code an exception of the services carries when none is given (grants.errors).
DEFAULT_CODES = {"ApplicationError": "invalid", "Conflict": "conflict", "PeriodLocked": "period_locked",
                 "PermissionRefused": "forbidden"}


def _callee(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "?")


def _message_arguments(call: ast.Call) -> list[ast.AST]:
    name = _callee(call)
    if name in ("add", "_problem"):
        args = call.args[1:2]
    elif name == "_error":
        args = call.args[:1]
    else:
        args = call.args[:1]
    args += [kw.value for kw in call.keywords if kw.arg in ("detail", "message")]
    out = []
    for arg in args:  # {"field": ["message"]}: each message
        if isinstance(arg, ast.Dict):
            for value in arg.values:
                out += value.elts if isinstance(value, ast.List) else [value]
        else:
            out.append(arg)
    return out


def messages() -> list[Message]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or "management" in path.parts:
                continue  # commands speak to the operator's terminal, in English
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call) and _callee(node) in RAISERS:
                    for arg in _message_arguments(node):
                        call = _gettext_call(arg)
                        if call is not None:
                            found.append(Message(where, _code_of(node), _msgid(call), True, _context(call)))
                        elif _english(arg):
                            found.append(Message(where, _code_of(node), ast.unparse(arg)[:90], False))
                # a permission's or an exception class's ``message``/``default_detail``
                elif isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id in ("message", "default_detail") for t in node.targets):
                    call = _gettext_call(node.value)
                    if call is not None:
                        found.append(Message(where, None, _msgid(call), True, _context(call)))
                    elif _english(node.value):
                        found.append(Message(where, None, ast.unparse(node.value)[:90], False))
    return found


MESSAGES = messages()


def test_the_walk_finds_the_messages_it_should():
    codes = {message.code for message in MESSAGES}
    assert {"period_locked", "in_use", "unknown_grant", "forbidden", "max_length"} <= codes
    assert len(MESSAGES) > 150


@pytest.mark.parametrize("code", sorted(code.value for code in ErrorCode))
def test_every_message_of_each_error_code_is_marked_for_translation(code):
    plain = [f"{m.where}: {m.text}" for m in MESSAGES if m.code == code and not m.marked]
    assert plain == []


def test_every_other_message_the_api_answers_is_marked_for_translation():
    plain = [f"{m.where}: {m.text}" for m in MESSAGES if m.code is None and not m.marked]
    assert plain == []


def test_every_marked_message_has_its_french():
    untranslated = []
    with translation.override("fr"):
        for message in MESSAGES:
            if message.marked and message.text and message.text not in SAME_IN_FRENCH:
                french = (translation.pgettext(message.context, message.text) if message.context
                          else translation.gettext(message.text))
                if french == message.text:
                    untranslated.append(f"{message.where}: {message.text}")
    assert sorted(set(untranslated)) == []


# --- answers in French ------------------------------------------------------------------------------

ENGLISH = re.compile(r"\b(the|is|not|only|may|cannot|must|this|with|of|no such|has|are|already)\b", re.I)
G = "ML-ESEC-2015"


def _details(response) -> list[str]:
    body = response.json()
    return [str(error.get("detail", "")) for error in body.get("errors", [])]


def _french(response) -> None:
    assert response["Content-Language"] == "fr", response["Content-Language"]
    english = [detail for detail in _details(response) if ENGLISH.search(detail)]
    assert english == [], english


@pytest.fixture
def french_answers(grant, finance, bnce, anonymous):
    """One answer of each kind, asked in French."""
    fr = {"HTTP_ACCEPT_LANGUAGE": "fr"}
    return {
        "401 not authenticated": anonymous.get("/api/v1/grants/", **fr),
        "403 a partner writes a grant": bnce.post("/api/v1/grants/", {"code": "X-1"}, format="json", **fr),
        "404 no such grant": finance.get("/api/v1/grants/NOPE-9/", **fr),
        "404 a grant out of sight": bnce.get("/api/v1/grants/NOPE-9/reports/variance/", **fr),
        "409 an approved version": finance.patch(f"/api/v1/grants/{G}/versions/1/", {"label": "x"}, format="json",
                                                 **fr),
        "400 a choice": finance.get(f"/api/v1/grants/{G}/reports/variance/", {"by": "nope"}, **fr),
        "400 a parse error": finance.generic("POST", "/api/v1/expenditures/", "{not json",
                                             content_type="application/json", **fr),
        "400 a period": finance.post("/api/v1/statements/", {"grant": G, "partner": "BNCE", "period": "0000-Q1"},
                                     format="json", **fr),
        "400 a service's rule": finance.post("/api/v1/expenditures/", {
            "grant": G, "partner": "BNCE", "budget_line": "1", "location": "BKO", "date": "2016-02-15",
            "amount": "1000", "amount_currency": "XOF", "voucher": "FR-1"}, format="json", **fr),
    }


def test_every_kind_of_answer_comes_in_french(french_answers):
    statuses = {name: response.status_code for name, response in french_answers.items()}
    assert statuses == {"401 not authenticated": 401, "403 a partner writes a grant": 403,
                        "404 no such grant": 404, "404 a grant out of sight": 404, "409 an approved version": 409,
                        "400 a choice": 400, "400 a parse error": 400, "400 a period": 400,
                        "400 a service's rule": 400}
    for name, response in french_answers.items():
        try:
            _french(response)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def test_the_same_answer_in_english_is_english(grant, finance):
    response = finance.get(f"/api/v1/grants/{G}/reports/variance/", {"by": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "en"
    assert any(ENGLISH.search(detail) for detail in _details(response))


def test_a_workbook_asked_in_french_says_so(grant, finance):
    response = finance.get(f"/api/v1/grants/{G}/reports/variance.xlsx", {"lang": "fr"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    response = finance.get(f"/api/v1/grants/{G}/reports/variance.xlsx", {"lang": "en"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "en"
