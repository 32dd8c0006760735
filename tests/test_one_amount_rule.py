"""One rule for an amount, whichever door it comes through: the API's money fields and a
statement's lines both read it with ``grants.money.parse_amount``, so one input gets one answer
and one code.

Trailing zeros are not precision: "1.500" EUR is 1.50 exactly and is accepted; "1.505" EUR has a
third decimal that is not zero and is refused with ``too_many_decimals``; "12.5" XOF is half a
franc and is refused with ``fractional_xof``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from moneyed import Money

from expenditures.models import Expenditure
from expenditures.statements import statement_check, statement_create
from grants.errors import ErrorCode
from grants.models import Partner
from grants.money import parse_amount

# The partner reporting in each currency, one budget line it holds and one of its locations.
REPORTER = {"EUR": ("ECPAT-LU", "4.2", "LUX"), "XOF": ("BNCE", "2.1", "BKO")}

ACCEPTED = [
    pytest.param("1.500", "EUR", Decimal("1.50"), id="1.500 EUR is 1.50"),
    pytest.param("1.50", "EUR", Decimal("1.50"), id="1.50 EUR"),
    pytest.param("12.000", "XOF", Decimal("12"), id="12.000 XOF is 12 francs"),
]
REFUSED = [
    pytest.param("1.505", "EUR", ErrorCode.TOO_MANY_DECIMALS, id="1.505 EUR"),
    pytest.param("1.5001", "EUR", ErrorCode.TOO_MANY_DECIMALS, id="1.5001 EUR"),
    pytest.param("12.5", "XOF", ErrorCode.FRACTIONAL_XOF, id="12.5 XOF"),
    pytest.param("-3", "XOF", ErrorCode.NEGATIVE_AMOUNT, id="negative"),
    pytest.param("0", "EUR", ErrorCode.NEGATIVE_AMOUNT, id="zero"),
    pytest.param("12,50", "EUR", ErrorCode.INVALID, id="a comma"),
    pytest.param("1000000000000", "XOF", ErrorCode.MAX_WHOLE_DIGITS, id="13 whole digits"),
]


def api_body(amount: str, currency: str) -> dict:
    partner, line, location = REPORTER[currency]
    return {"grant": "ML-ESEC-2015", "partner": partner, "budget_line": line, "location": location,
            "date": "2016-08-01", "amount": amount, "amount_currency": currency, "voucher": "ONE-RULE-1"}


def statement_with_line(grant, amount: str, currency: str):
    partner_code, line, location = REPORTER[currency]
    partner = Partner.objects.get(code=partner_code)
    assert partner.reporting_currency == currency
    nothing = Money(Decimal("0"), currency)
    return statement_create(
        grant=grant, partner=partner, period="2016-Q3", opening_balance=nothing, funds_received=nothing,
        closing_balance=nothing, cash_on_hand=nothing, bank_balance=nothing,
        lines=[{"date": "2016-08-01", "budget_line": line, "location": location, "amount": amount,
                "amount_currency": currency, "voucher": "ONE-RULE-1", "description": "Kits"}])


def amount_problems(statement) -> list[str]:
    problems, _parsed = statement_check(statement, today=date(2017, 1, 1))
    return [problem["code"] for problem in problems if problem["attr"] == "expenditures.0.amount"]


# --- the function -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "amount"), ACCEPTED)
def test_parse_amount_accepts_trailing_zeros(text, currency, amount):
    parsed = parse_amount(text, currency, allow_zero=False)
    # the value and its exponent: 1.50 shown as "1.50", 12 francs as "12"
    assert parsed == amount and str(parsed) == str(amount)


@pytest.mark.parametrize(("text", "currency", "code"), REFUSED)
def test_parse_amount_refuses_with_the_registrys_code(text, currency, code):
    with pytest.raises(ValidationError) as caught:
        parse_amount(text, currency, allow_zero=False)
    assert caught.value.code == code


# --- through the API ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "amount"), ACCEPTED)
def test_the_api_accepts_what_the_rule_accepts(grant, finance, text, currency, amount):
    # when a finance officer records the expenditure
    response = finance.post("/api/v1/expenditures/", api_body(text, currency), format="json")
    # then it is recorded at the amount worked out by hand
    assert response.status_code == 201, response.json()
    assert Expenditure.objects.get().amount == Money(amount, currency)
    assert response.json()["amount"] == str(amount)


@pytest.mark.parametrize(("text", "currency", "code"), REFUSED)
def test_the_api_refuses_with_the_rules_code(grant, finance, text, currency, code):
    response = finance.post("/api/v1/expenditures/", api_body(text, currency), format="json")
    assert response.status_code == 400, response.json()
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [(code, "amount")]
    assert not Expenditure.objects.exists()


# --- through a statement ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "currency", "amount"), ACCEPTED)
def test_a_statement_accepts_what_the_rule_accepts(grant, text, currency, amount):
    statement = statement_with_line(grant, text, currency)
    problems, parsed = statement_check(statement, today=date(2017, 1, 1))
    assert [p for p in problems if p["attr"] == "expenditures.0.amount"] == []
    assert parsed[0].amount == amount


@pytest.mark.parametrize(("text", "currency", "code"), REFUSED)
def test_a_statement_refuses_with_the_rules_code(grant, text, currency, code):
    statement = statement_with_line(grant, text, currency)
    assert amount_problems(statement) == [code]
