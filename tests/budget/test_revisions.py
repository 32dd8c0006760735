"""Budget revisions under the donor's rule, on the Mali seed (headings: 1 205,500.00;
2 334,500.00; 3 65,500.00; 4 200,000.00; 5 51,500.00; 6 33,000.00; 7 65,926.26)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, DonorDecision, Reallocation
from budget.revisions import Cell, donor_decision_record, reallocate, version_standing
from budget.seed import seed_revise
from budget.services import allocation_update, version_approve, version_open_draft
from grants.errors import ApplicationError, Conflict
from grants.models import Donor, Location, Partner


def eur(amount) -> Money:
    return Money(Decimal(amount), "EUR")


def cell(grant, line, partner, location, year) -> Cell:
    return Cell(BudgetLine.objects.get(grant=grant, code=line), Partner.objects.get(code=partner),
                Location.objects.get(code=location), year)


@pytest.fixture
def draft(grant):
    return version_open_draft(grant=grant, label="revision 1", reason="Mid-term review")


def heading(standing, code) -> dict:
    return next(h for h in standing["headings"] if h["code"] == code)


def test_a_draft_is_a_copy_of_the_current_version_and_only_one_at_a_time(grant, draft):
    assert draft.number == 2 and draft.status == "draft"
    assert draft.allocations.count() == 240
    with pytest.raises(Conflict) as caught:
        version_open_draft(grant=grant, label="another", reason="")
    assert caught.value.code == "draft_exists"


def test_a_move_inside_a_heading_needs_no_approval_whatever_its_size(grant, draft):
    # all of Caritas' shelter money in year 2 (32,680.00) to BNCE's medical care: both under heading 2
    standing = reallocate(version=draft, source=cell(grant, "2.1", "CARITAS", "BKO", 2),
                          target=cell(grant, "2.2", "BNCE", "SEG", 2), amount=eur("32680.00"), reason="Shelter closed")
    h2 = heading(standing, "2")
    assert (h2["original"], h2["revised"], h2["change"], h2["change_pct"]) == (
        Decimal("334500.00"), Decimal("334500.00"), Decimal("0.00"), Decimal("0.00"))
    assert not any(h["needs_donor_approval"] or h["warning"] for h in standing["headings"])
    assert standing["total"] == standing["grant_total"] == Decimal("955926.26")
    assert version_approve(version=draft).is_current


def test_twenty_percent_between_headings_warns_and_twenty_five_cumulated_needs_the_donor(grant, draft):
    # 6,600.00 is 20 % of heading 6 (33,000.00): a warning, no approval needed
    standing = reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
                          target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=eur("6600.00"), reason="Rent")
    h6, h4 = heading(standing, "6"), heading(standing, "4")
    assert (h6["change"], h6["change_pct"], h6["warning"], h6["needs_donor_approval"]) == (
        Decimal("6600.00"), Decimal("20.00"), True, False)
    assert (h4["change"], h4["change_pct"], h4["warning"]) == (Decimal("-6600.00"), Decimal("-3.30"), False)
    # another 1,700.00: 8,300.00 cumulated is 25.15 %, beyond the limit on the receiving side
    standing = reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 3),
                          target=cell(grant, "6.1", "CARITAS", "BKO", 3), amount=eur("1700.00"), reason="Rent")
    h6 = heading(standing, "6")
    assert (h6["change_pct"], h6["needs_donor_approval"]) == (Decimal("25.15"), True)
    with pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_required"
    assert BudgetVersion.objects.get(pk=draft.pk).status == "draft"
    donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved",
                          comment="Agreed by letter of 2017-03-02")
    approved = version_approve(version=draft)
    assert approved.is_current and approved.status == "approved"
    assert BudgetVersion.objects.get(grant=grant, number=1).status == "superseded"


def test_the_giving_side_counts_too(grant, draft):
    # heading 5 (51,500.00) gives 13,000.00 (25.24 %) to heading 4
    moves = [("5.1", "ECPAT-LU", "BKO", 2, "9120.00"), ("5.1", "ECPAT-LU", "BKO", 1, "3880.00")]
    for line, partner, location, year, amount in moves:
        standing = reallocate(version=draft, source=cell(grant, line, partner, location, year),
                              target=cell(grant, "4.2", "ECPAT-LU", "LUX", 2), amount=eur(amount), reason="Staff")
    h5 = heading(standing, "5")
    assert (h5["change"], h5["change_pct"], h5["needs_donor_approval"]) == (
        Decimal("-13000.00"), Decimal("-25.24"), True)
    with pytest.raises(Conflict):
        version_approve(version=draft)


def test_a_rejected_decision_blocks_until_a_new_one(grant, draft):
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
               target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=eur("9000.00"), reason="Rent")
    ministry = Donor.objects.get(code="MAEE-LU")
    donor_decision_record(version=draft, donor=ministry, decision="rejected", comment="Too much on rent")
    with pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_rejected"
    donor_decision_record(version=draft, donor=ministry, decision="approved", comment="After the call")
    assert version_approve(version=draft).is_current


def test_a_move_after_the_donors_approval_needs_a_new_decision(grant, draft):
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
               target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=eur("9000.00"), reason="Rent")
    ministry = Donor.objects.get(code="MAEE-LU")
    donor_decision_record(version=draft, donor=ministry, decision="approved")
    # the second move changes allocations the donor did not see (in the same second or not)
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 3),
               target=cell(grant, "6.1", "CARITAS", "BKO", 3), amount=eur("1000.00"), reason="More rent")
    with pytest.raises(Conflict) as caught:
        version_approve(version=draft)
    assert caught.value.code == "donor_approval_stale"


def test_a_draft_whose_total_drifted_is_refused(grant, draft):
    allocation = draft.allocations.first()
    allocation_update(allocation=allocation, amount=eur(allocation.amount.amount + Decimal("0.01")))
    with pytest.raises(ApplicationError) as caught:
        version_approve(version=draft)
    assert caught.value.code == "total_mismatch"


@pytest.mark.parametrize(
    ("source", "amount", "code", "attr"),
    [
        (("6.1", "CARITAS", "BKO", 2), "999999.00", "insufficient_allocation", "amount"),
        (("2.4", "APJEC", "MOP", 1), "1.00", "unknown_allocation", "from"),
        (("2", "CARITAS", "BKO", 2), "1.00", "heading_not_a_line", "from.budget_line"),
        (("6.1", "CARITAS", "BKO", 2), "-1.00", "negative_amount", "amount"),
    ],
)
def test_from_cannot_go_below_zero_and_bad_moves_are_refused(grant, draft, source, amount, code, attr):
    before = list(Allocation.objects.filter(version=draft).order_by("id").values_list("amount", flat=True))
    with pytest.raises(ApplicationError) as caught:
        reallocate(version=draft, source=cell(grant, *source), target=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
                   amount=eur(amount), reason="x")
    assert (caught.value.code, caught.value.attr) == (code, attr)
    assert list(Allocation.objects.filter(version=draft).order_by("id").values_list("amount", flat=True)) == before


def test_the_to_allocation_is_created_if_absent_and_approved_versions_do_not_move(grant, draft):
    reallocate(version=draft, source=cell(grant, "6.1", "CARITAS", "BKO", 2),
               target=cell(grant, "6.1", "CARITAS", "SEG", 1), amount=eur("100.00"), reason="New office")
    assert Allocation.objects.get(version=draft, budget_line__code="6.1", partner__code="CARITAS",
                                  location__code="SEG", year=1).amount == eur("100.00")
    original = BudgetVersion.objects.get(grant=grant, number=1)
    with pytest.raises(Conflict):
        reallocate(version=original, source=cell(grant, "6.1", "CARITAS", "BKO", 2),
                   target=cell(grant, "6.1", "BNCE", "MOP", 1), amount=eur("1.00"), reason="x")


def test_the_history_shows_every_step(grant, draft):
    reallocate(version=draft, source=cell(grant, "4.2", "ECPAT-LU", "LUX", 2),
               target=cell(grant, "6.1", "CARITAS", "BKO", 2), amount=eur("9000.00"), reason="Rent")
    donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="rejected")
    donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved")
    version_approve(version=draft)
    giving = Allocation.objects.get(version=draft, budget_line__code="4.2", partner__code="ECPAT-LU", year=2)
    assert [h.amount.amount for h in giving.history.order_by("history_date", "history_id")] == [
        Decimal("22040.00"), Decimal("13040.00")]
    assert Reallocation.history.count() == 1
    assert [d.decision for d in DonorDecision.history.order_by("history_id")] == ["rejected", "approved"]
    assert [h.status for h in BudgetVersion.history.filter(id=draft.pk).order_by("history_id")] == [
        "draft", "approved"]
    assert BudgetVersion.history.filter(number=1, status="superseded").exists()


def test_expenditures_are_never_touched_by_a_revision(grant, draft):
    from datetime import date

    from expenditures.models import Expenditure
    from expenditures.services import expenditure_record

    exp = expenditure_record(grant=grant, partner=Partner.objects.get(code="CARITAS"),
                             budget_line=BudgetLine.objects.get(grant=grant, code="6.1"),
                             location=Location.objects.get(code="BKO"), amount=Money(Decimal("655957"), "XOF"),
                             date=date(2016, 8, 1), voucher="C-1")
    reallocate(version=draft, source=cell(grant, "6.1", "CARITAS", "BKO", 2),
               target=cell(grant, "4.2", "ECPAT-LU", "LUX", 2), amount=eur("4180.00"), reason="Closed")
    version_approve(version=draft)
    assert Expenditure.objects.get(pk=exp.pk).amount_eur == Decimal("1000.00")
    assert exp.history.count() == 1


def test_load_seed_with_revision_gives_a_second_approved_version(grant):
    version = seed_revise()
    assert (version.number, version.status, version.is_current) == (2, "approved", True)
    assert version.reallocations.count() == 2
    assert version_standing(version)["total"] == Decimal("955926.26")
    assert seed_revise() is None
