"""Every list endpoint runs a fixed number of queries whatever the page size and the row count;
the expenditures' filters and orderings select and order what they say."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion
from expenditures.models import ExchangeRate, Expenditure, FundTransfer, QuarterlyStatement
from grants.models import Donor, DonorPayment, Grant, GrantDonor, Location, Partner
from grants.money import divide_to_eur
from tests.api import support
from tests.api.support import API, SEED

PARITY = Decimal("655.957")
G = f"{API}/grants/{SEED}"

# At most this many queries for any list, whatever its size: the token and its user, the role
# (groups, partner membership, donor membership), the grant in the URL, the count, the page, and
# the prefetches of grants (partners, donors). A donor member needs the most (8).
MAX_QUERIES = 8


# --- n rows of each list, made in bulk ------------------------------------------------------------


def _refs():
    grant = Grant.objects.get(code=SEED)
    lines = list(BudgetLine.objects.filter(grant=grant, parent__isnull=False).order_by("position"))
    partners = {p.code: p for p in Partner.objects.all()}
    locations = list(Location.objects.order_by("code"))
    return grant, lines, partners, locations


def many_expenditures(n: int) -> None:
    grant, lines, partners, locations = _refs()
    rows = []
    for i in range(n):
        xof = Decimal(1000 + 37 * i)
        eur = divide_to_eur(xof, PARITY)
        partner = partners["BNCE" if i % 2 else "CARITAS"]
        rows.append(Expenditure(
            grant=grant, partner=partner, budget_line=lines[i % len(lines)], location=locations[i % len(locations)],
            date=date(2015, 7, 1) + timedelta(days=i % 1000), amount=Money(xof, "XOF"), amount_eur=eur,
            fx_rate=(xof / eur).quantize(Decimal("0.000001")), fx_method="parity", voucher=f"BULK-{i}",
            status="validated",
        ))
    Expenditure.objects.bulk_create(rows)


def many_transfers(n: int) -> None:
    grant, _, partners, _ = _refs()
    FundTransfer.objects.bulk_create([
        FundTransfer(grant=grant, partner=partners["BNCE" if i % 2 else "CARITAS"],
                     sent_on=date(2015, 7, 1) + timedelta(days=i % 1000),
                     received_on=date(2015, 7, 2) + timedelta(days=i % 1000),
                     amount_sent=Money(Decimal("1000.00"), "EUR"), amount_received=Money(Decimal("655957"), "XOF"),
                     fees=Money(Decimal("5.00"), "EUR"))
        for i in range(n)
    ])


def many_payments(n: int) -> None:
    """n donors' payments on the seed grant, from its two donors in turn."""
    grant = Grant.objects.get(code=SEED)
    donors = [share.donor for share in GrantDonor.objects.filter(grant=grant).select_related("donor").order_by("id")]
    DonorPayment.objects.bulk_create([
        DonorPayment(grant=grant, donor=donors[i % len(donors)],
                     received_on=date(2015, 7, 2) + timedelta(days=i % 1000),
                     amount=Money(Decimal("1000.00"), "EUR"), reference=f"P-{i}")
        for i in range(n)
    ])


def many_allocations(n: int) -> None:
    """n allocations in version 1 (the seed's 240 are dropped first)."""
    grant, lines, partners, locations = _refs()
    version = BudgetVersion.objects.get(grant=grant, number=1)
    version.allocations.all().delete()
    cells = [(line, partner, location, year) for year in (1, 2, 3) for line in lines
             for partner in partners.values() for location in locations]
    Allocation.objects.bulk_create([
        Allocation(version=version, budget_line=line, partner=partner, location=location, year=year,
                   amount=Money(Decimal("10.00"), "EUR"))
        for line, partner, location, year in cells[:n]
    ])


def many_grants(n: int) -> None:
    grants = Grant.objects.bulk_create([
        Grant(code=f"G-{i:04d}", title=f"Grant {i}", total=Money(Decimal("1000.00"), "EUR"),
              start_date=date(2020, 1, 1), end_date=date(2020, 12, 31))
        for i in range(n - 1)  # and the seed's
    ])
    bnce, donor = Partner.objects.get(code="BNCE"), Donor.objects.get(code="MAEE-LU")
    Grant.partners.through.objects.bulk_create([Grant.partners.through(grant=g, partner=bnce) for g in grants])
    GrantDonor.objects.bulk_create([GrantDonor(grant=g, donor=donor, share_pct=Decimal("100")) for g in grants])


def many_versions(n: int) -> None:
    grant = Grant.objects.get(code=SEED)
    BudgetVersion.objects.bulk_create([
        BudgetVersion(grant=grant, number=i, label=f"v{i}", status="superseded") for i in range(2, n + 1)
    ])


def many_lines(n: int) -> None:
    grant = Grant.objects.get(code=SEED)
    heading = BudgetLine.objects.create(grant=grant, code="99", label_fr="x", label_en="x", position=1000)
    existing = BudgetLine.objects.filter(grant=grant).count()
    BudgetLine.objects.bulk_create([
        BudgetLine(grant=grant, code=f"99.{i}", parent=heading, label_fr="x", label_en="x", position=1001 + i)
        for i in range(max(0, n - existing))
    ])


def many_partners(n: int) -> None:
    Partner.objects.bulk_create([Partner(code=f"P{i:04d}", name=f"P{i}", reporting_currency="XOF")
                                 for i in range(n)])


def many_locations(n: int) -> None:
    Location.objects.bulk_create([Location(code=f"L{i:04d}", name=f"L{i}") for i in range(n)])


def many_donors(n: int) -> None:
    Donor.objects.bulk_create([Donor(code=f"D{i:04d}", name=f"D{i}") for i in range(n)])


def many_rates(n: int) -> None:
    ExchangeRate.objects.bulk_create([
        ExchangeRate(currency="XOF", rate=PARITY, month=date(1900 + i // 12, i % 12 + 1, 1), source="test")
        for i in range(n)
    ])


LISTS = {
    "grants": (f"{API}/grants/", many_grants),
    "budget-lines": (f"{G}/budget-lines/", many_lines),
    "versions": (f"{G}/versions/", many_versions),
    "allocations": (f"{G}/versions/1/allocations/", many_allocations),
    "partners": (f"{API}/partners/", many_partners),
    "locations": (f"{API}/locations/", many_locations),
    "donors": (f"{API}/donors/", many_donors),
    "exchange-rates": (f"{API}/exchange-rates/", many_rates),
    "transfers": (f"{API}/transfers/", many_transfers),
    "donor-payments": (f"{API}/donor-payments/", many_payments),
    "expenditures": (f"{API}/expenditures/", many_expenditures),
}


def queries_of(client, url, params) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    return len(captured), response


@pytest.mark.parametrize("role", ["finance", "bnce", "donor"])
@pytest.mark.parametrize("page_size", [10, 1000])
@pytest.mark.parametrize("rows", [10, 1000])
@pytest.mark.parametrize("endpoint", LISTS)
def test_a_list_runs_a_bounded_number_of_queries(clients, django_assert_max_num_queries, endpoint, rows, page_size,
                                                 role):
    # given that many rows
    url, make = LISTS[endpoint]
    make(rows)
    # when a page of them is read, then the queries stay under the one bound
    with django_assert_max_num_queries(MAX_QUERIES):
        response = clients[role].get(url, {"page_size": page_size})
    assert response.status_code == 200
    body = response.json()  # every list is paginated, budget lines too
    assert len(body["results"]) == min(body["count"], page_size)


@pytest.mark.parametrize("role", ["finance", "bnce", "donor"])
@pytest.mark.parametrize("endpoint", LISTS)
def test_the_query_count_does_not_grow_with_the_page(clients, endpoint, role):
    # given 1,000 rows
    url, make = LISTS[endpoint]
    make(1000)
    # when pages of 1, 10, 100 and 1,000 are read
    counts = {size: queries_of(clients[role], url, {"page_size": size})[0] for size in (1, 10, 100, 1000)}
    # then each costs the same number of queries
    assert len(set(counts.values())) == 1, counts


def test_a_page_holds_at_most_1000_rows_and_50_by_default(clients):
    many_expenditures(1200)
    assert len(clients["finance"].get(f"{API}/expenditures/").json()["results"]) == 50
    body = clients["finance"].get(f"{API}/expenditures/", {"page_size": 5000}).json()
    assert (body["count"], len(body["results"])) == (1200, 1000)
    assert body["next"].endswith("page=2&page_size=5000") and body["previous"] is None


# --- filters and ordering of expenditures ----------------------------------------------------------------

@pytest.fixture
def spending(world, db):
    """Six expenditures, each telling apart one filter, and a statement holding two of them."""
    grant = Grant.objects.get(code=SEED)
    other = support.other_grant()
    statement = QuarterlyStatement.objects.create(grant=grant, partner=Partner.objects.get(code="BNCE"), year=2016,
                                                  quarter=1, status="submitted")
    rows = [
        ("A", grant, "BNCE", "2.1", "BKO", "2016-01-05", "655957", "XOF", "validated"),
        ("B", grant, "BNCE", "2.3", "SEG", "2016-03-31", "1312", "XOF", "submitted"),
        ("C", grant, "CARITAS", "2.1", "BKO", "2016-04-01", "6559570", "XOF", "validated"),
        ("D", grant, "ECPAT-LU", "4.2", "LUX", "2015-07-01", "250.00", "EUR", "validated"),
        ("E", grant, "BNCE", "1.1", "MOP", "2018-06-30", "328", "XOF", "draft"),
        ("F", other, "APJEC", "1.1", "BKO", "2020-03-01", "65596", "XOF", "rejected"),
    ]
    for voucher, g, partner, line, location, day, amount, currency, status in rows:
        support.expenditure(g, partner, voucher=voucher, line=line, location=location, day=date.fromisoformat(day),
                            amount=amount, currency=currency, status=status)
    Expenditure.objects.filter(voucher__in=["A", "B"]).update(statement=statement)
    return statement


def vouchers(client, params) -> list[str]:
    response = client.get(f"{API}/expenditures/", params)
    assert response.status_code == 200, response.json()
    return [row["voucher"] for row in response.json()["results"]]


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["D", "A", "B", "C", "E", "F"]),
    ({"grant": SEED}, ["D", "A", "B", "C", "E"]),
    ({"grant": "ML-OTHER-2020"}, ["F"]),
    ({"grant": "NO-SUCH"}, []),
    ({"partner": "BNCE"}, ["A", "B", "E"]),
    ({"partner": "CARITAS"}, ["C"]),
    ({"grant": SEED, "partner": "BNCE"}, ["A", "B", "E"]),
    ({"budget_line": "2.1"}, ["A", "C"]),
    ({"budget_line": "2"}, ["A", "B", "C"]),  # a heading takes its lines
    ({"budget_line": "4"}, ["D"]),
    ({"budget_line": "1.1"}, ["E", "F"]),  # both grants have a line 1.1
    ({"grant": SEED, "budget_line": "1"}, ["E"]),
    ({"location": "BKO"}, ["A", "C", "F"]),
    ({"location": "LUX"}, ["D"]),
    ({"currency": "EUR"}, ["D"]),
    ({"currency": "XOF"}, ["A", "B", "C", "E", "F"]),
    ({"status": "submitted"}, ["B"]),
    ({"status": "draft"}, ["E"]),
    ({"status": "rejected"}, ["F"]),
    ({"date_after": "2016-03-31"}, ["B", "C", "E", "F"]),  # on or after
    ({"date_before": "2016-03-31"}, ["D", "A", "B"]),  # on or before
    ({"date_after": "2016-01-01", "date_before": "2016-03-31"}, ["A", "B"]),
    ({"grant": SEED, "partner": "BNCE", "date_after": "2016-01-01", "date_before": "2016-03-31"}, ["A", "B"]),
    ({"ordering": "amount_eur"}, ["E", "B", "F", "D", "A", "C"]),
    ({"ordering": "-amount_eur"}, ["C", "A", "D", "F", "B", "E"]),
    ({"ordering": "-date"}, ["F", "E", "C", "B", "A", "D"]),
    ({"ordering": "date"}, ["D", "A", "B", "C", "E", "F"]),
    ({"partner": "BNCE", "ordering": "-amount_eur"}, ["A", "B", "E"]),
])
def test_expenditures_filter_and_order(clients, spending, params, expected):
    assert vouchers(clients["finance"], params) == expected


def test_expenditures_filter_by_statement(clients, spending):
    assert vouchers(clients["finance"], {"statement": spending.pk}) == ["A", "B"]
    assert vouchers(clients["finance"], {"statement": spending.pk + 1000}) == []


@pytest.mark.parametrize(("params", "attr"), [
    ({"currency": "USD"}, "currency"),
    ({"status": "paid"}, "status"),
    ({"date_after": "yesterday"}, "date_after"),
    ({"date_before": "2016-02-30"}, "date_before"),
    ({"statement": "first"}, "statement"),
])
def test_a_bad_filter_is_refused_with_the_filter_named(clients, spending, params, attr):
    response = clients["finance"].get(f"{API}/expenditures/", params)
    assert response.status_code == 400
    assert support.refusal(response)[1] == attr


def test_a_partner_s_filters_stay_within_its_own(clients, spending):
    # BNCE's member asking for CARITAS's spending gets nothing
    assert vouchers(clients["bnce"], {"partner": "CARITAS"}) == []
    assert vouchers(clients["bnce"], {"budget_line": "2"}) == ["A", "B"]
    assert vouchers(clients["donor"], {"budget_line": "1.1"}) == ["E"]  # not the other grant's


def test_the_count_follows_the_filters(clients, spending):
    body = clients["finance"].get(f"{API}/expenditures/", {"budget_line": "2", "page_size": 1}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 1
