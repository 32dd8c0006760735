"""``grants.money.money_sum`` against Python's ``Decimal``, to the cent, over thousands of rows.

SQLite stores decimals as REAL and a plain ``Sum`` adds them as floats. Over the demo data below
(seed 42, 5,000 expenditures, SQLite 3.40) ``aggregate(Sum("amount_eur"))`` answered
Decimal("915777.659999999") where the rows add up to 915777.66 (run against ``make run``'s
database, 915777.059999997 for 915777.06; the seed's allocations, 955926.260000000). With a plain
``Sum`` in place of ``money_sum`` the first test fails on the value and the second on the
quantization (totals such as 472725465 francs come back unquantized); the API tests check the same
totals end to end (its serializers quantize, so there a float would show only past ~10^9 EUR).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from budget.models import Allocation
from expenditures.demo_data import demo_data_generate
from expenditures.models import COUNTED_STATUSES, Expenditure
from grants.money import EUR, XOF, money_sum

ROWS = 5000


@pytest.fixture
def spending(grant):
    demo_data_generate(grant=grant, seed=42, expenditures=ROWS)
    return grant


def _python_sum(values) -> Decimal:
    """The independent path: the stored values read one by one, added as ``Decimal``."""
    return sum(values, Decimal("0.00"))


def _plain_sum_is_float_on_this_sqlite() -> bool:
    # SQLite 3.43 adds REALs with Kahan-Babuska-Neumaier summation, which hides the error at this
    # size; before it, a plain Sum over these rows is off (the witness that the data bites).
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 43, 0)


@pytest.mark.django_db
def test_money_sum_is_the_decimal_sum_of_thousands_of_rows(spending):
    # given 5,000 generated expenditures with awkward cents
    rows = Expenditure.objects.filter(grant=spending)
    assert rows.count() == ROWS
    expected = _python_sum(rows.values_list("amount_eur", flat=True))

    # when the database sums them
    total = rows.aggregate(total=money_sum("amount_eur"))["total"]

    # then the sum is that Decimal to the cent, quantized to the cent, never a float
    assert isinstance(total, Decimal)
    assert total == expected
    assert total.as_tuple().exponent == -2
    assert str(total) == str(expected.quantize(Decimal("0.01")))
    if _plain_sum_is_float_on_this_sqlite():
        assert rows.aggregate(total=Sum("amount_eur"))["total"] != expected


@pytest.mark.django_db
def test_money_sum_by_currency_never_adds_xof_to_eur(spending):
    # given the same rows, some spent in XOF and some in EUR
    expected: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for amount, currency in Expenditure.objects.filter(grant=spending).values_list("amount", "amount_currency"):
        expected[currency] += amount
    assert set(expected) == {XOF, EUR}

    # when summed in the database, grouped by currency
    totals = dict(
        Expenditure.objects.filter(grant=spending).order_by().values("amount_currency")
        .annotate(total=money_sum("amount")).values_list("amount_currency", "total")
    )

    # then each currency's total is its own Decimal sum, to the unit of the column
    assert totals == dict(expected)
    assert all(total.as_tuple().exponent == -2 for total in totals.values())


@pytest.mark.django_db
def test_money_sum_in_whole_francs(spending):
    # given the XOF spending (whole francs in a two-decimal column)
    rows = Expenditure.objects.filter(grant=spending, amount_currency=XOF)
    expected = sum(rows.values_list("amount", flat=True), Decimal("0"))
    assert expected > 0

    # when summed with places=0, then the total is in whole francs, the Decimal sum
    total = rows.aggregate(total=money_sum("amount", 0))["total"]
    assert total == expected
    assert total.as_tuple().exponent == 0


@pytest.mark.django_db
def test_money_sum_over_no_rows_is_none():
    assert Expenditure.objects.none().aggregate(total=money_sum("amount_eur"))["total"] is None


@pytest.mark.django_db
def test_the_grant_list_s_spent_is_the_decimal_sum_of_the_counted_rows(spending, finance):
    # given the counted expenditures' stored EUR values, added in Python
    counted = Expenditure.objects.filter(grant=spending, status__in=COUNTED_STATUSES)
    expected = _python_sum(counted.values_list("amount_eur", flat=True))

    # when finance lists the grants
    response = finance.get("/api/v1/grants/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    (row,) = [r for r in rows if r["code"] == spending.code]

    # then the grant's spent is that sum, as a string to the cent
    assert row["spent_eur"] == str(expected)


@pytest.mark.django_db
def test_a_version_s_total_is_the_decimal_sum_of_its_allocations(grant, finance):
    # given the seed's approved version 1 and its allocations, added in Python
    expected = _python_sum(Allocation.objects.filter(version__grant=grant, version__number=1)
                           .values_list("amount", flat=True))

    # when finance reads the versions, then version 1's total is that sum
    response = finance.get(f"/api/v1/grants/{grant.code}/versions/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    (version,) = [v for v in rows if v["number"] == 1]
    assert Decimal(version["total"]) == expected
