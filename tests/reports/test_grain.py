"""Reports read at their own grain (issue 16): the spending summed in SQL by what a grouping needs
(``reports.variance.actual_grain``), not by line x partner x location x month rolled up in Python.

The figures must not move a cent: on the Mali seed with a generated history, every grouping of
``DIMENSIONS`` (one, or two nested) gives the very same report read at its own grain as read at
the finest, for several as-of dates, a partner's scope, a narrower set of statuses and a compared
version; and its rows' actual spending is the database's own exact sum of those expenditures.
The query the API runs groups by the grouping's columns only.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from budget.models import BudgetLine
from budget.seed import seed_revise
from expenditures.audit import exact_sum
from expenditures.models import COUNTED_STATUSES, Expenditure
from grants.models import Location, Partner
from reports.beneficiaries import cost_per_beneficiary
from reports.burn_rate import burn_rate
from reports.selectors import GRAIN, actual_rows, budget_version_for, normalize_grain, report_inputs
from reports.variance import DIMENSIONS, actual_grain, variance
from tests.reports.test_footing import spend_on_seed

D = Decimal
GROUPINGS = [(d,) for d in DIMENSIONS] + list(itertools.permutations(DIMENSIONS, 2))


@pytest.fixture
def seed_with_history(grant):
    spend_on_seed(grant, 1500, seed=16)
    return grant


def both_ways(grant, as_of, by, **scope) -> tuple[dict, dict]:
    """The variance report by ``by`` read at its own grain, and read at the finest and rolled up."""
    version = budget_version_for(grant=grant, number=scope.pop("version", None))
    own = report_inputs(grant=grant, as_of=as_of, version=version, grain=actual_grain(by), **scope)
    finest = report_inputs(grant=grant, as_of=as_of, version=version, **scope)
    assert finest.grain == GRAIN
    return variance(own, by=by, lang="fr"), variance(finest, by=by, lang="fr")


def test_actual_grain_is_what_each_grouping_is_made_from():
    assert actual_grain("line") == ("line",)
    assert actual_grain("heading") == ("line",)
    assert actual_grain("partner") == ("partner",)
    assert actual_grain("location") == ("location",)
    assert actual_grain("year") == actual_grain("quarter") == actual_grain("year,quarter") == ("month",)
    assert actual_grain("heading,partner") == ("line", "partner")
    assert actual_grain(("quarter", "location")) == ("location", "month")  # in GRAIN's order
    assert actual_grain("heading,line") == ("line",)


@pytest.mark.parametrize("as_of", [date(2015, 1, 31), date(2016, 2, 29), date(2017, 3, 1), date(2018, 6, 30)])
def test_every_grouping_at_its_own_grain_is_the_finest_grain_rolled_up(seed_with_history, as_of):
    for by in GROUPINGS:
        # when
        own, finest = both_ways(seed_with_history, as_of, by)
        # then: the same rows, labels, order and cents
        assert own == finest, by


def test_the_same_under_a_partner_statuses_and_a_compared_version(seed_with_history):
    grant = seed_with_history
    seed_revise()
    bnce = Partner.objects.get(code="BNCE")
    compare = budget_version_for(grant=grant, number=1)
    scopes = [
        {"partner": bnce},
        {"statuses": ("validated",)},
        {"compare": compare},
        {"version": 1, "partner": bnce, "statuses": ("submitted",), "compare": budget_version_for(grant=grant)},
    ]
    for scope, by in itertools.product(scopes, GROUPINGS):
        own, finest = both_ways(grant, date(2017, 9, 14), by, **dict(scope))
        assert own == finest, (scope, by)


def test_a_grant_with_no_spending_or_no_budget_reads_the_same(grant):
    # no spending yet; and as of before the start
    for as_of, by in itertools.product([date(2014, 12, 31), date(2016, 5, 17)], GROUPINGS):
        own, finest = both_ways(grant, as_of, by)
        assert own == finest
    # no version: the budget is empty, the spending alone
    spend_on_seed(grant, 200, seed=3)
    for by in GROUPINGS:
        own = variance(report_inputs(grant=grant, as_of=date(2018, 6, 30), version=None,
                                     grain=actual_grain(by)), by=by)
        finest = variance(report_inputs(grant=grant, as_of=date(2018, 6, 30), version=None), by=by)
        assert own == finest


def test_each_rows_actual_is_the_databases_exact_sum(seed_with_history):
    # an independent path: the stored EUR of the counted expenditures of each key, summed exactly
    grant = seed_with_history
    as_of = date(2017, 3, 1)
    counted = Expenditure.objects.filter(grant=grant, status__in=COUNTED_STATUSES, date__lte=as_of)
    lines = {line.code: line for line in BudgetLine.objects.filter(grant=grant)}
    key_filters = {
        "line": lambda key: Q(budget_line=lines[key]),
        "heading": lambda key: Q(budget_line__parent=lines[key]) | Q(budget_line=lines[key]),
        "partner": lambda key: Q(partner=Partner.objects.get(code=key)),
        "location": lambda key: Q(location=Location.objects.get(code=key)),
    }
    for by in (("line",), ("partner",), ("location",), ("heading", "partner")):
        report, _ = both_ways(grant, as_of, by)
        assert report["total"]["actual"] == exact_sum(counted, "amount_eur")
        for row in report["rows"]:
            mine = counted.filter(key_filters[by[0]](row["key"]))
            assert row["actual"] == exact_sum(mine, "amount_eur"), (by, row["key"])
            for child in row.get("children", []):
                theirs = mine.filter(key_filters[by[1]](child["key"]))
                assert child["actual"] == exact_sum(theirs, "amount_eur"), (by, row["key"], child["key"])


def test_the_burn_rate_and_the_cost_per_beneficiary_are_unchanged_at_the_finest_grain(seed_with_history):
    # the workbook reads the finest grain once for all its reports; a coarser read that holds what
    # each needs gives the same figures
    grant = seed_with_history
    version = budget_version_for(grant=grant)
    finest = report_inputs(grant=grant, as_of=date(2017, 3, 1), version=version)
    months = report_inputs(grant=grant, as_of=date(2017, 3, 1), version=version, grain=("month",))
    lines = report_inputs(grant=grant, as_of=date(2017, 3, 1), version=version, grain=("line",))
    assert burn_rate(months) == burn_rate(finest)
    assert cost_per_beneficiary(lines, lang="fr") == cost_per_beneficiary(finest, lang="fr")


def test_a_report_refuses_spending_summed_coarser_than_it_groups(seed_with_history):
    inputs = report_inputs(grant=seed_with_history, as_of=date(2017, 3, 1),
                           version=budget_version_for(grant=seed_with_history), grain=("line",))
    with pytest.raises(ValueError, match="partner"):
        variance(inputs, by="line,partner")
    with pytest.raises(ValueError, match="month"):
        variance(inputs, by="quarter")
    with pytest.raises(ValueError, match="month"):
        burn_rate(inputs)
    with pytest.raises(ValueError, match="line"):
        cost_per_beneficiary(report_inputs(grant=seed_with_history, as_of=date(2017, 3, 1), version=None,
                                           grain=("month",)))


@pytest.mark.parametrize("grain", [(), ("day",), ("line", "heading")])
def test_a_grain_is_some_of_line_partner_location_month(grain):
    with pytest.raises(ValueError):
        normalize_grain(grain)


def test_actual_rows_groups_by_the_grain_alone(seed_with_history):
    grant = seed_with_history
    as_of = date(2018, 6, 30)
    with CaptureQueriesContext(connection) as queries:
        frame = actual_rows(grant=grant, as_of=as_of, grain=("month", "partner"))
    assert len(queries) == 1
    assert list(frame.columns) == ["partner_id", "month", "cents"]
    finest = actual_rows(grant=grant, as_of=as_of)
    rolled = finest.groupby(["partner_id", "month"], as_index=False)["cents"].sum()
    assert frame.sort_values(["partner_id", "month"]).reset_index(drop=True).equals(rolled)


def group_by_of_the_spending_query(sql_list: list[str]) -> list[str]:
    """The expenditure columns the one spending query groups by: those it selects before its SUM
    (Django groups by their positions), the date standing for its month."""
    spending = [sql for sql in sql_list if "expenditures_expenditure" in sql and "GROUP BY" in sql]
    assert len(spending) == 1, spending
    selected, _ = spending[0].split("SUM(", 1)
    columns = sorted(set(re.findall(r'"expenditures_expenditure"\."(\w+)"', selected)))
    positions = spending[0].rsplit("GROUP BY", 1)[1].split("ORDER BY")[0]
    assert [p.strip() for p in positions.split(",")] == [str(i + 1) for i in range(len(columns))]
    return columns


@pytest.mark.parametrize(("by", "columns"), [
    ("line", ["budget_line_id"]),
    ("partner", ["partner_id"]),
    ("location", ["location_id"]),
    ("heading,partner", ["budget_line_id", "partner_id"]),
    ("quarter", ["date"]),
])
def test_the_api_reads_the_spending_grouped_by_its_grouping_only(seed_with_history, finance, by, columns):
    # when
    with CaptureQueriesContext(connection) as queries:
        response = finance.get(f"/api/v1/grants/ML-ESEC-2015/reports/variance/?by={by}&as_of=2017-03-01")
    # then: one GROUP BY of those columns, and the figures of the finest grain
    assert response.status_code == 200
    assert group_by_of_the_spending_query([q["sql"] for q in queries.captured_queries]) == columns
    _, finest = both_ways(seed_with_history, date(2017, 3, 1), tuple(by.split(",")))
    assert response.json()["total"]["actual"] == str(finest["total"]["actual"])
    assert [row["key"] for row in response.json()["rows"]] == [row["key"] for row in finest["rows"]]


@pytest.mark.parametrize(("report", "columns"), [("burn-rate", ["date"]), ("cost-per-beneficiary", ["budget_line_id"])])
def test_the_other_json_reports_read_the_grain_they_need(seed_with_history, finance, report, columns):
    from api.views_reports import BeneficiaryCostReportSerializer, BurnRateReportSerializer

    # when
    with CaptureQueriesContext(connection) as queries:
        response = finance.get(f"/api/v1/grants/ML-ESEC-2015/reports/{report}/?as_of=2017-03-01&lang=en")
    # then: one GROUP BY of what the report needs, and the figures read at the finest grain
    assert response.status_code == 200
    assert group_by_of_the_spending_query([q["sql"] for q in queries.captured_queries]) == columns
    inputs = report_inputs(grant=seed_with_history, as_of=date(2017, 3, 1),
                           version=budget_version_for(grant=seed_with_history))
    finest = (BurnRateReportSerializer(burn_rate(inputs)).data if report == "burn-rate"
              else BeneficiaryCostReportSerializer(cost_per_beneficiary(inputs, lang="en")).data)
    assert response.json() == finest
