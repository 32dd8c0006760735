"""Periods, in one place: calendar months and quarters (partners' statements), project months and
years (a grant's budget), and the one reading of a day as people type it (``parse_day``). Plain
date arithmetic; nothing here reads the database."""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, datetime


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
