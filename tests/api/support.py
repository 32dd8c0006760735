"""Helpers shared by the API tests: records made through the services, row counts, error bodies.

Plain functions, not fixtures, so that each test module states its own fixtures."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from moneyed import Money
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from budget import services as budget_services
from budget.models import Allocation, BudgetLine, BudgetVersion
from expenditures import services as expenditure_services
from expenditures.models import ExchangeRate, Expenditure, FundTransfer, QuarterlyStatement
from grants import services as grant_services
from grants.models import Donor, DonorPayment, Grant, GrantDonor, Location, Partner, Role
from tests.conftest import ensure_reference_rows, make_user

API = "/api/v1"
SEED = "ML-ESEC-2015"
OTHER = "ML-OTHER-2020"


def partner(code: str) -> Partner:
    return Partner.objects.get(code=code)


def other_grant() -> Grant:
    """A second grant, funded by another donor (not MAEE-LU), with APJEC as its only partner."""
    funder, _ = Donor.objects.get_or_create(code="OTHER-FUNDER", defaults={"name": "Another funder"})
    grant = grant_services.grant_create(
        code=OTHER, title="Another project", total=Money(Decimal("50000.00"), "EUR"),
        start_date=date(2020, 1, 1), end_date=date(2021, 12, 31), partners=[partner("APJEC")],
        donor_shares=[(funder, Decimal("100"))],
    )
    heading = BudgetLine.objects.create(grant=grant, code="1", label_fr="Titre", label_en="Heading", position=1)
    line = BudgetLine.objects.create(grant=grant, code="1.1", parent=heading, label_fr="Ligne", label_en="Line",
                                     position=2)
    # An approved budget: APJEC spends on the lines allocated to it.
    version = budget_services.version_open_draft(grant=grant, label="original")
    budget_services.allocation_set(version=version, budget_line=line, partner=partner("APJEC"),
                                   location=Location.objects.get(code="BKO"), year=1,
                                   amount=Money(Decimal("50000.00"), "EUR"))
    budget_services.version_approve(version=version)
    return grant


def expenditure(grant: Grant, partner_code: str, *, voucher: str, amount: str = "65596",
                currency: str = "XOF", line: str | None = None, location: str = "BKO",
                day: date = date(2016, 3, 15), status: str = "validated") -> Expenditure:
    """``line``: by default the first line allocated to the partner (2.1 for CARITAS and BNCE)."""
    if line is None:
        line = allocated_line(grant, partner_code)
    return expenditure_services.expenditure_record(
        grant=grant, partner=partner(partner_code), budget_line=BudgetLine.objects.get(grant=grant, code=line),
        location=Location.objects.get(code=location), amount=Money(Decimal(amount), currency), date=day,
        voucher=voucher, status=status,
    )


def allocated_line(grant: Grant, partner_code: str) -> str:
    """The code of a line allocated to the partner in the grant's current version (2.1 where it has it)."""
    codes = sorted(BudgetLine.objects.filter(allocations__version__grant=grant, allocations__version__is_current=True,
                                             allocations__partner__code=partner_code).values_list("code", flat=True)
                   .distinct())
    return "2.1" if "2.1" in codes else codes[0]


def transfer(grant: Grant, partner_code: str, *, sent: str = "10000.00", received: str = "6559570",
             sent_on: date = date(2016, 1, 10), received_on: date = date(2016, 1, 14)) -> FundTransfer:
    return expenditure_services.transfer_record(
        grant=grant, partner=partner(partner_code), sent_on=sent_on, received_on=received_on,
        amount_sent=Money(Decimal(sent), "EUR"), amount_received=Money(Decimal(received), "XOF"),
        fees=Money(Decimal("12.50"), "EUR"),
    )


def lock_quarter(grant: Grant, partner_code: str, year: int, quarter: int) -> QuarterlyStatement:
    """An accepted statement: the partner's quarter is locked."""
    return QuarterlyStatement.objects.create(grant=grant, partner=partner(partner_code), year=year,
                                             quarter=quarter, status="accepted")


MODELS = (Grant, GrantDonor, Partner, Location, Donor, ExchangeRate, BudgetLine, BudgetVersion, Allocation,
          FundTransfer, Expenditure, QuarterlyStatement, DonorPayment)


def row_counts() -> dict[str, int]:
    """How many rows each ledger table holds (to show that a refused request wrote nothing)."""
    return {model.__name__: model.objects.count() for model in MODELS}


def errors(response) -> list[dict]:
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}, error
    return body["errors"]


def refusal(response) -> tuple[str, str | None]:
    """The (code, attr) of the first error of a refused request's body."""
    first = errors(response)[0]
    return first["code"], first["attr"]


# --- a world built once per test module ---------------------------------------------------------
#
# Loading the seed takes a second or more; the matrix and the query tests make hundreds of
# requests. So a module builds its records once inside a transaction that is rolled back at the
# module's end, and each test runs in a savepoint inside it (pytest-django's ``db``), which is
# rolled back after the test: every test still sees the same, untouched world.

ROLES = ("finance", "bnce", "donor", "norole", "anonymous")


@contextmanager
def module_world(django_db_blocker, build):
    with django_db_blocker.unblock(), transaction.atomic():
        ensure_reference_rows()  # inside the module's transaction, like every test's own
        built = build()
        yield built
        transaction.set_rollback(True)


def make_users() -> dict[str, str]:
    """A user per role (and caritas, a second partner), each with a token: {name: token key}."""
    tokens = {
        "finance": make_user("finance", Role.FINANCE_OFFICER),
        "bnce": make_user("bnce", Role.PARTNER_MEMBER, partner=partner("BNCE")),
        "caritas": make_user("caritas", Role.PARTNER_MEMBER, partner=partner("CARITAS")),
        "donor": make_user("donor", Role.DONOR_MEMBER, donor=Donor.objects.get(code="MAEE-LU")),
        "norole": get_user_model().objects.create_user(username="norole", password="norole"),
    }
    return {name: Token.objects.create(user=user).key for name, user in tokens.items()}


def clients_for(tokens: dict[str, str]) -> dict[str, APIClient]:
    clients = {"anonymous": APIClient()}
    for name, key in tokens.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        clients[name] = client
    return clients
