"""Benchmark: API throughput of a partner's quarter against a bare DRF endpoint (issue 3).

A plain script, not a test. It needs ``DATABASE_URL`` pointing at a PostgreSQL database that holds
the seed grant ML-ESEC-2015 with its generated expenditures (``generate_history --expenditures
1000000``); by default the one ``bench/bench_reports.py`` builds:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledger_bench_reports \\
        .venv/bin/python bench/bench_api.py --duration 20 --connections 8 --rounds 2

What it does:

1. with the bench settings (``bench/bench_settings.py``: the product's settings plus
   ``bench/bench_urls.py``, which adds ``bench/bare/``), runs ``create_demo_users --json`` for the
   ``bnce`` token (the partner member: it is the partner's quarter), and, unless ``--no-vacuum``,
   ``VACUUM (ANALYZE)`` on the expenditures table (the bench server runs with autovacuum off, and a
   freshly loaded table has no visibility map, so the COUNT's index-only scan would visit the heap);
2. counts the SQL queries of one request of each endpoint (Django's test client,
   ``CaptureQueriesContext``) and prints them;
3. starts gunicorn (2 sync workers, DEBUG off, CONN_MAX_AGE=600, 127.0.0.1 on a free port), waits
   until it answers, warms both endpoints up, then loads each with the same tool, duration and
   concurrency, alternating bare / list for ``--rounds`` rounds: ``wrk`` when it is on the PATH
   (``apt-get install wrk``), else a small keep-alive load tool of threads and ``http.client``;
4. prints req/s and latency percentiles of each, the ratio list / bare (goal: at least 0.25), the
   load average, and stops gunicorn.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ledger_bench_reports"
LIST_PATH = ("/api/v1/expenditures/?grant=ML-ESEC-2015&partner=BNCE"
             "&date_after=2016-07-01&date_before=2016-09-30")
BARE_PATH = "/bench/bare/"
HOST = "127.0.0.1"


APP_NAME = "bench_api"
TICKS = os.sysconf("SC_CLK_TCK")


def bench_env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DB)
    env.update({
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DEBUG": "0",
        "SECRET_KEY": env.get("SECRET_KEY") or "bench-only-secret-key-not-for-production",
        "ALLOWED_HOSTS": HOST,
        "CONN_MAX_AGE": "600",
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def prepare(vacuum: bool) -> tuple[str, dict[str, list[str]]]:
    """The bnce token, the queries of one request of each endpoint; VACUUM (ANALYZE) first."""
    os.environ.update(bench_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        sys.exit("bench_api needs PostgreSQL (DATABASE_URL).")
    from io import StringIO

    out = StringIO()
    call_command("create_demo_users", "--json", stdout=out)
    token = json.loads(out.getvalue())["bnce"]
    if vacuum:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) expenditures_expenditure")
        print(f"VACUUM (ANALYZE) expenditures_expenditure: {time.perf_counter() - started:.1f} s")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST=HOST)
    queries = {}
    for name, path in (("bare", BARE_PATH), ("list", LIST_PATH)):
        client.get(path)  # warm (the token's user, caches)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        body = response.json()
        assert len(body["results"]) == 50, len(body["results"])
        if name == "list":
            print(f"list: count {body['count']}, page of {len(body['results'])}")
        queries[name] = [q["sql"] for q in ctx.captured_queries]
    connection.close()
    return token, queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    command = [
        str(gunicorn if gunicorn.exists() else shutil.which("gunicorn")), "config.wsgi",
        "--workers", str(workers), "--bind", f"{HOST}:{port}", "--no-control-socket",
        "--log-level", "warning",
    ]
    print("$ DJANGO_SETTINGS_MODULE=bench.bench_settings DEBUG=0 CONN_MAX_AGE=600 ALLOWED_HOSTS=127.0.0.1 "
          "SECRET_KEY=... " + " ".join(command[1:]))
    env = bench_env()
    url = env["DATABASE_URL"]
    env["DATABASE_URL"] = url + ("&" if "?" in url else "?") + f"application_name={APP_NAME}"
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def worker_pids(proc: subprocess.Popen) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def backend_pids() -> list[int]:
    """The PostgreSQL backends of the gunicorn workers (persistent connections), by application_name."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def wait_ready(port: int, token: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", BARE_PATH, headers={"Authorization": f"Token {token}"})
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit("gunicorn did not answer in time")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- load tools ---------------------------------------------------------------------------------

def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, token: str, threads: int, connections: int, duration: int) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
               "-H", f"Authorization: Token {token}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if match:
            result[f"p{pct}"] = _ms(match.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["errors"] = int(errors.group(1)) if errors else 0
    if socket_errors:
        result["socket_errors"] = socket_errors.group(1)
    return result


def run_python_load(port: int, path: str, token: str, connections: int, duration: int) -> dict:
    """Fallback load tool: ``connections`` threads, each a keep-alive http.client connection."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.perf_counter() + duration

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": f"Token {token}"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            latencies[i].append((time.perf_counter() - started) * 1000)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    all_ms = sorted(x for per in latencies for x in per)
    result = {"rps": len(all_ms) / elapsed, "requests": len(all_ms), "errors": sum(errors)}
    for pct in (50, 75, 90, 99):
        result[f"p{pct}"] = all_ms[min(len(all_ms) - 1, int(len(all_ms) * pct / 100))] if all_ms else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per endpoint and round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=2, help="bare/list alternations")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--no-vacuum", action="store_true")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()

    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    token, queries = prepare(vacuum=not args.no_vacuum)
    for name, sqls in queries.items():
        print(f"{name}: {len(sqls)} queries per request")
        for sql in sqls:
            print(f"    {sql[:150]}")

    port = free_port()
    proc = start_gunicorn(port, args.workers)
    results: dict[str, list[dict]] = {"bare": [], "list": []}
    loads = [os.getloadavg()]
    try:
        wait_ready(port, token, proc)

        def load(path: str, duration: int) -> dict:
            if tool == "wrk":
                return run_wrk(f"http://{HOST}:{port}{path}", token, args.threads, args.connections, duration)
            return run_python_load(port, path, token, args.connections, duration)

        for path in (BARE_PATH, LIST_PATH):
            load(path, args.warmup)
        workers, backends = worker_pids(proc), backend_pids()
        print(f"gunicorn workers {workers}, their PostgreSQL backends {backends}")
        if tool == "wrk":
            print(f"$ wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
                  f"-H 'Authorization: Token <bnce>' http://{HOST}:{port}<path>")
        else:
            print(f"python load tool: {args.connections} keep-alive connections, {args.duration} s")
        for round_ in range(1, args.rounds + 1):
            for name, path in (("bare", BARE_PATH), ("list", LIST_PATH)):
                cpu_before = cpu_seconds(workers), cpu_seconds(backends)
                result = load(path, args.duration)
                cpu_after = cpu_seconds(workers), cpu_seconds(backends)
                n = max(result["requests"], 1)
                result["cpu_app_ms"] = (cpu_after[0] - cpu_before[0]) / n * 1000
                result["cpu_db_ms"] = (cpu_after[1] - cpu_before[1]) / n * 1000
                results[name].append(result)
                loads.append(os.getloadavg())
                pcts = "  ".join(f"p{p} {result[f'p{p}']:.1f} ms" for p in (50, 75, 90, 99) if f"p{p}" in result)
                print(f"round {round_} {name:4}: {result['rps']:8.1f} req/s  ({result['requests']} requests, "
                      f"{result['errors']} errors)  {pcts}  CPU per request: gunicorn {result['cpu_app_ms']:.1f} ms, "
                      f"postgres {result['cpu_db_ms']:.1f} ms  load {loads[-1][0]:.2f}")
    finally:
        stop(proc)

    print()
    print(f"tool {tool}; {args.workers} gunicorn workers; {args.connections} connections; "
          f"{args.duration} s x {args.rounds} rounds per endpoint")
    for i in range(args.rounds):
        bare, lst = results["bare"][i]["rps"], results["list"][i]["rps"]
        print(f"round {i + 1}: bare {bare:.1f} req/s, list {lst:.1f} req/s, ratio {lst / bare:.3f}")
    bare = statistics.mean(r["rps"] for r in results["bare"])
    lst = statistics.mean(r["rps"] for r in results["list"])
    ratio = lst / bare
    print(f"mean:    bare {bare:.1f} req/s, list {lst:.1f} req/s, ratio {ratio:.3f} "
          f"(goal >= 0.25: {'met' if ratio >= 0.25 else 'NOT met'})")
    print(f"queries per request: bare {len(queries['bare'])}, list {len(queries['list'])}")
    print("load average (1 min) before and after each run: " + ", ".join(f"{x[0]:.2f}" for x in loads))
    print(f"nproc {os.cpu_count()}")


if __name__ == "__main__":
    main()
