"""Jobs: long work asked for through the API, run outside the request, followed by its owner.

``request_workbook`` and ``request_revaluation`` make a job (or hand back the same request's job
while it is queued or running), and have it run once the asking transaction has committed:

- ``JOBS_RUNNER = "celery"`` (production, CI): a Celery task on the broker (``jobs.tasks``);
- ``"thread"`` (``make run``, no broker): a thread of the web process;
- ``"eager"`` (the tests): at once, in the committing request.

``run_job`` claims a queued job (queued -> running, once: a message delivered twice runs it once),
runs it through the same service as the synchronous request (``reports.excel.variance_workbook``,
``expenditures.revaluation.grant_revalue``) with a progress callback, and records its end: done
with its file or result, or failed with the error's code and message. ``job_expire_stale`` fails
the jobs past their deadline (a worker killed at the hard time limit leaves its job running);
``jobs_cleanup`` removes the files of jobs finished more than ``JOB_FILES_KEEP_DAYS`` days ago.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.cache import caches
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grants.errors import ApplicationError, ErrorCode, Missing
from grants.models import Grant
from jobs.models import ACTIVE_STATES, Job, JobError, JobKind, JobState, job_file_path

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
PROGRESS_EVERY_SECONDS = 1.0


class JobTimeLimit(Exception):
    """Raised in a job that runs past its time limit (Celery's soft limit is turned into it)."""


# --- asking ------------------------------------------------------------------------------------

def params_key(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def job_request(*, kind: str, grant: Grant, params: dict, by) -> tuple[Job, bool]:
    """The job of this request: a new one, queued and run once the transaction commits, or the
    queued or running job of the same owner, kind, grant and parameters. Returns (job, created).

    Two identical requests at once make one job: a unique constraint holds one active job per
    request; the loser of the race reads the winner's."""
    job_expire_stale()
    key = params_key(params)
    same = Job.objects.filter(owner=by, kind=kind, grant=grant, params_key=key, state__in=ACTIVE_STATES)
    existing = same.first()
    if existing is not None:
        return existing, False
    limit = settings.JOB_TIME_LIMIT_SECONDS
    try:
        with transaction.atomic():
            job = Job.objects.create(kind=kind, owner=by, grant=grant, params=params, params_key=key,
                                     time_limit=limit)
    except IntegrityError:
        existing = same.first()
        if existing is None:
            raise
        return existing, False
    transaction.on_commit(lambda: dispatch(job.pk))
    return job, True


def request_workbook(*, grant: Grant, as_of: date, version, partner, lang: str, statuses, by) -> tuple[Job, bool]:
    """A job making the donor's workbook the synchronous GET gives for these (already checked)
    arguments: ``by``'s scope (``partner``) included."""
    params = {
        "as_of": as_of.isoformat(),
        "version": version.number if version is not None else None,
        "partner": partner.code if partner is not None else None,
        "statuses": sorted(str(s) for s in statuses),
        "lang": lang,
    }
    return job_request(kind=JobKind.WORKBOOK, grant=grant, params=params, by=by)


def request_revaluation(*, grant: Grant, method: str, confirm: bool, by) -> tuple[Job, bool]:
    """A job revaluing ``grant`` under ``method``: ``grant_revalue`` when it runs, the same checks
    (finance officers only: refused here at once too)."""
    from grants.roles import require_finance

    require_finance(by, what=_("revalue a grant"))
    return job_request(kind=JobKind.REVALUE, grant=grant, params={"method": method, "confirm": bool(confirm)},
                       by=by)


def job_for(user, job_id) -> Job | None:
    """``user``'s job of that id, or None (another user's job is no more visible than a missing one)."""
    if not getattr(user, "is_authenticated", False):
        return None
    job_expire_stale()
    return Job.objects.filter(pk=job_id, owner=user).select_related("grant").first()


# --- running -----------------------------------------------------------------------------------

def dispatch(job_id: UUID) -> None:
    """Have the job run, by ``settings.JOBS_RUNNER``."""
    runner = settings.JOBS_RUNNER
    if runner == "celery":
        from jobs.tasks import run_job_task

        try:
            run_job_task.apply_async(args=[str(job_id)])
        except Exception:  # the broker is down: the job fails now, the request still answers
            logger.exception("job %s could not be queued", job_id)
            Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
                state=JobState.FAILED, finished_at=timezone.now(), error_code=JobError.UNEXPECTED.value,
                error=_("The job could not be queued; ask for it again in a while."))
    elif runner == "thread":
        threading.Thread(target=_run_in_thread, args=(job_id,), name=f"job-{job_id}", daemon=True).start()
    else:
        run_job(job_id)


def _run_in_thread(job_id: UUID) -> None:
    try:
        run_job(job_id)
    finally:
        connections.close_all()  # this thread's own connections


def progress_key(job_id) -> str:
    return f"job:{job_id}:progress"


class JobProgress:
    """The progress callback a job hands its service: (rows done, rows to do), kept in the jobs
    cache at most once a second (a revaluation runs in one transaction: rows it writes to the
    database are seen by no one before it ends)."""

    def __init__(self, job: Job, every: float = PROGRESS_EVERY_SECONDS):
        self.job_id = job.pk
        self.every = every
        self.last = 0.0
        self.timeout = job.time_limit + 3600
        self.done, self.total = 0, None

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if now - self.last >= self.every or done >= total:
            self.last = now
            caches["jobs"].set(progress_key(self.job_id), [done, total], timeout=self.timeout)


def job_progress(job: Job) -> tuple[int, int | None]:
    """(rows done, rows to do or None while unknown): the live figures of a running job."""
    if job.state == JobState.RUNNING:
        live = caches["jobs"].get(progress_key(job.pk))
        if live:
            return live[0], live[1]
    return job.done, job.total


def run_job(job_id, *, time_limit_errors: tuple[type[BaseException], ...] = ()) -> None:
    """Run a queued job to its end (done or failed). A job that is not queued any more (already
    run, or being run) is left alone. ``time_limit_errors``: what the runner raises at the time
    limit (Celery's ``SoftTimeLimitExceeded``)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(state=JobState.RUNNING, started_at=now)
    if not claimed:
        logger.info("job %s is not queued: not run again", job_id)
        return
    job = Job.objects.select_related("grant", "owner").get(pk=job_id)
    progress = JobProgress(job)
    try:
        outcome = RUNNERS[job.kind](job, progress)
    except (JobTimeLimit, *time_limit_errors):
        _fail(job, JobError.TIME_LIMIT, _time_limit_message(job))
    except ApplicationError as exc:
        _fail(job, exc.code, exc.message)
    except Exception:
        logger.exception("job %s failed", job_id)
        _fail(job, JobError.UNEXPECTED, _("The job failed on an unexpected error; it has been logged. "
                                          "Ask for it again, or tell the finance officers if it fails again."))
    else:
        _finish(job, progress, **outcome)
    finally:
        caches["jobs"].delete(progress_key(job_id))


def _time_limit_message(job: Job) -> str:
    return _("The job did not finish within its time limit of %(seconds)s seconds.") % {"seconds": job.time_limit}


def _finish(job: Job, progress: JobProgress, *, result=None, name: str = "", handle=None, filename: str = "") -> None:
    total = progress.total if progress.total is not None else progress.done
    if handle is not None:
        with handle:
            name = default_storage.save(job_file_path(job, filename), File(handle, name=filename))
    updated = Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.DONE, finished_at=timezone.now(), done=total, total=total, result=result,
        file=name, filename=filename)
    if not updated and name:
        default_storage.delete(name)  # failed meanwhile (past its deadline): no file for it


def _fail(job: Job, code, message: str) -> None:
    progress = caches["jobs"].get(progress_key(job.pk)) or [0, None]
    Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.FAILED, finished_at=timezone.now(), error_code=str(code), error=message,
        done=progress[0], total=progress[1])


def _run_workbook(job: Job, progress: Progress) -> dict:
    from grants.access import partner_scope
    from reports.excel import variance_workbook
    from reports.selectors import budget_version_for

    p = job.params
    filename, handle = variance_workbook(
        grant=job.grant, as_of=date.fromisoformat(p["as_of"]),
        version=budget_version_for(grant=job.grant, number=p["version"]) if p["version"] is not None else None,
        partner=partner_scope(job.owner), lang=p["lang"], statuses=tuple(p["statuses"]), progress=progress)
    return {"handle": handle, "filename": filename}


def _run_revaluation(job: Job, progress: Progress) -> dict:
    from expenditures.revaluation import grant_revalue

    p = job.params
    result = grant_revalue(grant=job.grant, method=p["method"], confirm=p["confirm"], by=job.owner,
                           progress=progress)
    return {"result": _plain(result)}


def _plain(value):
    """A service's result as JSON: Decimals as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


RUNNERS: dict[str, Callable[[Job, Progress], dict]] = {
    JobKind.WORKBOOK: _run_workbook,
    JobKind.REVALUE: _run_revaluation,
}


# --- upkeep ------------------------------------------------------------------------------------

def job_expire_stale(now=None) -> int:
    """Fail the jobs past their deadline: running longer than their time limit, or queued longer
    than it (no worker took them). Returns how many."""
    now = now or timezone.now()
    count = 0
    # A handful of active jobs at most: read them, compare in Python (a per-row interval is not
    # portable SQL).
    for job in Job.objects.filter(state__in=ACTIVE_STATES).only("pk", "state", "created_at", "started_at",
                                                                 "time_limit"):
        since = job.started_at or job.created_at
        if since + timedelta(seconds=job.time_limit) < now:
            count += Job.objects.filter(pk=job.pk, state=job.state).update(
                state=JobState.FAILED, finished_at=now, error_code=JobError.TIME_LIMIT.value,
                error=_time_limit_message(job))
    return count


def jobs_cleanup(*, days: int | None = None, now=None) -> int:
    """Remove the files of jobs finished more than ``days`` (default ``JOB_FILES_KEEP_DAYS``)
    days ago; the jobs stay, saying when their file was removed. Returns how many files."""
    days = settings.JOB_FILES_KEEP_DAYS if days is None else days
    now = now or timezone.now()
    count = 0
    old = Job.objects.filter(finished_at__lt=now - timedelta(days=days), file_removed_at__isnull=True).exclude(file="")
    for job in old:
        default_storage.delete(job.file.name)
        Job.objects.filter(pk=job.pk).update(file="", file_removed_at=now)
        count += 1
    return count


def job_file(job: Job):
    """The done job's file, open for reading; ``Missing`` (404 ``job_no_file``) while it is queued
    or running, when it failed, once its file was removed, or for a job that makes none."""
    if job.state == JobState.FAILED:
        raise Missing(_("The job failed: it has no file."), code=ErrorCode.JOB_NO_FILE)
    if job.state != JobState.DONE:
        raise Missing(_("The job is not done yet: its file is there once it is."), code=ErrorCode.JOB_NO_FILE)
    if job.file_removed_at is not None:
        raise Missing(_("The job's file was removed on %(day)s; ask for it again.") % {
            "day": job.file_removed_at.date().isoformat()}, code=ErrorCode.JOB_NO_FILE)
    if not job.file:
        raise Missing(_("This job makes no file."), code=ErrorCode.JOB_NO_FILE)
    return job.file.open("rb")
