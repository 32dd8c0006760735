"""Conversions: a finance officer revalues a grant under a method; anyone who may read a grant
reads its fund reconciliation (a partner member, its own row only).

Thin views: a serializer checks the input, one service or selector does the work
(`expenditures.revaluation.grant_revalue`, `expenditures.reconciliation.reconciliation_for`),
a serializer shapes the answer (money as strings). Errors the services raise are turned into the
API's error body by `api.exceptions`.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import grant_or_404
from api.filters import QuerySerializer
from api.permissions import FinanceWritesOthersRead, HasLedgerRole
from api.schema import ErrorResponse409Serializer, document_query_errors
from expenditures.reconciliation import reconciliation_for
from expenditures.revaluation import grant_revalue
from grants.access import partner_to_read
from grants.errors import ErrorCode
from grants.models import FxMethod
from grants.periods import validate_in_bounds
from grants.roles import require_finance

EUR_DIGITS = {"max_digits": 16, "decimal_places": 2}
XOF_DIGITS = {"max_digits": 16, "decimal_places": 0}
RATE_DIGITS = {"max_digits": 16, "decimal_places": 6}


# --- revalue ----------------------------------------------------------------------------------------

class RevalueSerializer(serializers.Serializer):
    """The method to switch to, and the confirmation an accepted statement requires."""

    method = serializers.ChoiceField(choices=FxMethod.choices, help_text="The conversion method to switch to.")
    confirm = serializers.BooleanField(
        default=False,
        help_text="Required (true) once a statement of the grant is accepted: the method then changes for "
                  "the open quarters only (accepted quarters keep their EUR).",
    )


class FrozenQuarterSerializer(serializers.Serializer):
    partner = serializers.CharField(help_text="The partner's code.")
    period = serializers.CharField(help_text="The accepted quarter, e.g. 2016-Q3.")


class RevalueResultSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=FxMethod.choices)
    revalued = serializers.IntegerField(help_text="Expenditures whose stored conversion changed.")
    delta_eur = serializers.DecimalField(**EUR_DIGITS, help_text="Change of their EUR total.")
    by_quarter = serializers.DictField(child=serializers.IntegerField(),
                                       help_text='Expenditures moved per quarter, e.g. {"2016-Q3": 12}.')
    frozen_quarters = FrozenQuarterSerializer(
        many=True, help_text="Accepted quarters, left with the EUR they were accepted with.")


class GrantRevalueView(APIView):
    # Finance officers only: DRF's check, so that the schema documents the 403 the others get.
    permission_classes = [FinanceWritesOthersRead]

    @extend_schema(
        operation_id="grants_revalue",
        summary="Switch a grant's conversion method and revalue its spending",
        description=(
            "Finance officers only. Sets the grant's method (recorded in its history) and recomputes the "
            "stored EUR value of every partner's expenditures of open quarters in one transaction. Once a "
            "statement of the grant is accepted, `confirm: true` is required (409 `revaluation_needs_confirm` "
            "otherwise); accepted quarters keep the EUR they were accepted with and are listed."
        ),
        request=RevalueSerializer,
        responses={
            200: RevalueResultSerializer,
            409: OpenApiResponse(response=ErrorResponse409Serializer,
                                 description="A statement of the grant is accepted: send confirm: true."),
        },
    )
    def post(self, request: Request, code: str) -> Response:
        grant = grant_or_404(request.user, code)
        require_finance(request.user)
        data = RevalueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = grant_revalue(grant=grant, method=data.validated_data["method"],
                               confirm=data.validated_data["confirm"], by=request.user)
        return Response(RevalueResultSerializer(result).data)


# --- reconciliation ----------------------------------------------------------------------------------

class ReconciliationQuerySerializer(QuerySerializer):
    as_of = serializers.DateField(required=False, validators=[validate_in_bounds],
                                  help_text="Count up to this day (default: today).")
    partner = serializers.CharField(required=False, max_length=32, help_text="One partner's code.")


class ReconciliationTotalSerializer(serializers.Serializer):
    eur_sent = serializers.DecimalField(**EUR_DIGITS, help_text="EUR sent in transfers received by as_of.")
    fees_eur = serializers.DecimalField(**EUR_DIGITS, help_text="Their fees (XOF fees at the parity).")
    xof_received = serializers.DecimalField(**XOF_DIGITS)
    effective_rate = serializers.DecimalField(**RATE_DIGITS, allow_null=True,
                                              help_text="XOF received / EUR sent for them.")
    xof_spent = serializers.DecimalField(**XOF_DIGITS, help_text="Submitted and validated spending.")
    xof_balance = serializers.DecimalField(**XOF_DIGITS, help_text="Received - spent: the advance to justify.")
    unfunded_xof = serializers.DecimalField(**XOF_DIGITS, help_text="Spent beyond the funds (fifo).")
    eur_spent = serializers.DecimalField(**EUR_DIGITS, help_text="At the grant's method (stored values).")
    eur_spent_at_parity = serializers.DecimalField(**EUR_DIGITS)
    fx_difference_eur = serializers.DecimalField(**EUR_DIGITS, help_text="At parity minus at the method.")
    reported_closing_balance_xof = serializers.DecimalField(
        **XOF_DIGITS, allow_null=True, help_text="From the latest accepted statement ending by as_of.")
    discrepancy_xof = serializers.DecimalField(
        **XOF_DIGITS, allow_null=True, help_text="Reported closing balance - the ledger's balance at its end.")


class ReconciliationPartnerRowSerializer(ReconciliationTotalSerializer):
    partner = serializers.CharField()
    statement_period = serializers.CharField(allow_null=True, help_text="e.g. 2020-Q1")
    statement_end = serializers.DateField(allow_null=True)
    xof_balance_at_statement_end = serializers.DecimalField(**XOF_DIGITS, allow_null=True)


class ReconciliationResponseSerializer(serializers.Serializer):
    grant = serializers.CharField()
    as_of = serializers.DateField()
    method = serializers.ChoiceField(choices=FxMethod.choices)
    partners = ReconciliationPartnerRowSerializer(many=True)
    total = ReconciliationTotalSerializer(help_text="The sum of the partner rows.")


@document_query_errors(ReconciliationQuerySerializer)
class GrantReconciliationView(APIView):
    # A role in the ledger (DRF's check), so that the schema documents the 403 a partner member
    # gets for another partner's row.
    permission_classes = [HasLedgerRole]

    @extend_schema(
        operation_id="grants_reconciliation",
        summary="Each partner's fund reconciliation on a grant",
        description=(
            "EUR sent, XOF received and spent, the balance still to justify, unfunded spending, EUR spent at "
            "the grant's method and at the parity, and the difference; against the latest accepted statement "
            "where there is one. The partner rows add up to the total. A partner member sees its own row."
        ),
        parameters=[ReconciliationQuerySerializer],
        responses={200: ReconciliationResponseSerializer},
    )
    def get(self, request: Request, code: str) -> Response:
        grant = grant_or_404(request.user, code)
        query = ReconciliationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of = query.validated_data.get("as_of") or timezone.localdate()
        partner = None
        if "partner" in query.validated_data:
            partner = grant.partners.filter(code=query.validated_data["partner"]).first()
            if partner is None:
                raise serializers.ValidationError(
                    {"partner": [_("%(partner)s is not a partner of %(grant)s.") % {
                        "partner": query.validated_data['partner'], "grant": grant.code}]},
                    code=ErrorCode.UNKNOWN_PARTNER.value,
                )
        report = reconciliation_for(grant=grant, as_of=as_of, partner=partner_to_read(request.user, partner))
        return Response(ReconciliationResponseSerializer(report).data)
