"""Fields of the API's contract: money as two siblings (`amount`, `amount_currency`) and related
records named by their codes."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from moneyed import Money
from rest_framework import serializers

from grants.access import grants_visible_to, no_such_grant
from grants.errors import ApplicationError, ErrorCode
from grants.models import Grant
from grants.money import CURRENCY_CHOICES, EUR, parse_amount, parse_number, quantize_amount
from grants.periods import MONTH_PATTERN, PERIOD_PATTERN, month_parse, period_parse, quarter_label
from grants.validation import holds_nul

MONEY_MAX_DIGITS = 14


def decimal_string(*, nullable: bool = False, description: str = "") -> dict:
    """The schema of a computed decimal shown as a JSON string ("1000.00"), as DRF's DecimalField
    is (drf-spectacular's ``OpenApiTypes.DECIMAL`` would say a JSON number)."""
    schema = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(?:\.\d+)?$"}
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


@extend_schema_field({
    "type": "string", "format": "decimal", "pattern": r"^\d{1,12}(?:\.\d{1,2}0*)?$", "example": "655957",
    "description": "A decimal string: whole francs in XOF, cents in EUR (trailing zeros allowed: \"1.500\" is 1.50).",
})
class MoneyAmountField(serializers.DecimalField):
    """The amount of a django-money field, as a string quantized to its currency: XOF "655957",
    EUR "1000.00". On input, a decimal string or number, read by ``grants.money.parse_number``
    (the number alone, exactly as sent); its currency comes from the sibling ``<name>_currency``
    field, and ``MoneyInputMixin`` parses the two with ``parse_amount``, as a statement does."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)
        # Never answered: parse_number reads any length and any decimals; a third decimal in EUR is
        # parse_amount's too_many_decimals once the currency is known.
        for code in ("max_decimal_places", "max_string_length"):
            self.error_messages.pop(code, None)

    def to_internal_value(self, data):
        if isinstance(data, float):  # a number from a parser other than the API's exact JSON one
            data = repr(data)
        try:
            return parse_number(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code=exc.code) from None

    def to_representation(self, value):
        if isinstance(value, Money):
            return str(quantize_amount(value.amount, str(value.currency)))
        return super().to_representation(value)


def currency_field(choices=CURRENCY_CHOICES, **kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, **kwargs)


EUR_ONLY = [(EUR, "EUR")]


class MoneyInputMixin:
    """Combines each money field with its ``_currency`` sibling into a ``Money`` in ``validate``,
    through ``grants.money.parse_amount`` (the parser a statement's lines go through too), and
    refuses what no amount may be (negative, XOF fraction, a third decimal in EUR...), naming the
    field."""

    money_fields: tuple[str, ...] = ()
    positive_money_fields: tuple[str, ...] = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        errors = {}
        for name in self.money_fields:
            currency_name = f"{name}_currency"
            if name not in attrs and currency_name not in attrs:
                continue
            amount = attrs.pop(name, None)
            currency = attrs.pop(currency_name, None)
            if self.instance is not None:  # a partial update keeps the other half
                current = getattr(self.instance, name)
                amount = current.amount if amount is None else amount
                currency = str(current.currency) if currency is None else currency
            if amount is None:
                errors[name] = serializers.ErrorDetail(_("An amount is required."), code=ErrorCode.REQUIRED)
                continue
            if currency is None:
                errors[currency_name] = serializers.ErrorDetail(
                    _("The currency is required: XOF or EUR."), code=ErrorCode.REQUIRED)
                continue
            try:
                amount = parse_amount(amount, currency, allow_zero=name not in self.positive_money_fields)
            except DjangoValidationError as exc:
                errors[name] = serializers.ErrorDetail(exc.messages[0], code=exc.code)
                continue
            attrs[name] = Money(amount, currency)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CodeRelatedField(serializers.SlugRelatedField):
    """A related record named by its ``code``; an unknown code is refused with ``unknown_<what>``."""

    def __init__(self, *, unknown_code: ErrorCode, **kwargs):
        kwargs.setdefault("slug_field", "code")
        self.unknown_code = ErrorCode(unknown_code).value
        super().__init__(**kwargs)
        # Listed among the field's messages, so that the schema documents the code.
        self.error_messages.setdefault(self.unknown_code, "No record with this code.")

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("A code (a string) is expected.", code=ErrorCode.INVALID)
        queryset = self.get_queryset()
        # No code holds a NUL character, and PostgreSQL refuses one in a query (a 500 otherwise).
        found = None if holds_nul(data) else queryset.filter(**{self.slug_field: data}).first()
        if found is None:
            raise serializers.ValidationError(self.unknown_message(data), code=self.unknown_code)
        return found

    def unknown_message(self, data: str) -> str:
        return f"No {self.get_queryset().model._meta.verbose_name} with code {data!r}."


class GrantReferenceField(CodeRelatedField):
    """A grant named in a request body: one the user sees (``grants.access.grants_visible_to``). A
    grant out of the user's sight is refused as one that does not exist, with the same code (400
    ``unknown_grant``) and the same words (``grants.access.no_such_grant``)."""

    def __init__(self, **kwargs):
        super().__init__(queryset=Grant.objects.all(), unknown_code=ErrorCode.UNKNOWN_GRANT, **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return super().get_queryset() if request is None else grants_visible_to(request.user)

    def unknown_message(self, data: str) -> str:
        return no_such_grant(data)


# --- periods: read by grants.periods, within its bounds ------------------------------------------

def _as_field_error(exc: ApplicationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message, code=exc.code)


@extend_schema_field({"type": "string", "pattern": PERIOD_PATTERN, "example": "2016-Q3",
                      "description": 'A calendar quarter, e.g. "2016-Q3".'})
class PeriodField(serializers.CharField):
    """A calendar quarter, "2016-Q3", read by ``grants.periods.period_parse``: ``invalid`` for
    another text, ``out_of_range`` for a year beyond the bounds. Its value is the quarter's label."""

    def to_internal_value(self, data):
        try:
            return quarter_label(*period_parse(super().to_internal_value(data)))
        except ApplicationError as exc:
            raise _as_field_error(exc) from None


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN, "example": "2016-02",
                      "description": 'A calendar month, "YYYY-MM".'})
class MonthField(serializers.CharField):
    """A calendar month, "2016-02", read by ``grants.periods.month_parse`` into its first day;
    shown as "YYYY-MM" (not strftime: it writes the year 500 as "500")."""

    def to_internal_value(self, data):
        try:
            return month_parse(super().to_internal_value(data))
        except ApplicationError as exc:
            raise _as_field_error(exc) from None

    def to_representation(self, value):
        return f"{value.year:04d}-{value.month:02d}"
