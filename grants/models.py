"""Who and what a grant is: donors, partners, places, and the grant itself.

Records
- Donor: a funder (a ministry, the NGO's own funds). Members read the grants it funds.
- Partner: an organisation that spends the grant's money, reporting in XOF or EUR.
- Location: a place where the money is spent (a city of intervention, the headquarters).
- Grant: a project's funding agreement: total in EUR, dates, the conversion method for XOF
  spending, the variance tolerance and the reallocation limit without donor approval.
- GrantDonor: a donor's share of a grant. Membership: a user belongs to a partner or a donor.

Invariants, and where each holds
- codes are unique (UniqueConstraint);
- a grant's total is in EUR and not negative, it starts before it ends, its tolerance and
  limit are percentages (CheckConstraint);
- a donor's share is in (0, 100] (CheckConstraint); the shares of a grant add up to 100
  (``grants.services.grant_set_donors``, since SQL cannot sum across rows in a CHECK);
- a membership names exactly one of partner and donor (CheckConstraint);
- a grant is ``full_clean``ed (field validators: percentages, money) only when
  ``grants.services`` writes it; any other save meets the constraints above and nothing more.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from simple_history.models import HistoricalRecords

from grants.iati import (
    ActivityStatus,
    OrganisationType,
    validate_activity_identifier,
    validate_dac_sectors,
    validate_org_ref,
)
from grants.money import CURRENCY_CHOICES, EUR
from grants.periods import month_index, validate_in_bounds
from grants.validation import validate_code


class FxMethod(models.TextChoices):
    PARITY = "parity", _("Fixed parity")
    FIFO = "fifo", _("Rate of the funding transfers, first in first out")
    WEIGHTED_AVERAGE = "weighted_average", _("Weighted average rate of funds received")
    MONTHLY_RATE = "monthly_rate", _("Monthly rate from the rate table")


class Role(models.TextChoices):
    """The three kinds of user; each is a Django group of this name."""

    FINANCE_OFFICER = "finance_officer", _("Finance officer")
    PARTNER_MEMBER = "partner_member", _("Partner member")
    DONOR_MEMBER = "donor_member", _("Donor member")


class Donor(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[validate_code], verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    notes = models.TextField(
        blank=True, help_text=_("Assumptions and remarks about this donor."), verbose_name=_("notes"),
    )
    iati_org_ref = models.CharField(
        max_length=100, blank=True, validators=[validate_org_ref],
        help_text=_("IATI organisation identifier, e.g. XM-DAC-22-1."), verbose_name=_("IATI organisation identifier"),
    )
    iati_org_type = models.CharField(
        max_length=2, blank=True, choices=OrganisationType.choices, verbose_name=_("IATI organisation type"),
    )

    class Meta:
        verbose_name = _("donor")
        verbose_name_plural = _("donors")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PartnerKind(models.TextChoices):
    LEAD = "lead", _("Lead NGO")
    IMPLEMENTING = "implementing", _("Implementing partner")


class Partner(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[validate_code], verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    kind = models.CharField(
        max_length=12, choices=PartnerKind.choices, default=PartnerKind.IMPLEMENTING, verbose_name=_("kind"),
    )
    reporting_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, verbose_name=_("reporting currency"))
    country = models.CharField(max_length=2, default="ML", help_text=_("ISO 3166 code."), verbose_name=_("country"))
    locations = models.ManyToManyField(
        "Location", related_name="partners", blank=True, help_text=_("Where the partner works."),
        verbose_name=_("locations"),
    )
    iati_org_ref = models.CharField(
        max_length=100, blank=True, validators=[validate_org_ref],
        help_text=_("IATI organisation identifier, e.g. XM-DAC-22-1."), verbose_name=_("IATI organisation identifier"),
    )
    iati_org_type = models.CharField(
        max_length=2, blank=True, choices=OrganisationType.choices, verbose_name=_("IATI organisation type"),
    )

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reporting_currency__in=["XOF", "EUR"]),
                name="partner_reporting_currency_allowed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Location(models.Model):
    code = models.CharField(max_length=16, unique=True, validators=[validate_code], verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    region = models.CharField(max_length=200, blank=True, verbose_name=_("region"))
    country = models.CharField(max_length=2, default="ML", help_text=_("ISO 3166 code."), verbose_name=_("country"))
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
        verbose_name=_("latitude"),
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
        verbose_name=_("longitude"),
    )

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="location_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="location_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Grant(models.Model):
    code = models.CharField(max_length=32, unique=True, validators=[validate_code], verbose_name=_("code"))
    title = models.CharField(max_length=500, verbose_name=_("title"))
    total = MoneyField(
        max_digits=14, decimal_places=2, default_currency=EUR, currency_choices=[(EUR, "EUR")],
        verbose_name=_("total"),
    )
    start_date = models.DateField(validators=[validate_in_bounds], verbose_name=_("start date"))
    end_date = models.DateField(validators=[validate_in_bounds], verbose_name=_("end date"))
    fx_method = models.CharField(
        max_length=20, choices=FxMethod.choices, default=FxMethod.PARITY, verbose_name=_("conversion method"),
    )
    variance_tolerance_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        verbose_name=_("variance tolerance (%)"),
    )
    reallocation_limit_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("25"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        verbose_name=_("reallocation limit without donor approval (%)"),
    )
    partners = models.ManyToManyField(Partner, related_name="grants", blank=True, verbose_name=_("partners"))
    donors = models.ManyToManyField(
        Donor, through="GrantDonor", related_name="grants", blank=True, verbose_name=_("donors"),
    )
    notes = models.TextField(
        blank=True, help_text=_("Assumptions and remarks about this grant."), verbose_name=_("notes"),
    )
    # IATI (reports.iati publishes the grant as an activity)
    title_en = models.CharField(max_length=500, blank=True, verbose_name=_("title (English)"))
    description_fr = models.TextField(blank=True, verbose_name=_("description (French)"))
    description_en = models.TextField(blank=True, verbose_name=_("description (English)"))
    iati_org_ref = models.CharField(
        max_length=100, blank=True, validators=[validate_org_ref],
        help_text=_("The reporting organisation's IATI identifier; blank: the lead partner's."),
        verbose_name=_("IATI reporting organisation identifier"),
    )
    iati_identifier = models.CharField(
        max_length=150, blank=True, validators=[validate_activity_identifier],
        help_text=_("The IATI activity identifier; blank: the reporting organisation's identifier, a hyphen and "
                    "the grant's code."),
        verbose_name=_("IATI activity identifier"),
    )
    iati_activity_status = models.PositiveSmallIntegerField(
        choices=ActivityStatus.choices, default=ActivityStatus.IMPLEMENTATION,
        verbose_name=_("IATI activity status"),
    )
    dac_sectors = models.JSONField(
        default=list, blank=True, validators=[validate_dac_sectors],
        help_text=_('DAC 5-digit sector codes with percentages adding up to 100: '
                    '[{"code": "15180", "percentage": "50"}, ...].'),
        verbose_name=_("DAC sectors"),
    )
    history = HistoricalRecords(excluded_fields=["partners", "donors"])

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(total_currency=EUR), name="grant_total_in_eur"),
            models.CheckConstraint(condition=Q(total__gte=0), name="grant_total_not_negative"),
            models.CheckConstraint(
                condition=Q(start_date__lt=models.F("end_date")), name="grant_starts_before_end"
            ),
            models.CheckConstraint(
                condition=Q(variance_tolerance_pct__gte=0, variance_tolerance_pct__lte=100),
                name="grant_tolerance_is_pct",
            ),
            models.CheckConstraint(
                condition=Q(reallocation_limit_pct__gte=0, reallocation_limit_pct__lte=100),
                name="grant_reallocation_limit_is_pct",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def months(self) -> int:
        """Whole months the grant runs (2015-07-01 .. 2018-06-30 is 36)."""
        return month_index(self.start_date, self.end_date) + 1

    @property
    def years(self) -> int:
        """Project years: year 1 is the first twelve months."""
        return (self.months + 11) // 12

    def project_year_of(self, day: date) -> int:
        return month_index(self.start_date, day) // 12 + 1

    def covers(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


class GrantDonor(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="donor_shares", verbose_name=_("grant"))
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="grant_shares", verbose_name=_("donor"))
    share_pct = models.DecimalField(max_digits=5, decimal_places=2, verbose_name=_("share (%)"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("donor's share")
        verbose_name_plural = _("donors' shares")
        ordering = ["grant", "-share_pct", "donor"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "donor"], name="grantdonor_once_per_grant"),
            models.CheckConstraint(
                condition=Q(share_pct__gt=0, share_pct__lte=100), name="grantdonor_share_is_pct"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.donor.code} {self.share_pct} % of {self.grant.code}"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
        verbose_name=_("user"),
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships",
        verbose_name=_("partner"),
    )
    donor = models.ForeignKey(
        Donor, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships",
        verbose_name=_("donor"),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                condition=(Q(partner__isnull=False, donor__isnull=True)
                           | Q(partner__isnull=True, donor__isnull=False)),
                name="membership_partner_xor_donor",
            ),
            models.UniqueConstraint(
                fields=["user", "partner"], name="membership_once_per_partner",
                condition=Q(partner__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["user", "donor"], name="membership_once_per_donor",
                condition=Q(donor__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.partner or self.donor}"


class DonorPayment(models.Model):
    """Money a donor paid the NGO for a grant (an instalment of its share), in EUR: what the IATI
    export publishes as the donor's incoming funds. Written by ``grants.services``
    (``donor_payment_record``/``_update``/``_delete``): the donor funds the grant, the amount is
    positive EUR to the cent."""

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="donor_payments",
                              verbose_name=_("grant"))
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="payments", verbose_name=_("donor"))
    received_on = models.DateField(validators=[validate_in_bounds], verbose_name=_("received on"))
    amount = MoneyField(
        max_digits=14, decimal_places=2, default_currency=EUR, currency_choices=[(EUR, "EUR")],
        verbose_name=_("amount"),
    )
    reference = models.CharField(max_length=100, blank=True, verbose_name=_("reference"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("donor's payment")
        verbose_name_plural = _("donors' payments")
        ordering = ["grant", "received_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_currency=EUR), name="donorpayment_in_eur"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="donorpayment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.donor.code} {self.amount} on {self.received_on} for {self.grant.code}"
