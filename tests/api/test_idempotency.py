"""`Idempotency-Key` on POST: the same key with the same body returns the first answer and writes
nothing more; the same key with another body is refused (422); keys belong to their user; a
refused request does not use up its key."""

from __future__ import annotations

import pytest

from api.models import IdempotencyKey
from budget.seed import seed_load
from expenditures.models import Expenditure, FundTransfer
from grants.models import Grant
from tests.api import support
from tests.api.support import API, SEED


def build():
    seed_load()
    return support.make_users()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with support.module_world(django_db_blocker, build) as tokens:
        yield tokens


@pytest.fixture
def clients(world, db):
    return support.clients_for(world)


def expenditure(partner: str = "BNCE", **changes) -> dict:
    return {"grant": SEED, "partner": partner, "budget_line": "2.1", "location": "BKO", "date": "2016-05-02",
            "amount": "131191", "amount_currency": "XOF", "voucher": "V-1", "description": "Kits", **changes}


def transfer(**changes) -> dict:
    return {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01", "received_on": "2016-04-05",
            "amount_sent": "20000.00", "amount_sent_currency": "EUR", "amount_received": "13119140",
            "amount_received_currency": "XOF", "fees": "15.00", "fees_currency": "EUR", **changes}


ENDPOINTS = {
    "expenditures": (f"{API}/expenditures/", expenditure, Expenditure, {"voucher": "V-2"}),
    "transfers": (f"{API}/transfers/", transfer, FundTransfer, {"amount_sent": "20001.00"}),
}


def post(client, endpoint: str, body: dict, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(ENDPOINTS[endpoint][0], body, format="json", **headers)


@pytest.mark.parametrize("role", ["finance", "bnce"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("times", [2, 3])
def test_the_same_key_and_body_return_the_first_answer_and_write_once(clients, role, endpoint, times):
    if role == "bnce" and endpoint == "transfers":
        pytest.skip("a partner member may not record transfers (test_matrix)")
    _, body, model, _ = ENDPOINTS[endpoint]
    before = model.objects.count()
    # when the same POST is sent several times with one key
    responses = [post(clients[role], endpoint, body(), "key-1") for _ in range(times)]
    # then every answer is the first, and one row was written
    first = responses[0]
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    for again in responses[1:]:
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
    assert model.objects.count() == before + 1


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_same_key_with_another_body_is_refused_with_422(clients, endpoint):
    _, body, model, other = ENDPOINTS[endpoint]
    first = post(clients["finance"], endpoint, body(), "key-1")
    assert first.status_code == 201
    before = support.row_counts()
    # when the key is sent again with another body
    response = post(clients["finance"], endpoint, body(**other), "key-1")
    # then 422, nothing written
    assert response.status_code == 422
    assert support.errors(response)[0]["code"] == "idempotency_key_reused"
    assert response.json()["type"] == "client_error"
    assert support.row_counts() == before


def test_the_same_key_on_another_endpoint_is_another_request(clients):
    assert post(clients["finance"], "transfers", transfer(), "key-1").status_code == 201
    response = post(clients["finance"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 422


def test_the_body_is_compared_as_data_not_as_text(clients):
    # the same fields in another order are the same request
    body = expenditure()
    first = post(clients["finance"], "expenditures", body, "key-1")
    again = post(clients["finance"], "expenditures", dict(reversed(list(body.items()))), "key-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert Expenditure.objects.filter(voucher="V-1").count() == 1


def test_different_users_may_use_the_same_key(clients):
    # when BNCE's and CARITAS's members each send their expenditure with the same key
    mine = post(clients["bnce"], "expenditures", expenditure(), "shared-key")
    theirs = post(clients["caritas"], "expenditures", expenditure(partner="CARITAS"), "shared-key")
    # then both are written, each its own
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert (mine.json()["partner"], theirs.json()["partner"]) == ("BNCE", "CARITAS")
    assert Expenditure.objects.filter(voucher="V-1").count() == 2


def test_another_user_never_gets_my_answer(clients):
    # the finance officer's key is not the BNCE member's, even with the same body
    first = post(clients["finance"], "expenditures", expenditure(), "key-1")
    response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert first.status_code == 201
    assert response.status_code == 400  # BNCE already used V-1: the request really ran
    assert support.refusal(response) == ("duplicate_voucher", "voucher")


@pytest.mark.parametrize(("bad", "code"), [
    ({"amount": "131191.5"}, "fractional_xof"),
    ({"budget_line": "2"}, "heading_not_a_line"),
    ({"amount_currency": "USD"}, "invalid_choice"),
])
def test_a_refused_request_does_not_use_up_its_key(clients, bad, code):
    # given a request refused with 400
    refused = post(clients["bnce"], "expenditures", expenditure(**bad), "key-1")
    assert refused.status_code == 400
    assert support.refusal(refused)[0] == code
    assert not IdempotencyKey.objects.filter(key="key-1").exists()
    # when it is corrected and sent again with the same key
    response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    # then it is written once
    assert response.status_code == 201
    assert Expenditure.objects.filter(voucher="V-1").count() == 1
    # and sending the refused body again with that key is now another request
    assert post(clients["bnce"], "expenditures", expenditure(**bad), "key-1").status_code == 422


def test_a_conflict_does_not_use_up_its_key(clients):
    support.lock_quarter(Grant.objects.get(code=SEED), "BNCE", 2016, 2)
    refused = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert refused.status_code == 409
    corrected = post(clients["bnce"], "expenditures", expenditure(date="2016-07-01"), "key-1")
    assert corrected.status_code == 201


def test_without_a_key_each_post_is_a_new_request(clients):
    first = post(clients["finance"], "transfers", transfer(), None)
    second = post(clients["finance"], "transfers", transfer(), None)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert not IdempotencyKey.objects.exists()


def test_a_key_longer_than_255_characters_is_refused(clients):
    before = support.row_counts()
    response = post(clients["finance"], "transfers", transfer(), "k" * 256)
    assert response.status_code == 400
    assert support.refusal(response) == ("invalid", None)
    assert support.row_counts() == before


def test_a_refused_role_does_not_use_up_a_key(clients):
    response = post(clients["donor"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 403
    assert not IdempotencyKey.objects.exists()
