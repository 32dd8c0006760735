"""Demo data: made-up quarterly transfers and expenditures for a seeded grant.

Fake data for demos (``make run``) and benchmarks (a million rows), never for real books: every row made
here says so (``GENERATED`` opens an expenditure's description and a transfer's note), and
``replace`` deletes only such rows.

What ``demo_data_generate`` guarantees
- the same grant, seed and count give the same rows: one ``random.Random(seed)``, consumed in
  the order of ordered queries, never the global generator;
- spending follows the current budget version: each allocation (line x partner x location x
  project year) gets spending in proportion to its amount, bent by a factor per line (some run
  over, some under) and per cell, dated inside its project year at a monthly pace that starts
  slowly in the grant's first quarter;
- the total is 88-97 % of the grant whatever the number of rows: the money is split first, then
  cut into as many rows as asked, so more rows means smaller amounts, each one positive;
- amounts are drawn as whole francs (XOF partners) or cents (EUR partners) and made Decimal
  from ints; no float carries money;
- each row stores ``amount_eur``, ``fx_rate`` and ``fx_method`` from ``fx.convert``, the engine
  ``expenditure_record`` and revaluation use, with the rates read once from the rate table;
- vouchers are ``<partner>-<year>-<number>``, numbered per partner and calendar year in date
  order, so they are unique per partner;
- rows are built and written in batches of ``BATCH_SIZE`` with ``bulk_create``: no per-row save
  and no audit-trail (django-simple-history) rows; a grant converting by ``fifo`` or
  ``weighted_average`` then has its rows settled by ``fx.after_partner_change``, as after any
  write, and that revaluation records its changes.
"""

from __future__ import annotations

import random
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal
from itertools import accumulate

from django.db import models, transaction
from django.utils.translation import gettext as _
from moneyed import Money

from budget.models import Allocation, BudgetVersion
from expenditures import fx
from expenditures.models import (
    Expenditure,
    ExpenditureStatus,
    FundTransfer,
    QuarterlyStatement,
    StatementStatus,
)
from grants.errors import ApplicationError, Conflict
from grants.models import FxMethod, Grant, Partner
from grants.money import CENT, EUR, XOF, money_sum

GENERATED = "[generated]"
BATCH_SIZE = 5000

# Share of the grant spent over the 36 months, per mille.
SPEND_PER_MILLE = (880, 970)
# A line's pace against its budget, per mille: a few run over, some under, most near plan.
LINE_OVER, LINE_UNDER = (1080, 1250), (600, 850)
LINE_NEAR = (900, 1030)
CELL_NOISE = (900, 1100)
# A month's pace in percent: the grant's first three months are slow, the rest vary a little,
# and the last month of each project year catches up.
SLOW_START = (35, 55, 75)
MONTH_NOISE = (85, 115)
YEAR_END_PUSH = 120
# Relative sizes of the vouchers within one cell: many small, a few large.
VOUCHER_WEIGHTS = [base * skew for base in range(10, 100) for skew in (1, 1, 1, 1, 2, 2, 3, 5, 8, 13)]
# One row in this many of the grant's last quarter is still waiting for validation.
SUBMITTED_ONE_IN = 4
# Transfers: XOF per EUR obtained (thousandths), EUR sent above the quarter's planned need
# (percent), the bank's commission (per mille) and its fixed charges (cents).
TRANSFER_RATE_MILLI = (650000, 655000)
TRANSFER_MARGIN_PCT = (100, 108)
TRANSFER_COMMISSION_PER_MILLE = 6
TRANSFER_CHARGES_CENTS = (500, 3500)


class DemoDataExists(Conflict):
    """The grant already has expenditures or transfers and neither replace nor if_empty was asked."""


@dataclass(frozen=True)
class DemoDataSummary:
    grant_code: str
    seed: int
    budget_eur: Decimal
    expenditures: int = 0
    transfers: int = 0
    total_eur: Decimal = Decimal("0.00")
    sent_eur: Decimal = Decimal("0.00")
    fees_eur: Decimal = Decimal("0.00")
    deleted_expenditures: int = 0
    deleted_transfers: int = 0
    skipped: str = ""

    @property
    def spent_pct(self) -> Decimal:
        if not self.budget_eur:
            return Decimal("0.0")
        return (self.total_eur * 100 / self.budget_eur).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class _Cell:
    """One allocation of the current version, and the spending generated for it."""

    allocation: Allocation
    weight: int
    rows: int = 0
    units: int = 0  # whole francs or cents, in the partner's currency

    @property
    def currency(self) -> str:
        return self.allocation.partner.reporting_currency


class _Calendar:
    """The grant's days by project month, and the monthly pace drawn for this demo data."""

    def __init__(self, grant: Grant, rng: random.Random):
        self.grant = grant
        self.month_days: list[list[date]] = []
        for month in range(grant.months):
            year, month0 = divmod(grant.start_date.month - 1 + month, 12)
            year += grant.start_date.year
            first = max(date(year, month0 + 1, 1), grant.start_date)
            last = min(date(year, month0 + 1, monthrange(year, month0 + 1)[1]), grant.end_date)
            self.month_days.append([first + timedelta(days=d) for d in range((last - first).days + 1)])
        self.pace = []
        for month in range(grant.months):
            pace = rng.randint(*MONTH_NOISE)
            if month < len(SLOW_START):
                pace = pace * SLOW_START[month] // 100
            elif month % 12 == 11:
                pace = pace * YEAR_END_PUSH // 100
            self.pace.append(pace)
        self._years: dict[int, tuple[list[date], list[int]]] = {}

    def months_of_year(self, year: int) -> range:
        """Project months of project ``year``; a year beyond the grant counts as its last."""
        year = min(max(year, 1), self.grant.years)
        return range(12 * (year - 1), min(12 * year, self.grant.months))

    def days_of_year(self, year: int) -> tuple[list[date], list[int]]:
        """The days of project ``year`` and their cumulative weights (each day weighs its month's pace)."""
        if year not in self._years:
            days, weights = [], []
            for month in self.months_of_year(year):
                days.extend(self.month_days[month])
                weights.extend([self.pace[month]] * len(self.month_days[month]))
            self._years[year] = (days, list(accumulate(weights)))
        return self._years[year]

    def quarter_shares(self, year: int) -> dict[int, int]:
        """Weight of each grant quarter (0-based) in project ``year``: sum of its days' weights."""
        shares: dict[int, int] = {}
        for month in self.months_of_year(year):
            shares[month // 3] = shares.get(month // 3, 0) + self.pace[month] * len(self.month_days[month])
        return shares

    @property
    def quarters(self) -> int:
        return (self.grant.months + 2) // 3


class _Converter:
    """The stored conversion of one row, from ``fx.convert`` (the engine every path uses), with
    the rate table read once. Conversions are remembered by what they depend on (amount,
    currency, month under monthly rates, status): with many rows, amounts repeat. Under fifo and
    weighted average these are the parity, which ``fx.after_partner_change`` settles once the
    rows are written."""

    def __init__(self, grant: Grant):
        self.method = grant.fx_method
        self.context = fx.ConversionContext(fx.RateBook())
        self._known: dict[tuple, fx.Conversion] = {}

    def __call__(self, amount: Decimal, currency: str, day: date, status: str) -> fx.Conversion:
        month = day.replace(day=1) if self.method == FxMethod.MONTHLY_RATE else None
        key = (amount, currency, month, status)
        if key not in self._known:
            self._known[key] = fx.convert(amount, currency, self.method, day, status, self.context)
        return self._known[key]


def split_units(total: int, weights: list[int], *, floor: int = 0) -> list[int]:
    """``total`` whole units cut into ``len(weights)`` parts in proportion to ``weights``, each
    part at least ``floor``; the parts add up to ``total`` exactly. Integers only."""
    rest = total - floor * len(weights)
    if rest < 0:
        raise ValueError("the floor takes more than the total")
    weight_sum = sum(weights)
    parts = [floor + rest * w // weight_sum for w in weights]
    for i in range(total - sum(parts)):  # fewer units left over than parts
        parts[i] += 1
    return parts


@transaction.atomic
def demo_data_generate(*, grant: Grant, seed: int = 42, expenditures: int = 5000, replace: bool = False,
                       if_empty: bool = False, progress=None) -> DemoDataSummary:
    """Generate ``expenditures`` expenditures and the quarterly transfers for ``grant``.

    With ``if_empty``, does nothing (``skipped`` says why) when the grant has expenditures or
    transfers; with ``replace``, first deletes the rows an earlier run generated. Raises
    ``DemoDataExists`` (409) when the grant has rows and neither was asked, ``Conflict`` when a
    statement of the grant is accepted (its quarter is locked), ``ApplicationError`` when the grant
    has no current budget version or ``expenditures`` is not positive. ``progress``, if given, is
    called with (expenditures made, expenditures to make) after each batch (``grants.progress``).
    """
    if expenditures < 1:
        raise ApplicationError(_("Generate at least one expenditure."), attr="expenditures")
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    budget_eur = grant.total.amount
    summary = {"grant_code": grant.code, "seed": seed, "budget_eur": budget_eur}
    has_expenditures = Expenditure.objects.filter(grant=grant).count()
    has_transfers = FundTransfer.objects.filter(grant=grant).count()
    if (has_expenditures or has_transfers) and not replace:
        reason = f"{grant.code} already has {has_expenditures} expenditures and {has_transfers} transfers"
        if if_empty:
            return DemoDataSummary(**summary, skipped=reason)
        raise DemoDataExists(f"{reason}; replace them or leave them.")
    if QuarterlyStatement.objects.filter(grant=grant, status=StatementStatus.ACCEPTED).exists():
        raise Conflict(_("%(grant)s has accepted statements: their quarters are locked, so no demo data is generated "
                         "in them.") % {
            "grant": grant.code})
    version = BudgetVersion.objects.filter(grant=grant, is_current=True).first()
    if version is None:
        raise ApplicationError(_("%(grant)s has no current budget version to follow.") % {"grant": grant.code})
    deleted = _delete_generated(grant) if replace else (0, 0)

    rng = random.Random(seed)
    calendar = _Calendar(grant, rng)
    cells = _plan_cells(grant, version, rng, expenditures)
    convert = _Converter(grant)
    made = 0
    for batch in _batches(_expenditures(grant, cells, calendar, convert, rng), BATCH_SIZE):
        Expenditure.objects.bulk_create(batch, batch_size=BATCH_SIZE)
        made += len(batch)
        if progress is not None:
            progress(made, expenditures)
    transfers = _transfers(grant, cells, calendar, rng, seed)
    FundTransfer.objects.bulk_create(transfers, batch_size=BATCH_SIZE)

    # Methods whose conversions read the partner's transfers and other rows settle them now.
    for partner in Partner.objects.filter(pk__in={c.allocation.partner_id for c in cells}).order_by("code"):
        fx.after_partner_change(grant=grant, partner=partner)

    total_eur = Expenditure.objects.filter(grant=grant, description__startswith=GENERATED).aggregate(
        s=money_sum("amount_eur"))["s"] or Decimal("0.00")
    return DemoDataSummary(
        **summary, expenditures=made, transfers=len(transfers), total_eur=total_eur,
        sent_eur=sum((t.amount_sent.amount for t in transfers), Decimal("0.00")),
        fees_eur=sum((t.fees.amount for t in transfers), Decimal("0.00")),
        deleted_expenditures=deleted[0], deleted_transfers=deleted[1],
    )


def _delete_generated(grant: Grant) -> tuple[int, int]:
    """Delete the rows an earlier run generated; returns (expenditures, transfers) deleted.

    A plain SQL DELETE: the ORM's delete() would load every row to send the signals that write
    one history row each, which generated rows never had. Rows derived from them (fifo's funding
    pieces) go first.
    """
    expenditures = Expenditure.objects.filter(grant=grant, description__startswith=GENERATED)
    transfers = FundTransfer.objects.filter(grant=grant, note__startswith=GENERATED)
    for rows in (expenditures, transfers):
        for relation in rows.model._meta.related_objects:
            dependents = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": rows})
            if relation.on_delete is models.CASCADE:
                dependents.delete()
            elif relation.on_delete is models.SET_NULL:
                dependents.update(**{relation.field.name: None})
    return expenditures._raw_delete(expenditures.db), transfers._raw_delete(transfers.db)


def _plan_cells(grant: Grant, version: BudgetVersion, rng: random.Random, expenditures: int) -> list[_Cell]:
    """The allocations with the rows and money each gets. Money first: its total does not depend
    on the number of rows."""
    allocations = list(
        Allocation.objects.filter(version=version, amount__gt=0)
        .select_related("budget_line", "partner", "location")
        .order_by("budget_line__position", "budget_line__code", "partner__code", "location__code", "year")
    )
    if not allocations:
        raise ApplicationError(_("%(grant)s's current budget version allocates nothing.") % {"grant": grant.code})
    line_pace: dict[int, int] = {}
    cells = []
    for allocation in allocations:
        if allocation.budget_line_id not in line_pace:
            draw = rng.randrange(100)
            band = LINE_OVER if draw < 15 else LINE_UNDER if draw < 35 else LINE_NEAR
            line_pace[allocation.budget_line_id] = rng.randint(*band)
        cents = int(allocation.amount.amount.scaleb(2))
        weight = cents * line_pace[allocation.budget_line_id] * rng.randint(*CELL_NOISE)
        cells.append(_Cell(allocation=allocation, weight=weight))

    # Every cell gets a row when there are enough; the others go where the money is.
    base = 1 if expenditures >= len(cells) else 0
    for cell in cells:
        cell.rows = base
    cum_weights = list(accumulate(cell.weight for cell in cells))
    for index in rng.choices(range(len(cells)), cum_weights=cum_weights, k=expenditures - base * len(cells)):
        cells[index].rows += 1
    cells = [cell for cell in cells if cell.rows]

    budget_cents = int(grant.total.amount.scaleb(2))
    target_cents = budget_cents * rng.randint(*SPEND_PER_MILLE) // 1000
    parity = fx.parity_rate()
    for cell, cents in zip(cells, split_units(target_cents, [c.weight for c in cells]), strict=True):
        if cell.currency == XOF:
            units = int((Decimal(cents) * parity / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        else:
            units = cents
        cell.units = max(units, cell.rows)  # every row at least one franc or cent
    return cells


def _expenditures(grant: Grant, cells: list[_Cell], calendar: _Calendar, convert: _Converter,
                  rng: random.Random) -> Iterator[Expenditure]:
    """The expenditures, partner by partner (by code), each partner's in date order."""
    last_quarter_starts = calendar.month_days[3 * (calendar.quarters - 1)][0]
    by_partner: dict[str, list[_Cell]] = {}
    for cell in cells:
        by_partner.setdefault(cell.allocation.partner.code, []).append(cell)
    for code in sorted(by_partner):
        rows: list[tuple[date, int, int]] = []
        constants = []
        for order, cell in enumerate(by_partner[code]):
            amounts = split_units(cell.units, rng.choices(VOUCHER_WEIGHTS, k=cell.rows),
                                  floor=max(1, cell.units // (4 * cell.rows)))
            days, cum_weights = calendar.days_of_year(cell.allocation.year)
            dates = rng.choices(days, cum_weights=cum_weights, k=cell.rows)
            rows.extend(zip(dates, [order] * cell.rows, amounts, strict=True))
            a = cell.allocation
            constants.append({"grant_id": grant.pk, "partner_id": a.partner_id, "budget_line_id": a.budget_line_id,
                              "location_id": a.location_id, "description": _description(a)})
        rows.sort()
        currency = by_partner[code][0].currency
        year, number = None, 0
        for day, order, units in rows:
            if day.year != year:
                year, number = day.year, 0
            number += 1
            amount = Decimal(units) if currency == XOF else Decimal(units).scaleb(-2)
            late = day >= last_quarter_starts and rng.randrange(SUBMITTED_ONE_IN) == 0
            status = ExpenditureStatus.SUBMITTED if late else ExpenditureStatus.VALIDATED
            conversion = convert(amount, currency, day, status)
            yield Expenditure(
                **constants[order], date=day, amount=amount, amount_currency=currency,
                **dict(zip(fx.STORED_FIELDS, conversion.values, strict=True)),
                voucher=f"{code}-{year}-{number:06d}", status=status,
            )


def _description(allocation: Allocation) -> str:
    line, location = allocation.budget_line, allocation.location
    return f"{GENERATED} {line.code} {line.label_fr}, {location.name}"[:500]


def _transfers(grant: Grant, cells: list[_Cell], calendar: _Calendar, rng: random.Random,
               seed: int) -> list[FundTransfer]:
    """One transfer a quarter to each partner that spends XOF, early in the quarter, for the
    quarter's planned spending and a little more, at a rate a little under the parity."""
    need: dict[tuple[str, int], int] = {}  # (partner code, quarter) -> XOF planned
    partners: dict[str, Partner] = {}
    for cell in cells:
        if cell.currency != XOF:
            continue
        partner = cell.allocation.partner
        partners[partner.code] = partner
        shares = calendar.quarter_shares(cell.allocation.year)
        for quarter, part in zip(shares, split_units(cell.units, list(shares.values())), strict=True):
            need[partner.code, quarter] = need.get((partner.code, quarter), 0) + part
    transfers = []
    for code in sorted(partners):
        for quarter in range(calendar.quarters):
            xof = need.get((code, quarter), 0)
            if not xof:
                continue
            rate = Decimal(rng.randint(*TRANSFER_RATE_MILLI)).scaleb(-3)
            wanted = Decimal(xof * rng.randint(*TRANSFER_MARGIN_PCT)) / 100 / rate
            sent = ((wanted / 100).to_integral_value(rounding=ROUND_CEILING) * 100).quantize(CENT)
            received = (sent * rate).quantize(Decimal("1"), rounding=ROUND_DOWN)
            fees = ((sent * TRANSFER_COMMISSION_PER_MILLE / 1000).quantize(CENT, rounding=ROUND_HALF_UP)
                    + Decimal(rng.randint(*TRANSFER_CHARGES_CENTS)).scaleb(-2))
            quarter_days = [d for m in range(3 * quarter, min(3 * quarter + 3, grant.months))
                            for d in calendar.month_days[m]]
            sent_on = quarter_days[min(rng.randint(0, 6), len(quarter_days) - 1)]
            received_on = min(sent_on + timedelta(days=rng.randint(1, 4)), grant.end_date)
            transfers.append(FundTransfer(
                grant_id=grant.pk, partner_id=partners[code].pk, sent_on=sent_on, received_on=received_on,
                amount_sent=Money(sent, EUR), amount_received=Money(received, XOF), fees=Money(fees, EUR),
                reference=f"VIR-{code}-{sent_on:%Y%m%d}",
                note=f"{GENERATED} seed {seed}: funds for {code}'s quarter {quarter + 1} of {grant.code}",
            ))
    return transfers


def _batches(rows: Iterator[Expenditure], size: int) -> Iterator[list[Expenditure]]:
    batch: list[Expenditure] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

