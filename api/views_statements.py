"""Quarterly statements over the API: draft, submit (all problems at once), accept, return (with
comments on rows and balances), the XLSX template, its upload (`statements.statement_upload`:
created, or sent again), the versions sent, the problems handed back in the workbook, and the
overdue list."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.access import grant_not_found
from api.filters import PageQuerySerializer, StatementFilter
from api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentCreateMixin
from api.permissions import FinanceOrPartnerWrites
from api.schema import (
    ErrorResponse404Serializer,
    ErrorResponse409Serializer,
    QueryProblemsSerializer,
    StatementProblemsResponseSerializer,
    document_query_errors,
)
from api.serializers_statements import (
    LangQuerySerializer,
    OverdueQuerySerializer,
    OverdueSerializer,
    ReopenSerializer,
    ReturnSerializer,
    ReviewSerializer,
    StatementSerializer,
    StatementVersionDetailSerializer,
    StatementVersionSerializer,
    TemplateQuerySerializer,
    UploadSerializer,
)
from expenditures import statements as statement_services
from expenditures.models import QuarterlyStatement
from grants.access import (
    acting_partner,
    grant_visible_to,
    partner_visible_on_grant,
    require_grant_visible,
    visible_records,
)
from grants.roles import require_finance

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEMS = OpenApiResponse(response=StatementProblemsResponseSerializer, description=(
    "Every problem of the statement at once, each with its code, attr and, where they apply, its row (the "
    "expenditure's line number, from 1) and its workbook cell."))
UPLOAD_PROBLEMS = OpenApiResponse(response=StatementProblemsResponseSerializer, description=(
    "Every problem of the workbook at once, each on its cell (attr and cell, e.g. \"Dépenses!D5\"; row for an "
    "expenditure), in the request's language (Accept-Language or ?lang), else the workbook's."))
VERSION_NUMBER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH,
                                  description="The version's number, from 1.")
BAD_QUERY = OpenApiResponse(response=QueryProblemsSerializer,
                            description="A query parameter is missing or malformed; `attr` names it.")
NOT_FOUND = OpenApiResponse(response=ErrorResponse404Serializer,
                            description="No such grant, or no such partner on it, for this user.")
CONFLICT = OpenApiResponse(response=ErrorResponse409Serializer,
                           description="The statement's state forbids it (locked quarter, not submitted).")


@document_query_errors(OverdueQuerySerializer, actions=["overdue"])
@document_query_errors(TemplateQuerySerializer, actions=["template"])
@extend_schema_view(
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER], responses={201: StatementSerializer, 409: CONFLICT}),
    update=extend_schema(responses={200: StatementSerializer, 409: CONFLICT}),
    partial_update=extend_schema(responses={200: StatementSerializer, 409: CONFLICT}),
    destroy=extend_schema(responses={204: None, 409: CONFLICT}),
)
class StatementViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    queryset = QuarterlyStatement.objects.none()
    serializer_class = StatementSerializer
    permission_classes = [FinanceOrPartnerWrites]
    filterset_class = StatementFilter

    def get_queryset(self):
        queryset = QuarterlyStatement.objects.select_related("grant", "partner", "reviewed_by").prefetch_related(
            "reopenings__reopened_by").order_by(
            "grant__code", "partner__code", "year", "quarter")
        return visible_records(queryset, self.request.user)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data["partner"] = acting_partner(self.request.user, data.get("partner"))
        require_grant_visible(self.request.user, data["grant"])
        serializer.instance = statement_services.statement_create(by=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        statement = serializer.instance
        serializer.instance = statement_services.statement_update(statement=statement, by=self.request.user, **data)

    def perform_destroy(self, instance):
        statement_services.statement_delete(statement=instance, by=self.request.user)

    @extend_schema(request=None, responses={200: StatementSerializer, 400: PROBLEMS, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Run every check. 200 with the submitted statement, or 400 listing all the problems."""
        statement = statement_services.statement_submit(statement=self.get_object(), by=request.user)
        return Response(self.get_serializer(statement).data)

    @extend_schema(request=ReviewSerializer, responses={200: StatementSerializer, 400: PROBLEMS, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept a submitted statement (finance officer): the partner's quarter is locked. 400
        `opening_balance_mismatch` when its opening balance is not what the ledger shows."""
        require_finance(request.user)
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_accept(statement=self.get_object(), by=request.user,
                                                        comment=body.validated_data["comment"])
        return Response(self.get_serializer(statement).data)

    @extend_schema(request=ReturnSerializer, responses={200: StatementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        """Send a submitted statement back to the partner with a comment (finance officer), and
        comments on single rows (numbered from 1) and balances, which the partner sees beside them
        (`review_comments`, and in `problems.xlsx`)."""
        require_finance(request.user)
        body = ReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_return(statement=self.get_object(), by=request.user,
                                                        comment=body.validated_data["comment"],
                                                        comments=[dict(item) for item in
                                                                  body.validated_data["comments"]])
        return Response(self.get_serializer(statement).data)

    @extend_schema(request=ReopenSerializer, responses={200: StatementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen an accepted quarter (finance officer) with a reason kept on record: the statement
        is submitted again until finance accepts it anew. Only the partner's latest accepted quarter
        reopens (409 `later_quarter_accepted`: correct it with an adjustment)."""
        body = ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_reopen(statement=self.get_object(), by=request.user,
                                                        reason=body.validated_data["reason"])
        return Response(self.get_serializer(statement).data)

    @extend_schema(parameters=[OverdueQuerySerializer], responses={200: OverdueSerializer(many=True)})
    @action(detail=False, methods=["get"], filter_backends=[])
    def overdue(self, request):
        """Partners and ended quarters with no submitted or accepted statement once the grace
        period (default 30 days) has passed (finance officer)."""
        require_finance(request.user)
        query = OverdueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        rows = statement_services.statements_overdue(as_of=as_of, grace_days=query.validated_data["grace_days"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(OverdueSerializer(page, many=True).data)

    @extend_schema(
        parameters=[TemplateQuerySerializer],
        responses={(200, XLSX): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    @action(detail=False, methods=["get"], url_path="template.xlsx", pagination_class=None)
    def template(self, request):
        """The statement workbook for a partner and quarter, in the user's language, with the
        opening balance and funds received filled from the ledger."""
        from expenditures.workbook import statement_template

        query = TemplateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grant = grant_visible_to(request.user, query.validated_data["grant"])
        if grant is None:
            raise grant_not_found(query.validated_data["grant"])
        partner = partner_visible_on_grant(request.user, grant, query.validated_data.get("partner"))
        if partner is None:
            raise NotFound(_("No such partner on this grant."))
        lang = query.validated_data.get("lang") or (get_language() or "en")[:2]
        content, filename = statement_template(grant=grant, partner=partner,
                                               period=query.validated_data["period"], lang=lang)
        return _xlsx(content, filename)

    @extend_schema(parameters=[LangQuerySerializer], request={"multipart/form-data": UploadSerializer},
                   responses={201: StatementSerializer, 200: StatementSerializer, 400: UPLOAD_PROBLEMS,
                              409: CONFLICT})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser])
    def upload(self, request):
        """Turn a filled template into a draft statement (201), or send it again: a draft or
        returned statement of the quarter gets the workbook's content (200, the same statement).
        400 lists every problem of the workbook at once, on its cell (`"Dépenses!D5"`); a
        statement saved carries in `problems` what submission would still refuse. 409 for a
        quarter whose statement is submitted or accepted, saying what to do. A file over the upload
        limit answers 413 `upload_too_large`; one that unpacks to too much, 400 on `file`."""
        from expenditures.upload_limits import upload_check_length

        upload_check_length(request.META.get("CONTENT_LENGTH"))  # before the body is read
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_upload(file=body.validated_data["file"], by=request.user,
                                                        lang=_requested_language(request))
        created = statement.versions.count() == 1
        return Response(self.get_serializer(statement).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={200: StatementVersionSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request, pk=None):
        """Every content the statement was sent with, oldest first: each workbook uploaded, each
        body written through the API, who sent it and when."""
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        versions = statement_services.statement_version_list(statement=self.get_object())
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(StatementVersionSerializer(page, many=True).data)

    @extend_schema(parameters=[VERSION_NUMBER], responses={200: StatementVersionDetailSerializer})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)", pagination_class=None)
    def version(self, request, pk=None, number=None):
        """One version as it was sent: the body read (or written), and a workbook's cells."""
        version = self._version(number)
        return Response(StatementVersionDetailSerializer(version).data)

    @extend_schema(parameters=[VERSION_NUMBER], responses={(200, XLSX): OpenApiTypes.BINARY, 404: NOT_FOUND})
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)/file.xlsx", pagination_class=None)
    def version_file(self, request, pk=None, number=None):
        """The workbook of a version, byte for byte as it was uploaded (404 for a body sent
        through the API)."""
        version = self._version(number)
        if version.file is None:
            raise NotFound(_("This version was sent through the API: it has no file."))
        return _xlsx(bytes(version.file), version.file_name or f"version-{version.number}.xlsx")

    def _version(self, number):
        version = statement_services.statement_version_get(statement=self.get_object(), number=int(number))
        if version is None:
            raise NotFound(_("No such version."))
        return version

    @extend_schema(parameters=[LangQuerySerializer], responses={(200, XLSX): OpenApiTypes.BINARY, 400: BAD_QUERY})
    @action(detail=True, methods=["get"], url_path="problems.xlsx", pagination_class=None)
    def problems(self, request, pk=None):
        """The partner's own workbook (the last uploaded, else the template filled with the
        statement) with each problem's cell filled and commented, and finance's comments beside
        the rows and balances, in ?lang, else the workbook's language, else the request's."""
        from expenditures.workbook import statement_problems_workbook

        query = LangQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        content, filename = statement_problems_workbook(statement=self.get_object(),
                                                        lang=query.validated_data.get("lang"))
        return _xlsx(content, filename)


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _requested_language(request) -> str | None:
    """The language a request asks for: `?lang`, else its Accept-Language; None when it names
    none (the workbook's own language is then used)."""
    query = LangQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    if query.validated_data.get("lang"):
        return query.validated_data["lang"]
    if request.META.get("HTTP_ACCEPT_LANGUAGE"):
        return (get_language() or "en")[:2]
    return None
