"""Jobs: the donor's workbook and a revaluation asked for in the background, then followed.

``POST .../reports/variance.xlsx/jobs/`` (the workbook GET's parameters, in the query string) and
``POST .../revalue/jobs/`` (the revaluation's body) answer 202 with the job; ``GET /jobs/{id}/``
tells its state and progress, ``GET /jobs/{id}/file/`` gives the workbook once it is done. The
synchronous GET and POST stay as they are. Thin views: the checks are the synchronous views',
the rules ``jobs.services``'.
"""

from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import grant_or_404
from api.permissions import FinanceWritesOthersRead, HasLedgerRole
from api.schema import document_query_errors
from api.views_fx import RevalueSerializer
from api.views_reports import ReportQuerySerializer, _ReportView
from grants.roles import require_finance
from jobs.models import Job, JobKind, JobState
from jobs.services import job_file, job_for, job_progress, request_revaluation, request_workbook
from reports.excel import XLSX_MEDIA_TYPE


class JobProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Rows done.")
    total = serializers.IntegerField(allow_null=True, help_text="Rows to do; null until the job has counted them.")


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="job_time_limit, job_error, or the code the synchronous request would "
                                           "have answered with (e.g. revaluation_needs_confirm).")
    detail = serializers.CharField()


class JobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.SerializerMethodField(help_text="This job's address: poll it until its state is done or "
                                                      "failed.")
    kind = serializers.ChoiceField(choices=JobKind.choices)
    state = serializers.ChoiceField(choices=JobState.choices)
    grant = serializers.CharField(source="grant.code")
    params = serializers.DictField(help_text="The request's parameters, with their defaults filled in.")
    progress = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    time_limit = serializers.IntegerField(help_text="Seconds the job may run; past them it fails (job_time_limit).")
    error = serializers.SerializerMethodField()
    result = serializers.JSONField(allow_null=True, help_text="A revaluation's result, as the synchronous POST "
                                                              "answers it; null for a workbook.")
    file_url = serializers.SerializerMethodField(help_text="Where the workbook is, once the job is done.")
    filename = serializers.CharField(allow_blank=True)
    file_removed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the file was removed (files are kept a number of days).")

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.URLField())
    def get_url(self, job: Job) -> str:
        return self._absolute(reverse("job-detail", args=[job.pk]))

    @extend_schema_field(JobProgressSerializer)
    def get_progress(self, job: Job) -> dict:
        done, total = job_progress(job)
        return {"done": done, "total": total}

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job: Job) -> dict | None:
        if job.state != JobState.FAILED:
            return None
        return {"code": job.error_code, "detail": job.error}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_file_url(self, job: Job) -> str | None:
        if job.state != JobState.DONE or not job.file:
            return None
        return self._absolute(reverse("job-file", args=[job.pk]))


JOB_202 = OpenApiResponse(
    response=JobSerializer,
    description="The job, queued (or the same request's job, still queued or running). Its `url` is in the "
                "Location header too.")


def _accepted(request: Request, job: Job) -> Response:
    body = JobSerializer(job, context={"request": request}).data
    return Response(body, status=202, headers={"Location": body["url"]})


@document_query_errors(ReportQuerySerializer, methods=("post",))
class VarianceWorkbookJobView(_ReportView):
    @extend_schema(
        operation_id="report_variance_workbook_job", parameters=[ReportQuerySerializer], request=None,
        responses={202: JOB_202},
        summary="Make the donor's workbook in the background",
        description=(
            "The workbook `GET .../reports/variance.xlsx` gives, made by a job instead of within the request: "
            "for a whole grant with many expenditures, it takes longer than a proxy waits. Same parameters, "
            "in the query string, and the same scope (a partner member gets its own part). Answers 202 with the "
            "job; follow its `url` until its state is done, then download `file_url`. The same request while "
            "its job is queued or running gets that job."))
    def post(self, request: Request, code: str) -> Response:
        args = self.report_arguments(request, code)
        job, _created = request_workbook(grant=args["grant"], as_of=args["as_of"], version=args["version"],
                                         partner=args["partner"], lang=args["lang"], statuses=args["statuses"],
                                         by=request.user)
        return _accepted(request, job)


class GrantRevalueJobView(APIView):
    permission_classes = [FinanceWritesOthersRead]

    @extend_schema(
        operation_id="grants_revalue_job", request=RevalueSerializer, responses={202: JOB_202},
        summary="Revalue a grant in the background",
        description=(
            "Finance officers only. The revaluation `POST /grants/{code}/revalue/` makes, run by a job: a grant "
            "with many expenditures takes longer than a proxy waits. Answers 202 with the job; its `result`, "
            "once done, is the synchronous answer; a refusal (such as 409 `revaluation_needs_confirm`) is the "
            "failed job's `error`."))
    def post(self, request: Request, code: str) -> Response:
        grant = grant_or_404(request.user, code)
        require_finance(request.user)
        data = RevalueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job, _created = request_revaluation(grant=grant, method=data.validated_data["method"],
                                            confirm=data.validated_data["confirm"], by=request.user)
        return _accepted(request, job)


def _job_or_404(request: Request, job_id) -> Job:
    job = job_for(request.user, job_id)
    if job is None:
        raise NotFound(_("No job %(id)s among yours.") % {"id": job_id})
    return job


class JobView(APIView):
    permission_classes = [HasLedgerRole]

    @extend_schema(
        operation_id="jobs_retrieve", responses={200: JobSerializer},
        summary="Follow a job",
        description=(
            "A job you asked for: its state (queued, running, done, failed), its progress (rows done of rows to "
            "do), when it started and ended, its error if it failed, and where its file is once done. Another "
            "user's job is 404."))
    def get(self, request: Request, job_id) -> Response:
        return Response(JobSerializer(_job_or_404(request, job_id), context={"request": request}).data)


class JobFileView(APIView):
    permission_classes = [HasLedgerRole]

    def perform_content_negotiation(self, request, force=False):
        # A client asking for the spreadsheet type still gets its errors, in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="jobs_file", responses={(200, XLSX_MEDIA_TYPE): OpenApiTypes.BINARY},
        summary="Download a job's workbook",
        description=(
            "The workbook of a done job, the same as the synchronous GET with the job's parameters. 404 "
            "`job_no_file` while the job is queued or running, when it failed, once its file was removed (files "
            "are kept a number of days) or for a job that makes no file."))
    def get(self, request: Request, job_id):
        job = _job_or_404(request, job_id)
        return FileResponse(job_file(job), as_attachment=True, filename=job.filename,
                            content_type=XLSX_MEDIA_TYPE)
