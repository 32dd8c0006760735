"""A monthly rate moved to another month revalues both months' spending (monthly_rate grants)."""

from datetime import date
from decimal import Decimal

from moneyed import Money

from budget.models import BudgetLine
from expenditures.models import Expenditure
from expenditures.revaluation import grant_revalue
from expenditures.services import exchange_rate_record, exchange_rate_update, expenditure_record
from grants.models import Location, Partner


def test_a_rate_moved_to_another_month_revalues_both(grant):
    grant_revalue(grant=grant, method="monthly_rate")
    partner, line = Partner.objects.get(code="BNCE"), BudgetLine.objects.get(grant=grant, code="2.1")
    seg = Location.objects.get(code="SEG")
    january = expenditure_record(grant=grant, partner=partner, budget_line=line, location=seg,
                                 amount=Money(Decimal("650000"), "XOF"), date=date(2016, 1, 20), voucher="J")
    february = expenditure_record(grant=grant, partner=partner, budget_line=line, location=seg,
                                  amount=Money(Decimal("650000"), "XOF"), date=date(2016, 2, 20), voucher="F")
    rate = exchange_rate_record(currency="XOF", rate=Decimal("650"), month=date(2016, 1, 1), source="EU")
    assert Expenditure.objects.get(pk=january.pk).amount_eur == Decimal("1000.00")
    # moved to February: January falls back to the parity (flagged), February takes the rate
    exchange_rate_update(rate=rate, month=date(2016, 2, 1))
    jan, feb = Expenditure.objects.get(pk=january.pk), Expenditure.objects.get(pk=february.pk)
    assert (jan.amount_eur, jan.rate_missing) == (Decimal("990.92"), True)  # 650000 / 655.957
    assert (feb.amount_eur, feb.rate_missing) == (Decimal("1000.00"), False)
