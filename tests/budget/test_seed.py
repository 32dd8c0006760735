from collections import defaultdict
from csv import DictReader
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from budget.models import Allocation, BudgetLine, BudgetVersion
from budget.seed import seed_load
from budget.selectors import version_total
from grants.models import Grant, GrantDonor, Location, Partner

DATA = Path(settings.BASE_DIR) / "fixtures" / "mali"


def _csv(name):
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(DictReader(handle))


def test_seed_loads_the_mali_project(grant):
    assert grant.code == "ML-ESEC-2015"
    assert grant.title.startswith("Rompre le silence autour des filles mineures")
    assert grant.total.amount == Decimal("955926.26")
    assert str(grant.total.currency) == "EUR"
    assert (grant.start_date.isoformat(), grant.end_date.isoformat()) == ("2015-07-01", "2018-06-30")
    assert grant.months == 36 and grant.years == 3
    assert grant.fx_method == "parity"
    assert grant.partners.count() == 4
    assert Location.objects.count() == 5
    assert BudgetLine.objects.filter(grant=grant).count() == 27
    assert BudgetLine.objects.filter(grant=grant, parent__isnull=True).count() == 7
    shares = {gd.donor.code: gd.share_pct for gd in GrantDonor.objects.filter(grant=grant)}
    assert shares == {"MAEE-LU": Decimal("75.00"), "ECPAT-LU-OWN": Decimal("25.00")}
    assert "Assumption" in grant.notes or "assum" in grant.notes.lower()


def test_seed_version_adds_up_to_the_grant_total_to_the_cent(grant):
    version = BudgetVersion.objects.get(grant=grant, is_current=True)
    assert (version.number, version.label, version.status) == (1, "original", "approved")
    assert version.allocations.count() == 240
    assert version_total(version).amount == Decimal("955926.26")


def test_each_heading_adds_up_to_what_the_data_gives(grant):
    parents = {row["code"]: row["parent"] for row in _csv("budget-lines.csv")}
    expected = defaultdict(Decimal)
    for row in _csv("budget-mali-2015-2018.csv"):
        expected[parents[row["line"]]] += Decimal(row["amount_eur"])
    got = defaultdict(Decimal)
    for allocation in Allocation.objects.filter(version__grant=grant).select_related("budget_line"):
        got[allocation.budget_line.parent.code] += allocation.amount.amount
    assert dict(got) == dict(expected)
    assert sum(got.values()) == Decimal("955926.26")


def test_loading_twice_changes_nothing(grant):
    def snapshot():
        return (
            Grant.objects.count(), Partner.objects.count(), Location.objects.count(),
            BudgetLine.objects.count(), BudgetVersion.objects.count(), Allocation.objects.count(),
            Allocation.history.count(), BudgetLine.history.count(), Grant.history.count(),
            list(Allocation.objects.order_by("id").values_list("id", "amount")),
        )

    before = snapshot()
    result = seed_load()
    assert result.created == {}
    assert snapshot() == before


@pytest.mark.django_db
def test_load_seed_command_is_idempotent(capsys):
    from django.core.management import call_command

    call_command("load_seed")
    call_command("load_seed")
    out = capsys.readouterr().out
    assert "Loaded ML-ESEC-2015" in out and "nothing changed" in out
    assert Allocation.objects.count() == 240
