"""Budget revisions over the API: moves, the standing answer, the donor's decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import translation

from budget.models import Allocation, BudgetVersion

BASE = "/api/v1/grants/ML-ESEC-2015/versions"


def move(from_cell, to_cell, amount, reason="Mid-term review"):
    keys = ("budget_line", "partner", "location", "year")
    return {"from": dict(zip(keys, from_cell, strict=True)), "to": dict(zip(keys, to_cell, strict=True)),
            "amount": amount, "reason": reason}


@pytest.fixture
def draft(grant, finance):
    response = finance.post(f"{BASE}/", {"label": "revision 1", "reason": "Mid-term review"})
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def test_a_move_answers_the_drafts_standing_and_is_listed(grant, finance, draft, donor):
    response = finance.post(f"{BASE}/{draft}/reallocations/",
                            move(("4.2", "ECPAT-LU", "LUX", 2), ("6.1", "CARITAS", "BKO", 2), "6600.00"), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    h6 = next(h for h in body["headings"] if h["code"] == "6")
    assert h6 == {"code": "6", "original": "33000.00", "revised": "39600.00", "change": "6600.00",
                  "change_pct": "20.00", "needs_donor_approval": False, "warning": True}
    assert (body["total"], body["grant_total"]) == ("955926.26", "955926.26")
    moves = finance.get(f"{BASE}/{draft}/reallocations/").json()["results"]
    assert len(moves) == 1 and moves[0]["from"]["budget_line"] == "4.2" and moves[0]["to"]["partner"] == "CARITAS"
    assert moves[0]["amount"] == "6600.00" and moves[0]["moved_by"] == "finance"
    assert donor.get(f"{BASE}/{draft}/reallocations/").status_code == 200


def test_beyond_the_limit_approval_waits_for_the_donor(grant, finance, draft, donor, bnce):
    finance.post(f"{BASE}/{draft}/reallocations/",
                 move(("4.2", "ECPAT-LU", "LUX", 2), ("6.1", "CARITAS", "BKO", 2), "9000.00"), format="json")
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "donor_approval_required"
    # only a member of a donor of the grant decides
    assert finance.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved"}).status_code == 403
    assert bnce.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved"}).status_code == 403
    response = donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "rejected", "comment": "Too much"})
    assert response.status_code == 201
    assert response.json()["decision"] == "rejected" and response.json()["donor"] == "MAEE-LU"
    assert response.json()["decided_by"] == "donor"
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "donor_approval_rejected"
    assert donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved"}).status_code == 201
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 200 and response.json()["is_current"] is True
    assert BudgetVersion.objects.get(grant=grant, number=1).status == "superseded"


@pytest.mark.parametrize(
    ("body", "status", "attr"),
    [
        (move(("6.1", "CARITAS", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "999999.00"), 400, "amount"),
        (move(("9.9", "CARITAS", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "1.00"), 400, "from.budget_line"),
        (move(("6.1", "NOBODY", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "1.00"), 400, "from.partner"),
        (move(("6.1", "CARITAS", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "abc"), 400, "amount"),
        (move(("6.1", "CARITAS", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "1.00", reason=""), 400, "reason"),
    ],
)
def test_bad_moves_are_refused_with_the_field_named(grant, finance, draft, body, status, attr):
    response = finance.post(f"{BASE}/{draft}/reallocations/", body, format="json")
    assert response.status_code == status
    assert response.json()["errors"][0]["attr"] == attr


def test_moves_need_a_draft_and_a_finance_officer(grant, finance, donor, draft):
    body = move(("6.1", "CARITAS", "BKO", 2), ("4.2", "ECPAT-LU", "LUX", 2), "1.00")
    assert donor.post(f"{BASE}/{draft}/reallocations/", body, format="json").status_code == 403
    response = finance.post(f"{BASE}/1/reallocations/", body, format="json")
    assert response.status_code == 409
    assert finance.post(f"{BASE}/99/reallocations/", body, format="json").status_code == 404


def test_the_grants_detail_lists_its_versions_with_totals_approvals_and_reasons(grant, finance, draft, donor):
    finance.post(f"{BASE}/{draft}/reallocations/",
                 move(("4.2", "ECPAT-LU", "LUX", 2), ("6.1", "CARITAS", "BKO", 2), "9000.00"), format="json")
    donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved", "comment": "Letter of 2017-03-02"})
    finance.post(f"{BASE}/{draft}/approve/")
    versions = finance.get("/api/v1/grants/ML-ESEC-2015/").json()["versions"]
    assert [(v["number"], v["status"], v["is_current"], v["total"]) for v in versions] == [
        (1, "superseded", False, "955926.26"), (2, "approved", True, "955926.26")]
    assert versions[1]["reason"] == "Mid-term review" and versions[1]["approved_at"]
    assert [(d["donor"], d["decision"], d["comment"]) for d in versions[1]["donor_decisions"]] == [
        ("MAEE-LU", "approved", "Letter of 2017-03-02")]


# --- DOMAIN rule 14: the donor's approval covers the exact allocations it saw --------------------


def _rows(finance, draft) -> dict:
    rows = finance.get(f"{BASE}/{draft}/allocations/", {"page_size": 500}).json()["results"]
    return {(r["budget_line"], r["partner"], r["location"], r["year"]): r for r in rows}


def _api_patch(finance, draft):
    rows = _rows(finance, draft)
    giving, taking = rows[("1.1", "BNCE", "BKO", 1)], rows[("1.2", "BNCE", "BKO", 1)]
    for r, delta in ((giving, -100), (taking, 100)):
        response = finance.patch(f"{BASE}/{draft}/allocations/{r['id']}/",
                                 {"amount": str(Decimal(r["amount"]) + delta)}, format="json")
        assert response.status_code == 200, response.json()


def _api_post_a_zero_cell(finance, draft):
    response = finance.post(f"{BASE}/{draft}/allocations/", {
        "budget_line": "6.1", "partner": "CARITAS", "location": "MOP", "year": 3, "amount": "0.00",
        "amount_currency": "EUR"}, format="json")
    assert response.status_code == 201, response.json()


def _api_delete_the_zero_cell(finance, draft):
    zero = _rows(finance, draft)[("6.1", "CARITAS", "SEG", 1)]
    assert finance.delete(f"{BASE}/{draft}/allocations/{zero['id']}/").status_code == 204


def _api_reallocate(finance, draft):
    response = finance.post(f"{BASE}/{draft}/reallocations/",
                            move(("1.1", "BNCE", "BKO", 1), ("1.2", "BNCE", "BKO", 1), "100.00"), format="json")
    assert response.status_code == 200, response.json()


def _raw_update(finance, draft):
    version = BudgetVersion.objects.get(grant__code="ML-ESEC-2015", number=draft)
    Allocation.objects.filter(version=version, budget_line__code="1.1", partner__code="BNCE", location__code="BKO",
                              year=1).update(amount=F("amount") - 100)
    Allocation.objects.filter(version=version, budget_line__code="1.2", partner__code="BNCE", location__code="BKO",
                              year=1).update(amount=F("amount") + 100)


@pytest.fixture
def beyond_the_limit(finance, draft):
    """The draft moves 9,000.00 from heading 4 to heading 6 (beyond 25 %), and holds a zero cell."""
    response = finance.post(f"{BASE}/{draft}/reallocations/",
                            move(("4.2", "ECPAT-LU", "LUX", 2), ("6.1", "CARITAS", "BKO", 2), "9000.00"), format="json")
    assert response.status_code == 200, response.json()
    response = finance.post(f"{BASE}/{draft}/allocations/", {
        "budget_line": "6.1", "partner": "CARITAS", "location": "SEG", "year": 1, "amount": "0.00",
        "amount_currency": "EUR"}, format="json")
    assert response.status_code == 201, response.json()
    return draft


@pytest.mark.parametrize("change", [_api_patch, _api_post_a_zero_cell, _api_delete_the_zero_cell, _api_reallocate,
                                    _raw_update], ids=lambda f: f.__name__.lstrip("_"))
def test_a_change_after_the_donors_approval_answers_409_until_the_donor_decides_again(
        grant, finance, donor, beyond_the_limit, change):
    draft = beyond_the_limit
    # given the donor's approval, which answers the fingerprint it covers and the draft's state
    response = donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved", "comment": "Letter"})
    assert response.status_code == 201, response.json()
    first = response.json()
    assert first["approval_state"] == "approved" and len(first["allocations_fingerprint"]) == 64

    # when the draft changes afterwards
    change(finance, draft)

    # then approving answers 409 donor_approval_stale, and the draft stays a draft
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 409, response.json()
    error = response.json()["errors"][0]
    assert error["code"] == "donor_approval_stale" and "changed since the donor's decision" in error["detail"]
    assert BudgetVersion.objects.get(grant=grant, number=draft).status == "draft"

    # and a new decision on the changed draft covers other allocations and makes it approvable
    response = donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved", "comment": "Second letter"})
    assert response.status_code == 201
    assert response.json()["allocations_fingerprint"] != first["allocations_fingerprint"]
    assert response.json()["approval_state"] == "approved"
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 200 and response.json()["is_current"] is True


def test_a_rejection_stays_rejected_after_a_change(grant, finance, donor, beyond_the_limit):
    draft = beyond_the_limit
    # given the donor's rejection
    response = donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "rejected", "comment": "No"})
    assert response.json()["approval_state"] == "rejected"
    # when the draft changes
    _api_patch(finance, draft)
    # then approval is refused as rejected, not as merely stale
    response = finance.post(f"{BASE}/{draft}/approve/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "donor_approval_rejected"


def test_the_stale_message_is_in_french_for_a_french_speaker(grant, finance, donor, beyond_the_limit):
    draft = beyond_the_limit
    donor.post(f"{BASE}/{draft}/donor-approval/", {"decision": "approved"})
    _raw_update(finance, draft)
    with translation.override("en"):  # the middleware's French does not outlive the request
        response = finance.post(f"{BASE}/{draft}/approve/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 409
    assert "depuis la décision du bailleur" in response.json()["errors"][0]["detail"]
