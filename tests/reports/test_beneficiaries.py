"""Cost per beneficiary: a heading's actual over its target, worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from expenditures.models import COUNTED_STATUSES, Expenditure
from reports.beneficiaries import cost_per_beneficiary
from tests.reports.conftest import inputs_for

D = Decimal


def test_cost_per_beneficiary_worked_by_hand(small):
    # when
    report = cost_per_beneficiary(inputs_for(small.grant, date(2020, 3, 15)), lang="fr")
    # then: heading 1 only (heading 2 has no target); 3,200.00 / 300 = 10.666 -> 10.67
    assert report["rows"] == [{
        "key": "1", "label": "Prévention", "actual": D("3200.00"), "target": 300, "unit": "enfants",
        "cost_per_beneficiary": D("10.67"),
    }]


def test_cost_per_beneficiary_of_the_seed_grant(grant):
    # given the Mali seed: 2,558 children in prevention, 417 girls in protection, no spending yet
    report = cost_per_beneficiary(inputs_for(grant, date(2016, 6, 30)))
    assert [(r["key"], r["target"], r["unit"], r["actual"], r["cost_per_beneficiary"]) for r in report["rows"]] == [
        ("1", 2558, "children", D("0.00"), D("0.00")),
        ("2", 417, "girls", D("0.00"), D("0.00")),
    ]


def test_cost_per_beneficiary_counts_the_heading_spending(grant):
    # given a few expenditures on prevention lines
    from tests.reports.test_footing import spend_on_seed
    spend_on_seed(grant, 60)
    as_of = date(2018, 6, 30)
    # when
    rows = {r["key"]: r for r in cost_per_beneficiary(inputs_for(grant, as_of))["rows"]}
    # then: an independent sum of the heading's expenditures, divided by the target, half up
    prevention = Expenditure.objects.filter(grant=grant, budget_line__parent__code="1",
                                            status__in=COUNTED_STATUSES).aggregate(s=Sum("amount_eur"))["s"]
    prevention = D(prevention).quantize(D("0.01"))
    assert rows["1"]["actual"] == prevention
    assert rows["1"]["cost_per_beneficiary"] == (prevention / 2558).quantize(D("0.01"), rounding="ROUND_HALF_UP")
