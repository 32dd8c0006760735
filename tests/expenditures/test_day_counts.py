"""ExpenditureDayCount is kept by database triggers (migration 0005): whatever writes the
expenditures (a service, a bulk insert, a QuerySet.update or delete), the day counts equal a
GROUP BY of the expenditures by grant, partner and date."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count, F
from moneyed import Money

from budget.models import BudgetLine
from expenditures.demo_data import demo_data_generate
from expenditures.models import Expenditure, ExpenditureDayCount, ExpenditureStatus
from expenditures.services import expenditure_delete, expenditure_record, expenditure_update
from grants.models import Location, Partner


def counted() -> dict:
    rows = Expenditure.objects.order_by().values_list("grant_id", "partner_id", "date").annotate(n=Count("id"))
    return {(grant, partner, day): n for grant, partner, day, n in rows}


def day_counts() -> dict:
    rows = ExpenditureDayCount.objects.exclude(count=0).values_list("grant_id", "partner_id", "date", "count")
    return {(grant, partner, day): n for grant, partner, day, n in rows}


def test_bulk_inserts_and_deletes_are_counted_by_day(grant):
    demo_data_generate(grant=grant, seed=3, expenditures=600)
    assert sum(counted().values()) == 600 and day_counts() == counted()
    demo_data_generate(grant=grant, seed=4, expenditures=250, replace=True)  # deletes the 600 in bulk
    assert sum(counted().values()) == 250 and day_counts() == counted()
    assert not ExpenditureDayCount.objects.filter(count__lt=0).exists()


def test_changes_of_date_partner_or_grant_move_the_count(grant):
    demo_data_generate(grant=grant, seed=5, expenditures=300)
    Expenditure.objects.filter(id__in=Expenditure.objects.order_by("id").values("id")[:40]).update(
        date=F("date") + timedelta(days=1))
    caritas = Partner.objects.get(code="CARITAS")
    Expenditure.objects.filter(partner__code="BNCE").order_by().filter(date__month=3).update(partner=caritas)
    Expenditure.objects.filter(status=ExpenditureStatus.VALIDATED).update(status=ExpenditureStatus.SUBMITTED)
    Expenditure.objects.filter(id__in=Expenditure.objects.order_by("-id").values("id")[:25]).delete()
    assert day_counts() == counted()


def test_the_services_keep_the_counts(grant):
    bnce = Partner.objects.get(code="BNCE")
    line = BudgetLine.objects.get(grant=grant, code="2.1")
    seg = Location.objects.get(code="SEG")
    made = [expenditure_record(grant=grant, partner=bnce, budget_line=line, location=seg, date=date(2016, 2, 1),
                               amount=Money(1000 + n, "XOF"), voucher=f"DC-{n}") for n in range(3)]
    assert day_counts() == {(grant.pk, bnce.pk, date(2016, 2, 1)): 3}
    expenditure_update(expenditure=made[0], date=date(2016, 2, 2))
    expenditure_update(expenditure=made[1], amount=Money(5000, "XOF"))  # neither grant, partner nor date
    expenditure_delete(expenditure=made[2])
    assert day_counts() == counted() == {(grant.pk, bnce.pk, date(2016, 2, 1)): 1,
                                         (grant.pk, bnce.pk, date(2016, 2, 2)): 1}
