"""Turning XOF into EUR. The rate always comes from the rate table; the arithmetic is Decimal.

``convert_to_eur`` is the one conversion helper: XOF / rate, half up to the cent, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from moneyed import Money

from expenditures.models import ExchangeRate
from grants.models import FxMethod
from grants.money import EUR, XOF, divide_to_eur

ONE = Decimal("1")


class RateMissing(LookupError):
    pass


def parity_rate(currency: str = XOF) -> Decimal:
    """The standing rate of ``currency`` (655.957 for XOF), from the rate table."""
    rate = (
        ExchangeRate.objects.filter(currency=currency, month__isnull=True)
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise RateMissing(f"no standing rate for {currency} in the rate table")
    return rate


def monthly_rate(month: date, currency: str = XOF) -> Decimal | None:
    return (
        ExchangeRate.objects.filter(currency=currency, month=month.replace(day=1))
        .values_list("rate", flat=True)
        .first()
    )


def convert_to_eur(amount: Money, *, rate: Decimal | None = None) -> Money:
    """``amount`` in EUR: EUR unchanged; XOF divided by ``rate`` (default: the parity), half up
    to the cent. Refuses anything but a ``Money`` in XOF or EUR."""
    if not isinstance(amount, Money):
        raise TypeError("convert_to_eur takes a Money")
    currency = str(amount.currency)
    if currency == EUR:
        return Money(amount.amount, EUR)
    if currency != XOF:
        raise ValueError(f"cannot convert {currency}")
    return Money(divide_to_eur(amount.amount, rate if rate is not None else parity_rate()), EUR)


@dataclass(frozen=True)
class Conversion:
    amount_eur: Decimal
    fx_rate: Decimal
    fx_method: str
    rate_missing: bool = False


def conversion_at_parity(amount: Money, *, parity: Decimal | None = None) -> Conversion:
    """Stored values for an expenditure converted at the standing rate (method ``parity``)."""
    if str(amount.currency) == EUR:
        return Conversion(amount.amount, ONE, FxMethod.PARITY)
    rate = parity if parity is not None else parity_rate()
    return Conversion(convert_to_eur(amount, rate=rate).amount, rate, FxMethod.PARITY)


def conversion_for(amount: Money, *, method: str, day: date) -> Conversion:
    """The conversion of one expenditure that can be decided alone (parity, monthly rate).

    Methods that depend on the partner's other transfers and spending (fifo, weighted
    average) are settled by ``revalue_partner`` after the write.
    """
    if str(amount.currency) == EUR:
        return Conversion(amount.amount, ONE, method)
    if method == FxMethod.MONTHLY_RATE:
        rate = monthly_rate(day)
        if rate is None:
            return Conversion(convert_to_eur(amount).amount, parity_rate(), method, rate_missing=True)
        return Conversion(convert_to_eur(amount, rate=rate).amount, rate, method)
    return Conversion(convert_to_eur(amount).amount, parity_rate(), method)


def apply_conversion(expenditure) -> None:
    """Set the stored EUR value, rate and method of an unsaved or changed expenditure."""
    conversion = conversion_for(expenditure.amount, method=expenditure.grant.fx_method,
                                day=expenditure.date)
    expenditure.amount_eur = conversion.amount_eur
    expenditure.fx_rate = _shown_rate(expenditure.amount, conversion)
    expenditure.fx_method = conversion.fx_method
    expenditure.rate_missing = conversion.rate_missing
    expenditure.unfunded_xof = Decimal("0")


def _shown_rate(amount: Money, conversion: Conversion) -> Decimal:
    """The rate shown on an expenditure: its amount over its EUR, to 6 decimals."""
    if str(amount.currency) == EUR or not conversion.amount_eur:
        return conversion.fx_rate.quantize(Decimal("0.000001"))
    return (amount.amount / conversion.amount_eur).quantize(Decimal("0.000001"))


def after_expenditure_change(*, grant, partner) -> None:
    """Hook: methods whose conversions depend on the partner's other rows recompute them."""


def after_transfer_change(*, grant, partner) -> None:
    """Hook: a transfer moved; methods that read transfers recompute the partner's rows."""
