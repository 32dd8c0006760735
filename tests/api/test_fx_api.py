"""POST /api/v1/grants/{code}/revalue/ and GET /api/v1/grants/{code}/reconciliation/ (issue 4),
on the Mali seed project with the issue's worked example for BNCE in 2016."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import include, path
from django.utils import timezone

from budget.models import BudgetLine
from expenditures.models import QuarterlyStatement
from grants.models import Grant, Location, Partner
from tests.expenditures.test_fx import worked_example

# Only this feature's routes, as api.urls mounts them, so these tests do not depend on the rest.
urlpatterns = [path("api/v1/", include("api.urls_fx"))]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def example(grant):
    bnce = Partner.objects.get(code="BNCE")
    line = BudgetLine.objects.get(grant=grant, code="1.1")
    return worked_example(grant, bnce, line, Location.objects.get(code="BKO"), year=2016)


def revalue_url(code: str = "ML-ESEC-2015") -> str:
    return f"/api/v1/grants/{code}/revalue/"


def reconciliation_url(code: str = "ML-ESEC-2015") -> str:
    return f"/api/v1/grants/{code}/reconciliation/"


def error_code(response) -> str:
    return response.json()["errors"][0]["code"]


# --- revalue ----------------------------------------------------------------------------------------

def test_a_finance_officer_switches_the_method(example, finance, finance_user):
    # when a finance officer switches the Mali grant from the parity to fifo
    response = finance.post(revalue_url(), {"method": "fifo"})

    # then the answer says how many rows changed and by how much, as strings
    assert response.status_code == 200, response.content
    assert response.json() == {"method": "fifo", "revalued": 3, "delta_eur": "120.65",
                               "by_quarter": {"2016-Q1": 2, "2016-Q2": 1}, "frozen_quarters": []}
    # and the grant's history says who did it
    grant = Grant.objects.get(code="ML-ESEC-2015")
    latest = grant.history.order_by("-history_id").first()
    assert (grant.fx_method, latest.fx_method, latest.history_user) == ("fifo", "fifo", finance_user)


def test_revaluing_again_under_the_same_method_changes_nothing(example, finance):
    finance.post(revalue_url(), {"method": "weighted_average"})
    response = finance.post(revalue_url(), {"method": "weighted_average"})
    assert response.json() == {"method": "weighted_average", "revalued": 0, "delta_eur": "0.00",
                               "by_quarter": {}, "frozen_quarters": []}


@pytest.mark.parametrize("client_name", ["bnce", "donor"])
def test_only_a_finance_officer_revalues(example, request, client_name):
    response = request.getfixturevalue(client_name).post(revalue_url(), {"method": "fifo"})
    assert response.status_code == 403
    assert Grant.objects.get(code="ML-ESEC-2015").fx_method == "parity"


def test_anonymous_is_refused(example, anonymous):
    assert anonymous.post(revalue_url(), {"method": "fifo"}).status_code == 401


def test_an_unknown_grant_is_404(example, finance):
    assert finance.post(revalue_url("NOPE"), {"method": "fifo"}).status_code == 404


def test_an_unknown_method_is_400(example, finance):
    response = finance.post(revalue_url(), {"method": "spot"})
    assert response.status_code == 400
    assert error_code(response) == "invalid_choice"


def test_after_an_accepted_statement_revaluing_needs_confirmation(example, finance):
    # given BNCE's first quarter of 2016 accepted
    QuarterlyStatement.objects.create(grant=example.grant, partner=example.partner, year=2016, quarter=1,
                                      status="accepted")

    # when the method is switched without confirmation, it is refused and nothing changes
    refused = finance.post(revalue_url(), {"method": "fifo"})
    assert refused.status_code == 409
    assert error_code(refused) == "revaluation_needs_confirm"
    assert Grant.objects.get(code="ML-ESEC-2015").fx_method == "parity"

    # when confirmed, it is done for the open quarter; the accepted one is named and left as it was
    confirmed = finance.post(revalue_url(), {"method": "fifo", "confirm": True})
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert (body["revalued"], body["by_quarter"]) == (1, {"2016-Q2": 1})
    assert body["frozen_quarters"] == [{"partner": "BNCE", "period": "2016-Q1"}]


# --- reconciliation ----------------------------------------------------------------------------------

def test_the_reconciliation_for_finance(example, finance):
    # given the grant under fifo
    finance.post(revalue_url(), {"method": "fifo"})

    # when finance reads the reconciliation at the end of June 2016
    response = finance.get(reconciliation_url(), {"as_of": "2016-06-30"})

    # then every partner of the grant has a row, money as strings, and BNCE's is the example's
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["grant"], body["as_of"], body["method"]) == ("ML-ESEC-2015", "2016-06-30", "fifo")
    assert [row["partner"] for row in body["partners"]] == ["APJEC", "BNCE", "CARITAS", "ECPAT-LU"]
    bnce = body["partners"][1]
    assert {k: bnce[k] for k in ("eur_sent", "xof_received", "effective_rate", "xof_spent", "xof_balance",
                                 "unfunded_xof", "eur_spent", "eur_spent_at_parity", "fx_difference_eur")} == {
        "eur_sent": "20000.00", "xof_received": "13040000", "effective_rate": "652.000000",
        "xof_spent": "13800000", "xof_balance": "-760000", "unfunded_xof": "760000",
        "eur_spent": "21158.61", "eur_spent_at_parity": "21037.96", "fx_difference_eur": "-120.65",
    }
    assert bnce["discrepancy_xof"] is None
    assert body["total"]["eur_spent"] == "21158.61"


def test_as_of_defaults_to_today(example, donor):
    response = donor.get(reconciliation_url())
    assert response.status_code == 200
    assert response.json()["as_of"] == timezone.localdate().isoformat()


def test_a_partner_member_sees_its_own_row_only(example, bnce):
    response = bnce.get(reconciliation_url(), {"as_of": "2016-06-30"})
    assert response.status_code == 200
    body = response.json()
    assert [row["partner"] for row in body["partners"]] == ["BNCE"]
    assert body["total"]["xof_spent"] == "13800000"


def test_a_partner_member_may_not_ask_for_another_partner(example, bnce):
    assert bnce.get(reconciliation_url(), {"partner": "CARITAS"}).status_code == 403


def test_one_partner_on_request(example, donor):
    response = donor.get(reconciliation_url(), {"as_of": "2016-06-30", "partner": "BNCE"})
    assert [row["partner"] for row in response.json()["partners"]] == ["BNCE"]


def test_bad_query_parameters_are_400(example, finance):
    bad_date = finance.get(reconciliation_url(), {"as_of": "30/06/2016"})
    assert (bad_date.status_code, error_code(bad_date)) == (400, "invalid")
    unknown = finance.get(reconciliation_url(), {"partner": "NOPE"})
    assert (unknown.status_code, error_code(unknown)) == (400, "unknown_partner")


def test_a_grant_the_user_may_not_read_is_404(example, caritas):
    # given a grant CARITAS is not a partner of
    other = Grant.objects.create(code="OTHER", title="Another grant", total=example.grant.total,
                                 start_date=date(2020, 1, 1), end_date=date(2020, 12, 31))
    assert caritas.get(reconciliation_url(other.code)).status_code == 404
    assert caritas.get(reconciliation_url()).status_code == 200
