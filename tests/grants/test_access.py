"""What each role sees (``grants.access``), and the rules that moved out of views and serializers
into services, tried through each path: the API, the admin and a direct service call (what a
command or a script does)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from moneyed import Money

from budget import services as budget_services
from budget.models import BudgetLine
from expenditures.models import Expenditure, FundTransfer
from grants import access
from grants import services as grant_services
from grants.errors import ApplicationError, Conflict, PermissionRefused
from grants.models import Donor, Grant, Location, Partner, Role
from tests.conftest import make_user
from tests.test_admin import _form_data

G = "ML-ESEC-2015"


@pytest.fixture
def other_grant(grant):
    """A second grant, of another partner and donor: nobody of the Mali project sees it."""
    other = grant_services.grant_create(code="OTHER-1", title="Another", total=Money(Decimal("1000.00"), "EUR"),
                                        start_date=date(2020, 1, 1), end_date=date(2021, 12, 31),
                                        partners=[Partner.objects.create(code="ELSE", name="Elsewhere",
                                                                                reporting_currency="XOF")])
    return other


@pytest.fixture
def nobody(db):
    return get_user_model().objects.create_user("nobody", password="nobody")


@pytest.fixture
def both_user(grant):
    """A member of a partner and of a donor: the partner membership decides what it sees."""
    return make_user("both", Role.PARTNER_MEMBER, partner=Partner.objects.get(code="BNCE"),
                     donor=Donor.objects.get(code="MAEE-LU"))


def test_each_role_sees_its_grants(grant, other_grant, finance_user, bnce_user, donor_user, nobody):
    assert set(access.grants_visible_to(finance_user)) == {grant, other_grant}
    assert list(access.grants_visible_to(bnce_user)) == [grant]
    assert list(access.grants_visible_to(donor_user)) == [grant]
    assert list(access.grants_visible_to(nobody)) == []
    assert access.grant_visible_to(bnce_user, "OTHER-1") is None
    assert access.grant_visible_to(finance_user, "OTHER-1") == other_grant
    assert access.grant_visible_to(finance_user, "OTHER\x00-1") is None  # PostgreSQL would refuse the query


def test_each_role_sees_its_records(grant, finance_user, bnce_user, caritas_user, donor_user, nobody):
    bnce, caritas = Partner.objects.get(code="BNCE"), Partner.objects.get(code="CARITAS")
    for partner in (bnce, caritas):
        FundTransfer.objects.create(grant=grant, partner=partner, sent_on=date(2016, 1, 5),
                                    received_on=date(2016, 1, 8),
                                    amount_sent=Money(Decimal("1000.00"), "EUR"),
                                    amount_received=Money(Decimal("655957"), "XOF"))
    transfers = FundTransfer.objects.all()
    assert access.visible_records(transfers, finance_user).count() == 2
    assert access.visible_records(transfers, donor_user).count() == 2
    assert [t.partner for t in access.visible_records(transfers, bnce_user)] == [bnce]
    assert [t.partner for t in access.visible_records(transfers, caritas_user)] == [caritas]
    assert access.visible_records(transfers, nobody).count() == 0
    assert access.record_scope(nobody) is None


def test_whole_grant_readers_and_the_partner_a_record_is_for(grant, finance_user, bnce_user, donor_user, both_user):
    bnce, caritas = Partner.objects.get(code="BNCE"), Partner.objects.get(code="CARITAS")
    assert [access.sees_whole_grant(u) for u in (finance_user, bnce_user, donor_user, both_user)] == [
        True, False, True, False]
    assert access.partner_scope(both_user) == bnce
    # a partner member's new record is its own unless it names one (the service refuses another)
    assert access.acting_partner(bnce_user, None) == bnce
    assert access.acting_partner(bnce_user, caritas) == caritas
    with pytest.raises(ApplicationError) as caught:
        access.acting_partner(finance_user, None)
    assert (caught.value.code, caught.value.attr) == ("required", "partner")
    # the statement template: a partner member gets its own partner only
    assert access.partner_visible_on_grant(bnce_user, grant, None) == bnce
    assert access.partner_visible_on_grant(bnce_user, grant, "CARITAS") is None
    assert access.partner_visible_on_grant(finance_user, grant, "CARITAS") == caritas
    assert access.partner_visible_on_grant(finance_user, grant, "NOPE") is None


def test_a_donor_decides_for_its_own_donor_only(grant, donor_user, bnce_user):
    assert access.donor_deciding(donor_user, grant) == Donor.objects.get(code="MAEE-LU")
    assert access.donor_deciding(donor_user, grant, "OTHER") is None
    assert access.donor_deciding(bnce_user, grant) is None


def test_who_may_write_at_all(grant, finance_user, bnce_user, donor_user, nobody):
    assert [access.may_write(u) for u in (finance_user, bnce_user, donor_user, nobody)] == [
        True, False, False, False]
    assert [access.may_write(u, partners=True) for u in (finance_user, bnce_user, donor_user, nobody)] == [
        True, True, False, False]
    assert [access.has_ledger_role(u) for u in (finance_user, bnce_user, donor_user, nobody)] == [
        True, True, True, False]


# --- rules that were in views and serializers, now in services: every path meets them -------------

def test_a_grant_code_is_unique_and_never_changes_for_the_services(grant, finance_user, bnce_user):
    with pytest.raises(ApplicationError) as caught:
        grant_services.grant_create(code=G, title="Again", total=Money(Decimal("1.00"), "EUR"),
                                    start_date=date(2020, 1, 1), end_date=date(2020, 12, 31))
    assert (caught.value.code, caught.value.attr) == ("unique", "code")
    with pytest.raises(ApplicationError) as caught:
        grant_services.grant_update(grant=grant, code="NEW-CODE", by=finance_user)
    assert (caught.value.code, caught.value.attr) == ("immutable", "code")
    with pytest.raises(PermissionRefused):
        grant_services.grant_update(grant=grant, title="Mine now", by=bnce_user)
    grant.refresh_from_db()
    assert (grant.code, grant.title != "Mine now") == (G, True)


def test_a_grant_code_never_changes_in_the_api_nor_in_the_admin(grant, finance, admin_client):
    response = finance.patch(f"/api/v1/grants/{G}/", {"code": "NEW-CODE"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "immutable"
    page = admin_client.get(reverse("admin:grants_grant_change", args=[grant.pk]))
    data = {**_form_data(page), "code": "NEW-CODE"}
    response = admin_client.post(reverse("admin:grants_grant_change", args=[grant.pk]), data)
    assert response.status_code == 200  # the form again, with the error
    assert "code cannot change" in response.content.decode()
    assert Grant.objects.filter(code=G).exists() and not Grant.objects.filter(code="NEW-CODE").exists()


def test_a_budget_line_code_is_unique_and_never_changes_on_every_path(grant, finance):
    line = BudgetLine.objects.filter(grant=grant, parent__isnull=False).first()
    # the service (a command's path)
    with pytest.raises(ApplicationError) as caught:
        budget_services.budget_line_create(grant=grant, code=line.code, label_fr="x", label_en="x",
                                           parent=line.parent)
    assert (caught.value.code, caught.value.attr) == ("unique", "code")
    with pytest.raises(ApplicationError) as caught:
        budget_services.budget_line_update(line=line, code="9.9")
    assert (caught.value.code, caught.value.attr) == ("immutable", "code")
    # the API
    response = finance.patch(f"/api/v1/grants/{G}/budget-lines/{line.code}/", {"code": "9.9"}, format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "immutable")
    line.refresh_from_db()
    assert line.code != "9.9"


def test_a_record_others_stand_on_is_not_deleted_on_every_path(grant, finance, finance_user, admin_client):
    bnce = Partner.objects.get(code="BNCE")
    line = BudgetLine.objects.filter(grant=grant, allocations__isnull=False).first()
    # services
    with pytest.raises(Conflict) as caught:
        grant_services.reference_delete(record=bnce, by=finance_user)
    assert caught.value.code == "in_use"
    with pytest.raises(Conflict) as caught:
        budget_services.budget_line_delete(line=line, by=finance_user)
    assert caught.value.code == "in_use"
    # the API
    response = finance.delete("/api/v1/partners/BNCE/")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (409, "in_use")
    response = finance.delete(f"/api/v1/grants/{G}/budget-lines/{line.code}/")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (409, "in_use")
    # the admin: the confirmation page lists the refusal, and a post deletes nothing
    url = reverse("admin:budget_budgetline_delete", args=[line.pk])
    assert "Cannot delete" in admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})
    assert Partner.objects.filter(code="BNCE").exists() and BudgetLine.objects.filter(pk=line.pk).exists()


def test_reference_records_are_written_by_finance_only_through_the_service(db, bnce_user, finance_user):
    with pytest.raises(PermissionRefused):
        grant_services.reference_create(model=Location, by=bnce_user, code="GAO", name="Gao", country="ML")
    location = grant_services.reference_create(model=Location, by=finance_user, code="GAO", name="Gao",
                                               country="ML")
    with pytest.raises(ApplicationError) as caught:
        grant_services.reference_create(model=Location, by=finance_user, code="GAO", name="Gao 2", country="ML")
    assert (caught.value.code, caught.value.attr) == ("unique", "code")
    grant_services.reference_delete(record=location, by=finance_user)
    assert not Location.objects.filter(code="GAO").exists()
    assert Expenditure.objects.count() == 0


def test_a_partner_reads_its_own_figures_only(grant, finance_user, bnce_user, donor_user):
    bnce, caritas = Partner.objects.get(code="BNCE"), Partner.objects.get(code="CARITAS")
    assert access.partner_to_read(bnce_user, None) == bnce
    assert access.partner_to_read(bnce_user, bnce) == bnce
    with pytest.raises(PermissionRefused):
        access.partner_to_read(bnce_user, caritas)
    assert access.partner_to_read(finance_user, None) is None
    assert access.partner_to_read(donor_user, caritas) == caritas
