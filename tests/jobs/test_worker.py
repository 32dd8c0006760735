"""A real Celery worker process on Redis runs a workbook job end to end (issue 16).

The job's request, the worker and the check run in child processes on a database of their own
(the worker must see what the request wrote): on PostgreSQL when the suite runs on it (a database
created beside the suite's and dropped after), else a SQLite file. The broker is Redis on
127.0.0.1:6379 (REDIS_TEST_URL to change it), a queue of this run's own. Skipped, saying so, when
Redis does not answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

BROKER = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/14")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@contextmanager
def scenario_database(tmp_path):
    """A database URL for the scenario: a new PostgreSQL database on the suite's server when the
    suite runs on PostgreSQL (dropped afterwards), else a SQLite file in ``tmp_path``."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'worker.sqlite3'}"
        return
    import psycopg

    server, name = url.rsplit("/", 1)[0], f"ledger_worker_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_celery_worker_runs_a_workbook_job_end_to_end(tmp_path):
    if not redis_answers(BROKER):
        pytest.skip(f"Redis does not answer at {BROKER}: start it (`.ci/run` does) to run a real worker.")
    with scenario_database(tmp_path) as database:
        run_scenario(tmp_path, database)


def run_scenario(tmp_path, database: str) -> None:
    root = Path(__file__).resolve().parents[2]
    # Its own process group: on a timeout the scenario and the worker it started are both ended.
    scenario = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.worker_scenario", database, BROKER,
         f"test-jobs-{uuid.uuid4().hex}", str(tmp_path / "media")],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = scenario.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(scenario.pid, signal.SIGKILL)
        stdout, stderr = scenario.communicate()
    assert scenario.returncode == 0, stdout[-4000:] + stderr[-8000:]
    assert "worker scenario: OK" in stdout
