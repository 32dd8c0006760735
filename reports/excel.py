"""The donor's workbook: the variance, burn-rate and beneficiary reports laid out with xlsxwriter.

``workbook_content`` runs the report functions once (variance, burn rate, cost per beneficiary,
the FX reconciliation, the detail, the digests) and ``workbook_write`` lays their rows out. The
writer adds no figure of its own to the reports': it writes their values, and the formulas that
restate them in the sheet (row variances and percentages, SUBTOTAL subtotals and totals, the burn
rate's running sums) carry the report's value as their cached result. What it does compute is
the layout's own: a percentage as a ratio (the report's percentage / 100, and the revision sheet's
change / original), a date as its serial day number, and the expenditure detail's EUR total,
summed in Decimal over the rows as they stream (the detail is not a report with a total).
What the workbook promises:

- sheets: summary (key figures, budget against actual by heading, the burn-rate chart), by
  heading and line, by partner, by location, by quarter, burn rate, FX reconciliation,
  expenditure detail (with an autofilter), about (grant, donors, version, as-of date, method,
  generated at, the definition of each column); names, labels, month names and number formats
  in French or English;
- figures are numbers with currency formats; row variances, subtotals and totals are formulas
  that carry the report's computed value (``write_formula(..., value=...)``), so a reader that
  does not recalculate shows the same figures as the JSON report; percentages are percentage
  cells holding the 2-decimal percentage / 100;
- rows beyond tolerance are coloured by conditional formats on the flag column; flags, statuses
  and the version's state are words of the workbook's language; headers wrap, and rows whose
  labels wrap are made tall enough for them (an estimate from the text's length: xlsxwriter does
  not measure text); headers are frozen and repeated on each printed page; A4 landscape, fit to
  one page wide, no printed gridlines; the summary prints on one page (its tables on the left, the
  charts on the right, sized so that the fit keeps the text at about 8 points or more);
- the expenditure detail continues on further sheets ("Expenditure detail (2)", ...) past
  ``DETAIL_SHEET_ROWS`` (Excel's sheet), each sheet with the total of its rows and the last one
  with the total of them all, so nothing is cut and the totals foot;
- the workbook is written in ``constant_memory`` mode, every sheet row by row in order, so the
  expenditure detail streams from the database in chunks and memory stays flat in its length;
  its rows go to the sheet's XML directly (``_DirectRowWorksheet``), the same file, faster.

Amounts go into cells as ``Decimal`` (xlsxwriter writes them with 16 significant digits, more
than any amount here has); no float is made from money on the way.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO

import xlsxwriter
from django.utils import timezone
from django.utils.translation import pgettext_lazy
from xlsxwriter.format import Format
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from budget.models import BudgetVersion, VersionStatus
from expenditures.audit import accepted_digests
from expenditures.fields import WORKBOOK_COLUMNS, Cell, workbook_sources
from expenditures.models import COUNTED_STATUSES
from expenditures.reconciliation import reconciliation_for
from grants.i18n import Labels
from grants.models import Grant, Partner
from grants.money import CENT
from reports.beneficiaries import cost_per_beneficiary
from reports.burn_rate import burn_rate
from reports.labels import month_name, word
from reports.selectors import ReportInputs, counted_expenditures, expenditure_detail, report_inputs
from reports.variance import variance

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HUNDRED = Decimal("100")
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's 1900 date system, as xlsxwriter counts it
# The rows of an Excel sheet. The detail's rows past a sheet's (less its header and its total
# rows) continue on another sheet; tests lower it to see that happen.
DETAIL_SHEET_ROWS = 1_048_576
DETAIL_FOOTER_ROWS = 3  # a blank row, the sheet's total, the total of every detail sheet
PROGRESS_ROWS = 5000  # a job's progress is told every so many detail rows
LINE_HEIGHT = 15  # points: a line of 11-point text, the workbook's default font
# Column widths (characters). The summary's tables share its columns: figure labels and headings
# in A, figures in B-E; F is a gap before the charts.
VARIANCE_WIDTHS = (10, 48, 16, 16, 16, 16, 13, 13, 16, 18)
SUMMARY_WIDTHS = (34, 15, 15, 12, 15, 2)
SUMMARY_CHART_SIZE = {"width": 440, "height": 300}

# Sheet names: at most 31 characters in either language.
SHEETS = Labels({
    "summary": pgettext_lazy("workbook sheet", "Summary"),
    "heading_line": pgettext_lazy("workbook sheet", "By heading and line"),
    "partner": pgettext_lazy("workbook sheet", "By partner"),
    "location": pgettext_lazy("workbook sheet", "By location"),
    "quarter": pgettext_lazy("workbook sheet", "By quarter"),
    "burn": pgettext_lazy("workbook sheet", "Burn rate"),
    "fx": pgettext_lazy("workbook sheet", "FX reconciliation"),
    "detail": pgettext_lazy("workbook sheet", "Expenditure detail"),
    "about": pgettext_lazy("workbook sheet", "About"),
    "revision": pgettext_lazy("workbook sheet", "Original - revised"),
    "digests": pgettext_lazy("workbook sheet", "Digests"),
})

# Number format codes are stored in the file in Excel's invariant (en-US) notation; Excel and
# LibreOffice show them with the reader's separators, so "#,##0.00 €" reads "1 234,56 €" in a
# French office suite. What the language chooses here is the symbol's side and the date order.
FORMATS = {
    "en": {"eur": "[$€-809]#,##0.00;-[$€-809]#,##0.00", "xof": '#,##0 "FCFA";-#,##0 "FCFA"',
           "date": "dd mmm yyyy", "pct": "0.00%", "rate": "0.000000", "count": "#,##0",
           "months": "0.00"},
    "fr": {"eur": "#,##0.00 [$€-40C];-#,##0.00 [$€-40C]", "xof": '#,##0 "FCFA";-#,##0 "FCFA"',
           "date": "dd/mm/yyyy", "pct": "0.00%", "rate": "0.000000", "count": "#,##0",
           "months": "0.00"},
}

VARIANCE_COLUMNS = ("key", "label", "budget", "planned_to_date", "actual", "variance", "variance_pct",
                    "use_pct", "variance_to_date", "flag")

TEXT = Labels({
    "key": pgettext_lazy("workbook", "Code"),
    "label": pgettext_lazy("workbook", "Label"),
    "budget": pgettext_lazy("workbook", "Budget"),
    "planned_to_date": pgettext_lazy("workbook", "Planned to date"),
    "actual": pgettext_lazy("workbook", "Actual"),
    "variance": pgettext_lazy("workbook", "Variance"),
    "variance_pct": pgettext_lazy("workbook", "Variance %"),
    "use_pct": pgettext_lazy("workbook", "Use %"),
    "variance_to_date": pgettext_lazy("workbook", "Variance to date"),
    "flag": pgettext_lazy("workbook", "Flag"),
    # The variance flag "ok" as the donor reads it (over and under are the reports' words).
    "flag.ok": pgettext_lazy("workbook flag", "within tolerance"),
    "title.summary": pgettext_lazy("workbook", "Budget monitoring"),
    "title.heading_line": pgettext_lazy("workbook", "Variance by heading and line"),
    "title.partner": pgettext_lazy("workbook", "Variance by partner"),
    "title.location": pgettext_lazy("workbook", "Variance by location"),
    "title.quarter": pgettext_lazy("workbook", "Variance by quarter"),
    "title.burn": pgettext_lazy("workbook", "Burn rate"),
    "title.fx": pgettext_lazy("workbook", "FX reconciliation"),
    "title.detail": pgettext_lazy("workbook", "Expenditure detail"),
    "title.about": pgettext_lazy("workbook", "About this workbook"),
    "title.revision": pgettext_lazy("workbook", "Original and revised budget"),
    "original": pgettext_lazy("workbook", "Original (version {number})"),
    "revised": pgettext_lazy("workbook", "Revised (version {number})"),
    "change": pgettext_lazy("workbook", "Change"),
    "change_pct": pgettext_lazy("workbook", "Change %"),
    "subtitle": pgettext_lazy(
        "workbook",
        "{grant} | as of {as_of} | budget version {version} | tolerance {tolerance} %{scope}",
    ),
    "scope": pgettext_lazy("workbook", " | partner {partner}"),
    "no_version": pgettext_lazy("workbook", "none"),
    "figures": pgettext_lazy("workbook", "Key figures"),
    "figure": pgettext_lazy("workbook", "Figure"),
    "value": pgettext_lazy("workbook", "Value"),
    "by_heading": pgettext_lazy("workbook", "Budget and actual by heading"),
    "beneficiaries": pgettext_lazy("workbook", "Cost per beneficiary"),
    "target": pgettext_lazy("workbook", "Target"),
    "unit": pgettext_lazy("workbook", "Unit"),
    "cost_per_beneficiary": pgettext_lazy("workbook", "Cost per beneficiary"),
    "chart.heading": pgettext_lazy("workbook", "Budget and actual by heading"),
    "chart.burn": pgettext_lazy("workbook", "Cumulative spending, actual and planned"),
    "month": pgettext_lazy("workbook", "Month"),
    "month_name": pgettext_lazy("workbook", "Month name"),
    "planned": pgettext_lazy("workbook", "Planned"),
    "cumulative_actual": pgettext_lazy("workbook", "Cumulative actual"),
    "cumulative_planned": pgettext_lazy("workbook", "Cumulative planned"),
    "burn_rate": pgettext_lazy("workbook", "Burn rate (average of the last {window} full months)"),
    "months_elapsed": pgettext_lazy("workbook", "Months elapsed"),
    "months_remaining": pgettext_lazy("workbook", "Months remaining"),
    "remaining_budget": pgettext_lazy("workbook", "Remaining budget"),
    "runway_months": pgettext_lazy("workbook", "Runway (months)"),
    "forecast_at_completion": pgettext_lazy("workbook", "Forecast at completion"),
    "projected_variance": pgettext_lazy("workbook", "Projected variance"),
    "exhaustion_month": pgettext_lazy("workbook", "Month the money runs out"),
    "time_elapsed_pct": pgettext_lazy("workbook", "Time elapsed %"),
    "pace_flag": pgettext_lazy("workbook", "Pace"),
    "none": pgettext_lazy("workbook", "-"),
    "partner": pgettext_lazy("workbook", "Partner"),
    "eur_sent": pgettext_lazy("workbook", "EUR sent"),
    "fees_eur": pgettext_lazy("workbook", "Fees (EUR)"),
    "xof_received": pgettext_lazy("workbook", "XOF received"),
    "effective_rate": pgettext_lazy("workbook", "Effective rate"),
    "xof_spent": pgettext_lazy("workbook", "XOF spent"),
    "xof_balance": pgettext_lazy("workbook", "XOF balance"),
    "unfunded_xof": pgettext_lazy("workbook", "Unfunded XOF"),
    "eur_spent": pgettext_lazy("workbook", "EUR spent (grant's method)"),
    "eur_spent_at_parity": pgettext_lazy("workbook", "EUR spent at parity"),
    "fx_difference_eur": pgettext_lazy("workbook", "FX difference (EUR)"),
    "date": pgettext_lazy("workbook", "Date"),
    "voucher": pgettext_lazy("workbook", "Voucher"),
    "line": pgettext_lazy("workbook", "Line"),
    "line_label": pgettext_lazy("workbook", "Line label"),
    "location": pgettext_lazy("workbook", "Location"),
    "description": pgettext_lazy("workbook", "Description"),
    "amount": pgettext_lazy("workbook", "Amount"),
    "currency": pgettext_lazy("workbook", "Currency"),
    "rate": pgettext_lazy("workbook", "Rate"),
    "method": pgettext_lazy("workbook", "Method"),
    "amount_eur": pgettext_lazy("workbook", "Amount EUR"),
    "status": pgettext_lazy("workbook", "Status"),
    "grant": pgettext_lazy("workbook", "Grant"),
    "title": pgettext_lazy("workbook", "Title"),
    "donors": pgettext_lazy("workbook", "Donors"),
    "period": pgettext_lazy("workbook", "Period"),
    "version": pgettext_lazy("workbook", "Budget version"),
    "as_of": pgettext_lazy("workbook", "As of"),
    "scope_label": pgettext_lazy("workbook", "Restricted to partner"),
    "fx_method": pgettext_lazy("workbook", "Conversion method"),
    "tolerance": pgettext_lazy("workbook", "Variance tolerance"),
    "statuses": pgettext_lazy("workbook", "Spending counted"),
    "generated_at": pgettext_lazy("workbook", "Generated at"),
    "definitions": pgettext_lazy("workbook", "Definitions"),
    "def.budget": pgettext_lazy("workbook", "The allocations of the budget version."),
    "def.planned_to_date": pgettext_lazy(
        "workbook",
        "Each project year's allocation spread evenly over its months (to the cent, the last month taking the rest); "
        "the as-of month counts for its elapsed days.",
    ),
    "def.actual": pgettext_lazy(
        "workbook",
        "Submitted and validated spending dated up to the as-of date, at its stored EUR value.",
    ),
    "def.variance": pgettext_lazy("workbook", "Budget - actual."),
    "def.variance_pct": pgettext_lazy("workbook", "Variance / budget."),
    "def.use_pct": pgettext_lazy("workbook", "Actual / budget."),
    "def.variance_to_date": pgettext_lazy("workbook", "Planned to date - actual."),
    "def.flag": pgettext_lazy(
        "workbook",
        "'over' where actual > budget x (1 + tolerance); 'under' where actual < planned to date x (1 - tolerance); "
        "else 'within tolerance'.",
    ),
    "def.burn_rate": pgettext_lazy(
        "workbook",
        "Average actual of the last full months; runway = remaining budget / burn rate; forecast = actual + burn "
        "rate x months remaining.",
    ),
    "def.pace": pgettext_lazy(
        "workbook",
        "Ahead or behind when use % and time elapsed % differ by more than 15 points.",
    ),
    "title.digests": pgettext_lazy("workbook", "Digests of the accepted statements"),
    "digests.note": pgettext_lazy(
        "workbook",
        "The SHA-256 digest of each accepted quarter (the statement, its ledger rows and their conversions), chained "
        "to the partner's previous accepted quarter. manage.py ledger_check and GET /api/v1/grants/{code}/check/ "
        "recompute them: a digest that is no longer the one listed here means the ledger changed since this workbook "
        "was made.",
    ),
    "accepted_at": pgettext_lazy("workbook", "Accepted at"),
    "digest": pgettext_lazy("workbook", "Digest"),
    "previous_digest": pgettext_lazy("workbook", "Previous digest"),
    "reopenings": pgettext_lazy("workbook", "Reopenings (when, why, digest then)"),
})

# The statuses read as words about an expenditure ("dépense", feminine in French).
STATUS_WORDS = Labels({
    "submitted": pgettext_lazy("expenditure status", "submitted"),
    "validated": pgettext_lazy("expenditure status", "validated"),
})
# A budget version's state, the model's own words.
VERSION_STATES = Labels({status.value: status.label for status in VersionStatus})
METHOD_WORDS = Labels({
    "parity": pgettext_lazy("fx method", "fixed parity"),
    "fifo": pgettext_lazy("fx method", "rate of the funding transfers (first in, first out)"),
    "weighted_average": pgettext_lazy("fx method", "weighted average rate"),
    "monthly_rate": pgettext_lazy("fx method", "monthly rate"),
})
FX_COLUMNS = ("eur_sent", "fees_eur", "xof_received", "effective_rate", "xof_spent", "xof_balance",
              "unfunded_xof", "eur_spent", "eur_spent_at_parity", "fx_difference_eur")
FX_FORMATS = {"eur_sent": "eur", "fees_eur": "eur", "xof_received": "xof", "effective_rate": "rate",
              "xof_spent": "xof", "xof_balance": "xof", "unfunded_xof": "xof", "eur_spent": "eur",
              "eur_spent_at_parity": "eur", "fx_difference_eur": "eur"}


@dataclass
class WorkbookContent:
    grant_code: str
    grant_title: str
    start_date: date
    end_date: date
    donors: list[tuple[str, Decimal]]
    fx_method: str
    tolerance_pct: Decimal
    as_of: date
    version: str
    partner_code: str | None
    statuses: tuple[str, ...]
    lang: str
    generated_at: datetime
    by_heading_line: dict
    by_partner: dict
    by_location: dict
    by_quarter: dict
    burn: dict
    beneficiaries: dict
    reconciliation: dict
    detail: Iterable[dict]
    # When the grant has been revised: the original version's number and the heading/line
    # report carrying ``budget_compared`` (the original) beside ``budget`` (this version).
    original_number: int | None = None
    version_number: int | None = None
    # The accepted statements of the quarters up to as_of, with their digests and reopenings
    # (``expenditures.audit.accepted_digests``); the sheet "Digests" lists them when there are any.
    digests: list[dict] = field(default_factory=list)
    # A job's progress callback (jobs.services): (detail rows written, detail rows to write).
    progress: Callable[[int, int], None] | None = None
    detail_total: int | None = None


def workbook_filename(grant_code: str, as_of: date, lang: str) -> str:
    return f"variance_{grant_code}_{as_of.isoformat()}_{lang}.xlsx"


def workbook_content(*, grant: Grant, as_of: date, version: BudgetVersion | None,
                     partner: Partner | None = None, lang: str = "en",
                     statuses: Iterable[str] = COUNTED_STATUSES, window: int = 3,
                     progress: Callable[[int, int], None] | None = None) -> WorkbookContent:
    """Run every report once for the workbook; the detail stays a lazy, chunked iterator.

    ``progress``, if given, is called with (detail rows written, detail rows to write) as the
    detail is written (its rows counted first, one COUNT)."""
    from budget.revisions import version_original

    original = version_original(grant)
    revised = version is not None and original is not None and original.pk != version.pk
    inputs: ReportInputs = report_inputs(grant=grant, as_of=as_of, version=version, partner=partner,
                                         statuses=statuses, compare=original if revised else None)
    donors = [(share.donor.name, share.share_pct) for share in grant.donor_shares.select_related("donor")]
    return WorkbookContent(
        grant_code=grant.code, grant_title=grant.title, start_date=grant.start_date, end_date=grant.end_date,
        donors=donors, fx_method=grant.fx_method, tolerance_pct=grant.variance_tolerance_pct,
        as_of=inputs.as_of,
        version=(f"{version.number} ({version.label}, {_version_state(lang, version.status)})" if version
                 else TEXT[lang]["no_version"]),
        partner_code=partner.code if partner else None, statuses=inputs.statuses, lang=lang,
        generated_at=timezone.now(),
        by_heading_line=variance(inputs, by=("heading", "line"), lang=lang),
        by_partner=variance(inputs, by="partner", lang=lang),
        by_location=variance(inputs, by="location", lang=lang),
        by_quarter=variance(inputs, by="quarter", lang=lang),
        burn=burn_rate(inputs, window=window),
        beneficiaries=cost_per_beneficiary(inputs, lang=lang),
        reconciliation=reconciliation_for(grant=grant, as_of=inputs.as_of, partner=partner),
        detail=expenditure_detail(grant=grant, as_of=inputs.as_of, partner=partner, statuses=inputs.statuses),
        original_number=original.number if revised else None,
        version_number=version.number if version else None,
        digests=accepted_digests(grant=grant, as_of=inputs.as_of, partner=partner),
        progress=progress,
        detail_total=(counted_expenditures(grant=grant, as_of=inputs.as_of, partner=partner,
                                           statuses=inputs.statuses).count() if progress is not None else None),
    )


def variance_workbook(**kwargs) -> tuple[str, IO[bytes]]:
    """The workbook in a temporary file (already unlinked), rewound, and its file name.

    Takes ``workbook_content``'s arguments. The caller streams the file and closes it.
    """
    content = workbook_content(**kwargs)
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook_write(content, handle)
    handle.seek(0)
    return workbook_filename(content.grant_code, content.as_of, content.lang), handle


class _DirectRowWorksheet(Worksheet):
    """A constant_memory worksheet that writes a whole row of plain cells as XML in one go.

    For the expenditure detail (12 cells a row, 100,000 rows and more): xlsxwriter's own
    per-cell path (store the cell, flush the row, then escape and tag each cell) was most of
    the workbook's time. ``write_direct_row`` writes the very XML that ``write_string`` and
    ``write_number`` followed by xlsxwriter's flush of the row write, with xlsxwriter's own
    escaping helpers, and keeps the finished XML of short strings, which repeat (partner,
    line, label, location, currency, status). tests/reports/test_excel_direct_rows.py
    compares the two paths byte for byte.

    PRIVATE API: this leans on xlsxwriter internals (version pinned in pyproject.toml; run
    that test on any upgrade): ``_check_dimensions``, ``_write_single_row``, ``_write_row``,
    ``previous_row``, ``table``, ``row_info``, ``col_info``, ``fh``, ``xls_strmax``,
    ``_escape_control_characters``, ``_escape_data``, ``Format._get_xf_index`` and
    ``xlsxwriter.utility``'s ``_preserve_whitespace``, ``_utf16_len``, ``_utf16_truncate``.
    """

    STRING_CACHE_MAX_LEN = 100  # longer strings (descriptions) are escaped each time, never kept
    STRING_CACHE_SIZE = 4096  # entries; the cache is emptied when full, so memory stays flat

    def __init__(self) -> None:
        super().__init__()
        self._string_xml: dict[str, str] = {}
        self._format_xml: dict[Format, str] = {}
        self._col_names: dict[int, str] = {}

    def write_direct_row(self, row: int, cells: Sequence[tuple[object, Format | None] | None]) -> None:
        """Write row ``row`` (0-based), ``cells[col]`` being None (no cell) or ``(value, format)``
        with a str, int, float or Decimal value and a format or None.

        Same file as ``write_string``/``write_number`` for each cell (but for a string shaped
        like "<r>...</r>", see ``_string_tail``), with one difference: the row is written out at
        once, as xlsxwriter does when the next row starts, so it takes no further cells and a
        ``set_row`` or column format given after it does not reach it.
        Whatever this path does not cover (not constant_memory, a row with ``set_row``
        attributes or already started, out of the sheet, another type, NaN or infinity) goes
        through ``write_string``/``write_number`` instead.
        """
        last = len(cells) - 1
        while last >= 0 and cells[last] is None:
            last -= 1
        if last < 0:
            return
        first = 0
        while cells[first] is None:
            first += 1
        if (not self.constant_memory or row in self.row_info or row < self.previous_row
                or (row == self.previous_row and self.table.get(row))
                or self._check_dimensions(row, first) or self._check_dimensions(row, last)):
            self._write_cells(row, cells)
            return
        if row > self.previous_row:
            self._write_single_row(row)  # flush the row pending in xlsxwriter's table, as it would
        number = str(row + 1)
        parts = []
        for col in range(first, last + 1):
            cell = cells[col]
            if cell is None:
                continue
            value, cell_format = cell
            # <c r="..." s="...">: the cell's format, else its column's (a row's format: xlsxwriter's path).
            if cell_format is None:
                info = self.col_info.get(col)
                style = "" if info is None or info.column_format is None else \
                    f' s="{info.column_format._get_xf_index()}"'
            else:
                style = self._format_xml.get(cell_format)
                if style is None:
                    style = self._format_xml[cell_format] = f' s="{cell_format._get_xf_index()}"'
            name = self._col_names.get(col)
            if name is None:
                name = self._col_names[col] = xl_col_to_name(col)
            kind = value.__class__
            if kind is str:
                tail = self._string_xml.get(value)
                if tail is None:
                    tail = self._string_tail(value)
                    if len(value) <= self.STRING_CACHE_MAX_LEN:
                        if len(self._string_xml) >= self.STRING_CACHE_SIZE:
                            self._string_xml.clear()
                        self._string_xml[value] = tail
                parts.append(f'<c r="{name}{number}"{style}{tail}')
            elif kind is int or (kind is Decimal and value.is_finite()) or (kind is float and math.isfinite(value)):
                # A Decimal is formatted as a Decimal, exactly as xlsxwriter's _xml_number_element does.
                parts.append(f'<c r="{name}{number}"{style}><v>{value:.16G}</v></c>')
            else:
                self._write_cells(row, cells)  # the pending row is flushed; this row starts afresh
                return
        self._write_row(row, None)  # <row r="..."> with the sheet's default-height attributes
        parts.append("</row>")
        self.fh.write("".join(parts))
        self.previous_row = row + 1  # the row is written out: nothing pending, no second <row>

    def _string_tail(self, string: str) -> str:
        """What follows ``<c r=".." s=".."`` for a string cell: ``_write_string`` (the 32,767
        UTF-16 units limit) then ``_write_cell`` and ``_xml_inline_string`` in constant_memory."""
        if len(string) > self.xls_strmax // 2 and _utf16_len(string) > self.xls_strmax:
            string = _utf16_truncate(string, self.xls_strmax)
        string = self._escape_control_characters(string)
        # One deliberate difference: xlsxwriter writes a string that starts with "<r>" and ends
        # with "</r>" unescaped, taking it for one of its rich strings; a description typed so
        # would break the file. Here it is text like any other.
        preserve = ' xml:space="preserve"' if _preserve_whitespace(string) else ""
        return f' t="inlineStr"><is><t{preserve}>{self._escape_data(string)}</t></is></c>'

    def _write_cells(self, row: int, cells) -> None:
        for col, cell in enumerate(cells):
            if cell is not None:
                value, cell_format = cell
                if isinstance(value, str):
                    self.write_string(row, col, value, cell_format)
                else:
                    self.write_number(row, col, value, cell_format)


class _Writer:
    """Lays one ``WorkbookContent`` out; each ``sheet_*`` writes its rows top to bottom."""

    def __init__(self, content: WorkbookContent, out):
        self.c = content
        self.lang = content.lang if content.lang in TEXT else "en"
        self.t = TEXT[self.lang]
        self.wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
        self.wb.set_properties({"title": f"{self.t['title.summary']} {content.grant_code}",
                                "company": "", "comments": f"as_of={content.as_of.isoformat()}"})
        codes = FORMATS[self.lang]
        add = self.wb.add_format
        self.f = {
            "title": add({"bold": True, "font_size": 14}),
            "subtitle": add({"italic": True, "font_color": "#555555"}),
            "header": add({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                           "valign": "top"}),
            "text": add({}),
            "wrap": add({"text_wrap": True, "valign": "top"}),
            "bold": add({"bold": True}),
            "indent": add({"indent": 1}),
            "text.wrap": add({"text_wrap": True}),
            "indent.wrap": add({"indent": 1, "text_wrap": True}),
            "sub.text.wrap": add({"bold": True, "bg_color": "#F2F2F2", "text_wrap": True}),
            "total.text.wrap": add({"bold": True, "top": 1, "text_wrap": True}),
            "eur": add({"num_format": codes["eur"]}),
            "xof": add({"num_format": codes["xof"]}),
            "pct": add({"num_format": codes["pct"]}),
            "rate": add({"num_format": codes["rate"]}),
            "count": add({"num_format": codes["count"]}),
            "months": add({"num_format": codes["months"]}),
            "date": add({"num_format": codes["date"], "align": "left"}),
            "total.text": add({"bold": True, "top": 1}),
            "total.eur": add({"bold": True, "top": 1, "num_format": codes["eur"]}),
            "total.xof": add({"bold": True, "top": 1, "num_format": codes["xof"]}),
            "total.pct": add({"bold": True, "top": 1, "num_format": codes["pct"]}),
            "total.rate": add({"bold": True, "top": 1, "num_format": codes["rate"]}),
            "sub.text": add({"bold": True, "bg_color": "#F2F2F2"}),
            # a flag is indented, so that it never runs into the figure to its left
            "flag": add({"indent": 1}),
            "sub.flag": add({"bold": True, "bg_color": "#F2F2F2", "indent": 1}),
            "total.flag": add({"bold": True, "top": 1, "indent": 1}),
            "sub.eur": add({"bold": True, "bg_color": "#F2F2F2", "num_format": codes["eur"]}),
            "sub.pct": add({"bold": True, "bg_color": "#F2F2F2", "num_format": codes["pct"]}),
            "over": add({"bg_color": "#F8CBAD", "font_color": "#9C0006"}),
            "under": add({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        }

    # -- helpers ------------------------------------------------------------------------------

    def sheet(self, name: str):
        return self.wb.add_worksheet(SHEETS[self.lang][name])

    def page_setup(self, ws, header_row: int | None, last_col: int) -> None:
        """A4 landscape, one page wide, the header row on every page, no printed gridlines."""
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        if header_row is not None:
            ws.repeat_rows(header_row)
        ws.set_footer("&L&A&R&P / &N")
        ws.hide_gridlines(1)  # shown on screen, not printed: cells under a chart print blank

    def fit_row(self, ws, row: int, cells: Iterable[tuple[str, float]], options: dict | None = None) -> bool:
        """Make ``row`` tall enough for its wrapped ``(text, column width)`` cells; call it before
        the row's cells are written (constant_memory). True when some cell takes several lines."""
        lines = max((_wrapped_lines(text, width) for text, width in cells), default=1)
        if lines > 1:
            ws.set_row(row, LINE_HEIGHT * lines + 2, None, options or {})
        elif options:
            ws.set_row(row, None, None, options)
        return lines > 1

    def heading_rows(self, ws, name: str) -> None:
        ws.write_string(0, 0, f"{self.t['title.' + name]} | {self.c.grant_code}", self.f["title"])
        scope = self.t["scope"].format(partner=self.c.partner_code) if self.c.partner_code else ""
        ws.write_string(1, 0, self.t["subtitle"].format(
            grant=self.c.grant_code, as_of=self.c.as_of.isoformat(), version=self.c.version,
            tolerance=_plain(self.c.tolerance_pct), scope=scope), self.f["subtitle"])

    def header(self, ws, row: int, labels: list[str], widths: Sequence[float] | None = None) -> None:
        """The header row, made tall enough for labels that wrap in their ``widths``."""
        if widths:
            self.fit_row(ws, row, zip(labels, widths, strict=False))
        for col, label in enumerate(labels):
            ws.write_string(row, col, label, self.f["header"])

    @staticmethod
    def ratio(value: Decimal | None) -> Decimal | str:
        """A 2-decimal percentage as the fraction a percentage cell holds; '' when undefined."""
        return "" if value is None else value / HUNDRED

    def flag_word(self, flag: str | None) -> str:
        """A variance or pace flag in the workbook's language, never the report's raw value."""
        if not flag:
            return self.t["none"]
        return self.t["flag.ok"] if flag == "ok" else word(self.lang, flag)

    # -- variance sheets ----------------------------------------------------------------------

    def variance_row(self, ws, row: int, data: dict, style: str = "", indent: bool = False,
                     options: dict | None = None) -> None:
        """One row of a variance table. ``style`` '' for a plain row; 'sub'/'total' rows get their
        money from SUBTOTAL formulas over ``data['_range']`` carrying the report's values. A label
        longer than its column wraps, its row made taller; ``options`` are the row's (outline)."""
        text_f = self.f[f"{style}.text"] if style else self.f["text"]
        wraps = self.fit_row(ws, row, [(data["label"], VARIANCE_WIDTHS[1] - (2 if indent else 0)),
                                       (self.flag_word(data["flag"]), VARIANCE_WIDTHS[9])], options)
        label_format = self.f["indent"] if indent else text_f
        if wraps:
            label_format = self.f["indent.wrap" if indent else f"{style}.text.wrap" if style else "text.wrap"]
        eur_f = self.f[f"{style}.eur"] if style else self.f["eur"]
        pct_f = self.f[f"{style}.pct"] if style else self.f["pct"]
        r = row + 1  # Excel's row number
        ws.write_string(row, 0, "" if style == "total" else data["key"], text_f)
        ws.write_string(row, 1, data["label"], label_format)
        if style:
            first, last = data["_range"]
            for col, name in ((2, "budget"), (3, "planned_to_date"), (4, "actual")):
                column = xl_rowcol_to_cell(0, col)[:-1]
                ws.write_formula(row, col, f"=SUBTOTAL(9,{column}{first}:{column}{last})", eur_f, data[name])
        else:
            ws.write_number(row, 2, data["budget"], eur_f)
            ws.write_number(row, 3, data["planned_to_date"], eur_f)
            ws.write_number(row, 4, data["actual"], eur_f)
        ws.write_formula(row, 5, f"=C{r}-E{r}", eur_f, data["variance"])
        ws.write_formula(row, 6, f'=IF(C{r}=0,"",F{r}/C{r})', pct_f, self.ratio(data["variance_pct"]))
        ws.write_formula(row, 7, f'=IF(C{r}=0,"",E{r}/C{r})', pct_f, self.ratio(data["use_pct"]))
        ws.write_formula(row, 8, f"=D{r}-E{r}", eur_f, data["variance_to_date"])
        ws.write_string(row, 9, self.flag_word(data["flag"]), self.f[f"{style}.flag" if style else "flag"])

    def variance_frame(self, ws, first_row: int, last_row: int) -> None:
        """Widths, frozen header, print set-up and the colours of rows beyond tolerance."""
        header_row = 3
        for col, width in enumerate(VARIANCE_WIDTHS):
            ws.set_column(col, col, width)
        ws.freeze_panes(header_row + 1, 2)
        self.page_setup(ws, header_row, 9)
        if last_row >= first_row:
            for flag in ("over", "under"):
                ws.conditional_format(first_row, 0, last_row, 9, {
                    "type": "formula",
                    "criteria": f'=$J{first_row + 1}="{self.flag_word(flag)}"',
                    "format": self.f[flag],
                })

    def sheet_variance(self, name: str, report: dict) -> None:
        ws = self.sheet(name)
        self.heading_rows(ws, name)
        self.header(ws, 3, [self.t[c] for c in VARIANCE_COLUMNS], VARIANCE_WIDTHS)
        row = 4
        for data in report["rows"]:
            self.variance_row(ws, row, data)
            row += 1
        self.variance_row(ws, row, {**report["total"], "_range": (5, max(row, 5))}, "total")
        self.variance_frame(ws, 4, row - 1)

    def sheet_heading_line(self, report: dict) -> None:
        ws = self.sheet("heading_line")
        self.heading_rows(ws, "heading_line")
        self.header(ws, 3, [self.t[c] for c in VARIANCE_COLUMNS], VARIANCE_WIDTHS)
        row = 4
        for heading in report["rows"]:
            lines = heading.get("children", [])
            first, last = row + 2, row + 1 + max(len(lines), 1)
            self.variance_row(ws, row, {**heading, "_range": (first, last)}, "sub")
            row += 1
            for line in lines:
                # Lines fold under their heading (outline level 1); set before the row is written.
                self.variance_row(ws, row, line, indent=True, options={"level": 1})
                row += 1
        self.variance_row(ws, row, {**report["total"], "_range": (5, max(row, 5))}, "total")
        self.variance_frame(ws, 4, row - 1)

    # -- summary --------------------------------------------------------------------------------

    def sheet_summary(self) -> None:
        """Key figures, budget and actual by heading, cost per beneficiary on the left (columns
        A-E), the two charts on the right; printed on one A4 landscape page."""
        c, t, f = self.c, self.t, self.f
        ws = self.sheet("summary")
        widths = SUMMARY_WIDTHS
        ws.write_string(0, 0, c.grant_title, f["title"])
        scope = t["scope"].format(partner=c.partner_code) if c.partner_code else ""
        ws.write_string(1, 0, t["subtitle"].format(grant=c.grant_code, as_of=c.as_of.isoformat(), version=c.version,
                                                   tolerance=_plain(c.tolerance_pct), scope=scope), f["subtitle"])
        total = c.by_heading_line["total"]
        summary = c.burn["summary"]
        self.header(ws, 3, [t["figure"], t["value"]], widths)
        figures = [
            (t["budget"], total["budget"], "eur"),
            (t["planned_to_date"], total["planned_to_date"], "eur"),
            (t["actual"], total["actual"], "eur"),
            (t["variance"], total["variance"], "eur"),
            (t["variance_to_date"], total["variance_to_date"], "eur"),
            (t["use_pct"], self.ratio(total["use_pct"]), "pct"),
            (t["time_elapsed_pct"], self.ratio(summary["time_elapsed_pct"]), "pct"),
            (t["burn_rate"].format(window=c.burn["window"]), summary["burn_rate"], "eur"),
            (t["months_elapsed"], summary["months_elapsed"], "count"),
            (t["months_remaining"], summary["months_remaining"], "count"),
            (t["remaining_budget"], summary["remaining_budget"], "eur"),
            (t["runway_months"], summary["runway_months"], "months"),
            (t["forecast_at_completion"], summary["forecast_at_completion"], "eur"),
            (t["projected_variance"], summary["projected_variance"], "eur"),
            (t["exhaustion_month"], summary["exhaustion_month"], "text"),
            (t["pace_flag"], self.flag_word(summary["pace_flag"]), "text"),
            (t["flag"], self.flag_word(total["flag"]), "text"),
        ]
        row = 4
        for label, value, kind in figures:
            text = t["none"] if value is None or value == "" else str(value) if kind == "text" else ""
            wraps = self.fit_row(ws, row, [(label, widths[0]), (text, widths[1])])
            ws.write_string(row, 0, label, f["text.wrap"] if wraps else f["text"])
            if text:
                ws.write_string(row, 1, text, f["text.wrap"] if wraps else f["text"])
            else:
                ws.write_number(row, 1, value, f[kind])
            row += 1

        # Budget and actual by heading: "1 Personnel" in column A, the chart's categories.
        row += 1
        ws.write_string(row, 0, t["by_heading"], f["bold"])
        row += 1
        self.header(ws, row, [t["label"], t["budget"], t["actual"]], widths)
        row += 1
        first_heading = row
        for heading in c.by_heading_line["rows"]:
            name = f"{heading['key']} {heading['label']}"
            wraps = self.fit_row(ws, row, [(name, widths[0])])
            ws.write_string(row, 0, name, f["text.wrap"] if wraps else f["text"])
            ws.write_number(row, 1, heading["budget"], f["eur"])
            ws.write_number(row, 2, heading["actual"], f["eur"])
            row += 1
        last_heading = row - 1
        ws.write_string(row, 0, total["label"], f["total.text"])
        ws.write_formula(row, 1, f"=SUM(B{first_heading + 1}:B{max(row, first_heading + 1)})",
                         f["total.eur"], total["budget"])
        ws.write_formula(row, 2, f"=SUM(C{first_heading + 1}:C{max(row, first_heading + 1)})",
                         f["total.eur"], total["actual"])
        row += 2

        ws.write_string(row, 0, t["beneficiaries"], f["bold"])
        row += 1
        self.header(ws, row, [t["label"], t["actual"], t["target"], t["unit"], t["cost_per_beneficiary"]], widths)
        row += 1
        for item in c.beneficiaries["rows"]:
            name = f"{item['key']} {item['label']}"
            wraps = self.fit_row(ws, row, [(name, widths[0]), (item["unit"], widths[3])])
            ws.write_string(row, 0, name, f["text.wrap"] if wraps else f["text"])
            ws.write_number(row, 1, item["actual"], f["eur"])
            ws.write_number(row, 2, item["target"], f["count"])
            ws.write_string(row, 3, item["unit"], f["text.wrap"] if wraps else f["text"])
            if item["cost_per_beneficiary"] is None:
                ws.write_string(row, 4, t["none"])
            else:
                ws.write_formula(row, 4, f'=IF(C{row + 1}=0,"",B{row + 1}/C{row + 1})', f["eur"],
                                 item["cost_per_beneficiary"])
            row += 1

        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        ws.freeze_panes(4, 0)
        # One page: the tables (about 95 characters, 720 pixels, wide) and the charts (440 pixels)
        # side by side, some 45 rows tall, fit A4 landscape at about 80 % in Excel's Calibri, so
        # 11-point text prints at about 8.5 points (LibreOffice with a wider fallback font: 7.5).
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.fit_to_pages(1, 1)
        ws.center_horizontally()
        ws.set_footer("&L&A&R&P / &N")
        ws.hide_gridlines(2)  # neither on screen nor printed: a report page, not a grid

        chart_col = len(widths)
        if last_heading >= first_heading:
            chart = self.wb.add_chart({"type": "column"})
            sheet = SHEETS[self.lang]["summary"]
            for col, name, colour in ((1, t["budget"], "#4F81BD"), (2, t["actual"], "#C0504D")):
                chart.add_series({
                    "name": name,
                    "categories": [sheet, first_heading, 0, last_heading, 0],
                    "values": [sheet, first_heading, col, last_heading, col],
                    "fill": {"color": colour},
                })
            chart.set_title({"name": t["chart.heading"], "name_font": {"size": 12}})
            chart.set_y_axis({"num_format": FORMATS[self.lang]["eur"]})
            chart.set_legend({"position": "bottom"})
            chart.set_size(SUMMARY_CHART_SIZE)
            ws.insert_chart(3, chart_col, chart)

        months = c.burn["months"]
        if months:
            chart = self.wb.add_chart({"type": "line"})
            burn_sheet = SHEETS[self.lang]["burn"]
            first, last = 4, 4 + len(months) - 1
            for col, name, colour in ((4, t["cumulative_actual"], "#C0504D"),
                                      (5, t["cumulative_planned"], "#4F81BD")):
                chart.add_series({
                    "name": name,
                    "categories": [burn_sheet, first, 0, last, 0],
                    "values": [burn_sheet, first, col, last, col],
                    "line": {"color": colour, "width": 2.25},
                })
            chart.set_title({"name": t["chart.burn"], "name_font": {"size": 12}})
            chart.set_y_axis({"num_format": FORMATS[self.lang]["eur"]})
            chart.set_legend({"position": "bottom"})
            chart.set_size(SUMMARY_CHART_SIZE)
            ws.insert_chart(3, chart_col, chart, {"y_offset": SUMMARY_CHART_SIZE["height"] + 15})

    # -- burn rate ------------------------------------------------------------------------------

    def sheet_burn(self) -> None:
        t, f = self.t, self.f
        ws = self.sheet("burn")
        self.heading_rows(ws, "burn")
        self.header(ws, 3, [t["month"], t["month_name"], t["actual"], t["planned"], t["cumulative_actual"],
                            t["cumulative_planned"]], (16, 18, 18, 18, 18, 18))
        row = 4
        for month in self.c.burn["months"]:
            r = row + 1
            year, number = (int(part) for part in month["month"].split("-"))
            ws.write_string(row, 0, month["month"])
            ws.write_string(row, 1, month_name(self.lang, year, number))
            ws.write_number(row, 2, month["actual"], f["eur"])
            ws.write_number(row, 3, month["planned"], f["eur"])
            if row == 4:
                ws.write_formula(row, 4, f"=C{r}", f["eur"], month["cumulative_actual"])
                ws.write_formula(row, 5, f"=D{r}", f["eur"], month["cumulative_planned"])
            else:
                ws.write_formula(row, 4, f"=E{r - 1}+C{r}", f["eur"], month["cumulative_actual"])
                ws.write_formula(row, 5, f"=F{r - 1}+D{r}", f["eur"], month["cumulative_planned"])
            row += 1
        summary = self.c.burn["summary"]
        ws.write_string(row, 0, "", f["total.text"])
        ws.write_string(row, 1, word(self.lang, "total"), f["total.text"])
        ws.write_formula(row, 2, f"=SUM(C5:C{max(row, 5)})", f["total.eur"], summary["cumulative_actual"])
        planned_total = self.c.burn["months"][-1]["cumulative_planned"] if self.c.burn["months"] else Decimal("0.00")
        ws.write_formula(row, 3, f"=SUM(D5:D{max(row, 5)})", f["total.eur"], planned_total)
        row += 2
        self.header(ws, row, [t["figure"], "", t["value"]])
        row += 1
        for key, kind in (("burn_rate", "eur"), ("months_elapsed", "count"), ("months_remaining", "count"),
                          ("remaining_budget", "eur"), ("runway_months", "months"),
                          ("forecast_at_completion", "eur"), ("projected_variance", "eur"),
                          ("exhaustion_month", "text"), ("time_elapsed_pct", "pct"), ("use_pct", "pct"),
                          ("pace_flag", "text")):
            value = summary[key]
            ws.write_string(row, 0, t[key].format(window=self.c.burn["window"]))
            if value is None:
                ws.write_string(row, 2, t["none"])
            elif kind == "text":
                ws.write_string(row, 2, self.flag_word(value) if key == "pace_flag" else str(value))
            elif kind == "pct":
                ws.write_number(row, 2, self.ratio(value), f["pct"])
            else:
                ws.write_number(row, 2, value, f[kind])
            row += 1
        ws.set_column(0, 0, 16)
        ws.set_column(1, 1, 18)
        ws.set_column(2, 5, 18)
        ws.freeze_panes(4, 2)
        self.page_setup(ws, 3, 5)

    # -- FX reconciliation ------------------------------------------------------------------------

    def sheet_fx(self) -> None:
        t, f = self.t, self.f
        ws = self.sheet("fx")
        self.heading_rows(ws, "fx")
        recon = self.c.reconciliation
        ws.set_column(0, 0, 16)
        ws.set_column(1, len(FX_COLUMNS), 17)
        ws.write_string(2, 0, f"{t['fx_method']}: {METHOD_WORDS[self.lang].get(recon.get('method'), '')}",
                        f["subtitle"])
        self.header(ws, 3, [t["partner"]] + [t[c] for c in FX_COLUMNS], [16] + [17] * len(FX_COLUMNS))
        row = 4
        for item in recon.get("partners", []):
            ws.write_string(row, 0, str(item.get("partner", "")))
            for col, name in enumerate(FX_COLUMNS, start=1):
                self.write_amount(ws, row, col, item.get(name), f[FX_FORMATS[name]])
            row += 1
        total = recon.get("total", {})
        ws.write_string(row, 0, word(self.lang, "total"), f["total.text"])
        for col, name in enumerate(FX_COLUMNS, start=1):
            value = _decimal(total.get(name))
            kind = FX_FORMATS[name]
            if kind == "rate" or value is None:
                self.write_amount(ws, row, col, value, f[f"total.{kind}"])
            else:
                column = xl_rowcol_to_cell(0, col)[:-1]
                ws.write_formula(row, col, f"=SUBTOTAL(9,{column}5:{column}{max(row, 5)})", f[f"total.{kind}"],
                                 value)
        ws.freeze_panes(4, 1)
        self.page_setup(ws, 3, len(FX_COLUMNS))

    def write_amount(self, ws, row: int, col: int, value, cell_format) -> None:
        value = _decimal(value)
        if value is None:
            ws.write_string(row, col, self.t["none"], cell_format)
        else:
            ws.write_number(row, col, value, cell_format)

    # -- expenditure detail -------------------------------------------------------------------------

    def sheet_detail(self) -> None:
        """The counted expenditures, oldest first, on as many sheets as Excel's row limit needs
        ("Expenditure detail", "Expenditure detail (2)", ...): each sheet ends with the SUBTOTAL
        of its own rows, the last one also with the total of every sheet's."""
        f = self.f
        name = SHEETS[self.lang]["detail"]
        # The columns, their headers and widths: expenditures.fields. The conversion method is the
        # grant's, stated once on the about sheet, not on every row.
        columns = [(column.cell, workbook_sources(column, field)) for column, field in WORKBOOK_COLUMNS]
        cells = [self.detail_cell(cell, sources) for cell, sources in columns]
        eur_sources = [sources[0] for cell, sources in columns if cell is Cell.EUR]
        eur_col = next(index for index, (cell, _) in enumerate(columns) if cell is Cell.EUR)
        eur_name = xl_col_to_name(eur_col)
        rows_per_sheet = DETAIL_SHEET_ROWS - 1 - DETAIL_FOOTER_ROWS
        if rows_per_sheet < 1:
            raise ValueError(f"DETAIL_SHEET_ROWS {DETAIL_SHEET_ROWS} leaves no row for the detail")
        sheets: list[tuple[str, int, Decimal]] = []  # (sheet name, total's row, total)
        items = iter(self.c.detail)
        item = next(items, None)
        progress, done, total = self.c.progress, 0, self.c.detail_total or 0
        if progress is not None:
            progress(0, total)
        while True:
            sheet_name = name if not sheets else f"{name} ({len(sheets) + 1})"
            ws, write_row = self.detail_sheet(sheet_name, columns)
            row = 0
            sheet_eur = Decimal("0.00")
            while item is not None and row < rows_per_sheet:
                row += 1
                write_row(row, [cell(item) for cell in cells])
                for source in eur_sources:
                    sheet_eur += item[source]
                item = next(items, None)
                done += 1
                if progress is not None and not done % PROGRESS_ROWS:
                    progress(done, max(total, done))
            last = row
            row += 2
            ws.write_string(row, eur_col - 1, word(self.lang, "total"), f["total.text"])
            ws.write_formula(row, eur_col, f"=SUBTOTAL(9,{eur_name}2:{eur_name}{max(last + 1, 2)})", f["total.eur"],
                             sheet_eur.quantize(CENT))
            sheets.append((sheet_name, row, sheet_eur))
            if item is None:
                if progress is not None:
                    progress(done, done)
                if len(sheets) > 1:
                    # The sheets' totals added up: the detail's total, where the last rows end.
                    row += 1
                    total_eur = sum((total for _, _, total in sheets), Decimal("0.00"))
                    ws.write_string(row, eur_col - 1, f"{word(self.lang, 'total')} ({name})", f["total.text"])
                    ws.write_formula(row, eur_col, "=" + "+".join(
                        f"'{sheet}'!{eur_name}{total_row + 1}" for sheet, total_row, _ in sheets),
                        f["total.eur"], total_eur.quantize(CENT))
                ws.autofilter(0, 0, max(last, 1), len(columns) - 1)
                break
            ws.autofilter(0, 0, max(last, 1), len(columns) - 1)

    def detail_sheet(self, sheet_name: str, columns):
        """A detail sheet with its header, widths and print set-up; its direct-row writer."""
        t = self.t
        # Rows go straight to the sheet's XML (see _DirectRowWorksheet); the rest as on any sheet.
        ws = self.wb.add_worksheet(sheet_name, worksheet_class=_DirectRowWorksheet)
        self.header(ws, 0, [t[column.label] for column, _ in WORKBOOK_COLUMNS],
                    [column.width for column, _ in WORKBOOK_COLUMNS])
        ws.freeze_panes(1, 0)
        for col, (column, _) in enumerate(WORKBOOK_COLUMNS):
            ws.set_column(col, col, column.width)
        self.page_setup(ws, 0, len(columns) - 1)
        return ws, ws.write_direct_row

    def detail_cell(self, cell: Cell, sources: tuple[str, ...]):
        """The function writing a detail row's ``(value, format)`` (None: no cell) for a column."""
        f = self.f
        source = sources[0]
        if cell is Cell.DATE:
            date_f = f["date"]
            # A date cell is its serial day number with a date format; computed here, it skips
            # xlsxwriter's datetime conversion, the costliest cell of a long detail.
            return lambda item: ((item[source] - EXCEL_EPOCH).days, date_f)
        if cell is Cell.TEXT:
            return lambda item: (item[source], None)
        if cell is Cell.TEXT_OR_NONE:
            return lambda item: (item[source], None) if item[source] else None  # an empty one: no cell
        if cell is Cell.LABEL:
            label = sources[0] if self.lang == "fr" else sources[1]
            return lambda item: (item[label], None)
        if cell is Cell.AMOUNT:
            currency_source = sources[1]
            xof_f, eur_f = f["xof"], f["eur"]

            def amount(item):
                if item[currency_source] == "XOF":
                    # Whole francs (a CHECK guarantees it) go in as an int, exactly and faster.
                    return int(item[source]), xof_f
                return item[source], eur_f
            return amount
        if cell is Cell.RATE:
            rate_f = f["rate"]
            return lambda item: (item[source], rate_f)
        if cell is Cell.EUR:
            eur_f = f["eur"]
            return lambda item: (item[source], eur_f)
        if cell is Cell.STATUS:
            statuses = STATUS_WORDS[self.lang]
            return lambda item: (statuses.get(item[source], item[source]), None)
        raise ValueError(f"no detail cell {cell!r}")

    # -- about ----------------------------------------------------------------------------------------

    def sheet_about(self) -> None:
        c, t, f = self.c, self.t, self.f
        ws = self.sheet("about")
        ws.write_string(0, 0, t["title.about"], f["title"])
        statuses = STATUS_WORDS[self.lang]
        items = [
            (t["grant"], c.grant_code),
            (t["title"], c.grant_title),
            (t["donors"], "; ".join(f"{name} ({_plain(share)} %)" for name, share in c.donors) or t["none"]),
            (t["period"], f"{c.start_date.isoformat()} - {c.end_date.isoformat()}"),
            (t["version"], c.version),
            (t["as_of"], c.as_of.isoformat()),
            (t["scope_label"], c.partner_code or t["none"]),
            (t["fx_method"], METHOD_WORDS[self.lang].get(c.fx_method, c.fx_method)),
            (t["tolerance"], f"{_plain(c.tolerance_pct)} %"),
            (t["statuses"], ", ".join(statuses.get(s, s) for s in c.statuses)),
            (t["generated_at"], c.generated_at.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ]
        row = 2
        for label, value in items:
            ws.write_string(row, 0, label, f["bold"])
            ws.write_string(row, 1, str(value), f["wrap"])
            row += 1
        row += 1
        ws.write_string(row, 0, t["definitions"], f["bold"])
        row += 1
        for name in ("budget", "planned_to_date", "actual", "variance", "variance_pct", "use_pct",
                     "variance_to_date", "flag"):
            ws.write_string(row, 0, t[name])
            ws.write_string(row, 1, t[f"def.{name}"], f["wrap"])
            row += 1
        ws.write_string(row, 0, t["burn_rate"].format(window=c.burn["window"]))
        ws.write_string(row, 1, t["def.burn_rate"], f["wrap"])
        row += 1
        ws.write_string(row, 0, t["pace_flag"])
        ws.write_string(row, 1, t["def.pace"], f["wrap"])
        ws.set_column(0, 0, 34)
        ws.set_column(1, 1, 100)
        self.page_setup(ws, None, 1)

    def sheet_revision(self) -> None:
        """Original against revised budget, by heading and line (only for a revised grant)."""
        c, t, f = self.c, self.t, self.f
        ws = self.sheet("revision")
        self.heading_rows(ws, "revision")
        self.header(ws, 3, [t["key"], t["label"], t["original"].format(number=c.original_number),
                            t["revised"].format(number=c.version_number), t["change"], t["change_pct"]],
                    (10, 48, 18, 18, 18, 11))
        row = 4

        def write(data: dict, style: str = "", label_format=None, span: tuple[int, int] | None = None) -> None:
            text_f = f[f"{style}.text"] if style else f["text"]
            eur_f = f[f"{style}.eur"] if style else f["eur"]
            pct_f = f[f"{style}.pct"] if style else f["pct"]
            r = row + 1
            ws.write_string(row, 0, "" if style == "total" else data["key"], text_f)
            ws.write_string(row, 1, data["label"], label_format or text_f)
            if span:
                first, last = span
                ws.write_formula(row, 2, f"=SUBTOTAL(9,C{first}:C{last})", eur_f, data["budget_compared"])
                ws.write_formula(row, 3, f"=SUBTOTAL(9,D{first}:D{last})", eur_f, data["budget"])
            else:
                ws.write_number(row, 2, data["budget_compared"], eur_f)
                ws.write_number(row, 3, data["budget"], eur_f)
            ws.write_formula(row, 4, f"=D{r}-C{r}", eur_f, data["budget_change"])
            change_pct = (data["budget_change"] / data["budget_compared"]) if data["budget_compared"] else ""
            ws.write_formula(row, 5, f'=IF(C{r}=0,"",E{r}/C{r})', pct_f, change_pct)

        for heading in c.by_heading_line["rows"]:
            lines = heading.get("children", [])
            write(heading, "sub", span=(row + 2, row + 1 + max(len(lines), 1)))
            row += 1
            for line in lines:
                ws.set_row(row, None, None, {"level": 1})
                write(line, label_format=f["indent"])
                row += 1
        write(c.by_heading_line["total"], "total", span=(5, max(row, 5)))
        ws.set_column(0, 0, 10)
        ws.set_column(1, 1, 48)
        ws.set_column(2, 4, 18)
        ws.set_column(5, 5, 11)
        ws.freeze_panes(4, 2)
        self.page_setup(ws, 3, 5)

    def sheet_digests(self) -> None:
        """The accepted statements' digests, so that an auditor holding the workbook can tell whether
        the ledger changed since (only when the workbook covers an accepted statement)."""
        c, t, f = self.c, self.t, self.f
        ws = self.sheet("digests")
        self.heading_rows(ws, "digests")
        ws.set_row(2, 45)
        ws.merge_range(2, 0, 2, 5, t["digests.note"].replace("{code}", c.grant_code), f["wrap"])
        self.header(ws, 4, [t["partner"], t["period"], t["accepted_at"], t["digest"], t["previous_digest"],
                            t["reopenings"]], (12, 12, 22, 68, 68, 60))
        row = 5
        for item in c.digests:
            accepted = item["accepted_at"]
            ws.write_string(row, 0, item["partner"])
            ws.write_string(row, 1, item["period"])
            ws.write_string(row, 2, accepted.strftime("%Y-%m-%d %H:%M:%S %Z") if accepted else t["none"])
            ws.write_string(row, 3, item["digest"])
            ws.write_string(row, 4, item["previous_digest"] or t["none"])
            ws.write_string(row, 5, "\n".join(
                f"{r['reopened_at']:%Y-%m-%d %H:%M:%S %Z}: {r['reason']} ({r['digest'] or t['none']})"
                for r in item["reopenings"]), f["wrap"])
            row += 1
        ws.set_column(0, 1, 12)
        ws.set_column(2, 2, 22)
        ws.set_column(3, 4, 68)
        ws.set_column(5, 5, 60)
        ws.freeze_panes(5, 0)
        self.page_setup(ws, 4, 5)

    def write(self) -> None:
        self.sheet_summary()
        self.sheet_heading_line(self.c.by_heading_line)
        if self.c.original_number is not None:
            self.sheet_revision()
        self.sheet_variance("partner", self.c.by_partner)
        self.sheet_variance("location", self.c.by_location)
        self.sheet_variance("quarter", self.c.by_quarter)
        self.sheet_burn()
        self.sheet_fx()
        self.sheet_detail()
        self.sheet_about()
        if self.c.digests:
            self.sheet_digests()
        self.wb.close()


def workbook_write(content: WorkbookContent, out) -> None:
    """Write the workbook of ``content`` to ``out`` (a path or a binary file object)."""
    _Writer(content, out).write()


def _version_state(lang: str, status: str) -> str:
    """'approved' -> "approved" / "approuvée": the state as a word within the version's name."""
    state = VERSION_STATES[lang if lang in TEXT else "en"].get(status, status)
    return state[:1].lower() + state[1:]


# Widths of Calibri 11's characters in Excel's column unit (the width of a digit), roughly: the
# narrow ones, the wide ones, capitals; the rest as wide as a digit.
_NARROW = frozenset("iìíîïjlIrtf.,;:'!|()[] ")
_WIDE = frozenset("mwMW%@")


def _text_width(text: str) -> float:
    return sum(0.5 if ch in _NARROW else 1.6 if ch in _WIDE else 1.2 if ch.isupper() else 1.0 for ch in text)


def _wrapped_lines(text: str, width: float) -> int:
    """The lines ``text`` takes wrapped in a column ``width`` digits wide: an estimate, word by
    word from the widths of its characters, with room to spare for bold and for the cell's margins
    (xlsxwriter cannot measure text)."""
    room = max(width * 0.9 - 1, 1.0)
    space = _text_width(" ")
    lines = 0
    for paragraph in str(text).split("\n"):
        count, used = 1, 0.0
        for part in paragraph.split():
            size = _text_width(part)
            need = size if used == 0 else used + space + size
            if need <= room:
                used = need
                continue
            if used:
                count += 1
            # a word wider than the column breaks across lines
            extra = int(size // room) if size > room else 0
            count += extra
            used = size - extra * room
        lines += count
    return max(lines, 1)


def _plain(value: Decimal) -> str:
    """10.00 -> "10", 12.50 -> "12.5": no exponent, no trailing zeros."""
    return f"{value.normalize():f}"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))
