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

from grants.errors import ErrorCode

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


# The ledger's amount columns: 14 digits, 12 of them before the decimal point.
MAX_DIGITS = 14
MAX_WHOLE_DIGITS = 12
MAX_TEXT_LENGTH = 1000


def parse_number(value: str | int | Decimal) -> Decimal:
    """An amount as sent (a string such as "1.50", an int or a Decimal), its currency not yet known:
    the finite number it is, exactly as written, within the ledger's columns.

    Raises ``ValidationError`` with the registry's code: ``invalid`` (not a finite number),
    ``max_digits`` (more than 14 digits in all), ``max_whole_digits`` (more than 12 before the
    point). Trailing zeros after the point are not digits: "1.500" has three.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValidationError(_("An amount such as 125000 is expected."), code=ErrorCode.INVALID)
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
        raise ValidationError(_("An amount such as 125000 is expected."), code=ErrorCode.INVALID)
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(_("An amount such as 125000 is expected."), code=ErrorCode.INVALID) from exc
    if not amount.is_finite():
        raise ValidationError(_("An amount such as 125000 is expected."), code=ErrorCode.INVALID)
    _sign, digits, exponent = amount.normalize().as_tuple()
    decimal_places = max(0, -exponent)
    whole_digits = max(0, len(digits) + exponent)
    if whole_digits + decimal_places > MAX_DIGITS:
        raise ValidationError(_("An amount has at most %(count)s digits.") % {"count": MAX_DIGITS},
                              code=ErrorCode.MAX_DIGITS)
    if whole_digits > MAX_WHOLE_DIGITS:
        raise ValidationError(_("An amount has at most %(count)s digits before the decimal point.")
                              % {"count": MAX_WHOLE_DIGITS}, code=ErrorCode.MAX_WHOLE_DIGITS)
    return amount


def parse_amount(value: str | int | Decimal, currency: str, *, allow_zero: bool = True) -> Decimal:
    """The one parser of an amount in ``currency``: the API's money fields and a statement's lines
    use it, so that one input gets one answer and one code wherever it is sent.

    Returns the amount at the currency's precision: "1.500" EUR is 1.50 (trailing zeros are not
    extra precision), "12.0" XOF is 12. Raises ``ValidationError`` with the registry's code: those
    of ``parse_number``, then ``currency_not_allowed``, ``negative_amount`` (below zero, or zero
    unless ``allow_zero``), ``fractional_xof``, ``too_many_decimals`` (a third decimal in EUR that
    is not zero, as in "1.505").
    """
    amount = parse_number(value)
    check_amount(amount, currency, allow_zero=allow_zero)
    return quantize_amount(amount, currency)  # exact: the checks left nothing to round


def check_amount(amount: Decimal, currency: str, *, allow_zero: bool = True) -> None:
    """Refuse what no amount in the ledger may be, whatever sent it: a currency other than XOF or
    EUR, a negative amount (or zero when ``allow_zero`` is false), an XOF fraction, more than two
    decimals in EUR. Raises ``ValidationError`` with the registry's code."""
    if currency not in CURRENCIES:
        raise ValidationError(_("Only XOF and EUR are accepted, not %(currency)s.") % {"currency": currency},
                              code=ErrorCode.CURRENCY_NOT_ALLOWED)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError(_("An amount must be positive."), code=ErrorCode.NEGATIVE_AMOUNT)
    if currency == XOF and not is_whole(amount):
        raise ValidationError(_("XOF has no minor unit: %(amount)s is not a whole number of francs.")
                              % {"amount": amount}, code=ErrorCode.FRACTIONAL_XOF)
    if currency == EUR and amount != quantize_amount(amount, EUR):
        raise ValidationError(_("EUR amounts have at most two decimals."), code=ErrorCode.TOO_MANY_DECIMALS)


def validate_money(money: Money | None, field: str, *, allow_zero: bool = True) -> None:
    """Refuse what no amount in the ledger may be (``check_amount``), for a service given a ``Money``.

    Raises ``ValidationError`` keyed by ``field``: ``required`` for a missing amount,
    ``currency_missing`` for a bare number, ``invalid`` for an amount that is not a number, and
    the codes of ``check_amount``.
    """
    if money is None:
        raise _error(field, _("An amount is required."), ErrorCode.REQUIRED)
    if not isinstance(money, Money):
        raise _error(field, _("An amount must carry its currency."), ErrorCode.CURRENCY_MISSING)
    try:
        amount = Decimal(money.amount)
    except (InvalidOperation, TypeError) as exc:
        raise _error(field, _("Not a number."), ErrorCode.INVALID) from exc
    try:
        check_amount(amount, str(money.currency), allow_zero=allow_zero)
    except ValidationError as exc:
        raise ValidationError({field: exc}) from None


def _error(field: str, message, code: ErrorCode) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})
