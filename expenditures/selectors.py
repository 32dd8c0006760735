"""Reads on transfers, expenditures and statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, ExtractQuarter, ExtractYear

from budget.models import BudgetVersion
from expenditures.models import COUNTED_STATUSES, Expenditure, QuarterlyStatement, StatementStatus
from grants.models import Grant, Partner
from grants.money import MoneyValue, money_sum, quantize_amount
from grants.periods import next_quarter, quarter_bounds, quarter_label, quarter_of

CENT = Decimal("0.01")
ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))


def quarter_is_locked(*, grant_id: int, partner_id: int, day: date, for_update: bool = False) -> bool:
    """True when the partner's statement for the quarter of ``day`` has been accepted.

    With ``for_update`` (inside a transaction) the statement's row is locked, so that a write
    and an accept of the same quarter are serialized: whichever comes second sees the other."""
    year, quarter = quarter_of(day)
    statements = QuarterlyStatement.objects.filter(
        grant_id=grant_id, partner_id=partner_id, year=year, quarter=quarter)
    if for_update:
        statements = statements.select_for_update()
    status = statements.values_list("status", flat=True).first()
    return status == StatementStatus.ACCEPTED


def grants_with_spending(grants: QuerySet[Grant], *, partner: Partner | None = None) -> QuerySet[Grant]:
    """``grants`` with ``spent`` (the EUR of their counted expenditures, of ``partner`` only when
    one is given, summed exactly by ``money_sum``) and ``current_version_number``; read them
    with ``spending_of``."""
    spent = Expenditure.objects.filter(grant=OuterRef("pk"), status__in=COUNTED_STATUSES)
    if partner is not None:
        spent = spent.filter(partner=partner)
    spent = spent.order_by().values("grant").annotate(s=money_sum("amount_eur")).values("s")
    current = BudgetVersion.objects.filter(grant=OuterRef("pk"), is_current=True).values("number")[:1]
    return grants.annotate(spent=MoneyValue(Coalesce(Subquery(spent), ZERO)), current_version_number=Subquery(current))


@dataclass(frozen=True)
class Spending:
    spent: Decimal
    remaining: Decimal
    use_pct: Decimal | None  # None for a grant of total 0


def spending_of(grant: Grant) -> Spending:
    """A grant's EUR spent, remaining and use % (to the cent), from ``grants_with_spending``."""
    spent = (getattr(grant, "spent", None) or Decimal("0")).quantize(CENT)
    total = grant.total.amount
    return Spending(spent=spent, remaining=(total - spent).quantize(CENT),
                    use_pct=(spent * 100 / total).quantize(CENT) if total else None)


# --- a partner's quarters, as its web page lists them ------------------------------------------------

@dataclass(frozen=True)
class PartnerQuarter:
    """One calendar quarter of a partner on a grant: its statement (None: none yet) and balances,
    in the partner's reporting currency.

    With a statement, the statement's own figures (``spent``: its lines that parse). Without one,
    what its template is prefilled with and what the checks expect: the opening balance is the
    closing balance of the previous accepted statement (0 before any), the funds received are the
    transfers received in the quarter; nothing is spent or closed yet (None)."""

    grant: Grant
    year: int
    quarter: int
    start: date
    end: date
    currency: str
    statement: QuarterlyStatement | None
    opening_balance: Decimal
    funds_received: Decimal
    spent: Decimal | None
    closing_balance: Decimal | None

    @property
    def period(self) -> str:
        return quarter_label(self.year, self.quarter)

    @property
    def status(self) -> str | None:
        return self.statement.status if self.statement is not None else None

    @property
    def may_send(self) -> bool:
        """A workbook may be sent for it: no statement yet, or one still a draft or returned."""
        from expenditures.lifecycle import statement_is_editable  # lifecycle imports this module

        return self.statement is None or statement_is_editable(self.statement)

    @property
    def may_submit(self) -> bool:
        from expenditures.lifecycle import statement_is_editable

        return self.statement is not None and statement_is_editable(self.statement)


def partner_quarters(*, grant: Grant, partner: Partner, today: date) -> list[PartnerQuarter]:
    """Each quarter of ``grant`` from its first to the quarter of ``today`` (to its last at most),
    oldest first, for ``partner``. Two queries: the statements, the transfers by quarter."""
    from expenditures.models import FundTransfer
    from expenditures.statements import statement_total_spent

    currency = partner.reporting_currency
    statements = {(s.year, s.quarter): s for s in QuarterlyStatement.objects.filter(grant=grant, partner=partner)
                  .select_related("partner")}
    received = {
        (row["year"], row["quarter"]): row["total"]
        for row in FundTransfer.objects.filter(grant=grant, partner=partner, received_on__isnull=False,
                                               amount_received_currency=currency)
        .annotate(year=ExtractYear("received_on"), quarter=ExtractQuarter("received_on"))
        .values("year", "quarter").annotate(total=money_sum("amount_received")).order_by()
    }
    last = min(quarter_of(today), quarter_of(grant.end_date))
    year, quarter = quarter_of(grant.start_date)
    opening = Decimal("0")  # the closing balance of the latest accepted statement so far
    rows = []
    while (year, quarter) <= last:
        start, end = quarter_bounds(year, quarter)
        statement = statements.get((year, quarter))
        if statement is None:
            rows.append(PartnerQuarter(grant, year, quarter, start, end, currency, None, quantize_amount(
                opening, currency), quantize_amount(received.get((year, quarter)) or Decimal("0"), currency),
                None, None))
        else:
            rows.append(PartnerQuarter(
                grant, year, quarter, start, end, currency, statement, statement.opening_balance.amount,
                statement.funds_received.amount, quantize_amount(statement_total_spent(statement), currency),
                statement.closing_balance.amount))
            if statement.status == StatementStatus.ACCEPTED:
                opening = statement.closing_balance.amount
        year, quarter = next_quarter(year, quarter)
    return rows


def partner_quarter(*, grant: Grant, partner: Partner, period: str, today: date) -> PartnerQuarter | None:
    """The quarter ``period`` ("2016-Q3") of ``partner_quarters``, or None when it is not one of them."""
    return next((row for row in partner_quarters(grant=grant, partner=partner, today=today)
                 if row.period == period), None)
