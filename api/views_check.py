"""The auditor's check of one grant (`reports.checks.ledger_check`) for finance officers and
the grant's donors; a partner member gets 404, as for a grant it may not read."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import grant_not_found, grant_or_404
from api.schema import ErrorResponse404Serializer
from grants.access import sees_whole_grant
from reports.checks import ledger_check


class DiscrepancySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="conversion_stale, digest_mismatch, chain_broken, report_not_footing, "
                                           "allocations_not_total (notes: draft_allocations_not_total, "
                                           "chain_reordered).")
    detail = serializers.CharField()
    grant = serializers.CharField()
    partner = serializers.CharField(allow_null=True)
    quarter = serializers.CharField(allow_null=True, help_text='e.g. "2016-Q3"')
    expenditure = serializers.IntegerField(allow_null=True, help_text="The expenditure's id.")
    statement = serializers.IntegerField(allow_null=True, help_text="The statement's id.")
    version = serializers.IntegerField(allow_null=True, help_text="The budget version's number.")


class CheckReportSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField()
    grants = serializers.ListField(child=serializers.CharField())
    ok = serializers.BooleanField(help_text="True when there is no discrepancy (notes do not count).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="What was checked, by kind.")
    discrepancies = DiscrepancySerializer(many=True)
    notes = DiscrepancySerializer(many=True, help_text="Findings that are not discrepancies (a draft version).")


class GrantCheckView(APIView):
    @extend_schema(
        operation_id="grants_check",
        summary="The auditor's check of a grant",
        description=(
            "Recomputes the grant's figures from the raw records, as `manage.py ledger_check --grant CODE` does: "
            "each stored EUR value against the grant's method, each accepted statement's digest and its chain "
            "to the previous quarter, the footing of every grouping of the variance report, each budget "
            "version's allocations against the grant's total. Finance officers and the grant's donors; a "
            "partner member gets 404."
        ),
        responses={200: CheckReportSerializer, 404: OpenApiResponse(response=ErrorResponse404Serializer,
                                                                  description="No such grant for this user.")},
    )
    def get(self, request: Request, code: str) -> Response:
        grant = grant_or_404(request.user, code)
        if not sees_whole_grant(request.user):
            raise grant_not_found(code)
        report = ledger_check(grant=grant)
        return Response(CheckReportSerializer(report.as_dict()).data)
