"""Concurrency without 500s.

- A deadlock, a serialization failure, a lock not available (PostgreSQL) or a database still
  locked after its timeout (SQLite) answers 409 ``retry``, through the API and the admin, and
  what the request wrote is rolled back (these run on every database).
- Races on PostgreSQL, ``TRIES`` tries each, over real connections (one a thread): two accepts
  of one statement; an accept against the partner's edit of one of its rows; an accept against
  the finance officer's edit of a transfer of that quarter; 8 POSTs of one expenditure with one
  ``Idempotency-Key``. Each try: never a 500, one outcome, nothing half-written. The counts of
  outcomes are printed (``pytest -s``) and kept in ``OUTCOMES``.
- On SQLite (a file, in a child process: the test database is in memory), two parallel accepts
  give one 200 and one 409, never "database is locked".

A 409 is a valid refusal: the rules of the lifecycle decide which of two writers wins (a
submitted statement freezes its rows; an accepted quarter refuses transfer edits), the races
only show that the loser gets a clean answer and the ledger one consistent state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from unittest import mock

import psycopg.errors
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from django.test import Client, RequestFactory
from moneyed import Money

from api.exceptions import is_retryable
from api.middleware import RetryableConflictMiddleware
from api.models import IdempotencyKey
from expenditures.models import ExchangeRate, Expenditure, FundTransfer, QuarterlyStatement
from grants.models import Partner, Role
from tests.conftest import client_for, make_user

API = "/api/v1"
TRIES = 50
OUTCOMES: dict[str, dict] = {}


# --- errors that say "try again" ---------------------------------------------------------------

def _wrapped(cause: Exception) -> OperationalError:
    """``cause`` as Django's database wrapper raises it (the driver's error as ``__cause__``)."""
    try:
        try:
            raise cause
        except Exception as exc:
            raise OperationalError(*exc.args) from exc
    except OperationalError as wrapped:
        return wrapped


RETRYABLE = {
    "deadlock": lambda: _wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    "serialization": lambda: _wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
    "lock_not_available": lambda: _wrapped(psycopg.errors.LockNotAvailable("could not obtain lock on row")),
    "sqlite_locked": lambda: _wrapped(__import__("sqlite3").OperationalError("database is locked")),
}


@pytest.mark.parametrize("name", RETRYABLE)
def test_the_errors_of_concurrent_writers_are_retryable(name):
    assert is_retryable(RETRYABLE[name]())


@pytest.mark.parametrize("error", [
    OperationalError("no such table: x"), _wrapped(psycopg.errors.UndefinedTable("relation x")),
    RuntimeError("database is locked"), ValueError(),
])
def test_other_errors_are_not(error):
    assert not is_retryable(error)


def expenditure_body(**changes) -> dict:
    return {"grant": "ML-ESEC-2015", "partner": "BNCE", "budget_line": "2.1", "location": "BKO",
            "date": "2016-05-02", "amount": "131191", "amount_currency": "XOF", "voucher": "V-1",
            "description": "Kits", **changes}


@pytest.mark.parametrize("name", RETRYABLE)
@pytest.mark.parametrize("keyed", [False, True])
def test_a_deadlock_in_the_api_answers_409_retry_and_writes_nothing(grant, finance, name, keyed):
    from expenditures import services

    record = services.expenditure_record

    def write_then_fail(**kwargs):
        with transaction.atomic():
            record(**kwargs)  # the row is written, then the database gives up on the transaction
            raise RETRYABLE[name]()

    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"} if keyed else {}
    with mock.patch.object(services, "expenditure_record", side_effect=write_then_fail):
        response = finance.post(f"{API}/expenditures/", expenditure_body(), format="json", **headers)
    assert response.status_code == 409, response.content
    assert response.json() == {"type": "client_error", "errors": [{
        "code": "retry", "detail": "Another change to the same records ran at the same time; try again.",
        "attr": None}]}
    assert response["Retry-After"] == "1"
    assert not Expenditure.objects.exists()
    assert not IdempotencyKey.objects.exists()  # the key is free for the retry
    # and the retry goes through
    again = finance.post(f"{API}/expenditures/", expenditure_body(), format="json", **headers)
    assert again.status_code == 201 and Expenditure.objects.count() == 1


def test_the_work_of_a_keyed_request_is_rolled_back_when_it_meets_a_deadlock(grant, finance):
    # the service's own transaction committed; the deadlock comes after it, in the same request
    from expenditures import services

    record = services.expenditure_record

    def write_then_fail(**kwargs):
        record(**kwargs)
        raise RETRYABLE["deadlock"]()

    with mock.patch.object(services, "expenditure_record", side_effect=write_then_fail):
        response = finance.post(f"{API}/expenditures/", expenditure_body(), format="json",
                                HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "retry"
    assert not Expenditure.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.fixture
def admin_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "root")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", RETRYABLE)
def test_a_deadlock_in_the_admin_answers_a_409_page(grant, admin_client, name):
    model_admin = admin.site._registry[Expenditure]
    with mock.patch.object(model_admin, "get_queryset", side_effect=RETRYABLE[name]()):
        response = admin_client.get("/admin/expenditures/expenditure/")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html") and response["Retry-After"] == "1"
    assert b"try again" in response.content


def test_the_middleware_leaves_other_errors_alone():
    middleware = RetryableConflictMiddleware(lambda request: None)
    request = RequestFactory().get("/admin/")
    assert middleware.process_exception(request, OperationalError("no such table: x")) is None
    api = middleware.process_exception(RequestFactory().post("/api/v1/x/"), RETRYABLE["deadlock"]())
    assert api.status_code == 409 and json.loads(api.content)["errors"][0]["code"] == "retry"


def test_sqlite_begins_its_transactions_immediately():
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite only")
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] == 20


# --- races on PostgreSQL -------------------------------------------------------------------------

def race(*calls) -> list:
    """Run the calls at once, each in its thread with its own connection; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(10)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def parity() -> Decimal:
    return ExchangeRate.objects.get(currency="XOF", month__isnull=True).rate


def eur(xof_amount: Decimal) -> Decimal:
    return (xof_amount / parity()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class Quarter:
    """BNCE's 2016-Q3 on the seed: 6,500,000 XOF received, two rows spent (300,000 + 200,000)."""

    PERIOD = "2016-Q3"

    def __init__(self):
        from budget.seed import seed_load
        from expenditures.services import transfer_record

        self.grant = seed_load().grant
        self.partner = Partner.objects.get(code="BNCE")
        self.finance_user = make_user("finance", Role.FINANCE_OFFICER)
        self.bnce_user = make_user("bnce", Role.PARTNER_MEMBER, partner=self.partner)
        self.transfer = transfer_record(
            grant=self.grant, partner=self.partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
            amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=Money(Decimal("6500000"), "XOF"))

    def submitted(self) -> QuarterlyStatement:
        from expenditures.statements import statement_create, statement_submit

        def line(voucher, amount):
            return {"date": "2016-08-01", "budget_line": "2.1", "location": "SEG", "amount": amount,
                    "amount_currency": "XOF", "voucher": voucher, "description": "Rent"}

        xof = lambda amount: Money(Decimal(amount), "XOF")  # noqa: E731
        statement = statement_create(
            grant=self.grant, partner=self.partner, period=self.PERIOD, opening_balance=xof(0),
            funds_received=xof(6500000), closing_balance=xof(6000000), cash_on_hand=xof(1000000),
            bank_balance=xof(5000000), lines=[line("B-1", "300000"), line("B-2", "200000")])
        return statement_submit(statement=statement)

    def clear(self, statement: QuarterlyStatement) -> None:
        """Back to no statement (raw deletes: an accepted quarter refuses them by every service)."""
        with transaction.atomic():
            Expenditure.objects.filter(statement=statement).delete()
            QuarterlyStatement.objects.filter(pk=statement.pk).delete()


def request(user, method: str, path: str, body: dict | None = None, **headers):
    def call():
        response = getattr(client_for(user), method)(path, body or {}, format="json", **headers)
        return response.status_code, response.json(), dict(response.items())
    return call


def code_of(body) -> str | None:
    return body["errors"][0]["code"] if isinstance(body, dict) and body.get("errors") else None


def check_statement(statement: QuarterlyStatement, accepted: bool) -> None:
    """One state for the statement and its rows; each row's EUR its conversion; an accepted
    statement's digest, when one is taken, that of the rows the ledger holds."""
    statement.refresh_from_db()
    rows = list(Expenditure.objects.filter(statement=statement).order_by("voucher"))
    assert len(rows) == 2
    assert statement.status == ("accepted" if accepted else "submitted")
    assert {row.status for row in rows} == {"validated" if accepted else "submitted"}
    for row in rows:
        assert row.amount_eur == eur(row.amount.amount), row
    history = QuarterlyStatement.history.filter(id=statement.pk, status="accepted").count()
    assert history == (1 if accepted else 0)
    if accepted and statement.digest:
        from expenditures.audit import statement_digest

        assert statement_digest(statement, previous_digest=statement.previous_digest) == statement.digest


def report(name: str, counts: dict) -> None:
    OUTCOMES[name] = counts
    print(f"\nrace {name}: {json.dumps(counts, sort_keys=True)}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_accepts_of_one_statement():
    quarter = Quarter()
    counts: Counter = Counter()
    for _ in range(TRIES):
        statement = quarter.submitted()
        accept = request(quarter.finance_user, "post", f"{API}/statements/{statement.pk}/accept/", {"comment": "ok"})
        results = race(accept, accept)
        statuses = sorted(status for status, _, _ in results)
        counts.update(f"{status} {code_of(body) or ''}".strip() for status, body, _ in results)
        assert statuses == [200, 409], results
        check_statement(statement, accepted=True)
        quarter.clear(statement)
    report("two accepts", dict(counts))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_accept_against_the_partners_edit_of_one_of_its_rows():
    quarter = Quarter()
    counts: Counter = Counter()
    for i in range(TRIES):
        statement = quarter.submitted()
        row = Expenditure.objects.get(statement=statement, voucher="B-1")
        new_amount = Decimal(290000 + i)
        accept = request(quarter.finance_user, "post", f"{API}/statements/{statement.pk}/accept/", {"comment": "ok"})
        edit = request(quarter.bnce_user, "patch", f"{API}/expenditures/{row.pk}/",
                       {"amount": str(new_amount), "amount_currency": "XOF"})
        (accepted, accepted_body, _), (edited, edited_body, _) = race(accept, edit)
        counts.update([f"accept {accepted} {code_of(accepted_body) or ''}".strip(),
                       f"edit {edited} {code_of(edited_body) or ''}".strip()])
        assert accepted in (200, 409) and edited in (200, 409), (accepted_body, edited_body)
        if accepted == 409:
            assert code_of(accepted_body) == "retry", accepted_body
        row.refresh_from_db()
        # the edit is all there or not at all
        assert row.amount.amount == (new_amount if edited == 200 else Decimal(300000)), (edited, row.amount)
        check_statement(statement, accepted=accepted == 200)
        quarter.clear(statement)
    report("accept vs partner's row edit", dict(counts))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_accept_against_a_transfer_edit_of_that_quarter():
    quarter = Quarter()
    counts: Counter = Counter()
    for i in range(TRIES):
        statement = quarter.submitted()
        before = FundTransfer.objects.get(pk=quarter.transfer.pk).amount_sent.amount
        new_sent = Decimal("10000.00") + i + 1
        accept = request(quarter.finance_user, "post", f"{API}/statements/{statement.pk}/accept/", {"comment": "ok"})
        edit = request(quarter.finance_user, "patch", f"{API}/transfers/{quarter.transfer.pk}/",
                       {"amount_sent": str(new_sent), "amount_sent_currency": "EUR"})
        (accepted, accepted_body, _), (edited, edited_body, _) = race(accept, edit)
        counts.update([f"accept {accepted} {code_of(accepted_body) or ''}".strip(),
                       f"edit {edited} {code_of(edited_body) or ''}".strip()])
        assert accepted in (200, 409) and edited in (200, 409), (accepted_body, edited_body)
        if accepted == 409:
            assert code_of(accepted_body) == "retry", accepted_body
        after = FundTransfer.objects.get(pk=quarter.transfer.pk).amount_sent.amount
        assert after == (new_sent if edited == 200 else before), (edited, edited_body, after)
        check_statement(statement, accepted=accepted == 200)
        quarter.clear(statement)
    report("accept vs transfer edit", dict(counts))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_posts_of_one_expenditure_with_one_key():
    quarter = Quarter()
    counts: Counter = Counter()
    for i in range(TRIES):
        key = f"race-{i}-{uuid.uuid4()}"
        body = expenditure_body(voucher=f"K-{i}", date="2016-05-02")
        post = request(quarter.bnce_user, "post", f"{API}/expenditures/", body, HTTP_IDEMPOTENCY_KEY=key)
        results = race(*[post] * 8)
        counts.update(str(status) for status, _, _ in results)
        assert {status for status, _, _ in results} == {201}, results
        assert all(body == results[0][1] for _, body, _ in results)
        replayed = sorted(headers.get("Idempotent-Replayed", "no") for _, _, headers in results)
        assert replayed == ["no"] + ["true"] * 7
        assert Expenditure.objects.filter(voucher=f"K-{i}").count() == 1
        stored = IdempotencyKey.objects.get(key=key)
        assert (stored.state, stored.status_code) == ("done", 201)
    report("8 POSTs, one Idempotency-Key", dict(counts))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_waits_no_longer_than_its_limit_for_a_twin_still_at_work(settings):
    """The twin has stored its answer but not committed yet: the insert of the key would wait for
    its transaction; it waits ``IDEMPOTENCY_WAIT_SECONDS`` at most, then answers 409."""
    import time
    from types import SimpleNamespace

    from api.idempotency import _fingerprint

    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    quarter = Quarter()
    body = expenditure_body(voucher="W-1")
    fingerprint = _fingerprint(SimpleNamespace(method="POST", path=f"{API}/expenditures/", data=body))
    reservation = IdempotencyKey.objects.create(user=quarter.bnce_user, key="slow", fingerprint=fingerprint,
                                                state="in_progress")
    holding, release = threading.Event(), threading.Event()

    def twin_at_work():
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(pk=reservation.pk).update(state="done", status_code=201,
                                                                        response_body={"id": 0})
                holding.set()
                release.wait(10)
                transaction.set_rollback(True)
        finally:
            connection.close()

    twin = threading.Thread(target=twin_at_work)
    twin.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        status, answer, headers = request(quarter.bnce_user, "post", f"{API}/expenditures/", body,
                                          HTTP_IDEMPOTENCY_KEY="slow")()
        waited = time.monotonic() - started
    finally:
        release.set()
        twin.join(10)
    assert (status, code_of(answer)) == (409, "idempotency_key_in_progress")
    assert waited < 3, waited
    assert not Expenditure.objects.filter(voucher="W-1").exists()


# --- SQLite: two accepts at once on a file database -------------------------------------------------

SQLITE_SCRIPT = r"""
import json, os, sys, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from tests.test_races import Quarter, race, request, API, check_statement
quarter = Quarter()
outcomes = []
for _ in range(int(sys.argv[1])):
    statement = quarter.submitted()
    accept = request(quarter.finance_user, "post", f"{API}/statements/{statement.pk}/accept/", {"comment": "ok"})
    results = race(accept, accept)
    outcomes.append(sorted([status, (body.get("errors") or [{}])[0].get("code")] for status, body, _ in results))
    check_statement(statement, accepted=True)
    quarter.clear(statement)
print("OUTCOMES " + json.dumps(outcomes))
"""


@pytest.mark.skipif("sys.platform == 'win32'")
def test_two_accepts_at_once_on_a_sqlite_file_give_no_database_is_locked(tmp_path: Path):
    """The test database is SQLite in memory (or PostgreSQL): this race runs in a child process on
    a SQLite file, migrated from scratch, with the project's settings (BEGIN IMMEDIATE)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT, "5"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("OUTCOMES "))
    outcomes = json.loads(line.removeprefix("OUTCOMES "))
    counts = Counter(f"{status} {code or ''}".strip() for pair in outcomes for status, code in pair)
    report("two accepts on a SQLite file", dict(counts))
    for pair in outcomes:
        assert [status for status, _ in pair] == [200, 409], outcomes
