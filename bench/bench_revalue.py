"""Bench: revaluing one partner's spending under fifo on PostgreSQL, at 62,500, 125,000 and
250,000 expenditures, to show time and queries grow linearly (not quadratically).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_fx .venv/bin/python bench/bench_revalue.py

The database named in DATABASE_URL is a throwaway: it is dropped and created afresh, migrated,
loaded with the Mali seed, and dropped at the end (``--keep`` leaves it). For each size, BNCE's
spending on the Mali grant is made with ``bulk_create`` at the parity (amounts 1,000-100,000 XOF
from a seeded generator, dates over the grant's three years) with 12 quarterly transfers that
bring 97 % of the XOF spent, so the last expenditures are unfunded; then the grant is set to fifo
and ``expenditures.fx.revalue_partner`` is timed, queries counted with
``django.test.utils.CaptureQueriesContext``: first every row changes (parity to fifo), then a
second run that changes nothing. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledger_bench_fx")

SIZES = (62_500, 125_000, 250_000)
TRANSFERS = 12


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def make_spending(size: int, seed: int):
    """``size`` BNCE expenditures at the parity and 12 transfers, written in bulk."""
    from moneyed import Money

    from budget.models import BudgetLine
    from expenditures import fx
    from expenditures.models import Expenditure, FundTransfer
    from grants.models import Grant, Location, Partner
    from grants.money import divide_to_eur

    grant = Grant.objects.get(code="ML-ESEC-2015")
    partner = Partner.objects.get(code="BNCE")
    line = BudgetLine.objects.get(grant=grant, code="1.1")
    location = Location.objects.get(code="BKO")
    parity = fx.parity_rate()
    rng = random.Random(seed)
    days = (grant.end_date - grant.start_date).days
    rows, spent = [], 0
    for number in range(size):
        francs = rng.randint(1_000, 100_000)
        spent += francs
        amount = Decimal(francs)
        rows.append(Expenditure(
            grant=grant, partner=partner, budget_line=line, location=location,
            date=grant.start_date + timedelta(days=rng.randrange(days + 1)),
            amount=Money(amount, "XOF"), amount_eur=divide_to_eur(amount, parity), fx_rate=parity,
            fx_method="parity", voucher=f"BENCH-{number}", status="validated",
        ))
    Expenditure.objects.bulk_create(rows, batch_size=5000)
    received_total = spent * 97 // 100
    transfers = []
    for quarter in range(TRANSFERS):
        xof = received_total // TRANSFERS + (received_total % TRANSFERS if quarter == 0 else 0)
        rate = Decimal(rng.randint(645_000, 655_000)) / 1000  # XOF per EUR obtained, fees apart
        sent = (Decimal(xof) / rate).quantize(Decimal("0.01"))
        day = date(grant.start_date.year + (grant.start_date.month - 1 + 3 * quarter) // 12,
                   (grant.start_date.month - 1 + 3 * quarter) % 12 + 1, 5)
        transfers.append(FundTransfer(grant=grant, partner=partner, sent_on=day, received_on=day + timedelta(days=3),
                                      amount_sent=Money(sent, "EUR"), amount_received=Money(Decimal(xof), "XOF"),
                                      fees=Money(Decimal("25.00"), "EUR"), note="bench"))
    FundTransfer.objects.bulk_create(transfers)
    return grant, partner


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE expenditures_expenditurefunding, expenditures_expenditure, expenditures_historicalexpenditure,"
            " expenditures_fundtransfer, expenditures_historicalfundtransfer"
        )
        cursor.execute("VACUUM ANALYZE")


def timed_revalue(grant, partner) -> tuple[float, int, int, Decimal]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from expenditures import fx

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        with transaction.atomic():
            result = fx.revalue_partner(grant=grant, partner=partner, reason="bench")
        seconds = time.perf_counter() - start
    return seconds, len(queries.captured_queries), result.count, result.delta_eur


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="leave the database for a look afterwards")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL: the bench creates and drops that database.")
    recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from grants.models import Grant

    call_command("migrate", verbosity=0)
    call_command("load_seed", verbosity=0)
    version = connection.cursor().connection.info.server_version
    print(f"PostgreSQL {version}, database {connection.settings_dict['NAME']}")
    print()
    print("| expenditures | funding pieces | first run (parity -> fifo) | queries | rows changed | µs per row "
          "| second run (no change) | queries |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    try:
        for size in args.sizes:
            empty_tables()
            grant, partner = make_spending(size, args.seed)
            Grant.objects.filter(pk=grant.pk).update(fx_method="fifo")
            grant.refresh_from_db()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            first, first_queries, changed, _delta = timed_revalue(grant, partner)
            second, second_queries, unchanged, _ = timed_revalue(grant, partner)
            assert unchanged == 0, "a second revaluation must change nothing"
            from expenditures.models import ExpenditureFunding

            pieces = ExpenditureFunding.objects.count()
            print(f"| {size:,} | {pieces:,} | {first:.2f} s | {first_queries} | {changed:,} "
                  f"| {first / size * 1e6:.0f} | {second:.2f} s | {second_queries} |", flush=True)
    finally:
        connection.close()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
