"""A partner's quarter, end to end: every check alone and together, the life of a statement,
the lock on the quarter under every write path, and the race between two writers."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from moneyed import Money

from budget.models import BudgetLine
from expenditures.models import Expenditure, QuarterlyStatement
from expenditures.services import expenditure_delete, expenditure_record, expenditure_update, transfer_record
from expenditures.statements import (
    statement_accept,
    statement_create,
    statement_return,
    statement_submit,
    statements_overdue,
)
from grants.errors import ApplicationError, Conflict, PeriodLocked
from grants.models import Location, Partner

XOF = "XOF"


def xof(amount) -> Money:
    return Money(Decimal(amount), XOF)


def line(**overrides) -> dict:
    row = {"date": "2016-08-01", "budget_line": "2.1", "location": "SEG", "amount": "500000",
           "amount_currency": XOF, "voucher": "B-1", "description": "Rent of the shelter"}
    row.update(overrides)
    return row


@pytest.fixture
def bnce_partner(grant):
    return Partner.objects.get(code="BNCE")


@pytest.fixture
def funded(grant, bnce_partner):
    """6,500,000 XOF received by BNCE in 2016-Q3."""
    return transfer_record(grant=grant, partner=bnce_partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                           amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=xof("6500000"))


def good_statement(grant, partner, **overrides) -> QuarterlyStatement:
    fields = dict(grant=grant, partner=partner, period="2016-Q3", opening_balance=xof(0),
                  funds_received=xof(6500000), closing_balance=xof(6000000), cash_on_hand=xof(1000000),
                  bank_balance=xof(5000000), lines=[line()])
    fields.update(overrides)
    return statement_create(**fields)


def codes_of(caught) -> list[tuple[str, str]]:
    return [(e["code"], e["attr"]) for e in caught.value.errors]


def test_a_balanced_statement_is_submitted_and_its_expenditures_enter_the_ledger(grant, bnce_partner, funded):
    statement = good_statement(grant, bnce_partner)
    assert Expenditure.objects.count() == 0
    statement = statement_submit(statement=statement)
    assert statement.status == "submitted" and statement.submitted_at is not None
    exp = Expenditure.objects.get()
    assert (exp.voucher, exp.status, exp.statement_id) == ("B-1", "submitted", statement.pk)
    assert exp.amount == xof(500000) and exp.amount_eur == Decimal("762.25")  # 500000 / 655.957


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"closing_balance": xof(6000001), "cash_on_hand": xof(1000001)}, [("balance_mismatch", "closing_balance")]),
        ({"cash_on_hand": xof(999999)}, [("cash_mismatch", "cash_on_hand")]),
        ({"opening_balance": xof(10), "closing_balance": xof(6000010), "cash_on_hand": xof(1000010)},
         [("opening_balance_mismatch", "opening_balance")]),
        ({"funds_received": xof(6400000), "closing_balance": xof(5900000), "cash_on_hand": xof(900000)},
         [("funds_received_mismatch", "funds_received")]),
        ({"lines": [line(date="2016-10-01")]}, [("date_outside_period", "expenditures.0.date")]),
        ({"lines": [line(budget_line="9.9")]}, [("unknown_budget_line", "expenditures.0.budget_line")]),
        ({"lines": [line(budget_line="2")]}, [("unknown_budget_line", "expenditures.0.budget_line")]),
        ({"lines": [line(budget_line="1.3")]}, [("line_not_allocated", "expenditures.0.budget_line")]),
        ({"lines": [line(location="TOMBOUCTOU")]}, [("unknown_location", "expenditures.0.location")]),
        ({"lines": [line(amount="250000"), line(amount="250000")]}, [("duplicate_voucher", "expenditures.1.voucher")]),
        ({"lines": [line(amount="500000.5")], "closing_balance": xof(6000000)},
         [("fractional_xof", "expenditures.0.amount")]),
        ({"lines": [line(amount_currency="EUR")]}, [("currency_not_allowed", "expenditures.0.amount_currency")]),
        ({"lines": [line(amount_currency="XAF")]}, [("currency_not_allowed", "expenditures.0.amount_currency")]),
    ],
)
def test_each_check_alone(grant, bnce_partner, funded, overrides, expected):
    statement = good_statement(grant, bnce_partner, **overrides)
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    problems = codes_of(caught)
    # A wrong currency or a fraction also unbalances the francs: only the named problem is asserted first.
    assert problems[: len(expected)] == expected
    statement.refresh_from_db()
    assert statement.status == "draft" and statement.problems
    assert Expenditure.objects.count() == 0


def test_a_voucher_already_in_the_ledger_is_a_duplicate(grant, bnce_partner, funded):
    expenditure_record(grant=grant, partner=bnce_partner, budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
                       location=Location.objects.get(code="SEG"), amount=xof(1000), date=date(2016, 7, 2),
                       voucher="B-1")
    statement = good_statement(grant, bnce_partner, funds_received=xof(6500000))
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    assert ("duplicate_voucher", "expenditures.0.voucher") in codes_of(caught)


def test_a_quarter_that_has_not_ended_cannot_be_submitted(grant, bnce_partner, funded):
    statement = good_statement(grant, bnce_partner)
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement, today=date(2016, 9, 30))
    assert codes_of(caught) == [("period_not_ended", "period")]


def test_an_overspent_line_needs_an_explanation(grant, bnce_partner):
    # BNCE's budget on 2.3 (psychosocial care) is small; 30,000,000 XOF is far over it.
    transfer_record(grant=grant, partner=bnce_partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                    amount_sent=Money(Decimal("50000.00"), "EUR"), amount_received=xof(32500000))
    fields = dict(funds_received=xof(32500000), closing_balance=xof(2500000), cash_on_hand=xof(500000),
                  bank_balance=xof(2000000), lines=[line(budget_line="2.3", amount="30000000")])
    statement = good_statement(grant, bnce_partner, **fields)
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    assert codes_of(caught) == [("explanation_required", "explanations.2.3")]
    QuarterlyStatement.objects.filter(pk=statement.pk).update(explanations={"2.3": "Forty girls sheltered, not ten."})
    statement.refresh_from_db()
    assert statement_submit(statement=statement).status == "submitted"


def test_every_problem_is_listed_at_once(grant, bnce_partner, funded):
    statement = good_statement(
        grant, bnce_partner, cash_on_hand=xof(1), opening_balance=xof(5),
        lines=[line(date="2016-12-31", budget_line="2", location="X", amount="1.5", voucher="A"),
               line(amount_currency="USD", voucher="A")],
    )
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    codes = {code for code, _ in codes_of(caught)}
    assert {"date_outside_period", "unknown_budget_line", "unknown_location", "fractional_xof",
            "currency_not_allowed", "duplicate_voucher", "balance_mismatch", "cash_mismatch",
            "opening_balance_mismatch"} <= codes


def test_the_life_of_a_statement(grant, bnce_partner, funded):
    statement = statement_submit(statement=good_statement(grant, bnce_partner))
    # returned: its expenditures leave the ledger and it can change again
    statement = statement_return(statement=statement, comment="Attach the rent contract.")
    assert statement.status == "returned" and statement.review_comment == "Attach the rent contract."
    assert Expenditure.objects.count() == 0
    statement = statement_submit(statement=statement)
    assert Expenditure.objects.get().status == "submitted"
    statement = statement_accept(statement=statement, comment="Thank you.")
    assert statement.status == "accepted"
    assert Expenditure.objects.get().status == "validated"
    # the next quarter opens with this one's closing balance
    nxt = statement_create(grant=grant, partner=bnce_partner, period="2016-Q4", opening_balance=xof(6000000),
                           funds_received=xof(0), closing_balance=xof(6000000), cash_on_hand=xof(6000000),
                           bank_balance=xof(0))
    assert statement_submit(statement=nxt).status == "submitted"


def test_review_needs_a_submitted_statement(grant, bnce_partner, funded):
    statement = good_statement(grant, bnce_partner)
    with pytest.raises(Conflict):
        statement_accept(statement=statement)
    with pytest.raises(ApplicationError) as caught:
        statement_return(statement=statement, comment="")
    assert caught.value.attr == "comment"


def test_one_statement_per_grant_partner_and_quarter(grant, bnce_partner, funded):
    good_statement(grant, bnce_partner)
    with pytest.raises(Conflict) as caught:
        good_statement(grant, bnce_partner)
    assert caught.value.code == "statement_exists"


@pytest.fixture
def locked(grant, bnce_partner, funded):
    """BNCE's 2016-Q3 accepted, with one validated expenditure in it."""
    statement = statement_submit(statement=good_statement(grant, bnce_partner))
    statement_accept(statement=statement)
    return Expenditure.objects.get()


def test_an_accepted_quarter_is_locked_for_the_services(grant, bnce_partner, locked):
    line_21 = BudgetLine.objects.get(grant=grant, code="2.1")
    with pytest.raises(PeriodLocked):
        expenditure_record(grant=grant, partner=bnce_partner, budget_line=line_21, location=locked.location,
                           amount=xof(1), date=date(2016, 9, 30), voucher="LATE")
    with pytest.raises(PeriodLocked):
        expenditure_update(expenditure=locked, amount=xof(2))
    with pytest.raises(PeriodLocked):
        expenditure_update(expenditure=locked, date=date(2016, 10, 1))
    with pytest.raises(PeriodLocked):
        expenditure_delete(expenditure=locked)
    # an open quarter takes the correction; another partner's quarter is not locked
    expenditure_record(grant=grant, partner=bnce_partner, budget_line=line_21, location=locked.location,
                       amount=xof(1), date=date(2016, 10, 1), voucher="CORR")
    expenditure_record(grant=grant, partner=Partner.objects.get(code="APJEC"),
                       budget_line=BudgetLine.objects.get(grant=grant, code="1.1"), location=locked.location,
                       amount=xof(1), date=date(2016, 8, 1), voucher="APJEC-1")
    locked.refresh_from_db()
    assert locked.amount == xof(500000)


def test_an_accepted_quarter_is_locked_for_the_api(grant, locked, bnce, finance):
    body = {"grant": "ML-ESEC-2015", "budget_line": "2.1", "location": "SEG", "date": "2016-09-01",
            "amount": "1000", "amount_currency": "XOF", "voucher": "LATE"}
    for client in (bnce, finance):
        response = client.post("/api/v1/expenditures/", {**body, "partner": "BNCE"})
        assert response.status_code == 409
        assert response.json()["errors"][0]["code"] == "period_locked"
        assert client.patch(f"/api/v1/expenditures/{locked.pk}/", {"amount": "1", "amount_currency": "XOF"}
                            ).status_code == 409
        assert client.delete(f"/api/v1/expenditures/{locked.pk}/").status_code == 409
    assert Expenditure.objects.count() == 1


def test_an_accepted_statement_cannot_be_submitted_or_changed_again(grant, locked, bnce):
    statement = QuarterlyStatement.objects.get()
    response = bnce.post(f"/api/v1/statements/{statement.pk}/submit/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "period_locked"
    assert bnce.patch(f"/api/v1/statements/{statement.pk}/", {"explanations": {}}, format="json").status_code == 409


def test_an_accepted_quarter_is_locked_in_the_admin(grant, locked, admin_client):
    response = admin_client.post(f"/admin/expenditures/expenditure/{locked.pk}/delete/", {"post": "yes"})
    assert response.status_code in (302, 403)
    assert Expenditure.objects.filter(pk=locked.pk).exists()


def test_statements_over_the_api_with_all_problems_in_french(grant, funded, bnce):
    body = {"grant": "ML-ESEC-2015", "period": "2016-Q3", "opening_balance": "0", "opening_balance_currency": XOF,
            "funds_received": "6500000", "funds_received_currency": XOF, "closing_balance": "6000001",
            "closing_balance_currency": XOF, "cash_on_hand": "1000000", "cash_on_hand_currency": XOF,
            "bank_balance": "5000000", "bank_balance_currency": XOF,
            "expenditures": [line(budget_line="9.9")]}
    response = bnce.post("/api/v1/statements/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["partner"] == "BNCE" and response.json()["status"] == "draft"
    statement_id = response.json()["id"]
    response = bnce.post(f"/api/v1/statements/{statement_id}/submit/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert {(e["code"], e["attr"]) for e in body["errors"]} == {
        ("unknown_budget_line", "expenditures.0.budget_line"), ("balance_mismatch", "closing_balance"),
        ("cash_mismatch", "cash_on_hand")}
    details = " ".join(e["detail"] for e in body["errors"])
    assert "n'est pas une ligne budgétaire" in details and "solde de clôture" in details
    assert bnce.get(f"/api/v1/statements/{statement_id}/").json()["problems"]


def test_only_a_finance_officer_reviews(grant, funded, bnce, finance, bnce_partner):
    statement = statement_submit(statement=good_statement(grant, bnce_partner))
    assert bnce.post(f"/api/v1/statements/{statement.pk}/accept/", {}).status_code == 403
    response = finance.post(f"/api/v1/statements/{statement.pk}/return/", {})
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "comment"
    response = finance.post(f"/api/v1/statements/{statement.pk}/accept/", {"comment": "OK"})
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert response.json()["reviewed_by"] == "finance"


def test_overdue_quarters(grant, funded, bnce_partner, finance, bnce):
    statement_submit(statement=good_statement(grant, bnce_partner))
    rows = statements_overdue(as_of=date(2016, 11, 1))
    periods = {(r["partner"], r["period"]) for r in rows}
    # the grant starts 2015-07-01: 2015-Q3 .. 2016-Q2 are due; 2016-Q3 is due on 2016-10-30
    assert ("BNCE", "2015-Q3") in periods and ("CARITAS", "2016-Q2") in periods
    assert ("BNCE", "2016-Q3") not in periods  # submitted
    assert ("CARITAS", "2016-Q3") in periods
    caritas_q3 = next(r for r in rows if (r["partner"], r["period"]) == ("CARITAS", "2016-Q3"))
    assert (caritas_q3["due_on"], caritas_q3["days_overdue"]) == (date(2016, 10, 30), 2)
    assert len(rows) == 4 * 5 - 1
    response = finance.get("/api/v1/statements/overdue/?as_of=2016-11-01")
    assert response.status_code == 200 and response.json()["count"] == 19
    assert len(response.json()["results"]) == 19
    assert bnce.get("/api/v1/statements/overdue/").status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_finance_officers_accepting_at_once_leave_one_outcome():
    from budget.seed import seed_load

    grant = seed_load().grant
    partner = Partner.objects.get(code="BNCE")
    transfer_record(grant=grant, partner=partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                    amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=xof("6500000"))
    statement = statement_submit(statement=good_statement(grant, partner))
    barrier = threading.Barrier(2)
    outcomes = []

    def accept():
        try:
            barrier.wait()
            statement_accept(statement=statement, comment="mine")
            outcomes.append("accepted")
        except (Conflict, PeriodLocked) as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", "period_locked"]
    assert QuarterlyStatement.objects.get().status == "accepted"
    assert Expenditure.objects.get().status == "validated"
    assert QuarterlyStatement.history.filter(status="accepted").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_accept_racing_a_partners_change_leaves_one_outcome():
    from django.db import transaction

    from budget.seed import seed_load

    grant = seed_load().grant
    partner = Partner.objects.get(code="BNCE")
    transfer_record(grant=grant, partner=partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                    amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=xof("6500000"))
    statement = statement_submit(statement=good_statement(grant, partner))
    exp = Expenditure.objects.get()
    accepted = threading.Event()
    outcome = {}

    def accept():
        try:
            with transaction.atomic():
                statement_accept(statement=statement)
                accepted.set()
                # hold the lock while the partner tries to change the quarter
                threading.Event().wait(0.5)
        finally:
            connection.close()

    def change():
        try:
            accepted.wait(5)
            expenditure_update(expenditure=exp, amount=xof(400000))
            outcome["change"] = "written"
        except PeriodLocked as exc:
            outcome["change"] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=accept), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcome["change"] == "period_locked"
    exp.refresh_from_db()
    assert exp.amount == xof(500000) and exp.status == "validated"


def test_the_template_is_served_at_the_issues_address_without_a_redirect(grant, bnce):
    response = bnce.get("/api/v1/statements/template.xlsx?grant=ML-ESEC-2015&partner=BNCE&period=2016-Q3")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
