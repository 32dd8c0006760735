"""Bench: a statement of 2,000 expenditures submitted and checked, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_statement \
        .venv/bin/python bench/bench_statement.py --lines 2000

Makes a throwaway database (dropped and created), loads the seed, records the quarter's
transfer, creates a draft statement of N lines, then times statement_submit (every check, the
ledger rows written with their history and conversions) and counts its queries.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledger_bench_statement")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = ["psql", "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432), "-U",
             parsed.username or "postgres", "-d", "postgres", "-q", "-c"]
    subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from moneyed import Money

    from budget.seed import seed_load
    from expenditures.services import transfer_record
    from expenditures.statements import statement_create, statement_submit
    from grants.models import Partner

    call_command("migrate", verbosity=0)
    grant = seed_load().grant
    partner = Partner.objects.get(code="BNCE")
    received = Decimal("6500000") * 10
    transfer_record(grant=grant, partner=partner, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                    amount_sent=Money(Decimal("100000.00"), "EUR"), amount_received=Money(received, "XOF"))
    lines_allowed = ["1.1", "1.2", "2.1", "2.2", "2.3", "2.5", "2.6", "3.1", "4.1", "6.1"]
    places = ["BKO", "SEG", "SIK", "MOP"]
    lines, spent = [], Decimal("0")
    for i in range(args.lines):
        amount = Decimal(10000 + (i * 7919) % 20000)
        spent += amount
        lines.append({"date": (date(2016, 7, 1) + timedelta(days=i % 92)).isoformat(),
                      "budget_line": lines_allowed[i % len(lines_allowed)], "location": places[i % 4],
                      "amount": str(amount), "amount_currency": "XOF", "voucher": f"BNCE-Q3-{i:05d}",
                      "description": "bench"})
    closing = received - spent
    statement = statement_create(grant=grant, partner=partner, period="2016-Q3",
                                 opening_balance=Money(0, "XOF"), funds_received=Money(received, "XOF"),
                                 closing_balance=Money(closing, "XOF"), cash_on_hand=Money(0, "XOF"),
                                 bank_balance=Money(closing, "XOF"), lines=lines,
                                 explanations={code: "bench" for code in lines_allowed})
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        statement_submit(statement=statement)
        elapsed = time.perf_counter() - started
    print(f"lines={args.lines} submit_seconds={elapsed:.3f} queries={len(queries)}")


if __name__ == "__main__":
    main()
