"""Budget revisions over the API: moves inside a draft and the donor's decision on it."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.access import budget_line_or_400, grant_or_404
from api.fields import EUR_ONLY, CodeRelatedField, MoneyAmountField, MoneyInputMixin, currency_field
from api.filters import PageQuerySerializer
from api.permissions import HasLedgerRole
from api.schema import ErrorResponse409Serializer
from budget.models import BudgetVersion, Reallocation
from budget.revisions import Cell, donor_approval_state, donor_decision_record, reallocate
from grants.access import donor_deciding, sees_whole_grant
from grants.errors import ErrorCode, PermissionRefused
from grants.models import Location, Partner
from grants.periods import MAX_GRANT_YEARS
from grants.roles import require_finance

CONFLICT = OpenApiResponse(response=ErrorResponse409Serializer, description="The version is not a draft.")


class CellSerializer(serializers.Serializer):
    budget_line = serializers.CharField(help_text='A line\'s code, e.g. "2.1".')
    partner = CodeRelatedField(queryset=Partner.objects.all(), unknown_code=ErrorCode.UNKNOWN_PARTNER)
    location = CodeRelatedField(queryset=Location.objects.all(), unknown_code=ErrorCode.UNKNOWN_LOCATION)
    year = serializers.IntegerField(min_value=1, max_value=MAX_GRANT_YEARS)


class ReallocationRequestSerializer(MoneyInputMixin, serializers.Serializer):
    money_fields = ("amount",)
    positive_money_fields = ("amount",)
    # "from" is a Python keyword: the field is added in get_fields.
    to = CellSerializer()
    amount = MoneyAmountField()
    amount_currency = currency_field(EUR_ONLY, default="EUR")
    reason = serializers.CharField()

    def get_fields(self):
        return {"from": CellSerializer(), **super().get_fields()}


class HeadingStandingSerializer(serializers.Serializer):
    code = serializers.CharField()
    original = serializers.DecimalField(max_digits=14, decimal_places=2)
    revised = serializers.DecimalField(max_digits=14, decimal_places=2)
    change = serializers.DecimalField(max_digits=14, decimal_places=2)
    change_pct = serializers.DecimalField(max_digits=9, decimal_places=2, allow_null=True)
    needs_donor_approval = serializers.BooleanField()
    warning = serializers.BooleanField()


class StandingSerializer(serializers.Serializer):
    headings = HeadingStandingSerializer(many=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    grant_total = serializers.DecimalField(max_digits=14, decimal_places=2)


class CellOutSerializer(serializers.Serializer):
    budget_line = serializers.CharField()
    partner = serializers.CharField()
    location = serializers.CharField()
    year = serializers.IntegerField()


class ReallocationSerializer(serializers.ModelSerializer):
    to = serializers.SerializerMethodField()
    amount = MoneyAmountField()
    amount_currency = serializers.CharField()
    moved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Reallocation
        fields = ["id", "to", "amount", "amount_currency", "reason", "moved_by", "moved_at"]

    def get_fields(self):
        fields = super().get_fields()
        return {"id": fields.pop("id"), "from": serializers.SerializerMethodField(method_name="get_from"), **fields}

    @staticmethod
    def _cell(line, partner, location, year) -> dict:
        return {"budget_line": line.code, "partner": partner.code, "location": location.code, "year": year}

    @extend_schema_field(CellOutSerializer)
    def get_from(self, move) -> dict:
        return self._cell(move.from_line, move.from_partner, move.from_location, move.from_year)

    @extend_schema_field(CellOutSerializer)
    def get_to(self, move) -> dict:
        return self._cell(move.to_line, move.to_partner, move.to_location, move.to_year)


class DonorDecisionRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approved", "rejected"])
    comment = serializers.CharField(allow_blank=True, required=False, default="")
    donor = serializers.CharField(required=False, help_text="Needed only for a member of several donors.")


class DonorDecisionSerializer(serializers.Serializer):
    version = serializers.IntegerField(source="version.number")
    donor = serializers.CharField(source="donor.code")
    decision = serializers.CharField()
    comment = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True)
    decided_at = serializers.DateTimeField()
    allocations_fingerprint = serializers.CharField(
        help_text="SHA-256 of the draft's allocations the decision covers (DOMAIN rule 14).")
    approval_state = serializers.SerializerMethodField(
        help_text="The draft's standing under the donor's rule: not_needed, missing, approved, rejected or stale "
                  "(the allocations changed since the last decision).")

    def get_approval_state(self, decision) -> str:
        return donor_approval_state(decision.version)


class _VersionChildView(GenericAPIView):
    permission_classes = [HasLedgerRole]
    filter_backends = []  # a version's moves are read whole, page by page

    def get_version(self) -> BudgetVersion:
        grant = grant_or_404(self.request.user, self.kwargs["grant_code"])
        version = BudgetVersion.objects.filter(grant=grant, number=self.kwargs["number"]).select_related(
            "grant").first()
        if version is None:
            raise NotFound(_("No such version."))
        return version


# "from" and "to" are nested objects: their own required and null (drf-standardized-errors
# documents the fields inside them only).
@extend_validation_errors(["null", "required"], field_name="from", methods=["post"])
@extend_validation_errors(["null", "required"], field_name="to", methods=["post"])
class ReallocationView(_VersionChildView):
    serializer_class = ReallocationSerializer
    queryset = Reallocation.objects.none()

    @extend_schema(responses={200: ReallocationSerializer(many=True)})
    def get(self, request, grant_code: str, number: int):
        """The moves made in this version, oldest first (finance officers and donors)."""
        version = self.get_version()
        if not sees_whole_grant(request.user):
            raise PermissionRefused(_("Partners see their own allocations, not the moves between them."))
        PageQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        moves = (version.reallocations.select_related(
            "from_line", "from_partner", "from_location", "to_line", "to_partner", "to_location", "moved_by")
            .order_by("moved_at", "id"))
        page = self.paginate_queryset(moves)
        return self.get_paginated_response(ReallocationSerializer(page, many=True).data)

    @extend_schema(request=ReallocationRequestSerializer, responses={200: StandingSerializer, 409: CONFLICT})
    def post(self, request, grant_code: str, number: int):
        """Move money inside a draft (finance officer); answers the draft's standing by heading."""
        require_finance(request.user)
        version = self.get_version()
        body = ReallocationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        cells = {}
        for side in ("from", "to"):
            cell = data[side]
            line = budget_line_or_400(version.grant, cell["budget_line"], attr=f"{side}.budget_line")
            cells[side] = Cell(line, cell["partner"], cell["location"], cell["year"])
        standing = reallocate(version=version, source=cells["from"], target=cells["to"], amount=data["amount"],
                              reason=data["reason"], by=request.user)
        return Response(StandingSerializer(standing).data)


class DonorApprovalView(_VersionChildView):
    serializer_class = DonorDecisionSerializer
    queryset = BudgetVersion.objects.none()

    @extend_schema(request=DonorDecisionRequestSerializer, responses={201: DonorDecisionSerializer, 409: CONFLICT})
    def post(self, request, grant_code: str, number: int):
        """Record a donor's decision on a draft (a member of a donor of the grant)."""
        version = self.get_version()
        body = DonorDecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        donor = donor_deciding(request.user, version.grant, body.validated_data.get("donor"))
        if donor is None:
            raise PermissionRefused(_("Only a member of a donor of this grant records its decision."))
        decision = donor_decision_record(version=version, donor=donor, decision=body.validated_data["decision"],
                                         comment=body.validated_data["comment"], by=request.user)
        return Response(DonorDecisionSerializer(decision).data, status=201)
