"""A real Celery worker process on Redis runs a workbook job end to end (issue 16).

The job's request, the worker and the check run in child processes on a SQLite file (the worker
must see the database the request wrote to); the broker is Redis on 127.0.0.1:6379 (REDIS_TEST_URL
to change it), a queue of this run's own. Skipped, saying so, when Redis does not answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BROKER = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/14")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def test_a_celery_worker_runs_a_workbook_job_end_to_end(tmp_path):
    if not redis_answers(BROKER):
        pytest.skip(f"Redis does not answer at {BROKER}: start it (`.ci/run` does) to run a real worker.")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "tests.jobs.worker_scenario", str(tmp_path / "worker.sqlite3"), BROKER,
         f"test-jobs-{uuid.uuid4().hex}", str(tmp_path / "media")],
        cwd=root, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    assert "worker scenario: OK" in result.stdout
