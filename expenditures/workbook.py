"""The quarterly statement as a workbook: the template a partner fills, and the reading of it.

``statement_template`` writes (xlsxwriter) a workbook in French or English:

- the summary sheet ("Relevé" / "Statement"): grant, partner, period and currency; the opening
  balance and the funds received, filled from the ledger (``expenditures.selectors.
  statement_ledger_figures``, which the checks compare them with) and locked; formulas for the
  total spent, the closing balance (opening + received - spent), cash + bank and the difference,
  which should be 0; the cash on hand and bank balance to fill; an explanations area (budget
  line, explanation);
- the expenditures sheet ("Dépenses" / "Expenditures"): a header and ``ROWS`` empty rows (date,
  budget line, location, amount, currency, voucher, description) with drop-down lists of the lines
  allocated to the partner in the grant's current version and of its locations, a date validation
  inside the quarter, a whole-number validation of XOF amounts, the currency prefilled;
- two hidden sheets: ``lists`` (the drop-down values: an inline list is limited to 255
  characters) and ``keys`` (grant, partner, period, language, currency and the template version),
  which tell the reader what it reads.

``statement_from_workbook`` reads (openpyxl, values only) our template or a workbook in the same
layout saved by another tool, and returns the JSON body a client would POST to
/api/v1/statements/. Before openpyxl reads anything, ``expenditures.upload_limits`` bounds what the
file may make it read (its size, what it unpacks to, its shared strings, a cell's length). It
reads inputs only: formulas may carry no cached value (openpyxl and some tools save none), so no
computed cell's result is ever read; an input cell (the cash on hand...) holding a formula saved
without its result is a problem on its cell (``formula_without_value``), never 0. Dates are read as people type them
(``grants.periods.parse_day``: real dates, day-first or ISO text); amounts as the API reads them
(``grants.money.parse_amount``), each refused on its own cell. Every problem of the cells comes
at once, each with its cell (``"Dépenses!D14"``); ``expenditures.statements.statement_upload``
adds the business checks (balance, vouchers, lines...), and ``cell_of`` maps the ``attr`` of
their problems ("expenditures.12.amount") back to the cell.

``statement_problems_workbook`` hands the problems back in the partner's own workbook: each
problem's cell, and each row or balance finance commented on when returning the statement, is
filled and carries a comment.

Money: XOF amounts go into cells as ``int`` and EUR amounts as ``Decimal`` (xlsxwriter writes
the decimal text itself, ``{:.16G}``), so the file holds the exact ledger amount. openpyxl reads
every stored number with a point or an exponent as a float; ``str()`` of a float is the shortest
decimal that reads back as the same double, and every decimal of at most 15 significant digits
(DBL_DIG) survives the trip text -> double -> ``str()`` unchanged. An amount has at most 14 digits
(12 before the point and 2 cents, ``MONEY_DIGITS``), so ``Decimal(str(value))`` is exactly what
was typed, even when a tool stored it as "1234.5599999999999". (The bound often quoted, 2^53
cents, holds for a count of cents kept as an integer-valued double; euros with cents kept as a
double, which is what a cell holds, are exact through the trip up to 15 significant digits, that
is below 10^13 EUR.) That reading is the only place a float meets money here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import xlsxwriter
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple

from budget.models import Allocation, BudgetLine, BudgetVersion
from expenditures import lifecycle
from expenditures.fields import STATEMENT_FIELDS, Kind
from expenditures.models import QuarterlyStatement, StatementVersion
from expenditures.selectors import statement_ledger_figures
from expenditures.statements import (
    LINE_FIELDS,
    SIGNED_FIELDS,
    line_length_problems,
    period_parse,
    statement_check,
    statement_workbook_version,
)
from expenditures.upload_limits import workbook_check_limits
from grants.errors import ApplicationError, ErrorCode
from grants.i18n import Labels
from grants.models import Grant, Location, Partner
from grants.money import CURRENCIES, EUR, XOF, parse_amount
from grants.periods import parse_day, quarter_bounds

TEMPLATE_VERSION = "statement-1"
KEYS_SHEET = "keys"
LISTS_SHEET = "lists"
# The words of the template: gettext messages (grants.i18n), the French in locale/fr.
SHEETS = Labels({
    "summary": pgettext_lazy("statement sheet", "Statement"),
    "expenditures": pgettext_lazy("statement sheet", "Expenditures"),
})

# The expenditures sheet: a header in row 1, expenditures from row 2 (Excel's numbering).
HEADER_ROW = 1
FIRST_ROW = 2
ROWS = 500  # empty rows in the template
MAX_ROWS = 5000  # rows read: a partner may insert more; a statement of 2,000 lines is benched
COLUMNS = {name: get_column_letter(index) for index, name in enumerate(LINE_FIELDS, start=1)}  # date: A...
LAST_COLUMN = len(LINE_FIELDS)

# The summary sheet: labels in A, values in B, hints in C.
GRANT_CELL, PARTNER_CELL, PERIOD_CELL, CURRENCY_CELL = "B3", "B4", "B5", "B6"
INPUT_CELLS = {"opening_balance": "B8", "funds_received": "B9", "cash_on_hand": "B13", "bank_balance": "B14"}
SPENT_CELL, CLOSING_CELL, COUNTED_CELL, DIFFERENCE_CELL = "B10", "B11", "B15", "B16"
EXPLANATION_FIRST_ROW = 20  # code in A, explanation in B (merged over B:C)
EXPLANATION_ROWS = 30
EXPLANATION_LAST_ROW = EXPLANATION_FIRST_ROW + EXPLANATION_ROWS - 1

LABELS = Labels({
    "title": pgettext_lazy("statement template", "Quarterly financial statement"),
    "grant": pgettext_lazy("statement template", "Grant"),
    "partner": pgettext_lazy("statement template", "Partner"),
    "period": pgettext_lazy("statement template", "Period"),
    "currency": pgettext_lazy("statement template", "Currency"),
    "period_text": pgettext_lazy("statement template", "{period}: from {start} to {end}"),
    "opening": pgettext_lazy("statement template", "Opening balance"),
    "received": pgettext_lazy("statement template", "Funds received in the quarter"),
    "spent": pgettext_lazy("statement template", "Total spent"),
    "closing": pgettext_lazy("statement template", "Closing balance (opening + received - spent)"),
    "cash": pgettext_lazy("statement template", "Cash on hand"),
    "bank": pgettext_lazy("statement template", "Bank balance"),
    "counted": pgettext_lazy("statement template", "Cash + bank"),
    "difference": pgettext_lazy("statement template", "Difference (closing - cash - bank)"),
    "hint_opening": pgettext_lazy(
        "statement template",
        "From the ledger: the last accepted closing balance, plus funds received and less spending since.",
    ),
    "hint_received": pgettext_lazy("statement template", "From the ledger: transfers received in the quarter."),
    "hint_spent": pgettext_lazy("statement template", "Sum of the sheet {sheet}."),
    "hint_cash": pgettext_lazy("statement template", "To fill: cash counted on the last day of the quarter."),
    "hint_bank": pgettext_lazy("statement template", "To fill: bank statement balance on the last day of the quarter."),
    "hint_difference": pgettext_lazy("statement template", "Should be 0."),
    "explanations": pgettext_lazy("statement template", "Explanations for lines spent over their budget"),
    "line": pgettext_lazy("statement template", "Budget line"),
    "explanation": pgettext_lazy("statement template", "Explanation"),
    "date": pgettext_lazy("statement template", "Date"),
    "location": pgettext_lazy("statement template", "Location"),
    "amount": pgettext_lazy("statement template", "Amount"),
    "voucher": pgettext_lazy("statement template", "Voucher"),
    "description": pgettext_lazy("statement template", "Description"),
    "date_prompt": pgettext_lazy("statement template", "A date from {start} to {end}."),
    "line_prompt": pgettext_lazy("statement template", "A line allocated to {partner}."),
    "location_prompt": pgettext_lazy("statement template", "A location where {partner} works."),
    "amount_prompt_XOF": pgettext_lazy("statement template", "Whole francs (XOF has no cents)."),
    "amount_prompt_EUR": pgettext_lazy("statement template", "Euros, with cents."),
    "list_error": pgettext_lazy("statement template", "Choose a value from the list."),
    "date_error": pgettext_lazy("statement template", "The date must be inside {period}."),
    "amount_error": pgettext_lazy("statement template", "A positive amount is expected."),
    "currency_error": pgettext_lazy("statement template", "{partner} reports in {currency}."),
    "file": pgettext_lazy("statement template", "statement"),
})
DATE_FORMATS = {"en": "yyyy-mm-dd", "fr": "dd/mm/yyyy"}
MONEY_FORMATS = {XOF: '#,##0 "FCFA"', EUR: '#,##0.00 "EUR"'}

def _lang(lang: str | None) -> str:
    return "fr" if str(lang or "").lower().startswith("fr") else "en"


def _quoted(sheet: str) -> str:
    """A sheet name as a formula names it: quoted, since it may hold accents or spaces."""
    return "'" + sheet.replace("'", "''") + "'"


# --- the template ------------------------------------------------------------------------------

def allowed_lines(grant: Grant, partner: Partner) -> list[BudgetLine]:
    """The lines allocated to the partner in the grant's current version, in the budget's order."""
    current = BudgetVersion.objects.filter(grant=grant, is_current=True).first()
    if current is None:
        return []
    ids = Allocation.objects.filter(version=current, partner=partner).values("budget_line_id")
    return list(BudgetLine.objects.filter(pk__in=ids, parent__isnull=False).order_by("position", "code"))


def allowed_locations(partner: Partner) -> list[Location]:
    """The partner's locations; every location if it has none."""
    return list(partner.locations.order_by("code")) or list(Location.objects.order_by("code"))


def _cell_amount(amount: Decimal, currency: str) -> int | Decimal:
    """An amount as it goes into a cell: whole francs as an int; euros as a Decimal with 2
    decimals, which xlsxwriter writes as its exact decimal text."""
    if currency == XOF:
        return int(amount)  # XOF amounts are whole (a database constraint)
    return amount.quantize(Decimal("0.01"))


def statement_template(*, grant: Grant, partner: Partner, period: str, lang: str) -> tuple[bytes, str]:
    """The statement workbook of a partner for a quarter of a grant: (the .xlsx bytes, a file name)."""
    lang = _lang(lang)
    words, names = LABELS[lang], SHEETS[lang]
    year, quarter = period_parse(period)
    period = f"{year}-Q{quarter}"
    start, end = quarter_bounds(year, quarter)
    if end < grant.start_date or start > grant.end_date:
        raise ApplicationError(_("This quarter is outside the grant."), code=ErrorCode.DATE_OUTSIDE_GRANT,
                               attr="period")
    currency = partner.reporting_currency
    figures = statement_ledger_figures(grant=grant, partner=partner, year=year, quarter=quarter)
    opening, received = figures.opening_balance, figures.funds_received
    lines = allowed_lines(grant, partner)
    locations = allowed_locations(partner)
    date_text = {"en": lambda d: d.isoformat(), "fr": lambda d: d.strftime("%d/%m/%Y")}[lang]

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False})
    book.set_properties({"title": f"{words['title']} {grant.code} {partner.code} {period}",
                         "subject": TEMPLATE_VERSION})
    summary = book.add_worksheet(names["summary"])
    sheet = book.add_worksheet(names["expenditures"])
    lists = book.add_worksheet(LISTS_SHEET)
    keys = book.add_worksheet(KEYS_SHEET)

    money_format = MONEY_FORMATS[currency]
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    header = book.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                              "valign": "top"})
    hint = book.add_format({"italic": True, "font_color": "#595959"})
    ledger = book.add_format({"num_format": money_format, "bg_color": "#EDEDED", "border": 1})
    computed = book.add_format({"num_format": money_format, "bold": True, "border": 1})
    to_fill = book.add_format({"num_format": money_format, "bg_color": "#FFF2CC", "border": 1, "locked": False})
    text_to_fill = book.add_format({"num_format": "@", "bg_color": "#FFF2CC", "border": 1, "locked": False})
    wrap_to_fill = book.add_format({"num_format": "@", "bg_color": "#FFF2CC", "border": 1, "locked": False,
                                    "text_wrap": True, "valign": "top"})
    red = book.add_format({"bg_color": "#F8CBAD", "font_color": "#9C0006"})
    green = book.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})

    # Hidden lists behind the drop-downs: "code label", the reader keeps the code (first word).
    line_items = [f"{line.code} {line.label(lang)}" for line in lines]
    location_items = [f"{loc.code} {loc.name}" for loc in locations]
    for row, item in enumerate(line_items):
        lists.write_string(row, 0, item)
    for row, item in enumerate(location_items):
        lists.write_string(row, 1, item)
    lists.write_string(0, 2, currency)
    lists.hide()
    line_source = f"={LISTS_SHEET}!$A$1:$A${len(line_items)}" if line_items else None
    location_source = f"={LISTS_SHEET}!$B$1:$B${len(location_items)}" if location_items else None

    # Machine-readable keys.
    for row, (key, value) in enumerate([("template_version", TEMPLATE_VERSION), ("grant", grant.code),
                                        ("partner", partner.code), ("period", period), ("lang", lang),
                                        ("currency", currency)]):
        keys.write_string(row, 0, key)
        keys.write_string(row, 1, value)
    keys.hide()

    # The expenditures sheet.
    last_row = FIRST_ROW + ROWS - 1
    # The columns, their widths and headers: expenditures.fields (a money amount's header names
    # the statement's currency).
    num_formats = {Kind.DATE: DATE_FORMATS[lang], Kind.MONEY: money_format}
    formats = {}
    for index, field in enumerate(STATEMENT_FIELDS):
        formats[field.name] = book.add_format({"num_format": num_formats.get(field.kind, "@")})
        heading = words[field.statement.label]
        if field.kind is Kind.MONEY:
            heading = f"{heading} ({currency})"
        sheet.set_column(index, index, field.statement.width, formats[field.name])
        sheet.write_string(HEADER_ROW - 1, index, heading, header)
    for row in range(FIRST_ROW - 1, last_row):
        sheet.write_string(row, LINE_FIELDS.index("amount_currency"), currency, formats["amount_currency"])

    def rows_of(name: str) -> str:
        return f"{COLUMNS[name]}{FIRST_ROW}:{COLUMNS[name]}{last_row}"

    sheet.data_validation(rows_of("date"), {
        "validate": "date", "criteria": "between", "minimum": start, "maximum": end,
        "input_title": words["date"], "input_message": words["date_prompt"].format(start=date_text(start),
                                                                                   end=date_text(end)),
        "error_title": words["date"], "error_message": words["date_error"].format(period=period)})
    if line_source:
        sheet.data_validation(rows_of("budget_line"), {
            "validate": "list", "source": line_source, "input_title": words["line"][:32],
            "input_message": words["line_prompt"].format(partner=partner.code), "error_message": words["list_error"]})
    if location_source:
        sheet.data_validation(rows_of("location"), {
            "validate": "list", "source": location_source, "input_title": words["location"],
            "input_message": words["location_prompt"].format(partner=partner.code),
            "error_message": words["list_error"]})
    sheet.data_validation(rows_of("amount"), {
        "validate": "integer" if currency == XOF else "decimal", "criteria": ">", "value": 0,
        "input_title": words["amount"], "input_message": words[f"amount_prompt_{currency}"],
        "error_message": words["amount_error"]})
    sheet.data_validation(rows_of("amount_currency"), {
        "validate": "list", "source": f"={LISTS_SHEET}!$C$1:$C$1",
        "error_message": words["currency_error"].format(partner=partner.code, currency=currency)})
    sheet.freeze_panes(HEADER_ROW, 0)
    sheet.autofilter(HEADER_ROW - 1, 0, last_row - 1, LAST_COLUMN - 1)
    for page in (sheet, summary):
        page.set_landscape()
        page.set_paper(9)  # A4
        page.fit_to_pages(1, 0)
    sheet.repeat_rows(HEADER_ROW - 1)

    # The summary sheet.
    summary.set_column("A:A", 46)
    summary.set_column("B:B", 22)
    summary.set_column("C:C", 62)
    summary.write_string("A1", f"{words['title']}", title)
    for cell, label, value in ((GRANT_CELL, "grant", f"{grant.code}: {grant.title}"),
                               (PARTNER_CELL, "partner", f"{partner.code}: {partner.name}"),
                               (PERIOD_CELL, "period", words["period_text"].format(
                                   period=period, start=date_text(start), end=date_text(end))),
                               (CURRENCY_CELL, "currency", currency)):
        summary.write_string(f"A{cell[1:]}", words[label], bold)
        summary.write_string(cell, value)
    spent_formula = (f"=SUMIF({_quoted(names['expenditures'])}!${COLUMNS['amount_currency']}${FIRST_ROW}:"
                     f"${COLUMNS['amount_currency']}${last_row},\"{currency}\","
                     f"{_quoted(names['expenditures'])}!${COLUMNS['amount']}${FIRST_ROW}:"
                     f"${COLUMNS['amount']}${last_row})")
    closing = opening + received
    rows = [
        (INPUT_CELLS["opening_balance"], "opening", ledger, _cell_amount(opening, currency), "hint_opening"),
        (INPUT_CELLS["funds_received"], "received", ledger, _cell_amount(received, currency), "hint_received"),
        (SPENT_CELL, "spent", computed, (spent_formula, 0), "hint_spent"),
        (CLOSING_CELL, "closing", computed,
         (f"={INPUT_CELLS['opening_balance']}+{INPUT_CELLS['funds_received']}-{SPENT_CELL}",
          _cell_amount(closing, currency)), None),
        (INPUT_CELLS["cash_on_hand"], "cash", to_fill, None, "hint_cash"),
        (INPUT_CELLS["bank_balance"], "bank", to_fill, None, "hint_bank"),
        (COUNTED_CELL, "counted", computed,
         (f"={INPUT_CELLS['cash_on_hand']}+{INPUT_CELLS['bank_balance']}", 0), None),
        (DIFFERENCE_CELL, "difference", computed, (f"={CLOSING_CELL}-{COUNTED_CELL}", _cell_amount(closing, currency)),
         "hint_difference"),
    ]
    for cell, label, cell_format, value, hint_key in rows:
        row = cell[1:]
        summary.write_string(f"A{row}", words[label], bold)
        if value is None:
            summary.write_blank(cell, None, cell_format)
        elif isinstance(value, tuple):
            summary.write_formula(cell, value[0], cell_format, value[1])
        else:
            summary.write_number(cell, value, cell_format)
        if hint_key:
            summary.write_string(f"C{row}", words[hint_key].format(sheet=names["expenditures"]), hint)
    summary.conditional_format(DIFFERENCE_CELL, {"type": "cell", "criteria": "!=", "value": 0, "format": red})
    summary.conditional_format(DIFFERENCE_CELL, {"type": "cell", "criteria": "==", "value": 0, "format": green})
    summary.write_string(EXPLANATION_FIRST_ROW - 3, 0, words["explanations"], bold)
    summary.write_string(EXPLANATION_FIRST_ROW - 2, 0, words["line"], header)
    summary.merge_range(EXPLANATION_FIRST_ROW - 2, 1, EXPLANATION_FIRST_ROW - 2, 2, words["explanation"], header)
    for row in range(EXPLANATION_FIRST_ROW - 1, EXPLANATION_LAST_ROW):
        summary.write_blank(row, 0, None, text_to_fill)
        summary.merge_range(row, 1, row, 2, "", wrap_to_fill)
    if line_source:
        summary.data_validation(f"A{EXPLANATION_FIRST_ROW}:A{EXPLANATION_LAST_ROW}", {
            "validate": "list", "source": line_source, "error_message": words["list_error"]})
    # Formulas and ledger amounts are locked; the cells to fill are not. No password: a guard
    # against slips, not a security measure (the checks at submission are).
    summary.protect("", {"format_columns": True, "format_rows": True})
    summary.activate()

    book.close()
    filename = f"{grant.code}_{partner.code}_{period}_{words['file']}.xlsx"
    return buffer.getvalue(), filename


# --- reading a workbook ------------------------------------------------------------------------

class WorkbookStatement(dict):
    """The JSON body of a statement read from a workbook (a plain dict for every use), with the
    workbook's language and the cell each ``attr`` came from (``cells["expenditures.0.amount"]``
    is ``"Dépenses!D2"``), so that later problems can name the cell even when rows were skipped."""

    def __init__(self, *args, lang: str = "en", cells: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lang = lang
        self.cells = cells or {}


NUMBER_TEXT = re.compile(r"^[+-]?\d+(\.\d+)?$")
SPACES = re.compile(r"[\s\u00a0\u202f]+")


def decimal_text(value) -> str:
    """An exact decimal string for a number cell, or a numeric text. Raises ValueError otherwise.

    An int is exact. A float is what openpyxl makes of any stored number with a point or an
    exponent: ``str()`` gives its shortest repr, which is the decimal the user typed (see the
    module's docstring); 125000.0 becomes "125000" and no exponent is ever written."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(str(value)) from exc
        if not number.is_finite():
            raise ValueError(str(value))
        if number == number.to_integral_value():
            return str(int(number))
        return format(number, "f")
    if isinstance(value, str):
        text = SPACES.sub("", value)  # "125 000" as a French user may type it in a text cell
        if NUMBER_TEXT.match(text):
            return text
    raise ValueError(repr(value))


def _text(value) -> str:
    """A text cell; a number (a voucher typed as 1234) as its exact decimal text."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def _code(value) -> str:
    """A budget line or location cell: the code, the first word of "2.1 Shelter and care". The
    template formats these columns as text; a tool that stored a typed 2.1 as a number gives
    "2.1" back (but "1.10" would come back as "1.1": the checks at submission name the cell)."""
    text = _text(value)
    return text.split()[0] if text else ""


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Problems:
    items: list

    def add(self, code: ErrorCode, detail: str, attr: str, *, row: int | None = None) -> None:
        """A problem at ``attr``, a cell ("Dépenses!D5") or "file"; ``row``: the expenditure's
        line number in the statement (1-based), when it concerns one."""
        problem = {"code": str(code), "detail": str(detail), "attr": attr}
        if "!" in attr:
            problem["cell"] = attr
        if row is not None:
            problem["row"] = row
        self.items.append(problem)

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise ApplicationError(first["detail"], code=first["code"], attr=first["attr"], errors=self.items)


def _rows(worksheet, **bounds) -> Iterator[tuple]:
    """The rows of a sheet (``iter_rows``' bounds). openpyxl parses a sheet as its rows are read:
    a damaged one (a cell naming a shared string past the end of the table, a number that is no
    number) is not a workbook, not a server error. ``reset_dimensions``: another tool may write a
    wrong <dimension>, which would cut rows."""
    worksheet.reset_dimensions()
    try:
        yield from worksheet.iter_rows(**bounds)
    except Exception as exc:  # raised inside openpyxl's parser, never by the caller's loop
        raise ApplicationError(_("This file is not an Excel workbook (.xlsx)."), code=ErrorCode.NOT_A_WORKBOOK,
                               attr="file") from exc


def _grid(worksheet, max_row: int, max_col: int) -> dict[tuple[int, int], object]:
    """The non-empty values of a sheet up to (max_row, max_col), by (row, column), 1-based."""
    values = {}
    for row in _rows(worksheet, min_row=1, max_row=max_row, max_col=max_col):
        for cell in row:
            value = getattr(cell, "value", None)
            if value is not None and getattr(cell, "row", None) is not None:
                values[(cell.row, cell.column)] = value
    return values


def _sheet(book, key: str, lang: str, problems: _Problems):
    for candidate in (lang, *(other for other in SHEETS if other != lang)):
        name = SHEETS[candidate][key]
        if name in book.sheetnames:
            return book[name], name
    problems.add(ErrorCode.NOT_A_TEMPLATE, _("The sheet %(sheet)s is missing: download the template again.") % {
        "sheet": SHEETS[lang][key]}, "file")
    return None, SHEETS[lang][key]


def statement_from_workbook(file, *, problems: list | None = None, lang: str | None = None) -> WorkbookStatement:
    """The statement body a client would POST, read from a filled template (or a workbook in its
    layout). What keeps the file from being read as a template (not a workbook, not our template,
    another version, a sheet or key missing) is raised at once. The problems of its cells, each
    with its cell as ``attr`` and ``cell`` (and ``row``, the line number, for an expenditure), are
    raised together as one ``ApplicationError``; or, given a ``problems`` list, added to it, and the
    body returned with what could be read (a refused amount left out of the closing balance).

    Messages are in ``lang``; without one, in the workbook's own language (its ``lang`` key).
    Before openpyxl reads anything, the limits of ``expenditures.upload_limits`` (``PayloadTooLarge``,
    413, for a file too large; ``ApplicationError`` on ``file`` for an archive that unpacks too much)."""
    workbook_check_limits(file)
    book = _open(file, data_only=True)
    try:
        return _read(book, problems=problems, lang=lang,
                     formulas_in=lambda sheet, cells: _formula_cells(file, sheet, cells))
    finally:
        book.close()


def _open(file, *, data_only: bool):
    try:
        if hasattr(file, "seek"):
            file.seek(0)
        return load_workbook(file, read_only=True, data_only=data_only)
    except Exception as exc:  # a damaged or foreign file fails in many ways inside openpyxl
        raise ApplicationError(_("This file is not an Excel workbook (.xlsx)."), code=ErrorCode.NOT_A_WORKBOOK,
                               attr="file") from exc


def _formula_cells(file, sheet_name: str, cells: list[str]) -> set[str]:
    """Which of ``cells`` ("B13") of the sheet hold a formula. Read for its values only, a formula
    saved without its result (openpyxl and some tools save none) looks like an empty cell: the
    workbook is opened once more, with formulas, for these few cells."""
    book = _open(file, data_only=False)
    try:
        wanted = {coordinate_to_tuple(cell): cell for cell in cells}
        found = set()
        for row in _rows(book[sheet_name], min_row=min(r for r, _ in wanted), max_row=max(r for r, _ in wanted),
                         max_col=max(c for _, c in wanted)):
            for cell in row:
                where = (getattr(cell, "row", None), getattr(cell, "column", None))
                if where in wanted and getattr(cell, "data_type", None) == "f":
                    found.add(wanted[where])
        return found
    finally:
        book.close()


def _read_keys(book, problems: _Problems) -> dict[str, str]:
    if KEYS_SHEET not in book.sheetnames:
        problems.add(ErrorCode.NOT_A_TEMPLATE,
                     _("This workbook is not a statement template (its hidden sheet %(sheet)s is missing): "
                       "download the template again.") % {"sheet": KEYS_SHEET}, "file")
        problems.raise_if_any()
    grid = _grid(book[KEYS_SHEET], 50, 2)
    keys, rows = {}, {}
    for (row, column), value in sorted(grid.items()):
        if column == 1 and not _empty(value):
            keys[_text(value)] = _text(grid.get((row, 2)))
            rows[_text(value)] = row
    version = keys.get("template_version")
    if version != TEMPLATE_VERSION:
        problems.add(ErrorCode.TEMPLATE_VERSION,
                     _("This workbook was made from template %(found)s; the ledger reads %(expected)s: download "
                       "the template again.") % {"found": version or "?", "expected": TEMPLATE_VERSION},
                     f"{KEYS_SHEET}!B{rows.get('template_version', 1)}")
        problems.raise_if_any()
    for key in ("grant", "partner", "period", "currency"):
        if not keys.get(key):
            problems.add(ErrorCode.NOT_A_TEMPLATE, _("The key %(key)s is missing: download the template again.") % {
                "key": key}, f"{KEYS_SHEET}!A1")
    if keys.get("period"):
        # The quarter the rest of the reading and the checks stand on: a calendar quarter within
        # grants.periods' bounds, else its own problem at its cell (a year 0 would fail later).
        try:
            period_parse(keys["period"])
        except ApplicationError as exc:
            problems.add(exc.code, exc.message, f"{KEYS_SHEET}!B{rows['period']}")
    return keys


def _read(book, *, problems: list | None, lang: str | None,
          formulas_in=lambda sheet, cells: set()) -> WorkbookStatement:
    found = _Problems([])
    keys = _read_keys(book, found)
    with translation.override(lang or _lang(keys.get("lang"))):
        body = _read_cells(book, keys, found, formulas_in)
        if problems is None:
            found.raise_if_any()
        else:
            problems.extend(found.items)
    return body


def _read_cells(book, keys: dict[str, str], problems: _Problems, formulas_in) -> WorkbookStatement:
    lang = _lang(keys.get("lang"))
    summary, summary_name = _sheet(book, "summary", lang, problems)
    expenditures, expenditures_name = _sheet(book, "expenditures", lang, problems)
    problems.raise_if_any()  # no sheet, no key: nothing more can be read
    if summary_name != SHEETS[lang]["summary"]:  # keys in one language, sheets named in the other
        lang = next(code for code in SHEETS if SHEETS[code]["summary"] == summary_name)
    currency = keys["currency"]
    cells: dict[str, str] = {"grant": f"{summary_name}!{GRANT_CELL}", "partner": f"{summary_name}!{PARTNER_CELL}",
                             "period": f"{summary_name}!{PERIOD_CELL}",
                             # where a problem of the whole list, or of a missing explanation, is shown
                             "expenditures": f"{expenditures_name}!A{FIRST_ROW}",
                             "explanations": f"{summary_name}!A{EXPLANATION_FIRST_ROW}"}
    body = WorkbookStatement({"grant": keys["grant"], "partner": keys["partner"], "period": keys["period"]},
                             lang=lang, cells=cells)

    # Header amounts: inputs only, each read as the API reads an amount (grants.money.parse_amount).
    # An empty cell is 0; a formula saved without its result is a problem on its cell, never 0.
    head = _grid(summary, EXPLANATION_LAST_ROW, 3)
    amounts: dict[str, Decimal] = {}
    blank = [cell for cell in INPUT_CELLS.values() if head.get(coordinate_to_tuple(cell)) is None]
    formulas = formulas_in(summary_name, blank) if blank else set()
    for name, cell in INPUT_CELLS.items():
        where = cells[name] = cells[f"{name}_currency"] = f"{summary_name}!{cell}"
        value = head.get(coordinate_to_tuple(cell))
        if cell in formulas:
            problems.add(ErrorCode.FORMULA_WITHOUT_VALUE,
                         _("This cell holds a formula saved without its result: type the amount, or open the file "
                           "in Excel or LibreOffice and save it again."), where)
            continue
        amount = _amount(problems, "0" if _empty(value) else value, currency, where, allow_zero=True,
                         signed=name in SIGNED_FIELDS)
        if amount is not None:
            amounts[name] = amount
            body[name], body[f"{name}_currency"] = decimal_text(value) if not _empty(value) else "0", currency

    # Expenditure rows: every row with something typed in it (the prefilled currency aside).
    grid = _grid(expenditures, FIRST_ROW + MAX_ROWS, LAST_COLUMN)
    lines, spent = [], Decimal("0")
    typed_rows = sorted({row for (row, column), value in grid.items()
                         if row >= FIRST_ROW and column != LINE_FIELDS.index("amount_currency") + 1
                         and not _empty(value)})
    if typed_rows and typed_rows[-1] >= FIRST_ROW + MAX_ROWS:
        problems.add(ErrorCode.TOO_MANY_ROWS, _("A statement holds at most %(count)s expenditures.") % {
            "count": MAX_ROWS}, f"{expenditures_name}!A{FIRST_ROW + MAX_ROWS}")
        typed_rows = [row for row in typed_rows if row < FIRST_ROW + MAX_ROWS]
    for row in typed_rows:
        index = len(lines)
        where = {name: f"{expenditures_name}!{COLUMNS[name]}{row}" for name in LINE_FIELDS}
        cells[f"expenditures.{index}"] = where["date"]
        for name in LINE_FIELDS:
            cells[f"expenditures.{index}.{name}"] = where[name]
        raw = {name: grid.get((row, column)) for column, name in enumerate(LINE_FIELDS, start=1)}
        line = {name: "" for name in LINE_FIELDS}
        for name in ("date", "budget_line", "location", "amount", "amount_currency"):
            if _empty(raw[name]):
                problems.add(ErrorCode.REQUIRED, _("This cell is required in a row with an expenditure."),
                             where[name], row=index + 1)
        if not _empty(raw["date"]):
            try:
                line["date"] = parse_day(raw["date"]).isoformat()
            except ValueError:
                line["date"] = _text(raw["date"])
                problems.add(ErrorCode.INVALID, _("%(value)s is not a date: type the day first, such as 15/02/2018 "
                                                  "(or 2018-02-15).") % {"value": _text(raw["date"])},
                             where["date"], row=index + 1)
        line["budget_line"] = _code(raw["budget_line"])
        line["location"] = _code(raw["location"])
        line["amount_currency"] = _text(raw["amount_currency"]).upper()
        if not _empty(raw["amount"]):
            line["amount"] = _text(raw["amount"])
            # A currency that is neither XOF nor EUR is the checks' problem, on its own cell: the
            # amount is then read in the statement's currency.
            amount = _amount(problems, raw["amount"], line["amount_currency"] if line["amount_currency"] in CURRENCIES
                             else currency, where["amount"], allow_zero=False, row=index + 1)
            if amount is not None:
                line["amount"] = decimal_text(raw["amount"])
                if line["amount_currency"] == currency:
                    spent += amount
        line["voucher"] = _text(raw["voucher"])
        line["description"] = _text(raw["description"])
        lines.append(line)
    body["expenditures"] = lines
    for problem in line_length_problems(lines):
        problems.add(problem["code"], problem["detail"], cells[problem["attr"]],
                     row=int(problem["attr"].split(".")[1]) + 1)

    # Explanations: a line code in A, its explanation in B.
    explanations: dict[str, str] = {}
    for row in range(EXPLANATION_FIRST_ROW, EXPLANATION_LAST_ROW + 1):
        code, text = _code(head.get((row, 1))), _text(head.get((row, 2)))
        if not code and not text:
            continue
        if not code:
            problems.add(ErrorCode.REQUIRED, _("Give the budget line this explanation is for."),
                         f"{summary_name}!A{row}")
            continue
        explanations[code] = f"{explanations[code]}\n{text}" if explanations.get(code) else text
        cells.setdefault(f"explanations.{code}", f"{summary_name}!B{row}")
    body["explanations"] = explanations

    # The closing balance is the template's formula, opening + received - spent, taken here in
    # exact decimals from the inputs just read: the cell's cached result is never read (a tool may
    # save none). An amount the ledger refuses is its own problem, on its own cell, and is left
    # out here. The checks at submission then compare it with cash + bank.
    closing = amounts.get("opening_balance", Decimal("0")) + amounts.get("funds_received", Decimal("0")) - spent
    body["closing_balance"], body["closing_balance_currency"] = decimal_text(closing), currency
    cells["closing_balance"] = cells["closing_balance_currency"] = f"{summary_name}!{CLOSING_CELL}"
    return body


def _amount(problems: _Problems, value, currency: str, where: str, *, allow_zero: bool, signed: bool = False,
            row: int | None = None) -> Decimal | None:
    """An amount cell read as the API reads an amount (``grants.money.parse_amount``): None, with
    the problem added at its cell, for one that is no number or that the ledger refuses (an XOF
    fraction, a negative amount unless ``signed``: an opening balance from the ledger may be)."""
    try:
        text = decimal_text(value)
        if signed and text.startswith("-"):
            return -parse_amount(text[1:], currency, allow_zero=allow_zero)
        return parse_amount(text, currency, allow_zero=allow_zero)
    except ValueError:
        problems.add(ErrorCode.INVALID, _("An amount such as 125000 is expected."), where, row=row)
    except DjangoValidationError as exc:
        problems.add(exc.code, exc.messages[0], where, row=row)
    return None


# --- problems, back to cells -------------------------------------------------------------------

def cell_of(attr: str | None, lang: str = "en", cells: dict[str, str] | None = None) -> str | None:
    """The template cell an API ``attr`` concerns: "expenditures.12.amount" -> "Dépenses!D14" in
    French. ``cells`` (``WorkbookStatement.cells``) gives the exact cell of what was read, rows
    skipped included; without it, expenditure i is taken to be on row FIRST_ROW + i. None for an
    attr with no cell."""
    if not attr:
        return None
    parts = attr.split(".")
    if cells and attr in cells:
        return cells[attr]
    if cells and parts[0] in ("expenditures", "explanations") and parts[0] in cells:
        return cells[parts[0]]  # a row or an explanation the workbook did not have: its area
    names = SHEETS[_lang(lang)]
    summary, expenditures = names["summary"], names["expenditures"]
    if parts[0] == "expenditures":
        if len(parts) == 1 or not parts[1].isdigit():
            return f"{expenditures}!A{FIRST_ROW}"
        row = FIRST_ROW + int(parts[1])
        column = COLUMNS.get(parts[2], "A") if len(parts) > 2 else "A"
        return f"{expenditures}!{column}{row}"
    if parts[0] == "explanations":
        return f"{summary}!A{EXPLANATION_FIRST_ROW}"
    name = attr.removesuffix("_currency")
    if name in INPUT_CELLS:
        return f"{summary}!{INPUT_CELLS[name]}"
    fixed = {"closing_balance": CLOSING_CELL, "grant": GRANT_CELL, "partner": PARTNER_CELL, "period": PERIOD_CELL}
    if name in fixed:
        return f"{summary}!{fixed[name]}"
    return None


# --- problems, handed back in the workbook -----------------------------------------------------

PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")  # Excel's "bad" red
REVIEW_FILL = PatternFill("solid", fgColor="FCE4D6")  # a light orange: finance's remark, not a check
COMMENT_AUTHOR = "Grant ledger"


def statement_problems_workbook(*, statement: QuarterlyStatement, lang: str | None = None) -> tuple[bytes, str]:
    """The partner's own workbook with its problems where they are: (the .xlsx bytes, a file name).

    The workbook is the last one uploaded for the statement (while no change through the API came
    after it), else the template regenerated and filled with the statement's content. Each
    problem's cell is filled red and carries a comment saying it; each row and balance finance
    commented on when it returned the statement is filled orange, the comment on the row's date
    cell or on the balance. The problems are those submission would find now for a draft or
    returned statement, else those kept on it (a refused acceptance). In ``lang``, else the
    uploaded workbook's own language, else the active one."""
    version = statement_workbook_version(statement)
    if version is not None:
        lang = _lang(lang or version.lang)
        content = StatementVersion.objects.values_list("file", flat=True).get(pk=version.pk)
        book = load_workbook(io.BytesIO(bytes(content)))
        cells = version.cells
    else:
        lang = _lang(lang or translation.get_language())
        content, _name = statement_template(grant=statement.grant, partner=statement.partner,
                                            period=statement.period, lang=lang)
        book = load_workbook(io.BytesIO(content))
        cells = _fill_template(book, statement, lang)
    with translation.override(lang):
        problems = (statement_check(statement)[0] if lifecycle.statement_is_editable(statement)
                    else list(statement.problems))
        marks: dict[str, tuple[PatternFill, list[str]]] = {}

        def mark(cell: str | None, fill: PatternFill, text: str | None = None) -> None:
            cell = cell or f"{SHEETS[lang]['summary']}!A1"  # a problem of no cell: on the title
            current_fill, texts = marks.get(cell, (fill, []))
            marks[cell] = (PROBLEM_FILL if PROBLEM_FILL in (current_fill, fill) else fill,
                           texts + ([text] if text else []))

        for problem in problems:
            mark(cell_of(problem.get("attr"), lang, cells), PROBLEM_FILL, str(problem.get("detail", "")))
        for note in statement.review_comments:
            text = _("Finance: %(comment)s") % {"comment": note.get("comment", "")}
            if note.get("row"):
                index = int(note["row"]) - 1
                mark(cell_of(f"expenditures.{index}.date", lang, cells), REVIEW_FILL, text)
                for name in LINE_FIELDS[1:]:
                    mark(cell_of(f"expenditures.{index}.{name}", lang, cells), REVIEW_FILL)
            else:
                mark(cell_of(note.get("field"), lang, cells), REVIEW_FILL, text)
        file_word = pgettext("statement template", "problems")
    for where, (fill, texts) in marks.items():
        sheet_name, coordinate = where.rsplit("!", 1)
        if sheet_name not in book.sheetnames:
            continue
        cell = book[sheet_name][coordinate]
        cell.fill = fill
        if texts:
            cell.comment = Comment("\n".join(texts), COMMENT_AUTHOR, height=160, width=320)
    out = io.BytesIO()
    book.save(out)
    words = LABELS[lang]
    return out.getvalue(), f"{statement.grant.code}_{statement.partner.code}_{statement.period}_{words['file']}_" \
                           f"{file_word}.xlsx"


def _fill_template(book, statement: QuarterlyStatement, lang: str) -> dict[str, str]:
    """A regenerated template filled with a statement's content, as the partner would have typed
    it; answers the cells of its explanations (the rest is the template's layout, ``cell_of``)."""
    names = SHEETS[lang]
    summary, sheet = book[names["summary"]], book[names["expenditures"]]
    currency = statement.partner.reporting_currency
    for name, cell in INPUT_CELLS.items():
        money = getattr(statement, name)
        summary[cell] = _cell_amount(money.amount, str(money.currency))
    for index, line in enumerate(statement.lines):
        for name in LINE_FIELDS:
            sheet[f"{COLUMNS[name]}{FIRST_ROW + index}"] = _as_typed(name, line.get(name, ""), currency)
    cells = {}
    for offset, (code, text) in enumerate(list(statement.explanations.items())[:EXPLANATION_ROWS]):
        row = EXPLANATION_FIRST_ROW + offset
        summary[f"A{row}"], summary[f"B{row}"] = code, text
        cells[f"explanations.{code}"] = f"{names['summary']}!B{row}"
    return cells


def _as_typed(name: str, value: str, currency: str):
    """A line's value as a partner types it in the template: a date as a date, an amount as a
    number (whole francs as an int); anything the ledger cannot read, as the text it is."""
    if not value:
        return None
    if name == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    if name == "amount":
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return value
        if amount.is_finite():
            return int(amount) if currency == XOF and amount == amount.to_integral_value() else amount
    return value
