"""Seed the rate table with the one fixed fact: 1 EUR = 655.957 XOF since 1 January 1999."""

from decimal import Decimal

from django.db import migrations

PARITY = Decimal("655.957")
SOURCE = "Fixed parity, Council Decision 98/683/EC (1 EUR = 655.957 XOF since 1999-01-01)"


def seed_parity(apps, schema_editor):
    ExchangeRate = apps.get_model("expenditures", "ExchangeRate")
    ExchangeRate.objects.get_or_create(
        currency="XOF", month=None, defaults={"rate": PARITY, "source": SOURCE}
    )


def unseed_parity(apps, schema_editor):
    apps.get_model("expenditures", "ExchangeRate").objects.filter(
        currency="XOF", month=None, rate=PARITY
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("expenditures", "0001_initial")]
    operations = [migrations.RunPython(seed_parity, unseed_parity)]
