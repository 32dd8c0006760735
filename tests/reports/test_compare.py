"""Reports against budget versions: ``compare=N`` and the workbook's "Original / revised" sheet,
on the Mali seed with its revision (version 2: 2,000.00 from 1.4 APJEC BKO year 3 to 2.1 CARITAS
BKO year 3, and 1,000.00 from 3.3 APJEC SEG year 3 to 2.3 BNCE SEG year 3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest

from budget.seed import seed_revise
from reports.excel import SHEETS, variance_workbook
from reports.selectors import budget_version_for, report_inputs
from reports.variance import variance

D = Decimal
AS_OF = date(2017, 12, 31)


@pytest.fixture
def revised(grant):
    seed_revise()
    return grant


def test_compare_adds_the_compared_budget_and_the_change_to_every_row(revised):
    grant = revised
    inputs = report_inputs(grant=grant, as_of=AS_OF, version=budget_version_for(grant=grant),
                           compare=budget_version_for(grant=grant, number=1))
    report = variance(inputs, by="heading")
    rows = {row["key"]: row for row in report["rows"]}
    assert report["version"] == 2 and report["compare"] == 1
    # heading 1 gave 2,000.00, heading 3 gave 1,000.00, heading 2 received 3,000.00
    assert (rows["1"]["budget_compared"], rows["1"]["budget"], rows["1"]["budget_change"]) == (
        D("205500.00"), D("203500.00"), D("-2000.00"))
    assert (rows["2"]["budget_compared"], rows["2"]["budget"], rows["2"]["budget_change"]) == (
        D("334500.00"), D("337500.00"), D("3000.00"))
    assert rows["3"]["budget_change"] == D("-1000.00")
    assert all(rows[k]["budget_change"] == 0 for k in ("4", "5", "6", "7"))
    assert report["total"]["budget_compared"] == report["total"]["budget"] == D("955926.26")
    assert report["total"]["budget_change"] == D("0.00")


def test_compare_by_line_nested_foots(revised):
    grant = revised
    inputs = report_inputs(grant=grant, as_of=AS_OF, version=budget_version_for(grant=grant, number=2),
                           compare=budget_version_for(grant=grant, number=1))
    report = variance(inputs, by="heading,line")
    changes = {child["key"]: child["budget_change"] for row in report["rows"] for child in row["children"]}
    assert (changes["1.4"], changes["2.1"], changes["3.3"], changes["2.3"]) == (
        D("-2000.00"), D("2000.00"), D("-1000.00"), D("1000.00"))
    for row in report["rows"]:
        assert sum(child["budget_compared"] for child in row["children"]) == row["budget_compared"]


def test_compare_over_the_api(revised, finance):
    response = finance.get("/api/v1/grants/ML-ESEC-2015/reports/variance/?by=heading&as_of=2017-12-31&compare=1")
    assert response.status_code == 200
    body = response.json()
    assert body["compare"] == 1 and body["version"] == 2
    heading_2 = next(row for row in body["rows"] if row["key"] == "2")
    assert (heading_2["budget_compared"], heading_2["budget"], heading_2["budget_change"]) == (
        "334500.00", "337500.00", "3000.00")
    # without compare, no such fields; an unknown version is refused, the field named
    plain = finance.get("/api/v1/grants/ML-ESEC-2015/reports/variance/?by=heading").json()
    assert "budget_compared" not in plain["rows"][0]
    response = finance.get("/api/v1/grants/ML-ESEC-2015/reports/variance/?compare=9")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "compare"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_workbook_of_a_revised_grant_has_an_original_revised_sheet(revised, lang):
    grant = revised
    _, handle = variance_workbook(grant=grant, as_of=AS_OF, version=budget_version_for(grant=grant), lang=lang)
    book = openpyxl.load_workbook(BytesIO(handle.read()), data_only=True)
    handle.close()
    sheet = book[SHEETS[lang]["revision"]]
    rows = {str(r[0]): r for r in sheet.iter_rows(min_row=5, max_col=6, values_only=True) if r[0]}
    assert (D(str(rows["2"][2])), D(str(rows["2"][3])), D(str(rows["2"][4]))) == (
        D("334500"), D("337500"), D("3000"))
    assert D(str(rows["2.1"][4])) == D("2000")


def test_the_workbook_of_an_unrevised_grant_has_no_such_sheet(grant):
    _, handle = variance_workbook(grant=grant, as_of=AS_OF, version=budget_version_for(grant=grant), lang="en")
    book = openpyxl.load_workbook(BytesIO(handle.read()), read_only=True)
    handle.close()
    assert SHEETS["en"]["revision"] not in book.sheetnames
