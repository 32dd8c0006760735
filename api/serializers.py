"""Shapes of the API's records. Serializers check shape; the services check the rules.

Related records are named by their codes; money is two siblings, ``x`` and ``x_currency``.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import (
    EUR_ONLY,
    CodeRelatedField,
    GrantReferenceField,
    MoneyAmountField,
    MoneyInputMixin,
    MonthField,
    currency_field,
    decimal_string,
)
from budget.models import Allocation, BudgetLine, BudgetVersion
from expenditures.fields import DESCRIPTION_MAX_LENGTH, Kind
from expenditures.fields import FIELDS as EXPENDITURE_FIELDS
from expenditures.models import ExchangeRate, Expenditure, FundTransfer
from expenditures.selectors import spending_of
from grants.errors import ErrorCode
from grants.models import Donor, DonorPayment, FxMethod, Grant, Location, Partner
from grants.money import CURRENCY_CHOICES, XOF, quantize_amount
from grants.periods import MAX_GRANT_YEARS, validate_in_bounds
from grants.validation import validate_code

PCT = Decimal("0.01")
XOF_ONLY = [(XOF, "XOF")]


# --- reference records ------------------------------------------------------------------------

class PartnerSerializer(serializers.ModelSerializer):
    reporting_currency = currency_field()

    class Meta:
        model = Partner
        fields = ["code", "name", "reporting_currency", "iati_org_ref", "iati_org_type"]


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["code", "name", "region", "country", "latitude", "longitude"]


class DonorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Donor
        fields = ["code", "name", "iati_org_ref", "iati_org_type"]


class RevaluationSerializer(serializers.Serializer):
    """What a write revalued: open quarters only; accepted quarters keep the EUR they were accepted with."""

    count = serializers.IntegerField(help_text="Expenditures whose stored EUR value, rate or pieces moved.")
    delta_eur = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="Change of their EUR total.")
    by_quarter = serializers.DictField(child=serializers.IntegerField(),
                                       help_text='Rows moved per quarter, e.g. {"2016-Q3": 12}.')
    frozen = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="(partner, quarter) pairs left as accepted.")


class RevaluationAnswerMixin:
    """A write that may revalue answers what it moved (``revaluation``); a read shows null."""

    @extend_schema_field(RevaluationSerializer(allow_null=True))
    def get_revaluation(self, instance) -> dict | None:
        result = getattr(instance, "revaluation", None)
        return None if result is None else RevaluationSerializer(result).data


class ExchangeRateSerializer(RevaluationAnswerMixin, serializers.ModelSerializer):
    currency = serializers.ChoiceField(choices=XOF_ONLY, default=XOF)
    rate = serializers.DecimalField(max_digits=16, decimal_places=6, min_value=Decimal("0.000001"))
    month = MonthField(allow_null=True, required=False, default=None,
                       help_text='"YYYY-MM", or null for a standing rate such as the parity.')
    revaluation = serializers.SerializerMethodField(help_text="After a write: the expenditures it revalued.")

    class Meta:
        model = ExchangeRate
        fields = ["id", "currency", "rate", "month", "source", "revaluation"]
        read_only_fields = ["id"]



# --- grants -----------------------------------------------------------------------------------

class DonorShareSerializer(serializers.Serializer):
    donor = CodeRelatedField(queryset=Donor.objects.all(), unknown_code=ErrorCode.UNKNOWN_DONOR)
    share_pct = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0.01"),
                                         max_value=Decimal("100"))

    def to_representation(self, instance):
        return {"donor": instance.donor.code, "share_pct": str(instance.share_pct)}


class DonorDecisionSummarySerializer(serializers.Serializer):
    donor = serializers.CharField(source="donor.code")
    decision = serializers.CharField()
    comment = serializers.CharField()
    decided_at = serializers.DateTimeField()


class GrantVersionSummarySerializer(serializers.Serializer):
    """A budget version as the grant's detail lists it: status, total, approvals and reason."""

    number = serializers.IntegerField()
    label = serializers.CharField()
    reason = serializers.CharField()
    status = serializers.CharField()
    is_current = serializers.BooleanField()
    total = serializers.DecimalField(source="allocated", max_digits=14, decimal_places=2)
    approved_at = serializers.DateTimeField(allow_null=True)
    donor_decisions = DonorDecisionSummarySerializer(many=True)


class DacSectorSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[0-9]{5}$", help_text="A DAC 5-digit purpose code, e.g. 15180.")
    percentage = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0.01"),
                                          max_value=Decimal("100"))


class GrantSerializer(MoneyInputMixin, serializers.ModelSerializer):
    money_fields = ("total",)
    total = MoneyAmountField()
    total_currency = currency_field(EUR_ONLY)
    fx_method = serializers.ChoiceField(choices=FxMethod.choices, default=FxMethod.PARITY)
    partners = CodeRelatedField(many=True, queryset=Partner.objects.all(), required=False,
                                unknown_code=ErrorCode.UNKNOWN_PARTNER)
    donors = DonorShareSerializer(many=True, required=False, source="donor_shares")
    dac_sectors = DacSectorSerializer(
        many=True, required=False,
        help_text="The grant's DAC sectors for IATI; their percentages add up to 100 (or no sector).")
    current_version = serializers.SerializerMethodField()
    spent_eur = serializers.SerializerMethodField()
    remaining_eur = serializers.SerializerMethodField()
    use_pct = serializers.SerializerMethodField()

    class Meta:
        model = Grant
        fields = [
            "code", "title", "total", "total_currency", "start_date", "end_date", "fx_method",
            "variance_tolerance_pct", "reallocation_limit_pct", "partners", "donors",
            "current_version", "spent_eur", "remaining_eur", "use_pct",
            "title_en", "description_fr", "description_en", "iati_org_ref", "iati_identifier",
            "iati_activity_status", "dac_sectors",
        ]
        # Not the unique validator: the service answers a code in use with its own code.
        extra_kwargs = {"code": {"validators": [validate_code]}}

    @extend_schema_field({"type": "integer", "nullable": True, "description": "The current version's number."})
    def get_current_version(self, grant) -> int | None:
        return getattr(grant, "current_version_number", None)

    @extend_schema_field(decimal_string())
    def get_spent_eur(self, grant) -> str:
        return str(spending_of(grant).spent)

    @extend_schema_field(decimal_string())
    def get_remaining_eur(self, grant) -> str:
        return str(spending_of(grant).remaining)

    @extend_schema_field(decimal_string(nullable=True))
    def get_use_pct(self, grant) -> str | None:
        use = spending_of(grant).use_pct
        return None if use is None else str(use)


class GrantDetailSerializer(GrantSerializer):
    """A grant as its detail shows it: with its budget versions."""

    versions = GrantVersionSummarySerializer(many=True, read_only=True,
                                             help_text="Its budget versions, with their totals, approvals and reasons.")

    class Meta(GrantSerializer.Meta):
        fields = [*GrantSerializer.Meta.fields, "versions"]


# --- budget -----------------------------------------------------------------------------------

class BudgetLineSerializer(serializers.ModelSerializer):
    """A line or heading, with its budget in a version (the view gives ``budget_version``, the
    version or None, and ``budget_by_line``, {line id: EUR}, in the context)."""

    parent = serializers.CharField(allow_null=True, required=False, default=None,
                                   help_text="The heading's code, or null for a heading.")
    budget = serializers.SerializerMethodField(
        help_text="Its budget in `budget_version` (a heading's: the sum of its lines'); for a partner member, "
                  "its own allocations only. Null before the grant's first approved version.")
    budget_currency = serializers.SerializerMethodField()
    budget_version = serializers.SerializerMethodField(
        help_text="The version the budget is read from: the current one, or the one asked with `?version=`.")

    class Meta:
        model = BudgetLine
        fields = ["code", "parent", "label_fr", "label_en", "beneficiary_target", "beneficiary_unit",
                  "budget", "budget_currency", "budget_version"]
        extra_kwargs = {"code": {"validators": [validate_code]}}

    @extend_schema_field(decimal_string(nullable=True))
    def get_budget(self, line) -> str | None:
        if self.context.get("budget_version") is None:
            return None
        return str(self.context["budget_by_line"].get(line.pk, Decimal("0")).quantize(PCT))

    @extend_schema_field({"type": "string", "enum": ["EUR"]})
    def get_budget_currency(self, line) -> str:
        return "EUR"

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_budget_version(self, line) -> int | None:
        version = self.context.get("budget_version")
        return None if version is None else version.number

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["parent"] = instance.parent.code if instance.parent_id else None
        return data


class VersionSerializer(serializers.ModelSerializer):
    total = serializers.SerializerMethodField()
    total_currency = serializers.SerializerMethodField()

    class Meta:
        model = BudgetVersion
        fields = ["number", "label", "reason", "status", "is_current", "total", "total_currency"]
        read_only_fields = ["number", "status", "is_current"]

    @extend_schema_field(decimal_string())
    def get_total(self, version) -> str:
        return str((getattr(version, "allocated", None) or Decimal("0")).quantize(PCT))

    @extend_schema_field({"type": "string", "enum": ["EUR"]})
    def get_total_currency(self, version) -> str:
        return "EUR"


class AllocationSerializer(MoneyInputMixin, serializers.ModelSerializer):
    money_fields = ("amount",)
    budget_line = serializers.CharField(help_text="A line's code (not a heading's).")
    partner = CodeRelatedField(queryset=Partner.objects.all(), unknown_code=ErrorCode.UNKNOWN_PARTNER)
    location = CodeRelatedField(queryset=Location.objects.all(), unknown_code=ErrorCode.UNKNOWN_LOCATION)
    year = serializers.IntegerField(min_value=1, max_value=MAX_GRANT_YEARS)
    amount = MoneyAmountField()
    amount_currency = currency_field(EUR_ONLY)

    class Meta:
        model = Allocation
        fields = ["id", "budget_line", "partner", "location", "year", "amount", "amount_currency"]
        read_only_fields = ["id"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["budget_line"] = instance.budget_line.code
        return data


# --- transfers and expenditures -----------------------------------------------------------------

class TransferSerializer(RevaluationAnswerMixin, MoneyInputMixin, serializers.ModelSerializer):
    money_fields = ("amount_sent", "amount_received", "fees")
    positive_money_fields = ("amount_sent",)
    grant = GrantReferenceField()
    partner = CodeRelatedField(queryset=Partner.objects.all(), unknown_code=ErrorCode.UNKNOWN_PARTNER)
    amount_sent = MoneyAmountField(help_text="EUR sent by the NGO.")
    amount_sent_currency = currency_field(EUR_ONLY)
    amount_received = MoneyAmountField(help_text="What the partner's bank credited (XOF, whole francs).")
    amount_received_currency = currency_field()
    fees = MoneyAmountField(required=False)
    fees_currency = currency_field(required=False)
    rate = serializers.SerializerMethodField(help_text="XOF received per EUR sent, fees apart.")
    revaluation = serializers.SerializerMethodField(help_text="After a write: the expenditures it revalued.")

    class Meta:
        model = FundTransfer
        fields = [
            "id", "grant", "partner", "sent_on", "received_on", "amount_sent", "amount_sent_currency",
            "amount_received", "amount_received_currency", "fees", "fees_currency", "rate", "reference", "note",
            "revaluation",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {"reference": {"required": False, "help_text": "The bank's reference of the transfer."},
                        "note": {"required": False}}

    @extend_schema_field(decimal_string(nullable=True))
    def get_rate(self, transfer) -> str | None:
        rate = transfer.rate
        return None if rate is None else str(rate)


class DonorPaymentSerializer(MoneyInputMixin, serializers.ModelSerializer):
    """Money a donor paid the NGO for a grant, in EUR: the IATI export's incoming funds."""

    money_fields = ("amount",)
    positive_money_fields = ("amount",)
    grant = GrantReferenceField(help_text="The grant's code; a payment stays on its grant.")
    donor = CodeRelatedField(queryset=Donor.objects.all(), unknown_code=ErrorCode.UNKNOWN_DONOR,
                             help_text="The code of the donor who paid: one that funds the grant.")
    amount = MoneyAmountField(help_text="EUR received from the donor, to the cent; more than zero.")
    amount_currency = currency_field(EUR_ONLY)

    class Meta:
        model = DonorPayment
        fields = ["id", "grant", "donor", "received_on", "amount", "amount_currency", "reference", "note"]
        read_only_fields = ["id"]
        extra_kwargs = {
            "received_on": {"help_text": "The day the NGO's bank credited the payment."},
            "reference": {"required": False, "help_text": "The bank's or the donor's reference of the payment."},
            "note": {"required": False},
        }


class FundingPieceSerializer(serializers.Serializer):
    """Under ``fifo``: XOF of the expenditure paid from one transfer (``transfer`` null for the
    part spent beyond all funds received, converted at the parity)."""

    transfer = serializers.IntegerField(source="transfer_id", allow_null=True)
    xof = serializers.DecimalField(max_digits=14, decimal_places=0)
    eur = serializers.DecimalField(max_digits=14, decimal_places=2)
    rate = serializers.DecimalField(max_digits=16, decimal_places=6)


class ExpenditureSerializer(MoneyInputMixin, serializers.ModelSerializer):
    money_fields = ("amount",)
    positive_money_fields = ("amount",)
    grant = GrantReferenceField()
    partner = CodeRelatedField(queryset=Partner.objects.all(), unknown_code=ErrorCode.UNKNOWN_PARTNER,
                               required=False,
                               help_text="Required for a finance officer; a partner member's own by default.")
    budget_line = serializers.CharField(help_text="A line's code in the grant's budget, e.g. \"2.1\".")
    location = CodeRelatedField(queryset=Location.objects.all(), unknown_code=ErrorCode.UNKNOWN_LOCATION)
    amount = MoneyAmountField()
    amount_currency = currency_field(CURRENCY_CHOICES)
    amount_eur = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    fx_rate = serializers.DecimalField(max_digits=16, decimal_places=6, read_only=True)
    fx_method = serializers.CharField(read_only=True)
    statement = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                   help_text="The statement it came in, if any.")
    funding = FundingPieceSerializer(many=True, read_only=True,
                                     help_text="Under fifo, the pieces it was paid from; empty otherwise.")

    class Meta:
        model = Expenditure
        # expenditures.fields; the fifo pieces are not a column of the expenditure
        fields = [*(field.name for field in EXPENDITURE_FIELDS), "funding"]
        read_only_fields = [field.name for field in EXPENDITURE_FIELDS if field.read_only]
        extra_kwargs = {"voucher": {"validators": []}, "description": {"required": False}}
        validators = []  # one voucher per partner: checked by the service, with its own error code

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["budget_line"] = instance.budget_line.code
        return data

    def valid_fields(self) -> dict:
        """After a failed ``is_valid``: the body's fields that are valid on their own, by name
        (the view asks the service's rules about them, so that one answer lists every problem)."""
        valid = {}
        if not isinstance(self.initial_data, dict):  # not an object: no field to ask about
            return valid
        for name, field in self.fields.items():
            if field.read_only or name in self.errors or name not in self.initial_data:
                continue
            try:
                valid[name] = field.run_validation(self.initial_data[name])
            except (serializers.ValidationError, DjangoValidationError):
                continue
        return valid

    def is_valid(self, *, raise_exception=False):
        """DRF's, but a body with malformed fields also hears the service's rules about the fields
        that are well formed (``context["rule_problems"]``, given by the view: {attr: [ErrorDetail]})."""
        valid = super().is_valid(raise_exception=False)
        if not valid and raise_exception:
            errors = dict(self.errors)
            rule_problems = self.context.get("rule_problems")
            if rule_problems is not None:
                for attr, details in rule_problems(self).items():
                    errors.setdefault(attr, details)
            raise serializers.ValidationError(errors)
        return valid


class AdjustmentSerializer(MoneyInputMixin, serializers.Serializer):
    """A correction of a locked quarter's expenditure, recorded in an open quarter."""

    money_fields = ("amount",)
    positive_money_fields = ("amount",)
    date = serializers.DateField(validators=[validate_in_bounds],
                                 help_text="The day the correction is booked: in an open quarter.")
    reason = serializers.CharField(max_length=300, help_text="Why the expenditure is corrected (kept on record).")
    amount = MoneyAmountField(required=False, help_text="The corrected amount; leave out to keep it.")
    amount_currency = currency_field(CURRENCY_CHOICES, required=False)
    budget_line = serializers.CharField(required=False, help_text="The corrected line's code.")
    location = CodeRelatedField(queryset=Location.objects.all(), unknown_code=ErrorCode.UNKNOWN_LOCATION,
                                required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH)


class AdjustmentResultSerializer(serializers.Serializer):
    reversal = ExpenditureSerializer(help_text="The row reversed, at the EUR it was accepted with.")
    replacement = ExpenditureSerializer(allow_null=True, help_text="The corrected row, if any.")


# --- the expenditure list's read path ----------------------------------------------------------

# The columns a page of the expenditure list shows, read as plain rows: ExpenditureSerializer's
# output without building model instances and DRF fields for each of the page's rows. The related
# records are read as ids and named by their codes from one small query (``related_codes``): the
# page's query then has no joins, which PostgreSQL planned in 1.4 ms against 0.14 ms without them.
# Both come from expenditures.fields, and so does ``expenditure_list_rows``, generated from it as
# the dict literal one would write by hand (no loop over the fields for each row).
# tests/api/test_list_rows.py checks the rows are what the serializer shows.
EXPENDITURE_LIST_COLUMNS = tuple(field.column for field in EXPENDITURE_FIELDS)
RELATED_CODE_COLUMNS = tuple(field.column for field in EXPENDITURE_FIELDS if field.kind is Kind.CODE)
_CENT = Decimal("0.01")
_RATE = Decimal("0.000001")
_FRANC = Decimal("1")


def _fixed(value: Decimal, places: Decimal) -> str:
    return f"{value.quantize(places):f}"


def _list_rows_source() -> str:
    """The source of ``expenditure_list_rows``: one dict literal, a key per field."""
    def value(field) -> str:
        row = f"row[{field.column!r}]"
        return {
            Kind.ID: row, Kind.TEXT: row, Kind.CURRENCY: row,
            Kind.CODE: f"codes_{field.name}[{row}]",
            Kind.MONEY: f"str(quantize_amount({row}, row[{field.column + '_currency'!r}]))",
            Kind.CENTS: f"_fixed({row}, _CENT)",
            Kind.RATE: f"_fixed({row}, _RATE)",
            Kind.DATE: f"{row}.isoformat()",
        }[field.kind]

    codes = "".join(f"    codes_{field.name} = codes[{field.column!r}]\n"
                    for field in EXPENDITURE_FIELDS if field.kind is Kind.CODE)
    items = "".join(f"            {field.name!r}: {value(field)},\n" for field in EXPENDITURE_FIELDS)
    return (
        "def expenditure_list_rows(rows, codes, funding):\n"
        f"{codes}"
        "    out = []\n"
        "    for row in rows:\n"
        "        out.append({\n"
        f"{items}"
        "            'funding': [\n"
        "                {'transfer': transfer, 'xof': _fixed(xof, _FRANC), 'eur': _fixed(eur, _CENT),\n"
        "                 'rate': _fixed(rate, _RATE)}\n"
        "                for transfer, xof, eur, rate in funding.get(row['id'], ())\n"
        "            ],\n"
        "        })\n"
        "    return out\n"
    )


def _generated_list_rows():
    namespace = {"_fixed": _fixed, "_CENT": _CENT, "_RATE": _RATE, "_FRANC": _FRANC, "quantize_amount": quantize_amount}
    exec(compile(_list_rows_source(), f"<{__name__}: expenditure_list_rows>", "exec"), namespace)  # noqa: S102
    return namespace["expenditure_list_rows"]


expenditure_list_rows = _generated_list_rows()
expenditure_list_rows.__doc__ = """ExpenditureSerializer's representation of ``rows`` (dicts of
``EXPENDITURE_LIST_COLUMNS``); ``codes`` maps each related column (``grant_id``...) to {id: code};
``funding`` maps an expenditure's id to its pieces ``(transfer_id, xof, eur, rate)`` in order.
Generated from expenditures.fields (``_list_rows_source``)."""
