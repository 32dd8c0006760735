"""A grant's budget: the tree of lines, its versions, and the money each version allocates.

Records
- BudgetLine: a two-level tree per grant. A heading (no parent, "1 Prevention") groups lines
  ("1.1 Thematic sessions"); money is allocated to and spent on lines, never on headings.
  Headings carry the beneficiary targets (2,558 children, 417 girls in the Mali project).
- BudgetVersion: a numbered budget of a grant: "original" first, then revisions. A draft
  changes freely; approving it makes it the grant's current version and supersedes the one
  before; approved and superseded versions never change.
- Allocation: EUR for one line x partner x location x project year in one version.

Invariants, and where each holds
- line codes are unique per grant; version numbers are unique per grant; one allocation per
  version x line x partner x location x year (UniqueConstraint);
- at most one current version and at most one draft per grant (partial UniqueConstraint);
- a current version is approved (CheckConstraint);
- allocations are EUR, not negative, for a project year >= 1 (CheckConstraint);
- a line's parent is a heading of the same grant (``budget.services``); only a draft's
  allocations change, and they go to lines of the version's grant, partners on it and its
  project years (``budget.policy``, which ``budget.services`` and ``budget.revisions`` call
  before every write); an approved version's allocations add up to the grant's total to the cent
  (``budget.services.version_approve``). They span rows, which a CHECK cannot state.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from simple_history.models import HistoricalRecords

from grants.models import Grant, Location, Partner
from grants.money import EUR
from grants.validation import validate_code


class BudgetLine(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="budget_lines", verbose_name=_("grant"))
    code = models.CharField(max_length=16, validators=[validate_code], verbose_name=_("code"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent"),
    )
    label_fr = models.CharField(max_length=300, verbose_name=_("label (French)"))
    label_en = models.CharField(max_length=300, verbose_name=_("label (English)"))
    beneficiary_target = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("beneficiary target"))
    beneficiary_unit = models.CharField(max_length=50, blank=True, verbose_name=_("beneficiary unit"))
    position = models.PositiveIntegerField(default=0, help_text=_("Order within the tree."), verbose_name=_("position"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")
        ordering = ["grant", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "code"], name="budgetline_code_per_grant"),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="budgetline_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label_en}"

    @property
    def is_heading(self) -> bool:
        return self.parent_id is None

    def label(self, lang: str = "en") -> str:
        return self.label_fr if lang == "fr" else self.label_en


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SUPERSEDED = "superseded", _("Superseded")


class BudgetVersion(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="versions", verbose_name=_("grant"))
    number = models.PositiveIntegerField(verbose_name=_("number"))
    label = models.CharField(max_length=200, verbose_name=_("label"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT, verbose_name=_("status"),
    )
    is_current = models.BooleanField(default=False, verbose_name=_("current"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("approved by"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("budget version")
        verbose_name_plural = _("budget versions")
        ordering = ["grant", "number"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "number"], name="budgetversion_number_per_grant"),
            models.UniqueConstraint(
                fields=["grant"], condition=Q(is_current=True), name="budgetversion_one_current"
            ),
            models.UniqueConstraint(
                fields=["grant"], condition=Q(status="draft"), name="budgetversion_one_draft"
            ),
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(status="approved"),
                name="budgetversion_current_is_approved",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="budgetversion_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.grant.code} v{self.number} {self.label}"

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT

    def allocation_rows(self) -> list[list]:
        """The version's allocations in canonical form: ``[line code, partner code, location code,
        year, amount]`` with the amount as a string to the cent, sorted. What a donor is shown."""
        rows = (self.allocations.order_by()
                .values_list("budget_line__code", "partner__code", "location__code", "year", "amount"))
        return sorted([line, partner, location, int(year), str(Decimal(amount).quantize(Decimal("0.01")))]
                      for line, partner, location, year, amount in rows)

    def allocations_fingerprint(self) -> str:
        """SHA-256 (hex) of ``allocation_rows()`` as compact JSON.

        DOMAIN rule 14: a donor's decision stores this at decision time; when the draft's
        fingerprint no longer matches, the decision no longer speaks for the draft. It is read from
        the rows themselves, so a change by any path (API, admin, services, raw SQL) shows."""
        payload = json.dumps(self.allocation_rows(), separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(payload.encode("ascii")).hexdigest()


class Allocation(models.Model):
    version = models.ForeignKey(
        BudgetVersion, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("version"),
    )
    budget_line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("budget line"),
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("partner"),
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("location"),
    )
    year = models.PositiveSmallIntegerField(
        help_text=_("Project year, 1 for the first twelve months."), verbose_name=_("project year"),
    )
    amount = MoneyField(
        max_digits=14, decimal_places=2, default_currency=EUR, currency_choices=[(EUR, "EUR")],
        verbose_name=_("amount"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        ordering = ["version", "budget_line__position", "partner__code", "location__code", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "budget_line", "partner", "location", "year"],
                name="allocation_once_per_cell",
            ),
            models.CheckConstraint(condition=Q(amount_currency=EUR), name="allocation_in_eur"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="allocation_not_negative"),
            models.CheckConstraint(condition=Q(year__gte=1), name="allocation_year_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.budget_line.code} {self.partner.code} {self.location.code} Y{self.year}"


class Reallocation(models.Model):
    """Money moved inside a draft version from one allocation cell to another, with its reason.

    The move itself is the change of the two allocations (whose history keeps before and after);
    this record says who moved what, when and why."""

    version = models.ForeignKey(
        BudgetVersion, on_delete=models.CASCADE, related_name="reallocations", verbose_name=_("version"),
    )
    from_line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="+", verbose_name=_("from line"))
    from_partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("from partner"),
    )
    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("from location"),
    )
    from_year = models.PositiveSmallIntegerField(verbose_name=_("from year"))
    to_line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="+", verbose_name=_("to line"))
    to_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("to partner"))
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+", verbose_name=_("to location"))
    to_year = models.PositiveSmallIntegerField(verbose_name=_("to year"))
    amount = MoneyField(
        max_digits=14, decimal_places=2, default_currency=EUR, currency_choices=[(EUR, "EUR")],
        verbose_name=_("amount"),
    )
    reason = models.TextField(verbose_name=_("reason"))
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("moved by"),
    )
    moved_at = models.DateTimeField(auto_now_add=True, verbose_name=_("moved at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reallocation")
        verbose_name_plural = _("reallocations")
        ordering = ["version", "moved_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_currency=EUR), name="reallocation_in_eur"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="reallocation_positive"),
        ]

    def __str__(self) -> str:
        return f"v{self.version.number}: {self.amount} {self.from_line.code} -> {self.to_line.code}"


class DonorDecision(models.Model):
    """A donor's recorded decision on a draft whose headings move beyond the grant's limit.

    ``allocations_fingerprint`` is the SHA-256 of the draft's allocations as the donor saw them
    (``BudgetVersion.allocations_fingerprint``), taken when the decision is recorded: the
    decision speaks for those allocations only (DOMAIN rule 14). A decision written before the
    fingerprint existed has a blank one ("legacy"): it cannot show what the donor saw, so it is
    read as stale (see ``budget.revisions.donor_approval_state``).
    """

    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    version = models.ForeignKey(
        BudgetVersion, on_delete=models.CASCADE, related_name="donor_decisions", verbose_name=_("version"),
    )
    donor = models.ForeignKey(
        "grants.Donor", on_delete=models.PROTECT, related_name="decisions", verbose_name=_("donor"),
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, verbose_name=_("decision"))
    comment = models.TextField(blank=True, verbose_name=_("comment"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(auto_now_add=True, verbose_name=_("decided at"))
    allocations_fingerprint = models.CharField(
        max_length=64, blank=True, default="", editable=False,
        help_text=_("SHA-256 of the version's allocations when the decision was recorded."),
        verbose_name=_("allocations fingerprint"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("donor's decision")
        verbose_name_plural = _("donors' decisions")
        ordering = ["version", "decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.donor.code} {self.decision} v{self.version.number}"

    def save(self, *args, **kwargs):
        # A new decision always carries what it was made on, whichever path creates it
        # (``donor_decision_record``, the seed, a shell): it is taken here, at decision time.
        if self._state.adding and not self.allocations_fingerprint:
            self.allocations_fingerprint = self.version.allocations_fingerprint()
        super().save(*args, **kwargs)
