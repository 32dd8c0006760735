"""The grain every report sums: line x partner x location x month in whole cents, or coarser.

The spending comes summed by the grain its ``ReportInputs`` was read at (``inputs.grain``: the
finest, or only what a report groups by); the budget's pieces are built at the finest grain
(a few hundred allocations) and keep only the columns of that grain, so that every grouping
adds up the very same cents whatever the grain read.

Planned spending is built here once, so that every grouping adds up the very same pieces:

- an allocation of project year Y is spread over that year's months: its amount / n, rounded
  half up to the cent, the last month taking what is left so the months add up to the year
  exactly (n = 12; the last project year of a grant whose length is not a whole number of years
  has fewer months, and its allocation is spread over those);
- a month counts whole once its last day is on or before ``as_of``; the month of ``as_of``
  counts for its elapsed days (``as_of`` included) over its days, rounded per allocation, half
  up, to the cent; later months count nothing.

Months are calendar months counted from the grant's start month (index 0).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from grants.money import CENT
from grants.periods import month_start, months_in_year, quarter_of
from reports.selectors import ReportInputs, grain_columns

HUNDRED = Decimal("100")
MONEY_COLUMNS = ["budget", "planned", "actual"]
GRAIN_COLUMNS = ["line_id", "partner_id", "location_id", "month"]


def half_up_div(numerator, denominator):
    """numerator / denominator rounded half up (away from zero at a half), in integers.

    Works on Python ints and on numpy int64 arrays alike; ``denominator`` is positive.
    """
    sign = np.sign(numerator)
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def cents_to_money(cents: int) -> Decimal:
    """Whole cents as a Decimal amount of EUR with two decimals."""
    return (Decimal(int(cents)) / HUNDRED).quantize(CENT)


def pct(numerator_cents: int, denominator_cents: int) -> Decimal | None:
    """numerator / denominator in percent, half up to 2 decimals; None when the denominator is
    zero (a ratio to nothing is undefined, not zero)."""
    if denominator_cents == 0:
        return None
    return (Decimal(int(numerator_cents)) * HUNDRED / Decimal(int(denominator_cents))).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def quarter_of_month(start: date, index: int) -> tuple[int, int]:
    return quarter_of(month_start(start, index))


def month_key(start: date, index: int) -> str:
    day = month_start(start, index)
    return f"{day.year:04d}-{day.month:02d}"


def quarter_key(start: date, index: int) -> str:
    year, quarter = quarter_of_month(start, index)
    return f"{year:04d}-Q{quarter}"


@dataclass(frozen=True)
class MonthShare:
    """The share of a month that counts as planned by ``as_of``: ``elapsed`` / ``days``."""

    elapsed: int
    days: int


def month_share(start: date, index: int, as_of: date) -> MonthShare:
    first = month_start(start, index)
    days = calendar.monthrange(first.year, first.month)[1]
    if as_of < first:
        return MonthShare(0, days)
    if as_of >= first.replace(day=days):
        return MonthShare(days, days)
    return MonthShare(as_of.day, days)


def planned_pieces(inputs: ReportInputs) -> pd.DataFrame:
    """One row per allocation x month of its project year: ``budget`` (the month's piece of the
    allocation) and ``planned`` (what of it counts by ``as_of``), int64 cents."""
    alloc = inputs.allocations
    if alloc.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in GRAIN_COLUMNS + MONEY_COLUMNS})
    cents = alloc["cents"].to_numpy(dtype=np.int64)
    years = alloc["year"].to_numpy(dtype=np.int64)
    n = np.array([months_in_year(int(y), inputs.months) for y in years], dtype=np.int64)
    piece = half_up_div(cents, n)
    last = cents - (n - 1) * piece

    offsets = np.arange(12, dtype=np.int64)
    valid = offsets[None, :] < n[:, None]                      # allocation x month-of-year
    budget = np.where(offsets[None, :] == (n - 1)[:, None], last[:, None], piece[:, None])
    month = (years - 1)[:, None] * 12 + offsets[None, :]

    shares = {m: month_share(inputs.start_date, int(m), inputs.as_of) for m in np.unique(month)}
    elapsed = np.vectorize(lambda m: shares[m].elapsed, otypes=[np.int64])(month)
    days = np.vectorize(lambda m: shares[m].days, otypes=[np.int64])(month)
    planned = half_up_div(budget * elapsed, days)

    repeat = valid.sum(axis=1)
    frame = pd.DataFrame({
        "line_id": np.repeat(alloc["line_id"].to_numpy(dtype=np.int64), repeat),
        "partner_id": np.repeat(alloc["partner_id"].to_numpy(dtype=np.int64), repeat),
        "location_id": np.repeat(alloc["location_id"].to_numpy(dtype=np.int64), repeat),
        "month": month[valid],
        "budget": budget[valid].astype(np.int64),
        "planned": planned[valid].astype(np.int64),
    })
    frame["actual"] = np.int64(0)
    return frame


def require_grain(inputs: ReportInputs, needed: Iterable[str], report: str) -> None:
    """ValueError (a caller's mistake, not a user's) when ``inputs`` was read at a grain that lacks
    some of ``needed``: the spending cannot be split finer than it was summed."""
    missing = [name for name in needed if name not in inputs.grain]
    if missing:
        raise ValueError(f"{report} needs the spending summed by {', '.join(missing)}; "
                         f"it was summed by {', '.join(inputs.grain)}")


def grain(inputs: ReportInputs) -> pd.DataFrame:
    """Budget, planned and actual cents per ``inputs.grain`` (line x partner x location x month
    by default; a row per piece, not one per key: groupings sum them), with the columns the
    groupings need that the grain gives: ``heading_id`` with the line, ``year`` and ``quarter``
    with the month. With a compared version, also ``budget_compared``: its allocations spread
    over the same months."""
    columns = grain_columns(inputs.grain)
    money = MONEY_COLUMNS + (["budget_compared"] if inputs.compared_allocations is not None else [])
    pieces = planned_pieces(inputs)
    actuals = inputs.actuals.rename(columns={"cents": "actual"})
    actuals = actuals.assign(budget=np.int64(0), planned=np.int64(0))
    frames = [pieces[columns + MONEY_COLUMNS], actuals[columns + MONEY_COLUMNS]]
    if inputs.compared_allocations is not None:
        compared = planned_pieces(replace(inputs, allocations=inputs.compared_allocations))
        compared = compared.rename(columns={"budget": "budget_compared"}).assign(
            budget=np.int64(0), planned=np.int64(0), actual=np.int64(0))
        frames.append(compared[columns + money])
    frames = [f for f in frames if not f.empty]
    if not frames:
        frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in columns + money})
    else:
        frame = pd.concat(frames, ignore_index=True).fillna({c: 0 for c in money})
    frame = frame.astype({c: "int64" for c in columns + money})
    if "line_id" in frame:
        headings = {line_id: info.heading_id for line_id, info in inputs.lines.items()}
        frame["heading_id"] = frame["line_id"].map(headings).astype("int64")
    if "month" in frame:
        frame["year"] = (frame["month"] // 12 + 1).astype("int64")
        quarters = {m: quarter_key(inputs.start_date, int(m)) for m in frame["month"].unique()}
        frame["quarter"] = frame["month"].map(quarters).astype("object")
    return frame
