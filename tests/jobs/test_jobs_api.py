"""Jobs through the API (issue 16): the workbook and the revaluation asked for in the background.

The jobs run eagerly here (config.settings_test: JOBS_RUNNER = "eager"), when the asking request's
transaction commits: a test captures the on-commit callbacks and runs them. A real Celery worker
on Redis runs one in tests/jobs/test_worker.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.utils import timezone

from expenditures.models import Expenditure, QuarterlyStatement
from grants.models import Grant, Partner, Role
from jobs import services
from jobs.models import Job, JobState
from reports import excel
from reports.selectors import budget_version_for
from tests.conftest import client_for, make_user
from tests.reports.test_footing import spend_on_seed

SEED = "/api/v1/grants/ML-ESEC-2015"
WORKBOOK_JOBS = f"{SEED}/reports/variance.xlsx/jobs/"
REVALUE_JOBS = f"{SEED}/revalue/jobs/"
FIXED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def spent(grant):
    spend_on_seed(grant, 300)
    return grant


def cells(content: bytes) -> dict:
    """Every sheet's cells: (sheet, coordinate) -> (value, number format)."""
    wb = openpyxl.load_workbook(BytesIO(content))
    out = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    out[(ws.title, cell.coordinate)] = (cell.value, cell.number_format)
    return out


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def ask(client, url, django_capture_on_commit_callbacks, **data):
    """POST, and run what waits for the commit (the job itself)."""
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(url, data or None, format="json")


# --- a workbook job's life --------------------------------------------------------------------------

def test_a_workbook_job_runs_to_the_workbook_the_get_gives(spent, finance, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    # given a fixed clock (the workbook says when it was generated)
    monkeypatch.setattr(excel.timezone, "now", lambda: FIXED_NOW)
    query = "?as_of=2017-06-30&lang=fr"

    # when a finance officer asks for the workbook as a job
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        accepted = finance.post(WORKBOOK_JOBS + query)

    # then 202 with the job, queued, its address in Location; it runs once the request committed
    assert accepted.status_code == 202, accepted.content
    job = accepted.json()
    assert job["state"] == "queued" and job["kind"] == "variance_workbook"
    assert accepted["Location"] == job["url"] == f"http://testserver/api/v1/jobs/{job['id']}/"
    assert job["params"] == {"as_of": "2017-06-30", "version": 1, "partner": None,
                             "statuses": ["submitted", "validated"], "lang": "fr"}
    assert job["file_url"] is None and job["error"] is None
    for callback in callbacks:
        callback()

    # when its owner follows it: done, every detail row counted, with its start and end
    done = finance.get(job["url"]).json()
    rows = Expenditure.objects.filter(grant=spent, date__lte="2017-06-30",
                                      status__in=["submitted", "validated"]).count()
    assert done["state"] == "done"
    assert done["progress"] == {"done": rows, "total": rows} and rows > 0
    assert done["started_at"] and done["finished_at"] and done["finished_at"] >= done["started_at"]
    assert done["file_url"] == f"http://testserver/api/v1/jobs/{job['id']}/file/"

    # then the file is the synchronous GET's workbook, cell for cell
    file = finance.get(done["file_url"])
    assert file.status_code == 200
    assert file["Content-Type"] == excel.XLSX_MEDIA_TYPE
    assert 'filename="variance_ML-ESEC-2015_2017-06-30_fr.xlsx"' in file["Content-Disposition"]
    sync = finance.get(f"{SEED}/reports/variance.xlsx{query}")
    assert cells(body_of(file)) == cells(body_of(sync))


def test_a_partner_gets_its_own_workbook_as_a_job(spent, bnce, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(excel.timezone, "now", lambda: FIXED_NOW)
    job = ask(bnce, WORKBOOK_JOBS + "?as_of=2017-06-30&lang=en", django_capture_on_commit_callbacks).json()
    assert job["params"]["partner"] == "BNCE"
    done = bnce.get(job["url"]).json()
    assert done["state"] == "done"
    file = bnce.get(done["file_url"])
    sync = bnce.get(f"{SEED}/reports/variance.xlsx?as_of=2017-06-30&lang=en")
    assert cells(body_of(file)) == cells(body_of(sync))


def test_the_workbook_job_refuses_what_the_get_refuses(grant, finance, bnce, django_capture_on_commit_callbacks):
    bad = finance.post(WORKBOOK_JOBS + "?as_of=someday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "as_of"
    assert finance.post("/api/v1/grants/NOPE/reports/variance.xlsx/jobs/").status_code == 404
    assert Job.objects.count() == 0


def test_progress_is_told_as_the_detail_is_written(spent, monkeypatch):
    # given progress told every 50 rows
    monkeypatch.setattr(excel, "PROGRESS_ROWS", 50)
    told = []
    version = budget_version_for(grant=spent)
    # when the workbook is written with a progress callback
    _name, handle = excel.variance_workbook(grant=spent, as_of=spent.end_date, version=version,
                                            progress=lambda done, total: told.append((done, total)))
    handle.close()
    # then it starts at 0 of the rows, climbs by 50, and ends with all of them done
    total = told[0][1]
    assert told[0] == (0, total) and total > 100
    assert [done for done, _ in told[1:-1]] == list(range(50, total, 50))[:len(told) - 2]
    assert told[-1] == (total, total)


def test_a_running_job_shows_its_live_progress(grant, finance, finance_user):
    # given a running job whose worker told 40 rows of 100 done
    job = Job.objects.create(kind="variance_workbook", owner=finance_user, grant=grant, params={}, params_key="k",
                             state=JobState.RUNNING, started_at=timezone.now(), time_limit=600)
    caches["jobs"].set(services.progress_key(job.pk), [40, 100])
    # then its owner sees them, and no file yet (404 job_no_file)
    body = finance.get(f"/api/v1/jobs/{job.pk}/").json()
    assert (body["state"], body["progress"]) == ("running", {"done": 40, "total": 100})
    early = finance.get(f"/api/v1/jobs/{job.pk}/file/")
    assert early.status_code == 404 and early.json()["errors"][0]["code"] == "job_no_file"
    caches["jobs"].delete(services.progress_key(job.pk))


# --- failures -----------------------------------------------------------------------------------------

def test_a_failed_revaluation_says_why(grant, finance, django_capture_on_commit_callbacks):
    # given an accepted statement: revaluing needs confirm
    QuarterlyStatement.objects.create(grant=grant, partner=Partner.objects.get(code="BNCE"), year=2016, quarter=1,
                                      status="accepted")
    # when asked as a job without it
    accepted = ask(finance, REVALUE_JOBS, django_capture_on_commit_callbacks, method="fifo")
    assert accepted.status_code == 202, accepted.content
    # then the job failed with the synchronous request's code and message, and nothing changed
    body = finance.get(accepted.json()["url"]).json()
    assert body["state"] == "failed" and body["finished_at"]
    assert body["error"]["code"] == "revaluation_needs_confirm"
    assert "confirm" in body["error"]["detail"]
    assert Grant.objects.get(pk=grant.pk).fx_method == "parity"
    assert finance.get(f"/api/v1/jobs/{body['id']}/file/").json()["errors"][0]["code"] == "job_no_file"


def test_an_unexpected_error_fails_the_job_without_telling_internals(grant, finance, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    def broken(job, progress):
        raise RuntimeError("secret internals")

    monkeypatch.setitem(services.RUNNERS, "variance_workbook", broken)
    job = ask(finance, WORKBOOK_JOBS, django_capture_on_commit_callbacks).json()
    body = finance.get(job["url"]).json()
    assert body["state"] == "failed" and body["error"]["code"] == "job_error"
    assert "secret" not in body["error"]["detail"]


def test_a_job_running_past_its_time_limit_is_failed(grant, finance, finance_user):
    # given a job that started long ago and never ended (its worker was killed)
    job = Job.objects.create(kind="variance_workbook", owner=finance_user, grant=grant, params={}, params_key="k",
                             state=JobState.RUNNING, time_limit=60,
                             started_at=timezone.now() - timedelta(seconds=61))
    # then whoever reads it finds it failed on its time limit
    body = finance.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["state"] == "failed" and body["error"]["code"] == "job_time_limit"


def test_a_job_stopped_by_the_time_limit_rolls_back_and_fails(grant, finance, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    # given a revaluation stopped half-way by the runner's time limit (Celery's soft limit)
    from expenditures import revaluation

    def stopped(**kwargs):
        raise services.JobTimeLimit()

    monkeypatch.setattr(revaluation, "grant_revalue", stopped)
    job = ask(finance, REVALUE_JOBS, django_capture_on_commit_callbacks, method="fifo").json()
    body = finance.get(job["url"]).json()
    assert body["state"] == "failed" and body["error"]["code"] == "job_time_limit"


# --- who may -------------------------------------------------------------------------------------------

def test_another_users_job_is_404(spent, finance, donor, django_capture_on_commit_callbacks):
    job = ask(finance, WORKBOOK_JOBS + "?as_of=2016-06-30", django_capture_on_commit_callbacks).json()
    other = make_user("another_finance", Role.FINANCE_OFFICER)
    for client in (donor, client_for(other)):
        for url in (job["url"], job["url"] + "file/"):
            response = client.get(url)
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == "not_found"
    assert finance.get("/api/v1/jobs/7b0c8e1e-0000-4000-8000-000000000000/").status_code == 404
    assert finance.get("/api/v1/jobs/not-a-uuid/").status_code == 404


def test_only_finance_revalues_in_the_background(grant, donor, bnce, anonymous):
    for client in (donor, bnce):
        assert client.post(REVALUE_JOBS, {"method": "fifo"}, format="json").status_code == 403
    assert anonymous.post(REVALUE_JOBS, {"method": "fifo"}, format="json").status_code == 401
    assert Job.objects.count() == 0


def test_a_revaluation_job_gives_the_synchronous_answer(grant, finance, django_capture_on_commit_callbacks):
    spend_on_seed(grant, 60)
    job = ask(finance, REVALUE_JOBS, django_capture_on_commit_callbacks, method="weighted_average").json()
    body = finance.get(job["url"]).json()
    assert body["state"] == "done", body
    assert body["result"]["method"] == "weighted_average"
    assert set(body["result"]) == {"method", "revalued", "delta_eur", "by_quarter", "frozen_quarters"}
    assert isinstance(body["result"]["delta_eur"], str)
    assert body["progress"]["done"] == body["progress"]["total"] == Expenditure.objects.filter(grant=grant).count()
    assert body["file_url"] is None
    assert Grant.objects.get(pk=grant.pk).fx_method == "weighted_average"


# --- the same request twice ------------------------------------------------------------------------------

def test_the_same_request_while_queued_gets_the_same_job(grant, finance, donor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = finance.post(WORKBOOK_JOBS + "?as_of=2016-06-30&lang=en").json()
        again = finance.post(WORKBOOK_JOBS + "?lang=en&as_of=2016-06-30").json()
        other = finance.post(WORKBOOK_JOBS + "?as_of=2016-06-30&lang=fr").json()
        someone_else = donor.post(WORKBOOK_JOBS + "?as_of=2016-06-30&lang=en").json()
    assert again["id"] == first["id"]
    assert len({first["id"], other["id"], someone_else["id"]}) == 3
    assert len(callbacks) == 3  # three jobs run, not four
    # once it ended, the same request is a new job
    for callback in callbacks:
        callback()
    with django_capture_on_commit_callbacks(execute=False):
        later = finance.post(WORKBOOK_JOBS + "?as_of=2016-06-30&lang=en").json()
    assert later["id"] != first["id"]


def test_a_job_run_twice_runs_once(grant, finance_user, django_capture_on_commit_callbacks):
    # given a job that a redelivered message would run again
    with django_capture_on_commit_callbacks(execute=True):
        job, created = services.request_revaluation(grant=grant, method="fifo", confirm=False, by=finance_user)
    finished = Job.objects.get(pk=job.pk).finished_at
    services.run_job(job.pk)
    assert created and Job.objects.get(pk=job.pk).finished_at == finished


# --- cleanup ---------------------------------------------------------------------------------------------

def test_old_files_are_removed_and_the_job_says_so(grant, finance, settings, django_capture_on_commit_callbacks):
    settings.JOB_FILES_KEEP_DAYS = 7
    job = ask(finance, WORKBOOK_JOBS + "?as_of=2016-06-30", django_capture_on_commit_callbacks).json()
    recent = ask(finance, WORKBOOK_JOBS + "?as_of=2016-03-31", django_capture_on_commit_callbacks).json()
    path = Job.objects.get(pk=job["id"]).file.path
    # given the first finished 8 days ago
    Job.objects.filter(pk=job["id"]).update(finished_at=timezone.now() - timedelta(days=8))
    # when the cleanup runs (the command beat's task runs)
    call_command("jobs_cleanup")
    # then its file is gone, the job says when, and asking for the file is 404
    assert not Path(path).exists()
    body = finance.get(job["url"]).json()
    assert body["file_removed_at"] and body["file_url"] is None
    gone = finance.get(f"/api/v1/jobs/{job['id']}/file/")
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "job_no_file"
    # the recent one is kept
    assert finance.get(recent["url"] + "file/").status_code == 200



# --- make run: no broker, the web process runs the job in a thread -----------------------------------------

@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_web_process_runs_the_job_in_a_thread(grant, finance, settings):
    import threading
    import time

    settings.JOBS_RUNNER = "thread"
    before = set(threading.enumerate())
    accepted = finance.post(WORKBOOK_JOBS + "?as_of=2016-06-30")
    assert accepted.status_code == 202
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=60)
    deadline = time.monotonic() + 60
    while (body := finance.get(accepted.json()["url"]).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert body["state"] == "done", body
    assert finance.get(body["file_url"]).status_code == 200


def test_a_broker_that_is_down_fails_the_job_not_the_request(grant, finance, settings, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    from jobs import tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    settings.JOBS_RUNNER = "celery"
    monkeypatch.setattr(tasks.run_job_task, "apply_async", down)
    job = ask(finance, WORKBOOK_JOBS, django_capture_on_commit_callbacks).json()
    body = finance.get(job["url"]).json()
    assert body["state"] == "failed" and body["error"]["code"] == "job_error"
