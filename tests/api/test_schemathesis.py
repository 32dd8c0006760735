"""Schemathesis against the served OpenAPI schema (/api/schema/): no 5xx, and every response matches
the schema (status code, content type, headers, body), for every role: a finance officer, a
partner member (BNCE), a donor member (MAEE-LU) and an anonymous caller.

- Every operation of the schema as every role, a few generated requests each, each sent as
  generated, then once more with its path parameters naming records that exist, so that real
  records (and what each role may see of them) are checked against the schema.
- The POSTs of expenditures and transfers also get the coverage phase (boundary values of every
  field), as finance and as BNCE, once as generated and once with references that exist.
- Stateful: the links between operations (create, then read, update, delete; list, then the
  records it lists; a grant, then its budget, versions and reports...) that schemathesis infers
  from the schema (its responses' fields and the path parameters they feed), followed as every
  role, a few scenarios each.

Each example and each scenario is rolled back at its end (``undone``): each starts from build()'s
world. Bounded: few examples, no deadline, derandomized. How many requests each role sent is
recorded on each test (``schemathesis_cases``, ``schemathesis_stateful_steps`` and, of those, the
``..._linked_steps`` that followed a link) and printed at the end of the run (tests/conftest.py).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from moneyed import Money
from schemathesis.checks import (
    content_type_conformance,
    ensure_resource_availability,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from budget import services as budget_services
from budget.models import Allocation
from budget.seed import seed_load
from config.wsgi import application
from expenditures import statements as statement_services
from expenditures.models import ExchangeRate, Expenditure, FundTransfer, QuarterlyStatement
from grants import services as grant_services
from grants.models import Donor, DonorPayment, Partner
from tests.api import support
from tests.api.support import SEED

ROLES = ("finance", "bnce", "donor", "anonymous")


def load_schema(*, coverage: bool):
    """The served schema. The coverage phase (boundary values of every field, deterministic) runs
    on the POSTs of expenditures and transfers, where it pays; on other operations it would try
    every combination of query parameters, so they get the fuzzing phase alone. Each load has its
    own configuration."""
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", application, config=schemathesis.Config.from_dict({}))
    loaded.config.phases.coverage.enabled = coverage
    return loaded


schema = load_schema(coverage=True)

# The checks of every response: no server error, and the response as the schema documents it.
#
# Not run: positive_data_acceptance, since a schema cannot say which codes exist, which role may
# write, nor that a date falls inside the grant, so a request valid by the schema is often rightly
# refused (403, 400 unknown_partner, date_outside_grant...); and negative_data_rejection, since DRF
# reads some requests the schema calls invalid as a lenient reader would: a number for a text
# (`"description": 0` is "0"), an empty form value of an optional field as no value (a location's
# `country=` takes the default), a malformed `page_size` as the default page, an empty filter
# (`received_before=`) as no filter. Both kinds of refusal and acceptance are the bad-input tests'
# (tests/api/test_bad_input.py); here every answer, refusals included, is checked against the schema.
RESPONSE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]


def few(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
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
    # A draft statement and a draft version: what their writes (submit, approve...) act on.
    statement_services.statement_create(grant=grant, partner=Partner.objects.get(code="BNCE"), period="2016-Q3")
    budget_services.version_open_draft(grant=grant, label="revision 1")
    ExchangeRate.objects.create(currency="XOF", rate=Decimal("655.957"), month=date(2016, 1, 1), source="test")
    grant_services.donor_payment_record(grant=grant, donor=Donor.objects.get(code="MAEE-LU"),
                                        received_on=date(2015, 7, 20), amount=Money(Decimal("250000.00"), "EUR"))
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


def _counts(record_property, name: str) -> dict[str, int]:
    counts = dict.fromkeys(ROLES, 0)
    record_property(name, counts)  # the report takes the dict as it is once the test has run
    return counts


@pytest.fixture
def cases(record_property) -> dict[str, int]:
    """Requests sent by role in this test, recorded on its report (printed by tests/conftest.py)."""
    return _counts(record_property, "schemathesis_cases")


@pytest.fixture
def steps(record_property) -> dict[str, int]:
    """Requests sent by role in this test's scenarios of linked operations, recorded likewise."""
    return _counts(record_property, "schemathesis_stateful_steps")


@pytest.fixture
def linked(record_property) -> dict[str, int]:
    """Of those, the requests that followed a link (their parameters taken from an earlier answer)."""
    return _counts(record_property, "schemathesis_stateful_linked_steps")


def headers(world, role: str) -> dict:
    return {} if role == "anonymous" else {"Authorization": f"Token {world[role]}"}


def _first_pk(queryset):
    record = queryset.order_by("pk").first()
    return None if record is None else record.pk


# The record a path parameter names, by the path segment before it ({code} of grants/, partners/...;
# {id} of expenditures/, statements/...): one that exists in build()'s world.
REAL_CODES = {"grants": SEED, "budget-lines": "2.1", "partners": "BNCE", "locations": "BKO", "donors": "MAEE-LU"}
REAL_IDS = {
    "allocations": lambda: _first_pk(Allocation.objects.filter(version__grant__code=SEED, version__number=2)),
    "exchange-rates": lambda: _first_pk(ExchangeRate.objects.all()),
    "transfers": lambda: _first_pk(FundTransfer.objects.all()),
    "donor-payments": lambda: _first_pk(DonorPayment.objects.all()),
    "expenditures": lambda: _first_pk(Expenditure.objects.all()),
    "statements": lambda: _first_pk(QuarterlyStatement.objects.filter(status="draft")),
}


def real_path_parameters(path: str) -> dict:
    """Path parameters naming records that exist, for the operation at ``path`` (version 2 is the
    seed grant's draft)."""
    values = {}
    for before, name in re.findall(r"([\w.-]+)/\{(\w+)\}", path):
        if name == "grant_code":
            values[name] = SEED
        elif name in ("number", "version_number"):
            values[name] = 2
        elif name == "code" and before in REAL_CODES:
            values[name] = REAL_CODES[before]
        elif name == "id" and before in REAL_IDS:
            found = REAL_IDS[before]()
            if found is not None:
                values[name] = found
    return values


@contextmanager
def undone():
    """What the requests inside write is rolled back at the end: every example and every scenario
    starts from build()'s world, so a failure replays as it happened (Hypothesis runs a failing
    example again to report it, and a world changed meanwhile would make it "flaky")."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


everything = load_schema(coverage=False)


# Parametrized by role with pytest, as well as by operation with schemathesis: pytest 9.2 builds an
# item's node id from its parametrization, and schemathesis 4.32 names an operation's item in a way
# it does not read, so without a parametrization of pytest's every operation's item had the same
# id, and pytest-xdist's --dist loadfile (make test, the CI) ran only one of them
# (test_every_item_has_its_own_node_id guards this).
@everything.parametrize()
@pytest.mark.parametrize("role", ROLES)
@few(3)
def test_every_operation_answers_as_documented_for_every_role(case, role, world, db, cases):
    with undone():
        # as generated
        case.validate_response(case.call(headers=headers(world, role)), checks=RESPONSE_CHECKS)
        cases[role] += 1
        # and on records that exist
        if case.path_parameters:
            case.path_parameters = {**case.path_parameters, **real_path_parameters(case.path)}
            case.validate_response(case.call(headers=headers(world, role)), checks=RESPONSE_CHECKS)
            cases[role] += 1


REAL_REFERENCES = {
    "/api/v1/expenditures/": {"grant": SEED, "partner": "BNCE", "budget_line": "2.1", "location": "BKO",
                              "date": "2016-05-02"},
    "/api/v1/transfers/": {"grant": SEED, "partner": "BNCE", "sent_on": "2016-04-01"},
}

posts = schema.include(method="POST", path=list(REAL_REFERENCES))


@posts.parametrize()
@pytest.mark.parametrize("role", ["finance", "bnce"])
@few(10)
def test_posting_expenditures_and_transfers_answers_as_documented(case, role, world, db, cases):
    with undone():
        # as generated: mostly refused (unknown codes), each refusal in the documented shape
        case.call_and_validate(headers=headers(world, role), checks=RESPONSE_CHECKS)
        cases[role] += 1
        # and with references that exist: the money fields, voucher and dates are what is tried
        if isinstance(case.body, dict):
            case.body = {**case.body, **REAL_REFERENCES[case.path]}
            if case.path.endswith("/transfers/"):
                case.body.pop("received_on", None)
            case.validate_response(case.call(headers=headers(world, role)), checks=RESPONSE_CHECKS)
            cases[role] += 1


def test_every_item_has_its_own_node_id(request):
    # what pytest-xdist's --dist loadfile schedules by: two items with one id run once
    ids = [item.nodeid for item in request.session.items if item.path == request.path]
    assert len(ids) > len(ROLES) * 80  # every operation (101) as every role
    assert len(ids) == len(set(ids))


# --- stateful: the links between operations ---------------------------------------------------------------

stateful = load_schema(coverage=False)
# The links schemathesis infers, and so follows: (source operation, target operation), among others.
EXPECTED_LINKS = [
    ("POST /api/v1/grants/", "GET /api/v1/grants/{code}/"),
    ("POST /api/v1/grants/", "PATCH /api/v1/grants/{code}/"),
    ("POST /api/v1/grants/", "DELETE /api/v1/grants/{code}/"),
    ("POST /api/v1/grants/", "POST /api/v1/grants/{grant_code}/versions/"),
    ("POST /api/v1/grants/{grant_code}/versions/", "POST /api/v1/grants/{grant_code}/versions/{number}/approve/"),
    ("POST /api/v1/expenditures/", "PUT /api/v1/expenditures/{id}/"),
    ("POST /api/v1/expenditures/", "DELETE /api/v1/expenditures/{id}/"),
    ("POST /api/v1/statements/", "POST /api/v1/statements/{id}/submit/"),
    ("GET /api/v1/statements/", "GET /api/v1/statements/{id}/"),
    ("POST /api/v1/transfers/", "PATCH /api/v1/transfers/{id}/"),
    ("POST /api/v1/partners/", "GET /api/v1/partners/{code}/"),
    ("GET /api/v1/grants/", "GET /api/v1/grants/{code}/reports/variance/"),
]


def _links(machine_schema) -> set[tuple[str, str]]:
    """(source, target) of every link in the schema, once the state machine has injected them."""
    document = machine_schema.raw_schema
    targets = {f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}": f"{method.upper()} {path}"
               for path, operations in document["paths"].items() for method in operations}
    found = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for link in (response.get("links") or {}).values():
                    target = targets.get(link.get("operationRef"), link.get("operationId"))
                    found.add((f"{method.upper()} {path}", target))
    return found


def test_the_links_between_operations_are_there():
    stateful.as_state_machine()
    links = _links(stateful)
    assert [link for link in EXPECTED_LINKS if link not in links] == []
    assert len(links) > 300


STATEFUL_CHECKS = [*RESPONSE_CHECKS, use_after_free, ensure_resource_availability]


@pytest.mark.parametrize("role", ROLES)
def test_linked_operations_answer_as_documented_for_every_role(world, db, steps, linked, role):
    class Scenarios(stateful.as_state_machine()):
        def setup(self):
            self.scenario = undone()
            self.scenario.__enter__()

        def teardown(self):
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": headers(world, role)}

        def step(self, input):
            linked[role] += input.transition is not None and input.is_applied
            return super().step(input)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            steps[role] += 1
            case.validate_response(response, checks=STATEFUL_CHECKS)

    Scenarios.run(settings=settings(
        max_examples=40, stateful_step_count=8, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate]))


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
    # 403 where a role may be refused: revalue (finance only), another partner's reconciliation
    assert "403" in document["paths"]["/api/v1/grants/{code}/revalue/"]["post"]["responses"]
    assert "403" in document["paths"]["/api/v1/grants/{code}/reconciliation/"]["get"]["responses"]
    post = document["paths"]["/api/v1/expenditures/"]["post"]
    assert {"201", "400", "401", "403", "409", "422"} <= set(post["responses"])
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
