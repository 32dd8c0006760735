"""Benchmark: the workbook as a job (issue 16), on PostgreSQL with 1,000,000 expenditures and Redis.

A plain script, not a test. It needs a throwaway PostgreSQL database and Redis on 127.0.0.1:6379:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE ledger_bench_jobs'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_jobs \\
        .venv/bin/python bench/bench_jobs.py --expenditures 1000000

It migrates the database, loads the seed and, unless the seed grant already has ``--expenditures``
expenditures, fills it as ``bench/bench_reports.py`` does (``generate_history --replace``), then
(gunicorn and the load tools are ``bench/bench_api.py``'s):

1. starts gunicorn (2 workers, DEBUG off) with the jobs on Redis (``CELERY_BROKER_URL``, a queue of
   its own), no Celery worker yet, and times ``POST .../reports/variance.xlsx/jobs/`` (a new job
   each, ``--posts`` of them; the median and the slowest), then the same request again (the job it
   finds); those jobs are then deleted, unrun. Goal: the 202 in under 200 ms;
2. builds the whole grant's workbook in this process, as the synchronous GET does
   (``reports.excel.variance_workbook``), and times it;
3. starts one Celery worker and has it make the same workbook as a job: its time from start to end
   (the job's own ``started_at`` / ``finished_at``) and from the POST to ``done`` seen by polling.
   Goal: within 1.1x of step 2;
4. loads the partner's quarter list (``GET /api/v1/expenditures/?grant=...&partner=BNCE&...``, the
   ``bnce`` token) with ``wrk`` (or bench_api's Python load tool) for ``--duration`` seconds with no
   job running, then for as long again while a whole-grant workbook job runs. Goal: at least 80 %
   of the throughput kept.

It prints the results and the machine for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_api  # noqa: E402
from bench.bench_reports import GRANT, fill_seed_grant, machine  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ledger_bench_jobs"
JOBS_PATH = f"/api/v1/grants/{GRANT}/reports/variance.xlsx/jobs/"


def configure(broker: str, queue: str, media: str) -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret-" + "0123456789abcdefghijklmnopqrstuvwxyz")
    bench_api.DEFAULT_DB = os.environ["DATABASE_URL"]
    os.environ.update(bench_api.bench_env(CELERY_BROKER_URL=broker, CELERY_QUEUE=queue, JOBS_RUNNER="celery",
                                          MEDIA_ROOT=media, JOB_TIME_LIMIT_SECONDS="3600",
                                          SECURE_SSL_REDIRECT="0",  # plain http on 127.0.0.1
                                          # one user's load tool, not a crowd: no 429 from the user rate
                                          THROTTLE_USER="1000000/min", LOG_LEVEL="ERROR"))


def fill(expenditures: int, seed: int) -> None:
    """Migrate, seed and fill the grant as bench/bench_reports.py does; VACUUM (ANALYZE)."""
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench_jobs needs PostgreSQL (DATABASE_URL).")
    # as bench/bench_api.py does: VACUUM for the list's index-only scan
    fill_seed_grant(expenditures, seed, analyze="VACUUM (ANALYZE)")


def tokens() -> dict:
    from django.core.management import call_command

    out = StringIO()
    call_command("create_demo_users", "--json", stdout=out)
    return json.loads(out.getvalue())


def request(port: int, method: str, path: str, token: str) -> tuple[int, dict, float]:
    import http.client

    conn = http.client.HTTPConnection(bench_api.HOST, port, timeout=120)
    started = time.perf_counter()
    conn.request(method, path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return response.status, (json.loads(body) if body else {}), elapsed


def wait_job(port: int, job_id: str, token: str, states=("done", "failed"), timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body, _ = request(port, "GET", f"/api/v1/jobs/{job_id}/", token)
        assert status == 200, (status, body)
        if body["state"] in states:
            return body
        time.sleep(0.5)
    raise TimeoutError(job_id)


def start_worker(nice: int) -> subprocess.Popen:
    celery = ROOT / ".venv" / "bin" / "celery"
    command = [str(celery if celery.exists() else shutil.which("celery")), "-A", "config", "worker", "--pool=solo",
               "-Q", os.environ["CELERY_QUEUE"], "--without-mingle", "--without-gossip", "--loglevel=WARNING"]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    print("$ " + " ".join(command))
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), start_new_session=True)


def seconds_between(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expenditures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--posts", type=int, default=15, help="POSTs timed for the 202")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load, without and with a job")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-nice", type=int, default=0, help="run the Celery worker under nice -n N")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")

    media = tempfile.mkdtemp(prefix="bench-jobs-media-")
    configure(args.broker, f"bench-jobs-{uuid.uuid4().hex[:8]}", media)
    fill(args.expenditures, args.seed)
    from django.db import connection

    from expenditures.models import Expenditure
    from grants.models import Grant
    from jobs.models import Job
    from reports.excel import variance_workbook
    from reports.selectors import budget_version_for, report_as_of

    keys = tokens()
    finance, bnce = keys["finance"], keys["bnce"]
    grant = Grant.objects.get(code=GRANT)
    as_of = report_as_of(grant, None)
    rows = Expenditure.objects.filter(grant=grant, status__in=["submitted", "validated"], date__lte=as_of).count()
    print(f"{GRANT}: {Expenditure.objects.filter(grant=grant).count():,} expenditures, {rows:,} counted as of {as_of}")
    connection.close()

    port = bench_api.free_port()
    web = bench_api.start_gunicorn(port, args.workers)
    worker = None
    results: dict = {}
    try:
        bench_api.wait_ready(port, bnce, web)
        # 1. the 202, no worker running: each POST a new job (another as_of), then one found again
        latencies = []
        for day in range(1, args.posts + 2):
            status, body, elapsed = request(port, "POST", f"{JOBS_PATH}?as_of=2018-05-{day:02d}&lang=fr", finance)
            assert status == 202, (status, body)
            if day > 1:  # the first warms the worker up
                latencies.append(elapsed * 1000)
        again = [request(port, "POST", f"{JOBS_PATH}?as_of=2018-05-02&lang=fr", finance)[2] * 1000
                 for _ in range(5)]
        Job.objects.all().delete()  # unrun: a worker finds no queued job for their messages
        connection.close()
        results["post_ms"] = {"median": statistics.median(latencies), "max": max(latencies),
                              "p90": sorted(latencies)[int(len(latencies) * 0.9)],
                              "n": len(latencies), "again_median": statistics.median(again)}
        post = results["post_ms"]
        print(f"202: median {post['median']:.1f} ms, p90 {post['p90']:.1f} ms, slowest {post['max']:.1f} ms "
              f"({len(latencies)} new jobs); "
              f"the same request again: median {post['again_median']:.1f} ms")

        # 2. the same workbook built synchronously, in this process
        version = budget_version_for(grant=grant)
        started = time.perf_counter()
        _, handle = variance_workbook(grant=grant, as_of=as_of, version=version, lang="fr")
        size = handle.seek(0, 2)
        handle.close()
        results["sync_s"] = time.perf_counter() - started
        connection.close()
        print(f"synchronous workbook: {results['sync_s']:.1f} s, {size / 2**20:.1f} MiB")

        # 3. the same workbook as a job, run by a Celery worker
        worker = start_worker(args.worker_nice)
        posted = time.perf_counter()
        status, body, _ = request(port, "POST", f"{JOBS_PATH}?lang=fr", finance)
        assert status == 202, (status, body)
        done = wait_job(port, body["id"], finance)
        results["job_e2e_s"] = time.perf_counter() - posted
        assert done["state"] == "done", done
        results["job_s"] = seconds_between(done["started_at"], done["finished_at"])
        results["job_ratio"] = results["job_s"] / results["sync_s"]
        print(f"workbook job: {results['job_s']:.1f} s in the worker ({results['job_ratio']:.2f}x the synchronous "
              f"build), {results['job_e2e_s']:.1f} s from the POST to done seen; progress {done['progress']}")

        # 4. the partner's quarter list, without and with a workbook job running
        def load(duration: int) -> dict:
            if tool == "wrk":
                return bench_api.run_wrk(f"http://{bench_api.HOST}:{port}{bench_api.LIST_PATH}", bnce, 2,
                                         args.connections, duration)
            return bench_api.run_python_load(port, bench_api.LIST_PATH, bnce, args.connections, duration)

        load(3)  # warm-up
        results["list_alone"] = load(args.duration)
        status, body, _ = request(port, "POST", f"{JOBS_PATH}?lang=en", finance)
        running = wait_job(port, body["id"], finance, states=("running", "done", "failed"))
        results["list_with_job"] = load(args.duration)
        during = request(port, "GET", f"/api/v1/jobs/{body['id']}/", finance)[1]
        results["job_state_after_load"] = (during["state"], during["progress"])
        results["list_ratio"] = results["list_with_job"]["rps"] / results["list_alone"]["rps"]
        print(f"quarter list ({tool}, {args.connections} connections, {args.duration} s): alone "
              f"{results['list_alone']['rps']:.1f} req/s (p50 {results['list_alone'].get('p50', 0):.1f} ms, "
              f"{results['list_alone']['errors']} errors), "
              f"with a workbook job running {results['list_with_job']['rps']:.1f} req/s "
              f"(p50 {results['list_with_job'].get('p50', 0):.1f} ms, {results['list_with_job']['errors']} errors): "
              f"{results['list_ratio'] * 100:.0f} % kept; "
              f"the job was {running['state']} at the start, {during['state']} {during['progress']} at the end")
    finally:
        if worker is not None:
            bench_api.stop(worker)
        bench_api.stop(web)
        shutil.rmtree(media, ignore_errors=True)

    print()
    post_ok = "met" if results["post_ms"]["median"] < 200 else "NOT met"
    print(f"goals: 202 under 200 ms (median): {post_ok}; "
          f"job within 1.1x: {'met' if results['job_ratio'] <= 1.1 else 'NOT met'}; "
          f"list keeps 80 %: {'met' if results['list_ratio'] >= 0.8 else 'NOT met'}")
    print("\n".join(machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
