"""Budget per line (issue 14): each line with its budget in a version, allocations filtered by
line, partner and location, one pagination envelope, and unknown query parameters refused."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.api.support import API, SEED

G = f"{API}/grants/{SEED}"
CSV = Path(__file__).resolve().parents[2] / "fixtures" / "mali" / "budget-mali-2015-2018.csv"


def from_csv(*, partner: str | None = None) -> dict[str, Decimal]:
    """The seed's budget per line and per heading, summed from the fixture file (an independent path)."""
    budget: dict[str, Decimal] = defaultdict(Decimal)
    with CSV.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if partner is None or row["partner"] == partner:
                amount = Decimal(row["amount_eur"])
                budget[row["line"]] += amount
                budget[row["line"].split(".")[0]] += amount
    return budget


def all_pages(client, url: str) -> list[dict]:
    rows = []
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


def test_each_budget_line_shows_its_budget_in_the_current_version(clients):
    # When finance lists the seed's budget lines
    response = clients["finance"].get(f"{G}/budget-lines/?page_size=100")

    # Then the list has the pagination envelope, and each line and heading its budget (version 1)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    expected = from_csv()
    by_code = {row["code"]: row for row in body["results"]}
    assert by_code["2.1"]["budget"] == f"{expected['2.1']:.2f}"
    assert by_code["2"]["budget"] == f"{expected['2']:.2f}"
    assert (by_code["2.1"]["budget_currency"], by_code["2.1"]["budget_version"]) == ("EUR", 1)
    headings = sum(Decimal(row["budget"]) for row in body["results"] if row["parent"] is None)
    assert headings == Decimal("955926.26")


def test_a_partner_member_sees_its_own_budget_per_line(clients):
    body = clients["bnce"].get(f"{G}/budget-lines/2.1/").json()
    assert body["budget"] == f"{from_csv(partner='BNCE')['2.1']:.2f}"


def test_budget_lines_read_another_version_or_refuse_an_unknown_one(clients):
    assert clients["finance"].get(f"{G}/budget-lines/2.1/?version=1").json()["budget_version"] == 1
    missing = clients["finance"].get(f"{G}/budget-lines/?version=99")
    assert missing.status_code == 404
    malformed = clients["finance"].get(f"{G}/budget-lines/?version=x")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["attr"] == "version"


def lines_of(heading: str) -> set[str]:
    with (CSV.parent / "budget-lines.csv").open(encoding="utf-8") as rows:
        return {row["code"] for row in csv.DictReader(rows) if row["parent"] == heading}


@pytest.mark.parametrize(("query", "lines"), [
    ("budget_line=2.1", lambda: {"2.1"}),
    ("budget_line=2", lambda: lines_of("2")),
])
def test_allocations_filter_by_line_or_heading(clients, query, lines):
    rows = all_pages(clients["finance"], f"{G}/versions/1/allocations/?{query}&page_size=1000")
    expected = from_csv()
    assert rows and {row["budget_line"] for row in rows} == lines() & set(expected)
    assert sum(Decimal(row["amount"]) for row in rows) == sum(
        (expected[line] for line in {row["budget_line"] for row in rows}), Decimal("0"))
    assert len(rows) < 240


def test_allocations_filter_by_partner_and_location(clients):
    rows = all_pages(clients["finance"], f"{G}/versions/1/allocations/?partner=BNCE&location=SEG&page_size=1000")
    assert rows and {(row["partner"], row["location"]) for row in rows} == {("BNCE", "SEG")}


@pytest.mark.parametrize("url", [
    f"{G}/versions/1/allocations/?budget_lin=2.1", f"{API}/expenditures/?partnr=BNCE", f"{API}/transfers/?foo=1",
    f"{API}/partners/?code=BNCE", f"{G}/budget-lines/?parent=2", f"{API}/statements/?grant_code=X",
])
def test_a_list_refuses_a_query_parameter_it_does_not_read(clients, url):
    response = clients["finance"].get(url)
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert error["code"] == "unknown_parameter"
    assert error["attr"] == url.split("?")[1].split("=")[0]


@pytest.mark.parametrize("url", [f"{API}/expenditures/?ordering=-id", f"{API}/transfers/?ordering=amount"])
def test_a_list_refuses_an_ordering_it_does_not_offer(clients, url):
    response = clients["finance"].get(url)
    assert response.status_code == 400, response.content
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("unknown_ordering", "ordering")]


def test_offered_orderings_and_pagination_still_work(clients):
    assert clients["finance"].get(f"{API}/expenditures/?ordering=-date&page=1&page_size=5").status_code == 200
    assert clients["finance"].get(f"{API}/transfers/?ordering=-received_on,sent_on").status_code == 200


# --- every list in the envelope; every query string refuses what it does not read -------------------

ENVELOPE = {"count", "next", "previous", "results"}


def test_the_lists_that_answered_bare_arrays_answer_the_pagination_envelope(clients):
    from expenditures.models import QuarterlyStatement
    from grants.models import Grant, Partner

    statement = QuarterlyStatement.objects.create(
        grant=Grant.objects.get(code=SEED), partner=Partner.objects.get(code="BNCE"), year=2016, quarter=1)
    finance = clients["finance"]
    for url in (f"{API}/statements/overdue/?as_of=2017-01-31", f"{API}/statements/{statement.pk}/versions/",
                f"{G}/versions/1/reallocations/"):
        body = finance.get(url).json()
        assert set(body) == ENVELOPE, url
        assert body["count"] == len(body["results"]) or body["next"], url

    overdue = finance.get(f"{API}/statements/overdue/?as_of=2017-01-31&page_size=2").json()
    assert overdue["count"] > 2 and len(overdue["results"]) == 2 and "page=2" in overdue["next"]


@pytest.mark.parametrize("url", [
    f"{API}/statements/overdue/?as_f=2017-01-31", f"{G}/versions/1/reallocations/?partner=BNCE",
    f"{G}/reports/variance/?by=line&as_off=2016-12-31", f"{G}/reports/burn-rate/?windows=3",
    f"{G}/reports/variance.xlsx?langue=fr", f"{G}/reconciliation/?partenaire=BNCE",
    f"{API}/statements/template.xlsx?grant={SEED}&partner=BNCE&period=2016-Q1&quarter=1",
    f"{G}/budget-lines/2.1/?version=1&partner=BNCE",
])
def test_a_query_string_refuses_a_parameter_it_does_not_read(clients, url):
    response = clients["finance"].get(url)
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("unknown_parameter", url.rsplit("&", 1)[-1].split("?")[-1].split("=")[0])


def test_an_unknown_parameter_is_reported_with_the_other_problems_of_the_query(clients):
    response = clients["finance"].get(f"{G}/reports/variance/?by=colour&as_off=2016-12-31")
    assert response.status_code == 400
    codes = {e["attr"]: e["code"] for e in response.json()["errors"]}
    assert set(codes) == {"by", "as_off"} and codes["as_off"] == "unknown_parameter"


def test_the_schema_documents_unknown_parameter_on_every_query_string():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    schemas = schema["components"]["schemas"]
    unknown = {"$ref": "#/components/schemas/ListUnknownParameterErrorComponent"}
    checked = 0
    for path, method, operation in [(path, method, operation) for path, operations in schema["paths"].items()
                                    for method, operation in operations.items()]:
        query = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        if not query:
            continue
        ref = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        if "properties" in schemas[ref]:  # a body written by hand, whose items take any code
            item = schemas[schemas[ref]["properties"]["errors"]["items"]["$ref"].rsplit("/", 1)[1]]
            assert "unknown_parameter" in item["properties"]["code"]["description"] or "registry" in item[
                "properties"]["code"]["description"], (method, path)
            continue
        validation = schemas[schemas[ref]["discriminator"]["mapping"]["validation_error"].rsplit("/", 1)[1]]
        union = schemas[validation["properties"]["errors"]["items"]["$ref"].rsplit("/", 1)[1]]
        assert unknown in union["oneOf"], (method, path)
        checked += 1
    assert checked >= 15


def test_an_unknown_parameter_is_told_what_the_address_reads_in_the_callers_language(clients):
    response = clients["finance"].get(f"{G}/reports/variance/?as_off=2016-12-31", HTTP_ACCEPT_LANGUAGE="fr")
    (error,) = response.json()["errors"]
    assert error["detail"].startswith("as_off n’est pas un paramètre que lit cette adresse")
    assert "as_of" in error["detail"] and "by" in error["detail"]
