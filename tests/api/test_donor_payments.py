"""The donors' payments in the API (donor-payments/): money a donor paid the NGO for a grant, in EUR,
published by the grant's IATI export as incoming funds. Finance officers write them (through
grants.services); a donor's member reads its own donor's payments on the grants it funds; a
partner's member sees none.

The world (built once for the module): the Mali seed (ML-ESEC-2015, funded by MAEE-LU and
ECPAT-LU-OWN), ML-OTHER-2020 (funded by OTHER-FUNDER), a payment of each of the three donors, a
donor that funds nothing (NEWD), and a user per role (the donor's member is MAEE-LU's).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from moneyed import Money

from budget.seed import seed_load
from grants import services as grant_services
from grants.models import Donor, DonorPayment
from tests.api import support
from tests.api.support import API, OTHER, SEED

URL = f"{API}/donor-payments/"


def build():
    """This module's world (``world`` in tests/api/conftest.py builds it once): users' tokens."""
    grant = seed_load().grant
    other = support.other_grant()
    Donor.objects.create(code="NEWD", name="A donor of nothing")
    for donor, on, day, amount in [("MAEE-LU", grant, date(2015, 7, 20), "250000.00"),
                                   ("ECPAT-LU-OWN", grant, date(2015, 9, 1), "80000.00"),
                                   ("OTHER-FUNDER", other, date(2020, 2, 1), "50000.00")]:
        grant_services.donor_payment_record(grant=on, donor=Donor.objects.get(code=donor), received_on=day,
                                            amount=Money(Decimal(amount), "EUR"), reference=f"V-{donor}")
    return support.make_users()


def body(**changes) -> dict:
    payment = {"grant": SEED, "donor": "MAEE-LU", "received_on": "2016-08-01", "amount": "250000.10",
               "amount_currency": "EUR", "reference": "LU-2016-2", "note": "Second instalment"}
    for name, value in changes.items():
        if value is ...:
            payment.pop(name)
        else:
            payment[name] = value
    return payment


def url_of(donor_code: str) -> str:
    return f"{URL}{DonorPayment.objects.get(donor__code=donor_code).pk}/"


def listed(response) -> list[tuple[str, str, str]]:
    assert response.status_code == 200, response.json()
    return [(row["grant"], row["donor"], row["received_on"]) for row in response.json()["results"]]


# --- finance writes -------------------------------------------------------------------------------

def test_finance_records_reads_changes_and_deletes_a_payment(clients):
    finance = clients["finance"]
    # When a finance officer records a payment
    created = finance.post(URL, body(), format="json")
    # Then it is answered with its fields, the amount in EUR to the cent
    assert created.status_code == 201, created.json()
    payment = created.json()
    assert {k: v for k, v in payment.items() if k != "id"} == body()
    saved = DonorPayment.objects.get(pk=payment["id"])
    assert (saved.grant.code, saved.donor.code, saved.amount) == (SEED, "MAEE-LU", Money(Decimal("250000.10"), "EUR"))
    # and it is read at its address
    assert finance.get(f"{URL}{payment['id']}/").json() == payment
    # When the finance officer corrects its amount and reference
    changed = finance.patch(f"{URL}{payment['id']}/", {"amount": "250000.00", "reference": "LU-2016-02"},
                            format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["amount"], changed.json()["reference"]) == ("250000.00", "LU-2016-02")
    assert DonorPayment.objects.get(pk=payment["id"]).amount == Money(Decimal("250000.00"), "EUR")
    # and deletes it
    assert finance.delete(f"{URL}{payment['id']}/").status_code == 204
    assert not DonorPayment.objects.filter(pk=payment["id"]).exists()
    assert finance.get(f"{URL}{payment['id']}/").status_code == 404


def test_a_post_with_an_idempotency_key_records_the_payment_once(clients):
    finance = clients["finance"]
    first = finance.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    again = finance.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert DonorPayment.objects.filter(reference="LU-2016-2").count() == 1


# --- who sees what --------------------------------------------------------------------------------

def test_finance_lists_every_payment_by_day_received(clients):
    assert listed(clients["finance"].get(URL)) == [
        (SEED, "MAEE-LU", "2015-07-20"), (SEED, "ECPAT-LU-OWN", "2015-09-01"), (OTHER, "OTHER-FUNDER", "2020-02-01")]


def test_a_donor_member_reads_its_own_donor_s_payments_only(clients):
    donor = clients["donor"]
    # MAEE-LU's member: its own payment, not ECPAT-LU-OWN's on the same grant nor another grant's
    response = donor.get(URL)
    assert listed(response) == [(SEED, "MAEE-LU", "2015-07-20")]
    assert response.json()["count"] == 1
    assert donor.get(url_of("MAEE-LU")).status_code == 200
    assert donor.get(url_of("ECPAT-LU-OWN")).status_code == 404
    assert donor.get(url_of("OTHER-FUNDER")).status_code == 404


def test_a_partner_member_sees_no_payment(clients):
    bnce = clients["bnce"]
    response = bnce.get(URL)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert bnce.get(url_of("MAEE-LU")).status_code == 404


@pytest.mark.parametrize("role", ["donor", "bnce"])
def test_only_finance_writes(clients, role):
    before = list(DonorPayment.objects.order_by("pk").values())
    client = clients[role]
    assert client.post(URL, body(), format="json").status_code == 403
    assert client.patch(url_of("MAEE-LU"), {"note": "mine"}, format="json").status_code == 403
    assert client.delete(url_of("MAEE-LU")).status_code == 403
    assert list(DonorPayment.objects.order_by("pk").values()) == before


def test_a_stranger_and_an_anonymous_caller_are_refused(clients):
    assert clients["norole"].get(URL).status_code == 403
    assert clients["anonymous"].get(URL).status_code == 401


# --- the list's query -----------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ({"grant": SEED}, [("MAEE-LU", "2015-07-20"), ("ECPAT-LU-OWN", "2015-09-01")]),
    ({"donor": "OTHER-FUNDER"}, [("OTHER-FUNDER", "2020-02-01")]),
    ({"received_after": "2015-09-01"}, [("ECPAT-LU-OWN", "2015-09-01"), ("OTHER-FUNDER", "2020-02-01")]),
    ({"received_before": "2015-09-01"}, [("MAEE-LU", "2015-07-20"), ("ECPAT-LU-OWN", "2015-09-01")]),
    ({"received_after": "2015-08-01", "received_before": "2015-12-31"}, [("ECPAT-LU-OWN", "2015-09-01")]),
    ({"ordering": "-received_on"}, [("OTHER-FUNDER", "2020-02-01"), ("ECPAT-LU-OWN", "2015-09-01"),
                                    ("MAEE-LU", "2015-07-20")]),
    ({"grant": "NO-SUCH-GRANT"}, []),
])
def test_the_list_filters_by_grant_donor_and_day_received_and_orders(clients, query, expected):
    rows = listed(clients["finance"].get(URL, query))
    assert [(donor, day) for _grant, donor, day in rows] == expected


def test_the_list_pages_and_refuses_what_it_does_not_read(clients):
    finance = clients["finance"]
    page = finance.get(URL, {"page_size": 2}).json()
    assert (page["count"], len(page["results"]), page["previous"]) == (3, 2, None) and page["next"]
    assert support.refusal(finance.get(URL, {"partner": "BNCE"})) == ("unknown_parameter", "partner")
    assert support.refusal(finance.get(URL, {"ordering": "amount"})) == ("unknown_ordering", "ordering")
    assert support.refusal(finance.get(URL, {"received_after": "someday"}))[1] == "received_after"


# --- refusals, each on its field -------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "code", "attr"), [
    pytest.param({"donor": "NEWD"}, "unknown_donor", "donor", id="a donor of another grant"),
    pytest.param({"donor": "OTHER-FUNDER"}, "unknown_donor", "donor", id="the other grant's donor"),
    pytest.param({"donor": "NOPE"}, "unknown_donor", "donor", id="no such donor"),
    pytest.param({"amount_currency": "XOF", "amount": "1000"}, "invalid_choice", "amount_currency", id="XOF"),
    pytest.param({"amount": "0"}, "negative_amount", "amount", id="zero"),
    pytest.param({"amount": "-5.00"}, "negative_amount", "amount", id="negative"),
    pytest.param({"amount": "10.001"}, "too_many_decimals", "amount", id="a third decimal"),
    pytest.param({"grant": "NO-SUCH-GRANT"}, "unknown_grant", "grant", id="no such grant"),
    pytest.param({"received_on": ...}, "required", "received_on", id="no day"),
])
def test_a_bad_payment_is_refused_on_its_field_and_nothing_is_written(clients, changes, code, attr):
    before = DonorPayment.objects.count()
    response = clients["finance"].post(URL, body(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert support.refusal(response) == (code, attr)
    assert DonorPayment.objects.count() == before


def test_a_payment_stays_on_its_grant(clients):
    url = url_of("MAEE-LU")
    response = clients["finance"].patch(url, {"grant": OTHER}, format="json")
    assert response.status_code == 400
    assert support.refusal(response) == ("immutable", "grant")
    assert DonorPayment.objects.get(donor__code="MAEE-LU").grant.code == SEED


@pytest.mark.parametrize(("changes", "code", "attr"), [
    ({"donor": "OTHER-FUNDER"}, "unknown_donor", "donor"),
    ({"amount": "0.00"}, "negative_amount", "amount"),
    ({"amount_currency": "XOF"}, "invalid_choice", "amount_currency"),
])
def test_a_change_is_refused_on_the_same_rules(clients, changes, code, attr):
    before = list(DonorPayment.objects.order_by("pk").values())
    response = clients["finance"].patch(url_of("MAEE-LU"), changes, format="json")
    assert response.status_code == 400
    assert support.refusal(response) == (code, attr)
    assert list(DonorPayment.objects.order_by("pk").values()) == before


# --- the IATI export --------------------------------------------------------------------------------

def incoming_funds(client) -> list[tuple[str, str, str, str]]:
    """The seed grant's IATI export's incoming funds (transaction type 1): (provider's ref, day,
    currency, value)."""
    response = client.get(f"{API}/grants/{SEED}/iati.xml")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, content[:2000]
    (activity,) = etree.fromstring(content).findall("iati-activity")
    return [(t.find("provider-org").get("ref"), t.find("transaction-date").get("iso-date"),
             t.find("value").get("currency"), t.find("value").text)
            for t in activity.findall("transaction") if t.find("transaction-type").get("code") == "1"]


def test_a_payment_recorded_through_the_api_is_in_the_iati_export_as_incoming_funds(clients):
    finance = clients["finance"]
    before = incoming_funds(finance)
    # When a finance officer records MAEE-LU's second instalment through the API
    assert finance.post(URL, body(), format="json").status_code == 201
    # Then the export lists it among the incoming funds, from the ministry, on its day, to the cent
    after = incoming_funds(finance)
    ministry = Donor.objects.get(code="MAEE-LU").iati_org_ref
    assert [row for row in after if row not in before] == [(ministry, "2016-08-01", "EUR", "250000.10")]
    assert len(after) == len(before) + 1
