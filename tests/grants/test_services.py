from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from moneyed import Money

from grants.errors import ApplicationError
from grants.models import Donor, Grant, GrantDonor, Membership
from grants.services import grant_create, grant_set_donors


@pytest.fixture
def donors(db):
    return Donor.objects.create(code="MIN", name="Ministry"), Donor.objects.create(code="OWN", name="Own funds")


def _grant(**overrides):
    kwargs = dict(code="G-1", title="A grant", total=Money(Decimal("1000.00"), "EUR"),
                  start_date=date(2020, 1, 1), end_date=date(2022, 12, 31))
    kwargs.update(overrides)
    return grant_create(**kwargs)


def test_donor_shares_must_add_up_to_100(donors):
    ministry, own = donors
    grant = _grant(donor_shares=[(ministry, Decimal("75")), (own, Decimal("25"))])
    assert sorted(GrantDonor.objects.filter(grant=grant).values_list("share_pct", flat=True)) == [25, 75]
    with pytest.raises(ApplicationError) as caught:
        grant_set_donors(grant=grant, donor_shares=[(ministry, Decimal("66.7")), (own, Decimal("33.2"))])
    assert (caught.value.code, caught.value.attr) == ("shares_not_100", "donors")
    # nothing changed
    assert sorted(GrantDonor.objects.filter(grant=grant).values_list("share_pct", flat=True)) == [25, 75]


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        ({"total": Money(Decimal("-1"), "EUR")}, "total"),
        ({"total": Money(Decimal("1"), "XOF")}, "total"),
        ({"end_date": date(2019, 1, 1)}, "end_date"),
    ],
)
def test_a_grant_refuses_bad_totals_and_dates(db, overrides, attr):
    with pytest.raises(ApplicationError) as caught:
        _grant(**overrides)
    assert caught.value.attr == attr
    assert not Grant.objects.exists()


def test_the_database_refuses_a_grant_that_ends_before_it_starts(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Grant.objects.create(code="BAD", title="x", total=Money(Decimal("1"), "EUR"), start_date=date(2020, 1, 1),
                             end_date=date(2019, 1, 1))


def test_a_membership_names_a_partner_or_a_donor_not_both(donors, django_user_model):
    user = django_user_model.objects.create_user("u")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user)


def test_project_years_and_months_of_the_seed(grant):
    assert grant.months == 36
    assert grant.project_year_of(date(2015, 7, 1)) == 1
    assert grant.project_year_of(date(2016, 6, 30)) == 1
    assert grant.project_year_of(date(2016, 7, 1)) == 2
    assert grant.project_year_of(date(2018, 6, 30)) == 3


@pytest.mark.django_db
def test_create_demo_users_prints_tokens_as_json(capsys):
    import json

    from django.core.management import call_command

    from budget.seed import seed_load

    seed_load()
    call_command("create_demo_users", "--json")
    tokens = json.loads(capsys.readouterr().out)
    assert sorted(tokens) == ["apjec", "bnce", "caritas", "donor", "finance"]
    call_command("create_demo_users", "--json")
    assert json.loads(capsys.readouterr().out) == tokens


def test_what_the_ledger_stands_on_cannot_move_through_an_update(grant):
    from datetime import date as day

    from budget.models import BudgetLine
    from expenditures.services import expenditure_record
    from grants.errors import Conflict
    from grants.models import Location, Partner
    from grants.services import grant_update

    with pytest.raises(Conflict) as caught:
        grant_update(grant=grant, total=Money(Decimal("955926.27"), "EUR"))
    assert caught.value.attr == "total"
    expenditure_record(grant=grant, partner=Partner.objects.get(code="BNCE"),
                       budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
                       location=Location.objects.get(code="SEG"), amount=Money(Decimal("1000"), "XOF"),
                       date=day(2015, 8, 1), voucher="V-1")
    with pytest.raises(Conflict) as caught:
        grant_update(grant=grant, fx_method="fifo")
    assert caught.value.code == "use_revalue"
    with pytest.raises(Conflict) as caught:
        grant_update(grant=grant, start_date=day(2015, 9, 1))
    assert caught.value.attr == "start_date"
    grant.refresh_from_db()
    assert (grant.total.amount, grant.fx_method, grant.start_date) == (
        Decimal("955926.26"), "parity", day(2015, 7, 1))
    # what moves nothing stays free
    grant_update(grant=grant, title="New title", end_date=day(2018, 12, 31))
