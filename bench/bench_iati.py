"""Benchmark: the IATI export (``GET /grants/{code}/iati.xml``) of a grant with 1,000,000 expenditures.

A plain script, not a test. It needs ``DATABASE_URL`` pointing at a throwaway PostgreSQL database;
it migrates it, loads the seed and fills the seed grant the way ``bench/bench_reports.py`` does
(``generate_history --replace``), for each of ``--sizes``:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_iati'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_iati \\
        .venv/bin/python bench/bench_iati.py --sizes 100000,1000000
    psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE ledger_bench_iati'

For each size, in a fresh process (so that peak RSS is the export's): the bare SQL ``GROUP BY``
partner x month the expenditure transactions rest on; the export read and checked
(``iati_activity`` + ``iati_violations``); the whole document written (``iati_xml_chunks``); and
the whole API request (``GET .../iati.xml`` with a finance officer's token, the streamed body
read to its end), each the median of ``--repeat`` runs after a warm-up; then the peak RSS growth
over the process's size before the first export (``resource.getrusage``) and, in a second pass, the
peak of Python allocations during one API request (``tracemalloc``). The claim: memory does not
grow with the rows (the expenditures are summed in SQL by partner and month).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# A throwaway key strong enough for the settings' check (bench_reports' own default is refused
# since the settings ask for 50 characters); the child process inherits it.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

from bench_reports import GRANT, fill_seed_grant, machine, max_rss_mib, setup_django  # noqa: E402

BARE_SQL = """
SELECT partner_id, date_trunc('month', date)::date AS month, SUM(amount_eur), MAX(date), COUNT(*)
FROM expenditures_expenditure
WHERE grant_id = %s AND status IN ('submitted', 'validated')
GROUP BY 1, 2
"""


def median(fn, repeat: int) -> tuple[float, object]:
    fn()
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def child(repeat: int) -> int:
    """In a fresh process: time and memory of the export; prints one JSON line."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from expenditures.models import Expenditure
    from grants.models import Grant
    from grants.roles import ensure_role_groups
    from reports.iati import iati_activity, iati_xml_chunks
    from reports.iati_rules import iati_violations

    grant = Grant.objects.get(code=GRANT)
    rows = Expenditure.objects.filter(grant=grant).count()
    user, _ = get_user_model().objects.get_or_create(username="bench-iati-finance")
    user.groups.add(ensure_role_groups()["finance_officer"])
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    def bare_sql():
        with connection.cursor() as cursor:
            cursor.execute(BARE_SQL, [grant.pk])
            return len(cursor.fetchall())

    def read_and_check():
        activity = iati_activity(grant)
        return activity, iati_violations(activity)

    def http():
        response = client.get(f"/api/v1/grants/{GRANT}/iati.xml", secure=True)  # HTTPS, as in production
        assert response.status_code == 200, response.status_code
        return sum(len(chunk) for chunk in response.streaming_content)

    rss_before = max_rss_mib()
    sql_s, groups = median(bare_sql, repeat)
    read_s, (activity, violations) = median(read_and_check, repeat)
    assert violations == [], violations
    write_s, size = median(lambda: sum(len(chunk) for chunk in iati_xml_chunks(activity)), repeat)
    http_s, http_size = median(http, repeat)
    rss_growth = max_rss_mib() - rss_before

    tracemalloc.start()
    http()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({
        "rows": rows, "groups": groups, "transactions": len(activity.transactions), "bytes": http_size,
        "sql_s": sql_s, "read_s": read_s, "write_s": write_s, "http_s": http_s,
        "rss_before_mib": rss_before, "rss_growth_mib": rss_growth, "traced_peak_mib": traced_peak / 2**20,
    }))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="Comma-separated expenditure counts, in order.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or not url.rstrip("/").endswith("/ledger_bench_iati"):
        print("Set DATABASE_URL to the throwaway database ledger_bench_iati, e.g. "
              "postgres://postgres@127.0.0.1:5432/ledger_bench_iati", file=sys.stderr)
        return 2
    if args.child:
        return child(args.repeat)

    setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        fill_seed_grant(size, args.seed)
        connection.close()
        output = subprocess.run([sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
                                capture_output=True, text=True, check=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(results[-1], file=sys.stderr)

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"## IATI export (issue 17) on {server}",
        "",
        f"`GET /api/v1/grants/{GRANT}/iati.xml` of the seed grant filled with `generate_history --seed {args.seed} "
        f"--replace`; medians of {args.repeat} runs after a warm-up, each size in a fresh process; measured "
        f"{started}. Command:",
        "",
        "```",
        "psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_iati'",
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_iati .venv/bin/python bench/bench_iati.py "
        f"--sizes {args.sizes} --repeat {args.repeat}",
        "psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE ledger_bench_iati'",
        "```",
        "",
        "| expenditures | partner x month groups | transactions | XML | bare SQL GROUP BY | read + rules | "
        "XML written | API request | peak RSS growth | peak Python allocations (tracemalloc, one request) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['groups']:,} | {r['transactions']:,} | {r['bytes'] / 1024:.0f} KiB | "
            f"{r['sql_s'] * 1000:.0f} ms | {r['read_s'] * 1000:.0f} ms | {r['write_s'] * 1000:.1f} ms | "
            f"{r['http_s'] * 1000:.0f} ms | {r['rss_growth_mib']:.1f} MiB | {r['traced_peak_mib']:.2f} MiB |")
    lines += ["", "Machine:", "", *machine()]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
