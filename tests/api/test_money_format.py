"""Money in the API: two sibling fields, the amount a string quantized to its currency (XOF whole
francs, EUR cents); an expenditure shows its stored EUR value, the rate (6 decimals) and method."""

from __future__ import annotations

from datetime import date

import pytest

from grants.models import Grant
from tests.api import support
from tests.api.support import API, SEED


def expenditure(amount, currency: str = "XOF", voucher: str = "V-1") -> dict:
    return {"grant": SEED, "partner": "BNCE", "budget_line": "2.1", "location": "BKO", "date": "2016-05-02",
            "amount": amount, "amount_currency": currency, "voucher": voucher}


@pytest.mark.parametrize(("amount", "currency", "shown", "eur", "rate"), [
    ("655957", "XOF", "655957", "1000.00", "655.957000"),
    ("328", "XOF", "328", "0.50", "655.957000"),  # 0.50003... EUR: the rate shown is the rate used
    ("327", "XOF", "327", "0.50", "655.957000"),  # 0.49850... rounds half up to 0.50; not 654
    ("1", "XOF", "1", "0.00", "655.957000"),  # nothing in EUR: the rate is the parity itself
    ("1000", "XOF", "1000", "1.52", "655.957000"),  # issue 14: 1,000 / 1.52 would read 657.894737
    ("6559570", "XOF", "6559570", "10000.00", "655.957000"),
    ("100.00", "XOF", "100", "0.15", "655.957000"),  # whole francs with zero cents; not 100 / 0.15
    (655957, "XOF", "655957", "1000.00", "655.957000"),  # a JSON number
    ("250.5", "EUR", "250.50", "250.50", "1.000000"),
    ("0.01", "EUR", "0.01", "0.01", "1.000000"),
    ("1000", "EUR", "1000.00", "1000.00", "1.000000"),
    ("999999999999.99", "EUR", "999999999999.99", "999999999999.99", "1.000000"),
])
def test_an_expenditure_shows_its_amount_and_its_eur_value(clients, amount, currency, shown, eur, rate):
    # when a finance officer records the expenditure
    created = clients["finance"].post(f"{API}/expenditures/", expenditure(amount, currency), format="json")
    assert created.status_code == 201, created.json()
    # then it shows, on creation and when read again, the amount in its currency's precision and
    # the EUR value converted once at the parity, with its rate and method, all as strings
    again = clients["finance"].get(f"{API}/expenditures/{created.json()['id']}/").json()
    for body in (created.json(), again):
        assert (body["amount"], body["amount_currency"]) == (shown, currency)
        assert (body["amount_eur"], body["fx_rate"], body["fx_method"]) == (eur, rate, "parity")


def test_the_conversion_rounds_half_up_to_the_cent(clients):
    # 3.28 EUR is 2151.53896 XOF; 2152 XOF is 3.2807... -> 3.28; 2155 XOF is 3.28527... -> 3.29
    for amount, eur in [("2152", "3.28"), ("2155", "3.29"), ("3", "0.00"), ("4", "0.01")]:
        body = clients["finance"].post(f"{API}/expenditures/", expenditure(amount, voucher=f"R-{amount}"),
                                       format="json").json()
        assert body["amount_eur"] == eur, (amount, body)


def test_a_transfer_shows_each_amount_in_its_currency_and_the_rate_obtained(clients):
    body = {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01", "received_on": "2016-04-05",
            "amount_sent": "20000", "amount_sent_currency": "EUR", "amount_received": "13100000",
            "amount_received_currency": "XOF", "fees": "1500", "fees_currency": "XOF"}
    created = clients["finance"].post(f"{API}/transfers/", body, format="json")
    assert created.status_code == 201, created.json()
    shown = clients["finance"].get(f"{API}/transfers/{created.json()['id']}/").json()
    assert {k: shown[k] for k in ("amount_sent", "amount_sent_currency", "amount_received",
                                   "amount_received_currency", "fees", "fees_currency", "rate")} == {
        "amount_sent": "20000.00", "amount_sent_currency": "EUR", "amount_received": "13100000",
        "amount_received_currency": "XOF", "fees": "1500", "fees_currency": "XOF", "rate": "655.000000"}


def test_a_transfer_without_fees_shows_zero_euro(clients):
    body = {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01", "amount_sent": "100.10",
            "amount_sent_currency": "EUR", "amount_received": "65600", "amount_received_currency": "XOF"}
    created = clients["finance"].post(f"{API}/transfers/", body, format="json").json()
    assert (created["fees"], created["fees_currency"], created["received_on"]) == ("0.00", "EUR", None)
    assert created["amount_sent"] == "100.10"


def test_a_grant_and_its_allocations_are_in_euros_and_cents(clients):
    grant = clients["donor"].get(f"{API}/grants/{SEED}/").json()
    assert (grant["total"], grant["total_currency"]) == ("955926.26", "EUR")
    assert (grant["spent_eur"], grant["remaining_eur"], grant["use_pct"]) == ("0.00", "955926.26", "0.00")
    allocation = clients["donor"].get(f"{API}/grants/{SEED}/versions/1/allocations/").json()["results"][0]
    assert (allocation["amount"], allocation["amount_currency"]) == ("6240.00", "EUR")
    version = clients["donor"].get(f"{API}/grants/{SEED}/versions/1/").json()
    assert (version["total"], version["total_currency"]) == ("955926.26", "EUR")


def test_the_grant_adds_up_what_was_spent_in_euros(clients):
    # given 1000.00 EUR spent by BNCE and 0.50 by CARITAS, on the parity
    grant = Grant.objects.get(code=SEED)
    support.expenditure(grant, "BNCE", voucher="S-1", amount="655957")
    support.expenditure(grant, "CARITAS", voucher="S-2", amount="328", day=date(2016, 4, 1))
    # then the finance officer and the donor see both; BNCE's member sees its own spending
    for role, spent, remaining, pct in [("finance", "1000.50", "954925.76", "0.10"),
                                        ("donor", "1000.50", "954925.76", "0.10"),
                                        ("bnce", "1000.00", "954926.26", "0.10")]:
        body = clients[role].get(f"{API}/grants/{SEED}/").json()
        assert (body["spent_eur"], body["remaining_eur"], body["use_pct"]) == (spent, remaining, pct), role


def test_money_is_never_a_json_number(clients):
    grant = Grant.objects.get(code=SEED)
    support.expenditure(grant, "BNCE", voucher="S-1", amount="655957")
    support.transfer(grant, "BNCE")
    for url in ("expenditures/", "transfers/", f"grants/{SEED}/versions/1/allocations/", "grants/",
                "exchange-rates/"):
        row = clients["finance"].get(f"{API}/{url}").json()["results"][0]
        for name in ("amount", "amount_eur", "fx_rate", "amount_sent", "amount_received", "fees", "rate", "total",
                     "spent_eur", "remaining_eur"):
            if name in row and row[name] is not None:
                assert isinstance(row[name], str), (url, name, row[name])


def test_the_parity_is_listed_with_six_decimals(clients):
    rates = clients["bnce"].get(f"{API}/exchange-rates/").json()["results"]
    assert {"currency": "XOF", "rate": "655.957000", "month": None} == {k: rates[0][k] for k in
                                                                        ("currency", "rate", "month")}
