"""Report endpoints: variance, burn rate, cost per beneficiary (JSON) and the donor's workbook.

Thin views: a small serializer checks the query string (a bad `by`, date, status or version is
a 400 naming the field), `reports.selectors` reads, the pure report functions compute, a
response serializer turns Decimals into strings. A grant the user may not read is 404; a
partner's member gets the reports restricted to that partner's allocations and spending.
"""

from __future__ import annotations

from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import grant_or_404
from api.filters import QuerySerializer
from api.schema import document_query_errors
from expenditures.models import COUNTED_STATUSES
from grants.access import partner_scope
from grants.periods import validate_in_bounds
from reports.beneficiaries import ACTUAL_GRAIN as BENEFICIARY_GRAIN
from reports.beneficiaries import cost_per_beneficiary
from reports.burn_rate import ACTUAL_GRAIN as BURN_RATE_GRAIN
from reports.burn_rate import burn_rate
from reports.excel import XLSX_MEDIA_TYPE, variance_workbook
from reports.labels import LANGS
from reports.selectors import GRAIN, UnknownVersion, budget_version_for, report_as_of, report_inputs
from reports.variance import DIMENSIONS, FLAGS, BadGrouping, actual_grain, parse_by, variance

COUNTED = [str(s) for s in COUNTED_STATUSES]


# --- query strings ---------------------------------------------------------------------------------

class ReportQuerySerializer(QuerySerializer):
    as_of = serializers.DateField(
        required=False, validators=[validate_in_bounds],
        help_text="YYYY-MM-DD; default today, capped at the grant's end date."
    )
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Budget version number (approved or superseded); default the current version.",
    )
    status = serializers.CharField(
        required=False,
        help_text="Comma-separated statuses of spending that counts, among submitted and validated "
                  "(default both). Draft and rejected spending never counts.",
    )
    lang = serializers.ChoiceField(choices=LANGS, required=False,
                                   help_text="Labels in French or English (default: Accept-Language, else en).")

    def validate_status(self, value: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
        wrong = [n for n in names if n not in COUNTED]
        if not names or wrong:
            raise serializers.ValidationError(
                _("Choose among %(values)s; draft and rejected spending never counts.") % {"values": ', '.join(COUNTED)}
            )
        return names


class VarianceQuerySerializer(ReportQuerySerializer):
    compare = serializers.IntegerField(
        required=False, min_value=1,
        help_text="Another approved or superseded version: adds `budget_compared` and `budget_change` "
                  "(budget - budget_compared) to every row.",
    )
    by = serializers.CharField(
        required=False, default="line",
        help_text="One of " + ", ".join(DIMENSIONS) + ", or two separated by a comma (the second nested "
                  "in the first as `children`).",
    )

    def validate_by(self, value: str) -> tuple[str, ...]:
        try:
            return parse_by(value)
        except BadGrouping as exc:
            raise serializers.ValidationError(str(exc)) from exc


class BurnRateQuerySerializer(ReportQuerySerializer):
    window = serializers.IntegerField(required=False, default=3, min_value=1, max_value=120,
                                      help_text="Full months the burn rate averages (default 3).")


# --- answers (for the schema and to turn Decimals into strings) -------------------------------------

def _money(**kwargs):
    return serializers.DecimalField(max_digits=None, decimal_places=2, coerce_to_string=True, **kwargs)


def _pct(**kwargs):
    return serializers.DecimalField(max_digits=None, decimal_places=2, coerce_to_string=True, allow_null=True,
                                    **kwargs)


class VarianceFiguresSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    budget = _money()
    planned_to_date = _money()
    actual = _money()
    variance = _money(help_text="budget - actual")
    variance_pct = _pct(help_text="variance / budget, in percent; null for a zero budget")
    use_pct = _pct(help_text="actual / budget, in percent; null for a zero budget")
    variance_to_date = _money(help_text="planned_to_date - actual")
    flag = serializers.ChoiceField(choices=FLAGS)
    budget_compared = _money(required=False, help_text="With `compare`: the compared version's budget.")
    budget_change = _money(required=False, help_text="With `compare`: budget - budget_compared.")


class VarianceSubRowSerializer(VarianceFiguresSerializer):
    pass


class VarianceRowSerializer(VarianceFiguresSerializer):
    children = VarianceSubRowSerializer(many=True, required=False,
                                        help_text="Present when `by` names two groupings.")


class VarianceReportSerializer(serializers.Serializer):
    grant = serializers.CharField()
    as_of = serializers.DateField()
    version = serializers.IntegerField(allow_null=True)
    compare = serializers.IntegerField(required=False, help_text="The compared version, with `compare`.")
    partner = serializers.CharField(allow_null=True, help_text="The partner the report is restricted to.")
    currency = serializers.CharField()
    tolerance_pct = _pct()
    by = serializers.ListField(child=serializers.ChoiceField(choices=DIMENSIONS))
    rows = VarianceRowSerializer(many=True)
    total = VarianceFiguresSerializer()


class BurnRateMonthSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    actual = _money()
    planned = _money()
    cumulative_actual = _money()
    cumulative_planned = _money()


class BurnRateSummarySerializer(serializers.Serializer):
    budget = _money()
    cumulative_actual = _money()
    burn_rate = _money(help_text="Average actual of the last `window` full months.")
    months_elapsed = serializers.IntegerField()
    months_remaining = serializers.IntegerField()
    remaining_budget = _money()
    runway_months = _pct(help_text="remaining_budget / burn_rate; null when the burn is zero.")
    forecast_at_completion = _money()
    projected_variance = _money()
    exhaustion_month = serializers.CharField(allow_null=True, help_text="YYYY-MM, or null if the money lasts.")
    time_elapsed_pct = _pct()
    use_pct = _pct()
    pace_flag = serializers.ChoiceField(choices=["ahead", "behind", "on_track"], allow_null=True)


class BurnRateReportSerializer(serializers.Serializer):
    grant = serializers.CharField()
    as_of = serializers.DateField()
    version = serializers.IntegerField(allow_null=True)
    partner = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    window = serializers.IntegerField()
    months = BurnRateMonthSerializer(many=True)
    summary = BurnRateSummarySerializer()


class BeneficiaryCostRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    actual = _money()
    target = serializers.IntegerField()
    unit = serializers.CharField()
    cost_per_beneficiary = _pct(help_text="actual / target; null for a target of zero.")


class BeneficiaryCostReportSerializer(serializers.Serializer):
    grant = serializers.CharField()
    as_of = serializers.DateField()
    partner = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    rows = BeneficiaryCostRowSerializer(many=True)


# --- views ------------------------------------------------------------------------------------------

class _ReportView(APIView):
    query_serializer = ReportQuerySerializer

    def finalize_response(self, request, response, *args, **kwargs):
        # The report's language is its `lang` when one is asked for: the header says so (the
        # locale middleware only fills it in when the view has not).
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "report_lang", None):
            response["Content-Language"] = self.report_lang
        return response

    def report_arguments(self, request, code: str) -> dict:
        """The grant (404 if unseen), checked parameters, version (400 if unknown) and scope."""
        grant = grant_or_404(request.user, code)
        query = self.query_serializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        try:
            version = budget_version_for(grant=grant, number=params.pop("version", None))
        except UnknownVersion as exc:
            raise ValidationError({"version": [str(exc)]}) from exc
        if params.get("compare") is not None:
            try:
                params["compare"] = budget_version_for(grant=grant, number=params["compare"])
            except UnknownVersion as exc:
                raise ValidationError({"compare": [str(exc)]}) from exc
        lang = params.pop("lang", None) or (
            "fr" if getattr(request, "LANGUAGE_CODE", "en").startswith("fr") else "en"
        )
        self.report_lang = lang
        return {
            "grant": grant, "version": version, "lang": lang,
            "as_of": report_as_of(grant, params.pop("as_of", None)),
            "partner": partner_scope(request.user),
            "statuses": params.pop("status", None) or COUNTED_STATUSES,
            **params,
        }

    @staticmethod
    def inputs(args: dict, grain: tuple[str, ...] = GRAIN):
        return report_inputs(grant=args["grant"], as_of=args["as_of"], version=args["version"],
                             partner=args["partner"], statuses=args["statuses"], compare=args.get("compare"),
                             grain=grain)


@document_query_errors(VarianceQuerySerializer)
class VarianceReportView(_ReportView):
    query_serializer = VarianceQuerySerializer

    @extend_schema(operation_id="report_variance", parameters=[VarianceQuerySerializer],
                   responses={200: VarianceReportSerializer},
                   summary="Variance: budget, planned to date and actual, grouped one or two ways",
                   description=(
                       "Each group's budget, what was planned to date and what was spent, with the variance in EUR and "
                       "per cent, grouped by line, partner, location, year, quarter or heading (`by`, one or two)."))
    def get(self, request, code: str):
        args = self.report_arguments(request, code)
        report = variance(self.inputs(args, actual_grain(args["by"])), by=args["by"], lang=args["lang"])
        return Response(VarianceReportSerializer(report).data)


@document_query_errors(BurnRateQuerySerializer)
class BurnRateReportView(_ReportView):
    query_serializer = BurnRateQuerySerializer

    @extend_schema(operation_id="report_burn_rate", parameters=[BurnRateQuerySerializer],
                   responses={200: BurnRateReportSerializer},
                   summary="Burn rate: monthly spending against plan, runway and forecast",
                   description=(
                       "Month by month, what was spent against what was planned, the average over the last months "
                       "(`window`), the months of money left at that pace and the forecast at the end date."))
    def get(self, request, code: str):
        args = self.report_arguments(request, code)
        report = burn_rate(self.inputs(args, BURN_RATE_GRAIN), window=args["window"])
        return Response(BurnRateReportSerializer(report).data)


@document_query_errors(ReportQuerySerializer)
class CostPerBeneficiaryReportView(_ReportView):
    @extend_schema(operation_id="report_cost_per_beneficiary", parameters=[ReportQuerySerializer],
                   responses={200: BeneficiaryCostReportSerializer},
                   summary="Cost per beneficiary of each heading with a target",
                   description=(
                       "For each heading with a beneficiary target, its spending divided by its target."))
    def get(self, request, code: str):
        args = self.report_arguments(request, code)
        report = cost_per_beneficiary(self.inputs(args, BENEFICIARY_GRAIN), lang=args["lang"])
        return Response(BeneficiaryCostReportSerializer(report).data)


@document_query_errors(ReportQuerySerializer)
class VarianceWorkbookView(_ReportView):
    def perform_content_negotiation(self, request, force=False):
        # A client asking for the spreadsheet type still gets its errors, in JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(operation_id="report_variance_workbook", parameters=[ReportQuerySerializer],
                   responses={(200, XLSX_MEDIA_TYPE): OpenApiTypes.BINARY},
                   summary="The donor's workbook (variance, burn rate, FX, detail), in French or English",
                   description=(
                       "The donor's Excel workbook: variance, burn rate, the conversions and the detail of "
                       "expenditures, in French or English (`lang`)."))
    def get(self, request, code: str):
        args = self.report_arguments(request, code)
        filename, handle = variance_workbook(grant=args["grant"], as_of=args["as_of"], version=args["version"],
                                             partner=args["partner"], lang=args["lang"],
                                             statuses=args["statuses"])
        return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_MEDIA_TYPE)
