"""The variance report: budget, planned to date and actual, grouped one or two ways.

A pure function of ``ReportInputs`` (``reports.selectors``); see DESIGN.md "Reports" and
``reports.grain`` for how planned to date is built. For each row and for the total:

- ``budget``: the version's allocations; ``planned_to_date``: their monthly pieces due by
  ``as_of``; ``actual``: the counted spending up to ``as_of`` (sum of stored ``amount_eur``);
- ``variance`` = budget - actual; ``variance_to_date`` = planned_to_date - actual;
- ``variance_pct`` = variance / budget and ``use_pct`` = actual / budget, in percent, half up
  to 2 decimals, ``None`` where the budget is zero (never a division by zero, never a made-up 0);
- ``flag``: ``over`` where actual > budget x (1 + tolerance), ``under`` where actual < planned
  to date x (1 - tolerance), else ``ok``. Compared exactly, before any rounding.

Money is ``Decimal`` to the cent. Rows are sums of the same cents as the total, so they foot to
it exactly under every grouping, and the total is the same under every grouping.

A grouping needs the spending summed by no more than ``actual_grain(by)`` (the line for a line
or a heading, the month for a year or a quarter): the API reads that grain, one ``GROUP BY`` of
those columns; the workbook reads the finest, which serves every grouping.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
from django.utils.translation import gettext as _

from grants.periods import month_start
from reports.grain import HUNDRED, cents_to_money, grain, pct, require_grain
from reports.labels import word
from reports.selectors import ReportInputs, normalize_grain

DIMENSIONS = ("heading", "line", "partner", "location", "year", "quarter")
DIMENSION_COLUMN = {
    "heading": "heading_id", "line": "line_id", "partner": "partner_id",
    "location": "location_id", "year": "year", "quarter": "quarter",
}
# What of the spending's grain (``reports.selectors.GRAIN``) each dimension is made from.
DIMENSION_GRAIN = {
    "heading": "line", "line": "line", "partner": "partner",
    "location": "location", "year": "month", "quarter": "month",
}
FLAGS = ("over", "under", "ok")


class BadGrouping(ValueError):
    """``by`` is not one or two distinct names of ``DIMENSIONS``."""


def parse_by(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"heading,partner"`` -> ``("heading", "partner")``. Raises ``BadGrouping``."""
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if not 1 <= len(names) <= 2:
        raise BadGrouping(_("Group by one or two of: %(values)s.") % {"values": ", ".join(DIMENSIONS)})
    for name in names:
        if name not in DIMENSIONS:
            raise BadGrouping(_("'%(name)s' is not one of: %(values)s.") % {
                "name": name, "values": ", ".join(DIMENSIONS)})
    if len(set(names)) != len(names):
        raise BadGrouping(_("Group by two different things."))
    return tuple(names)


def actual_grain(by: str | Sequence[str]) -> tuple[str, ...]:
    """The grain the spending must be summed by for grouping ``by``: ``"heading,partner"`` ->
    ``("line", "partner")``. Raises ``BadGrouping``."""
    return normalize_grain(DIMENSION_GRAIN[name] for name in parse_by(by))


def flag_for(budget: int, planned: int, actual: int, tolerance_pct: Decimal) -> str:
    """``over``, ``under`` or ``ok`` from cents and a tolerance in percent, compared exactly."""
    if Decimal(actual) * HUNDRED > Decimal(budget) * (HUNDRED + tolerance_pct):
        return "over"
    if Decimal(actual) * HUNDRED < Decimal(planned) * (HUNDRED - tolerance_pct):
        return "under"
    return "ok"


def figures(budget: int, planned: int, actual: int, tolerance_pct: Decimal,
            budget_compared: int | None = None) -> dict:
    """The figures of one row from its cents; with a compared version, its budget and the
    change from it (``budget_change`` = budget - budget_compared)."""
    budget, planned, actual = int(budget), int(planned), int(actual)
    compared = {}
    if budget_compared is not None:
        compared = {"budget_compared": cents_to_money(int(budget_compared)),
                    "budget_change": cents_to_money(budget - int(budget_compared))}
    return {
        "budget": cents_to_money(budget),
        "planned_to_date": cents_to_money(planned),
        "actual": cents_to_money(actual),
        "variance": cents_to_money(budget - actual),
        "variance_pct": pct(budget - actual, budget),
        "use_pct": pct(actual, budget),
        "variance_to_date": cents_to_money(planned - actual),
        "flag": flag_for(budget, planned, actual, tolerance_pct),
        **compared,
    }


def _sums(frame: pd.DataFrame, inputs: ReportInputs) -> dict:
    """The figures of a group of grain rows."""
    columns = ["budget", "planned", "actual"] + (["budget_compared"] if "budget_compared" in frame else [])
    sums = frame[columns].sum() if not frame.empty else pd.Series(0, index=columns)
    return figures(sums["budget"], sums["planned"], sums["actual"], inputs.tolerance_pct,
                   sums["budget_compared"] if "budget_compared" in columns else None)


def key_label(inputs: ReportInputs, dimension: str, value, lang: str) -> tuple[str, str, tuple]:
    """The ``key``, ``label`` and sort order of a group ``value`` of ``dimension``."""
    if dimension in ("heading", "line"):
        line = inputs.lines[int(value)]
        return line.code, line.label(lang), (line.position, line.code)
    if dimension in ("partner", "location"):
        named = (inputs.partners if dimension == "partner" else inputs.locations)[int(value)]
        return named.code, named.name, (named.code,)
    if dimension == "year":
        year = int(value)
        first = month_start(inputs.start_date, (year - 1) * 12)
        last_index = min(year * 12, inputs.months) - 1
        last = month_start(inputs.start_date, last_index)
        label = word(lang, "year", year=year, first=f"{first:%Y-%m}", last=f"{last:%Y-%m}")
        return str(year), label, (year,)
    year, quarter = str(value).split("-Q")
    return str(value), word(lang, "quarter", quarter=quarter, year=year), (int(year), int(quarter))


def _rows(frame: pd.DataFrame, inputs: ReportInputs, by: tuple[str, ...], lang: str) -> list[dict]:
    dimension, rest = by[0], by[1:]
    column = DIMENSION_COLUMN[dimension]
    rows = []
    for value, group in frame.groupby(column, sort=False):
        key, label, order = key_label(inputs, dimension, value, lang)
        row = {"key": key, "label": label, **_sums(group, inputs)}
        if rest:
            row["children"] = _rows(group, inputs, rest, lang)
        rows.append((order, row))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


def variance(inputs: ReportInputs, *, by: str | Sequence[str] = "line", lang: str = "en") -> dict:
    """The variance report as a dict of Decimals and strings (the API serializes it).

    Raises ``BadGrouping`` for a bad ``by``.
    """
    dimensions = parse_by(by)
    require_grain(inputs, actual_grain(dimensions), f"the variance report by {','.join(dimensions)}")
    frame = grain(inputs)
    total_figures = _sums(frame, inputs)
    return {
        "grant": inputs.grant_code,
        "as_of": inputs.as_of,
        "version": inputs.version.number if inputs.version else None,
        **({"compare": inputs.compared.number} if inputs.compared else {}),
        "partner": inputs.partner_code,
        "currency": "EUR",
        "tolerance_pct": inputs.tolerance_pct,
        "by": list(dimensions),
        "rows": _rows(frame, inputs, dimensions, lang) if not frame.empty else [],
        "total": {"key": "total", "label": word(lang, "total"), **total_figures},
    }
