"""Benchmark: the auditor's check (``reports.checks.ledger_check``) at scale, on PostgreSQL.

A plain script, not a test. It needs ``DATABASE_URL`` pointing at a throwaway PostgreSQL database:
it migrates it, loads the seed and, unless the seed grant already has ``--expenditures``
expenditures, fills it with ``generate_history --replace``; then it accepts every quarter of every
partner that has spending (statements sealed with ``statement_seal``, in order, so the chain
holds), so that the digests cover every row: the worst case for the check.

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_audit'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_audit \\
        .venv/bin/python bench/bench_ledger_check.py --expenditures 1000000

What it measures (median of ``--repeat`` runs after one warm-up): the whole ``ledger_check`` of
the grant, and each of its four parts alone (conversions of every partner through
``fx.stale_conversions``; the digests of the accepted statements and their chain; the six report
groupings against the ledger's exact sum; the versions' totals), with the number of queries of
one whole run. Goal (issue 11): well under a minute for 1,000,000 expenditures. It prints a
Markdown section for ``bench/RESULTS.md`` with the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

from bench_reports import GRANT, machine, setup_django  # the benches' machine section and Django setup


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up: caches, connection, query plans
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def accept_every_quarter(grant) -> tuple[int, float]:
    """Seal an accepted statement for every partner and quarter with spending, oldest first."""
    from django.db import transaction
    from django.db.models.functions import ExtractMonth, ExtractYear
    from django.utils import timezone

    from expenditures.audit import statement_seal
    from expenditures.models import Expenditure, QuarterlyStatement

    QuarterlyStatement.objects.filter(grant=grant).delete()
    quarters = sorted({
        (partner_id, year, (month - 1) // 3 + 1)
        for partner_id, year, month in Expenditure.objects.filter(grant=grant)
        .annotate(y=ExtractYear("date"), m=ExtractMonth("date")).values_list("partner_id", "y", "m").distinct()
    })
    started = time.perf_counter()
    with transaction.atomic():
        for partner_id, year, quarter in quarters:
            statement = QuarterlyStatement(grant=grant, partner_id=partner_id, year=year, quarter=quarter,
                                           status="accepted", reviewed_at=timezone.now())
            statement_seal(statement)
            statement.save()
    return len(quarters), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expenditures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a throwaway PostgreSQL database, e.g. "
              "postgres://postgres@127.0.0.1:5432/ledger_bench_audit", file=sys.stderr)
        return 2
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from expenditures import audit
    from expenditures.models import Expenditure, QuarterlyStatement
    from grants.models import Grant
    from reports import checks

    call_command("migrate", verbosity=0)
    call_command("load_seed", verbosity=0, stdout=io.StringIO())  # stdout is the Markdown section
    grant = Grant.objects.get(code=GRANT)
    have = Expenditure.objects.filter(grant=grant).count()
    if have != args.expenditures:
        print(f"filling {GRANT} with {args.expenditures:,} expenditures (had {have:,})...", file=sys.stderr)
        QuarterlyStatement.objects.filter(grant=grant).delete()  # the demo-data generator refuses accepted quarters
        started = time.perf_counter()
        call_command("generate_history", seed=args.seed, expenditures=args.expenditures, replace=True,
                     stdout=sys.stderr)
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    partners = list(grant.partners.order_by("code"))

    def conversions():
        part = audit.Report()
        for partner in partners:
            audit._check_conversions(grant, partner, part)
        return part

    # Before any quarter is accepted, every row's conversion is compared (accepted ones are not).
    QuarterlyStatement.objects.filter(grant=grant).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE expenditures_expenditure")
    if conversions().discrepancies:
        print("stale conversions on fresh demo data", file=sys.stderr)
        return 1
    open_conversions = median_time(conversions, args.repeat)
    statements, seal_seconds = accept_every_quarter(grant)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE expenditures_expenditure")
        cursor.execute("ANALYZE expenditures_quarterlystatement")
    total = Expenditure.objects.filter(grant=grant).count()
    print(f"{total:,} expenditures, {statements} accepted statements sealed in {seal_seconds:.1f} s",
          file=sys.stderr)

    with CaptureQueriesContext(connection) as queries:
        report = checks.ledger_check(grant=grant)
    if not report.ok:
        print("the check found discrepancies on fresh demo data:", file=sys.stderr)
        for finding in report.discrepancies[:20]:
            print(f"  {finding}", file=sys.stderr)
        return 1
    def digests():
        audit._check_statements(grant, audit.Report(), audit._Codes(), lambda: None)

    def footing():
        checks.check_footing(grant, audit.Report())

    def versions():
        audit._check_versions(grant, audit.Report())

    rows = [("ledger_check (whole grant)", median_time(lambda: checks.ledger_check(grant=grant), args.repeat))]
    for name, fn in (("conversions (stale_conversions, every partner; accepted rows skipped)", conversions),
                     ("digests of the accepted statements and their chain", digests),
                     ("report footing (6 groupings against the exact SQL sum)", footing),
                     ("budget versions' totals", versions)):
        rows.append((name, median_time(fn, args.repeat)))
    rows.append(("conversions with no quarter accepted (every row compared), for comparison", open_conversions))

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    out = [
        f"## ledger_check at {total:,} expenditures (PostgreSQL {server})",
        "",
        "Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_audit "
        f".venv/bin/python bench/bench_ledger_check.py --expenditures {args.expenditures} --repeat {args.repeat}`",
        "",
        f"Every partner-quarter with spending accepted and sealed ({statements} statements, so the digests cover "
        f"every row; sealing them all took {seal_seconds:.1f} s). Median of {args.repeat} runs after a warm-up; "
        f"{len(queries.captured_queries)} queries for one whole run.",
        "",
        "| what | seconds |",
        "| --- | ---: |",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in rows],
        "",
        f"Goal: well under a minute for 1,000,000 expenditures: "
        f"**{'met' if rows[0][1] + open_conversions < 60 else 'not met'}** ({rows[0][1]:.1f} s at {total:,} with "
        f"every quarter accepted; at most {rows[0][1] + open_conversions:.1f} s adding the conversions of every row, "
        "a bound no grant reaches: a row is either in an accepted quarter (digested) or open (converted)).",
        "",
        "Machine:",
        "",
        *machine(),
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
