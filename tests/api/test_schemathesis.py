"""Schemathesis against the served OpenAPI schema (/api/schema/), as a finance officer: no 5xx,
and every response matches the schema (status code, content type, body).

Covered: every GET of the records of issue 3 (grants, budget lines, versions, allocations,
partners, locations, donors, exchange rates, transfers, expenditures) and the POSTs of
expenditures and transfers. Each generated request is sent as generated (random codes and ids:
mostly 404s and 400s, whose bodies are checked too), then once more with its path parameters and
references replaced by records that exist, so that real records are checked against the schema.
Bounded: a few examples per operation, no deadline, derandomized.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from moneyed import Money
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from budget.models import Allocation
from budget.seed import seed_load
from config.wsgi import application
from expenditures.models import ExchangeRate, Expenditure, FundTransfer
from grants import services as grant_services
from tests.api import support
from tests.api.support import SEED


def load_schema(*, coverage: bool):
    """The served schema. The coverage phase (boundary values of every field, deterministic) runs
    on the POSTs, where it pays; on the GETs it would try every combination of query parameters,
    so they get the fuzzing phase alone. Each load has its own configuration."""
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", application, config=schemathesis.Config.from_dict({}))
    loaded.config.phases.coverage.enabled = coverage
    return loaded


schema = load_schema(coverage=True)

RECORDS = r"^/api/v1/(grants/|partners/|locations/|donors/|exchange-rates/|transfers/|expenditures/)"
# Other features' routes under grants/ (their own tests cover them).
OTHERS = r"/(reports|reconciliation|revalue|reallocations|donor-approval)/"

# On a second pass with real records, the request is no longer the generated one: only the checks
# of the response itself apply.
RESPONSE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance]

HYPOTHESIS = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                      database=None)


def build():
    """This module's world (``world`` in tests/api/conftest.py builds it once): users' tokens."""
    grant = seed_load().grant
    support.other_grant()
    # A grant with no budget and a zero total: null current version, null use %.
    grant_services.grant_create(code="ML-ZERO", title="Nothing yet", total=Money(Decimal("0.00"), "EUR"),
                                start_date=date(2019, 1, 1), end_date=date(2019, 12, 31))
    support.transfer(grant, "BNCE")
    support.expenditure(grant, "BNCE", voucher="B-1")
    support.expenditure(grant, "ECPAT-LU", voucher="E-1", amount="250.50", currency="EUR", line="4.2",
                        location="LUX")
    support.lock_quarter(grant, "BNCE", 2016, 1)
    ExchangeRate.objects.create(currency="XOF", rate=Decimal("655.957"), month=date(2016, 1, 1), source="test")
    return support.make_users()


@pytest.fixture(scope="module", autouse=True)
def keep_the_test_connection():
    """Schemathesis calls the WSGI app itself, not through Django's test client, so Django closes
    "old" database connections at the start and end of each request; inside the test's transaction
    that closes the connection (PostgreSQL). The test client disconnects that handler: so do we."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def real_path_parameters(path: str) -> dict:
    """Path parameters naming records that exist, for the operation at ``path``."""
    if "/allocations/" in path:
        allocation = Allocation.objects.filter(version__grant__code=SEED, version__number=1).first()
        return {"grant_code": SEED, "version_number": 1, "id": allocation.pk}
    if "/versions/" in path:
        return {"grant_code": SEED, "number": 1}
    if "/budget-lines/" in path:
        return {"grant_code": SEED, "code": "2.1"}
    by_path = {
        "/api/v1/grants/{code}/": {"code": SEED},
        "/api/v1/partners/{code}/": {"code": "BNCE"},
        "/api/v1/locations/{code}/": {"code": "BKO"},
        "/api/v1/donors/{code}/": {"code": "MAEE-LU"},
        "/api/v1/exchange-rates/{id}/": {"id": ExchangeRate.objects.order_by("pk").first().pk},
        "/api/v1/transfers/{id}/": {"id": FundTransfer.objects.first().pk},
        "/api/v1/expenditures/{id}/": {"id": Expenditure.objects.order_by("pk").first().pk},
    }
    return by_path.get(path, {})


def headers(world) -> dict:
    return {"Authorization": f"Token {world['finance']}"}


gets = load_schema(coverage=False).include(method="GET", path_regex=RECORDS).exclude(path_regex=OTHERS)


# negative_data_rejection is not run on GETs: DRF's pagination ignores a malformed `page`
# size (`page_size=null` gives the default page, by design) and django-filter ignores an empty
# filter value (`received_before=`); both answer 200 to what the schema calls invalid, which is
# lenient, not wrong. Every response is still checked against the schema.
@gets.parametrize()
@HYPOTHESIS
def test_every_get_answers_as_documented(case, world, db):
    # as generated
    case.call_and_validate(headers=headers(world), excluded_checks=[negative_data_rejection])
    # and on records that exist
    if case.path_parameters:
        case.path_parameters = {**case.path_parameters, **real_path_parameters(case.path)}
        case.validate_response(case.call(headers=headers(world)), checks=RESPONSE_CHECKS)


REAL_REFERENCES = {
    "/api/v1/expenditures/": {"grant": SEED, "partner": "BNCE", "budget_line": "2.1", "location": "BKO",
                              "date": "2016-05-02"},
    "/api/v1/transfers/": {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01"},
}

posts = schema.include(method="POST", path=list(REAL_REFERENCES))


# positive_data_acceptance is not run: a schema cannot say which grant, partner or line codes
# exist, nor that a date falls inside the grant, so a request valid by the schema is often
# rightly refused (400 unknown_partner, date_outside_grant...). The refusals are still checked
# against the documented error bodies.
@posts.parametrize()
@HYPOTHESIS
def test_posting_expenditures_and_transfers_answers_as_documented(case, world, db):
    # as generated: mostly refused (unknown codes), each refusal in the documented shape
    case.call_and_validate(headers=headers(world), excluded_checks=[positive_data_acceptance])
    # and with references that exist: the money fields, voucher and dates are what is tried
    if isinstance(case.body, dict):
        case.body = {**case.body, **REAL_REFERENCES[case.path]}
        if case.path.endswith("/transfers/"):
            case.body.pop("received_on", None)
        case.validate_response(case.call(headers=headers(world)), checks=RESPONSE_CHECKS)


# The other writes of the records (POST, PUT, PATCH; not DELETE, which would take away the
# records the second pass needs), a few examples each and no coverage phase, to stay quick.
other_writes = (load_schema(coverage=False).include(method=["POST", "PUT", "PATCH"], path_regex=RECORDS)
                .exclude(path_regex=OTHERS).exclude(method="POST", path=list(REAL_REFERENCES)))


@other_writes.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
def test_other_writes_answer_as_documented(case, world, db):
    case.call_and_validate(headers=headers(world), excluded_checks=[positive_data_acceptance])
    if case.path_parameters:
        case.path_parameters = {**case.path_parameters, **real_path_parameters(case.path)}
        case.validate_response(case.call(headers=headers(world)), checks=RESPONSE_CHECKS)


def test_the_schema_documents_the_error_codes():
    """The codes a client branches on are in the schema, each where it can happen."""
    document = schema.raw_schema
    components = document["components"]["schemas"]

    def codes(component: str) -> set[str]:
        return set(components[component]["properties"]["code"]["enum"])

    assert {"fractional_xof", "negative_amount", "invalid"} <= codes("V1ExpendituresCreateAmountErrorComponent")
    assert {"heading_not_a_line", "unknown_budget_line"} <= codes("V1ExpendituresCreateBudgetLineErrorComponent")
    assert {"duplicate_voucher"} <= codes("V1ExpendituresCreateVoucherErrorComponent")
    assert {"date_outside_grant"} <= codes("V1ExpendituresCreateDateErrorComponent")
    assert {"partner_not_on_grant", "unknown_partner"} <= codes("V1ExpendituresCreatePartnerErrorComponent")
    assert {"shares_not_100"} <= codes("V1GrantsCreateDonorsErrorComponent")
    assert {"total_mismatch"} <= codes("V1GrantsVersionsApproveCreateTotalErrorComponent")
    assert {"period_locked", "version_not_editable"} <= codes("Conflict409ErrorComponent")
    assert codes("IdempotencyKeyReused422ErrorComponent") == {"idempotency_key_reused"}
    post = document["paths"]["/api/v1/expenditures/"]["post"]
    assert {"201", "400", "401", "403", "409", "422"} <= set(post["responses"])
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
