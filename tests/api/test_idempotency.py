"""`Idempotency-Key` on POST: the same key with the same body returns the first answer and writes
nothing more; the same key with another body is refused (422); keys belong to their user; a
refused request does not use up its key; a request that meets the same request in progress waits
for its answer (see ``api.idempotency``)."""

from __future__ import annotations

from unittest import mock

import pytest

from api.models import IdempotencyKey
from expenditures.models import Expenditure, FundTransfer
from grants.models import DonorPayment, Grant
from tests.api import support
from tests.api.support import API, SEED


def expenditure(partner: str = "BNCE", **changes) -> dict:
    return {"grant": SEED, "partner": partner, "budget_line": "2.1", "location": "BKO", "date": "2016-05-02",
            "amount": "131191", "amount_currency": "XOF", "voucher": "V-1", "description": "Kits", **changes}


def transfer(**changes) -> dict:
    return {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01", "received_on": "2016-04-05",
            "amount_sent": "20000.00", "amount_sent_currency": "EUR", "amount_received": "13119140",
            "amount_received_currency": "XOF", "fees": "15.00", "fees_currency": "EUR", **changes}


def payment(**changes) -> dict:
    return {"grant": SEED, "donor": "MAEE-LU", "received_on": "2015-07-20", "amount": "250000.00",
            "amount_currency": "EUR", "reference": "LU-1", **changes}


ENDPOINTS = {
    "expenditures": (f"{API}/expenditures/", expenditure, Expenditure, {"voucher": "V-2"}),
    "transfers": (f"{API}/transfers/", transfer, FundTransfer, {"amount_sent": "20001.00"}),
    "donor-payments": (f"{API}/donor-payments/", payment, DonorPayment, {"amount": "250000.01"}),
}


def post(client, endpoint: str, body: dict, key: str | None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(ENDPOINTS[endpoint][0], body, format="json", **headers)


@pytest.mark.parametrize("role", ["finance", "bnce"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("times", [2, 3])
def test_the_same_key_and_body_return_the_first_answer_and_write_once(clients, role, endpoint, times):
    if role == "bnce" and endpoint in ("transfers", "donor-payments"):
        pytest.skip("a partner member may not record transfers nor donors' payments (test_matrix)")
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


# --- the reservation: requests that meet a key in progress ----------------------------------------
#
# Parallel requests are shown on PostgreSQL in tests/test_races.py; here, one request at a time,
# the key of "another request in progress" is a row left in progress, and the waiting request's
# sleep is where that other request finishes, gives up or dies.

def in_progress(user: str, body: dict, key: str = "key-1", endpoint: str = "expenditures") -> IdempotencyKey:
    from types import SimpleNamespace

    from django.contrib.auth import get_user_model

    from api.idempotency import _fingerprint

    request = SimpleNamespace(method="POST", path=ENDPOINTS[endpoint][0], data=body)
    return IdempotencyKey.objects.create(user=get_user_model().objects.get(username=user), key=key,
                                         fingerprint=_fingerprint(request), state="in_progress")


def test_a_request_waits_for_the_same_request_in_progress_and_replays_its_answer(clients):
    first = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    stored = IdempotencyKey.objects.get(key="key-1")
    IdempotencyKey.objects.filter(pk=stored.pk).update(state="in_progress")  # as while it ran

    def the_first_finishes(_seconds):
        IdempotencyKey.objects.filter(pk=stored.pk).update(state="done")

    with mock.patch("api.idempotency.time.sleep", side_effect=the_first_finishes) as sleep:
        again = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert sleep.call_count == 1
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert Expenditure.objects.filter(voucher="V-1").count() == 1


def test_a_request_still_in_progress_after_the_wait_answers_409(clients, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    in_progress("bnce", expenditure())
    before = support.row_counts()
    response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 409
    assert support.refusal(response) == ("idempotency_key_in_progress", None)
    assert response["Retry-After"] == "1"
    assert support.row_counts() == before
    assert IdempotencyKey.objects.get(key="key-1").state == "in_progress"  # the other's, untouched


def test_a_request_whose_twin_gave_up_runs_itself(clients):
    # the request in progress was refused (or failed) and released its key: the waiter runs
    reservation = in_progress("bnce", expenditure())

    def the_first_releases(_seconds):
        IdempotencyKey.objects.filter(pk=reservation.pk).delete()

    with mock.patch("api.idempotency.time.sleep", side_effect=the_first_releases):
        response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Expenditure.objects.filter(voucher="V-1").count() == 1
    assert IdempotencyKey.objects.get(key="key-1").state == "done"


def test_another_body_is_refused_at_once_while_the_key_is_in_progress(clients):
    in_progress("bnce", expenditure())
    with mock.patch("api.idempotency.time.sleep") as sleep:
        response = post(clients["bnce"], "expenditures", expenditure(voucher="V-2"), "key-1")
    assert response.status_code == 422 and sleep.call_count == 0
    assert support.refusal(response) == ("idempotency_key_reused", None)


def test_a_reservation_left_by_a_dead_process_is_taken_over(clients, settings):
    from datetime import timedelta

    from django.utils import timezone

    reservation = in_progress("bnce", expenditure())
    IdempotencyKey.objects.filter(pk=reservation.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS + 1))
    with mock.patch("api.idempotency.time.sleep") as sleep:
        response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 201 and sleep.call_count == 0
    assert Expenditure.objects.filter(voucher="V-1").count() == 1
    assert not IdempotencyKey.objects.filter(pk=reservation.pk).exists()


def test_a_request_whose_reservation_was_taken_over_rolls_its_work_back(clients):
    from expenditures import services

    record = services.expenditure_record

    def record_while_taken_over(**kwargs):
        IdempotencyKey.objects.filter(key="key-1").delete()  # another request deemed it stale
        return record(**kwargs)

    before = support.row_counts()
    with mock.patch.object(services, "expenditure_record", side_effect=record_while_taken_over):
        response = post(clients["bnce"], "expenditures", expenditure(), "key-1")
    assert response.status_code == 409
    assert support.refusal(response) == ("idempotency_key_in_progress", None)
    assert support.row_counts() == before


def test_a_request_that_fails_releases_its_key(clients):
    from expenditures import services

    client = clients["bnce"]
    client.raise_request_exception = False
    before = support.row_counts()
    with mock.patch.object(services, "expenditure_record", side_effect=RuntimeError("boom")):
        response = post(client, "expenditures", expenditure(), "key-1")
    assert response.status_code == 500
    assert support.row_counts() == before and not IdempotencyKey.objects.exists()
    assert post(client, "expenditures", expenditure(), "key-1").status_code == 201


def test_the_stored_answer_is_the_answer_sent(clients):
    first = post(clients["finance"], "transfers", transfer(), "key-1")
    stored = IdempotencyKey.objects.get(key="key-1")
    assert (stored.state, stored.status_code, stored.response_body) == ("done", 201, first.json())
