"""The burn-rate report: month by month spending against plan, and where this pace leads.

A pure function of ``ReportInputs``. ``months`` runs from the grant's start month to the month
of ``as_of`` (that month counted to ``as_of``; none when ``as_of`` is before the start), with
``planned`` made of the same monthly pieces as the variance report's planned to date, so the
last ``cumulative_planned`` and ``cumulative_actual`` are that report's totals.

``summary``, all money Decimal to the cent, ratios Decimal to 2 decimals:

- ``burn_rate``: the average actual of the last ``window`` full months (months whose last day is
  on or before ``as_of``); of the full months there are when fewer; 0.00 when there is none;
- ``months_elapsed``: full months from the start to ``as_of``; ``months_remaining``: the
  grant's months minus those;
- ``remaining_budget`` = budget - cumulative actual;
- ``runway_months`` = remaining_budget / burn_rate, half up to 2 decimals; None when the burn
  is zero;
- ``forecast_at_completion`` = cumulative actual + burn_rate x months_remaining;
  ``projected_variance`` = budget - forecast;
- ``exhaustion_month``: the month the money runs out at this burn ("YYYY-MM"): when it already
  has, the month the cumulative actual reached the budget; else the month the runway ends in,
  counted from the first month after the full ones; None when the money outlasts the grant or
  nothing is being spent (or the budget is zero);
- ``time_elapsed_pct``: days from the start to ``as_of`` (both included) over the grant's
  days; ``use_pct``: cumulative actual / budget (None for a zero budget);
- ``pace_flag`` (DOMAIN.md rule 10): ``ahead`` when use % exceeds time elapsed % by more than
  15 points, ``behind`` when it falls short by more than 15, else ``on_track``; compared on the
  2-decimal figures shown; None when use % is undefined.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from grants.periods import month_index
from reports.grain import (
    CENT,
    HUNDRED,
    cents_to_money,
    grain,
    half_up_div,
    month_key,
    month_share,
    pct,
    require_grain,
)
from reports.selectors import ReportInputs

PACE_POINTS = Decimal("15")
# The spending's grain (``reports.selectors.GRAIN``) this report needs: month by month.
ACTUAL_GRAIN = ("month",)


def burn_rate(inputs: ReportInputs, *, window: int = 3) -> dict:
    """The burn-rate report as a dict of Decimals, ints and strings. ``window`` >= 1."""
    if window < 1:
        raise ValueError("window must be at least 1")
    require_grain(inputs, ACTUAL_GRAIN, "the burn rate")
    frame = grain(inputs)
    budget = int(frame["budget"].sum()) if not frame.empty else 0
    last_month = _month_index(inputs)                      # -1 when as_of is before the start
    by_month = frame.groupby("month")[["planned", "actual"]].sum() if not frame.empty else None

    months = []
    cumulative_actual = cumulative_planned = 0
    full_months: list[int] = []
    for index in range(last_month + 1):
        actual = planned = 0
        if by_month is not None and index in by_month.index:
            actual = int(by_month.at[index, "actual"])
            planned = int(by_month.at[index, "planned"])
        cumulative_actual += actual
        cumulative_planned += planned
        months.append({
            "month": month_key(inputs.start_date, index),
            "actual": cents_to_money(actual),
            "planned": cents_to_money(planned),
            "cumulative_actual": cents_to_money(cumulative_actual),
            "cumulative_planned": cents_to_money(cumulative_planned),
        })
        share = month_share(inputs.start_date, index, inputs.as_of)
        if share.elapsed == share.days:
            full_months.append(actual)

    recent = full_months[-window:]
    burn = int(half_up_div(sum(recent), len(recent))) if recent else 0
    months_elapsed = len(full_months)
    months_remaining = max(inputs.months - months_elapsed, 0)
    remaining = budget - cumulative_actual
    forecast = cumulative_actual + burn * months_remaining
    runway = (
        (Decimal(remaining) / Decimal(burn)).quantize(CENT, rounding=ROUND_HALF_UP) if burn else None
    )
    time_pct = _time_elapsed_pct(inputs)
    use_pct = pct(cumulative_actual, budget)
    return {
        "grant": inputs.grant_code,
        "as_of": inputs.as_of,
        "version": inputs.version.number if inputs.version else None,
        "partner": inputs.partner_code,
        "currency": "EUR",
        "window": window,
        "months": months,
        "summary": {
            "budget": cents_to_money(budget),
            "cumulative_actual": cents_to_money(cumulative_actual),
            "burn_rate": cents_to_money(burn),
            "months_elapsed": months_elapsed,
            "months_remaining": months_remaining,
            "remaining_budget": cents_to_money(remaining),
            "runway_months": runway,
            "forecast_at_completion": cents_to_money(forecast),
            "projected_variance": cents_to_money(budget - forecast),
            "exhaustion_month": _exhaustion_month(
                inputs, months, budget, remaining, burn, months_elapsed, months_remaining
            ),
            "time_elapsed_pct": time_pct,
            "use_pct": use_pct,
            "pace_flag": pace_flag(use_pct, time_pct),
        },
    }


def pace_flag(use_pct: Decimal | None, time_elapsed_pct: Decimal) -> str | None:
    if use_pct is None:
        return None
    gap = use_pct - time_elapsed_pct
    if gap > PACE_POINTS:
        return "ahead"
    if gap < -PACE_POINTS:
        return "behind"
    return "on_track"


def _month_index(inputs: ReportInputs) -> int:
    if inputs.as_of < inputs.start_date:
        return -1
    return month_index(inputs.start_date, inputs.as_of)


def _time_elapsed_pct(inputs: ReportInputs) -> Decimal:
    total_days = (inputs.end_date - inputs.start_date).days + 1
    elapsed = min(max((inputs.as_of - inputs.start_date).days + 1, 0), total_days)
    return (Decimal(elapsed) * HUNDRED / Decimal(total_days)).quantize(CENT, rounding=ROUND_HALF_UP)


def _exhaustion_month(inputs: ReportInputs, months: list[dict], budget: int, remaining: int,
                      burn: int, months_elapsed: int, months_remaining: int) -> str | None:
    if budget <= 0:
        return None  # there never was money to run out of
    if remaining <= 0:
        budget_money = cents_to_money(budget)
        return next(m["month"] for m in months if m["cumulative_actual"] >= budget_money)
    if burn <= 0 or remaining >= burn * months_remaining:
        return None
    # The remaining budget pays for this many months at this burn, the last one only partly.
    funded = int((Decimal(remaining) / Decimal(burn)).to_integral_value(rounding=ROUND_CEILING))
    return month_key(inputs.start_date, months_elapsed + funded - 1)
