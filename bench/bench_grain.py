"""Benchmark: the JSON variance report of each grouping against the plain ``GROUP BY`` of that grouping.

A plain script, not a test (``make bench`` does not collect it). It needs ``DATABASE_URL``
pointing at a throwaway PostgreSQL database. Like ``bench_reports.py`` it migrates it, loads the
seed and, unless the seed grant already has ``--expenditures`` expenditures, fills it with
``generate_history --replace``:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_grain'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_grain \\
        .venv/bin/python bench/bench_grain.py --expenditures 1000000

For each grouping (``--by``, repeatable; by default line, partner, location and heading,partner),
in the same process, medians of ``--repeat`` runs after one warm-up, the runs of the two sides
interleaved so that a drift of the machine hits both alike:

1. the plain SQL ``GROUP BY`` of that grouping over the rows the report counts (the grant's
   expenditures of the counted statuses dated up to the as-of date), ``SUM(amount_eur)``, fetched
   through a cursor. A heading is its line's parent (``COALESCE(parent_id, id)`` of the budget
   line, joined);
2. the JSON variance report of that grouping as the API view builds it, in process:
   ``report_inputs`` with the grain ``actual_grain(by)`` names, ``variance``, its serializer and
   the JSON rendering;
3. with ``--finest`` too, the same report read at the finest grain (line x partner x location x
   month) and rolled up, as every report did before (issue 16).

Goal (issue 16): every grouping's report at most twice its own ``GROUP BY``. It prints a Markdown
section for ``bench/RESULTS.md``. DEBUG stays as the environment says (off by default); a throwaway
SECRET_KEY is made when none is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.bench_reports import GRANT, fill_seed_grant, machine, setup_django  # noqa: E402

DEFAULT_BY = ("line", "partner", "location", "heading,partner")
COUNTED = "e.grant_id = %s AND e.status IN ('submitted', 'validated') AND e.date <= %s"
# The plain GROUP BY of each dimension: its SELECT expression and the join it needs.
SQL_COLUMN = {
    "line": "e.budget_line_id",
    "partner": "e.partner_id",
    "location": "e.location_id",
    "heading": "COALESCE(bl.parent_id, bl.id)",
    "year": "(EXTRACT(YEAR FROM AGE(date_trunc('month', e.date), date_trunc('month', %(start)s::date)))::int + 1)",
    "quarter": "date_trunc('quarter', e.date)::date",
}


def plain_sql(by: tuple[str, ...], start) -> str:
    columns = [SQL_COLUMN[name] % {"start": f"'{start.isoformat()}'"} if name == "year" else SQL_COLUMN[name]
               for name in by]
    join = " JOIN budget_budgetline bl ON bl.id = e.budget_line_id" if "heading" in by else ""
    groups = ", ".join(str(i + 1) for i in range(len(columns)))
    return (f"SELECT {', '.join(columns)}, SUM(e.amount_eur) FROM expenditures_expenditure e{join} "
            f"WHERE {COUNTED} GROUP BY {groups}")


def interleaved_medians(functions: dict, repeat: int) -> dict[str, float]:
    """Median seconds of each function, after one warm-up each, the runs taking turns."""
    for fn in functions.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expenditures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--by", action="append", help="a grouping, e.g. line or heading,partner (repeatable)")
    parser.add_argument("--as-of", help="the as-of date (default: the grant's end)")
    parser.add_argument("--finest", action="store_true",
                        help="also time the report read at the finest grain and rolled up (as before issue 16)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a throwaway PostgreSQL database, e.g. "
              "postgres://postgres@127.0.0.1:5432/ledger_bench_grain", file=sys.stderr)
        return 2

    setup_django()
    from datetime import date

    from django.db import connection
    from rest_framework.renderers import JSONRenderer

    from api.views_reports import VarianceReportSerializer
    from expenditures.models import Expenditure
    from reports import variance as variance_module
    from reports.selectors import budget_version_for, report_inputs
    from reports.variance import parse_by, variance

    grant = fill_seed_grant(args.expenditures, args.seed)
    total = Expenditure.objects.filter(grant=grant).count()
    as_of = date.fromisoformat(args.as_of) if args.as_of else grant.end_date
    version = budget_version_for(grant=grant)
    counted = Expenditure.objects.filter(grant=grant, status__in=["submitted", "validated"], date__lte=as_of).count()
    # The grain the view asks for (issue 16); absent before it, when every report read the finest grain.
    actual_grain = getattr(variance_module, "actual_grain", None)

    def plain(by):
        sql = plain_sql(by, grant.start_date)

        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, [grant.pk, as_of])
                return len(cursor.fetchall())
        return run

    def report(by, *, finest: bool):
        def run():
            grain = {} if finest or actual_grain is None else {"grain": actual_grain(by)}
            inputs = report_inputs(grant=grant, as_of=as_of, version=version, **grain)
            return JSONRenderer().render(VarianceReportSerializer(variance(inputs, by=by, lang="fr")).data)
        return run

    groupings = [parse_by(b) for b in (args.by or DEFAULT_BY)]
    results = []
    for by in groupings:
        functions = {"sql": plain(by), "report": report(by, finest=False)}
        if args.finest and actual_grain is not None:
            functions["finest"] = report(by, finest=True)
        medians = interleaved_medians(functions, args.repeat)
        groups = functions["sql"]()
        size = len(functions["report"]())
        results.append((by, groups, size, medians))
        print(f"by={','.join(by)}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in medians.items())
              + f" ratio {medians['report'] / medians['sql']:.2f}", file=sys.stderr)

    command = (f"DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_grain .venv/bin/python "
               f"bench/bench_grain.py --expenditures {args.expenditures} --repeat {args.repeat}"
               + "".join(f" --by {','.join(by)}" for by in groupings if args.by)
               + (f" --as-of {args.as_of}" if args.as_of else "") + (" --finest" if args.finest else ""))
    with_finest = any("finest" in m for *_, m in results)
    lines = [
        "## variance report by grouping vs its own GROUP BY (issue 16)", "",
        f"Grant {GRANT} with {total:,} expenditures, {counted:,} counted as of {as_of.isoformat()}; "
        f"medians of {args.repeat} interleaved runs after a warm-up, same process. Command:", "",
        "```", command, "```", "",
        "| by | plain GROUP BY (groups) | JSON report | ratio |" + (" finest grain, rolled up | ratio |"
                                                                    if with_finest else ""),
        "| --- | --- | --- | --- |" + (" --- | --- |" if with_finest else ""),
    ]
    for by, groups, size, m in results:
        row = (f"| {','.join(by)} | {m['sql'] * 1000:.0f} ms ({groups:,}) | {m['report'] * 1000:.0f} ms "
               f"({size:,} bytes) | {m['report'] / m['sql']:.2f} |")
        if with_finest:
            row += f" {m['finest'] * 1000:.0f} ms | {m['finest'] / m['sql']:.2f} |"
        lines.append(row)
    worst = max(m["report"] / m["sql"] for *_, m in results)
    lines += ["", f"Goal, every grouping's report at most twice its own GROUP BY: "
              f"{'met' if worst <= 2 else 'NOT met'} (worst {worst:.2f}x).", "", "Machine:", ""]
    lines += machine()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
