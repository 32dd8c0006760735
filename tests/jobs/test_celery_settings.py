"""The Celery settings the jobs rely on (issue 16): a long job is not delivered twice, is stopped
at its time limit, and the upkeep is scheduled."""

from __future__ import annotations

from django.conf import settings

from config.celery import app


def test_redis_waits_longer_than_the_longest_job_before_delivering_it_again():
    app.loader.import_default_modules()
    conf = app.conf
    assert conf.task_soft_time_limit == settings.JOB_TIME_LIMIT_SECONDS
    assert conf.task_time_limit > conf.task_soft_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_acks_late is True and conf.worker_prefetch_multiplier == 1


def test_the_upkeep_is_scheduled_and_its_tasks_exist():
    app.loader.import_default_modules()
    import jobs.tasks  # noqa: F401  (autodiscovered by a worker)

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {"jobs.tasks.jobs_cleanup_task", "jobs.tasks.jobs_expire_stale_task"}
    assert scheduled | {"jobs.tasks.run_job_task"} <= set(app.tasks)
