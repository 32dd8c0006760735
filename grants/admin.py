"""The finance officers' screens for donors, partners, places, grants and memberships.

This module also holds what the three admin modules share (``budget.admin`` and
``expenditures.admin`` import it; imports run grants <- budget <- expenditures):

- ``money_text``: an amount with its currency, at the currency's precision ("655,957 XOF",
  "1,000.00 EUR");
- ``ServiceModelForm`` and ``ServiceWritesMixin``: a write in the admin is a call to the app's
  service, never a bare ``model.save()``, so that the admin obeys the same rules as the API.
  The form tries the service call in ``clean()`` inside a savepoint that is always rolled back,
  and turns an ``ApplicationError`` into an error on the field it names; ``save_model`` then
  makes the same call for real. Deletion goes through the service too, and a deletion the
  service would refuse is listed as protected on the confirmation page, so nothing is lost;
- ``LockedWhenMixin``: records whose state forbids change (an accepted statement, an approved
  budget version, an expenditure in a locked quarter) are shown read-only and cannot be deleted;
- ``LedgerHistoryAdmin``: django-simple-history's admin with its "revert" switched off,
  because a revert writes past values straight to the table, around every service rule.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.forms.models import BaseInlineFormSet
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from djmoney.forms.fields import MoneyField as MoneyFormField
from simple_history.admin import SimpleHistoryAdmin

from grants import services as grant_services
from grants.errors import ApplicationError
from grants.models import Donor, DonorPayment, Grant, GrantDonor, Location, Membership, Partner
from grants.money import EUR, PRECISION
from reports.selectors import budget_version_for, report_as_of, report_inputs
from reports.variance import variance

# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def money_text(amount: Decimal | None, currency: str | None) -> str:
    """``amount`` with thousands separators, at its currency's precision, then the currency."""
    if amount is None:
        return "-"
    currency = str(currency or "")
    places = -PRECISION[currency].as_tuple().exponent if currency in PRECISION else 2
    return f"{Decimal(amount):,.{places}f} {currency}".strip()


class _RolledBack(Exception):
    """Raised inside a savepoint to undo a write the service has just accepted."""


def service_refusal(write: Callable[[], object]) -> ApplicationError | None:
    """Run ``write`` in a savepoint that is always rolled back; return the service's refusal.

    The service checks its own rules (the same ones the API meets); nothing it writes stays.
    A database constraint the service did not foresee comes back as a refusal too, rather
    than as a server error.
    """
    try:
        with transaction.atomic():
            write()
            raise _RolledBack
    except _RolledBack:
        return None
    except ApplicationError as exc:
        return exc
    except IntegrityError as exc:
        return ApplicationError(_("The database refused this record: %(exc)s") % {"exc": exc})


def add_application_error(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Show each problem of ``exc`` on the form field it names, or above the form."""
    for error in exc.errors:
        attr = error.get("attr") or None
        if attr and attr not in form.fields and attr.endswith("_currency"):
            attr = attr.removesuffix("_currency")  # a MoneyField's currency is part of the field
        if attr not in form.fields:
            attr = None
        form.add_error(attr, error.get("detail") or exc.message)


def localize_amounts(form: forms.BaseForm) -> None:
    """Amounts are typed with the language's decimal separator: ``7000,5`` in French, ``7000.5``
    in English (Django's ``sanitize_separators``; no thousands separator, USE_THOUSAND_SEPARATOR
    is off). The amount of a django-money field is a DecimalField inside a MoneyWidget, whose
    NumberInput would refuse a comma in the browser: it becomes a localized text input."""
    for field in form.fields.values():
        if isinstance(field, MoneyFormField):
            amount = field.fields[0]
            amount.localize = True
            widget = forms.TextInput(attrs={**field.widget.widgets[0].attrs, "inputmode": "decimal"})
            widget.is_localized = True
            field.widget.widgets[0] = widget
        elif isinstance(field, forms.DecimalField) and not field.localize:
            field.localize = True
            field.widget = forms.TextInput(attrs={**field.widget.attrs, "inputmode": "decimal"})
            field.widget.is_localized = True


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose write is one service call: tried in ``clean()``, made in ``save_model``.

    Subclasses implement ``service_write(by=...)``, which calls the service with the cleaned
    data and returns the saved record (on a change, on a fresh copy read from the database,
    since services change the instance they are given).
    """

    service_refused = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        localize_amounts(self)

    def service_write(self, *, by=None):
        raise NotImplementedError

    def should_try_service(self) -> bool:
        return True

    def clean(self):
        cleaned = super().clean()
        self.service_refused = False
        if not self._errors and self.should_try_service():
            refusal = service_refusal(lambda: self.service_write(by=None))
            if refusal is not None:
                self.service_refused = True
                add_application_error(self, refusal)
        return cleaned

    def _post_clean(self):
        # The service has said why it refuses; the model's generic constraint messages would
        # only repeat it ("Constraint ... is violated").
        if self.service_refused:
            return
        super()._post_clean()


class ServiceWritesMixin:
    """ModelAdmin writes through services: ``form.service_write`` and ``service_delete``."""

    def service_delete(self, request, obj) -> None:
        """Delete ``obj`` through its service. Default: the model's own delete."""
        obj.delete()

    def save_model(self, request, obj, form, change):
        if not isinstance(form, ServiceModelForm):
            return super().save_model(request, obj, form, change)
        # The form has just tried this very call; a refusal now means another writer got in
        # between, and the exception rolls the whole request back.
        saved = form.service_write(by=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False
        return None

    def delete_model(self, request, obj):
        self.service_delete(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.service_delete(request, obj)

    def get_deleted_objects(self, objs, request):
        """List as protected what the service would refuse to delete, so the admin refuses it."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        refused = []
        locked = getattr(self, "_locked", lambda obj: False)  # LockedWhenMixin lists those itself
        for obj in objs:
            if locked(obj):
                continue
            # On a copy: a delete clears the instance's pk, and a rollback does not restore it.
            refusal = service_refusal(lambda obj=obj: self.service_delete(request, copy.copy(obj)))
            if refusal is not None:
                refused.append(f"{obj}: {refusal.message}")
        return deleted, model_count, perms_needed, [*protected, *refused]


class LockedWhenMixin:
    """Records for which ``is_locked`` is true are read-only and cannot be deleted."""

    def is_locked(self, obj) -> bool:
        return False

    def _locked(self, obj) -> bool:
        # Several permission checks ask per request: ask the database once per object.
        if obj is None:
            return False
        cached = getattr(obj, "_admin_locked", None)
        if cached is None:
            cached = bool(self.is_locked(obj))
            obj._admin_locked = cached
        return cached

    def all_field_names(self, request, obj=None) -> list[str]:
        names = []
        for _name, options in self.get_fieldsets(request, obj):
            for field in options["fields"]:
                names.extend(field if isinstance(field, list | tuple) else [field])
        return names

    def get_readonly_fields(self, request, obj=None):
        if self._locked(obj):
            return self.all_field_names(request, obj)
        return super().get_readonly_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        if self._locked(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._locked(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        locked = [f"{obj}: locked, it cannot be deleted." for obj in objs if self._locked(obj)]
        if locked and super().has_delete_permission(request):
            # The "permission" missing is the lock: say so, rather than "your account lacks ...".
            perms_needed = set(perms_needed) - {str(self.opts.verbose_name)}
        return deleted, model_count, perms_needed, [*protected, *locked]


class LedgerHistoryAdmin(SimpleHistoryAdmin):
    """Who changed what, and when: readable, never revertible.

    simple-history's revert saves a historical row back with ``save()``: it would reopen an
    accepted statement or an approved budget, or change an expenditure in a locked quarter.
    The form view still shows each past state.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied(_("Reverting is disabled: correct the record through its form."))
        return super().history_form_view(request, object_id, version_id, extra_context)


# ---------------------------------------------------------------------------------------------
# Donors, partners, locations
# ---------------------------------------------------------------------------------------------


@admin.register(Donor)
class DonorAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "reporting_currency", "country")
    list_filter = ("kind", "reporting_currency", "country")
    search_fields = ("code", "name")
    filter_horizontal = ("locations",)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "region", "country", "latitude", "longitude")
    list_filter = ("country", "region")
    search_fields = ("code", "name", "region")


# ---------------------------------------------------------------------------------------------
# Grants
# ---------------------------------------------------------------------------------------------

GRANT_FIELDS = ("code", "title", "total", "start_date", "end_date", "fx_method",
                "variance_tolerance_pct", "reallocation_limit_pct", "notes", *grant_services.IATI_FIELDS)


class GrantForm(ServiceModelForm):
    class Meta:
        model = Grant
        fields = (*GRANT_FIELDS, "partners")

    def service_write(self, *, by=None):
        data = self.cleaned_data
        fields = {name: data[name] for name in GRANT_FIELDS if name in self.fields}
        partners = list(data["partners"]) if "partners" in self.fields else None
        if self.instance.pk is None:
            return grant_services.grant_create(partners=partners or [], by=by, **fields)
        grant = Grant.objects.get(pk=self.instance.pk)
        changed = {name: value for name, value in fields.items() if name in self.changed_data}
        return grant_services.grant_update(grant=grant, partners=partners, by=by, **changed)


class DonorShareFormSet(BaseInlineFormSet):
    """The donors' shares, replaced together by ``grant_set_donors`` (they add up to 100 %)."""

    def donor_shares(self) -> list[tuple[Donor, Decimal]]:
        return [
            (form.cleaned_data["donor"], form.cleaned_data["share_pct"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("donor") is not None
        ]

    def clean(self):
        super().clean()
        if any(self.errors) or not self.has_changed() or self.instance.pk is None:
            return
        refusal = service_refusal(
            lambda: grant_services.grant_set_donors(grant=self.instance, donor_shares=self.donor_shares())
        )
        if refusal is not None:
            raise forms.ValidationError(refusal.message, code=refusal.code)


class GrantDonorInline(admin.TabularInline):
    model = GrantDonor
    formset = DonorShareFormSet
    fields = ("donor", "share_pct")
    extra = 0


def grant_summary(grant: Grant) -> dict:
    """Budget, actual and variance by heading as of today (the variance report's own figures,
    ``reports.variance`` over ``reports.selectors``), headings labelled in the admin's language,
    and the links to the workbook in French and English."""
    lang = "fr" if (get_language() or "en").startswith("fr") else "en"
    version = budget_version_for(grant=grant)
    report = variance(report_inputs(grant=grant, as_of=report_as_of(grant, None), version=version),
                      by="heading", lang=lang)

    def shown(row: dict) -> dict:
        return {"key": row["key"], "label": row["label"], "budget": money_text(row["budget"], EUR),
                "actual": money_text(row["actual"], EUR), "variance": money_text(row["variance"], EUR),
                "use_pct": "-" if row["use_pct"] is None else f"{row['use_pct']} %", "flag": row["flag"]}

    workbook = f"/api/v1/grants/{grant.code}/reports/variance.xlsx"
    return {"as_of": report["as_of"], "version": report["version"], "rows": [shown(row) for row in report["rows"]],
            "total": shown(report["total"]), "workbook_fr": f"{workbook}?lang=fr", "workbook_en": f"{workbook}?lang=en"}


@admin.register(Grant)
class GrantAdmin(ServiceWritesMixin, LedgerHistoryAdmin):
    form = GrantForm
    list_display = ("code", "title", "total_shown", "start_date", "end_date", "fx_method")
    list_filter = ("fx_method", "partners")
    search_fields = ("code", "title")
    filter_horizontal = ("partners",)
    fieldsets = (
        (None, {"fields": ("code", "title", "total", "start_date", "end_date", "partners")}),
        ("Rules", {"fields": ("fx_method", "variance_tolerance_pct", "reallocation_limit_pct")}),
        ("Notes", {"fields": ("notes",)}),
        ("IATI", {"fields": grant_services.IATI_FIELDS}),
    )

    @admin.display(description="total", ordering="total")
    def total_shown(self, obj: Grant) -> str:
        return money_text(obj.total.amount, obj.total.currency)

    change_form_template = "admin/grants/grant/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, object_id)
        if grant is not None:
            extra_context = {**(extra_context or {}), "summary": grant_summary(grant)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_readonly_fields(self, request, obj=None):
        # Changing the conversion method must revalue every expenditure of the grant in the
        # same transaction; grant_update only stores the field, so the admin does not offer it.
        if obj is not None:
            return ("fx_method",)
        return ()

    def get_inlines(self, request, obj):
        # The shares are replaced as a whole by grant_set_donors, which needs a saved grant:
        # donors are entered once the grant exists.
        return [GrantDonorInline] if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if not isinstance(formset, DonorShareFormSet):
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not formset.has_changed():
            return None
        grant_services.grant_set_donors(grant=form.instance, donor_shares=formset.donor_shares())
        formset.new_objects = list(GrantDonor.objects.filter(grant=form.instance))
        return None

    def service_delete(self, request, obj):
        grant_services.grant_delete(grant=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Donors' payments (the IATI export's incoming funds)
# ---------------------------------------------------------------------------------------------


class DonorPaymentForm(ServiceModelForm):
    class Meta:
        model = DonorPayment
        fields = ("grant", *grant_services.DONOR_PAYMENT_FIELDS)

    def service_write(self, *, by=None):
        data = self.cleaned_data
        fields = {name: data.get(name) for name in grant_services.DONOR_PAYMENT_FIELDS}
        fields["reference"], fields["note"] = fields["reference"] or "", fields["note"] or ""
        if self.instance.pk is None:
            return grant_services.donor_payment_record(grant=data["grant"], by=by, **fields)
        payment = DonorPayment.objects.get(pk=self.instance.pk)
        changed = {name: data[name] for name in grant_services.DONOR_PAYMENT_FIELDS if name in self.changed_data}
        return grant_services.donor_payment_update(payment=payment, by=by, **changed)


@admin.register(DonorPayment)
class DonorPaymentAdmin(ServiceWritesMixin, LedgerHistoryAdmin):
    form = DonorPaymentForm
    list_display = ("received_on", "grant", "donor", "amount_shown", "reference")
    list_filter = ("grant", "donor")
    list_select_related = ("grant", "donor")
    search_fields = ("reference", "note")
    date_hierarchy = "received_on"

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_shown(self, obj: DonorPayment) -> str:
        return money_text(obj.amount.amount, obj.amount.currency)

    def get_readonly_fields(self, request, obj=None):
        return ("grant",) if obj is not None else ()

    def service_delete(self, request, obj):
        grant_services.donor_payment_delete(payment=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Memberships
# ---------------------------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "partner", "donor")
    list_filter = ("partner", "donor")
    list_select_related = ("user", "partner", "donor")
    search_fields = ("user__username", "user__email", "partner__code", "donor__code")
