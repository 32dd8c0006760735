"""Periods, in one place: calendar months and quarters (partners' statements), project months and
years (a grant's budget), the one reading of a day as people type it (``parse_day``), and the
bounds of every date the ledger holds. Plain date arithmetic;
nothing here reads the database.

Bounds: a date, a month, a quarter or a year is from 1900 to 2100, and a grant runs at most
``MAX_GRANT_YEARS`` years. The API's serializers (``validate_in_bounds`` on the models' date
fields, ``period_parse`` and ``month_parse`` behind the text fields, ``MAX_GRANT_YEARS`` for
project years), the services (``check_grant_span``, ``period_parse``) and the statement workbook's
reader all refuse what lies outside with 400 ``out_of_range`` (``grant_too_long``), so that no
date arithmetic meets a year 0 or a day after 9999-12-31.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from grants.errors import ApplicationError, ErrorCode

FIRST_YEAR = 1900
LAST_YEAR = 2100
EARLIEST = date(FIRST_YEAR, 1, 1)
LATEST = date(LAST_YEAR, 12, 31)
# Project years a grant may have: its budget's years run from 1 to this.
MAX_GRANT_YEARS = 30

PERIOD = re.compile(r"([0-9]{4})-Q([1-4])")
MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# The same texts with a year within the bounds, as the API's schema documents them (ECMA regexes).
YEAR_PATTERN = "(19[0-9]{2}|20[0-9]{2}|2100)"
PERIOD_PATTERN = rf"^{YEAR_PATTERN}-Q[1-4]$"
MONTH_PATTERN = rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])$"


# --- bounds -------------------------------------------------------------------------------------

def year_in_bounds(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


def in_bounds(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def out_of_range_message() -> str:
    return _("Dates run from %(first)s to %(last)s.") % {"first": EARLIEST.isoformat(), "last": LATEST.isoformat()}


def validate_in_bounds(day: date | None) -> None:
    """A date field's validator (the models', hence the API's serializers' and the admin's): a
    day from ``EARLIEST`` to ``LATEST``. Raises Django's ``ValidationError`` (``out_of_range``)."""
    if day is not None and not in_bounds(day):
        raise ValidationError(out_of_range_message(), code=ErrorCode.OUT_OF_RANGE)


def check_in_bounds(day: date, *, attr: str) -> date:
    """``day`` if it is within the bounds; else ``ApplicationError`` (400 ``out_of_range`` on ``attr``)."""
    if not in_bounds(day):
        raise ApplicationError(out_of_range_message(), code=ErrorCode.OUT_OF_RANGE, attr=attr)
    return day


def check_grant_span(start: date, end: date) -> None:
    """A grant's dates: both within the bounds, and at most ``MAX_GRANT_YEARS`` years of months.
    Raises ``ApplicationError``: ``out_of_range`` on the date, ``grant_too_long`` on ``end_date``."""
    check_in_bounds(start, attr="start_date")
    check_in_bounds(end, attr="end_date")
    if month_index(start, end) >= MAX_GRANT_YEARS * 12:
        raise ApplicationError(_("A grant runs %(years)s years at most.") % {"years": MAX_GRANT_YEARS},
                               code=ErrorCode.GRANT_TOO_LONG, attr="end_date")


def period_parse(text, *, attr: str = "period") -> tuple[int, int]:
    """ "2016-Q3" -> (2016, 3): a calendar quarter of a year within the bounds. Raises
    ``ApplicationError`` on ``attr``: ``invalid`` (not such a text), ``out_of_range`` (its year)."""
    match = PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ApplicationError(_('A period is a calendar quarter such as "2016-Q3".'), code=ErrorCode.INVALID,
                               attr=attr)
    year, quarter = int(match.group(1)), int(match.group(2))
    if not year_in_bounds(year):
        raise ApplicationError(out_of_range_message(), code=ErrorCode.OUT_OF_RANGE, attr=attr)
    return year, quarter


def month_parse(text, *, attr: str = "month") -> date:
    """ "2016-02" -> 2016-02-01: a calendar month of a year within the bounds. Raises
    ``ApplicationError`` on ``attr``: ``invalid`` (not such a text), ``out_of_range`` (its year)."""
    match = MONTH.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ApplicationError(_('A month is written "YYYY-MM", such as "2016-02".'), code=ErrorCode.INVALID,
                               attr=attr)
    year, month = int(match.group(1)), int(match.group(2))
    if not year_in_bounds(year):
        raise ApplicationError(out_of_range_message(), code=ErrorCode.OUT_OF_RANGE, attr=attr)
    return date(year, month, 1)


# --- arithmetic ---------------------------------------------------------------------------------


def quarter_of(day: date) -> tuple[int, int]:
    """(year, quarter) of a day: 2016-08-01 -> (2016, 3)."""
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    first_month = 3 * (quarter - 1) + 1
    last_month = first_month + 2
    return date(year, first_month, 1), date(year, last_month, monthrange(year, last_month)[1])


def quarter_label(year: int, quarter: int) -> str:
    """ "2016-Q3", as statements name their period."""
    return f"{year}-Q{quarter}"


def quarter_label_of(day: date) -> str:
    """The label of the quarter of ``day``: 2016-08-01 -> "2016-Q3"."""
    return quarter_label(*quarter_of(day))


def next_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def month_index(start: date, day: date) -> int:
    """Months from ``start``'s month to ``day``'s month (0 for the same month)."""
    return (day.year - start.year) * 12 + (day.month - start.month)


def month_start(start: date, index: int) -> date:
    """The first day of the ``index``-th calendar month from ``start``'s month."""
    months = start.year * 12 + (start.month - 1) + index
    return date(months // 12, months % 12 + 1, 1)


def months_in_year(year: int, grant_months: int) -> int:
    """How many months project year ``year`` has (12, fewer for a short last year)."""
    return max(1, min(12, grant_months - (year - 1) * 12))


# Day-first, as partners in Mali type a date in a text cell: 15/02/2018, 15-02-2018, 15.02.2018
# (one or two digits for the day and the month, four for the year); and ISO, 2018-02-15.
_DAY_FIRST = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_day(value: object) -> date:
    """The day a cell holds: a real date (a spreadsheet's date, or a datetime at any time of that
    day), day-first text (15/02/2018, 15-02-2018, 15.02.2018) or ISO text (2018-02-15).

    Raises ``ValueError`` for anything else: a number (a date pasted without its format cannot be
    told from an amount), a two-digit year, a month-first date that is impossible day-first
    (02/15/2018), an impossible day (31/02/2018, 2018-13-01)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    match = _DAY_FIRST.match(text)
    if match:
        day, month, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
        return date(year, month, day)  # ValueError for an impossible day or month
    match = _ISO.match(text)
    if match:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    raise ValueError(f"not a date: {value!r}")
