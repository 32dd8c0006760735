"""Cost per beneficiary: what a heading has spent per person it set out to reach.

A pure function of ``ReportInputs``: one row per heading that carries a beneficiary target
(2,558 children in prevention and 417 girls in protection, in the Mali seed), in the budget's
order. ``actual`` is the heading's counted spending up to ``as_of`` (the same cents as the
variance report's heading rows); ``cost_per_beneficiary`` = actual / target, half up to the
cent, None for a target of zero. The ledger records targets only, not people reached, so no
``reached`` figure is given.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from reports.grain import CENT, cents_to_money, grain, require_grain
from reports.labels import unit_label
from reports.selectors import ReportInputs

# The spending's grain (``reports.selectors.GRAIN``) this report needs: by line (of a heading).
ACTUAL_GRAIN = ("line",)


def cost_per_beneficiary(inputs: ReportInputs, *, lang: str = "en") -> dict:
    require_grain(inputs, ACTUAL_GRAIN, "the cost per beneficiary")
    frame = grain(inputs)
    by_heading = frame.groupby("heading_id")["actual"].sum() if not frame.empty else None
    headings = sorted(
        (line for line in inputs.lines.values() if line.is_heading and line.beneficiary_target is not None),
        key=lambda line: (line.position, line.code),
    )
    rows = []
    for heading in headings:
        cents = int(by_heading.get(heading.id, 0)) if by_heading is not None else 0
        actual = cents_to_money(cents)
        target = heading.beneficiary_target
        rows.append({
            "key": heading.code,
            "label": heading.label(lang),
            "actual": actual,
            "target": target,
            "unit": unit_label(lang, heading.beneficiary_unit),
            "cost_per_beneficiary": (
                (actual / Decimal(target)).quantize(CENT, rounding=ROUND_HALF_UP) if target else None
            ),
        })
    return {
        "grant": inputs.grant_code,
        "as_of": inputs.as_of,
        "partner": inputs.partner_code,
        "currency": "EUR",
        "rows": rows,
    }
