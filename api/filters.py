"""Query filters of the list endpoints (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from expenditures.models import Expenditure, ExpenditureStatus, FundTransfer
from grants.money import CURRENCY_CHOICES


class ExpenditureFilter(django_filters.FilterSet):
    grant = django_filters.CharFilter(field_name="grant__code", help_text="A grant's code.")
    partner = django_filters.CharFilter(field_name="partner__code", help_text="A partner's code.")
    budget_line = django_filters.CharFilter(
        method="filter_budget_line", help_text="A line's code; a heading's code takes all its lines."
    )
    location = django_filters.CharFilter(field_name="location__code")
    currency = django_filters.ChoiceFilter(field_name="amount_currency", choices=CURRENCY_CHOICES)
    status = django_filters.ChoiceFilter(choices=ExpenditureStatus.choices)
    date_after = django_filters.DateFilter(field_name="date", lookup_expr="gte", help_text="On or after.")
    date_before = django_filters.DateFilter(field_name="date", lookup_expr="lte", help_text="On or before.")
    statement = django_filters.NumberFilter(field_name="statement_id")

    class Meta:
        model = Expenditure
        fields = ["grant", "partner", "budget_line", "location", "currency", "status", "date_after",
                  "date_before", "statement"]

    def filter_budget_line(self, queryset, name, value):
        return queryset.filter(Q(budget_line__code=value) | Q(budget_line__parent__code=value))


class TransferFilter(django_filters.FilterSet):
    grant = django_filters.CharFilter(field_name="grant__code")
    partner = django_filters.CharFilter(field_name="partner__code")
    received_after = django_filters.DateFilter(field_name="received_on", lookup_expr="gte")
    received_before = django_filters.DateFilter(field_name="received_on", lookup_expr="lte")

    class Meta:
        model = FundTransfer
        fields = ["grant", "partner", "received_after", "received_before"]
