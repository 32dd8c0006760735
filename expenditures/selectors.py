"""Reads on transfers, expenditures and statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from budget.models import BudgetVersion
from expenditures.models import COUNTED_STATUSES, Expenditure, QuarterlyStatement, StatementStatus
from grants.models import Grant, Partner
from grants.money import MoneyValue, money_sum
from grants.periods import quarter_of

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
