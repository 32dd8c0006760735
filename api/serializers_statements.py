"""Shapes of quarterly statements. The checks themselves are ``expenditures.statements``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from api.fields import (
    CodeRelatedField,
    GrantReferenceField,
    MoneyAmountField,
    MoneyInputMixin,
    PeriodField,
    currency_field,
)
from api.filters import QuerySerializer
from expenditures.fields import DESCRIPTION_MAX_LENGTH, VOUCHER_MAX_LENGTH
from expenditures.models import QuarterlyStatement
from expenditures.statements import MONEY_FIELDS, statement_total_spent
from grants.errors import ErrorCode
from grants.models import Partner
from grants.periods import validate_in_bounds


class StatementLineSerializer(serializers.Serializer):
    """One expenditure as the partner sends it. Kept as sent while the statement is a draft;
    every problem in it is reported at submission, all at once."""

    date = serializers.CharField(help_text="YYYY-MM-DD, inside the quarter.")
    budget_line = serializers.CharField(help_text='A line allocated to the partner, e.g. "2.1".')
    location = serializers.CharField(help_text='A location code, e.g. "SEG".')
    amount = serializers.CharField(help_text='A decimal string: whole francs in XOF, e.g. "125000".')
    amount_currency = serializers.CharField(help_text="The partner's reporting currency (XOF in Mali).")
    voucher = serializers.CharField(allow_blank=True, max_length=VOUCHER_MAX_LENGTH, help_text="Unique per partner.")
    description = serializers.CharField(allow_blank=True, required=False, default="", max_length=DESCRIPTION_MAX_LENGTH)


class ProblemSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)
    row = serializers.IntegerField(required=False, help_text="The expenditure's line number, from 1.")
    cell = serializers.CharField(required=False, help_text=(
        'The workbook cell, e.g. "Dépenses!D5", for a statement read from a workbook.'))


class ReviewCommentSerializer(serializers.Serializer):
    """Finance's comment on one row or one balance when it returned the statement."""

    row = serializers.IntegerField(required=False, help_text="The expenditure's line number, from 1.")
    field = serializers.CharField(required=False, help_text='A balance, e.g. "cash_on_hand".')
    comment = serializers.CharField()
    attr = serializers.CharField(help_text='What it concerns, as problems name it: "expenditures.2", "cash_on_hand".')
    cell = serializers.CharField(required=False, help_text="Its workbook cell, for a statement read from a workbook.")


class ReopeningSerializer(serializers.Serializer):
    """A finance officer reopened the accepted quarter: why, and the digest it had then."""

    reason = serializers.CharField(read_only=True)
    digest = serializers.CharField(read_only=True)
    reopened_by = serializers.CharField(source="reopened_by.username", read_only=True, allow_null=True)
    reopened_at = serializers.DateTimeField(read_only=True)


# Its docstring is the schema's description of a statement (without one, the money mixin's would be).
class StatementSerializer(MoneyInputMixin, serializers.ModelSerializer):
    """A partner's quarterly statement: its balances, its expenditures as sent, and where it stands
    (draft, submitted, returned, accepted)."""

    money_fields = MONEY_FIELDS
    grant = GrantReferenceField()
    partner = CodeRelatedField(queryset=Partner.objects.all(), unknown_code=ErrorCode.UNKNOWN_PARTNER, required=False,
                               help_text="Required for a finance officer; a partner member's own by default.")
    period = PeriodField(help_text='A calendar quarter, e.g. "2016-Q3".')
    opening_balance = MoneyAmountField(required=False)
    opening_balance_currency = currency_field(required=False)
    funds_received = MoneyAmountField(required=False)
    funds_received_currency = currency_field(required=False)
    closing_balance = MoneyAmountField(required=False)
    closing_balance_currency = currency_field(required=False)
    cash_on_hand = MoneyAmountField(required=False)
    cash_on_hand_currency = currency_field(required=False)
    bank_balance = MoneyAmountField(required=False)
    bank_balance_currency = currency_field(required=False)
    expenditures = StatementLineSerializer(many=True, required=False, source="lines")
    explanations = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    total_spent = serializers.SerializerMethodField()
    total_spent_currency = serializers.SerializerMethodField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, allow_null=True)
    problems = ProblemSerializer(many=True, read_only=True)
    digest = serializers.CharField(read_only=True, help_text=(
        "SHA-256 of the quarter's ledger rows, their conversions and the statement, taken at acceptance "
        "(expenditures.audit); empty until accepted."))
    previous_digest = serializers.CharField(read_only=True, help_text=(
        "The digest of the partner's previous accepted quarter, which this one is chained to."))
    reopenings = ReopeningSerializer(many=True, read_only=True)
    review_comments = ReviewCommentSerializer(many=True, read_only=True, help_text=(
        "Finance's comments on single rows and balances when it last returned the statement."))

    class Meta:
        model = QuarterlyStatement
        fields = [
            "id", "grant", "partner", "period",
            "opening_balance", "opening_balance_currency", "funds_received", "funds_received_currency",
            "closing_balance", "closing_balance_currency", "cash_on_hand", "cash_on_hand_currency",
            "bank_balance", "bank_balance_currency", "expenditures", "explanations",
            "status", "total_spent", "total_spent_currency", "submitted_at", "reviewed_by", "review_comment",
            "review_comments", "problems", "digest", "previous_digest", "reopenings",
        ]
        read_only_fields = ["id", "status", "submitted_at", "review_comment", "digest", "previous_digest"]
        validators = []  # one statement per quarter: the service answers 409 with its own code

    def get_total_spent(self, statement) -> str:
        return str(statement_total_spent(statement))

    def get_total_spent_currency(self, statement) -> str:
        return statement.partner.reporting_currency


class ReviewSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, required=False, default="")


class ReturnCommentSerializer(serializers.Serializer):
    row = serializers.IntegerField(required=False, min_value=1, help_text=(
        "The expenditure's line number in the statement, from 1, as the partner counts them."))
    field = serializers.ChoiceField(choices=list(MONEY_FIELDS), required=False, help_text="A balance.")
    comment = serializers.CharField()

    def validate(self, attrs):
        if ("row" in attrs) == ("field" in attrs):
            raise serializers.ValidationError(_("A comment names either a row or a field."), code=ErrorCode.INVALID)
        return attrs


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text="Why the statement goes back to the partner.")
    comments = ReturnCommentSerializer(many=True, required=False, default=list, help_text=(
        'Comments on single rows and balances: [{"row": 3, "comment": "..."}, '
        '{"field": "cash_on_hand", "comment": "..."}].'))


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why the accepted quarter is reopened (kept on record).")


class OverdueSerializer(serializers.Serializer):
    grant = serializers.CharField()
    partner = serializers.CharField()
    period = serializers.CharField()
    due_on = serializers.DateField()
    days_overdue = serializers.IntegerField()


class OverdueQuerySerializer(QuerySerializer):
    extra_query_params = ("page", "page_size")

    as_of = serializers.DateField(required=False, validators=[validate_in_bounds])
    grace_days = serializers.IntegerField(required=False, min_value=0, max_value=365, default=30)


class TemplateQuerySerializer(QuerySerializer):
    grant = serializers.CharField()
    partner = serializers.CharField(required=False)
    period = PeriodField()
    lang = serializers.ChoiceField(choices=["en", "fr"], required=False)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A filled statement template (.xlsx).")


class LangQuerySerializer(QuerySerializer):
    lang = serializers.ChoiceField(choices=["en", "fr"], required=False, help_text=(
        "The language of the messages; by default the workbook's own, else the request's."))


class StatementVersionSerializer(serializers.Serializer):
    """One content the statement was sent with: a workbook uploaded or a body through the API."""

    number = serializers.IntegerField()
    source = serializers.CharField(help_text='"workbook" or "api".')
    sent_by = serializers.CharField(source="sent_by.username", allow_null=True, default=None)
    sent_at = serializers.DateTimeField()
    file_name = serializers.CharField(help_text="The uploaded file's name (empty for the API).")
    lang = serializers.CharField(help_text="The workbook's language.")


class StatementVersionDetailSerializer(StatementVersionSerializer):
    body = serializers.JSONField(help_text="The statement as sent, in the API's body shape.")
    cells = serializers.DictField(child=serializers.CharField(), help_text=(
        'For a workbook: the cell each field and row was read from ("expenditures.0.amount": "Dépenses!D2").'))
