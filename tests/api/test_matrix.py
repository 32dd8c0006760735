"""The role matrix of issue 3: every role x every endpoint x every method, each cell a status.

Roles: a finance officer, a member of the partner BNCE, a member of the donor MAEE-LU (which
funds the Mali project), an authenticated user with no role, and no credentials at all.

The world (built once for the module, see ``support.module_world``):
- the Mali project ML-ESEC-2015 (version 1 approved), funded by MAEE-LU, partners APJEC, BNCE,
  CARITAS and ECPAT-LU; a transfer and an expenditure of BNCE and of CARITAS on it;
- ML-OTHER-2020, funded by another donor, APJEC its only partner, with a transfer and an
  expenditure of APJEC: neither the BNCE member nor the MAEE-LU member may know it exists;
- a payment of each donor: MAEE-LU's and ECPAT-LU-OWN's on the Mali project, OTHER-FUNDER's on the
  other grant (the MAEE-LU member reads its own donor's only, the BNCE member none);
- reference records nothing depends on (partner NEWP, location TMB, donor NEWD, the XOF rate of
  January 2016), which a finance officer may delete.
Some rows add a record of their own first (a draft version, an unused grant or budget line);
every cell runs in its own savepoint, so a cell's writes never reach the next one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction

from budget import services as budget_services
from budget.models import Allocation, BudgetLine
from budget.seed import seed_load
from expenditures.models import ExchangeRate, Expenditure, FundTransfer
from grants import services as grant_services
from grants.models import Donor, DonorPayment, Grant, Location, Partner
from tests.api import support
from tests.api.support import API, OTHER, ROLES, SEED

# --- the world ------------------------------------------------------------------------------------


def build():
    """This module's world (``world`` in tests/api/conftest.py builds it once): users' tokens."""
    grant = seed_load().grant
    other = support.other_grant()
    support.transfer(grant, "BNCE")
    support.transfer(grant, "CARITAS")
    support.transfer(other, "APJEC", sent_on=date(2020, 2, 1), received_on=date(2020, 2, 5))
    # Sent by BNCE and not yet validated by finance: BNCE may still change or delete it (a validated
    # one it may not: tests/test_lifecycle.py).
    support.expenditure(grant, "BNCE", voucher="BNCE-1", status="submitted")
    support.expenditure(grant, "CARITAS", voucher="CAR-1")
    support.expenditure(other, "APJEC", voucher="APJ-1", line="1.1", day=date(2020, 3, 1))
    Partner.objects.create(code="NEWP", name="A partner on no grant", reporting_currency="XOF")
    Location.objects.create(code="TMB", name="Tombouctou", region="Tombouctou")
    Donor.objects.create(code="NEWD", name="A donor of nothing")
    ExchangeRate.objects.create(currency="XOF", rate=Decimal("655.957"), month=date(2016, 1, 1), source="test")
    for code, on, day in [("MAEE-LU", grant, date(2015, 7, 20)), ("ECPAT-LU-OWN", grant, date(2015, 9, 1)),
                          ("OTHER-FUNDER", other, date(2020, 2, 1))]:
        grant_services.donor_payment_record(grant=on, donor=Donor.objects.get(code=code), received_on=day,
                                            amount=_money("1000.00"))
    return support.make_users()


# --- what rows add to the world ---------------------------------------------------------------------


def open_draft():
    budget_services.version_open_draft(grant=Grant.objects.get(code=SEED), label="revision 1")


def unused_grant():
    grant_services.grant_create(
        code="ML-NEW-2019", title="Not started yet", total=_money("1000.00"), start_date=date(2019, 1, 1),
        end_date=date(2019, 12, 31), partners=[Partner.objects.get(code="BNCE")],
        donor_shares=[(Donor.objects.get(code="MAEE-LU"), Decimal("100"))],
    )


def unused_line():
    grant = Grant.objects.get(code=SEED)
    heading = BudgetLine.objects.create(grant=grant, code="8", label_fr="Réserve", label_en="Reserve", position=80)
    BudgetLine.objects.create(grant=grant, code="8.1", parent=heading, label_fr="Imprévus",
                              label_en="Contingencies", position=81)


def _money(amount: str):
    from moneyed import Money

    return Money(Decimal(amount), "EUR")


# --- where the records are -------------------------------------------------------------------------

def allocation_url(partner_code: str, number: int) -> str:
    allocation = Allocation.objects.filter(
        version__grant__code=SEED, version__number=number, partner__code=partner_code).order_by("id").first()
    return f"{API}/grants/{SEED}/versions/{number}/allocations/{allocation.pk}/"


def transfer_url(grant_code: str, partner_code: str) -> str:
    pk = FundTransfer.objects.get(grant__code=grant_code, partner__code=partner_code).pk
    return f"{API}/transfers/{pk}/"


def expenditure_url(grant_code: str, partner_code: str) -> str:
    pk = Expenditure.objects.get(grant__code=grant_code, partner__code=partner_code).pk
    return f"{API}/expenditures/{pk}/"


def payment_url(donor_code: str) -> str:
    return f"{API}/donor-payments/{DonorPayment.objects.get(donor__code=donor_code).pk}/"


def rate_url(month: date | None) -> str:
    return f"{API}/exchange-rates/{ExchangeRate.objects.get(currency='XOF', month=month).pk}/"


# --- request bodies ---------------------------------------------------------------------------------

def grant_body(code: str) -> dict:
    return {
        "code": code, "title": "Rompre le silence", "total": "955926.26", "total_currency": "EUR",
        "start_date": "2015-07-01", "end_date": "2018-06-30", "fx_method": "parity",
        "variance_tolerance_pct": "10.00", "reallocation_limit_pct": "25.00",
        "partners": ["APJEC", "BNCE", "CARITAS", "ECPAT-LU"],
        "donors": [{"donor": "MAEE-LU", "share_pct": "75.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "25.00"}],
    }


def other_grant_body() -> dict:
    return {
        "code": OTHER, "title": "Another project, renamed", "total": "50000.00", "total_currency": "EUR",
        "start_date": "2020-01-01", "end_date": "2021-12-31", "fx_method": "parity",
        "variance_tolerance_pct": "10.00", "reallocation_limit_pct": "25.00", "partners": ["APJEC"],
        "donors": [{"donor": "OTHER-FUNDER", "share_pct": "100.00"}],
    }


def new_grant_body() -> dict:
    return {**grant_body("ML-NEW-2019"), "total": "1000.00", "start_date": "2019-01-01", "end_date": "2019-12-31",
            "partners": ["BNCE"], "donors": [{"donor": "MAEE-LU", "share_pct": "100.00"}]}


def allocation_body(url: str) -> dict:
    allocation = Allocation.objects.select_related("budget_line", "partner", "location").get(
        pk=int(url.rstrip("/").rsplit("/", 1)[1]))
    return {"budget_line": allocation.budget_line.code, "partner": allocation.partner.code,
            "location": allocation.location.code, "year": allocation.year, "amount": "1234.00",
            "amount_currency": "EUR"}


def transfer_body(grant_code: str = SEED, partner_code: str = "BNCE") -> dict:
    day = "2020-02" if grant_code == OTHER else "2016-01"
    return {"grant": grant_code, "partner": partner_code, "sent_on": f"{day}-10", "received_on": f"{day}-15",
            "amount_sent": "20000.00", "amount_sent_currency": "EUR", "amount_received": "13119140",
            "amount_received_currency": "XOF", "fees": "15.00", "fees_currency": "EUR"}


def payment_body(grant_code: str = SEED, donor_code: str = "MAEE-LU") -> dict:
    day = "2020-03-01" if grant_code == OTHER else "2016-08-01"
    return {"grant": grant_code, "donor": donor_code, "received_on": day, "amount": "250000.00",
            "amount_currency": "EUR", "reference": "V-1", "note": ""}


def expenditure_body(grant_code: str = SEED, partner_code: str = "BNCE", voucher: str = "NEW-1") -> dict:
    line, day = ("1.1", "2020-06-30") if grant_code == OTHER else ("2.2", "2016-05-02")
    return {"grant": grant_code, "partner": partner_code, "budget_line": line, "location": "BKO", "date": day,
            "amount": "131191", "amount_currency": "XOF", "voucher": voucher, "description": "Changed"}


# --- the rows: (list or detail URL, setup, body for POST/PUT, body for PATCH) ------------------------

G = f"{API}/grants/{SEED}"
GO = f"{API}/grants/{OTHER}"

LISTS = {
    "grants": (f"{API}/grants/", None, lambda: grant_body("ML-NEW-2019")),
    "budget-lines": (f"{G}/budget-lines/", None,
                     lambda: {"code": "9", "parent": None, "label_fr": "Divers", "label_en": "Sundry"}),
    "budget-lines of the other grant": (f"{GO}/budget-lines/", None,
                                        lambda: {"code": "9", "label_fr": "Divers", "label_en": "Sundry"}),
    "versions": (f"{G}/versions/", None, lambda: {"label": "revision 1", "reason": "Mid-term review"}),
    "versions of the other grant": (f"{GO}/versions/", None, lambda: {"label": "original"}),
    "allocations of approved v1": (
        f"{G}/versions/1/allocations/", None,
        lambda: {"budget_line": "2.1", "partner": "BNCE", "location": "SEG", "year": 1, "amount": "10.00",
                 "amount_currency": "EUR"}),
    "allocations of a draft v2": (
        f"{G}/versions/2/allocations/", open_draft,
        lambda: {"budget_line": "2.1", "partner": "BNCE", "location": "SEG", "year": 1, "amount": "10.00",
                 "amount_currency": "EUR"}),
    "partners": (f"{API}/partners/", None, lambda: {"code": "AMSOPT", "name": "AMSOPT", "reporting_currency": "XOF"}),
    "locations": (f"{API}/locations/", None,
                  lambda: {"code": "KYS", "name": "Kayes", "region": "Région de Kayes", "country": "ML",
                           "latitude": "14.447500", "longitude": "-11.445300"}),
    "donors": (f"{API}/donors/", None, lambda: {"code": "UNICEF", "name": "UNICEF Mali"}),
    "exchange-rates": (f"{API}/exchange-rates/", None,
                       lambda: {"currency": "XOF", "rate": "655.957000", "month": "2016-02", "source": "BCEAO"}),
    "transfers": (f"{API}/transfers/", None, transfer_body),
    "donor-payments": (f"{API}/donor-payments/", None, payment_body),
    "expenditures": (f"{API}/expenditures/", None, expenditure_body),
}

DETAILS = {
    "grant": (lambda: f"{G}/", None, lambda: grant_body(SEED), {"title": "Rompre le silence (v2)"}),
    "grant of the other donor": (lambda: f"{GO}/", None, other_grant_body, {"title": "Renamed"}),
    "grant not started": (lambda: f"{API}/grants/ML-NEW-2019/", unused_grant, new_grant_body, {"title": "Renamed"}),
    "budget line": (lambda: f"{G}/budget-lines/2.1/", None,
                    lambda: {"code": "2.1", "parent": "2", "label_fr": "Hébergement", "label_en": "Shelter"},
                    {"label_en": "Shelter"}),
    "budget line not used": (lambda: f"{G}/budget-lines/8.1/", unused_line,
                             lambda: {"code": "8.1", "parent": "8", "label_fr": "Imprévus", "label_en": "Sundry"},
                             {"label_en": "Sundry"}),
    "budget line of the other grant": (lambda: f"{GO}/budget-lines/1.1/", None,
                                       lambda: {"code": "1.1", "parent": "1", "label_fr": "L", "label_en": "L"},
                                       {"label_en": "L"}),
    "approved version": (lambda: f"{G}/versions/1/", None, lambda: {"label": "original", "reason": "Changed"},
                         {"reason": "Changed"}),
    "draft version": (lambda: f"{G}/versions/2/", open_draft, lambda: {"label": "revision 1", "reason": "Changed"},
                      {"reason": "Changed"}),
    "BNCE's allocation in v1": (lambda: allocation_url("BNCE", 1), None, lambda: allocation_body(
        allocation_url("BNCE", 1)), {"amount": "1.00", "amount_currency": "EUR"}),
    "CARITAS's allocation in v1": (lambda: allocation_url("CARITAS", 1), None, lambda: allocation_body(
        allocation_url("CARITAS", 1)), {"amount": "1.00", "amount_currency": "EUR"}),
    "BNCE's allocation in a draft": (lambda: allocation_url("BNCE", 2), open_draft, lambda: allocation_body(
        allocation_url("BNCE", 2)), {"amount": "1.00", "amount_currency": "EUR"}),
    "partner in use": (lambda: f"{API}/partners/BNCE/", None,
                       lambda: {"code": "BNCE", "name": "BNCE-Mali", "reporting_currency": "XOF"}, {"name": "BNCE"}),
    "partner not used": (lambda: f"{API}/partners/NEWP/", None,
                         lambda: {"code": "NEWP", "name": "New", "reporting_currency": "XOF"}, {"name": "New"}),
    "location in use": (lambda: f"{API}/locations/BKO/", None,
                        lambda: {"code": "BKO", "name": "Bamako", "region": "District de Bamako", "country": "ML",
                                 "latitude": "12.639200", "longitude": "-8.002900"}, {"name": "Bamako"}),
    "location not used": (lambda: f"{API}/locations/TMB/", None,
                          lambda: {"code": "TMB", "name": "Tombouctou", "region": "Tombouctou", "country": "ML",
                                   "latitude": None, "longitude": None}, {"name": "Timbuktu"}),
    "donor in use": (lambda: f"{API}/donors/MAEE-LU/", None, lambda: {"code": "MAEE-LU", "name": "MAEE"},
                     {"name": "MAEE"}),
    "donor not used": (lambda: f"{API}/donors/NEWD/", None, lambda: {"code": "NEWD", "name": "New"}, {"name": "New"}),
    "the parity": (lambda: rate_url(None), None,
                   lambda: {"currency": "XOF", "rate": "655.957000", "month": None, "source": "Fixed parity"},
                   {"source": "Fixed parity since 1999"}),
    "a monthly rate": (lambda: rate_url(date(2016, 1, 1)), None,
                       lambda: {"currency": "XOF", "rate": "656.000000", "month": "2016-01", "source": "BCEAO"},
                       {"rate": "656.000000"}),
    "BNCE's transfer": (lambda: transfer_url(SEED, "BNCE"), None, transfer_body, {"fees": "20.00",
                                                                                  "fees_currency": "EUR"}),
    "CARITAS's transfer": (lambda: transfer_url(SEED, "CARITAS"), None, lambda: transfer_body(SEED, "CARITAS"),
                           {"fees": "20.00", "fees_currency": "EUR"}),
    "transfer of the other grant": (lambda: transfer_url(OTHER, "APJEC"), None, lambda: transfer_body(OTHER, "APJEC"),
                                    {"fees": "20.00", "fees_currency": "EUR"}),
    "MAEE-LU's payment": (lambda: payment_url("MAEE-LU"), None, payment_body, {"note": "Corrected"}),
    "ECPAT-LU-OWN's payment": (lambda: payment_url("ECPAT-LU-OWN"), None, lambda: payment_body(SEED, "ECPAT-LU-OWN"),
                               {"note": "Corrected"}),
    "payment of the other grant": (lambda: payment_url("OTHER-FUNDER"), None,
                                   lambda: payment_body(OTHER, "OTHER-FUNDER"), {"note": "Corrected"}),
    "BNCE's expenditure": (lambda: expenditure_url(SEED, "BNCE"), None,
                           lambda: expenditure_body(SEED, "BNCE", "BNCE-1"), {"description": "Corrected"}),
    "CARITAS's expenditure": (lambda: expenditure_url(SEED, "CARITAS"), None,
                              lambda: expenditure_body(SEED, "CARITAS", "CAR-1"), {"description": "Corrected"}),
    "expenditure of the other grant": (lambda: expenditure_url(OTHER, "APJEC"), None,
                                       lambda: expenditure_body(OTHER, "APJEC", "APJ-1"), {"description": "Corrected"}),
}

# --- the expected statuses: (finance, bnce, donor, norole, anonymous) ----------------------------------

EXPECTED = {
    # grants: finance all; a partner the grants it is partner of; a donor the grants it funds
    ("grants", "list"): (200, 200, 200, 403, 401),
    ("grants", "create"): (201, 403, 403, 403, 401),
    ("grant", "retrieve"): (200, 200, 200, 403, 401),
    ("grant", "update"): (200, 403, 403, 403, 401),
    ("grant", "partial_update"): (200, 403, 403, 403, 401),
    ("grant", "destroy"): (409, 403, 403, 403, 401),  # an approved budget: it stays
    ("grant of the other donor", "retrieve"): (200, 404, 404, 403, 401),
    ("grant of the other donor", "update"): (200, 403, 403, 403, 401),
    ("grant of the other donor", "partial_update"): (200, 403, 403, 403, 401),
    ("grant of the other donor", "destroy"): (409, 403, 403, 403, 401),  # money moved on it
    ("grant not started", "retrieve"): (200, 200, 200, 403, 401),
    ("grant not started", "update"): (200, 403, 403, 403, 401),
    ("grant not started", "partial_update"): (200, 403, 403, 403, 401),
    ("grant not started", "destroy"): (204, 403, 403, 403, 401),
    # budget lines
    ("budget-lines", "list"): (200, 200, 200, 403, 401),
    ("budget-lines", "create"): (201, 403, 403, 403, 401),
    ("budget-lines of the other grant", "list"): (200, 404, 404, 403, 401),
    ("budget-lines of the other grant", "create"): (201, 403, 403, 403, 401),
    ("budget line", "retrieve"): (200, 200, 200, 403, 401),
    ("budget line", "update"): (200, 403, 403, 403, 401),
    ("budget line", "partial_update"): (200, 403, 403, 403, 401),
    ("budget line", "destroy"): (409, 403, 403, 403, 401),  # allocated and spent on
    ("budget line not used", "retrieve"): (200, 200, 200, 403, 401),
    ("budget line not used", "update"): (200, 403, 403, 403, 401),
    ("budget line not used", "partial_update"): (200, 403, 403, 403, 401),
    ("budget line not used", "destroy"): (204, 403, 403, 403, 401),
    ("budget line of the other grant", "retrieve"): (200, 404, 404, 403, 401),
    ("budget line of the other grant", "update"): (200, 403, 403, 403, 401),
    ("budget line of the other grant", "partial_update"): (200, 403, 403, 403, 401),
    ("budget line of the other grant", "destroy"): (409, 403, 403, 403, 401),  # spent on
    # versions
    ("versions", "list"): (200, 200, 200, 403, 401),
    ("versions", "create"): (201, 403, 403, 403, 401),
    ("versions of the other grant", "list"): (200, 404, 404, 403, 401),
    ("versions of the other grant", "create"): (201, 403, 403, 403, 401),
    ("approved version", "retrieve"): (200, 200, 200, 403, 401),
    ("approved version", "update"): (409, 403, 403, 403, 401),
    ("approved version", "partial_update"): (409, 403, 403, 403, 401),
    ("approved version", "destroy"): (409, 403, 403, 403, 401),
    ("draft version", "retrieve"): (200, 200, 200, 403, 401),
    ("draft version", "update"): (200, 403, 403, 403, 401),
    ("draft version", "partial_update"): (200, 403, 403, 403, 401),
    ("draft version", "destroy"): (204, 403, 403, 403, 401),
    # allocations: a partner reads its own only
    ("allocations of approved v1", "list"): (200, 200, 200, 403, 401),
    ("allocations of approved v1", "create"): (409, 403, 403, 403, 401),
    ("allocations of a draft v2", "list"): (200, 200, 200, 403, 401),
    ("allocations of a draft v2", "create"): (201, 403, 403, 403, 401),
    ("BNCE's allocation in v1", "retrieve"): (200, 200, 200, 403, 401),
    ("BNCE's allocation in v1", "update"): (409, 403, 403, 403, 401),
    ("BNCE's allocation in v1", "partial_update"): (409, 403, 403, 403, 401),
    ("BNCE's allocation in v1", "destroy"): (409, 403, 403, 403, 401),
    ("CARITAS's allocation in v1", "retrieve"): (200, 404, 200, 403, 401),
    ("CARITAS's allocation in v1", "update"): (409, 403, 403, 403, 401),
    ("CARITAS's allocation in v1", "partial_update"): (409, 403, 403, 403, 401),
    ("CARITAS's allocation in v1", "destroy"): (409, 403, 403, 403, 401),
    ("BNCE's allocation in a draft", "retrieve"): (200, 200, 200, 403, 401),
    ("BNCE's allocation in a draft", "update"): (200, 403, 403, 403, 401),
    ("BNCE's allocation in a draft", "partial_update"): (200, 403, 403, 403, 401),
    ("BNCE's allocation in a draft", "destroy"): (204, 403, 403, 403, 401),
    # reference records: finance writes, the others read
    ("partners", "list"): (200, 200, 200, 403, 401),
    ("partners", "create"): (201, 403, 403, 403, 401),
    ("partner in use", "retrieve"): (200, 200, 200, 403, 401),
    ("partner in use", "update"): (200, 403, 403, 403, 401),
    ("partner in use", "partial_update"): (200, 403, 403, 403, 401),
    ("partner in use", "destroy"): (409, 403, 403, 403, 401),
    ("partner not used", "retrieve"): (200, 200, 200, 403, 401),
    ("partner not used", "update"): (200, 403, 403, 403, 401),
    ("partner not used", "partial_update"): (200, 403, 403, 403, 401),
    ("partner not used", "destroy"): (204, 403, 403, 403, 401),
    ("locations", "list"): (200, 200, 200, 403, 401),
    ("locations", "create"): (201, 403, 403, 403, 401),
    ("location in use", "retrieve"): (200, 200, 200, 403, 401),
    ("location in use", "update"): (200, 403, 403, 403, 401),
    ("location in use", "partial_update"): (200, 403, 403, 403, 401),
    ("location in use", "destroy"): (409, 403, 403, 403, 401),
    ("location not used", "retrieve"): (200, 200, 200, 403, 401),
    ("location not used", "update"): (200, 403, 403, 403, 401),
    ("location not used", "partial_update"): (200, 403, 403, 403, 401),
    ("location not used", "destroy"): (204, 403, 403, 403, 401),
    ("donors", "list"): (200, 200, 200, 403, 401),
    ("donors", "create"): (201, 403, 403, 403, 401),
    ("donor in use", "retrieve"): (200, 200, 200, 403, 401),
    ("donor in use", "update"): (200, 403, 403, 403, 401),
    ("donor in use", "partial_update"): (200, 403, 403, 403, 401),
    ("donor in use", "destroy"): (409, 403, 403, 403, 401),
    ("donor not used", "retrieve"): (200, 200, 200, 403, 401),
    ("donor not used", "update"): (200, 403, 403, 403, 401),
    ("donor not used", "partial_update"): (200, 403, 403, 403, 401),
    ("donor not used", "destroy"): (204, 403, 403, 403, 401),
    ("exchange-rates", "list"): (200, 200, 200, 403, 401),
    ("exchange-rates", "create"): (201, 403, 403, 403, 401),
    ("the parity", "retrieve"): (200, 200, 200, 403, 401),
    ("the parity", "update"): (200, 403, 403, 403, 401),
    ("the parity", "partial_update"): (200, 403, 403, 403, 401),
    ("the parity", "destroy"): (409, 403, 403, 403, 401),  # every conversion rests on it
    ("a monthly rate", "retrieve"): (200, 200, 200, 403, 401),
    ("a monthly rate", "update"): (200, 403, 403, 403, 401),
    ("a monthly rate", "partial_update"): (200, 403, 403, 403, 401),
    ("a monthly rate", "destroy"): (204, 403, 403, 403, 401),
    # transfers: finance writes; a partner reads its own, a donor those of its grants
    ("transfers", "list"): (200, 200, 200, 403, 401),
    ("transfers", "create"): (201, 403, 403, 403, 401),
    ("BNCE's transfer", "retrieve"): (200, 200, 200, 403, 401),
    ("BNCE's transfer", "update"): (200, 403, 403, 403, 401),
    ("BNCE's transfer", "partial_update"): (200, 403, 403, 403, 401),
    ("BNCE's transfer", "destroy"): (204, 403, 403, 403, 401),
    ("CARITAS's transfer", "retrieve"): (200, 404, 200, 403, 401),
    ("CARITAS's transfer", "update"): (200, 403, 403, 403, 401),
    ("CARITAS's transfer", "partial_update"): (200, 403, 403, 403, 401),
    ("CARITAS's transfer", "destroy"): (204, 403, 403, 403, 401),
    ("transfer of the other grant", "retrieve"): (200, 404, 404, 403, 401),
    ("transfer of the other grant", "update"): (200, 403, 403, 403, 401),
    ("transfer of the other grant", "partial_update"): (200, 403, 403, 403, 401),
    ("transfer of the other grant", "destroy"): (204, 403, 403, 403, 401),
    # donors' payments: finance writes; a donor reads its own donor's; a partner sees none
    ("donor-payments", "list"): (200, 200, 200, 403, 401),
    ("donor-payments", "create"): (201, 403, 403, 403, 401),
    ("MAEE-LU's payment", "retrieve"): (200, 404, 200, 403, 401),
    ("MAEE-LU's payment", "update"): (200, 403, 403, 403, 401),
    ("MAEE-LU's payment", "partial_update"): (200, 403, 403, 403, 401),
    ("MAEE-LU's payment", "destroy"): (204, 403, 403, 403, 401),
    ("ECPAT-LU-OWN's payment", "retrieve"): (200, 404, 404, 403, 401),
    ("ECPAT-LU-OWN's payment", "update"): (200, 403, 403, 403, 401),
    ("ECPAT-LU-OWN's payment", "partial_update"): (200, 403, 403, 403, 401),
    ("ECPAT-LU-OWN's payment", "destroy"): (204, 403, 403, 403, 401),
    ("payment of the other grant", "retrieve"): (200, 404, 404, 403, 401),
    ("payment of the other grant", "update"): (200, 403, 403, 403, 401),
    ("payment of the other grant", "partial_update"): (200, 403, 403, 403, 401),
    ("payment of the other grant", "destroy"): (204, 403, 403, 403, 401),
    # expenditures: finance writes any; a partner its own; a donor reads those of its grants
    ("expenditures", "list"): (200, 200, 200, 403, 401),
    ("expenditures", "create"): (201, 201, 403, 403, 401),
    ("BNCE's expenditure", "retrieve"): (200, 200, 200, 403, 401),
    ("BNCE's expenditure", "update"): (200, 200, 403, 403, 401),
    ("BNCE's expenditure", "partial_update"): (200, 200, 403, 403, 401),
    ("BNCE's expenditure", "destroy"): (204, 204, 403, 403, 401),
    ("CARITAS's expenditure", "retrieve"): (200, 404, 200, 403, 401),
    ("CARITAS's expenditure", "update"): (200, 404, 403, 403, 401),
    ("CARITAS's expenditure", "partial_update"): (200, 404, 403, 403, 401),
    ("CARITAS's expenditure", "destroy"): (204, 404, 403, 403, 401),
    ("expenditure of the other grant", "retrieve"): (200, 404, 404, 403, 401),
    ("expenditure of the other grant", "update"): (200, 404, 403, 403, 401),
    ("expenditure of the other grant", "partial_update"): (200, 404, 403, 403, 401),
    ("expenditure of the other grant", "destroy"): (204, 404, 403, 403, 401),
}

LIST_ACTIONS = ("list", "create")
DETAIL_ACTIONS = ("retrieve", "update", "partial_update", "destroy")
CELLS = [
    pytest.param(row, action, role, id=f"{row}-{action}-{role}")
    for row, actions in [*((r, LIST_ACTIONS) for r in LISTS), *((r, DETAIL_ACTIONS) for r in DETAILS)]
    for action in actions
    for role in ROLES
]


def test_the_table_covers_every_row_and_action():
    rows = {(r, a) for r in LISTS for a in LIST_ACTIONS} | {(r, a) for r in DETAILS for a in DETAIL_ACTIONS}
    assert rows == set(EXPECTED)


def request(client, row: str, action: str):
    if row in LISTS:
        url, setup, body = LISTS[row]
        patch = None
    else:
        url, setup, body, patch = DETAILS[row]
        url = url()
    if action == "list" or action == "retrieve":
        return client.get(url)
    if action == "create":
        return client.post(url, body(), format="json")
    if action == "update":
        return client.put(url, body(), format="json")
    if action == "partial_update":
        return client.patch(url, patch, format="json")
    return client.delete(url)


def setup_of(row: str):
    return LISTS[row][1] if row in LISTS else DETAILS[row][1]


@pytest.mark.parametrize(("row", "action", "role"), CELLS)
def test_each_role_gets_the_status_of_its_cell(clients, row, action, role):
    # given the world, and what the row needs
    if setup_of(row):
        setup_of(row)()
    # when the role does the action on the row's endpoint
    response = request(clients[role], row, action)
    # then the status is the cell's
    expected = EXPECTED[(row, action)][ROLES.index(role)]
    assert response.status_code == expected, (response.status_code, getattr(response, "data", None))
    if expected >= 400:
        body = response.json()
        assert body["type"] == ("validation_error" if expected == 400 else "client_error")
        assert body["errors"] and {"code", "detail", "attr"} <= set(body["errors"][0])


@pytest.mark.parametrize(("row", "action"), [(r, a) for (r, a) in EXPECTED if a in ("create", "update",
                                                                                       "partial_update", "destroy")])
def test_a_refused_write_changes_nothing(clients, row, action):
    # given the world
    if setup_of(row):
        setup_of(row)()
    before = support.row_counts()
    snapshot = {name: list(model.objects.order_by("pk").values()) for name, model in
                [(m.__name__, m) for m in support.MODELS]}
    # when every role that is refused tries the write
    for role in ROLES:
        if EXPECTED[(row, action)][ROLES.index(role)] < 300:
            continue
        with transaction.atomic():
            response = request(clients[role], row, action)
        assert response.status_code >= 400
    # then nothing changed
    assert support.row_counts() == before
    assert {name: list(model.objects.order_by("pk").values()) for name, model in
            [(m.__name__, m) for m in support.MODELS]} == snapshot


# --- what each role sees in the lists -----------------------------------------------------------------

def codes(response, key: str = "code") -> list:
    assert response.status_code == 200, response.data
    return sorted(item[key] for item in response.json()["results"])


@pytest.mark.parametrize(("role", "grants"), [
    ("finance", [SEED, OTHER]),
    ("bnce", [SEED]),  # BNCE is not a partner of the other grant
    ("donor", [SEED]),  # MAEE-LU does not fund the other grant
])
def test_each_role_lists_only_the_grants_it_may_read(clients, role, grants):
    # when the role lists the grants, then it sees those it may read and no other
    assert codes(clients[role].get(f"{API}/grants/")) == grants


@pytest.mark.parametrize(("role", "partners"), [
    ("finance", ["APJEC", "BNCE", "CARITAS", "ECPAT-LU"]),
    ("bnce", ["BNCE"]),
    ("donor", ["APJEC", "BNCE", "CARITAS", "ECPAT-LU"]),
])
def test_a_partner_lists_only_its_own_allocations(clients, role, partners):
    # when the role lists version 1's allocations (all on one page)
    response = clients[role].get(f"{G}/versions/1/allocations/", {"page_size": 1000})
    # then a partner member sees its own only, and all of them
    found = codes(response, "partner")
    assert sorted(set(found)) == partners
    assert len(found) == Allocation.objects.filter(version__grant__code=SEED, version__number=1,
                                                   partner__code__in=partners).count()


@pytest.mark.parametrize(("role", "expected"), [
    ("finance", [(SEED, "BNCE"), (SEED, "CARITAS"), (OTHER, "APJEC")]),
    ("bnce", [(SEED, "BNCE")]),
    ("donor", [(SEED, "BNCE"), (SEED, "CARITAS")]),
])
@pytest.mark.parametrize("endpoint", ["transfers", "expenditures"])
def test_a_partner_lists_its_own_money_and_a_donor_that_of_its_grants(clients, role, expected, endpoint):
    # when the role lists the transfers or the expenditures
    response = clients[role].get(f"{API}/{endpoint}/")
    # then it sees exactly its own (partner) or its grants' (donor)
    assert response.status_code == 200
    assert sorted((row["grant"], row["partner"]) for row in response.json()["results"]) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize("role", ["finance", "bnce", "donor"])
@pytest.mark.parametrize("url", [
    f"{API}/grants/NO-SUCH-GRANT/", f"{API}/grants/NO-SUCH-GRANT/budget-lines/", f"{G}/budget-lines/99.9/",
    f"{G}/versions/99/", f"{G}/versions/99/allocations/", f"{API}/partners/NOPE/", f"{API}/locations/NOPE/",
    f"{API}/donors/NOPE/", f"{API}/exchange-rates/999999/", f"{API}/transfers/999999/",
    f"{API}/donor-payments/999999/",
    f"{API}/expenditures/999999/",
])
def test_an_absent_record_is_404_for_every_role(clients, role, url):
    response = clients[role].get(url)
    assert response.status_code == 404
    assert response.json()["type"] == "client_error"


def test_a_partner_may_not_create_an_expenditure_for_another_partner(clients):
    # given the counts
    before = support.row_counts()
    # when BNCE's member records an expenditure for CARITAS
    response = clients["bnce"].post(f"{API}/expenditures/", expenditure_body(SEED, "CARITAS", "X-1"), format="json")
    # then it is refused, the partner named, and nothing is written
    assert response.status_code == 403
    assert support.refusal(response) == ("not_your_partner", "partner")
    assert support.row_counts() == before


def test_a_partner_may_not_move_its_expenditure_to_another_partner(clients):
    url = expenditure_url(SEED, "BNCE")
    response = clients["bnce"].patch(url, {"partner": "CARITAS"}, format="json")
    assert response.status_code == 403
    assert support.refusal(response) == ("not_your_partner", "partner")
    assert Expenditure.objects.get(voucher="BNCE-1").partner.code == "BNCE"


def test_a_partner_may_not_spend_on_a_grant_it_is_not_partner_of(clients):
    before = support.row_counts()
    response = clients["bnce"].post(f"{API}/expenditures/", expenditure_body(OTHER, "BNCE", "X-2"), format="json")
    assert response.status_code == 400
    assert support.refusal(response)[1] == "grant"
    assert support.row_counts() == before


def test_a_partner_s_expenditure_is_submitted_and_a_finance_officer_s_validated(clients):
    # when BNCE's member and a finance officer each record one
    mine = clients["bnce"].post(f"{API}/expenditures/", expenditure_body(voucher="B-9"), format="json")
    theirs = clients["finance"].post(f"{API}/expenditures/", expenditure_body(voucher="F-9"), format="json")
    # then the partner's awaits review; the finance officer's counts as validated
    assert (mine.status_code, mine.json()["status"], mine.json()["partner"]) == (201, "submitted", "BNCE")
    assert (theirs.status_code, theirs.json()["status"]) == (201, "validated")


def test_a_partner_member_s_expenditure_is_its_own_partner_s_by_default(clients):
    body = expenditure_body(voucher="B-10")
    del body["partner"]
    response = clients["bnce"].post(f"{API}/expenditures/", body, format="json")
    assert response.status_code == 201
    assert response.json()["partner"] == "BNCE"


def test_a_finance_officer_must_name_the_partner(clients):
    body = expenditure_body(voucher="F-10")
    del body["partner"]
    response = clients["finance"].post(f"{API}/expenditures/", body, format="json")
    assert response.status_code == 400
    assert support.refusal(response) == ("required", "partner")
