from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from moneyed import Money

from expenditures.fx import convert_to_eur, parity_rate
from grants.money import divide_to_eur, quantize, validate_money, zero


@pytest.mark.parametrize(
    ("xof", "eur"),
    [("655957", "1000.00"), ("328", "0.50"), ("1", "0.00"), ("327", "0.50"), ("3", "0.00"), ("4", "0.01")],
)
@pytest.mark.django_db
def test_xof_to_eur_at_the_parity_from_the_rate_table(xof, eur):
    # given the parity seeded in the rate table, when converting, then half up to the cent
    assert parity_rate() == Decimal("655.957")
    assert convert_to_eur(Money(Decimal(xof), "XOF")) == Money(Decimal(eur), "EUR")


def test_divide_to_eur_refuses_floats():
    with pytest.raises(TypeError):
        divide_to_eur(655957.0, Decimal("655.957"))
    with pytest.raises(TypeError):
        divide_to_eur(Decimal("655957"), 655.957)


def test_half_up_not_bankers_rounding():
    # 655.957 x 2.505 = 1,643.172285 XOF is exactly 2.505 EUR: half up gives 2.51, half to even 2.50
    assert divide_to_eur(Decimal("1643.172285"), Decimal("655.957")) == Decimal("2.51")
    # 0.005 EUR: half up gives 0.01, half to even 0.00
    assert divide_to_eur(Decimal("0.005"), Decimal("1")) == Decimal("0.01")


def test_quantize_by_currency():
    assert quantize(Money(Decimal("10.5"), "XOF")) == Money(Decimal("11"), "XOF")
    assert quantize(Money(Decimal("10.005"), "EUR")) == Money(Decimal("10.01"), "EUR")
    assert zero("XOF").amount == 0 and str(zero("EUR").currency) == "EUR"


@pytest.mark.parametrize(
    ("money", "code"),
    [
        (Money(Decimal("-1"), "EUR"), "negative_amount"),
        (Money(Decimal("10.5"), "XOF"), "fractional_xof"),
        (Money(Decimal("10"), "USD"), "currency_not_allowed"),
        (Money(Decimal("10"), "XAF"), "currency_not_allowed"),
        (Money(Decimal("1.005"), "EUR"), "too_many_decimals"),
        (Decimal("10"), "currency_missing"),
        (None, "required"),
    ],
)
def test_validate_money_refuses_with_the_field_and_a_code(money, code):
    with pytest.raises(ValidationError) as caught:
        validate_money(money, "amount")
    assert caught.value.error_dict["amount"][0].code == code
