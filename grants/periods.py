"""Calendar quarters, the reporting periods of partners' statements."""

from __future__ import annotations

from calendar import monthrange
from datetime import date


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
