"""Reads on transfers, expenditures and statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from budget.models import Allocation, BudgetVersion
from expenditures.models import COUNTED_STATUSES, Expenditure, FundTransfer, QuarterlyStatement, StatementStatus
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


@dataclass(frozen=True)
class LedgerFigures:
    """What the ledger says a partner's statement for a quarter should carry, in the partner's
    reporting currency: ``opening_balance``, the money still unspent when the quarter starts, and
    ``funds_received``, the transfers received in the quarter. ``since`` is the period of the
    accepted statement the opening balance counts from (None: the grant's start)."""

    opening_balance: Decimal
    funds_received: Decimal
    since: str | None


def statement_ledger_figures(*, grant: Grant, partner: Partner, year: int, quarter: int) -> LedgerFigures:
    """The one computation of a statement's ledger figures: the template prefills them, a statement
    created without them gets them, and the checks at submission and acceptance compare with them.

    The opening balance is the closing balance of the partner's latest accepted statement before the
    quarter (0 with none), plus the transfers received and less the counted spending (expenditures
    submitted or validated) dated after that statement's quarter (after nothing: since the grant's
    start) and before this one: a quarter with no accepted statement still moves the money. Sums
    in the partner's currency only; four queries."""
    currency = partner.reporting_currency
    start, end = quarter_bounds(year, quarter)
    earlier = Q(year__lt=year) | Q(year=year, quarter__lt=quarter)
    previous = (QuarterlyStatement.objects.filter(earlier, grant=grant, partner=partner,
                                                  status=StatementStatus.ACCEPTED)
                .order_by("-year", "-quarter").first())
    transfers = FundTransfer.objects.filter(grant=grant, partner=partner, amount_received_currency=currency)
    spending = Expenditure.objects.filter(grant=grant, partner=partner, status__in=COUNTED_STATUSES,
                                          amount_currency=currency, date__lt=start)
    opening, since = Decimal("0"), None
    transfers_before = transfers.filter(received_on__lt=start)
    if previous is not None:
        after = quarter_bounds(previous.year, previous.quarter)[1]
        opening, since = previous.closing_balance.amount, quarter_label(previous.year, previous.quarter)
        transfers_before = transfers_before.filter(received_on__gt=after)
        spending = spending.filter(date__gt=after)

    def total(rows, field: str) -> Decimal:
        return rows.aggregate(total=money_sum(field))["total"] or Decimal("0")

    opening += total(transfers_before, "amount_received") - total(spending, "amount")
    received = total(transfers.filter(received_on__gte=start, received_on__lte=end), "amount_received")
    return LedgerFigures(opening_balance=opening, funds_received=received, since=since)


# --- a partner's quarters, as its web page lists them ------------------------------------------------

@dataclass(frozen=True)
class PartnerQuarter:
    """One calendar quarter of a partner on a grant: its statement (None: none yet) and balances,
    in the partner's reporting currency.

    With a statement, the statement's own figures (``spent``: its lines that parse). Without one,
    what its template is prefilled with and what the checks expect (``statement_ledger_figures``);
    nothing is spent or closed yet (None)."""

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
    oldest first, for ``partner``. A quarter without a statement shows what its template is
    filled with (``statement_ledger_figures``, the one computation)."""
    from expenditures.statements import statement_total_spent

    currency = partner.reporting_currency
    statements = {(s.year, s.quarter): s for s in QuarterlyStatement.objects.filter(grant=grant, partner=partner)
                  .select_related("partner")}
    last = min(quarter_of(today), quarter_of(grant.end_date))
    year, quarter = quarter_of(grant.start_date)
    rows = []
    while (year, quarter) <= last:
        start, end = quarter_bounds(year, quarter)
        statement = statements.get((year, quarter))
        if statement is None:
            figures = statement_ledger_figures(grant=grant, partner=partner, year=year, quarter=quarter)
            rows.append(PartnerQuarter(grant, year, quarter, start, end, currency, None,
                                       quantize_amount(figures.opening_balance, currency),
                                       quantize_amount(figures.funds_received, currency), None, None))
        else:
            rows.append(PartnerQuarter(
                grant, year, quarter, start, end, currency, statement, statement.opening_balance.amount,
                statement.funds_received.amount, quantize_amount(statement_total_spent(statement), currency),
                statement.closing_balance.amount))
        year, quarter = next_quarter(year, quarter)
    return rows


def partner_quarter(*, grant: Grant, partner: Partner, period: str, today: date) -> PartnerQuarter | None:
    """The quarter ``period`` ("2016-Q3") of ``partner_quarters``, or None when it is not one of them."""
    return next((row for row in partner_quarters(grant=grant, partner=partner, today=today)
                 if row.period == period), None)


# --- a statement as the finance officer reviews it --------------------------------------------------

@dataclass(frozen=True)
class StatementLineBudget:
    """A budget line as a statement's review shows it, in EUR: the partner's budget on it (the
    current version), ``spent_before`` (its counted expenditures dated before the quarter),
    ``this_quarter`` (the statement's own lines) and what ``remaining`` after them."""

    budget: Decimal
    spent_before: Decimal
    this_quarter: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent_before - self.this_quarter


def statement_line_budgets(*, statement: QuarterlyStatement, this_quarter_eur: dict[int, Decimal]
                           ) -> dict[int, StatementLineBudget]:
    """Per budget line id in ``this_quarter_eur`` (the statement's EUR by line, worked out by the
    caller from the stored rows or the parity): budget, spent before the quarter, this quarter,
    remaining, each summed exactly (``money_sum``). Two queries."""
    if not this_quarter_eur:
        return {}
    start, _end = quarter_bounds(statement.year, statement.quarter)
    line_ids = list(this_quarter_eur)
    current = BudgetVersion.objects.filter(grant=statement.grant_id, is_current=True).first()
    budget: dict[int, Decimal] = {}
    if current is not None:
        budget = dict(Allocation.objects.filter(version=current, partner=statement.partner_id,
                                                budget_line_id__in=line_ids)
                      .values("budget_line_id").annotate(total=money_sum("amount"))
                      .values_list("budget_line_id", "total").order_by())
    before = Expenditure.objects.filter(grant=statement.grant_id, partner=statement.partner_id,
                                        budget_line_id__in=line_ids, status__in=COUNTED_STATUSES, date__lt=start)
    if statement.pk is not None:
        before = before.exclude(statement=statement)
    spent = dict(before.values("budget_line_id").annotate(total=money_sum("amount_eur"))
                 .values_list("budget_line_id", "total").order_by())
    return {line_id: StatementLineBudget(budget=budget.get(line_id) or Decimal("0"),
                                         spent_before=spent.get(line_id) or Decimal("0"),
                                         this_quarter=this_quarter_eur[line_id])
            for line_id in line_ids}


@dataclass(frozen=True)
class ExpenditureTotals:
    """The sums of a set of expenditures: by the currency spent (never added across currencies)
    and the stored EUR values, each exact to the cent (``money_sum``)."""

    count: int
    by_currency: dict[str, Decimal]
    eur: Decimal


def expenditure_totals(expenditures: QuerySet[Expenditure]) -> ExpenditureTotals:
    """Totals of ``expenditures`` (a list's filtered rows, whatever their ordering). Two queries."""
    rows = expenditures.order_by().values("amount_currency").annotate(total=money_sum("amount"), n=Count("pk"))
    by_currency = {row["amount_currency"]: row["total"] or Decimal("0") for row in rows.order_by("amount_currency")}
    count = sum(row["n"] for row in rows)
    eur = expenditures.order_by().aggregate(total=money_sum("amount_eur"))["total"] or Decimal("0")
    return ExpenditureTotals(count=count, by_currency=by_currency, eur=eur)
