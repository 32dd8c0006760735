"""A finance officer sets up a new grant entirely through the API: the grant with its partners and
donors, its budget lines, a first version opened empty, its allocations, the approval; then a
revision, which starts as a copy of the current version."""

from __future__ import annotations

import pytest

from budget.models import Allocation, BudgetVersion
from grants.models import Grant
from tests.api import support
from tests.api.support import API

CODE = "ML-NEW-2019"
G = f"{API}/grants/{CODE}"

LINES = [
    {"code": "1", "parent": None, "label_fr": "Prévention", "label_en": "Prevention", "beneficiary_target": 500,
     "beneficiary_unit": "children"},
    {"code": "1.1", "parent": "1", "label_fr": "Animations", "label_en": "Sessions"},
    {"code": "1.2", "parent": "1", "label_fr": "Sensibilisation", "label_en": "Awareness"},
    {"code": "2", "parent": None, "label_fr": "Protection", "label_en": "Protection"},
    {"code": "2.1", "parent": "2", "label_fr": "Hébergement", "label_en": "Shelter"},
]

# Three cells adding up to the grant's 10,000.00 EUR, and a first try one cent short.
ALLOCATIONS = [
    {"budget_line": "1.1", "partner": "BNCE", "location": "BKO", "year": 1, "amount": "4000.00"},
    {"budget_line": "1.2", "partner": "CARITAS", "location": "BKO", "year": 2, "amount": "3000.00"},
    {"budget_line": "2.1", "partner": "BNCE", "location": "SEG", "year": 1, "amount": "2999.99"},
]


@pytest.fixture
def finance(clients):
    return clients["finance"]


def grant_body(**changes) -> dict:
    body = {
        "code": CODE, "title": "Une nouvelle subvention", "total": "10000.00", "total_currency": "EUR",
        "start_date": "2019-01-01", "end_date": "2020-12-31", "fx_method": "parity",
        "partners": ["BNCE", "CARITAS"],
        "donors": [{"donor": "MAEE-LU", "share_pct": "60.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "40.00"}],
    }
    body.update(changes)
    return body


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.json() if response.content else response
    return response.json() if response.content else {}


@pytest.fixture
def new_grant(finance):
    """The grant, its lines and an empty draft, created through the API."""
    ok(finance.post(f"{API}/grants/", grant_body(), format="json"), 201)
    for line in LINES:
        ok(finance.post(f"{G}/budget-lines/", line, format="json"), 201)
    return ok(finance.post(f"{G}/versions/", {"label": "original", "reason": "The agreement"}, format="json"), 201)


def allocate(finance, number: int, cells) -> list[dict]:
    return [ok(finance.post(f"{G}/versions/{number}/allocations/", {**cell, "amount_currency": "EUR"},
                            format="json"), 201) for cell in cells]


def test_a_grant_created_through_the_api_reads_back_as_sent(finance, clients):
    # when a finance officer creates the grant
    created = ok(finance.post(f"{API}/grants/", grant_body(), format="json"), 201)
    # then it reads back as sent, with no budget yet and nothing spent
    assert created == {
        "code": CODE, "title": "Une nouvelle subvention", "total": "10000.00", "total_currency": "EUR",
        "start_date": "2019-01-01", "end_date": "2020-12-31", "fx_method": "parity",
        "variance_tolerance_pct": "10.00", "reallocation_limit_pct": "25.00", "partners": ["BNCE", "CARITAS"],
        "donors": [{"donor": "MAEE-LU", "share_pct": "60.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "40.00"}],
        "current_version": None, "spent_eur": "0.00", "remaining_eur": "10000.00", "use_pct": "0.00",
        "title_en": "", "description_fr": "", "description_en": "", "iati_org_ref": "", "iati_identifier": "",
        "iati_activity_status": 2, "dac_sectors": [],
        "versions": [],
    }
    assert ok(finance.get(f"{G}/")) == created
    # and its partner's and its donor's members see it
    assert ok(clients["bnce"].get(f"{G}/"))["code"] == CODE
    assert ok(clients["donor"].get(f"{G}/"))["code"] == CODE


def test_budget_lines_form_a_tree_of_headings_and_lines(finance, new_grant):
    lines = ok(finance.get(f"{G}/budget-lines/"))["results"]
    assert [(line["code"], line["parent"]) for line in lines] == [(x["code"], x["parent"]) for x in LINES]
    assert lines[0]["beneficiary_target"] == 500


@pytest.mark.parametrize(("line", "code", "attr"), [
    ({"code": "3.1", "parent": "3", "label_fr": "x", "label_en": "x"}, "unknown_budget_line", "parent"),
    ({"code": "1.1.1", "parent": "1.1", "label_fr": "x", "label_en": "x"}, "invalid", "parent"),
    ({"code": "1.1", "parent": "1", "label_fr": "x", "label_en": "x"}, "unique", "code"),
])
def test_a_line_goes_under_a_heading_of_the_grant(finance, new_grant, line, code, attr):
    before = support.row_counts()
    response = finance.post(f"{G}/budget-lines/", line, format="json")
    assert response.status_code == 400
    assert support.refusal(response) == (code, attr)
    assert support.row_counts() == before


def test_the_first_version_opens_empty(finance, new_grant):
    assert new_grant == {"number": 1, "label": "original", "reason": "The agreement", "status": "draft",
                         "is_current": False, "total": "0.00", "total_currency": "EUR"}
    assert ok(finance.get(f"{G}/versions/1/allocations/"))["count"] == 0


def test_approval_waits_until_the_allocations_add_up_to_the_total_to_the_cent(finance, new_grant):
    # given allocations one cent short of the grant's 10,000.00
    allocate(finance, 1, ALLOCATIONS)
    assert ok(finance.get(f"{G}/versions/1/"))["total"] == "9999.99"
    # when it is approved: refused, total_mismatch, and still a draft
    response = finance.post(f"{G}/versions/1/approve/")
    assert response.status_code == 400
    assert support.refusal(response)[0] == "total_mismatch"
    assert ok(finance.get(f"{G}/versions/1/"))["status"] == "draft"
    assert ok(finance.get(f"{G}/"))["current_version"] is None
    # when the missing cent is allocated and it is approved again
    last = ok(finance.get(f"{G}/versions/1/allocations/"))["results"][-1]
    ok(finance.patch(f"{G}/versions/1/allocations/{last['id']}/", {"amount": "3000.00", "amount_currency": "EUR"},
                     format="json"))
    approved = ok(finance.post(f"{G}/versions/1/approve/"))
    # then it is the grant's current version
    assert approved == {"number": 1, "label": "original", "reason": "The agreement", "status": "approved",
                        "is_current": True, "total": "10000.00", "total_currency": "EUR"}
    assert ok(finance.get(f"{G}/"))["current_version"] == 1


@pytest.mark.parametrize(("last", "status"), [
    ("2999.99", 400), ("3000.01", 400), ("3000.00", 200), ("2000.00", 400), ("30000.00", 400),
])
def test_only_the_exact_total_is_approved(finance, new_grant, last, status):
    allocate(finance, 1, [*ALLOCATIONS[:2], {**ALLOCATIONS[2], "amount": last}])
    response = finance.post(f"{G}/versions/1/approve/")
    assert response.status_code == status
    if status == 400:
        assert support.refusal(response)[0] == "total_mismatch"
        assert BudgetVersion.objects.get(grant__code=CODE, number=1).status == "draft"


def test_an_empty_version_is_not_approved(finance, new_grant):
    response = finance.post(f"{G}/versions/1/approve/")
    assert response.status_code == 400
    assert support.refusal(response)[0] == "total_mismatch"


@pytest.fixture
def approved(finance, new_grant):
    allocate(finance, 1, [*ALLOCATIONS[:2], {**ALLOCATIONS[2], "amount": "3000.00"}])
    ok(finance.post(f"{G}/versions/1/approve/"))
    return ok(finance.get(f"{G}/versions/1/allocations/"))["results"]


@pytest.mark.parametrize("write", ["create", "update", "partial_update", "destroy", "approve", "rename", "delete"])
def test_an_approved_version_cannot_change(finance, approved, write):
    # given version 1, approved
    url = f"{G}/versions/1/allocations/"
    first = approved[0]
    before = support.row_counts()
    # when a finance officer changes it
    response = {
        "create": lambda: finance.post(url, {**ALLOCATIONS[0], "location": "SEG", "amount_currency": "EUR"},
                                       format="json"),
        "update": lambda: finance.put(f"{url}{first['id']}/", {**first, "amount": "1.00"}, format="json"),
        "partial_update": lambda: finance.patch(f"{url}{first['id']}/", {"amount": "1.00", "amount_currency": "EUR"},
                                                format="json"),
        "destroy": lambda: finance.delete(f"{url}{first['id']}/"),
        "approve": lambda: finance.post(f"{G}/versions/1/approve/"),
        "rename": lambda: finance.patch(f"{G}/versions/1/", {"label": "renamed"}, format="json"),
        "delete": lambda: finance.delete(f"{G}/versions/1/"),
    }[write]()
    # then 409 version_not_editable, nothing changed
    assert response.status_code == 409
    assert support.refusal(response)[0] == "version_not_editable"
    assert support.row_counts() == before
    assert ok(finance.get(url))["results"] == approved


def test_a_second_draft_is_a_copy_of_the_current_version(finance, approved):
    # when a revision is opened
    draft = ok(finance.post(f"{G}/versions/", {"label": "revision 1", "reason": "Mid-term"}, format="json"), 201)
    # then it is a draft numbered 2, holding the current version's allocations, and version 1 stays current
    assert draft == {"number": 2, "label": "revision 1", "reason": "Mid-term", "status": "draft",
                     "is_current": False, "total": "10000.00", "total_currency": "EUR"}
    copied = ok(finance.get(f"{G}/versions/2/allocations/"))["results"]

    def cells(rows):
        return [{k: v for k, v in row.items() if k != "id"} for row in rows]

    assert cells(copied) == cells(approved)
    assert {row["id"] for row in copied}.isdisjoint({row["id"] for row in approved})
    assert ok(finance.get(f"{G}/"))["current_version"] == 1
    # and a second draft is refused while this one is open
    refused = finance.post(f"{G}/versions/", {"label": "revision 2"}, format="json")
    assert refused.status_code == 409
    assert support.refusal(refused)[0] == "draft_exists"


def test_approving_a_revision_supersedes_the_previous_version(finance, approved):
    # given a revision moving 500.00 from 1.1 to 2.1
    ok(finance.post(f"{G}/versions/", {"label": "revision 1"}, format="json"), 201)
    rows = {row["budget_line"]: row for row in ok(finance.get(f"{G}/versions/2/allocations/"))["results"]}
    ok(finance.patch(f"{G}/versions/2/allocations/{rows['1.1']['id']}/", {"amount": "3500.00"}, format="json"))
    ok(finance.patch(f"{G}/versions/2/allocations/{rows['2.1']['id']}/", {"amount": "3500.00"}, format="json"))
    # when it is approved
    ok(finance.post(f"{G}/versions/2/approve/"))
    # then it is current, version 1 is superseded and cannot change, and version 1's cells are unchanged
    versions = ok(finance.get(f"{G}/versions/"))["results"]
    assert [(v["number"], v["status"], v["is_current"], v["total"]) for v in versions] == [
        (1, "superseded", False, "10000.00"), (2, "approved", True, "10000.00")]
    assert ok(finance.get(f"{G}/"))["current_version"] == 2
    assert ok(finance.get(f"{G}/versions/1/allocations/"))["results"] == approved
    refused = finance.patch(f"{G}/versions/1/allocations/{approved[0]['id']}/", {"amount": "1.00"}, format="json")
    assert refused.status_code == 409


def test_a_draft_may_be_dropped(finance, approved):
    ok(finance.post(f"{G}/versions/", {"label": "revision 1"}, format="json"), 201)
    assert finance.delete(f"{G}/versions/2/").status_code == 204
    assert not Allocation.objects.filter(version__grant__code=CODE, version__number=2).exists()
    assert ok(finance.get(f"{G}/"))["current_version"] == 1


@pytest.mark.parametrize("donors", [
    [{"donor": "MAEE-LU", "share_pct": "60.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "39.99"}],
    [{"donor": "MAEE-LU", "share_pct": "60.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "40.01"}],
    [{"donor": "MAEE-LU", "share_pct": "75.00"}],
    [{"donor": "MAEE-LU", "share_pct": "100.00"}, {"donor": "ECPAT-LU-OWN", "share_pct": "25.00"}],
])
def test_donor_shares_must_add_up_to_100(finance, clients, donors):
    before = support.row_counts()
    # when a grant is created with shares that do not add up to 100 %
    response = finance.post(f"{API}/grants/", grant_body(donors=donors), format="json")
    # then 400 shares_not_100, the donors named, nothing written
    assert response.status_code == 400
    assert support.refusal(response) == ("shares_not_100", "donors")
    assert support.row_counts() == before
    # nor may an existing grant's shares be changed so
    ok(finance.post(f"{API}/grants/", grant_body(), format="json"), 201)
    response = finance.patch(f"{G}/", {"donors": donors}, format="json")
    assert response.status_code == 400
    assert support.refusal(response) == ("shares_not_100", "donors")
    assert [d["share_pct"] for d in ok(finance.get(f"{G}/"))["donors"]] == ["60.00", "40.00"]


def test_shares_adding_up_to_100_with_cents_are_accepted(finance):
    donors = [{"donor": "MAEE-LU", "share_pct": "66.67"}, {"donor": "ECPAT-LU-OWN", "share_pct": "33.33"}]
    created = ok(finance.post(f"{API}/grants/", grant_body(donors=donors), format="json"), 201)
    assert created["donors"] == donors


def test_a_draft_cell_cannot_be_moved_onto_another(finance, approved):
    # given a revision holding the three cells
    ok(finance.post(f"{G}/versions/", {"label": "revision 1"}, format="json"), 201)
    rows = ok(finance.get(f"{G}/versions/2/allocations/"))["results"]
    before = support.row_counts()
    # when the first is moved onto the third's line, partner, location and year
    cell = {k: rows[2][k] for k in ("budget_line", "partner", "location", "year")}
    response = finance.patch(f"{G}/versions/2/allocations/{rows[0]['id']}/", cell, format="json")
    # then it is refused (one allocation per cell), and nothing changed
    assert response.status_code == 400
    assert support.refusal(response) == ("unique_together", None)
    assert support.row_counts() == before
    assert ok(finance.get(f"{G}/versions/2/allocations/"))["results"] == rows


@pytest.mark.parametrize(("partners", "status"), [
    (["BNCE"], 409),  # CARITAS has an allocation in version 1
    (["CARITAS"], 409),
    ([], 409),
    (["BNCE", "CARITAS", "APJEC"], 200),  # adding one is fine
])
def test_a_partner_with_a_budget_stays_on_the_grant(finance, approved, partners, status):
    response = finance.patch(f"{G}/", {"partners": partners}, format="json")
    assert response.status_code == status
    if status == 409:
        assert support.refusal(response) == ("in_use", "partners")
        assert ok(finance.get(f"{G}/"))["partners"] == ["BNCE", "CARITAS"]


def test_a_partner_with_money_recorded_stays_on_the_grant(finance, clients):
    # given the Mali project, where BNCE has spent but APJEC nothing
    grant = Grant.objects.get(code=support.SEED)
    support.expenditure(grant, "BNCE", voucher="B-1")
    grant.versions.all().delete()  # no budget: only the spending keeps BNCE
    url = f"{API}/grants/{support.SEED}/"
    # when BNCE is dropped: refused, and BNCE's member still sees its expenditure
    response = finance.patch(url, {"partners": ["APJEC", "CARITAS", "ECPAT-LU"]}, format="json")
    assert response.status_code == 409
    assert support.refusal(response) == ("in_use", "partners")
    assert clients["bnce"].get(f"{API}/expenditures/").json()["count"] == 1
    # while APJEC, with nothing recorded, may leave
    assert finance.patch(url, {"partners": ["BNCE", "CARITAS", "ECPAT-LU"]}, format="json").status_code == 200


def test_allocating_to_a_partner_removed_from_the_grant_is_refused(finance, new_grant):
    ok(finance.patch(f"{G}/", {"partners": ["BNCE"]}, format="json"))
    response = finance.post(f"{G}/versions/1/allocations/", {**ALLOCATIONS[1], "amount_currency": "EUR"},
                            format="json")
    assert response.status_code == 400
    assert support.refusal(response) == ("partner_not_on_grant", "partner")


def test_the_new_grant_is_set_up_without_the_admin(finance, approved):
    grant = Grant.objects.get(code=CODE)
    assert grant.versions.get(is_current=True).number == 1
    assert sum(a.amount.amount for a in Allocation.objects.filter(version__grant=grant)) == grant.total.amount
