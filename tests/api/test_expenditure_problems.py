"""Every problem of an expenditure at once (issue 14), and a transfer's bank reference and note."""

from __future__ import annotations

from tests.api.support import API, SEED


def body(**changes) -> dict:
    return {"grant": SEED, "partner": "BNCE", "budget_line": "2.1", "location": "BKO", "date": "2016-05-02",
            "amount": "65596", "amount_currency": "XOF", "voucher": "PROB-1", **changes}


def problems(response) -> set[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return {(error["attr"], error["code"]) for error in response.json()["errors"]}


def test_every_rule_an_expenditure_breaks_comes_in_one_answer(clients):
    # Given BNCE's expenditure with voucher PROB-1
    finance = clients["finance"]
    assert finance.post(f"{API}/expenditures/", body(), format="json").status_code == 201

    # When another names a heading, a day after the grant's end and the same voucher
    response = finance.post(f"{API}/expenditures/", body(budget_line="2", date="2019-01-10"), format="json")

    # Then the three problems come together
    assert problems(response) == {("budget_line", "heading_not_a_line"), ("date", "date_outside_grant"),
                                  ("voucher", "duplicate_voucher")}


def test_a_malformed_field_does_not_hide_the_rules_broken_by_the_others(clients):
    finance = clients["finance"]
    assert finance.post(f"{API}/expenditures/", body(voucher="PROB-2"), format="json").status_code == 201

    # When the date is malformed, the line unknown and the voucher already used
    response = finance.post(f"{API}/expenditures/", body(date="2016-13-45", budget_line="9.9", voucher="PROB-2"),
                            format="json")

    # Then the shape's problem and the rules' come in one answer
    assert problems(response) == {("date", "invalid"), ("budget_line", "unknown_budget_line"),
                                  ("voucher", "duplicate_voucher")}


def test_a_patch_lists_every_problem_too(clients):
    finance = clients["finance"]
    first = finance.post(f"{API}/expenditures/", body(voucher="PROB-3"), format="json").json()
    second = finance.post(f"{API}/expenditures/", body(voucher="PROB-4"), format="json").json()
    response = finance.patch(f"{API}/expenditures/{second['id']}/",
                             {"voucher": first["voucher"], "budget_line": "2", "amount": "x"}, format="json")
    assert problems(response) >= {("budget_line", "heading_not_a_line"), ("voucher", "duplicate_voucher")}


def test_a_transfer_carries_its_bank_reference_and_note(clients):
    finance = clients["finance"]
    created = finance.post(f"{API}/transfers/", {
        "grant": SEED, "partner": "BNCE", "sent_on": "2016-02-01", "received_on": "2016-02-05",
        "amount_sent": "1000.00", "amount_sent_currency": "EUR", "amount_received": "655000",
        "amount_received_currency": "XOF", "reference": "BOA-2016-0042", "note": "First tranche of year 1",
    }, format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["reference"], created.json()["note"]) == ("BOA-2016-0042", "First tranche of year 1")
    changed = finance.patch(f"{API}/transfers/{created.json()['id']}/", {"note": "Corrected"}, format="json")
    assert changed.status_code == 200, changed.json()
    again = finance.get(f"{API}/transfers/{created.json()['id']}/").json()
    assert (again["reference"], again["note"]) == ("BOA-2016-0042", "Corrected")


def test_the_amounts_rules_are_heard_when_another_field_is_malformed(clients):
    # A fraction of a franc, a malformed date: both problems in one answer
    response = clients["finance"].post(
        f"{API}/expenditures/", body(voucher="PROB-5", date="05/13/2016", amount="1000.50"), format="json")
    found = problems(response)
    assert ("date", "invalid") in found
    assert {attr for attr, _code in found} == {"date", "amount"}


def test_a_patch_hears_the_amounts_rule_with_the_stored_currency(clients):
    finance = clients["finance"]
    created = finance.post(f"{API}/expenditures/", body(voucher="PROB-6"), format="json").json()
    response = finance.patch(f"{API}/expenditures/{created['id']}/", {"amount": "-5", "date": "x"}, format="json")
    assert {attr for attr, _code in problems(response)} == {"date", "amount"}
