"""Under fifo, an expenditure shows the pieces it was paid from (issue 4), in a fixed number of
queries for the list."""

from datetime import date
from decimal import Decimal

from moneyed import Money

from expenditures.revaluation import grant_revalue
from expenditures.services import transfer_record
from grants.models import Partner


def test_an_expenditure_shows_its_funding_pieces(grant, finance, django_assert_max_num_queries):
    grant_revalue(grant=grant, method="fifo")
    transfer = transfer_record(grant=grant, partner=Partner.objects.get(code="BNCE"), sent_on=date(2016, 1, 10),
                               received_on=date(2016, 1, 15), amount_sent=Money(Decimal("10000.00"), "EUR"),
                               amount_received=Money(Decimal("6500000"), "XOF"))
    body = {"grant": "ML-ESEC-2015", "partner": "BNCE", "budget_line": "2.1", "location": "SEG",
            "date": "2016-02-01", "amount": "7000000", "amount_currency": "XOF", "voucher": "B-FIFO"}
    response = finance.post("/api/v1/expenditures/", body)
    assert response.status_code == 201, response.json()
    created = response.json()
    # 6,500,000 from the transfer at 650 = 10,000.00; 500,000 unfunded at the parity = 762.25
    assert created["funding"] == [
        {"transfer": transfer.pk, "xof": "6500000", "eur": "10000.00", "rate": "650.000000"},
        {"transfer": None, "xof": "500000", "eur": "762.25", "rate": "655.957000"},
    ]
    assert (created["amount_eur"], created["fx_method"]) == ("10762.25", "fifo")
    with django_assert_max_num_queries(8):
        listed = finance.get("/api/v1/expenditures/?grant=ML-ESEC-2015").json()["results"]
    assert listed[0]["funding"] == created["funding"]


def test_under_the_parity_there_are_no_pieces(grant, finance):
    body = {"grant": "ML-ESEC-2015", "partner": "BNCE", "budget_line": "2.1", "location": "SEG",
            "date": "2016-02-01", "amount": "655957", "amount_currency": "XOF", "voucher": "B-PAR"}
    response = finance.post("/api/v1/expenditures/", body)
    assert response.status_code == 201 and response.json()["funding"] == []
