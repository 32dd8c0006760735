"""The burn-rate report, worked out by hand on the small grant and on a grant spending too fast."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from moneyed import Money

from budget.services import allocation_set, version_approve, version_open_draft
from reports.burn_rate import burn_rate, pace_flag
from tests.factories import BudgetLineFactory, GrantFactory, LocationFactory, PartnerFactory
from tests.reports.conftest import inputs_for, make_small_grant

D = Decimal


def test_burn_rate_worked_by_hand(small):
    # when
    report = burn_rate(inputs_for(small.grant, date(2020, 3, 15)), window=3)
    # then: months from January to March (March to the 15th; planned 483.87 + 40.32 = 524.19)
    assert [(m["month"], m["actual"], m["planned"], m["cumulative_actual"], m["cumulative_planned"])
            for m in report["months"]] == [
        ("2020-01", D("1000.00"), D("1083.33"), D("1000.00"), D("1083.33")),
        ("2020-02", D("1200.00"), D("1083.33"), D("2200.00"), D("2166.66")),
        ("2020-03", D("1000.00"), D("524.19"), D("3200.00"), D("2690.85")),
    ]
    summary = report["summary"]
    # two full months only: (1,000 + 1,200) / 2 = 1,100.00
    assert summary["burn_rate"] == D("1100.00")
    assert (summary["months_elapsed"], summary["months_remaining"]) == (2, 34)
    # 100,000 - 3,200 = 96,800.00; / 1,100 = 88.00 months; 3,200 + 1,100 x 34 = 40,600.00
    assert summary["remaining_budget"] == D("96800.00")
    assert summary["runway_months"] == D("88.00")
    assert summary["forecast_at_completion"] == D("40600.00")
    assert summary["projected_variance"] == D("59400.00")
    assert summary["exhaustion_month"] is None
    # 31 + 29 + 15 = 75 days of 366 + 365 + 365 = 1,096: 6.843..%; use 3,200 / 100,000 = 3.20 %
    assert summary["time_elapsed_pct"] == D("6.84")
    assert summary["use_pct"] == D("3.20")
    assert summary["pace_flag"] == "on_track"


def test_the_window_takes_the_last_full_months_only(small):
    # as of 2020-04-30: Feb 1,200, March 2,000 (15th and 16th), April 0 are the last three full months
    summary = burn_rate(inputs_for(small.grant, date(2020, 4, 30)), window=3)["summary"]
    # (1,200 + 2,000 + 0) / 3 = 1,066.666 -> 1,066.67
    assert summary["burn_rate"] == D("1066.67")
    assert summary["months_elapsed"] == 4
    # window 1: April alone, nothing spent: no burn, no runway, no exhaustion
    summary = burn_rate(inputs_for(small.grant, date(2020, 4, 30)), window=1)["summary"]
    assert summary["burn_rate"] == D("0.00")
    assert summary["runway_months"] is None and summary["exhaustion_month"] is None
    assert summary["forecast_at_completion"] == D("4200.00")


def fast_grant():
    """12,000.00 EUR over 2021; 3,000.00 spent in each of January, February and March."""
    partner = PartnerFactory(code="PFAST", reporting_currency="EUR")
    place = LocationFactory(code="LFAST")
    grant = GrantFactory(code="G-FAST", total=Money(D("12000.00"), "EUR"), start_date=date(2021, 1, 1),
                         end_date=date(2021, 12, 31))
    grant.partners.add(partner)
    heading = BudgetLineFactory(grant=grant, code="1", position=1)
    line = BudgetLineFactory(grant=grant, code="1.1", parent=heading, position=2)
    version = version_open_draft(grant=grant, label="original")
    allocation_set(version=version, budget_line=line, partner=partner, location=place, year=1,
                   amount=Money(D("12000.00"), "EUR"))
    version_approve(version=version)
    from expenditures.services import expenditure_record
    for n, day in enumerate((date(2021, 1, 5), date(2021, 2, 5), date(2021, 3, 5)), start=1):
        expenditure_record(grant=grant, partner=partner, budget_line=line, location=place,
                           amount=Money(D("3000.00"), "EUR"), date=day, voucher=f"F-{n}")
    return grant


def test_money_running_out_before_the_end(db):
    grant = fast_grant()
    # when
    summary = burn_rate(inputs_for(grant, date(2021, 3, 31)))["summary"]
    # then: burn 3,000.00; 3,000.00 left pays for one more month: April
    assert summary["burn_rate"] == D("3000.00")
    assert (summary["months_elapsed"], summary["months_remaining"]) == (3, 9)
    assert summary["remaining_budget"] == D("3000.00")
    assert summary["runway_months"] == D("1.00")
    # 9,000 + 3,000 x 9 = 36,000.00; 12,000 - 36,000
    assert summary["forecast_at_completion"] == D("36000.00")
    assert summary["projected_variance"] == D("-24000.00")
    assert summary["exhaustion_month"] == "2021-04"
    # 90 days of 365: 24.657..%; use 75.00 %: 50.34 points ahead
    assert summary["time_elapsed_pct"] == D("24.66")
    assert summary["use_pct"] == D("75.00")
    assert summary["pace_flag"] == "ahead"


def test_money_already_spent_names_the_month_it_ran_out(db):
    grant = fast_grant()
    from expenditures.services import expenditure_record
    from grants.models import Location, Partner
    line = grant.budget_lines.get(code="1.1")
    expenditure_record(grant=grant, partner=Partner.objects.get(code="PFAST"), budget_line=line,
                       location=Location.objects.get(code="LFAST"), amount=Money(D("3500.00"), "EUR"),
                       date=date(2021, 5, 10), voucher="F-4")
    summary = burn_rate(inputs_for(grant, date(2021, 6, 30)))["summary"]
    # 9,000 by March, 12,500 in May: the budget was reached in May
    assert summary["remaining_budget"] == D("-500.00")
    assert summary["exhaustion_month"] == "2021-05"


def test_pace_is_flagged_beyond_fifteen_points():
    assert pace_flag(D("40.00"), D("25.00")) == "on_track"
    assert pace_flag(D("40.01"), D("25.00")) == "ahead"
    assert pace_flag(D("9.99"), D("25.00")) == "behind"
    assert pace_flag(None, D("25.00")) is None


def test_an_empty_grant_and_a_date_before_the_start(db):
    small = make_small_grant("G-EMPTY-BURN", spend=False)
    # when: before the start
    report = burn_rate(inputs_for(small.grant, date(2019, 12, 1)))
    # then: no months, nothing elapsed, the whole budget ahead, no division by zero
    assert report["months"] == []
    summary = report["summary"]
    assert summary["burn_rate"] == D("0.00") and summary["runway_months"] is None
    assert (summary["months_elapsed"], summary["months_remaining"]) == (0, 36)
    assert summary["remaining_budget"] == D("100000.00")
    assert summary["forecast_at_completion"] == D("0.00")
    assert summary["time_elapsed_pct"] == D("0.00") and summary["use_pct"] == D("0.00")
    assert summary["pace_flag"] == "on_track"
    # when: a year in, still nothing spent: 366 / 1,096 days = 33.39 %, 33.39 points behind
    summary = burn_rate(inputs_for(small.grant, date(2020, 12, 31)))["summary"]
    assert summary["months_elapsed"] == 12
    assert summary["time_elapsed_pct"] == D("33.39")
    assert summary["pace_flag"] == "behind"
    assert summary["exhaustion_month"] is None


def test_a_grant_without_a_budget(db):
    grant = GrantFactory(code="G-NOBUDGET-BURN")
    summary = burn_rate(inputs_for(grant, date(2020, 2, 15)))["summary"]
    assert summary["budget"] == D("0.00") and summary["use_pct"] is None and summary["pace_flag"] is None
    assert summary["exhaustion_month"] is None
