"""The expenditure list reads plain rows (``ExpenditureViewSet.list``), not model instances through
``ExpenditureSerializer``: each of its rows must be exactly what the serializer shows for that
expenditure, the one the detail endpoint answers, under every conversion method."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money

from expenditures.demo_data import demo_data_generate
from expenditures.models import Expenditure
from expenditures.revaluation import grant_revalue
from expenditures.services import transfer_record
from expenditures.statements import statement_create
from grants.models import Partner

URL = "/api/v1/expenditures/"


def _world(grant, finance, method):
    demo_data_generate(grant=grant, seed=7, expenditures=120)
    bnce = Partner.objects.get(code="BNCE")
    transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 1, 10), received_on=date(2016, 1, 15),
                    amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=Money(Decimal("6500000"), "XOF"))
    for voucher, amount, currency in (("L-EUR", "1234.50", "EUR"), ("L-XOF", "7000001", "XOF")):
        body = {"grant": grant.code, "partner": "BNCE", "budget_line": "2.1", "location": "SEG",
                "date": "2016-02-01", "amount": amount, "amount_currency": currency, "voucher": voucher,
                "description": "Ateliers à Ségou"}
        assert finance.post(URL, body).status_code == 201
    statement = statement_create(grant=grant, partner=bnce, period="2016-Q1")
    Expenditure.objects.filter(partner=bnce, date__range=(date(2016, 1, 1), date(2016, 3, 31))).update(
        statement=statement)
    grant_revalue(grant=grant, method=method)


@pytest.mark.parametrize("method", ["parity", "fifo", "weighted_average", "monthly_rate"])
def test_each_listed_row_is_the_expenditure_as_its_detail_shows_it(grant, finance, bnce, method):
    _world(grant, finance, method)
    listed = finance.get(URL, {"grant": grant.code, "page_size": 1000}).json()
    assert listed["count"] == Expenditure.objects.filter(grant=grant).count() == len(listed["results"])
    for row in listed["results"]:
        assert row == finance.get(f"{URL}{row['id']}/").json()
    shown = {(row["amount_currency"], bool(row["funding"]), row["statement"] is not None) for row in listed["results"]}
    assert {"EUR", "XOF"} <= {currency for currency, _, _ in shown}
    assert any(statement for _, _, statement in shown)
    assert any(funded for _, funded, _ in shown) == (method == "fifo")
    # a partner member's page is the same rows, its own
    own = bnce.get(URL, {"page_size": 1000}).json()["results"]
    assert own == [row for row in listed["results"] if row["partner"] == "BNCE"]


def test_the_list_orders_and_pages_as_before(grant, finance):
    _world(grant, finance, "parity")
    first = finance.get(URL, {"grant": grant.code, "ordering": "-amount_eur", "page_size": 7}).json()
    second = finance.get(first["next"]).json()
    rows = first["results"] + second["results"]
    assert [Decimal(row["amount_eur"]) for row in rows] == sorted((Decimal(row["amount_eur"]) for row in rows),
                                                                   reverse=True)
    assert first["previous"] is None and second["previous"] is not None and len(rows) == 14
    empty = finance.get(URL, {"grant": grant.code, "date_before": "2015-01-01"}).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


FILTERS = [
    {"grant": "ML-ESEC-2015"},
    {"grant": "ML-ESEC-2015", "partner": "BNCE", "date_after": "2016-01-01", "date_before": "2016-03-31"},
    {"partner": "CARITAS", "date_after": "2016-02-01"},
    {"date_before": "2016-02-01"},
    {"grant": "NO-SUCH-GRANT"},
    {"partner": "BNCE", "status": "validated"},
    {"grant": "ML-ESEC-2015", "budget_line": "2", "date_after": "2016-01-01"},
    {"currency": "EUR"},
    {},
]


@pytest.mark.parametrize("who", ["finance", "bnce", "donor"])
def test_the_count_is_the_number_of_rows_listed_however_it_is_counted(grant, finance, bnce, donor, who):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _world(grant, finance, "parity")
    client = {"finance": finance, "bnce": bnce, "donor": donor}[who]
    counts = []
    for filters in FILTERS:
        with CaptureQueriesContext(connection) as queries:
            listed = client.get(URL, {**filters, "page_size": 1000}).json()
        assert listed["count"] == len(listed["results"]), filters
        counts.append(listed["count"])
        from_days = any("expendituredaycount" in query["sql"] for query in queries.captured_queries)
        # Day counts answer grant, partner and dates; any other filter counts the rows.
        assert from_days == (set(filters) <= {"grant", "partner", "date_after", "date_before"}), filters
    assert counts[0] > counts[1] > 0 and counts[4] == 0
    own = bnce.get(URL, {"page_size": 1}).json()["count"]
    assert own == Expenditure.objects.filter(partner__code="BNCE").count() > 0


def test_a_list_request_leaves_nothing_alive(grant, finance, bnce):
    """Nothing of a request (its view, filterset, query) outlives it: a closure handed to Django's
    paginator once stayed in an lru_cache of django.utils.inspect, 512 requests deep, and made
    every full garbage collection of a worker slower."""
    import gc

    from api.filters import ExpenditureFilter

    def alive() -> int:
        gc.collect()
        # type(), not isinstance(): a dead weak proxy among the objects raises on isinstance.
        return sum(type(obj) is ExpenditureFilter for obj in gc.get_objects())

    _world(grant, finance, "parity")
    before = alive()  # other tests in this process may hold some
    for _ in range(5):
        assert bnce.get(URL, {"grant": grant.code, "date_after": "2016-01-01"}).status_code == 200
    assert alive() == before
