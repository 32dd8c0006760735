"""Money as a value with a currency: the one place that knows each currency's precision.

Every amount in the ledger is a ``moneyed.Money`` in XOF or EUR. XOF has no minor unit,
EUR has cents. Conversions divide by the full rate and round once, half up, at the end.
No float ever enters here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from moneyed import Money

XOF = "XOF"
EUR = "EUR"
CURRENCIES = (XOF, EUR)
CURRENCY_CHOICES = [(XOF, "XOF"), (EUR, "EUR")]

# Units of each currency's smallest coin: XOF whole francs, EUR cents.
PRECISION = {XOF: Decimal("1"), EUR: Decimal("0.01")}
CENT = PRECISION[EUR]


def quantize(money: Money) -> Money:
    """Round ``money`` half up to its currency's precision."""
    return Money(quantize_amount(money.amount, str(money.currency)), money.currency)


def quantize_amount(amount: Decimal, currency: str) -> Decimal:
    return Decimal(amount).quantize(PRECISION[currency], rounding=ROUND_HALF_UP)


def zero(currency: str) -> Money:
    return Money(PRECISION[currency] * 0, currency)


def is_whole(amount: Decimal) -> bool:
    return amount == amount.to_integral_value()


def divide_to_eur(xof: Decimal, rate: Decimal) -> Decimal:
    """XOF / (XOF per EUR), rounded half up to the cent. Both arguments must be Decimal."""
    if not isinstance(xof, Decimal) or not isinstance(rate, Decimal):
        raise TypeError("divide_to_eur takes Decimal amounts and rates only")
    if rate <= 0:
        raise ValueError("an exchange rate must be positive")
    return (xof / rate).quantize(CENT, rounding=ROUND_HALF_UP)


def validate_money(money: Money | None, field: str, *, allow_zero: bool = True) -> None:
    """Refuse what no amount in the ledger may be.

    Raises ``ValidationError`` keyed by ``field`` for: a missing amount, a currency other than
    XOF or EUR, a negative amount (or zero when ``allow_zero`` is false), an XOF fraction, more
    than two decimals in EUR.
    """
    if money is None:
        raise _error(field, _("An amount is required."), "required")
    if not isinstance(money, Money):
        raise _error(field, _("An amount must carry its currency."), "currency_missing")
    currency = str(money.currency)
    if currency not in CURRENCIES:
        raise _error(field, _("Only XOF and EUR are accepted, not %(currency)s.") % {"currency": currency},
                     "currency_not_allowed")
    try:
        amount = Decimal(money.amount)
    except (InvalidOperation, TypeError) as exc:
        raise _error(field, _("Not a number."), "invalid") from exc
    if amount < 0 or (amount == 0 and not allow_zero):
        raise _error(field, _("An amount must be positive."), "negative_amount")
    if currency == XOF and not is_whole(amount):
        raise _error(field, _("XOF has no minor unit: %(amount)s is not a whole number of francs.")
             % {"amount": amount}, "fractional_xof")
    if currency == EUR and amount != quantize_amount(amount, EUR):
        raise _error(field, _("EUR amounts have at most two decimals."), "too_many_decimals")


def _error(field: str, message, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})
