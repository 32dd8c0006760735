"""The finance officers' screens for rates, transfers, expenditures and quarterly statements.

Writes go through ``expenditures.services`` and ``expenditures.statements`` (see ``grants.admin``
for how), so the admin meets the API's rules: an expenditure is dated inside its grant, spent on
a line (not a heading) by a partner of the grant, in whole francs when in XOF, with a voucher
used once per partner, and never in a quarter locked by an accepted statement. Such an
expenditure, and an accepted statement, are shown read-only and cannot be deleted. Statements
are submitted, accepted and returned with the list's actions, each a call to the statement
workflow. The stored conversion (EUR value, rate, method) is computed by the service and is
always read-only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from rangefilter.filters import DateRangeFilter

from budget.admin import HeadingFilter, LedgerChoosersMixin, LineOnlyFilter
from budget.models import BudgetLine
from expenditures import fx, lifecycle, statements
from expenditures import services as exp_services
from expenditures.models import (
    ExchangeRate,
    Expenditure,
    FundTransfer,
    QuarterlyStatement,
    StatementStatus,
)
from expenditures.selectors import expenditure_totals, statement_line_budgets
from grants.admin import (
    LedgerHistoryAdmin,
    LockedWhenMixin,
    ServiceModelForm,
    ServiceWritesMixin,
    money_text,
)
from grants.errors import ApplicationError
from grants.models import Location
from grants.money import EUR, XOF, divide_to_eur

# ---------------------------------------------------------------------------------------------
# Exchange rates
# ---------------------------------------------------------------------------------------------


class ExchangeRateForm(ServiceModelForm):
    class Meta:
        model = ExchangeRate
        fields = ("currency", "rate", "month", "source")

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            return exp_services.exchange_rate_record(
                currency=data["currency"], rate=data["rate"], month=data.get("month"),
                source=data["source"], by=by,
            )
        record = ExchangeRate.objects.get(pk=self.instance.pk)
        # Applied here, not as keywords: the service's own ``rate`` keyword is the record.
        for name in self.changed_data:
            setattr(record, name, data[name])
        return exp_services.exchange_rate_update(rate=record, by=by)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(LockedWhenMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    """The standing rate is the legal parity (655.957 XOF per EUR): read-only, never deleted."""

    form = ExchangeRateForm
    list_display = ("currency", "month", "rate", "source", "created_at")
    list_filter = ("currency", ("month", DateRangeFilter))
    search_fields = ("source",)
    date_hierarchy = "month"
    fieldsets = ((None, {"fields": ("currency", "rate", "month", "source", "created_at")}),)
    readonly_fields = ("created_at",)

    def is_locked(self, obj) -> bool:
        return lifecycle.is_standing_rate(obj)

    def service_delete(self, request, obj):
        exp_services.exchange_rate_delete(rate=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Fund transfers
# ---------------------------------------------------------------------------------------------

TRANSFER_FIELDS = ("partner", "sent_on", "received_on", "amount_sent", "amount_received", "fees",
                   "reference", "note")


class FundTransferForm(ServiceModelForm):
    class Meta:
        model = FundTransfer
        fields = ("grant", *TRANSFER_FIELDS)

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            return exp_services.transfer_record(
                grant=data["grant"], by=by, **{name: data.get(name) for name in TRANSFER_FIELDS},
            )
        transfer = FundTransfer.objects.get(pk=self.instance.pk)
        changed = {name: data[name] for name in TRANSFER_FIELDS if name in self.changed_data}
        return exp_services.transfer_update(transfer=transfer, by=by, **changed)


@admin.register(FundTransfer)
class FundTransferAdmin(LedgerChoosersMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    form = FundTransferForm
    list_display = ("sent_on", "received_on", "grant", "partner", "sent_shown", "received_shown", "fees_shown",
                    "rate", "reference")
    list_filter = ("grant", "partner", ("sent_on", DateRangeFilter), "amount_received_currency")
    list_select_related = ("grant", "partner")
    search_fields = ("reference", "note")
    date_hierarchy = "sent_on"
    fieldsets = (
        (None, {"fields": ("grant", "partner", "sent_on", "received_on", "reference", "note")}),
        (gettext_lazy("Money"), {"fields": ("amount_sent", "amount_received", "fees")}),
        (gettext_lazy("Record"), {"fields": ("entered_by", "created_at")}),
    )

    @admin.display(description=gettext_lazy("sent"), ordering="amount_sent")
    def sent_shown(self, obj: FundTransfer) -> str:
        return money_text(obj.amount_sent.amount, obj.amount_sent.currency)

    @admin.display(description=gettext_lazy("received"), ordering="amount_received")
    def received_shown(self, obj: FundTransfer) -> str:
        return money_text(obj.amount_received.amount, obj.amount_received.currency)

    @admin.display(description=gettext_lazy("fees"), ordering="fees")
    def fees_shown(self, obj: FundTransfer) -> str:
        return money_text(obj.fees.amount, obj.fees.currency)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets[:2]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("entered_by", "created_at")
        # transfer_update revalues the old and the new partner, not an old grant: the grant stays.
        return ("grant", "entered_by", "created_at")

    def service_delete(self, request, obj):
        exp_services.transfer_delete(transfer=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Expenditures
# ---------------------------------------------------------------------------------------------

# What expenditure_update accepts (statement is set by the statement workflow, not by hand).
EXPENDITURE_EDITABLE = ("budget_line", "location", "date", "amount", "voucher", "description", "status")
# Computed by the service, or set by the workflow: never typed in.
EXPENDITURE_COMPUTED = ("amount_eur", "fx_rate", "fx_method", "rate_missing", "unfunded_xof", "statement",
                        "entered_by", "created_at", "updated_at")


class ExpenditureForm(ServiceModelForm):
    class Meta:
        model = Expenditure
        fields = ("grant", "partner", *EXPENDITURE_EDITABLE)

    def service_write(self, *, by=None):
        data = self.cleaned_data
        if self.instance.pk is None:
            return exp_services.expenditure_record(
                grant=data["grant"], partner=data["partner"], budget_line=data["budget_line"],
                location=data["location"], amount=data["amount"], date=data["date"],
                voucher=data["voucher"], description=data.get("description") or "",
                status=data["status"], by=by,
            )
        changed = {name: data[name] for name in EXPENDITURE_EDITABLE if name in self.changed_data}
        return exp_services.expenditure_update(expenditure=self.instance, by=by, **changed)


@admin.register(Expenditure)
class ExpenditureAdmin(LedgerChoosersMixin, LockedWhenMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    form = ExpenditureForm
    # Codes, not names: at 1,366 px the amounts and the status stay on screen next to long partner names.
    list_display = ("date", "partner_code", "line_code", "location_code", "amount_shown", "amount_eur_shown",
                    "status", "voucher")
    change_list_template = "admin/expenditures/expenditure/change_list.html"
    list_filter = (
        "grant",
        "partner",
        ("budget_line", LineOnlyFilter),
        ("budget_line__parent", HeadingFilter),
        "location",
        "status",
        ("date", DateRangeFilter),
        "amount_currency",
    )
    list_select_related = ("grant", "partner", "budget_line", "location")
    search_fields = ("voucher", "description")
    date_hierarchy = "date"
    fieldsets = (
        (None, {"fields": ("grant", "partner", "budget_line", "location", "date", "voucher", "description")}),
        (gettext_lazy("Amount"), {"fields": ("amount", "amount_eur", "fx_rate", "fx_method", "rate_missing",
                                             "unfunded_xof")}),
        (gettext_lazy("Review"), {"fields": ("status", "statement", "entered_by", "created_at", "updated_at")}),
    )

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_shown(self, obj: Expenditure) -> str:
        return money_text(obj.amount.amount, obj.amount.currency)

    @admin.display(description="EUR", ordering="amount_eur")
    def amount_eur_shown(self, obj: Expenditure) -> str:
        return money_text(obj.amount_eur, EUR)

    @admin.display(description=gettext_lazy("partner"), ordering="partner__code")
    def partner_code(self, obj: Expenditure) -> str:
        return obj.partner.code

    @admin.display(description=gettext_lazy("line"), ordering="budget_line__code")
    def line_code(self, obj: Expenditure) -> str:
        return obj.budget_line.code

    @admin.display(description=gettext_lazy("location"), ordering="location__code")
    def location_code(self, obj: Expenditure) -> str:
        return obj.location.code

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            totals = expenditure_totals(changelist.queryset)
            response.context_data["totals"] = {
                "by_currency": [money_text(amount, currency) for currency, amount in totals.by_currency.items()],
                "eur": money_text(totals.eur, EUR), "count": totals.count,
            }
        return response

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing is computed yet
            return (
                (None, {"fields": ("grant", "partner", "budget_line", "location", "date", "voucher",
                                   "description", "amount", "status")}),
            )
        return self.fieldsets

    def is_locked(self, obj) -> bool:
        return lifecycle.is_expenditure_locked(obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)  # every field when the quarter is locked
        if obj is None:
            return EXPENDITURE_COMPUTED
        # expenditure_update keeps an expenditure's grant and partner.
        return tuple(dict.fromkeys((*readonly, "grant", "partner", *EXPENDITURE_COMPUTED)))

    def service_delete(self, request, obj):
        exp_services.expenditure_delete(expenditure=obj, by=request.user)


# ---------------------------------------------------------------------------------------------
# Quarterly statements
# ---------------------------------------------------------------------------------------------

STATEMENT_MONEY = ("opening_balance", "funds_received", "closing_balance", "cash_on_hand", "bank_balance")
# Set by the workflow (submit, accept, return), never typed in: accepting locks the partner's quarter.
# Set at acceptance and reopening (expenditures.audit, expenditures.statements): shown, never typed in.
STATEMENT_SEAL = ("digest", "previous_digest", "reopenings_shown")
STATEMENT_WORKFLOW = ("status", "problems", "submitted_at", "submitted_by", "reviewed_at", "reviewed_by",
                      "review_comment", "created_at")


class QuarterlyStatementForm(ServiceModelForm):
    class Meta:
        model = QuarterlyStatement
        fields = ("grant", "partner", "year", "quarter", *STATEMENT_MONEY, "lines", "explanations")

    def service_write(self, *, by=None):
        data = self.cleaned_data
        contents = {name: data[name] for name in ("lines", "explanations") if name in self.fields}
        if self.instance.pk is None:
            return statements.statement_create(
                grant=data["grant"], partner=data["partner"], period=f"{data['year']}-Q{data['quarter']}", by=by,
                **contents, **{name: data[name] for name in STATEMENT_MONEY},
            )
        changed = {name: data[name] for name in (*STATEMENT_MONEY, "lines", "explanations")
                   if name in self.changed_data}
        return statements.statement_update(statement=self.instance, by=by, **changed)


class ReviewCommentForm(helpers.ActionForm):
    comment = forms.CharField(required=False, label="Comment",
                              help_text="Why a statement is returned or a quarter reopened (required), "
                                        "or a note on acceptance.")


@admin.register(QuarterlyStatement)
class QuarterlyStatementAdmin(LedgerChoosersMixin, LockedWhenMixin, ServiceWritesMixin, LedgerHistoryAdmin):
    """Drafts and returned statements are edited; submitted ones are reviewed with the actions;
    accepted ones never change. Every step is a call to ``expenditures.statements``."""

    form = QuarterlyStatementForm
    action_form = ReviewCommentForm
    actions = ["submit", "accept", "return_to_partner", "reopen"]
    list_display = ("grant", "partner", "period", "status", "opening_shown", "received_shown", "closing_shown",
                    "submitted_at", "reviewed_at", "reviewed_by")
    list_filter = ("grant", "partner", "status", "year", "quarter")
    list_select_related = ("grant", "partner", "reviewed_by")
    search_fields = ("partner__code", "partner__name", "review_comment")
    fieldsets = (
        (None, {"fields": ("grant", "partner", "year", "quarter")}),
        (gettext_lazy("Balances"), {"fields": STATEMENT_MONEY}),
        (gettext_lazy("Content"), {"fields": ("lines", "explanations")}),
        (gettext_lazy("Review"), {"fields": STATEMENT_WORKFLOW}),
        (gettext_lazy("Seal"), {"fields": STATEMENT_SEAL}),
    )

    @admin.display(description=gettext_lazy("period"), ordering="year")
    def period(self, obj: QuarterlyStatement) -> str:
        return obj.period

    @admin.display(description=gettext_lazy("reopenings"))
    def reopenings_shown(self, obj: QuarterlyStatement) -> str:
        """Each reopening of the quarter: when, by whom, why, and the digest it had then."""
        rows = [f"{r.reopened_at:%Y-%m-%d %H:%M} {r.reopened_by or ''}: {r.reason} (digest {r.digest or '-'})"
                for r in obj.reopenings.select_related("reopened_by")]
        return "; ".join(rows) or "-"

    @admin.display(description=gettext_lazy("opening balance"), ordering="opening_balance")
    def opening_shown(self, obj: QuarterlyStatement) -> str:
        return money_text(obj.opening_balance.amount, obj.opening_balance.currency)

    @admin.display(description=gettext_lazy("funds received"), ordering="funds_received")
    def received_shown(self, obj: QuarterlyStatement) -> str:
        return money_text(obj.funds_received.amount, obj.funds_received.currency)

    @admin.display(description=gettext_lazy("closing balance"), ordering="closing_balance")
    def closing_shown(self, obj: QuarterlyStatement) -> str:
        return money_text(obj.closing_balance.amount, obj.closing_balance.currency)

    change_form_template = "admin/expenditures/quarterlystatement/change_form.html"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets[:3]
        if self._locked(obj):
            # The review above the form shows the lines as a table and the balances with their
            # currency: the raw JSON and django-money's "F CFA24,096,244" are left out.
            return (self.fieldsets[0], (gettext_lazy("Review"), {"fields": ("status", *STATEMENT_WORKFLOW[2:])}),
                    self.fieldsets[4])
        return self.fieldsets

    def is_locked(self, obj) -> bool:
        return not lifecycle.statement_is_editable(obj)

    # --- the review page: the statement as a table, its figures, and the three steps ---------

    def get_urls(self):
        review = path("<path:object_id>/review/", self.admin_site.admin_view(self.review_view),
                      name="expenditures_quarterlystatement_review")
        return [review, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        statement = self.get_object(request, object_id)
        if statement is not None:
            extra_context = {**(extra_context or {}), "review": self.review_context(request, statement)}
        return super().change_view(request, object_id, form_url, extra_context)

    def review_context(self, request, statement: QuarterlyStatement) -> dict:
        """What the review shows: rows of the statement's lines, the figures of each budget line
        they touch, the problems, the balances and the links; labels in the admin's language."""
        lang = "fr" if (get_language() or "en").startswith("fr") else "en"
        codes = {str(raw.get("budget_line", "")) for raw in statement.lines}
        lines = {line.code: line for line in BudgetLine.objects.filter(grant=statement.grant_id, code__in=codes)}
        places = {place.code: place for place in Location.objects.filter(
            code__in={str(raw.get("location", "")) for raw in statement.lines})}
        # The EUR of a submitted line is its stored expenditure's, under the grant's method.
        stored = {row.voucher: row for row in Expenditure.objects.filter(statement=statement)}
        parity = None
        rows, eur_by_line = [], {}
        totals: dict[str, Decimal] = {}
        for raw in statement.lines:
            line = lines.get(str(raw.get("budget_line", "")))
            currency = str(raw.get("amount_currency", ""))
            try:
                amount = Decimal(str(raw.get("amount", "")))
            except ArithmeticError:
                amount = None
            try:
                day = date.fromisoformat(str(raw.get("date", "")))
            except ValueError:
                day = raw.get("date", "")
            expenditure = stored.get(str(raw.get("voucher", "")).strip())
            eur = expenditure.amount_eur if expenditure is not None else None
            if line is not None and not line.is_heading and amount is not None:
                if eur is not None:
                    in_eur = eur
                elif currency == XOF:
                    parity = parity or fx.parity_rate()
                    in_eur = divide_to_eur(amount, parity)
                else:
                    in_eur = amount if currency == EUR else Decimal("0")
                eur_by_line[line.pk] = eur_by_line.get(line.pk, Decimal("0")) + in_eur
            if amount is not None:
                totals[currency] = totals.get(currency, Decimal("0")) + amount
            place = places.get(str(raw.get("location", "")))
            rows.append({
                "date": day, "code": raw.get("budget_line", ""), "label": line.label(lang) if line else "",
                "location": f"{place.code} {place.name}" if place else raw.get("location", ""),
                "amount": money_text(amount, currency) if amount is not None else raw.get("amount", ""),
                "eur": money_text(eur, EUR) if eur is not None else "",
                "voucher": raw.get("voucher", ""), "description": raw.get("description", ""),
                "explanation": statement.explanations.get(raw.get("budget_line", ""), ""),
            })
        figures = statement_line_budgets(statement=statement, this_quarter_eur=eur_by_line)
        by_line = []
        for line in sorted((line for line in lines.values() if line.pk in figures), key=lambda line: line.code):
            figure = figures[line.pk]
            by_line.append({
                "code": line.code, "label": line.label(lang), "budget": money_text(figure.budget, EUR),
                "spent_before": money_text(figure.spent_before, EUR),
                "this_quarter": money_text(figure.this_quarter, EUR),
                "remaining": money_text(figure.remaining, EUR), "over": figure.remaining < 0,
                "explanation": statement.explanations.get(line.code, ""),
            })
        balances = [(QuarterlyStatement._meta.get_field(name).verbose_name, money_text(
            getattr(statement, name).amount, getattr(statement, name).currency)) for name in STATEMENT_MONEY]
        changelist = reverse("admin:expenditures_expenditure_changelist")
        return {
            "rows": rows, "by_line": by_line, "balances": balances,
            "totals": [money_text(amount, currency) for currency, amount in sorted(totals.items())],
            "eur_total": money_text(sum(figures[pk].this_quarter for pk in figures), EUR) if figures else "",
            "problems": statement.problems or [],
            "expenditures_url": f"{changelist}?{urlencode({'statement__id__exact': statement.pk})}",
            "expenditures_count": len(stored),
            "reconciliation_url": f"/api/v1/grants/{statement.grant.code}/reconciliation/?"
                                  f"{urlencode({'partner': statement.partner.code})}",
            "review_url": reverse("admin:expenditures_quarterlystatement_review", args=[statement.pk]),
            "steps": self.review_steps(statement),
        }

    @staticmethod
    def review_steps(statement: QuarterlyStatement) -> list[tuple[str, str]]:
        """The steps the workflow allows from the statement's status (the service decides)."""
        if statement.status in (StatementStatus.DRAFT, StatementStatus.RETURNED):
            return [("submit", _("Submit"))]
        if statement.status == StatementStatus.SUBMITTED:
            return [("accept", _("Accept")), ("return", _("Return to the partner"))]
        return []

    def review_view(self, request, object_id):
        """Submit, accept or return the statement (``expenditures.statements``), with the comment."""
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:expenditures_quarterlystatement_change", args=[object_id]))
        if not request.user.has_perm("expenditures.change_quarterlystatement"):
            raise PermissionDenied
        statement = get_object_or_404(QuarterlyStatement.objects.select_related("grant", "partner"), pk=object_id)
        step, comment = request.POST.get("step"), request.POST.get("comment", "")
        calls = {
            "submit": lambda: statements.statement_submit(statement=statement, by=request.user),
            "accept": lambda: statements.statement_accept(statement=statement, by=request.user, comment=comment),
            "return": lambda: statements.statement_return(statement=statement, by=request.user, comment=comment),
        }
        done = {"submit": _("submitted"), "accept": _("accepted"), "return": _("returned")}
        if step not in calls:
            self.message_user(request, _("Choose submit, accept or return."), messages.ERROR)
        else:
            try:
                calls[step]()
            except ApplicationError as exc:
                details = "; ".join(error.get("detail") or exc.message for error in exc.errors)
                self.message_user(request, f"{statement}: {details}", messages.ERROR)
            else:
                self.message_user(request, f"{statement} {done[step]}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:expenditures_quarterlystatement_change", args=[statement.pk]))

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is None:
            return readonly
        # A statement's grant, partner and period never change.
        return tuple(dict.fromkeys((*readonly, "grant", "partner", "year", "quarter", *STATEMENT_WORKFLOW,
                                    *STATEMENT_SEAL)))

    def service_delete(self, request, obj):
        statements.statement_delete(statement=obj, by=request.user)

    def _review(self, request, queryset, step: str, call) -> None:
        for statement in queryset.select_related("grant", "partner"):
            try:
                call(statement)
            except ApplicationError as exc:
                details = "; ".join(error.get("detail") or exc.message for error in exc.errors)
                self.message_user(request, f"{statement}: {details}", messages.ERROR)
            else:
                self.message_user(request, f"{statement} {step}.", messages.SUCCESS)

    @admin.action(description="Submit the selected statements (runs every check)")
    def submit(self, request, queryset):
        self._review(request, queryset, "submitted",
                     lambda statement: statements.statement_submit(statement=statement, by=request.user))

    @admin.action(description="Accept the selected statements (locks their quarters)")
    def accept(self, request, queryset):
        comment = request.POST.get("comment", "")
        self._review(request, queryset, "accepted", lambda statement: statements.statement_accept(
            statement=statement, by=request.user, comment=comment))

    @admin.action(description="Return the selected statements to the partner (with the comment)")
    def return_to_partner(self, request, queryset):
        comment = request.POST.get("comment", "")
        self._review(request, queryset, "returned", lambda statement: statements.statement_return(
            statement=statement, by=request.user, comment=comment))

    @admin.action(description="Reopen the selected accepted quarters (the comment is the reason, kept on record)")
    def reopen(self, request, queryset):
        reason = request.POST.get("comment", "")
        self._review(request, queryset, "reopened", lambda statement: statements.statement_reopen(
            statement=statement, by=request.user, reason=reason))
