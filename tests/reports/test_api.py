"""The report endpoints: who may read them, what they answer, how they refuse bad parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest
from django.db.models import Sum

from expenditures.models import COUNTED_STATUSES, Expenditure
from grants.models import Partner
from tests.conftest import client_for
from tests.reports.test_footing import spend_on_seed

D = Decimal
SEED = "/api/v1/grants/ML-ESEC-2015/reports"


def small_url(small, what: str) -> str:
    return f"/api/v1/grants/{small.grant.code}/reports/{what}"


@pytest.fixture
def small_finance(small, finance_user):
    return client_for(finance_user)


def test_variance_answers_strings_to_the_cent(small, small_finance):
    # when
    response = small_finance.get(small_url(small, "variance/?by=heading,partner&as_of=2020-03-15&lang=fr"))
    # then
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("grant", "as_of", "version", "currency", "by")} == {
        "grant": "G-SMALL", "as_of": "2020-03-15", "version": 1, "currency": "EUR", "by": ["heading", "partner"]}
    heading = body["rows"][0]
    assert (heading["key"], heading["label"], heading["budget"], heading["planned_to_date"], heading["actual"],
            heading["variance_pct"], heading["flag"]) == ("1", "Prévention", "25000.00", "2690.85", "3200.00",
                                                          "87.20", "ok")
    assert [c["key"] for c in heading["children"]] == ["PEUR", "PXOF"]
    assert heading["children"][0]["flag"] == "over"
    assert body["total"] == {
        "key": "total", "label": "Total", "budget": "100000.00", "planned_to_date": "2690.85", "actual": "3200.00",
        "variance": "96800.00", "variance_pct": "96.80", "use_pct": "3.20", "variance_to_date": "-509.15",
        "flag": "ok"}


def test_burn_rate_and_cost_per_beneficiary_answer(small, small_finance):
    burn = small_finance.get(small_url(small, "burn-rate/?as_of=2020-03-15&window=3")).json()
    assert burn["summary"]["burn_rate"] == "1100.00"
    assert burn["summary"]["runway_months"] == "88.00"
    assert burn["summary"]["exhaustion_month"] is None
    assert burn["months"][0] == {"month": "2020-01", "actual": "1000.00", "planned": "1083.33",
                                 "cumulative_actual": "1000.00", "cumulative_planned": "1083.33"}
    costs = small_finance.get(small_url(small, "cost-per-beneficiary/?as_of=2020-03-15")).json()
    assert costs["rows"] == [{"key": "1", "label": "Prevention", "actual": "3200.00", "target": 300,
                              "unit": "children", "cost_per_beneficiary": "10.67"}]


def test_the_workbook_downloads_with_its_name(small, small_finance):
    # when
    response = small_finance.get(small_url(small, "variance.xlsx?as_of=2020-03-15&lang=fr"))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="variance_G-SMALL_2020-03-15_fr.xlsx"' in response["Content-Disposition"]
    wb = openpyxl.load_workbook(BytesIO(b"".join(response.streaming_content)))
    assert wb.sheetnames[0] == "Synthèse"


def test_the_workbook_errors_are_json_even_when_asked_for_a_spreadsheet(small, small_finance):
    response = small_finance.get(small_url(small, "variance.xlsx?as_of=someday"),
                                 HTTP_ACCEPT="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "as_of"


@pytest.mark.parametrize("query, attr", [
    ("variance/?by=colour", "by"),
    ("variance/?by=line,line", "by"),
    ("variance/?by=heading,partner,location", "by"),
    ("variance/?as_of=2020-13-01", "as_of"),
    ("variance/?version=7", "version"),
    ("variance/?version=0", "version"),
    ("variance/?status=draft", "status"),
    ("variance/?status=validated,rejected", "status"),
    ("variance/?lang=de", "lang"),
    ("burn-rate/?window=0", "window"),
    ("cost-per-beneficiary/?as_of=yesterday", "as_of"),
    ("variance.xlsx?version=2", "version"),
])
def test_bad_parameters_are_a_400_naming_the_field(small, small_finance, query, attr):
    response = small_finance.get(small_url(small, query))
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert [e["attr"] for e in body["errors"]] == [attr]


def test_status_narrows_the_spending_counted(small, small_finance):
    body = small_finance.get(small_url(small, "variance/?as_of=2020-03-15&status=validated")).json()
    # the submitted 1,000.00 of 15 March no longer counts
    assert body["total"]["actual"] == "2200.00"


@pytest.mark.parametrize("what", ["variance/", "burn-rate/", "cost-per-beneficiary/", "variance.xlsx"])
def test_anonymous_is_401(grant, anonymous, what):
    assert anonymous.get(f"{SEED}/{what}").status_code == 401


@pytest.mark.parametrize("what", ["variance/", "burn-rate/", "cost-per-beneficiary/", "variance.xlsx"])
def test_a_grant_the_user_may_not_see_is_404(small, bnce, finance, what):
    # BNCE is no partner of the small grant; no grant has the code NOPE
    assert bnce.get(small_url(small, what)).status_code == 404
    assert finance.get(f"/api/v1/grants/NOPE/reports/{what}").status_code == 404


@pytest.mark.parametrize("what", ["variance/", "burn-rate/", "cost-per-beneficiary/", "variance.xlsx"])
def test_finance_and_donor_read_the_seed_reports(grant, finance, donor, what):
    assert finance.get(f"{SEED}/{what}?as_of=2016-06-30").status_code == 200
    assert donor.get(f"{SEED}/{what}?as_of=2016-06-30").status_code == 200


def test_a_partner_sees_only_its_own_allocations_and_spending(grant, bnce, donor):
    # given a history for every partner
    spend_on_seed(grant, 400)
    as_of = date(2017, 6, 30)
    bnce_partner = Partner.objects.get(code="BNCE")
    own = Expenditure.objects.filter(grant=grant, partner=bnce_partner, status__in=COUNTED_STATUSES,
                                     date__lte=as_of)
    own_total = D(own.aggregate(s=Sum("amount_eur"))["s"]).quantize(D("0.01"))
    # when
    mine = bnce.get(f"{SEED}/variance/?by=partner&as_of={as_of}").json()
    everyone = donor.get(f"{SEED}/variance/?by=partner&as_of={as_of}").json()
    # then
    assert [r["key"] for r in mine["rows"]] == ["BNCE"]
    assert mine["partner"] == "BNCE"
    assert D(mine["total"]["actual"]) == own_total
    assert D(mine["total"]["budget"]) < D(everyone["total"]["budget"]) == D("955926.26")
    assert {r["key"] for r in everyone["rows"]} == {"APJEC", "BNCE", "CARITAS", "ECPAT-LU"}
    # and its workbook's detail lists its own expenditures only
    response = bnce.get(f"{SEED}/variance.xlsx?as_of={as_of}&lang=en")
    wb = openpyxl.load_workbook(BytesIO(b"".join(response.streaming_content)), data_only=True)
    partners = {row[2] for row in wb["Expenditure detail"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert partners == {"BNCE"}
    burn = bnce.get(f"{SEED}/burn-rate/?as_of={as_of}").json()
    assert D(burn["summary"]["cumulative_actual"]) == own_total


def test_the_schema_documents_the_reports(finance):
    schema = finance.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/v1/grants/{code}/reports/variance/" in paths
    xlsx = paths["/api/v1/grants/{code}/reports/variance.xlsx"]["get"]["responses"]["200"]["content"]
    assert list(xlsx) == ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    for name in ("VarianceReport", "VarianceRow", "BurnRateReport", "BeneficiaryCostReport"):
        assert name in schema["components"]["schemas"]


