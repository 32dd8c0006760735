"""The lifecycle of money records (expenditures.lifecycle), worked case by case.

Each case is written out by hand: an actor, the record's state, its quarter's state and an
operation, through the API and, for the finance officer's cases, through the admin. Each asserts
the answer and, for a refusal, that nothing in the database changed.

Given the Mali seed (version 1 approved), BNCE's line 2.1 in Bamako is allocated to BNCE (not
1.3, which is APJEC's); quarters 2016-Q1 (locked by an accepted statement, when the case says
so) and 2016-Q2 (open).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from moneyed import Money

from budget.models import BudgetLine
from expenditures import services
from expenditures.models import (
    Expenditure,
    ExpenditureStatus,
    FundTransfer,
    QuarterlyStatement,
    StatementStatus,
)
from grants.models import FxMethod, Location, Partner

LOCKED_DAY = date(2016, 2, 10)  # 2016-Q1
OPEN_DAY = date(2016, 5, 10)  # 2016-Q2


def snapshot() -> tuple:
    """Everything a refusal must leave as it was."""
    return (
        sorted(Expenditure.objects.values_list("id", "date", "amount", "amount_eur", "fx_rate", "status",
                                               "budget_line_id", "statement_id", "voucher", "description")),
        sorted(FundTransfer.objects.values_list("id", "received_on", "amount_sent", "amount_received", "reference")),
        sorted(QuarterlyStatement.objects.values_list("id", "status", "digest")),
    )


def code_of(response) -> str | None:
    body = response.json() if response.content else {}
    return body.get("errors", [{}])[0].get("code") if isinstance(body, dict) else None


@pytest.fixture
def world(grant, finance_user, bnce_user):
    bnce = Partner.objects.get(code="BNCE")

    def spend(*, day=OPEN_DAY, status=None, voucher="V-1", by=None):
        return services.expenditure_record(
            grant=grant, partner=bnce, budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
            location=Location.objects.get(code="BKO"), amount=Money(Decimal("655957"), "XOF"), date=day,
            voucher=voucher, status=status, by=by)

    def lock(year=2016, quarter=1):
        return QuarterlyStatement.objects.create(grant=grant, partner=bnce, year=year, quarter=quarter,
                                                 status=StatementStatus.ACCEPTED)

    def in_submitted_statement(expenditure):
        statement = QuarterlyStatement.objects.create(grant=grant, partner=bnce, year=2016, quarter=2,
                                                      status=StatementStatus.SUBMITTED)
        Expenditure.objects.filter(pk=expenditure.pk).update(statement=statement, status=ExpenditureStatus.SUBMITTED)
        return expenditure

    def transfer(*, received_on=OPEN_DAY, partner=bnce):
        return services.transfer_record(
            grant=grant, partner=partner, sent_on=received_on, received_on=received_on,
            amount_sent=Money(Decimal("1000.00"), "EUR"), amount_received=Money(Decimal("650000"), "XOF"))

    return {"grant": grant, "bnce": bnce, "spend": spend, "lock": lock, "transfer": transfer,
            "in_submitted_statement": in_submitted_statement, "bnce_user": bnce_user, "finance_user": finance_user}


def exp_url(expenditure) -> str:
    return f"/api/v1/expenditures/{expenditure.pk}/"


def transfer_url(transfer) -> str:
    return f"/api/v1/transfers/{transfer.pk}/"


# --- expenditures through the API --------------------------------------------------------------

# (who, the row's state, its quarter, operation, status, code)
EXPENDITURE_CASES = [
    ("bnce", "sent by the partner", "open", "patch", 200, None),
    ("bnce", "sent by the partner", "open", "delete", 204, None),
    ("bnce", "validated by finance", "open", "patch", 409, "expenditure_validated"),
    ("bnce", "validated by finance", "open", "delete", 409, "expenditure_validated"),
    ("bnce", "in a submitted statement", "open", "patch", 409, "statement_submitted"),
    ("bnce", "in a submitted statement", "open", "delete", 409, "statement_submitted"),
    ("bnce", "sent by the partner", "locked", "patch", 409, "period_locked"),
    ("bnce", "sent by the partner", "locked", "delete", 409, "period_locked"),
    ("finance", "validated by finance", "open", "patch", 200, None),
    ("finance", "validated by finance", "open", "delete", 204, None),
    ("finance", "validated by finance", "locked", "patch", 409, "period_locked"),
    ("finance", "validated by finance", "locked", "delete", 409, "period_locked"),
    ("finance", "validated by finance", "open", "move into the locked quarter", 409, "period_locked"),
    ("finance", "validated by finance", "open", "move to another partner", 400, "immutable"),
    ("caritas", "sent by the partner", "open", "patch", 404, None),
    ("donor", "validated by finance", "open", "patch", 403, None),
]


@pytest.mark.parametrize(("who", "state", "quarter", "operation", "status", "code"), EXPENDITURE_CASES)
def test_an_expenditure_changes_only_as_the_lifecycle_says(request, world, who, state, quarter, operation,
                                                           status, code):
    day = LOCKED_DAY if quarter == "locked" else OPEN_DAY
    by = world["bnce_user"] if state == "sent by the partner" else None
    row = world["spend"](day=day, by=by)
    if state == "in a submitted statement":
        world["in_submitted_statement"](row)
    if quarter == "locked":
        world["lock"]()
    client = request.getfixturevalue(who)
    before = snapshot()

    if operation == "delete":
        response = client.delete(exp_url(row))
    else:
        body = {"patch": {"description": "changed"},
                "move into the locked quarter": {"date": LOCKED_DAY.isoformat()},
                "move to another partner": {"partner": "CARITAS"}}[operation]
        if operation == "move into the locked quarter":
            world["lock"]()
        before = snapshot()
        response = client.patch(exp_url(row), body, format="json")

    assert response.status_code == status, response.content
    if code is not None:
        assert code_of(response) == code
    if status >= 400:
        assert snapshot() == before


def test_a_locked_quarter_is_named_in_the_refusal(world, finance):
    row = world["spend"](day=LOCKED_DAY)
    world["lock"]()
    response = finance.patch(exp_url(row), {"amount": "1"}, format="json")
    assert response.status_code == 409
    assert "2016-Q1" in response.json()["errors"][0]["detail"]


# (who, what is posted, status, code)
CREATE_CASES = [
    ("bnce", {"budget_line": "2.1"}, 201, None),
    ("bnce", {"budget_line": "1.3"}, 400, "line_not_allocated"),  # APJEC's line
    ("finance", {"budget_line": "1.3", "partner": "BNCE"}, 400, "line_not_allocated"),
    ("bnce", {"budget_line": "2.1", "partner": "CARITAS"}, 403, "not_your_partner"),
    ("bnce", {"budget_line": "2.1", "date": LOCKED_DAY.isoformat()}, 409, "period_locked"),
    ("finance", {"budget_line": "2.1", "partner": "BNCE", "date": LOCKED_DAY.isoformat()}, 409, "period_locked"),
    ("donor", {"budget_line": "2.1", "partner": "BNCE"}, 403, None),
]


@pytest.mark.parametrize(("who", "posted", "status", "code"), CREATE_CASES)
def test_an_expenditure_is_created_only_where_the_lifecycle_allows(request, world, who, posted, status, code):
    world["lock"]()
    client = request.getfixturevalue(who)
    body = {"grant": "ML-ESEC-2015", "location": "BKO", "date": OPEN_DAY.isoformat(), "amount": "65596",
            "amount_currency": "XOF", "voucher": "NEW-1", **posted}
    before = snapshot()
    response = client.post("/api/v1/expenditures/", body, format="json")
    assert response.status_code == status, response.content
    if code is not None:
        assert code_of(response) == code
    if status >= 400:
        assert snapshot() == before
    else:
        # A partner's expenditure waits for finance: it is submitted, not validated.
        assert response.json()["status"] == "submitted"


# --- transfers through the API -----------------------------------------------------------------

# (who, the transfer, operation, status, code)
TRANSFER_CASES = [
    ("finance", "received in the locked quarter", "patch amount", 409, "period_locked"),
    ("finance", "received in the locked quarter", "delete", 409, "period_locked"),
    ("finance", "received in the locked quarter", "patch reference", 200, None),
    ("finance", "received in an open quarter", "patch amount", 200, None),
    ("finance", "received in an open quarter", "move into the locked quarter", 409, "period_locked"),
    ("finance", "received in an open quarter", "delete", 204, None),
    ("finance", "funding a row of the locked quarter", "patch amount", 409, "period_locked"),
    ("finance", "funding a row of the locked quarter", "delete", 409, "period_locked"),
    ("bnce", "received in an open quarter", "patch amount", 403, None),
]


@pytest.mark.parametrize(("who", "state", "operation", "status", "code"), TRANSFER_CASES)
def test_a_transfer_changes_only_while_it_belongs_to_no_locked_quarter(request, world, who, state, operation,
                                                                      status, code):
    grant = world["grant"]
    if state == "funding a row of the locked quarter":
        grant.fx_method = FxMethod.FIFO
        grant.save()
        # Received in 2015-Q4, open; it pays for a row of 2016-Q1, then locked.
        transfer = world["transfer"](received_on=date(2015, 12, 20))
        world["spend"](day=LOCKED_DAY)
    elif state == "received in the locked quarter":
        transfer = world["transfer"](received_on=LOCKED_DAY)
    else:
        transfer = world["transfer"](received_on=OPEN_DAY)
    world["lock"]()
    client = request.getfixturevalue(who)
    before = snapshot()

    if operation == "delete":
        response = client.delete(transfer_url(transfer))
    else:
        body = {"patch amount": {"amount_received": "640000", "amount_received_currency": "XOF"},
                "patch reference": {"reference": "BDM-2016-0042"},
                "move into the locked quarter": {"received_on": LOCKED_DAY.isoformat(),
                                                 "sent_on": LOCKED_DAY.isoformat()}}[operation]
        response = client.patch(transfer_url(transfer), body, format="json")

    assert response.status_code == status, response.content
    if code is not None:
        assert code_of(response) == code
    if status >= 400:
        assert snapshot() == before


def test_a_transfer_received_in_a_locked_quarter_cannot_be_recorded(world, finance):
    world["lock"]()
    before = snapshot()
    response = finance.post("/api/v1/transfers/", {
        "grant": "ML-ESEC-2015", "partner": "BNCE", "sent_on": "2016-02-01", "received_on": "2016-02-03",
        "amount_sent": "1000.00", "amount_sent_currency": "EUR", "amount_received": "650000",
        "amount_received_currency": "XOF"}, format="json")
    assert response.status_code == 409
    assert code_of(response) == "period_locked"
    assert snapshot() == before


def test_the_lead_organisation_records_no_transfer_to_itself(world, finance):
    before = snapshot()
    response = finance.post("/api/v1/transfers/", {
        "grant": "ML-ESEC-2015", "partner": "ECPAT-LU", "sent_on": "2016-02-01", "received_on": "2016-02-01",
        "amount_sent": "1000.00", "amount_sent_currency": "EUR", "amount_received": "1000.00",
        "amount_received_currency": "EUR"}, format="json")
    assert response.status_code == 400
    assert code_of(response) == "transfer_to_lead"
    assert snapshot() == before


# --- the admin (the finance officer's screen) ----------------------------------------------------

def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_the_admin_cannot_delete_a_transfer_of_a_locked_quarter(world, admin_client):
    transfer = world["transfer"](received_on=LOCKED_DAY)
    world["lock"]()
    before = snapshot()
    response = admin_client.post(admin_url(FundTransfer, "delete", transfer.pk), {"post": "yes"})
    assert response.status_code == 200  # the confirmation page again, listing why not
    assert "locked" in response.text
    assert snapshot() == before


def test_the_admin_cannot_change_a_transfer_of_a_locked_quarter(world, admin_client):
    transfer = world["transfer"](received_on=LOCKED_DAY)
    world["lock"]()
    url = admin_url(FundTransfer, "change", transfer.pk)
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in ("partner", "sent_on", "received_on", "reference", "note")}
    data.update({"amount_sent_0": "1000.00", "amount_sent_1": "EUR", "amount_received_0": "640000",
                 "amount_received_1": "XOF", "fees_0": "0.00", "fees_1": "EUR"})
    before = snapshot()
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "locked" in str(response.context["adminform"].form.errors)
    assert snapshot() == before


def test_the_admin_records_no_expenditure_on_a_line_not_allocated_to_the_partner(world, admin_client):
    grant = world["grant"]
    before = snapshot()
    response = admin_client.post(admin_url(Expenditure, "add"), {
        "grant": grant.pk, "partner": world["bnce"].pk,
        "budget_line": BudgetLine.objects.get(grant=grant, code="1.3").pk,
        "location": Location.objects.get(code="BKO").pk, "date": OPEN_DAY.isoformat(), "voucher": "ADM-1",
        "description": "", "amount_0": "65596", "amount_1": "XOF", "status": "validated"})
    assert response.status_code == 200
    assert "no budget on line 1.3" in str(response.context["adminform"].form.errors)
    assert snapshot() == before


def test_the_admin_records_no_transfer_to_the_lead_organisation(world, admin_client):
    before = snapshot()
    response = admin_client.post(admin_url(FundTransfer, "add"), {
        "grant": world["grant"].pk, "partner": Partner.objects.get(code="ECPAT-LU").pk, "sent_on": "2016-02-01",
        "received_on": "2016-02-01", "reference": "", "note": "", "amount_sent_0": "1000.00", "amount_sent_1": "EUR",
        "amount_received_0": "1000.00", "amount_received_1": "EUR", "fees_0": "0", "fees_1": "EUR"})
    assert response.status_code == 200
    assert "lead organisation" in str(response.context["adminform"].form.errors)
    assert snapshot() == before


# --- corrections: adjustments and reopenings ---------------------------------------------------

def test_an_adjustment_reverses_a_locked_row_at_its_accepted_eur_and_books_the_correction_in_an_open_quarter(
        world, finance):
    row = world["spend"](day=LOCKED_DAY)  # 655,957 XOF = 1,000.00 EUR at the parity
    world["lock"]()
    response = finance.post(f"/api/v1/expenditures/{row.pk}/adjust/", {
        "date": OPEN_DAY.isoformat(), "reason": "Invoice was 327,979 XOF, not 655,957",
        "amount": "327979", "amount_currency": "XOF"}, format="json")
    assert response.status_code == 201, response.content
    reversal, replacement = response.json()["reversal"], response.json()["replacement"]
    assert (reversal["amount"], reversal["amount_eur"], reversal["date"]) == ("-655957", "-1000.00", "2016-05-10")
    # 327,979 / 655.957 = 500.00076... -> 500.00
    assert (replacement["amount"], replacement["amount_eur"]) == ("327979", "500.00")
    row.refresh_from_db()
    assert row.amount_eur == Decimal("1000.00")  # the accepted quarter keeps its EUR
    assert {e.adjustment_reason for e in Expenditure.objects.filter(adjusts=row)} == {
        "Invoice was 327,979 XOF, not 655,957"}


@pytest.mark.parametrize(("case", "status", "code"), [
    ("row of an open quarter", 409, "quarter_open"),
    ("booked in the locked quarter", 409, "period_locked"),
    ("by the partner", 403, None),
    ("without a reason", 400, None),
])
def test_an_adjustment_is_refused_where_it_does_not_fit(request, world, case, status, code):
    row = world["spend"](day=OPEN_DAY if case == "row of an open quarter" else LOCKED_DAY)
    world["lock"]()
    client = request.getfixturevalue("bnce" if case == "by the partner" else "finance")
    body = {"date": (LOCKED_DAY if case == "booked in the locked quarter" else OPEN_DAY).isoformat(),
            "reason": "" if case == "without a reason" else "wrong amount"}
    before = snapshot()
    response = client.post(f"/api/v1/expenditures/{row.pk}/adjust/", body, format="json")
    assert response.status_code == status, response.content
    if code:
        assert code_of(response) == code
    assert snapshot() == before


def test_finance_reopens_the_latest_accepted_quarter_with_a_reason_and_the_partner_cannot(world, finance, bnce):
    row = world["spend"](day=LOCKED_DAY)
    statement = world["lock"]()
    before = snapshot()
    assert bnce.post(f"/api/v1/statements/{statement.pk}/reopen/", {"reason": "x"}, format="json").status_code == 403
    assert finance.post(f"/api/v1/statements/{statement.pk}/reopen/", {"reason": ""},
                        format="json").status_code == 400
    assert snapshot() == before

    response = finance.post(f"/api/v1/statements/{statement.pk}/reopen/",
                            {"reason": "Voucher V-1 was entered twice"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"
    assert [r["reason"] for r in response.json()["reopenings"]] == ["Voucher V-1 was entered twice"]
    # Open again: finance corrects the row.
    assert finance.patch(exp_url(row), {"description": "corrected"}, format="json").status_code == 200


def test_an_earlier_quarter_does_not_reopen_once_a_later_one_is_accepted(world, finance):
    first = world["lock"](2016, 1)
    world["lock"](2016, 2)
    before = snapshot()
    response = finance.post(f"/api/v1/statements/{first.pk}/reopen/", {"reason": "late invoice"}, format="json")
    assert response.status_code == 409
    assert code_of(response) == "later_quarter_accepted"
    assert snapshot() == before


def test_a_transfer_edit_revalues_open_quarters_only_and_says_which(world, finance):
    # given fifo, a transfer received in 2015-Q4 (1,000.00 EUR for 650,000 XOF: 650 XOF per EUR)
    # funding a row of 2016-Q1, accepted, and a row of 2016-Q2, open
    grant = world["grant"]
    grant.fx_method = FxMethod.FIFO
    grant.save()
    early = world["transfer"](received_on=date(2015, 12, 20))
    locked_row = world["spend"](day=LOCKED_DAY, voucher="Q1")
    open_row = world["spend"](day=OPEN_DAY, voucher="Q2")
    world["lock"]()
    locked_before = Expenditure.objects.values_list("amount_eur", "fx_rate").get(pk=locked_row.pk)
    # when a transfer received in the open quarter is recorded (655,957 XOF for 1,009.17 EUR)
    response = finance.post("/api/v1/transfers/", {
        "grant": "ML-ESEC-2015", "partner": "BNCE", "sent_on": "2016-04-01", "received_on": "2016-04-02",
        "amount_sent": "1009.17", "amount_sent_currency": "EUR", "amount_received": "655957",
        "amount_received_currency": "XOF"}, format="json")
    # then the open row is revalued and the answer names its quarter; the accepted one stays
    assert response.status_code == 201, response.content
    revaluation = response.json()["revaluation"]
    assert revaluation["by_quarter"] == {"2016-Q2": 1}
    assert ["BNCE", "2016-Q1"] in revaluation["frozen"]
    assert Expenditure.objects.values_list("amount_eur", "fx_rate").get(pk=locked_row.pk) == locked_before
    # 650,000 XOF of the first tranche went to the 2016-Q1 row (655,957 XOF: 650,000 at 650 = 1,000.00
    # EUR and 5,957 beyond, at the parity); the 2016-Q2 row is paid by the new tranche:
    # 655,957 x 1,009.17 / 655,957 = 1,009.17 EUR
    assert Expenditure.objects.get(pk=open_row.pk).amount_eur == Decimal("1009.17")
    assert early.pk  # the early transfer funds the locked row: it cannot change
    assert finance.patch(f"/api/v1/transfers/{early.pk}/", {"fees": "1.00", "fees_currency": "EUR"},
                         format="json").status_code == 409


def test_the_admin_reopens_a_quarter_with_the_comment_as_its_reason(world, admin_client):
    statement = world["lock"]()
    url = admin_url(QuarterlyStatement, "changelist")
    # without a reason: refused, nothing changes
    admin_client.post(url, {"action": "reopen", "_selected_action": [statement.pk], "comment": ""})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ACCEPTED and not statement.reopenings.exists()
    # with one: reopened, the reason on record
    admin_client.post(url, {"action": "reopen", "_selected_action": [statement.pk],
                            "comment": "Bank statement of March arrived late"})
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED
    assert [r.reason for r in statement.reopenings.all()] == ["Bank statement of March arrived late"]


# --- the budget: the services themselves refuse (whatever path calls them) ----------------------

def test_budget_services_refuse_anyone_but_finance_and_a_donor_decides_only_for_its_own(world, donor_user):
    from budget import services as budget_services
    from budget.models import Allocation, BudgetVersion
    from budget.revisions import donor_decision_record
    from grants.errors import PermissionRefused
    from grants.models import Donor

    grant, partner_user = world["grant"], world["bnce_user"]
    draft = budget_services.version_open_draft(grant=grant, label="revision", by=world["finance_user"])
    cell = Allocation.objects.filter(version=draft).first()
    before = sorted(Allocation.objects.filter(version=draft).values_list("id", "amount"))
    for call in (
        lambda: budget_services.version_open_draft(grant=grant, label="another", by=partner_user),
        lambda: budget_services.allocation_update(allocation=cell, amount=Money(Decimal("1.00"), "EUR"),
                                                  by=partner_user),
        lambda: budget_services.allocation_delete(allocation=cell, by=donor_user),
        lambda: budget_services.version_approve(version=draft, by=donor_user),
        lambda: budget_services.version_delete(version=draft, by=partner_user),
        # a partner member is no member of the ministry
        lambda: donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved",
                                      by=partner_user),
    ):
        with pytest.raises(PermissionRefused):
            call()
    assert sorted(Allocation.objects.filter(version=draft).values_list("id", "amount")) == before
    assert BudgetVersion.objects.filter(grant=grant).count() == 2 and not draft.donor_decisions.exists()
    # the ministry's member decides for the ministry
    assert donor_decision_record(version=draft, donor=Donor.objects.get(code="MAEE-LU"), decision="approved",
                                 by=donor_user).pk


def test_a_locked_quarter_is_refused_in_french_to_a_french_reader(world, finance):
    row = world["spend"](day=LOCKED_DAY)
    world["lock"]()
    response = finance.patch(exp_url(row), {"amount": "1"}, format="json", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 409
    assert response.json()["errors"][0]["detail"].startswith("Le trimestre 2016-Q1 de BNCE est verrouillé")


def test_the_admin_shows_a_statements_digest_and_its_reopenings(world, admin_client):
    statement = world["lock"]()
    QuarterlyStatement.objects.filter(pk=statement.pk).update(digest="ab" * 32)
    admin_client.post(admin_url(QuarterlyStatement, "changelist"), {
        "action": "reopen", "_selected_action": [statement.pk], "comment": "Late bank statement"})
    page = admin_client.get(admin_url(QuarterlyStatement, "change", statement.pk))
    assert page.status_code == 200
    assert "ab" * 32 in page.text and "Late bank statement" in page.text
