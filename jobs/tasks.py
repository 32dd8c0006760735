"""The jobs as Celery tasks (``JOBS_RUNNER = "celery"``): a worker runs ``run_job``; beat runs
the upkeep (``CELERY_BEAT_SCHEDULE`` in config.settings)."""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded

from config.celery import app
from jobs import services


@app.task(name="jobs.tasks.run_job_task")
def run_job_task(job_id: str) -> None:
    # Celery's soft time limit raises SoftTimeLimitExceeded wherever the job is: turned into the
    # job's own, so that run_job records the failure (the revaluation's transaction rolls back).
    services.run_job(job_id, time_limit_errors=(SoftTimeLimitExceeded,))


@app.task(name="jobs.tasks.jobs_cleanup_task")
def jobs_cleanup_task() -> int:
    return services.jobs_cleanup()


@app.task(name="jobs.tasks.jobs_expire_stale_task")
def jobs_expire_stale_task() -> int:
    return services.job_expire_stale()
