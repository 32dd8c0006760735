"""Dates as partners type them in the statement template (grants.periods.parse_day)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from grants.periods import parse_day


@pytest.mark.parametrize(("typed", "day"), [
    ("15/02/2018", date(2018, 2, 15)),
    ("15-02-2018", date(2018, 2, 15)),
    ("15.02.2018", date(2018, 2, 15)),
    ("5/2/2018", date(2018, 2, 5)),  # one digit for the day and the month
    (" 15/02/2018 ", date(2018, 2, 15)),
    ("2018-02-15", date(2018, 2, 15)),  # ISO
    ("29/02/2016", date(2016, 2, 29)),  # a leap day
    (date(2018, 2, 15), date(2018, 2, 15)),  # a real date
    (datetime(2018, 2, 15, 0, 0), date(2018, 2, 15)),  # as openpyxl reads a date cell
    (datetime(2018, 2, 15, 17, 30), date(2018, 2, 15)),
])
def test_a_day_typed_day_first_or_iso_is_read(typed, day):
    assert parse_day(typed) == day


@pytest.mark.parametrize("typed", [
    "31/02/2018",  # no such day
    "29/02/2018",  # not a leap year
    "2018-13-01",  # no such month
    "02/15/2018",  # month first: impossible day first, so refused rather than guessed
    "15/02/18",  # a two-digit year
    "15/02-2018",  # two separators
    "2018/02/15",
    "15 février 2018",
    "",
    42,  # a number: a date pasted without its format cannot be told from an amount
    43146.0,
    None,
])
def test_anything_else_is_no_date(typed):
    with pytest.raises(ValueError):
        parse_day(typed)
