"""A finance officer's change in the admin after the donor's approval makes that approval stale (rule 14).

Given the Mali seed, a draft beyond the 25 % limit and the donor's approval of it; when a finance
officer (staff, with the budget permissions, not a superuser) changes the draft's allocations in
the admin, then the draft's page says "stale", the "approve" action refuses with the reason and
the draft stays a draft; after a new decision by the donor, the same action approves it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from budget.revisions import Cell, donor_approval_state, donor_decision_record, reallocate
from budget.services import version_open_draft
from grants.models import Donor, Location, Partner, Role
from tests.conftest import make_user
from tests.test_admin import _form_data, _url


def cell(grant, line, partner, location, year) -> Cell:
    return Cell(BudgetLine.objects.get(grant=grant, code=line), Partner.objects.get(code=partner),
                Location.objects.get(code=location), year)


@pytest.fixture
def officer(grant) -> Client:
    # A transactional test (the races, on PostgreSQL) ends with a flush that empties the permissions
    # table: put the budget's permissions back, as migrate would.
    create_permissions(apps.get_app_config("budget"), verbosity=0)
    user = make_user("officer", Role.FINANCE_OFFICER)
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="budget", content_type__model__in=["budgetversion", "allocation"]))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def approved_draft(grant) -> BudgetVersion:
    draft = version_open_draft(grant=grant, label="revision 1", reason="Mid-term review")
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
               target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=Money(Decimal("9000.00"), "EUR"), reason="Rent")
    donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved")
    assert donor_approval_state(draft) == "approved"
    return draft


def _approve(officer, draft):
    return officer.post(_url(BudgetVersion, "changelist"), {"action": "approve", "_selected_action": [draft.pk]},
                        follow=True)


def test_an_admin_change_to_the_drafts_allocations_makes_the_approval_stale(officer, approved_draft):
    draft = approved_draft
    url = _url(BudgetVersion, "change", draft.pk)
    page = officer.get(url)
    assert page.status_code == 200 and "stale" not in page.text
    existing, _new = page.context["inline_admin_formsets"]
    data = _form_data(page)
    rows = existing.formset.forms
    giver, taker = rows[0].instance, rows[1].instance
    prefix = existing.formset.prefix

    # when the finance officer moves 100.00 between two rows of the draft in its admin page
    data[f"{prefix}-0-amount"] = str(giver.amount.amount - Decimal("100.00"))
    data[f"{prefix}-1-amount"] = str(taker.amount.amount + Decimal("100.00"))
    assert officer.post(url, data).status_code == 302
    giver.refresh_from_db()
    assert giver.amount.amount == rows[0].initial["amount"] - Decimal("100.00")

    # then the approval is stale, the page says so, and the approve action refuses the draft
    assert donor_approval_state(draft) == "stale"
    assert "stale" in officer.get(url).text
    response = _approve(officer, draft)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("changed since the donor's decision" in m for m in messages), messages
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT

    # and once the donor decides again on the changed draft, the same action approves it
    donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved")
    _approve(officer, draft)
    draft.refresh_from_db()
    assert (draft.status, draft.is_current) == (VersionStatus.APPROVED, True)


def test_an_allocation_changed_on_its_own_admin_page_makes_the_approval_stale(officer, approved_draft):
    draft = approved_draft
    allocation = Allocation.objects.filter(version=draft).order_by("id").first()
    url = _url(Allocation, "change", allocation.pk)
    data = _form_data(officer.get(url))
    # a new place for the same money: the total does not move, the allocations do
    other = Location.objects.exclude(pk=allocation.location_id).order_by("code").first()
    if Allocation.objects.filter(version=draft, budget_line=allocation.budget_line, partner=allocation.partner,
                                 location=other, year=allocation.year).exists():
        other = Location.objects.exclude(pk__in=[allocation.location_id, other.pk]).order_by("code").first()
    data["location"] = str(other.pk)
    assert officer.post(url, data).status_code == 302
    assert Allocation.objects.get(pk=allocation.pk).location == other

    assert donor_approval_state(draft) == "stale"
    _approve(officer, draft)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_the_admin_writes_allocations_through_the_services(officer, approved_draft, monkeypatch):
    # given a spy on the service an admin change must go through
    from budget import services

    calls = []
    real = services.allocation_update
    monkeypatch.setattr(services, "allocation_update", lambda **kw: calls.append(kw) or real(**kw))
    allocation = Allocation.objects.filter(version=approved_draft).order_by("id").first()
    url = _url(Allocation, "change", allocation.pk)
    data = _form_data(officer.get(url))
    data["amount_0"] = str(allocation.amount.amount + 1)
    # when the officer saves the change, then the service writes it (once tried, once for real)
    assert officer.post(url, data).status_code == 302
    assert len(calls) == 2 and all(c["allocation"].pk == allocation.pk for c in calls)
