"""Benchmark: ``generate_history`` (the demo-data generator, ``expenditures.demo_data``) at scale, on PostgreSQL.

A plain script, not a test (``make bench`` does not collect it). It needs ``DATABASE_URL``
pointing at a throwaway PostgreSQL database, which it migrates, seeds (``load_seed``) and fills
(``generate_history --replace``, timed):

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench \\
        .venv/bin/python bench/bench_generate_history.py --expenditures 1000000

It prints the result and the machine as a Markdown section for ``bench/RESULTS.md``. DEBUG stays
as the environment says (off by default, as in production: with DEBUG on, Django also formats
and keeps every INSERT's SQL); a throwaway SECRET_KEY is used when none is set.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


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
    return [f"- nproc: {os.cpu_count()}", f"- CPU: {cpu}", f"- Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}", "- free -h:", "", "```", memory, "```"]


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) the PostgreSQL backend ``pid`` has used, when it runs on this host."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expenditures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a throwaway PostgreSQL database, e.g. "
              "postgres://postgres@127.0.0.1:5432/ledger_bench", file=sys.stderr)
        return 2
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from expenditures.models import Expenditure, FundTransfer

    call_command("migrate", "--noinput", verbosity=0)
    call_command("load_seed", stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    out = StringIO()
    load_before = os.getloadavg()[0]
    backend_before = backend_cpu_seconds(backend)
    cpu_started, started = time.process_time(), time.perf_counter()
    call_command("generate_history", "--seed", str(args.seed), "--expenditures", str(args.expenditures),
                 "--replace", stdout=out)
    seconds = time.perf_counter() - started
    python_cpu = time.process_time() - cpu_started
    backend_after = backend_cpu_seconds(backend)
    server_cpu = (f"{backend_after - backend_before:.1f} s" if None not in (backend_before, backend_after)
                  else "not measured (server not on this host)")
    load_after = os.getloadavg()[0]
    rows = Expenditure.objects.filter(grant__code="ML-ESEC-2015").count()
    transfers = FundTransfer.objects.filter(grant__code="ML-ESEC-2015").count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]

    command = (f"DATABASE_URL=postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
               f"{connection.settings_dict['PORT']}/{connection.settings_dict['NAME']} "
               f".venv/bin/python bench/bench_generate_history.py --expenditures {args.expenditures}"
               f" --seed {args.seed}")
    lines = [
        "## generate_history", "",
        f"`generate_history --seed {args.seed} --expenditures {args.expenditures} --replace` on PostgreSQL "
        f"{server}, DEBUG {'on' if settings.DEBUG else 'off'}, measured {time.strftime('%Y-%m-%d')}:", "",
        "| rows | transfers | seconds | rows/s |", "| ---: | ---: | ---: | ---: |",
        f"| {rows:,} | {transfers} | {seconds:.1f} | {rows / seconds:,.0f} |", "",
        f"Command output: `{out.getvalue().strip()}`", "",
        f"CPU used: Python {python_cpu:.1f} s, the PostgreSQL backend {server_cpu}. "
        f"Load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs.", "",
        "Machine (PostgreSQL on the same host):", "", *machine(), "",
        "Command:", "", "```", command, "```",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
