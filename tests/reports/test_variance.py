"""The variance report on the small grant of conftest.py, every figure worked out by hand.

As of 2020-03-15, January and February count whole, March for 15 of its 31 days:
- 1.1 y1 (1,000.00 a month): 1,000.00 + 1,000.00 + 1,000.00 x 15/31 (483.870... -> 483.87) = 2,483.87
- 1.2 y1 (83.33 a month): 83.33 + 83.33 + 83.33 x 15/31 (40.320... -> 40.32) = 206.98
- later years: nothing yet. Planned to date in all: 2,690.85.
Counted spending: 1.1 1,000.00 (Jan) + 1,000.00 (15 March, on as_of); 1.2 1,200.00 (Feb).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money

from budget.services import allocation_set, version_approve, version_open_draft
from reports.selectors import UnknownVersion, budget_version_for
from reports.variance import BadGrouping, parse_by, variance
from tests.factories import GrantFactory
from tests.reports.conftest import inputs_for, make_small_grant

D = Decimal


def figures(row: dict) -> tuple:
    return (row["budget"], row["planned_to_date"], row["actual"], row["variance"], row["variance_pct"],
            row["use_pct"], row["variance_to_date"], row["flag"])


def by_key(report: dict) -> dict:
    return {row["key"]: row for row in report["rows"]}


def test_variance_by_line_worked_by_hand(small):
    # when
    report = variance(inputs_for(small.grant, date(2020, 3, 15)), by="line")
    rows = by_key(report)
    # then: only lines (not headings) carry money, in the budget's order
    assert [r["key"] for r in report["rows"]] == ["1.1", "1.2", "2.1"]
    # 1.1: variance 22,000 / 24,000 = 91.666..% ; use 2,000 / 24,000 = 8.333..% ;
    # under, since 2,000.00 < 2,483.87 x 0.9 = 2,235.483
    assert figures(rows["1.1"]) == (D("24000.00"), D("2483.87"), D("2000.00"), D("22000.00"), D("91.67"),
                                    D("8.33"), D("483.87"), "under")
    # 1.2: over, since 1,200.00 > 1,000.00 x 1.1 = 1,100.00
    assert figures(rows["1.2"]) == (D("1000.00"), D("206.98"), D("1200.00"), D("-200.00"), D("-20.00"),
                                    D("120.00"), D("-993.02"), "over")
    assert figures(rows["2.1"]) == (D("75000.00"), D("0.00"), D("0.00"), D("75000.00"), D("100.00"),
                                    D("0.00"), D("0.00"), "ok")
    # total: 3,200.00 is neither > 110,000 nor < 2,690.85 x 0.9 = 2,421.765
    assert figures(report["total"]) == (D("100000.00"), D("2690.85"), D("3200.00"), D("96800.00"), D("96.80"),
                                        D("3.20"), D("-509.15"), "ok")
    assert report["total"]["key"] == "total"
    assert report["version"] == 1 and report["currency"] == "EUR" and report["as_of"] == date(2020, 3, 15)
    assert rows["1.1"]["label"] == "Sessions"


def test_variance_by_partner_and_year_worked_by_hand(small):
    inputs = inputs_for(small.grant, date(2020, 3, 15))
    # when
    partners = by_key(variance(inputs, by="partner"))
    years = by_key(variance(inputs, by="year", lang="fr"))
    # then: PEUR holds 1.2 (1,000) and 2.1 (75,000): 74,800 / 76,000 = 98.421..%, 1,200 / 76,000 = 1.578..%
    assert figures(partners["PEUR"]) == (D("76000.00"), D("206.98"), D("1200.00"), D("74800.00"), D("98.42"),
                                         D("1.58"), D("-993.02"), "ok")
    assert figures(partners["PXOF"])[:3] == (D("24000.00"), D("2483.87"), D("2000.00"))
    assert partners["PEUR"]["label"] == "Partner in euros"
    # year 1 = 12,000 + 1,000; year 2 = 12,000; year 3 = 75,000
    assert [(k, r["budget"], r["actual"]) for k, r in years.items()] == [
        ("1", D("13000.00"), D("3200.00")), ("2", D("12000.00"), D("0.00")), ("3", D("75000.00"), D("0.00")),
    ]
    assert years["1"]["label"] == "Année 1 (2020-01 à 2020-12)"


def test_variance_by_quarter_spreads_the_monthly_pieces(small):
    # when
    rows = by_key(variance(inputs_for(small.grant, date(2020, 3, 15)), by="quarter"))
    # then: Q1-Q3 2020 hold 3 x 1,000.00 + 3 x 83.33 = 3,249.99; Q4 holds 3,000.00 + 83.33 x 2 + 83.37
    assert rows["2020-Q1"]["budget"] == D("3249.99")
    assert rows["2020-Q3"]["budget"] == D("3249.99")
    assert rows["2020-Q4"]["budget"] == D("3250.03")
    assert rows["2021-Q1"]["budget"] == D("3000.00")
    # 2022: 75,000 / 12 = 6,250.00 a month
    assert rows["2022-Q2"]["budget"] == D("18750.00")
    assert rows["2020-Q1"]["planned_to_date"] == D("2690.85") and rows["2020-Q1"]["actual"] == D("3200.00")
    assert rows["2020-Q2"]["planned_to_date"] == D("0.00")
    assert rows["2020-Q1"]["label"] == "Q1 2020"
    assert len(rows) == 12


def test_two_groupings_nest_the_second_in_the_first(small):
    # when
    report = variance(inputs_for(small.grant, date(2020, 3, 15)), by="heading,partner")
    rows = by_key(report)
    # then: heading 1 = 1.1 + 1.2 = 25,000.00; its partners are PEUR (1.2) and PXOF (1.1)
    assert figures(rows["1"]) == (D("25000.00"), D("2690.85"), D("3200.00"), D("21800.00"), D("87.20"),
                                  D("12.80"), D("-509.15"), "ok")
    children = {c["key"]: c for c in rows["1"]["children"]}
    assert list(children) == ["PEUR", "PXOF"]
    assert figures(children["PEUR"])[:3] == (D("1000.00"), D("206.98"), D("1200.00"))
    assert children["PEUR"]["flag"] == "over"
    assert [c["key"] for c in rows["2"]["children"]] == ["PEUR"]
    assert report["by"] == ["heading", "partner"]


@pytest.mark.parametrize("as_of, planned", [
    # the last day of January: January whole, 1,000.00 + 83.33
    (date(2020, 1, 31), D("1083.33")),
    # the first of February (29 days in 2020): 1,000.00 x 1/29 = 34.48; 83.33 x 1/29 = 2.873 -> 2.87
    (date(2020, 2, 1), D("1120.68")),
    # the last day of the first project year: the year's allocations, whole
    (date(2020, 12, 31), D("13000.00")),
    # the first day of year 2: 13,000 + 1,000.00 x 1/31 = 32.258 -> 32.26
    (date(2021, 1, 1), D("13032.26")),
])
def test_planned_to_date_at_month_boundaries(small, as_of, planned):
    # when
    report = variance(inputs_for(small.grant, as_of), by="heading")
    # then
    assert report["total"]["planned_to_date"] == planned


def test_actual_counts_the_as_of_day_and_not_the_next(small):
    # 2020-03-15 counts 1,000.00 more than 2020-03-14; 2020-03-16's does not count until then
    total = {d: variance(inputs_for(small.grant, d))["total"]["actual"]
             for d in (date(2020, 3, 14), date(2020, 3, 15), date(2020, 3, 16))}
    assert total == {date(2020, 3, 14): D("2200.00"), date(2020, 3, 15): D("3200.00"),
                     date(2020, 3, 16): D("4200.00")}


def test_a_new_version_changes_the_budget_and_the_old_one_stays_readable(small):
    # given version 2 moves 1,000.00 from 2.1 (year 3) to 1.2 (year 1)
    draft = version_open_draft(grant=small.grant, label="revision")
    allocation_set(version=draft, budget_line=small.lines["2.1"], partner=small.peur, location=small.l1, year=3,
                   amount=Money(D("74000.00"), "EUR"))
    allocation_set(version=draft, budget_line=small.lines["1.2"], partner=small.peur, location=small.l2, year=1,
                   amount=Money(D("2000.00"), "EUR"))
    version_approve(version=draft)
    # when
    current = by_key(variance(inputs_for(small.grant, date(2020, 3, 15))))
    original = by_key(variance(inputs_for(small.grant, date(2020, 3, 15), version=1)))
    # then: 2,000 / 12 = 166.666 -> 166.67 a month; 166.67 x 2 + 166.67 x 15/31 (80.646 -> 80.65) = 413.99
    assert figures(current["1.2"]) == (D("2000.00"), D("413.99"), D("1200.00"), D("800.00"), D("40.00"),
                                       D("60.00"), D("-786.01"), "ok")
    assert current["2.1"]["budget"] == D("74000.00")
    assert original["1.2"]["budget"] == D("1000.00") and original["1.2"]["flag"] == "over"


def test_unknown_or_draft_versions_are_refused(small):
    version_open_draft(grant=small.grant, label="a draft")  # number 2
    with pytest.raises(UnknownVersion):
        budget_version_for(grant=small.grant, number=2)
    with pytest.raises(UnknownVersion):
        budget_version_for(grant=small.grant, number=9)
    assert budget_version_for(grant=small.grant, number=1).number == 1


def test_an_empty_grant_shows_zeros_and_no_division_by_zero(db):
    # given the small grant's budget and no spending at all
    small = make_small_grant("G-EMPTY", spend=False)
    # when
    report = variance(inputs_for(small.grant, date(2021, 6, 30)), by="partner")
    # then: 18 months of 1.1 (12,000 + 6,000) and year 1 of 1.2 are due
    assert figures(report["total"]) == (D("100000.00"), D("19000.00"), D("0.00"), D("100000.00"), D("100.00"),
                                        D("0.00"), D("19000.00"), "under")


def test_a_grant_without_any_budget_version_has_undefined_percentages(db):
    # given a grant with no version approved yet, hence no budget
    grant = GrantFactory(code="G-NOBUDGET")
    # when
    report = variance(inputs_for(grant, date(2020, 6, 30)), by="line")
    # then: no rows, zeros, and null ratios rather than a division by zero
    assert report["rows"] == [] and report["version"] is None
    assert figures(report["total"]) == (D("0.00"), D("0.00"), D("0.00"), D("0.00"), None, None, D("0.00"), "ok")


def test_as_of_before_the_start_plans_nothing(small):
    # when
    report = variance(inputs_for(small.grant, date(2019, 12, 31)), by="heading")
    # then
    assert figures(report["total"]) == (D("100000.00"), D("0.00"), D("0.00"), D("100000.00"), D("100.00"),
                                        D("0.00"), D("0.00"), "ok")


def test_as_of_after_the_end_is_capped_at_the_end(small):
    report = variance(inputs_for(small.grant, date(2030, 1, 1)))
    assert report["as_of"] == date(2022, 12, 31)
    assert report["total"]["planned_to_date"] == D("100000.00")
    # 4,200.00 counted: the 16 March expenditure too
    assert report["total"]["actual"] == D("4200.00")


def test_a_partner_sees_its_own_allocations_and_spending(small):
    report = variance(inputs_for(small.grant, date(2020, 3, 15), partner=small.pxof), by="line")
    assert [r["key"] for r in report["rows"]] == ["1.1"]
    assert figures(report["total"])[:3] == (D("24000.00"), D("2483.87"), D("2000.00"))
    assert report["partner"] == "PXOF"


@pytest.mark.parametrize("by", ["", "cost", "line,line", "heading,partner,location", "heading;line"])
def test_bad_groupings_are_refused(by):
    with pytest.raises(BadGrouping):
        parse_by(by)


def test_a_short_last_project_year_is_spread_over_its_own_months(db):
    # given an 18-month grant: project year 2 has six months (2022-01 to 2022-06)
    from tests.factories import BudgetLineFactory, LocationFactory, PartnerFactory
    partner = PartnerFactory(code="PSHORT", reporting_currency="EUR")
    place = LocationFactory(code="LSHORT")
    grant = GrantFactory(code="G-SHORT", total=Money(D("1800.00"), "EUR"), start_date=date(2021, 1, 1),
                         end_date=date(2022, 6, 30))
    grant.partners.add(partner)
    heading = BudgetLineFactory(grant=grant, code="1", position=1)
    line = BudgetLineFactory(grant=grant, code="1.1", parent=heading, position=2)
    version = version_open_draft(grant=grant, label="original")
    for year, amount in ((1, "1200.00"), (2, "600.00")):
        allocation_set(version=version, budget_line=line, partner=partner, location=place, year=year,
                       amount=Money(D(amount), "EUR"))
    version_approve(version=version)
    # when: as of the end of March 2022
    report = variance(inputs_for(grant, date(2022, 3, 31)), by="year")
    # then: year 1 whole (1,200.00); year 2 at 600 / 6 = 100.00 a month, three months
    years = by_key(report)
    assert (years["1"]["planned_to_date"], years["2"]["planned_to_date"]) == (D("1200.00"), D("300.00"))
    assert years["2"]["label"] == "Year 2 (2022-01 to 2022-06)"
