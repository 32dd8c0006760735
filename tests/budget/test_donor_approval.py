"""A donor's approval covers the exact allocations it saw (DOMAIN rule 14), whatever path changes them.

Given the Mali seed and a draft that moves 9,000.00 EUR from heading 4 to heading 6 (27 % of
heading 6's 33,000.00: beyond the 25 % limit, so the donor's approval is needed), approved by the
ministry; when the draft changes afterwards by any path, then the approval is stale and the draft
cannot be approved until the donor decides again.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import translation
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, DonorDecision
from budget.revisions import Cell, donor_approval_state, donor_decision_record, reallocate
from budget.selectors import current_version, lines_allocated_to
from budget.services import allocation_delete, allocation_set, allocation_update, version_approve, version_open_draft
from grants.errors import Conflict
from grants.models import Donor, Location, Partner


def eur(amount) -> Money:
    return Money(Decimal(amount), "EUR")


def cell(grant, line, partner, location, year) -> Cell:
    return Cell(BudgetLine.objects.get(grant=grant, code=line), Partner.objects.get(code=partner),
                Location.objects.get(code=location), year)


def row(draft, line, partner, location, year) -> Allocation:
    return Allocation.objects.get(version=draft, budget_line__code=line, partner__code=partner,
                                  location__code=location, year=year)


@pytest.fixture
def ministry(grant) -> Donor:
    return Donor.objects.get(code="MAEE-LU")


@pytest.fixture
def draft(grant):
    """A draft beyond the limit, with a zero cell (CARITAS on 6.1 at SEG, year 1) that names a line."""
    draft = version_open_draft(grant=grant, label="revision 1", reason="Mid-term review")
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
               target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=eur("9000.00"), reason="Rent")
    allocation_set(version=draft, **_cell_kwargs(grant, "6.1", "CARITAS", "SEG", 1), amount=eur("0.00"))
    return draft


def _cell_kwargs(grant, line, partner, location, year) -> dict:
    c = cell(grant, line, partner, location, year)
    return {"budget_line": c.budget_line, "partner": c.partner, "location": c.location, "year": c.year}


def _move_100_by_allocation_set(grant, draft):
    giving, taking = row(draft, "1.1", "BNCE", "BKO", 1), row(draft, "1.2", "BNCE", "BKO", 1)
    allocation_set(version=draft, **_cell_kwargs(grant, "1.1", "BNCE", "BKO", 1),
                   amount=eur(giving.amount.amount - 100))
    allocation_set(version=draft, **_cell_kwargs(grant, "1.2", "BNCE", "BKO", 1),
                   amount=eur(taking.amount.amount + 100))


def _move_100_by_allocation_update(grant, draft):
    giving, taking = row(draft, "1.1", "BNCE", "BKO", 1), row(draft, "1.2", "BNCE", "BKO", 1)
    allocation_update(allocation=giving, amount=eur(giving.amount.amount - 100))
    allocation_update(allocation=taking, amount=eur(taking.amount.amount + 100))


def _move_a_cell_by_allocation_update(grant, draft):
    # same amount, another place: the total does not move, the allocation does
    allocation_update(allocation=row(draft, "6.1", "CARITAS", "BKO", 2), location=Location.objects.get(code="MOP"))


def _drop_the_zero_cell_by_allocation_delete(grant, draft):
    allocation_delete(allocation=row(draft, "6.1", "CARITAS", "SEG", 1))


def _move_100_by_reallocate(grant, draft):
    reallocate(version=draft, source=cell(grant, "1.1", "BNCE", "BKO", 1), target=cell(grant, "1.2", "BNCE", "BKO", 1),
               amount=eur("100.00"), reason="Inside heading 1")


def _move_100_by_a_raw_update(grant, draft):
    Allocation.objects.filter(pk=row(draft, "1.1", "BNCE", "BKO", 1).pk).update(amount=F("amount") - 100)
    Allocation.objects.filter(pk=row(draft, "1.2", "BNCE", "BKO", 1).pk).update(amount=F("amount") + 100)


CHANGES = [_move_100_by_allocation_set, _move_100_by_allocation_update, _move_a_cell_by_allocation_update,
           _drop_the_zero_cell_by_allocation_delete, _move_100_by_reallocate, _move_100_by_a_raw_update]


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__.lstrip("_"))
def test_a_change_after_the_donors_approval_makes_it_stale_until_a_new_decision(grant, draft, ministry, change):
    # given the donor's approval of the draft as it stands
    donor_decision_record(version=draft, donor=ministry, decision="approved", comment="Letter of 2017-03-02")
    assert donor_approval_state(draft) == "approved"
    total_before = sum(a.amount.amount for a in draft.allocations.all())

    # when the draft changes afterwards (its total unchanged: only the donor's rule can refuse it)
    change(grant, draft)
    assert sum(a.amount.amount for a in draft.allocations.all()) == total_before

    # then the approval is stale and approving is refused, the draft staying a draft
    assert donor_approval_state(draft) == "stale"
    with translation.override("en"), pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_stale"
    assert "changed since the donor's decision" in caught.value.message
    assert BudgetVersion.objects.get(pk=draft.pk).status == "draft"

    # and a new decision, on the draft as it now stands, makes it approvable again
    donor_decision_record(version=draft, donor=ministry, decision="approved", comment="Second letter")
    assert donor_approval_state(draft) == "approved"
    assert version_approve(version=draft).is_current


@pytest.mark.parametrize("change", [_move_100_by_allocation_update, _move_100_by_a_raw_update],
                         ids=lambda f: f.__name__.lstrip("_"))
def test_a_rejection_stays_a_rejection_whatever_changes_after_it(grant, draft, ministry, change):
    # given the donor's rejection
    donor_decision_record(version=draft, donor=ministry, decision="rejected", comment="Too much on rent")
    # when the draft changes
    change(grant, draft)
    # then it is still rejected (not merely stale), and approval is refused as rejected
    assert donor_approval_state(draft) == "rejected"
    with pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_rejected"


def test_the_decision_stores_the_fingerprint_of_what_the_donor_saw(grant, draft, ministry):
    # given the draft's allocations
    seen = draft.allocations_fingerprint()
    # when the donor decides
    decision = donor_decision_record(version=draft, donor=ministry, decision="approved")
    # then the decision carries their fingerprint, and so does its history row
    assert decision.allocations_fingerprint == seen and len(seen) == 64
    assert decision.history.get().allocations_fingerprint == seen


def test_a_decision_created_without_the_service_still_takes_the_fingerprint(grant, draft, ministry):
    # given a decision written straight to the model (as the seed does)
    decision = DonorDecision.objects.create(version=draft, donor=ministry, decision="approved")
    # then it holds the draft's fingerprint, and a later change makes it stale
    assert decision.allocations_fingerprint == draft.allocations_fingerprint()
    _move_100_by_a_raw_update(grant, draft)
    assert donor_approval_state(draft) == "stale"


def test_a_legacy_decision_without_a_fingerprint_is_stale(grant, draft, ministry):
    # given an approval recorded before fingerprints existed (the migration leaves it blank)
    decision = donor_decision_record(version=draft, donor=ministry, decision="approved")
    DonorDecision.objects.filter(pk=decision.pk).update(allocations_fingerprint="")
    # then it cannot show what the donor saw: the draft needs a new decision
    assert donor_approval_state(draft) == "stale"
    with pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_stale"


def test_a_donor_shown_an_older_draft_cannot_decide_on_the_newer_one(grant, draft, ministry):
    # given the fingerprint of the draft the donor was shown
    shown = draft.allocations_fingerprint()
    # when the draft changes before the donor decides
    _move_100_by_reallocate(grant, draft)
    # then a decision that names what it saw is refused, and nothing is recorded
    with pytest.raises(Conflict) as caught:
        donor_decision_record(version=draft, donor=ministry, decision="approved", seen_fingerprint=shown)
    assert caught.value.code == "donor_approval_stale"
    assert not draft.donor_decisions.exists()
    assert donor_decision_record(version=draft, donor=ministry, decision="approved",
                                 seen_fingerprint=draft.allocations_fingerprint()).decision == "approved"


# --- the fingerprint ---------------------------------------------------------------------------


def test_the_fingerprint_reads_the_cells_and_amounts_not_the_row_ids(grant):
    # given the current version and a fresh draft copied from it (new rows, new ids)
    current = current_version(grant)
    draft = version_open_draft(grant=grant, label="copy", reason="")
    # then both have the same canonical rows and fingerprint
    assert draft.allocation_rows() == current.allocation_rows()
    assert draft.allocations_fingerprint() == current.allocations_fingerprint()
    assert draft.allocation_rows()[0] == sorted(draft.allocation_rows())[0]
    first = draft.allocation_rows()[0]
    assert [type(value) for value in first] == [str, str, str, int, str] and first[4].count(".") == 1
    # when a row's amount changes by one cent, or a zero row is added, it differs
    allocation = draft.allocations.order_by("id").first()
    allocation_update(allocation=allocation, amount=eur(allocation.amount.amount + Decimal("0.01")))
    assert draft.allocations_fingerprint() != current.allocations_fingerprint()
    allocation_update(allocation=allocation, amount=eur(allocation.amount.amount - Decimal("0.01")))
    assert draft.allocations_fingerprint() == current.allocations_fingerprint()
    allocation_set(version=draft, **_cell_kwargs(grant, "6.1", "CARITAS", "MOP", 3), amount=eur("0.00"))
    assert draft.allocations_fingerprint() != current.allocations_fingerprint()


# --- lines allocated to a partner ----------------------------------------------------------------


def test_lines_allocated_to_a_partner_are_those_of_the_current_version(grant):
    # given the seed's current version
    caritas = Partner.objects.get(code="CARITAS")
    expected = set(Allocation.objects.filter(version__grant=grant, version__is_current=True, partner=caritas)
                   .values_list("budget_line_id", flat=True))
    # then the selector names those lines, each a line (not a heading) of the grant
    allocated = lines_allocated_to(grant=grant, partner=caritas)
    assert allocated == expected and allocated
    assert not BudgetLine.objects.filter(pk__in=allocated, parent__isnull=True).exists()
    assert BudgetLine.objects.get(grant=grant, code="6.1").pk in allocated
    # when a draft gives CARITAS a new line (even at 0.00), nothing changes until it is approved
    new_line = (BudgetLine.objects.filter(grant=grant, parent__isnull=False).exclude(pk__in=allocated)
                .order_by("position").first())
    draft = version_open_draft(grant=grant, label="revision", reason="")
    allocation_set(version=draft, budget_line=new_line, partner=caritas, location=Location.objects.get(code="BKO"),
                   year=1, amount=eur("0.00"))
    assert lines_allocated_to(grant=grant, partner=caritas) == expected
    version_approve(version=draft)
    assert lines_allocated_to(grant=grant, partner=caritas) == expected | {new_line.pk}


def test_before_a_first_approved_version_nothing_is_allocated(grant):
    BudgetVersion.objects.filter(grant=grant).update(is_current=False, status="superseded")
    assert current_version(grant) is None
    assert lines_allocated_to(grant=grant, partner=Partner.objects.get(code="BNCE")) == set()
