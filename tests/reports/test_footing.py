"""Every report foots (DOMAIN.md rule 3): on the Mali seed grant with a generated history, the rows
of every grouping add up to the total to the cent, nested rows add up to their parent, and the
same total comes out whichever way it is grouped. Totals are also checked against independent
sums: the database's own SUM of the stored EUR values, and a plain loop over the allocations."""

from __future__ import annotations

import calendar
import itertools
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum

from budget.models import Allocation
from expenditures.models import COUNTED_STATUSES, Expenditure, ExpenditureStatus
from reports.burn_rate import burn_rate
from reports.variance import DIMENSIONS, variance
from tests.reports.conftest import inputs_for

D = Decimal
MONEY = ("budget", "planned_to_date", "actual", "variance", "variance_to_date")
GROUPINGS = [(d,) for d in DIMENSIONS] + list(itertools.permutations(DIMENSIONS, 2))


def spend_on_seed(grant, count: int, seed: int = 7) -> None:
    """A history of ``count`` expenditures on the seed grant (the demo-data generator), then a few
    of them turned draft or rejected so that statuses matter."""
    from expenditures.demo_data import demo_data_generate

    demo_data_generate(grant=grant, seed=seed, expenditures=count)
    ids = list(Expenditure.objects.filter(grant=grant).order_by("id").values_list("id", flat=True))
    Expenditure.objects.filter(id__in=ids[::17]).update(status=ExpenditureStatus.REJECTED)
    Expenditure.objects.filter(id__in=ids[5::23]).update(status=ExpenditureStatus.DRAFT)


def planned_by_loop(grant, as_of: date) -> Decimal:
    """Planned to date by a plain loop over the allocations, month by month (an independent path)."""
    cents_total = 0
    for amount, year in Allocation.objects.filter(version__grant=grant, version__is_current=True) \
            .values_list("amount", "year"):
        cents = int(amount * 100)
        piece = int((D(cents) / 12).quantize(D(1), rounding=ROUND_HALF_UP))
        for k in range(12):
            month = (year - 1) * 12 + k
            y = grant.start_date.year + (grant.start_date.month - 1 + month) // 12
            m = (grant.start_date.month - 1 + month) % 12 + 1
            days = calendar.monthrange(y, m)[1]
            this = piece if k < 11 else cents - 11 * piece
            if date(y, m, days) <= as_of:
                cents_total += this
            elif date(y, m, 1) <= as_of:
                cents_total += int((D(this) * as_of.day / days).quantize(D(1), rounding=ROUND_HALF_UP))
    return D(cents_total) / 100


def assert_foots(rows: list[dict], total: dict, where: str) -> None:
    for name in MONEY:
        assert sum((r[name] for r in rows), D("0.00")) == total[name], f"{name} under {where}"
    for row in rows:
        if "children" in row:
            assert_foots(row["children"], row, f"{where} > {row['key']}")


@pytest.fixture
def seed_with_history(grant):
    spend_on_seed(grant, 3000)
    return grant


@pytest.mark.parametrize("as_of", [date(2016, 2, 29), date(2017, 3, 1), date(2018, 6, 30)])
def test_every_grouping_foots_to_the_same_total(seed_with_history, as_of):
    grant = seed_with_history
    inputs = inputs_for(grant, as_of)
    counted = Expenditure.objects.filter(grant=grant, status__in=COUNTED_STATUSES, date__lte=as_of)
    actual = D(counted.aggregate(s=Sum("amount_eur"))["s"] or 0).quantize(D("0.01"))
    planned = planned_by_loop(grant, as_of)
    totals = set()
    for by in GROUPINGS:
        # when
        report = variance(inputs, by=by)
        # then
        assert_foots(report["rows"], report["total"], ",".join(by))
        totals.add(tuple(report["total"][name] for name in MONEY))
    assert totals == {(D("955926.26"), planned, actual, D("955926.26") - actual, planned - actual)}
    # the burn rate's months add up to the same actual and planned
    months = burn_rate(inputs)["months"]
    assert months[-1]["cumulative_actual"] == actual
    assert months[-1]["cumulative_planned"] == planned
    assert sum((m["actual"] for m in months), D("0.00")) == actual


def test_a_partner_report_foots_and_is_the_partner_share(seed_with_history):
    from grants.models import Partner
    grant = seed_with_history
    bnce = Partner.objects.get(code="BNCE")
    as_of = date(2017, 6, 30)
    report = variance(inputs_for(grant, as_of, partner=bnce), by="heading,location")
    assert_foots(report["rows"], report["total"], "BNCE")
    budget = Allocation.objects.filter(version__grant=grant, version__is_current=True, partner=bnce) \
        .aggregate(s=Sum("amount"))["s"]
    actual = Expenditure.objects.filter(grant=grant, partner=bnce, status__in=COUNTED_STATUSES, date__lte=as_of) \
        .aggregate(s=Sum("amount_eur"))["s"]
    assert report["total"]["budget"] == D(budget).quantize(D("0.01"))
    assert report["total"]["actual"] == D(actual).quantize(D("0.01"))
