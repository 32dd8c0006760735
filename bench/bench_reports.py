"""Benchmark: the variance report and the donor's workbook at scale, on PostgreSQL.

A plain script, not a test (``make bench`` does not collect it). It needs ``DATABASE_URL``
pointing at a throwaway PostgreSQL database. It migrates it, loads the seed and, unless the seed
grant already has ``--expenditures`` expenditures, fills it with ``generate_history --replace``:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_reports'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_reports \\
        .venv/bin/python bench/bench_reports.py --expenditures 1000000

What it measures (median of ``--repeat`` runs after one warm-up):

1. the bare SQL ``GROUP BY`` the variance report rests on (counted spending summed by line x
   partner x location x month, as of the grant's end: every row), fetched through a cursor;
2. the JSON variance report for the same as-of date: ``report_inputs`` (the spending's query at
   the grain the grouping needs, as the API view reads it since issue 16, the allocations and the
   labels), ``variance`` and its serializer, rendered to JSON bytes; and the same through the
   whole API (``GET .../reports/variance/``, authentication and middleware included). Goal: at
   most twice the bare SQL. ``bench_grain.py`` sets each grouping against its own ``GROUP BY``;
3. the workbook with an expenditure detail of 25,000, 50,000 and 100,000 rows (the as-of date
   chosen so that that many expenditures count), each in a fresh process: wall time, peak RSS
   growth (``resource.getrusage``) and, in a second pass, the peak of Python allocations
   (``tracemalloc``). Goals: under 15 s for 100,000 rows, memory flat in the number of rows.

It prints the results and the machine as a Markdown section for ``bench/RESULTS.md``. DEBUG stays
as the environment says (off by default); a throwaway SECRET_KEY is used when none is set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
GRANT = "ML-ESEC-2015"
DETAIL_SIZES = (25_000, 50_000, 100_000)

BARE_SQL = """
SELECT budget_line_id, partner_id, location_id, date_trunc('month', date)::date AS month,
       SUM(amount_eur) AS eur
FROM expenditures_expenditure
WHERE grant_id = %s AND status IN ('submitted', 'validated') AND date <= %s
GROUP BY 1, 2, 3, 4
"""


def machine() -> list[str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=True).stdout.rstrip()
    except (OSError, subprocess.CalledProcessError):
        memory = "free -h unavailable"
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return [f"- nproc: {os.cpu_count()}", f"- CPU: {cpu}", f"- Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}", f"- load average at the end (1 / 5 / 15 min): {load}",
            "- free -h:", "", "```", memory, "```"]


def setup_django() -> None:
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # throwaway; the settings refuse a weak one
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the API measurement goes through Django's test client
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def fill_seed_grant(expenditures: int, seed: int, *, analyze: str = "ANALYZE"):
    """Migrate, load the seed and give its grant ``expenditures`` generated expenditures (unless it
    has that many already), then ``analyze`` the table (``"VACUUM (ANALYZE)"`` for a list's
    index-only scan). The one fill every benchmark on a large grant uses; returns the grant."""
    from django.core.management import call_command
    from django.db import connection

    from expenditures.models import Expenditure
    from grants.models import Grant

    call_command("migrate", verbosity=0)
    call_command("load_seed", verbosity=0)
    grant = Grant.objects.get(code=GRANT)
    have = Expenditure.objects.filter(grant=grant).count()
    if have != expenditures:
        print(f"filling {GRANT} with {expenditures:,} expenditures (had {have:,})...", file=sys.stderr)
        call_command("generate_history", seed=seed, expenditures=expenditures, replace=True)
    with connection.cursor() as cursor:
        cursor.execute(f"{analyze} expenditures_expenditure")
    return grant


def median_time(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up: caches, connection, query plans
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def workbook_child(rows: int) -> int:
    """In a fresh process: the workbook whose detail has ``rows`` rows; prints one JSON line."""
    setup_django()
    from django.db import connection

    from expenditures.reconciliation import reconciliation_for
    from grants.models import Grant
    from reports.excel import variance_workbook
    from reports.selectors import budget_version_for

    grant = Grant.objects.get(code=GRANT)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date FROM expenditures_expenditure WHERE grant_id = %s AND status IN ('submitted', "
            "'validated') ORDER BY date, id OFFSET %s LIMIT 1", [grant.pk, rows - 1])
        as_of = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM expenditures_expenditure WHERE grant_id = %s AND status IN "
                       "('submitted', 'validated') AND date <= %s", [grant.pk, as_of])
        counted = cursor.fetchone()[0]
    version = budget_version_for(grant=grant)

    def build():
        _, handle = variance_workbook(grant=grant, as_of=as_of, version=version, lang="fr")
        size = handle.seek(0, 2)
        handle.close()
        return size

    # The FX reconciliation sheet's own query (expenditures.reconciliation), timed alone.
    started = time.perf_counter()
    reconciliation_for(grant=grant, as_of=as_of, partner=None)
    reconciliation_s = time.perf_counter() - started

    rss_before = max_rss_mib()
    started = time.perf_counter()
    size = build()
    seconds = time.perf_counter() - started
    rss_growth = max_rss_mib() - rss_before

    tracemalloc.start()
    build()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rows": counted, "as_of": as_of.isoformat(), "seconds": seconds, "bytes": size,
                      "reconciliation_seconds": reconciliation_s,
                      "rss_before_mib": rss_before, "rss_growth_mib": rss_growth,
                      "traced_peak_mib": traced_peak / 2**20}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expenditures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workbook-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a throwaway PostgreSQL database, e.g. "
              "postgres://postgres@127.0.0.1:5432/ledger_bench_reports", file=sys.stderr)
        return 2
    if args.workbook_child:
        return workbook_child(args.workbook_child)

    setup_django()
    from django.db import connection
    from rest_framework.renderers import JSONRenderer
    from rest_framework.test import APIClient

    from api.views_reports import VarianceReportSerializer
    from expenditures.models import Expenditure
    from reports.selectors import budget_version_for, report_inputs
    from reports.variance import actual_grain, variance

    grant = fill_seed_grant(args.expenditures, args.seed)
    total = Expenditure.objects.filter(grant=grant).count()
    as_of = grant.end_date
    version = budget_version_for(grant=grant)

    def bare_sql():
        with connection.cursor() as cursor:
            cursor.execute(BARE_SQL, [grant.pk, as_of])
            return len(cursor.fetchall())

    def json_report():
        inputs = report_inputs(grant=grant, as_of=as_of, version=version, grain=actual_grain("line"))
        report = variance(inputs, by="line", lang="fr")
        return JSONRenderer().render(VarianceReportSerializer(report).data)

    def json_report_nested():
        inputs = report_inputs(grant=grant, as_of=as_of, version=version, grain=actual_grain("heading,partner"))
        return JSONRenderer().render(VarianceReportSerializer(variance(inputs, by="heading,partner")).data)

    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-reports", defaults={"is_superuser": True})
    client = APIClient()
    client.force_authenticate(user)
    url_report = f"/api/v1/grants/{GRANT}/reports/variance/?by=line&as_of={as_of.isoformat()}"

    def http_report():
        response = client.get(url_report, secure=True)  # as behind TLS: no redirect to https with DEBUG off
        assert response.status_code == 200, response.content[:500]
        return len(response.content)

    sql_s, groups = median_time(bare_sql, args.repeat)
    print(f"bare SQL {sql_s:.3f} s", file=sys.stderr)
    json_s, body = median_time(json_report, args.repeat)
    print(f"JSON report {json_s:.3f} s", file=sys.stderr)
    nested_s, _ = median_time(json_report_nested, args.repeat)
    http_s, _ = median_time(http_report, args.repeat)
    print(f"nested {nested_s:.3f} s, API {http_s:.3f} s", file=sys.stderr)

    workbooks = []
    for rows in DETAIL_SIZES:
        out = subprocess.run([sys.executable, __file__, "--workbook-child", str(rows)], capture_output=True,
                             text=True, env=os.environ, check=True)
        workbooks.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"workbook {workbooks[-1]}", file=sys.stderr)

    command = ("DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_reports "
               f".venv/bin/python bench/bench_reports.py --expenditures {args.expenditures} --repeat {args.repeat}")
    ratio = json_s / sql_s
    lines = [
        "## reports", "",
        f"Variance report and donor workbook on PostgreSQL, grant {GRANT} with {total:,} expenditures "
        f"(`generate_history --seed {args.seed}`), as of {as_of.isoformat()}; medians of {args.repeat} runs "
        "after a warm-up. Command:", "", "```", command, "```", "",
        "| what | time | vs bare SQL |", "| --- | --- | --- |",
        f"| bare SQL `GROUP BY` line x partner x location x month ({groups:,} groups) | {sql_s * 1000:.0f} ms | 1.00 |",
        f"| JSON variance report, by=line (selectors + report + serializer + JSON, {len(body):,} bytes) | "
        f"{json_s * 1000:.0f} ms | {ratio:.2f} |",
        f"| JSON variance report, by=heading,partner | {nested_s * 1000:.0f} ms | {nested_s / sql_s:.2f} |",
        f"| `GET .../reports/variance/?by=line` through the API | {http_s * 1000:.0f} ms | {http_s / sql_s:.2f} |",
        "",
        f"Goal, JSON report at most twice the bare SQL: {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f}x).", "",
        "Workbook (French), each size in a fresh process; the detail's rows are the expenditures counted by the "
        "as-of date:", "",
        "| detail rows | as of | time | of which the FX reconciliation query | file | peak RSS growth | "
        "peak Python allocations (tracemalloc) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in workbooks:
        lines.append(f"| {w['rows']:,} | {w['as_of']} | {w['seconds']:.1f} s | {w['reconciliation_seconds']:.1f} s | "
                     f"{w['bytes'] / 2**20:.1f} MiB | {w['rss_growth_mib']:.0f} MiB | {w['traced_peak_mib']:.1f} MiB |")
    biggest = workbooks[-1]
    lines += ["", f"Goal, 100,000-row workbook under 15 s: {'met' if biggest['seconds'] < 15 else 'NOT met'} "
              f"({biggest['seconds']:.1f} s). Memory: peak Python allocations "
              + " / ".join(f"{w['traced_peak_mib']:.1f}" for w in workbooks) + " MiB for "
              + " / ".join(f"{w['rows'] // 1000}k" for w in workbooks) + " rows.", "", "Machine:", ""]
    lines += machine()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
