"""The API's views: thin. Each validates its input with a serializer, calls one service or
selector, and serializes the answer. Scoping by role is done in `get_queryset`, so a record
that is not the user's is 404."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, connections
from django.db.models import DecimalField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from moneyed import Money
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.response import Response

from api.access import budget_line_or_400, grant_not_found, grant_or_404
from api.filters import (
    AllocationFilter,
    DonorPaymentFilter,
    ExpenditureFilter,
    ExpenditureFilterBackend,
    StrictOrderingFilter,
    StrictQueryParams,
    TransferFilter,
    unknown_parameter_errors,
)
from api.idempotency import IDEMPOTENCY_PARAMETER, IdempotentCreateMixin
from api.permissions import FinanceOrPartnerWrites, FinanceWritesOthersRead
from api.schema import ErrorResponse409Serializer, document_query_errors
from api.serializers import (
    EXPENDITURE_LIST_COLUMNS,
    RELATED_CODE_COLUMNS,
    AdjustmentResultSerializer,
    AdjustmentSerializer,
    AllocationSerializer,
    BudgetLineSerializer,
    DonorPaymentSerializer,
    DonorSerializer,
    ExchangeRateSerializer,
    ExpenditureSerializer,
    GrantDetailSerializer,
    GrantSerializer,
    LocationSerializer,
    PartnerSerializer,
    TransferSerializer,
    VersionSerializer,
    expenditure_list_rows,
)
from budget import selectors as budget_selectors
from budget import services as budget_services
from budget.models import Allocation, BudgetLine, BudgetVersion, DonorDecision
from expenditures import services as expenditure_services
from expenditures.models import (
    ExchangeRate,
    Expenditure,
    ExpenditureDayCount,
    ExpenditureFunding,
    FundTransfer,
)
from expenditures.selectors import grants_with_spending
from grants import services as grant_services
from grants.access import (
    acting_partner,
    grants_visible_to,
    partner_scope,
    record_scope,
    require_grant_visible,
    visible_donor_payments,
    visible_records,
)
from grants.errors import ApplicationError
from grants.models import Donor, DonorPayment, FxMethod, Grant, GrantDonor, Location, Partner
from grants.money import MoneyValue, money_sum
from grants.validation import holds_nul

CONFLICT = OpenApiResponse(response=ErrorResponse409Serializer,
                           description="The record's state forbids it (approved version, locked quarter).")
VERSION_PARAMETER = OpenApiParameter(
    "version", int, description="The budget version to read the budget from (its number); the current one by default.")
ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))


class VersionQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class CodeLookupMixin:
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_object(self):
        # No code holds a NUL character, and PostgreSQL refuses one in a query (a 500 otherwise).
        if holds_nul(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")):
            raise NotFound()
        return super().get_object()


# --- reference records ------------------------------------------------------------------------

class _ReferenceViewSet(CodeLookupMixin, viewsets.ModelViewSet):
    permission_classes = [FinanceWritesOthersRead]

    def perform_create(self, serializer):
        serializer.instance = grant_services.reference_create(model=self.queryset.model, by=self.request.user,
                                                              **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = grant_services.reference_update(record=serializer.instance, by=self.request.user,
                                                              **serializer.validated_data)

    def perform_destroy(self, instance):
        grant_services.reference_delete(record=instance, by=self.request.user)


class PartnerViewSet(_ReferenceViewSet):
    queryset = Partner.objects.order_by("code")
    serializer_class = PartnerSerializer


class LocationViewSet(_ReferenceViewSet):
    queryset = Location.objects.order_by("code")
    serializer_class = LocationSerializer


class DonorViewSet(_ReferenceViewSet):
    queryset = Donor.objects.order_by("code")
    serializer_class = DonorSerializer


class ExchangeRateViewSet(viewsets.ModelViewSet):
    queryset = ExchangeRate.objects.order_by("currency", "month")
    serializer_class = ExchangeRateSerializer
    permission_classes = [FinanceWritesOthersRead]

    def perform_create(self, serializer):
        serializer.instance = expenditure_services.exchange_rate_record(by=self.request.user,
                                                                        **serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        record = serializer.instance
        if "rate" in data:  # the service names the record `rate`: its field travels on the record
            record.rate = data.pop("rate")
        serializer.instance = expenditure_services.exchange_rate_update(rate=record, by=self.request.user, **data)

    def perform_destroy(self, instance):
        expenditure_services.exchange_rate_delete(rate=instance, by=self.request.user)


# --- grants -----------------------------------------------------------------------------------

def _grants_for(user):
    return (
        grants_with_spending(grants_visible_to(user), partner=partner_scope(user))
        .prefetch_related("partners", Prefetch("donor_shares", GrantDonor.objects.select_related("donor")))
        .order_by("code")
    )


def _with_versions(queryset):
    """For a grant's detail: its versions with their totals and the donors' decisions."""
    allocated = (Allocation.objects.filter(version=OuterRef("pk")).order_by().values("version")
                 .annotate(s=money_sum("amount")).values("s"))
    return queryset.prefetch_related(
        Prefetch("versions", BudgetVersion.objects.annotate(allocated=MoneyValue(Coalesce(Subquery(allocated), ZERO)))
                 .order_by("number")),
        Prefetch("versions__donor_decisions",
                 DonorDecision.objects.select_related("donor").order_by("decided_at", "id")),
    )


class GrantViewSet(CodeLookupMixin, viewsets.ModelViewSet):
    queryset = Grant.objects.none()
    serializer_class = GrantSerializer
    permission_classes = [FinanceWritesOthersRead]

    def get_queryset(self):
        queryset = _grants_for(self.request.user)
        return queryset if self.action == "list" else _with_versions(queryset)

    def get_object(self):
        # A grant out of the user's sight answers as one that does not exist, in the same words
        # as every other path that names a grant (api.access.grant_or_404).
        try:
            return super().get_object()
        except (Http404, NotFound):
            raise grant_not_found(self.kwargs[self.lookup_field]) from None

    def get_serializer_class(self):
        # One grant (read, created, changed) shows its versions; the list does not.
        return GrantSerializer if self.action == "list" else GrantDetailSerializer

    def _donor_shares(self, data):
        shares = data.pop("donor_shares", None)
        return None if shares is None else [(s["donor"], s["share_pct"]) for s in shares]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        shares = self._donor_shares(data)
        grant = grant_services.grant_create(donor_shares=shares or [], by=self.request.user, **data)
        serializer.instance = self.get_queryset().get(pk=grant.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        shares = self._donor_shares(data)
        grant = grant_services.grant_update(grant=serializer.instance, donor_shares=shares, by=self.request.user,
                                            **data)
        serializer.instance = self.get_queryset().get(pk=grant.pk)

    def perform_destroy(self, instance):
        grant_services.grant_delete(grant=instance, by=self.request.user)


class _GrantChildMixin:
    """Views under `grants/{grant_code}/`: the grant must be one the user may read."""

    def get_grant(self):
        if not hasattr(self, "_grant"):
            self._grant = grant_or_404(self.request.user, self.kwargs["grant_code"])
        return self._grant


@document_query_errors(VersionQuerySerializer, actions=["list", "retrieve"])
@extend_schema_view(
    list=extend_schema(parameters=[VERSION_PARAMETER]), retrieve=extend_schema(parameters=[VERSION_PARAMETER]))
class BudgetLineViewSet(_GrantChildMixin, CodeLookupMixin, viewsets.ModelViewSet):
    queryset = BudgetLine.objects.none()
    serializer_class = BudgetLineSerializer
    permission_classes = [FinanceWritesOthersRead]
    extra_query_params = ("version",)

    def budget_version(self):
        """The version whose budget the lines show: ``?version=N`` (404 if none), else the current."""
        if not hasattr(self, "_budget_version"):
            if self.action == "retrieve":  # a line's detail reads its version and nothing else
                unknown = unknown_parameter_errors(self.request.query_params, self.extra_query_params)
                if unknown:
                    raise ValidationError(unknown)
            number = self.request.query_params.get("version") if self.request.method == "GET" else None
            if number is None:
                self._budget_version = budget_selectors.current_version(self.get_grant())
            else:
                query = VersionQuerySerializer(data={"version": number})
                query.is_valid(raise_exception=True)
                self._budget_version = BudgetVersion.objects.filter(
                    grant=self.get_grant(), number=query.validated_data["version"]).first()
                if self._budget_version is None:
                    raise NotFound(_("No such version."))
        return self._budget_version

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False) or "grant_code" not in self.kwargs:
            return context
        version = self.budget_version()
        context["budget_version"] = version
        context["budget_by_line"] = {} if version is None else budget_selectors.budget_by_line(
            version=version, partner=partner_scope(self.request.user))
        return context

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return self.queryset
        return BudgetLine.objects.filter(grant=self.get_grant()).select_related("parent").order_by(
            "position", "code")

    def _parent(self, code):
        if code is None:
            return None
        return budget_line_or_400(self.get_grant(), code, attr="parent", what="heading")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        grant = self.get_grant()
        data["parent"] = self._parent(data.get("parent"))
        serializer.instance = budget_services.budget_line_create(grant=grant, by=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "parent" in data:
            data["parent"] = self._parent(data["parent"])
        serializer.instance = budget_services.budget_line_update(line=serializer.instance, by=self.request.user,
                                                                        **data)

    def perform_destroy(self, instance):
        budget_services.budget_line_delete(line=instance, by=self.request.user)


@extend_validation_errors(["total_mismatch"], field_name="total", actions=["approve"])
@extend_schema_view(
    partial_update=extend_schema(responses={200: VersionSerializer, 409: CONFLICT}),
    update=extend_schema(responses={200: VersionSerializer, 409: CONFLICT}),
    destroy=extend_schema(responses={204: None, 409: CONFLICT}),
)
class VersionViewSet(_GrantChildMixin, viewsets.ModelViewSet):
    queryset = BudgetVersion.objects.none()
    serializer_class = VersionSerializer
    permission_classes = [FinanceWritesOthersRead]
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return self.queryset
        allocated = (Allocation.objects.filter(version=OuterRef("pk")).order_by().values("version")
                     .annotate(s=money_sum("amount")).values("s"))
        return (BudgetVersion.objects.filter(grant=self.get_grant())
                .annotate(allocated=MoneyValue(Coalesce(Subquery(allocated), ZERO))).order_by("number"))

    def perform_create(self, serializer):
        draft = budget_services.version_open_draft(grant=self.get_grant(), by=self.request.user,
                                                   **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=draft.pk)

    def perform_update(self, serializer):
        version = budget_services.version_update(version=serializer.instance, by=self.request.user,
                                                 **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=version.pk)

    def perform_destroy(self, instance):
        budget_services.version_delete(version=instance, by=self.request.user)

    @extend_schema(request=None, responses={200: VersionSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def approve(self, request, grant_code=None, number=None):
        """Make this draft the grant's current version (its allocations must add up to the
        grant's total to the cent: 400 `total_mismatch` otherwise)."""
        version = budget_services.version_approve(version=self.get_object(), by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=version.pk)).data)


class AllocationViewSet(_GrantChildMixin, viewsets.ModelViewSet):
    queryset = Allocation.objects.none()
    serializer_class = AllocationSerializer
    permission_classes = [FinanceWritesOthersRead]
    filterset_class = AllocationFilter

    def get_version(self):
        if not hasattr(self, "_version"):
            self._version = BudgetVersion.objects.filter(
                grant=self.get_grant(), number=self.kwargs["version_number"]).select_related("grant").first()
            if self._version is None:
                raise NotFound(_("No such version."))
        return self._version

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return self.queryset
        queryset = (Allocation.objects.filter(version=self.get_version())
                    .select_related("budget_line", "partner", "location")
                    .order_by("budget_line__position", "partner__code", "location__code", "year", "id"))
        scope = partner_scope(self.request.user)
        return queryset if scope is None else queryset.filter(partner=scope)

    def _line(self, code):
        return budget_line_or_400(self.get_grant(), code, attr="budget_line")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data["budget_line"] = self._line(data["budget_line"])
        serializer.instance = budget_services.allocation_set(version=self.get_version(), by=self.request.user,
                                                                   **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "budget_line" in data:
            data["budget_line"] = self._line(data["budget_line"])
        serializer.instance = budget_services.allocation_update(allocation=serializer.instance, by=self.request.user,
                                                                      **data)

    def perform_destroy(self, instance):
        budget_services.allocation_delete(allocation=instance, by=self.request.user)


# --- money that moves ---------------------------------------------------------------------------

class _ListRows:
    """A filtered expenditure query as the paginator wants it: `count()` (`count` given), and
    a slice read as rows of `EXPENDITURE_LIST_COLUMNS`."""

    def __init__(self, queryset, *, count):
        self.queryset = queryset
        self._count = count

    def count(self) -> int:
        # A method, not the callable itself: Django's paginator inspects `count` through an
        # lru_cache keyed by the function, which would keep each request's closure (its view,
        # filterset and query) alive.
        return self._count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        return list(self.queryset.values(*EXPENDITURE_LIST_COLUMNS)[index])


_CODE_TABLES = {column: Expenditure._meta.get_field(column).related_model for column in RELATED_CODE_COLUMNS}


def _related_codes(rows: list[dict]) -> dict[str, dict[int, str]]:
    """{"grant_id": {id: code}, "partner_id": ..., ...} for the records `rows` refer to, in one
    query (a UNION of four primary-key lookups)."""
    codes: dict[str, dict[int, str]] = {column: {} for column in RELATED_CODE_COLUMNS}
    if not rows:
        return codes
    parts, params = [], []
    for tag, column in enumerate(RELATED_CODE_COLUMNS):
        ids = sorted({row[column] for row in rows})
        table = connection.ops.quote_name(_CODE_TABLES[column]._meta.db_table)
        parts.append(f"SELECT {tag}, id, code FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})")
        params.extend(ids)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for tag, pk, code in cursor.fetchall():
            codes[RELATED_CODE_COLUMNS[tag]][pk] = code
    return codes


@extend_schema_view(create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]))
class TransferViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    queryset = FundTransfer.objects.none()
    serializer_class = TransferSerializer
    permission_classes = [FinanceWritesOthersRead]
    filterset_class = TransferFilter
    ordering_fields = ["received_on", "sent_on"]
    ordering = ["received_on", "id"]

    def get_queryset(self):
        return visible_records(FundTransfer.objects.select_related("grant", "partner"), self.request.user)

    def perform_create(self, serializer):
        serializer.instance = expenditure_services.transfer_record(by=self.request.user,
                                                                   **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = expenditure_services.transfer_update(
            transfer=serializer.instance, by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        expenditure_services.transfer_delete(transfer=instance, by=self.request.user)


_PAYMENT_RULES = ("The donor must fund the grant (400 `unknown_donor` on `donor` otherwise); the amount is in EUR "
                  "(400 on `amount_currency` otherwise), to the cent and more than zero (400 on `amount`).")


@extend_schema_view(
    list=extend_schema(description=(
        "The donors' payments you may see, a page at a time (`page`, `page_size`): all of them for a finance "
        "officer, your own donor's payments on the grants it funds for a donor's member, none for a partner's. "
        "Filter by `grant`, `donor` (codes) and the day received (`received_after`, `received_before`, both "
        "included); `ordering=received_on` or `-received_on`. An unknown query parameter is refused "
        "(400 `unknown_parameter`).")),
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER], description=(
        "Record money a donor paid the NGO for a grant (finance officers). " + _PAYMENT_RULES + " It appears "
        "in the grant's IATI export as incoming funds. Every problem of the body comes in one 400 answer.")),
    update=extend_schema(description=(
        "Change every field of a donor's payment (finance officers). " + _PAYMENT_RULES + " A payment stays "
        "on its grant: another grant is refused (400 `immutable` on `grant`).")),
    partial_update=extend_schema(description=(
        "Change the fields given of a donor's payment (finance officers). " + _PAYMENT_RULES + " A payment "
        "stays on its grant: another grant is refused (400 `immutable` on `grant`).")),
    destroy=extend_schema(description=(
        "Delete a donor's payment recorded in error (finance officers): it leaves the grant's IATI export.")),
)
class DonorPaymentViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    queryset = DonorPayment.objects.none()
    serializer_class = DonorPaymentSerializer
    permission_classes = [FinanceWritesOthersRead]
    filterset_class = DonorPaymentFilter
    ordering_fields = ["received_on"]
    ordering = ["received_on", "id"]

    def get_queryset(self):
        return visible_donor_payments(DonorPayment.objects.select_related("grant", "donor"), self.request.user)

    def perform_create(self, serializer):
        serializer.instance = grant_services.donor_payment_record(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = grant_services.donor_payment_update(
            payment=serializer.instance, by=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        grant_services.donor_payment_delete(payment=instance, by=self.request.user)


@extend_schema_view(
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER], responses={201: ExpenditureSerializer, 409: CONFLICT}),
    update=extend_schema(responses={200: ExpenditureSerializer, 409: CONFLICT}),
    partial_update=extend_schema(responses={200: ExpenditureSerializer, 409: CONFLICT}),
    destroy=extend_schema(responses={204: None, 409: CONFLICT}),
)
class ExpenditureViewSet(IdempotentCreateMixin, viewsets.ModelViewSet):
    queryset = Expenditure.objects.none()
    serializer_class = ExpenditureSerializer
    permission_classes = [FinanceOrPartnerWrites]
    filterset_class = ExpenditureFilter
    filter_backends = [StrictQueryParams, ExpenditureFilterBackend, StrictOrderingFilter]
    ordering_fields = ["date", "amount_eur"]
    ordering = ["date", "id"]

    def scope(self) -> list[Q] | None:
        """`grants.access.record_scope` of the request's user, read once (the list's count reuses it)."""
        if not hasattr(self, "_scope"):
            self._scope = record_scope(self.request.user)
        return self._scope

    def get_queryset(self):
        if self.action == "list":
            # The list reads plain rows (list() below), and its filters compare no Money: a plain
            # QuerySet, not django-money's, which wraps the methods of every clone again (0.5 ms
            # of CPU for a page's query).
            queryset = QuerySet(Expenditure)
        else:
            queryset = Expenditure.objects.select_related("grant", "partner", "budget_line", "location")
            queryset = queryset.prefetch_related(Prefetch("funding", ExpenditureFunding.objects.order_by("id")))
        scope = self.scope()
        return queryset.none() if scope is None else queryset.filter(*scope)

    def list(self, request, *args, **kwargs):
        # ExpenditureSerializer's page, read as plain rows: a partner's quarter is the API's busiest
        # read, and building 50 model instances with their four related records, then DRF's fields
        # for each, cost more than the database's work (bench/RESULTS.md). The codes of the related
        # records come in one query; the fifo pieces in one more, for the page's fifo rows only.
        queryset = self.filter_queryset(self.get_queryset())
        rows = self.paginate_queryset(_ListRows(queryset, count=lambda: self._count(queryset)))
        fifo_ids = [row["id"] for row in rows if row["fx_method"] == FxMethod.FIFO]
        funding: dict[int, list[tuple]] = {}
        if fifo_ids:
            pieces = ExpenditureFunding.objects.filter(expenditure_id__in=fifo_ids).order_by("id")
            for expenditure_id, *piece in pieces.values_list("expenditure_id", "transfer_id", "xof", "eur", "rate"):
                funding.setdefault(expenditure_id, []).append(piece)
        return self.get_paginated_response(expenditure_list_rows(rows, _related_codes(rows), funding))

    def _count(self, queryset) -> int:
        """The list's count: from the day counts when the filters given are among those they
        answer (grant, partner, dates: a partner's period), else by counting the rows."""
        conditions = getattr(self, "filter_conditions", None)
        scope = self.scope()
        if (conditions is None or scope is None or not set(conditions) <= ExpenditureDayCount.FILTERS
                or connections[queryset.db].vendor not in ExpenditureDayCount.VENDORS):
            return queryset.count()
        # The same conditions (the filters above, the roles' scoping) on the day counts: they name
        # only the grant, the partner and the date, which the day counts have under the same names.
        total = (ExpenditureDayCount.objects.using(queryset.db).filter(*scope, *conditions.values())
                 .aggregate(total=Sum("count"))["total"])
        return int(total or 0)  # PostgreSQL sums bigints as numeric

    def _resolve(self, data: dict, instance: Expenditure | None = None) -> dict:
        """Codes to records; a partner member's expenditure is its own partner's unless it names
        another (which the service refuses)."""
        user = self.request.user
        if instance is None:
            data["partner"] = acting_partner(user, data.get("partner"))
        grant = data.get("grant") or (instance.grant if instance else None)
        if grant is not None:
            require_grant_visible(user, grant)
        if "budget_line" in data:
            data["budget_line"] = budget_line_or_400(grant, data["budget_line"], attr="budget_line")
        return data

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action in ("create", "update", "partial_update"):
            context["rule_problems"] = self._rule_problems
        return context

    def _rule_problems(self, serializer) -> dict:
        """The service's problems with the well-formed fields of a body that has malformed ones:
        {attr: [ErrorDetail]}, so that one answer lists every problem."""
        fields = serializer.valid_fields()
        instance = serializer.instance
        grant = fields.get("grant") or (instance.grant if instance else None)
        try:
            if grant is not None:
                require_grant_visible(self.request.user, grant)
        except ApplicationError:
            return {}  # a grant out of sight: its rules are none of the user's business
        known = {name: fields.get(name, getattr(instance, name, None) if instance else None)
                 for name in ("grant", "partner", "date", "voucher")}
        if instance is None:
            known["partner"] = known["partner"] or partner_scope(self.request.user)
        problems: list[dict] = []
        line = fields.get("budget_line")
        if line is not None and known["grant"] is not None:
            try:
                line = budget_line_or_400(known["grant"], line, attr="budget_line")
            except ApplicationError as error:
                problems += error.errors
                line = None
        elif instance is not None and line is None:
            line = instance.budget_line
        amount, currency = fields.get("amount"), fields.get("amount_currency")
        if instance is not None:  # a partial update keeps the other half
            amount = instance.amount.amount if amount is None else amount
            currency = str(instance.amount.currency) if currency is None else currency
        problems += expenditure_services.expenditure_problems(
            grant=known["grant"], partner=known["partner"], budget_line=line, date=known["date"],
            voucher=known["voucher"], exclude_pk=instance.pk if instance else None,
            amount=Money(amount, currency) if amount is not None and currency is not None else None)
        answer: dict = {}
        for problem in problems:
            answer.setdefault(problem["attr"] or "non_field_errors", []).append(
                ErrorDetail(problem["detail"], code=problem["code"]))
        return answer

    def perform_create(self, serializer):
        data = self._resolve(dict(serializer.validated_data))
        serializer.instance = expenditure_services.expenditure_record(
            by=self.request.user, description=data.pop("description", ""), **data)

    def perform_update(self, serializer):
        data = self._resolve(dict(serializer.validated_data), serializer.instance)
        serializer.instance = expenditure_services.expenditure_update(
            expenditure=serializer.instance, by=self.request.user, **data)

    def perform_destroy(self, instance):
        expenditure_services.expenditure_delete(expenditure=instance, by=self.request.user)

    @extend_schema(request=AdjustmentSerializer, responses={201: AdjustmentResultSerializer,
                                                            409: ErrorResponse409Serializer})
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        """Correct an expenditure of a locked quarter from an open one (finance officer): a
        reversal at the EUR it was accepted with and, with a new amount, line or location, a
        replacement. 409 `quarter_open` when its quarter is open (change it instead)."""
        original = self.get_object()
        body = AdjustmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if "budget_line" in data:
            data["budget_line"] = budget_line_or_400(original.grant, data["budget_line"], attr="budget_line")
        reversal, replacement = expenditure_services.expenditure_adjust(expenditure=original, by=request.user, **data)
        return Response(AdjustmentResultSerializer({"reversal": reversal, "replacement": replacement}).data,
                        status=201)
