"""A partner's quarterly financial statement: its life, its checks, the lock it puts on a quarter.

Life: ``draft`` (by the partner, or a finance officer on its behalf) -> ``submitted`` (every check
passed; its expenditures become ledger records with status ``submitted``) -> ``accepted`` (they
become ``validated`` and the partner's quarter is locked) or ``returned`` (they leave the ledger
and the statement goes back to the partner, who changes it and submits again).

While a statement is a draft or returned, its expenditures are kept as sent (``lines``): the
ledger holds only what passed the checks. ``statement_check`` returns every problem at once, each
with a stable code (``grants.errors.ErrorCode``), the ``attr`` it concerns, the ``row`` (the
expenditure's line number, 1-based, as the partner counts them) and, for a statement read from a
workbook, the ``cell`` it was typed in. A line's amount is read by ``grants.money.parse_amount``,
as the API reads one: the same input, the same answer. The opening balance and the funds received
are what the ledger says (``expenditures.selectors.statement_ledger_figures``): a statement
created without them carries them, and submission and acceptance compare with them.

Sent again: ``statement_upload`` (the API's upload and the partner's pages) reads a workbook and
creates the quarter's statement, or replaces the content of its draft or returned one (same id;
its history keeps the former). Every content sent is kept as a ``StatementVersion`` (the file,
the body, the cells, who and when).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from moneyed import Money
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from budget.models import Allocation, BudgetLine, BudgetVersion
from budget.selectors import lines_allocated_to
from expenditures import fx, lifecycle
from expenditures.audit import statement_seal
from expenditures.fields import DESCRIPTION_MAX_LENGTH, STATEMENT_FIELDS, VOUCHER_MAX_LENGTH
from expenditures.models import (
    COUNTED_STATUSES,
    Expenditure,
    ExpenditureStatus,
    QuarterlyStatement,
    StatementReopening,
    StatementStatus,
    StatementVersion,
    StatementVersionSource,
)
from expenditures.selectors import LedgerFigures, statement_ledger_figures
from grants.access import grants_visible_to
from grants.errors import ApplicationError, Conflict, ErrorCode, PeriodLocked
from grants.models import Grant, Location, Partner
from grants.money import CURRENCIES, XOF, divide_to_eur, money_sum, parse_amount, quantize_amount, validate_money
from grants.periods import check_in_bounds, next_quarter, period_parse, quarter_bounds, quarter_of
from grants.validation import as_application_error, holds_nul

ROW_ATTR = re.compile(r"^expenditures\.(\d+)(?:\.|$)")
MONEY_FIELDS = ("opening_balance", "funds_received", "closing_balance", "cash_on_hand", "bank_balance")
# Balances carried from the ledger may be below zero: spending recorded beyond the funds received.
SIGNED_FIELDS = ("opening_balance", "closing_balance")
LINE_FIELDS = tuple(field.name for field in STATEMENT_FIELDS)  # a line's columns (expenditures.fields)
GRACE_DAYS = 30


# --- writes ----------------------------------------------------------------------------------------

def _problem(code: str, detail: str, attr: str | None) -> dict:
    return {"code": str(code), "detail": str(detail), "attr": attr}


def _figure(amount: Decimal, currency: str) -> str:
    """An amount as an accountant reads it in the active language: "11 260 421 XOF", "1,500.50 EUR"."""
    return f"{number_format(quantize_amount(amount, currency), force_grouping=True)} {currency}"


def problem_place(attr: str | None, cells: dict[str, str] | None = None) -> dict:
    """Where a problem is, besides its ``attr``: ``row``, the line number (1-based) of the
    expenditure it concerns, and, given a workbook's cells (``StatementVersion.cells``), the
    ``cell`` it was typed in. Only the keys that apply."""
    place: dict = {}
    match = ROW_ATTR.match(attr or "")
    if match:
        place["row"] = int(match.group(1)) + 1
    if cells and attr:
        area = attr.split(".")[0]
        cell = cells.get(attr) or (cells.get(area) if area in ("expenditures", "explanations") else None)
        if cell:
            place["cell"] = cell
    return place


def problems_placed(problems: list[dict], cells: dict[str, str] | None = None) -> list[dict]:
    """``problems`` with their ``row`` and ``cell`` (``problem_place``)."""
    return [{**problem, **problem_place(problem.get("attr"), cells)} for problem in problems]


def statement_workbook_version(statement: QuarterlyStatement) -> StatementVersion | None:
    """The workbook the statement's content came from: its latest version, when that is an upload
    (a change through the API since makes the workbook stale), else None."""
    latest = statement.versions.defer("file", "body").order_by("-number").first()
    return latest if latest is not None and latest.source == StatementVersionSource.WORKBOOK else None


def statement_cells(statement: QuarterlyStatement) -> dict[str, str] | None:
    version = statement_workbook_version(statement)
    return version.cells if version is not None else None


def statement_body(statement: QuarterlyStatement) -> dict:
    """The statement's content in the API's body shape (what a version keeps of a JSON write)."""
    body = {"grant": statement.grant.code, "partner": statement.partner.code, "period": statement.period}
    for name in MONEY_FIELDS:
        money = getattr(statement, name)
        body[name] = str(quantize_amount(money.amount, str(money.currency)))
        body[f"{name}_currency"] = str(money.currency)
    body["expenditures"] = list(statement.lines)
    body["explanations"] = dict(statement.explanations)
    return body


def _record_version(statement: QuarterlyStatement, *, by, source: str, body: dict | None = None,
                    cells: dict | None = None, lang: str = "", file: bytes | None = None,
                    file_name: str = "") -> StatementVersion:
    """The statement's next version (called under the partner's lock, which numbers it alone)."""
    last = statement.versions.order_by("-number").values_list("number", flat=True).first() or 0
    return StatementVersion.objects.create(
        statement=statement, number=last + 1, source=source,
        body=body if body is not None else statement_body(statement), cells=cells or {}, lang=lang, file=file,
        file_name=file_name[:255], sent_by=by if _is_user(by) else None)


def _is_user(by) -> bool:
    return getattr(by, "pk", None) is not None


def _check_header(grant: Grant, partner: Partner, year: int, quarter: int, money: dict) -> None:
    if not grant.partners.filter(pk=partner.pk).exists():
        raise ApplicationError(_("%(partner)s is not a partner of %(grant)s.") % {
            "partner": partner.code, "grant": grant.code}, code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    start, end = quarter_bounds(year, quarter)
    if end < grant.start_date or start > grant.end_date:
        raise ApplicationError(_("This quarter is outside the grant."), code=ErrorCode.DATE_OUTSIDE_GRANT,
                               attr="period")
    with as_application_error():
        for name, value in money.items():
            if name in SIGNED_FIELDS and isinstance(value, Money) and value.amount < 0:
                value = -value  # its sign aside, a balance is an amount like any other
            validate_money(value, name)


def line_length_problems(lines) -> list[dict]:
    """A problem (``max_length``, attr ``expenditures.<i>.voucher`` or ``.description``) for each
    line whose voucher or description is longer than an expenditure's column
    (``expenditures.fields.VOUCHER_MAX_LENGTH``, ``DESCRIPTION_MAX_LENGTH``): the one check of a
    line's lengths, for a draft's lines, at submission and in the workbook."""
    problems = []
    for index, line in enumerate(lines):
        voucher, description = line.get("voucher"), line.get("description")
        if isinstance(voucher, str) and len(voucher) > VOUCHER_MAX_LENGTH:
            problems.append(_problem(
                ErrorCode.MAX_LENGTH,
                _("A voucher reference holds at most %(limit)s characters; this one has %(length)s.") % {
                    "limit": VOUCHER_MAX_LENGTH, "length": len(voucher)},
                f"expenditures.{index}.voucher"))
        if isinstance(description, str) and len(description) > DESCRIPTION_MAX_LENGTH:
            problems.append(_problem(
                ErrorCode.MAX_LENGTH,
                _("A description holds at most %(limit)s characters; this one has %(length)s.") % {
                    "limit": DESCRIPTION_MAX_LENGTH, "length": len(description)},
                f"expenditures.{index}.description"))
    return problems


def _clean_lines(lines, *, check_lengths: bool = True) -> list[dict]:
    """Keep what was sent, as strings, so that a draft can hold anything to correct later; but no
    voucher or description longer than an expenditure's (every such line is listed at once; a
    workbook's upload lists them with its other cells' problems)."""
    if not isinstance(lines, list):
        raise ApplicationError(_("A list of expenditures is expected."), code=ErrorCode.INVALID, attr="expenditures")
    clean = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise ApplicationError(_("Each expenditure is an object."), code=ErrorCode.INVALID,
                                   attr=f"expenditures.{index}")
        clean.append({name: "" if line.get(name) is None else str(line.get(name)) for name in LINE_FIELDS})
    problems = line_length_problems(clean) if check_lengths else []
    if problems:
        raise ApplicationError(problems[0]["detail"], code=problems[0]["code"], attr=problems[0]["attr"],
                               errors=problems)
    return clean


def _clean_explanations(explanations) -> dict:
    """A budget line's code -> why it overran. The statement keeps them in a JSON column, which
    PostgreSQL refuses to hold a NUL character in: a key or a text with one is refused (the API's
    text fields refuse one in a text already; a key is the service's to check)."""
    explanations = dict(explanations or {})
    if any(holds_nul(key) or holds_nul(text) for key, text in explanations.items()):
        raise ApplicationError(_("An explanation or its budget line holds a NUL character."),
                               code=ErrorCode.NULL_CHARACTERS_NOT_ALLOWED, attr="explanations")
    return explanations


@transaction.atomic
def statement_create(*, grant: Grant, partner: Partner, period: str, lines=(), explanations=None, by=None,
                     **money: Money) -> QuarterlyStatement:
    """A draft statement. One per grant, partner and quarter (409 ``statement_exists``, saying
    what to do). Without an opening balance or funds received, it carries the ledger's, as the
    template does (``statement_ledger_figures``); the other amounts are 0 until given."""
    lifecycle.check_statement_actor(by=by, partner=partner)
    year, quarter = period_parse(period)
    currency = partner.reporting_currency
    defaults = {name: Money(0, currency) for name in MONEY_FIELDS}
    if money.get("opening_balance") is None or money.get("funds_received") is None:
        figures = statement_ledger_figures(grant=grant, partner=partner, year=year, quarter=quarter)
        defaults["opening_balance"] = Money(figures.opening_balance, currency)
        defaults["funds_received"] = Money(figures.funds_received, currency)
    defaults.update({k: v for k, v in money.items() if v is not None})
    _check_header(grant, partner, year, quarter, defaults)
    existing = QuarterlyStatement.objects.filter(grant=grant, partner=partner, year=year, quarter=quarter).first()
    if existing is not None:
        if existing.status == StatementStatus.ACCEPTED:
            raise PeriodLocked(_("This quarter is already accepted."), attr="period")
        raise Conflict(_("%(partner)s already has a statement for %(period)s (id %(id)s): change that one, or "
                         "upload its workbook again, which replaces a draft or returned statement.") % {
            "partner": partner.code, "period": period, "id": existing.pk},
                       code=ErrorCode.STATEMENT_EXISTS, attr="period")
    statement = QuarterlyStatement.objects.create(
        grant=grant, partner=partner, year=year, quarter=quarter, lines=_clean_lines(list(lines)),
        explanations=_clean_explanations(explanations), **defaults,
    )
    _record_version(statement, by=by, source=StatementVersionSource.API)
    return statement


def _check_editable(statement: QuarterlyStatement) -> None:
    if statement.status == StatementStatus.ACCEPTED:
        raise PeriodLocked(_("This statement is accepted: its quarter is locked."), attr="status")
    if not lifecycle.statement_is_editable(statement):
        raise Conflict(_("A submitted statement changes only once it is returned."),
                       code=ErrorCode.STATEMENT_NOT_EDITABLE, attr="status")


@transaction.atomic
def statement_update(*, statement: QuarterlyStatement, by=None, **changes) -> QuarterlyStatement:
    statement = QuarterlyStatement.objects.select_for_update().get(pk=statement.pk)
    lifecycle.check_statement_actor(by=by, partner=statement.partner)
    if "partner" in changes:  # a partner member names only itself
        lifecycle.check_statement_actor(by=by, partner=changes["partner"])
    for name in ("grant", "partner"):
        if name in changes and getattr(changes.pop(name), "pk", None) != getattr(statement, f"{name}_id"):
            raise ApplicationError(_("A statement cannot move to another %(what)s.") % {"what": name},
                                   code=ErrorCode.IMMUTABLE, attr=name)
    _check_editable(statement)
    if "period" in changes and changes["period"] != statement.period:
        raise ApplicationError(_("A statement's period cannot change."), code=ErrorCode.IMMUTABLE, attr="period")
    money = {name: changes[name] for name in MONEY_FIELDS if changes.get(name) is not None}
    _check_header(statement.grant, statement.partner, statement.year, statement.quarter, money)
    for name, value in money.items():
        setattr(statement, name, value)
    if "lines" in changes:
        statement.lines = _clean_lines(changes["lines"])
    if "explanations" in changes and changes["explanations"] is not None:
        statement.explanations = _clean_explanations(changes["explanations"])
    statement.problems = []
    statement.save()
    _record_version(statement, by=by, source=StatementVersionSource.API)
    return statement


@transaction.atomic
def statement_delete(*, statement: QuarterlyStatement, by=None) -> None:
    statement = QuarterlyStatement.objects.select_for_update().get(pk=statement.pk)
    lifecycle.check_statement_actor(by=by, partner=statement.partner)
    if statement.status != StatementStatus.DRAFT:
        raise Conflict(_("Only a draft statement can be deleted."),
                       code=ErrorCode.STATEMENT_NOT_EDITABLE, attr="status")
    statement.delete()


# --- a workbook sent -----------------------------------------------------------------------------

# The template's language when the request names none and before the workbook's own is read:
# the partners who fill it write French.
TEMPLATE_LANG = "fr"


def statement_upload(*, file, by, lang: str | None = None) -> QuarterlyStatement:
    """The quarter's statement from a filled template (``expenditures.workbook``), for the API's
    upload and the partner's pages alike: created as a draft, or, when the quarter's statement is
    a draft or returned, its content replaced (the same statement; its history keeps the former
    content, and finance's comments stay until its next review). Each upload is kept as a
    ``StatementVersion``: the file, the body read, the cell of each field and row, the language,
    who and when.

    Every problem comes at once, in ``lang`` (else the workbook's own language; French until it
    is read), each where it was typed (``cell``, e.g. "Dépenses!D5", and ``row``, the line number,
    for an expenditure):

    - a cell that cannot be read or that the ledger refuses (a date, an amount, an XOF fraction, a
      required cell) refuses the upload: ``ApplicationError`` (400) listing those, with ``attr``
      the cell, and every problem submission would find in the rest;
    - otherwise the statement is saved, and what submission would refuse is kept on it
      (``problems``, each with ``attr``, ``row`` and ``cell``), for the partner to see at once.

    Refused whole, on the cell concerned: a file that is not the template (400), a grant or
    partner the user may not write for (400 ``unknown_grant``/``unknown_partner``, 403), a quarter
    whose statement is submitted (409 ``statement_not_editable``: send it again once finance
    returns it) or accepted (409 ``period_locked``)."""
    from expenditures.workbook import statement_from_workbook  # which imports this module

    lang = _language(lang)
    reading: list[dict] = []
    with translation.override(lang or TEMPLATE_LANG):
        body = statement_from_workbook(file, problems=reading, lang=lang)
    with translation.override(lang or body.lang):
        return _upload(body=body, reading=reading, file=file, by=by)


def _language(lang: str | None) -> str | None:
    if not lang:
        return None
    return "fr" if str(lang).lower().startswith("fr") else "en"


@transaction.atomic
def _upload(*, body, reading: list[dict], file, by) -> QuarterlyStatement:
    cells = body.cells
    with _on_cells(cells, reading):
        grant, partner, year, quarter = _upload_target(body, by)
        lifecycle.lock_partner(grant_id=grant.pk, partner_id=partner.pk)
        statement = QuarterlyStatement.objects.filter(grant=grant, partner=partner, year=year,
                                                      quarter=quarter).first()
        if statement is not None:
            _check_resendable(statement)
    currency = body["closing_balance_currency"]
    if currency not in CURRENCIES:  # every amount was refused with it: nothing to check them against
        _raise_all(reading)
    if statement is None:
        statement = QuarterlyStatement(grant=grant, partner=partner, year=year, quarter=quarter)
    for name in MONEY_FIELDS:  # an amount refused (a problem of its own) is 0 for the checks
        setattr(statement, name, Money(Decimal(body.get(name) or "0"), currency))
    statement.lines = _clean_lines(body["expenditures"], check_lengths=False)  # in ``reading``
    statement.explanations = dict(body["explanations"])
    checks = problems_placed(statement_check(statement)[0], cells)
    if reading:
        _raise_all(reading + _beside(checks, reading, cells))
    statement.problems = checks
    statement.save()
    _record_version(statement, by=by, source=StatementVersionSource.WORKBOOK, body=dict(body), cells=cells,
                    lang=body.lang, file=_file_bytes(file), file_name=str(getattr(file, "name", "") or ""))
    return statement


def _upload_target(body, by) -> tuple[Grant, Partner, int, int]:
    """The grant, partner and quarter a workbook is for, and whether ``by`` may write it."""
    grants = Grant.objects.all() if by is None else grants_visible_to(by)
    grant = grants.filter(code=body["grant"]).first()
    if grant is None:
        raise ApplicationError(_("No grant %(code)s.") % {"code": body["grant"]}, code=ErrorCode.UNKNOWN_GRANT,
                               attr="grant")
    partner = Partner.objects.filter(code=body["partner"]).first()
    if partner is None:
        raise ApplicationError(_("No partner %(code)s.") % {"code": body["partner"]},
                               code=ErrorCode.UNKNOWN_PARTNER, attr="partner")
    lifecycle.check_statement_actor(by=by, partner=partner)
    year, quarter = period_parse(body["period"])
    _check_header(grant, partner, year, quarter, {})
    return grant, partner, year, quarter


def _check_resendable(statement: QuarterlyStatement) -> None:
    """A statement's content is sent again while it is a draft or returned; else 409, saying what to do."""
    values = {"partner": statement.partner.code, "period": statement.period}
    if statement.status == StatementStatus.ACCEPTED:
        raise PeriodLocked(_("%(partner)s's statement for %(period)s is accepted: its quarter is locked. Record a "
                             "correction in an open quarter, or ask a finance officer to reopen the quarter.") % values,
                           attr="period")
    if not lifecycle.statement_is_editable(statement):
        raise Conflict(_("%(partner)s's statement for %(period)s is submitted and waits for finance's review: send "
                         "it again once finance returns it.") % values,
                       code=ErrorCode.STATEMENT_NOT_EDITABLE, attr="period")


@contextmanager
def _on_cells(cells: dict[str, str], reading: list[dict]) -> Iterator[None]:
    """A refusal of the whole upload named at its cell ("partner" -> "Relevé!B4"); a 400 lists the
    problems of the cells too, so that all come at once."""
    try:
        yield
    except ApplicationError as exc:
        errors = []
        for error in exc.errors:
            place = problem_place(error.get("attr"), cells)
            errors.append({**error, **place, "attr": place.get("cell") or error.get("attr")})
        exc.errors = errors + (reading if exc.status == 400 else [])
        exc.attr = exc.errors[0]["attr"]
        raise


def _beside(checks: list[dict], reading: list[dict], cells: dict[str, str]) -> list[dict]:
    """The checks' problems worth adding to those of the cells, each named by its cell: not on a
    cell already refused, and no balance when an amount was refused (the balances would only
    repeat it)."""
    refused = {problem.get("cell") for problem in reading}
    amounts = {cells.get(name) for name in ("opening_balance", "funds_received", "cash_on_hand", "bank_balance")}
    amounts |= {cell for attr, cell in cells.items() if attr.endswith(".amount")}
    derived = {ErrorCode.BALANCE_MISMATCH.value, ErrorCode.CASH_MISMATCH.value} if refused & amounts else set()
    return [{**problem, "attr": problem.get("cell") or problem["attr"]} for problem in checks
            if problem.get("cell") not in refused and problem["code"] not in derived]


def _file_bytes(file) -> bytes:
    if hasattr(file, "read"):
        if hasattr(file, "seek"):
            file.seek(0)
        return file.read()
    with open(file, "rb") as handle:  # a path
        return handle.read()


# --- the checks ----------------------------------------------------------------------------------

@dataclass
class ParsedLine:
    index: int
    date: date | None
    budget_line: BudgetLine | None
    location: Location | None
    amount: Decimal | None
    currency: str
    voucher: str
    description: str


def statement_check(statement: QuarterlyStatement, *, today: date | None = None) -> tuple[list[dict], list[ParsedLine]]:
    """Every problem of the statement at once, and its lines parsed. A fixed number of queries;
    nothing written (the statement may be one not yet saved, read from a workbook)."""
    grant, partner = statement.grant, statement.partner
    today = today or timezone.localdate()
    start, end = quarter_bounds(statement.year, statement.quarter)
    currency = partner.reporting_currency
    problems: list[dict] = []

    if end >= today:
        problems.append(_problem(ErrorCode.PERIOD_NOT_ENDED,
                                 _("The quarter %(period)s has not ended yet (it ends on %(end)s).") % {
                                     "period": statement.period, "end": end.isoformat()}, "period"))

    for name in MONEY_FIELDS:
        value = getattr(statement, name)
        if str(value.currency) != currency:
            problems.append(_problem(ErrorCode.CURRENCY_NOT_ALLOWED,
                                     _("%(partner)s reports in %(currency)s.") % {
                                         "partner": partner.code, "currency": currency}, f"{name}_currency"))

    lines_by_code = {line.code: line for line in BudgetLine.objects.filter(grant=grant).select_related("parent")}
    locations = {loc.code: loc for loc in Location.objects.all()}
    allocated_lines = lines_allocated_to(grant=grant, partner=partner)  # the one rule, every path
    current = BudgetVersion.objects.filter(grant=grant, is_current=True).first()
    budget_by_line: dict[int, Decimal] = {}
    if current is not None:
        for row in (Allocation.objects.filter(version=current, partner=partner).values("budget_line_id")
                    .annotate(total=money_sum("amount")).order_by()):
            budget_by_line[row["budget_line_id"]] = row["total"]

    parsed: list[ParsedLine] = []
    vouchers_seen: dict[str, int] = {}
    for index, raw in enumerate(statement.lines):
        prefix = f"expenditures.{index}"
        line = ParsedLine(index, None, None, None, None, raw.get("amount_currency", ""), raw.get("voucher", "").strip(),
                          raw.get("description", ""))
        try:
            line.date = date.fromisoformat(raw.get("date", ""))
        except ValueError:
            problems.append(_problem(ErrorCode.INVALID, _("A date such as 2016-08-01 is expected."),
                                     f"{prefix}.date"))
        if line.date is not None and not start <= line.date <= end:
            problems.append(_problem(ErrorCode.DATE_OUTSIDE_PERIOD,
                                     _("%(date)s is outside %(period)s.") % {
                                         "date": line.date.isoformat(), "period": statement.period}, f"{prefix}.date"))
        code = raw.get("budget_line", "")
        budget_line = lines_by_code.get(code)
        if budget_line is None or budget_line.is_heading:
            problems.append(_problem(ErrorCode.UNKNOWN_BUDGET_LINE,
                                     _("%(code)r is not a budget line of %(grant)s.") % {
                                         "code": code, "grant": grant.code}, f"{prefix}.budget_line"))
        elif budget_line.pk not in allocated_lines:
            problems.append(_problem(ErrorCode.LINE_NOT_ALLOCATED,
                                     _("%(partner)s has no budget on line %(code)s.") % {
                                         "partner": partner.code, "code": code}, f"{prefix}.budget_line"))
        else:
            line.budget_line = budget_line
        location = locations.get(raw.get("location", ""))
        if location is None:
            problems.append(_problem(ErrorCode.UNKNOWN_LOCATION,
                                     _("%(code)r is not a known location.") % {"code": raw.get("location", "")},
                                     f"{prefix}.location"))
        line.location = location
        if line.currency not in CURRENCIES or line.currency != currency:
            problems.append(_problem(ErrorCode.CURRENCY_NOT_ALLOWED,
                                     _("%(partner)s reports in %(currency)s, not %(got)r.") % {
                                         "partner": partner.code, "currency": currency, "got": line.currency},
                                     f"{prefix}.amount_currency"))
        try:
            # A currency that is neither XOF nor EUR is its own problem (above): the amount is then
            # read in the partner's currency, so that its own problems are listed too.
            line.amount = parse_amount(raw.get("amount", ""), line.currency if line.currency in CURRENCIES
                                       else currency, allow_zero=False)
        except ValidationError as exc:
            problems.append(_problem(exc.code, exc.messages[0], f"{prefix}.amount"))
        if not line.voucher:
            problems.append(_problem(ErrorCode.REQUIRED, _("A voucher reference is required."),
                                     f"{prefix}.voucher"))
        elif line.voucher in vouchers_seen:
            problems.append(_problem(ErrorCode.DUPLICATE_VOUCHER,
                                     _("Voucher %(voucher)s appears twice in this statement (also row %(other)s).") % {
                                         "voucher": line.voucher, "other": vouchers_seen[line.voucher] + 1},
                                     f"{prefix}.voucher"))
        else:
            vouchers_seen[line.voucher] = index
        parsed.append(line)
    problems += line_length_problems(statement.lines)  # a draft kept from before the limit

    in_ledger = set(_not_its_own(Expenditure.objects.filter(partner=partner, voucher__in=list(vouchers_seen)),
                                 statement).values_list("voucher", flat=True))
    for voucher in sorted(in_ledger):
        problems.append(_problem(ErrorCode.DUPLICATE_VOUCHER,
                                 _("%(partner)s already used voucher %(voucher)s.") % {
                                     "partner": partner.code, "voucher": voucher},
                                 f"expenditures.{vouchers_seen[voucher]}.voucher"))

    spent = sum((line.amount for line in parsed if line.amount is not None and line.currency == currency),
                Decimal("0"))

    def shown(amount: Decimal) -> Decimal:
        return quantize_amount(amount, currency)

    opening, received = shown(statement.opening_balance.amount), shown(statement.funds_received.amount)
    closing = shown(statement.closing_balance.amount)
    if opening + received - spent != closing:
        problems.append(_problem(ErrorCode.BALANCE_MISMATCH,
                                 _("Opening %(opening)s + received %(received)s - spent %(spent)s = %(expected)s, "
                                   "not the closing balance %(closing)s.") % {
                                     "opening": opening, "received": received, "spent": spent,
                                     "expected": opening + received - spent, "closing": closing},
                                 "closing_balance"))
    cash, bank = shown(statement.cash_on_hand.amount), shown(statement.bank_balance.amount)
    counted = cash + bank
    if closing != counted:
        problems.append(_problem(ErrorCode.CASH_MISMATCH,
                                 _("The closing balance %(closing)s is not cash %(cash)s + bank %(bank)s = "
                                   "%(counted)s.") % {"closing": closing, "cash": cash, "bank": bank,
                                                      "counted": counted}, "cash_on_hand"))
    figures = statement_ledger_figures(grant=grant, partner=partner, year=statement.year, quarter=statement.quarter)
    problems += _opening_problems(statement, figures)
    transfers = shown(figures.funds_received)
    if received != transfers:
        problems.append(_problem(ErrorCode.FUNDS_RECEIVED_MISMATCH,
                                 _("Funds received %(received)s are not the %(transfers)s recorded as received in "
                                   "the quarter.") % {"received": received, "transfers": transfers},
                                 "funds_received"))
    problems += _explanations_missing(statement, parsed, budget_by_line, end)
    return problems, parsed


def _opening_problems(statement: QuarterlyStatement, figures: LedgerFigures) -> list[dict]:
    """The opening balance against what the ledger shows unspent when the quarter starts: a
    problem naming both figures, or none."""
    currency = statement.partner.reporting_currency
    opening = quantize_amount(statement.opening_balance.amount, currency)
    expected = quantize_amount(figures.opening_balance, currency)
    if opening == expected:
        return []
    values = {"opening": _figure(opening, currency), "expected": _figure(expected, currency),
              "period": statement.period, "since": figures.since}
    if figures.since:
        detail = _("The opening balance %(opening)s is not the %(expected)s the ledger shows unspent at the start "
                   "of %(period)s: the closing balance of the statement accepted for %(since)s, plus the funds "
                   "received less the spending recorded since.") % values
    else:
        detail = _("The opening balance %(opening)s is not the %(expected)s the ledger shows unspent at the start "
                   "of %(period)s: the funds received less the spending recorded since the grant's start.") % values
    return [_problem(ErrorCode.OPENING_BALANCE_MISMATCH, detail, "opening_balance")]


def _not_its_own(expenditures, statement: QuarterlyStatement):
    """The ledger's rows but the statement's own (a statement not yet saved, being uploaded, has none)."""
    return expenditures.exclude(statement=statement) if statement.pk is not None else expenditures


def _explanations_missing(statement, parsed: list[ParsedLine], budget_by_line: dict[int, Decimal],
                          end: date) -> list[dict]:
    """Lines whose spend to date (the ledger's counted EUR up to the quarter's end, plus this
    statement's lines at the parity) exceeds the partner's budget on the line by more than the
    grant's tolerance, and that carry no explanation."""
    grant, partner = statement.grant, statement.partner
    new_by_line: dict[int, Decimal] = defaultdict(Decimal)
    parity = None
    for line in parsed:
        if line.budget_line is None or line.amount is None:
            continue
        if line.currency == XOF:
            parity = parity or fx.parity_rate()  # read once, on the first XOF line
            new_by_line[line.budget_line.pk] += divide_to_eur(line.amount, parity)
        else:
            new_by_line[line.budget_line.pk] += line.amount
    if not new_by_line:
        return []
    ledger = dict(
        _not_its_own(Expenditure.objects.filter(grant=grant, partner=partner, budget_line_id__in=list(new_by_line),
                                                status__in=COUNTED_STATUSES, date__lte=end), statement)
        .values("budget_line_id").annotate(total=money_sum("amount_eur"))
        .values_list("budget_line_id", "total").order_by()
    )
    tolerance = grant.variance_tolerance_pct / Decimal("100")
    codes = {line.budget_line.pk: line.budget_line.code for line in parsed if line.budget_line is not None}
    problems = []
    for line_id, new in sorted(new_by_line.items(), key=lambda item: codes[item[0]]):
        budget = budget_by_line.get(line_id, Decimal("0"))
        spent = (ledger.get(line_id) or Decimal("0")) + new
        code = codes[line_id]
        if spent > budget * (1 + tolerance) and not str(statement.explanations.get(code, "")).strip():
            problems.append(_problem(
                ErrorCode.EXPLANATION_REQUIRED,
                _("Spending to date on line %(code)s (%(spent)s EUR) exceeds its budget (%(budget)s EUR) by more "
                  "than %(tolerance)s %%: explain why.") % {"code": code, "spent": spent, "budget": budget,
                                                            "tolerance": grant.variance_tolerance_pct},
                f"explanations.{code}"))
    return problems


def _lock_statement(statement: QuarterlyStatement) -> QuarterlyStatement:
    """The statement, after the partner's write locks (``expenditures.lifecycle.lock_partner``:
    its statements by id, then the partner), before any of its rows: the one lock order."""
    keys = QuarterlyStatement.objects.filter(pk=statement.pk).values("grant_id", "partner_id").get()
    lifecycle.lock_partner(grant_id=keys["grant_id"], partner_id=keys["partner_id"])
    return QuarterlyStatement.objects.select_related("grant", "partner").get(pk=statement.pk)


def _raise_all(problems: list[dict]) -> None:
    """One ``ApplicationError`` (400) listing every problem, the first named as the error's own."""
    if problems:
        first = problems[0]
        raise ApplicationError(first["detail"], code=first["code"], attr=first["attr"], errors=problems)


def statement_submit(*, statement: QuarterlyStatement, by=None, today: date | None = None) -> QuarterlyStatement:
    """Run every check; on success the statement is ``submitted`` and its lines become ledger
    expenditures (status ``submitted``). Raises ``ApplicationError`` listing all problems (400),
    each with its ``row`` and, for a statement read from a workbook, its ``cell``; they are also
    kept on the statement. ``PeriodLocked`` for an accepted quarter and ``Conflict`` for a
    statement already submitted."""
    statement, problems = _submit(statement=statement, by=by, today=today)
    _raise_all(problems)
    return statement


@transaction.atomic
def _submit(*, statement: QuarterlyStatement, by, today: date | None) -> tuple[QuarterlyStatement, list[dict]]:
    statement = _lock_statement(statement)
    lifecycle.check_statement_actor(by=by, partner=statement.partner)
    if statement.status == StatementStatus.ACCEPTED:
        raise PeriodLocked(_("This quarter is already accepted."), attr="period")
    _check_editable(statement)
    problems, parsed = statement_check(statement, today=today)
    if problems:
        problems = problems_placed(problems, statement_cells(statement))
        # Kept on the statement (committed) so that the partner sees them whatever its client shows.
        statement.problems = problems
        statement.save(update_fields=["problems"])
        return statement, problems
    rows = []
    rates = fx.RateBook()
    for line in parsed:
        exp = Expenditure(grant=statement.grant, partner=statement.partner, budget_line=line.budget_line,
                          location=line.location, date=line.date, amount=Money(line.amount, line.currency),
                          voucher=line.voucher, description=line.description,
                          status=ExpenditureStatus.SUBMITTED, statement=statement, entered_by=by)
        fx.apply_conversion(exp, rates=rates)
        rows.append(exp)
    bulk_create_with_history(rows, Expenditure, batch_size=1000, default_user=by)
    fx.after_partner_change(grant=statement.grant, partner=statement.partner)
    statement.status = StatementStatus.SUBMITTED
    statement.problems = []
    statement.submitted_at = timezone.now()
    statement.submitted_by = by
    statement.save()
    return statement, []


def _check_submitted(statement: QuarterlyStatement) -> None:
    if statement.status == StatementStatus.ACCEPTED:
        raise PeriodLocked(_("This statement is already accepted."), attr="status")
    if statement.status != StatementStatus.SUBMITTED:
        raise Conflict(_("Only a submitted statement can be reviewed."),
                       code=ErrorCode.STATEMENT_NOT_SUBMITTED, attr="status")


def statement_accept(*, statement: QuarterlyStatement, by=None, comment: str = "") -> QuarterlyStatement:
    """Accept a submitted statement: its expenditures are ``validated`` and the partner's quarter
    is locked. The row lock makes two reviewers, or a reviewer and a partner's change, leave
    exactly one outcome. Its opening balance is compared with the ledger's once more (the ledger
    may have moved since it was submitted): a difference is refused (400
    ``opening_balance_mismatch``, naming both figures, kept on the statement), and finance
    returns the statement to be corrected."""
    statement, problems = _accept(statement=statement, by=by, comment=comment)
    _raise_all(problems)
    return statement


@transaction.atomic
def _accept(*, statement: QuarterlyStatement, by, comment: str) -> tuple[QuarterlyStatement, list[dict]]:
    lifecycle.require_finance(by, what=_("accept a statement"))
    statement = _lock_statement(statement)
    _check_submitted(statement)
    problems = _opening_problems(statement, statement_ledger_figures(
        grant=statement.grant, partner=statement.partner, year=statement.year, quarter=statement.quarter))
    if problems:
        statement.problems = problems_placed(problems, statement_cells(statement))
        statement.save(update_fields=["problems"])
        return statement, statement.problems
    expenditures = list(statement.expenditures.all())
    for exp in expenditures:
        exp.status = ExpenditureStatus.VALIDATED
    bulk_update_with_history(expenditures, Expenditure, ["status"], batch_size=1000, default_user=by)
    statement.status = StatementStatus.ACCEPTED
    statement.reviewed_by = by
    statement.reviewed_at = timezone.now()
    statement.review_comment = comment
    statement.review_comments = []  # those of a former return: answered by this review
    statement.problems = []
    statement_seal(statement)  # the digest of the quarter as accepted, chained to the previous one
    statement.save()
    return statement, []


@transaction.atomic
def statement_return(*, statement: QuarterlyStatement, by=None, comment: str, comments=()) -> QuarterlyStatement:
    """Send a submitted statement back to the partner with a comment, and comments on single rows
    and balances (``[{"row": 3, "comment": ...}, {"field": "cash_on_hand", "comment": ...}]``, rows
    numbered from 1 as the partner counts them), kept with their row's or balance's cell
    (``review_comments``); its expenditures leave the ledger (their history keeps them) until it
    is submitted again. Raises ``ApplicationError`` listing every comment that names no row or
    balance of the statement (``unknown_row``, ``invalid``) or says nothing (``required``)."""
    lifecycle.require_finance(by, what=_("return a statement"))
    if not comment or not comment.strip():
        raise ApplicationError(_("Say why the statement is returned."), code=ErrorCode.REQUIRED, attr="comment")
    statement = _lock_statement(statement)
    _check_submitted(statement)
    notes = _review_comments(statement, comments)
    for exp in statement.expenditures.all():
        exp.delete()
    fx.after_partner_change(grant=statement.grant, partner=statement.partner)
    statement.status = StatementStatus.RETURNED
    statement.reviewed_by = by
    statement.reviewed_at = timezone.now()
    statement.review_comment = comment
    statement.review_comments = notes
    statement.save()
    return statement


COMMENTED_FIELDS = MONEY_FIELDS  # the balances finance may comment on


def _review_comments(statement: QuarterlyStatement, comments) -> list[dict]:
    """Finance's comments on rows and balances, checked all at once, each kept with its ``attr``
    and, for a statement read from a workbook, its ``cell``."""
    if not isinstance(comments, list | tuple):
        raise ApplicationError(_("A list of comments is expected."), code=ErrorCode.INVALID, attr="comments")
    problems, notes = [], []
    cells = statement_cells(statement) if comments else None
    count = len(statement.lines)
    for index, item in enumerate(comments):
        prefix = f"comments.{index}"
        if not isinstance(item, dict):
            problems.append(_problem(ErrorCode.INVALID, _("A comment names a row or a balance, and says something."),
                                     prefix))
            continue
        row, field, text = item.get("row"), item.get("field"), str(item.get("comment") or "").strip()
        found = len(problems)
        if (row is None) == (field is None):
            problems.append(_problem(ErrorCode.INVALID, _("A comment names either a row or a balance, not both."),
                                     prefix))
        elif row is not None and (isinstance(row, bool) or not isinstance(row, int) or not 1 <= row <= count):
            problems.append(_problem(ErrorCode.UNKNOWN_ROW,
                                     _("The statement has no row %(row)s: its rows are numbered 1 to %(count)s.")
                                     % {"row": row, "count": count}, f"{prefix}.row"))
        elif field is not None and field not in COMMENTED_FIELDS:
            problems.append(_problem(ErrorCode.INVALID, _("%(field)s is not a balance of the statement (%(fields)s).")
                                     % {"field": field, "fields": ", ".join(COMMENTED_FIELDS)}, f"{prefix}.field"))
        if not text:
            problems.append(_problem(ErrorCode.REQUIRED, _("The comment is empty."), f"{prefix}.comment"))
        if len(problems) > found:
            continue
        attr = f"expenditures.{row - 1}" if row is not None else field
        note = {"row": row, "comment": text} if row is not None else {"field": field, "comment": text}
        notes.append({**note, "attr": attr, **{k: v for k, v in problem_place(attr, cells).items() if k == "cell"}})
    _raise_all(problems)
    return notes


@transaction.atomic
def statement_reopen(*, statement: QuarterlyStatement, reason: str, by=None) -> QuarterlyStatement:
    """Reopen an accepted quarter (finance only), with a reason that stays on record
    (``StatementReopening``, with the digest the quarter had): the statement is ``submitted``
    again, so finance may correct the quarter's rows and accept it anew (a new digest). Only the
    partner's latest accepted quarter reopens: a later accepted one chains to it, so an earlier
    quarter is corrected by an adjustment instead (409 ``later_quarter_accepted``)."""
    lifecycle.require_finance(by, what=_("reopen a quarter"))
    if not reason or not str(reason).strip():
        raise ApplicationError(_("Say why the quarter is reopened."), code=ErrorCode.REQUIRED, attr="reason")
    statement = _lock_statement(statement)
    if statement.status != StatementStatus.ACCEPTED:
        raise Conflict(_("Only an accepted statement is reopened."),
                       code=ErrorCode.STATEMENT_NOT_ACCEPTED, attr="status")
    later = Q(year__gt=statement.year) | Q(year=statement.year, quarter__gt=statement.quarter)
    if QuarterlyStatement.objects.filter(later, grant=statement.grant, partner=statement.partner,
                                         status=StatementStatus.ACCEPTED).exists():
        raise Conflict(_("A later quarter of %(partner)s is accepted: correct %(period)s with an adjustment in an "
                         "open quarter.") % {"partner": statement.partner.code, "period": statement.period},
                       code=ErrorCode.LATER_QUARTER_ACCEPTED, attr="status")
    StatementReopening.objects.create(statement=statement, reason=str(reason).strip(), digest=statement.digest,
                                      reopened_by=by)
    statement.status = StatementStatus.SUBMITTED
    statement.save()
    return statement


# --- reads -----------------------------------------------------------------------------------------

def statement_total_spent(statement: QuarterlyStatement) -> Decimal:
    """What the statement says was spent, in its partner's currency (lines that parse)."""
    total = Decimal("0")
    for raw in statement.lines:
        try:
            amount = Decimal(raw.get("amount", ""))
        except (InvalidOperation, ValueError):
            continue
        if amount.is_finite() and raw.get("amount_currency") == statement.partner.reporting_currency:
            total += amount
    return total


def statements_overdue(*, as_of: date, grace_days: int = GRACE_DAYS, grants=None) -> list[dict]:
    """One row per partner and ended quarter of a grant with no submitted or accepted statement
    once the grace period has passed: ``{grant, partner, period, due_on, days_overdue}``.
    ``as_of`` is within ``grants.periods``' bounds (400 ``out_of_range`` otherwise)."""
    check_in_bounds(as_of, attr="as_of")
    # A quarter is overdue when its last day + grace_days falls before as_of: the quarters are
    # walked up to the last one that is due, never past it, so no day is computed beyond as_of
    # whatever the grant's end (a grant saved before the bounds may end on 9999-12-31).
    last_due_end = as_of - timedelta(days=grace_days + 1)
    grants = list(grants if grants is not None else Grant.objects.all())
    done = set(QuarterlyStatement.objects.filter(
        grant__in=grants, status__in=[StatementStatus.SUBMITTED, StatementStatus.ACCEPTED])
        .values_list("grant_id", "partner_id", "year", "quarter"))
    rows = []
    for grant in grants:
        partners = sorted(grant.partners.all(), key=lambda p: p.code)
        year, quarter = quarter_of(grant.start_date)
        while True:
            start, end = quarter_bounds(year, quarter)
            if start > grant.end_date or end > last_due_end:
                break
            due_on = end + timedelta(days=grace_days)
            for partner in partners:
                if (grant.pk, partner.pk, year, quarter) not in done:
                    rows.append({"grant": grant.code, "partner": partner.code, "period": f"{year}-Q{quarter}",
                                 "due_on": due_on, "days_overdue": (as_of - due_on).days})
            year, quarter = next_quarter(year, quarter)
    return rows


def statement_version_list(*, statement: QuarterlyStatement) -> list[StatementVersion]:
    """The contents the statement was sent with, oldest first (without their files and bodies)."""
    return list(statement.versions.select_related("sent_by").defer("file", "body", "cells").order_by("number"))


def statement_version_get(*, statement: QuarterlyStatement, number: int) -> StatementVersion | None:
    return statement.versions.select_related("sent_by").filter(number=number).first()
