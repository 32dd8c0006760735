"""Money as a value with a currency: the one place that knows each currency's precision.

Every amount in the ledger is a ``moneyed.Money`` in XOF or EUR. XOF has no minor unit,
EUR has cents. Conversions divide by the full rate and round once, half up, at the end.
No float ever enters here.

``money_sum`` is the one way to add money up in the database: exact on SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, DecimalField, Expression, F, Func, Sum
from django.db.models.functions import Cast, Round
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


# Digits of a summed amount: 13 before the point is the most SQLite's REAL carries exactly (15
# significant digits with the cents), far above any grant.
SUM_DIGITS = 15


class MoneyValue(Func):
    """An amount computed in SQL, read as a ``Decimal`` quantized to ``places``.

    The SQL passes through unchanged; only the value read back is shaped. Wrap a subquery or a
    ``Coalesce`` of a ``money_sum`` in it so that the outer read is quantized too (SQLite hands any
    computed decimal back with 15 significant digits, ``907174.010000000``).
    """

    template = "%(expressions)s"

    def __init__(self, expression, places: int = 2):
        self.places = places
        super().__init__(expression, output_field=DecimalField(max_digits=SUM_DIGITS, decimal_places=places))

    def convert_value(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(value).quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)


def minor_units(field: str | Expression, places: int = 2) -> Cast:
    """One row's amount as whole minor units (cents for ``places`` 2, francs for 0), a bigint:
    exact on either database. ``Sum`` of it is an exact integer total (what ``money_sum`` scales
    back); the reports keep money as such integers in their frames."""
    column = F(field) if isinstance(field, str) else field
    scale = 10 ** places
    return Cast(Round(column * scale) if scale != 1 else Round(column), BigIntegerField())


class MoneySum(MoneyValue):
    """``SUM`` of a money column or expression, exact on SQLite and PostgreSQL; see ``money_sum``."""

    def __init__(self, field: str | Expression, places: int = 2):
        # Whole minor units (cents, francs) per row, added as integers: no rounding error can
        # accumulate, whatever the number of rows.
        self.scale = 10 ** places
        super().__init__(Sum(minor_units(field, places)), places)

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite has no decimal type: the integer total is divided into a REAL once, and the
        # reader recovers it exactly (at most 15 significant digits) before quantizing.
        return self.as_sql(compiler, connection, template=f"(%(expressions)s / {self.scale}.0)",
                           **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        # SUM(bigint) is NUMERIC; times an exact literal (0.01) it keeps exactly ``places`` digits.
        factor = f"{Decimal(1).scaleb(-self.places):f}"
        return self.as_sql(compiler, connection, template=f"(%(expressions)s * {factor})", **extra_context)


def money_sum(field: str | Expression, places: int = 2) -> MoneySum:
    """The exact sum of a money column (or expression), read as a ``Decimal`` with ``places`` digits.

    ``places`` is the column's decimal places (2 for cents, 0 for the whole-franc columns). Use it
    wherever money is summed in the database, in ``aggregate``, ``annotate`` or a subquery; it is
    NULL (``None``) over no rows, as ``Sum`` is.

    Why not ``Sum``: SQLite stores decimals as REAL and sums them as floats, so ``Sum("amount_eur")``
    over a few thousand rows answers 907174.009999999 where the rows add up to 907174.01. Here each
    row is rounded to whole minor units (integers) and those are added, on both databases, so the
    total is exact; it is scaled back once. It adds whatever rows it is given: group by currency
    (``values("currency")``) before summing an amount that is not all in one currency.
    """
    return MoneySum(field, places)


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
