"""The finance officers' screens for the budget: lines, versions and their allocations.

Every write goes through ``budget.services`` (see ``grants.admin`` for how): a line's parent
is a heading of the same grant, a new version is opened as a draft copy of the current one,
allocations change only on a draft, a draft is approved only when it adds up to the grant's
total and the donor's rule allows it. Approved and superseded versions, and their allocations,
are shown read-only. Donors record their decisions through the API, not here; a draft's page
shows where its donor's approval stands: a change to its allocations after the donor's decision
makes that approval stale, and the "approve" action then refuses it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import get_language
from moneyed import Money

from budget import services as budget_services
from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from budget.revisions import donor_approval_state
from grants.admin import (
    LedgerHistoryAdmin,
    LockedWhenMixin,
    ServiceModelForm,
    ServiceWritesMixin,
    money_text,
)
from grants.errors import ApplicationError
from grants.models import Grant
from grants.money import EUR, money_sum

# ---------------------------------------------------------------------------------------------
# Budget lines
# ---------------------------------------------------------------------------------------------

LINE_FIELDS = ("code", "parent", "label_fr", "label_en", "beneficiary_target", "beneficiary_unit",
               "position")


class HeadingFilter(admin.RelatedFieldListFilter):
    """Filter on a heading: only headings (lines without a parent) are offered."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, ordering=ordering,
                                 limit_choices_to={"parent__isnull": True})


def admin_lang() -> str:
    return "fr" if (get_language() or "en").startswith("fr") else "en"


class LineOnlyFilter(admin.RelatedFieldListFilter):
    """Filter on a budget line: only lines (money is never spent or allocated on a heading),
    labelled in the admin's language."""

    def field_choices(self, field, request, model_admin):
        lang = admin_lang()
        lines = BudgetLine.objects.filter(parent__isnull=False).order_by("grant", "position", "code")
        return [(line.pk, f"{line.code} {line.label(lang)}") for line in lines]


class LineChoiceField(forms.ModelChoiceField):
    """A budget line offered as "2.1 <label>", the label in the admin's language (read when the
    page is drawn, so under the request's language)."""

    def label_from_instance(self, obj: BudgetLine) -> str:
        return f"{obj.code} {obj.label(admin_lang())}"


class LedgerChoosersMixin:
    """Choosers that offer what may be chosen: budget lines only (money is never spent or
    allocated on a heading), of the record's grant when it has one, labelled in the admin's
    language; and, when there is a single grant, that grant preselected on an add form."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "budget_line":
            lines = BudgetLine.objects.filter(parent__isnull=False).order_by("grant", "position", "code")
            grant_id = getattr(self, "_grant_id_of_object", None)
            if grant_id is not None:
                lines = lines.filter(grant_id=grant_id)
            kwargs["queryset"] = lines
            kwargs["form_class"] = LineChoiceField
        if db_field.name == "grant" and "initial" not in kwargs:
            only = list(Grant.objects.values_list("pk", flat=True)[:2])
            if len(only) == 1:
                kwargs["initial"] = only[0]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        self._grant_id_of_object = getattr(obj, "grant_id", None)
        return super().get_form(request, obj, change, **kwargs)


class BudgetLineForm(ServiceModelForm):
    class Meta:
        model = BudgetLine
        fields = ("grant", *LINE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "position" in self.fields:
            # Left empty, the service puts a new line last.
            self.fields["position"].required = False
            if self.instance.pk is None:
                self.initial.pop("position", None)
                self.fields["position"].initial = None

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            fields = {name: data.get(name) for name in LINE_FIELDS}
            fields["beneficiary_unit"] = fields["beneficiary_unit"] or ""
            return budget_services.budget_line_create(grant=data["grant"], by=by, **fields)
        line = BudgetLine.objects.get(pk=self.instance.pk)
        changed = {name: data.get(name) for name in LINE_FIELDS if name in self.changed_data}
        if changed.get("position", 0) is None:
            changed.pop("position")
        return budget_services.budget_line_update(line=line, by=by, **changed)


@admin.register(BudgetLine)
class BudgetLineAdmin(LedgerChoosersMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    form = BudgetLineForm
    list_display = ("code", "label_en", "label_fr", "parent", "grant", "beneficiary_target", "position")
    list_filter = ("grant", ("parent", HeadingFilter))
    list_select_related = ("grant", "parent")
    search_fields = ("code", "label_en", "label_fr")
    ordering = ("grant", "position", "code")

    def service_delete(self, request, obj):
        budget_services.budget_line_delete(line=obj, by=request.user)

    def get_readonly_fields(self, request, obj=None):
        # A line keeps its grant: its allocations and expenditures belong to that grant.
        return ("grant",) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = BudgetLine.objects.filter(parent__isnull=True).select_related("grant")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# ---------------------------------------------------------------------------------------------
# Allocations
# ---------------------------------------------------------------------------------------------

ALLOCATION_CELL = ("budget_line", "partner", "location", "year", "amount")


class AllocationForm(ServiceModelForm):
    class Meta:
        model = Allocation
        fields = ("version", *ALLOCATION_CELL)

    def _unchanged_row(self) -> bool:
        return self.instance.pk is not None and not self.has_changed()

    def should_try_service(self) -> bool:
        return not self._unchanged_row() and not self.cleaned_data.get("DELETE")

    def _post_clean(self):
        # Unchanged rows of a long inline are not written: skip their per-row constraint queries.
        if self._unchanged_row():
            return
        super()._post_clean()

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            version = data.get("version") or self.instance.version
            return budget_services.allocation_set(
                version=version, by=by, **{name: data[name] for name in ALLOCATION_CELL}
            )
        allocation = Allocation.objects.select_related("version__grant").get(pk=self.instance.pk)
        changed = {name: data[name] for name in ALLOCATION_CELL if name in self.changed_data}
        return budget_services.allocation_update(allocation=allocation, by=by, **changed)


class AllocationRowForm(AllocationForm):
    """An allocation as a row of a version: the amount is a plain EUR figure (see ``_AllocationRows``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "amount" in self.fields and self.instance.pk is not None:
            self.initial["amount"] = self.instance.amount.amount

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        return None if amount is None else Money(amount, EUR)


class _AllocationRows(admin.TabularInline):
    """Allocations as rows of their version.

    Allocations are EUR by constraint, so the amount is a plain figure rather than an amount
    and a currency select: on ~250 rows that saves weight and fields, and Django refuses a
    POST of more than 1,000 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS). A row sends three.
    """

    model = Allocation
    form = AllocationRowForm
    fields = ALLOCATION_CELL

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "amount":
            return forms.DecimalField(label="amount (EUR)", max_digits=14, decimal_places=2, min_value=0)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class AllocationInline(_AllocationRows):
    """A version's allocations: amounts editable on a draft, everything read-only once approved.

    A version has some 250 cells; a select for line, partner and place on each row would make
    a page of megabytes. The cell of an existing row is shown, its amount edited; new cells go
    in ``NewAllocationInline`` below.
    """

    readonly_fields = ("budget_line", "partner", "location", "year")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("budget_line", "partner", "location")

    @staticmethod
    def _frozen(version) -> bool:
        return isinstance(version, BudgetVersion) and not version.is_editable

    def get_fields(self, request, obj=None):
        if self._frozen(obj):
            return ("budget_line", "partner", "location", "year", "amount_shown")
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if self._frozen(obj):
            return self.get_fields(request, obj)
        return super().get_readonly_fields(request, obj)

    @admin.display(description="amount")
    def amount_shown(self, allocation: Allocation) -> str:
        return money_text(allocation.amount.amount, allocation.amount.currency)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


class NewAllocationInline(LedgerChoosersMixin, _AllocationRows):
    """Rows to add cells to a draft (shown on drafts only)."""

    extra = 1
    verbose_name = "new allocation"
    verbose_name_plural = "new allocations"

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_add_permission(self, request, obj=None):
        return not AllocationInline._frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Allocation)
class AllocationAdmin(LedgerChoosersMixin, LockedWhenMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    form = AllocationForm
    list_display = ("version", "budget_line", "partner", "location", "year", "amount_shown")
    list_filter = ("version__grant", "version", ("budget_line", LineOnlyFilter), "partner", "location", "year")
    list_select_related = ("version__grant", "budget_line", "partner", "location")
    search_fields = ("budget_line__code", "budget_line__label_en", "partner__code", "location__code")
    fieldsets = ((None, {"fields": ("version", *ALLOCATION_CELL)}),)

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: Allocation) -> str:
        return money_text(obj.amount.amount, obj.amount.currency)

    def is_locked(self, obj) -> bool:
        return not obj.version.is_editable

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and "version" not in readonly:
            readonly = ("version", *readonly)  # allocation_update keeps an allocation in its version
        return readonly

    def service_delete(self, request, obj):
        budget_services.allocation_delete(allocation=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Budget versions
# ---------------------------------------------------------------------------------------------


class BudgetVersionForm(ServiceModelForm):
    class Meta:
        model = BudgetVersion
        fields = ("grant", "label", "reason")

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            return budget_services.version_open_draft(
                grant=data["grant"], label=data["label"], reason=data.get("reason", ""), by=by
            )
        version = BudgetVersion.objects.select_related("grant").get(pk=self.instance.pk)
        changed = {name: data[name] for name in ("label", "reason") if name in self.changed_data}
        return budget_services.version_update(version=version, by=by, **changed)


@admin.register(BudgetVersion)
class BudgetVersionAdmin(LedgerChoosersMixin, LockedWhenMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    """Add opens a draft (a copy of the current version); "approve" makes a draft current."""

    form = BudgetVersionForm
    inlines = [AllocationInline, NewAllocationInline]
    list_display = ("grant", "number", "label", "status", "is_current", "allocated_shown", "approved_at",
                    "approved_by")
    list_filter = ("grant", "status", "is_current")
    list_select_related = ("grant", "approved_by")
    search_fields = ("label", "reason")
    actions = ["approve"]
    readonly_fields = ("number", "status", "is_current", "created_at", "approved_at", "approved_by",
                       "donor_approval")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(allocated=money_sum("allocations__amount"))

    @admin.display(description="allocated", ordering="allocated")
    def allocated_shown(self, obj: BudgetVersion) -> str:
        # Allocations are EUR by constraint: their sum has one currency.
        return money_text(getattr(obj, "allocated", None), "EUR")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("grant", "label", "reason")}),)
        return (
            (None, {"fields": ("grant", "number", "label", "reason")}),
            ("Approval", {"fields": ("status", "is_current", "created_at", "approved_at", "approved_by",
                                     "donor_approval")}),
        )

    @admin.display(description="donor's approval")
    def donor_approval(self, obj: BudgetVersion) -> str:
        """The draft's standing under the donor's rule; "stale" when its allocations changed
        after the donor's last decision (DOMAIN rule 14: a new decision is needed)."""
        if obj is None or obj.pk is None or not obj.is_editable:
            return "-"
        return donor_approval_state(obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and "grant" not in readonly:
            readonly = ("grant", *readonly)
        return readonly

    def get_inlines(self, request, obj):
        # A new draft copies the current version's allocations; they are edited once it exists.
        if obj is None:
            return []
        return self.inlines if obj.is_editable else [AllocationInline]

    def is_locked(self, obj) -> bool:
        return not obj.is_editable

    def save_formset(self, request, form, formset, change):
        if formset.model is not Allocation:
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        deleted = set(formset.deleted_forms)
        for row in deleted:
            if row.instance.pk is not None:
                budget_services.allocation_delete(allocation=row.instance, by=request.user)
                formset.deleted_objects.append(row.instance)
        for row in formset.forms:
            if row in deleted or not row.has_changed():
                continue
            adding = row.instance.pk is None
            saved = row.service_write(by=request.user)
            if adding:
                formset.new_objects.append(saved)
            else:
                formset.changed_objects.append((saved, row.changed_data))
        return None

    def service_delete(self, request, obj):
        budget_services.version_delete(version=obj, by=request.user)

    @admin.action(description="Approve the selected draft (it becomes the current version)")
    def approve(self, request, queryset):
        for version in queryset.select_related("grant"):
            if version.status != VersionStatus.DRAFT:
                self.message_user(request, f"{version}: only a draft can be approved.", messages.WARNING)
                continue
            try:
                budget_services.version_approve(version=version, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{version}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{version} is now the current version.", messages.SUCCESS)
