"""Quarterly statements over the API: draft, submit (all problems at once), accept, return,
the XLSX template and its upload, and the overdue list."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api.access import grant_not_found
from api.exceptions import serializer_errors_as_application_error
from api.filters import StatementFilter
from api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentCreateMixin
from api.permissions import FinanceOrPartnerWrites
from api.schema import ErrorResponse409Serializer, document_query_errors
from api.serializers_statements import (
    OverdueQuerySerializer,
    OverdueSerializer,
    ReopenSerializer,
    ReturnSerializer,
    ReviewSerializer,
    StatementSerializer,
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
PROBLEMS = OpenApiResponse(description="Every problem of the statement, each with its code and attr.")
NOT_FOUND = OpenApiResponse(description="No such grant, or no such partner on it, for this user.")
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

    @extend_schema(request=ReviewSerializer, responses={200: StatementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept a submitted statement (finance officer): the partner's quarter is locked."""
        require_finance(request.user)
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_accept(statement=self.get_object(), by=request.user,
                                                        comment=body.validated_data["comment"])
        return Response(self.get_serializer(statement).data)

    @extend_schema(request=ReturnSerializer, responses={200: StatementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        """Send a submitted statement back to the partner with a comment (finance officer)."""
        require_finance(request.user)
        body = ReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_return(statement=self.get_object(), by=request.user,
                                                        comment=body.validated_data["comment"])
        return Response(self.get_serializer(statement).data)

    @extend_schema(request=ReopenSerializer, responses={200: StatementSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen an accepted quarter (finance officer) with a reason kept on record: the statement
        is submitted again until finance accepts it anew. Only the partner's latest accepted quarter
        reopens (409 ``later_quarter_accepted``: correct it with an adjustment)."""
        body = ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        statement = statement_services.statement_reopen(statement=self.get_object(), by=request.user,
                                                        reason=body.validated_data["reason"])
        return Response(self.get_serializer(statement).data)

    @extend_schema(parameters=[OverdueQuerySerializer], responses={200: OverdueSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def overdue(self, request):
        """Partners and ended quarters with no submitted or accepted statement once the grace
        period (default 30 days) has passed (finance officer)."""
        require_finance(request.user)
        query = OverdueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        rows = statement_services.statements_overdue(as_of=as_of, grace_days=query.validated_data["grace_days"])
        return Response(OverdueSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[TemplateQuerySerializer],
        responses={(200, XLSX): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    @action(detail=False, methods=["get"], url_path="template.xlsx", pagination_class=None)
    def template(self, request):
        """The statement workbook for a partner and quarter, in the user's language, with the
        opening balance and funds received filled from the ledger."""
        from django.http import HttpResponse

        from expenditures.workbook import statement_template

        query = TemplateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grant = grant_visible_to(request.user, query.validated_data["grant"])
        if grant is None:
            raise grant_not_found(query.validated_data["grant"])
        partner = partner_visible_on_grant(request.user, grant, query.validated_data.get("partner"))
        if partner is None:
            raise NotFound("No such partner on this grant.")
        lang = query.validated_data.get("lang") or (get_language() or "en")[:2]
        content, filename = statement_template(grant=grant, partner=partner,
                                               period=query.validated_data["period"], lang=lang)
        response = HttpResponse(content, content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(request={"multipart/form-data": UploadSerializer},
                   responses={201: StatementSerializer, 400: PROBLEMS, 409: CONFLICT})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser])
    def upload(self, request):
        """Turn a filled template into a draft statement, or answer 400 with the problems by
        sheet, row and column (``attr`` such as ``"Dépenses!D14"``)."""
        from expenditures.workbook import problems_in_cells, statement_from_workbook

        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = statement_from_workbook(body.validated_data["file"])
        serializer = self.get_serializer(data=data)
        # Outer: attrs become cells ("cash_on_hand" -> "Relevé!B13"); inner: the serializer's
        # errors become the services' ApplicationError, the one kind the workbook reads.
        with problems_in_cells(data), serializer_errors_as_application_error():
            serializer.is_valid(raise_exception=True)
            self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)



