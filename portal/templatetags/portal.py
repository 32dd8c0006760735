"""How the partner's page writes an amount: at its currency's precision, grouped by thousands in
the page's language ("1 311 914" in French, "1,311,914" in English)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import number_format

from grants.money import PRECISION

register = template.Library()


@register.filter
def amount(value: Decimal | None, currency: str) -> str:
    if value is None:
        return "–"
    places = -PRECISION[currency].as_tuple().exponent
    return number_format(value, places, use_l10n=True, force_grouping=True)


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    """``amount`` followed by the currency; a dash alone where there is no amount."""
    return "–" if value is None else f"{amount(value, currency)} {currency}"
