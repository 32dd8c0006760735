"""factory-boy factories for small, self-made grants (the Mali seed has its own fixture)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from moneyed import Money

from budget.models import BudgetLine
from grants.models import Donor, Grant, Location, Partner


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n}")
    name = factory.LazyAttribute(lambda o: f"Partner {o.code}")
    reporting_currency = "XOF"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"L{n}")
    name = factory.LazyAttribute(lambda o: f"Place {o.code}")
    region = "Test region"


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"D{n}")
    name = factory.LazyAttribute(lambda o: f"Donor {o.code}")


class GrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grant
        django_get_or_create = ("code",)
        skip_postgeneration_save = True  # the hook below sets partners, which needs no save

    code = factory.Sequence(lambda n: f"G-{n}")
    title = "A test grant"
    total = Money(Decimal("100000.00"), "EUR")
    start_date = date(2020, 1, 1)
    end_date = date(2022, 12, 31)
    fx_method = "parity"

    @factory.post_generation
    def partners(self, create, extracted, **kwargs):
        if create and extracted:
            self.partners.set(extracted)


class BudgetLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BudgetLine

    grant = factory.SubFactory(GrantFactory)
    code = factory.Sequence(lambda n: f"{n}")
    label_fr = factory.LazyAttribute(lambda o: f"Ligne {o.code}")
    label_en = factory.LazyAttribute(lambda o: f"Line {o.code}")
    parent = None
    position = factory.Sequence(lambda n: n)
