"""A workbook job run end to end by a real Celery worker on Redis (tests/jobs/test_worker.py runs
this in a child process: the worker, another process, must see the same database).

python -m tests.jobs.worker_scenario DATABASE_URL BROKER_URL QUEUE MEDIA_ROOT
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(database: str, broker: str, queue: str, media: str) -> int:
    os.environ.update(DATABASE_URL=database, CELERY_BROKER_URL=broker, CELERY_QUEUE=queue,
                      MEDIA_ROOT=media, DJANGO_SETTINGS_MODULE="config.settings_test")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from budget.seed import seed_load
    from grants.models import Role
    from tests.conftest import client_for, make_user
    from tests.jobs.test_jobs_api import body_of, cells
    from tests.reports.test_footing import spend_on_seed

    settings.JOBS_RUNNER = "celery"
    call_command("migrate", verbosity=0)
    grant = seed_load().grant
    spend_on_seed(grant, 300)
    client = client_for(make_user("worker_finance", Role.FINANCE_OFFICER))

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--without-mingle", "--without-gossip", "--loglevel=INFO"],
        env=os.environ.copy(), stdout=sys.stdout, stderr=sys.stderr)
    try:
        accepted = client.post("/api/v1/grants/ML-ESEC-2015/reports/variance.xlsx/jobs/?as_of=2017-06-30&lang=fr")
        assert accepted.status_code == 202, accepted.content
        url = accepted.json()["url"]
        deadline = time.monotonic() + 180
        seen = []
        while time.monotonic() < deadline:
            job = client.get(url).json()
            seen.append(job["state"])
            if job["state"] in ("done", "failed"):
                break
            time.sleep(0.2)
        print("states seen:", list(dict.fromkeys(seen)), "job:", job)
        assert job["state"] == "done", job
        assert job["progress"]["done"] == job["progress"]["total"] > 0
        made = cells(body_of(client.get(job["file_url"])))
        sync = cells(body_of(client.get("/api/v1/grants/ML-ESEC-2015/reports/variance.xlsx?as_of=2017-06-30&lang=fr")))
        # Cell for cell, but for the time each was generated at (the about sheet's one cell).
        differ = {key for key in made.keys() | sync.keys() if made.get(key) != sync.get(key)}
        assert len(differ) <= 1, sorted(differ)[:10]
        assert all(key[0] in ("À propos", "About") for key in differ), differ
        print("worker scenario: OK")
        return 0
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
