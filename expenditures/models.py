"""Where the money goes: rates, transfers to partners, expenditures, quarterly statements.

Records
- ExchangeRate: units of a currency per EUR, either standing (``month`` null: the parity
  655.957 XOF, seeded by a migration) or for one month (a donor's accounting rate).
- FundTransfer: EUR the NGO sent a partner for a grant, the XOF the partner's bank credited,
  and the fees. The obtained rate is ``amount_received / amount_sent``; fees stay apart.
- Expenditure: one voucher of a partner on a line, a location and a date, in XOF or EUR,
  with its EUR value stored (``amount_eur``) together with the rate and method that made it,
  so that every total is a sum of stored per-row EUR values.
- ExpenditureFunding: under the ``fifo`` method, the pieces an expenditure was paid from: the XOF
  taken from one transfer (its tranche) with their EUR at that transfer's rate, or, with no
  transfer, the XOF spent beyond all funds received, at the parity. Derived data: written only
  by ``expenditures.fx.revalue_partner``; an expenditure's pieces add up to its amount and its
  ``amount_eur``.
- QuarterlyStatement: a partner's financial statement for one calendar quarter of a grant.
  Its workflow (checks, submission, review, acceptance, reopening) lives in
  ``expenditures.statements``; the lock an accepted statement puts on its quarter holds for every
  write through ``expenditures.lifecycle``.
- StatementVersion: each content a statement was sent with (a workbook uploaded, with the file and
  the cell of each field, or a body through the API), numbered per statement, never changed.

Invariants, and where each holds
- amounts are XOF or EUR, never negative; XOF amounts are whole francs; EUR amounts have
  two decimals (CheckConstraint, column precision, and ``grants.money.validate_money``);
- an expenditure is positive; a voucher is used once per partner; one statement per grant,
  partner and quarter; a transfer is received on or after it was sent; a rate is positive
  and there is one standing rate per currency and one rate per currency and month
  (CheckConstraint, UniqueConstraint);
- an expenditure is dated inside its grant, its partner is a partner of the grant, its line is
  a line (not a heading) of the grant allocated to the partner, its voucher is new for the
  partner; a transfer's partner is on the grant (they span tables: checked in Python, not by
  ``full_clean``, by the services before they save: ``expenditures.services``' checks and
  ``expenditures.lifecycle``; a statement's rows pass ``statement_check`` before
  ``expenditures.statements`` writes them in bulk). A save from elsewhere (a shell, a bulk
  insert) meets only the constraints.
- a funding piece has a positive XOF amount and a non-negative EUR value (CheckConstraint); the
  pieces of an expenditure add up to it in XOF and EUR, and no tranche gives more EUR than was
  sent for it (``expenditures.fx``, which writes them all at once).
- a statement's versions are numbered once each (UniqueConstraint), written only by
  ``expenditures.statements`` under the partner's lock, and never changed;
- every change to these records made through the services, statements and revaluation is kept
  by django-simple-history (who, when, before, after); funding pieces are derived from them and
  carry no history of their own, nor do the demo-data generator's rows
  (``expenditures.demo_data``, written in bulk) until they change.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import BigIntegerField, Q
from django.db.models.functions import Cast
from django.db.models.signals import pre_save
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from simple_history.models import HistoricalRecords

from budget.models import BudgetLine
from expenditures.fields import DAY_COUNT_FILTERS, DESCRIPTION_MAX_LENGTH, VOUCHER_MAX_LENGTH
from grants.models import FxMethod, Grant, Location, Partner
from grants.money import CURRENCY_CHOICES, EUR, XOF
from grants.periods import validate_in_bounds

MONEY_DIGITS = 14


def _currency_allowed(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}_currency__in": [XOF, EUR]}), name=name
    )


def _whole_if_xof(field: str, name: str) -> models.CheckConstraint:
    """XOF has no minor unit: an XOF amount equals its integer cast."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}_currency": EUR})
        | Q(**{field: Cast(field, output_field=BigIntegerField())}),
        name=name,
    )


class ExchangeRate(models.Model):
    currency = models.CharField(max_length=3, choices=[(XOF, "XOF")], default=XOF, verbose_name=_("currency"))
    rate = models.DecimalField(
        max_digits=16, decimal_places=6, help_text=_("Units of the currency for one EUR."),
        verbose_name=_("rate"),
    )
    month = models.DateField(
        null=True, blank=True, validators=[validate_in_bounds],
        help_text=_("First day of the month the rate is for; empty for a standing rate."),
        verbose_name=_("month"),
    )
    source = models.CharField(max_length=300, verbose_name=_("source"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency", "month"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchangerate_positive"),
            models.CheckConstraint(
                condition=Q(month__isnull=True) | Q(month__day=1), name="exchangerate_month_first_day"
            ),
            models.UniqueConstraint(
                fields=["currency"], condition=Q(month__isnull=True),
                name="exchangerate_one_standing_rate",
            ),
            models.UniqueConstraint(
                fields=["currency", "month"], condition=Q(month__isnull=False),
                name="exchangerate_one_per_month",
            ),
        ]

    def __str__(self) -> str:
        when = self.month.strftime("%Y-%m") if self.month else "standing"
        return f"{self.currency} {self.rate} ({when})"


class FundTransfer(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("grant"))
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="transfers", verbose_name=_("partner"))
    sent_on = models.DateField(validators=[validate_in_bounds], verbose_name=_("sent on"))
    received_on = models.DateField(null=True, blank=True, validators=[validate_in_bounds],
                                   verbose_name=_("received on"))
    amount_sent = MoneyField(
        max_digits=MONEY_DIGITS, decimal_places=2, default_currency=EUR, currency_choices=[(EUR, "EUR")],
        verbose_name=_("amount sent"),
    )
    amount_received = MoneyField(
        max_digits=MONEY_DIGITS, decimal_places=2, default_currency=XOF,
        currency_choices=CURRENCY_CHOICES,
        verbose_name=_("amount received"),
    )
    fees = MoneyField(
        max_digits=MONEY_DIGITS, decimal_places=2, default=Decimal("0"), default_currency=EUR,
        currency_choices=CURRENCY_CHOICES,
        verbose_name=_("fees"),
    )
    reference = models.CharField(max_length=100, blank=True, verbose_name=_("reference"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("entered by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fund transfer")
        verbose_name_plural = _("fund transfers")
        ordering = ["grant", "partner", "received_on", "id"]
        indexes = [models.Index(fields=["grant", "partner", "received_on"], name="transfer_grant_partner_recv")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_sent_currency=EUR), name="transfer_sent_in_eur"),
            models.CheckConstraint(condition=Q(amount_sent__gt=0), name="transfer_sent_positive"),
            _currency_allowed("amount_received", "transfer_received_currency_allowed"),
            models.CheckConstraint(condition=Q(amount_received__gte=0), name="transfer_received_not_negative"),
            _whole_if_xof("amount_received", "transfer_received_whole_xof"),
            _currency_allowed("fees", "transfer_fees_currency_allowed"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="transfer_fees_not_negative"),
            _whole_if_xof("fees", "transfer_fees_whole_xof"),
            models.CheckConstraint(
                condition=Q(received_on__isnull=True) | Q(received_on__gte=models.F("sent_on")),
                name="transfer_received_after_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grant.code} -> {self.partner.code} {self.amount_sent} on {self.sent_on}"

    @property
    def rate(self) -> Decimal | None:
        """XOF credited per EUR sent, to 6 decimals (fees are not folded in)."""
        if str(self.amount_received.currency) != XOF or not self.amount_sent.amount:
            return None
        return (self.amount_received.amount / self.amount_sent.amount).quantize(Decimal("0.000001"))


class ExpenditureStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    VALIDATED = "validated", _("Validated")
    REJECTED = "rejected", _("Rejected")


# Spending that counts in reports: what a partner has submitted and what finance validated.
COUNTED_STATUSES = (ExpenditureStatus.SUBMITTED, ExpenditureStatus.VALIDATED)


class Expenditure(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="expenditures", verbose_name=_("grant"))
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="expenditures",
                                verbose_name=_("partner"))
    budget_line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="expenditures",
                                    verbose_name=_("budget line"))
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="expenditures",
                                 verbose_name=_("location"))
    date = models.DateField(validators=[validate_in_bounds], verbose_name=_("date"))
    amount = MoneyField(max_digits=MONEY_DIGITS, decimal_places=2, currency_choices=CURRENCY_CHOICES,
                        verbose_name=_("amount"))
    amount_eur = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=2,
        help_text=_("EUR value, stored once with its rate and method; totals add these."),
        verbose_name=_("amount in EUR"),
    )
    fx_rate = models.DecimalField(
        max_digits=16, decimal_places=6, help_text=_("Units of the amount's currency per EUR."),
        verbose_name=_("exchange rate"),
    )
    fx_method = models.CharField(max_length=20, choices=FxMethod.choices, verbose_name=_("conversion method"))
    rate_missing = models.BooleanField(
        default=False, help_text=_("No monthly rate for this month: the parity was used."),
        verbose_name=_("rate missing"),
    )
    unfunded_xof = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=0, default=Decimal("0"),
        help_text=_("XOF spent beyond the funds received (fifo only), converted at the parity."),
        verbose_name=_("unfunded XOF"),
    )
    voucher = models.CharField(max_length=VOUCHER_MAX_LENGTH, verbose_name=_("voucher"))
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, verbose_name=_("description"))
    status = models.CharField(
        max_length=10, choices=ExpenditureStatus.choices, default=ExpenditureStatus.VALIDATED,
        verbose_name=_("status"),
    )
    statement = models.ForeignKey(
        "QuarterlyStatement", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="expenditures",
        verbose_name=_("statement"),
    )
    adjusts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments",
        help_text=_("The expenditure of a locked quarter this row corrects (a reversal, or its replacement)."),
        verbose_name=_("adjusts"),
    )
    adjustment_reason = models.CharField(max_length=300, blank=True, verbose_name=_("adjustment reason"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("entered by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("expenditure")
        verbose_name_plural = _("expenditures")
        ordering = ["date", "id"]
        indexes = [
            models.Index(fields=["grant", "partner", "date", "id"], name="exp_grant_partner_date"),
            # Counts of a partner's period (the list's count): without the unique id, a day's rows
            # share one deduplicated key, so the index is a tenth of the size of the one above and
            # an index-only COUNT of a quarter reads about twice as fast. The one above keeps
            # serving the pages (ordered by date, id).
            models.Index(fields=["grant", "partner", "date"], name="exp_count_grant_partner_date"),
            models.Index(fields=["grant", "date", "id"], name="exp_grant_date"),
            models.Index(fields=["grant", "budget_line"], name="exp_grant_line"),
            models.Index(fields=["statement"], name="exp_statement"),
        ]
        constraints = [
            _currency_allowed("amount", "expenditure_currency_allowed"),
            # A reversal (an adjustment of a locked quarter's row) is the one negative expenditure.
            models.CheckConstraint(condition=Q(amount__gt=0) | (Q(adjusts__isnull=False) & Q(amount__lt=0)),
                                   name="expenditure_amount_positive"),
            _whole_if_xof("amount", "expenditure_whole_xof"),
            models.CheckConstraint(condition=Q(amount_eur__gte=0) | Q(adjusts__isnull=False),
                                   name="expenditure_eur_not_negative"),
            models.CheckConstraint(condition=Q(fx_rate__gt=0), name="expenditure_rate_positive"),
            models.CheckConstraint(condition=Q(unfunded_xof__gte=0), name="expenditure_unfunded_not_negative"),
            models.UniqueConstraint(fields=["partner", "voucher"], name="expenditure_voucher_once_per_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.voucher} {self.amount} on {self.date}"


class ExpenditureDayCount(models.Model):
    """How many expenditures a partner has on a grant on one day, whatever their status.

    Derived data, written by the database alone: triggers (migration 0005, SQLite and
    PostgreSQL) add and subtract on every insert and delete of an expenditure and on every change
    of its grant, partner or date, whether it comes from a service, a bulk insert or a
    ``QuerySet.update``. The API's expenditure list counts a partner's period from these rows (a
    quarter is some ninety of them) instead of counting each of its expenditures (34,180 for a
    quarter of the bench's million: 4 ms of PostgreSQL per request, more than all the rest of its
    SQL); tests/expenditures/test_day_counts.py checks they always equal a GROUP BY of the
    expenditures.

    A row loaded from a fixture (``loaddata`` of a ``dumpdata``, which holds these rows too) is not
    taken as it was dumped: the expenditures it comes with have already been counted by the triggers,
    or will be when they are loaded after it. ``_day_count_loaded`` turns its save into "this day's
    row, counting the expenditures the database has now": it takes the id of the row already there
    for the day, if any, and the count of a COUNT(*). A dump loaded into a fresh database, into one
    that already has expenditures, or twice, leaves counts equal to the GROUP BY
    (tests/expenditures/test_day_counts_dump.py; ``pg_restore`` creates the triggers after the data,
    so the counts it restores are the dumped ones). ``manage.py rebuild_day_counts`` puts the
    triggers back and recounts, for a database that lost them."""

    # The expenditure list's filters a count by day can answer (and the roles' scoping, which
    # is by grant and partner).
    FILTERS = DAY_COUNT_FILTERS
    VENDORS = frozenset({"postgresql", "sqlite"})  # where migration 0005 puts the triggers

    grant = models.ForeignKey(
        Grant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("grant"),
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("partner"),
    )
    date = models.DateField(verbose_name=_("date"))
    count = models.BigIntegerField(verbose_name=_("count"))

    class Meta:
        verbose_name = _("expenditure count per day")
        verbose_name_plural = _("expenditure counts per day")
        constraints = [
            models.UniqueConstraint(fields=["grant", "partner", "date"], name="expenditure_day_count_once"),
        ]

    def __str__(self) -> str:
        return f"{self.count} on {self.date}"


def _day_count_loaded(sender, instance: ExpenditureDayCount, raw: bool, using: str, **kwargs) -> None:
    """A day count saved ``raw`` (from a fixture): the day's row as the database counts it now
    (see ExpenditureDayCount). An ordinary save is left alone: only the triggers write these rows."""
    if not raw:
        return
    day = {"grant_id": instance.grant_id, "partner_id": instance.partner_id, "date": instance.date}
    instance.pk = ExpenditureDayCount._base_manager.using(using).filter(**day).values_list("pk", flat=True).first()
    instance.count = Expenditure._base_manager.using(using).filter(**day).count()


pre_save.connect(_day_count_loaded, sender=ExpenditureDayCount, dispatch_uid="expenditure_day_count_loaded")


class ExpenditureFunding(models.Model):
    """One piece of an expenditure under ``fifo``: XOF taken from one transfer, or unfunded."""

    expenditure = models.ForeignKey(
        Expenditure, on_delete=models.CASCADE, related_name="funding", verbose_name=_("expenditure"),
    )
    transfer = models.ForeignKey(
        FundTransfer, null=True, blank=True, on_delete=models.CASCADE, related_name="funding",
        help_text=_("The tranche that paid this piece; empty for XOF spent beyond all funds received."),
        verbose_name=_("transfer"),
    )
    xof = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=0, verbose_name=_("XOF"))
    eur = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=2, verbose_name=_("EUR"))
    rate = models.DecimalField(
        max_digits=16, decimal_places=6,
        help_text=_("XOF per EUR of the tranche (received / sent), or the parity when unfunded."),
        verbose_name=_("rate"),
    )

    class Meta:
        verbose_name = _("funding of an expenditure")
        verbose_name_plural = _("funding of expenditures")
        ordering = ["expenditure", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(xof__gt=0), name="funding_xof_positive"),
            models.CheckConstraint(condition=Q(eur__gte=0), name="funding_eur_not_negative"),
        ]

    def __str__(self) -> str:
        source = f"transfer {self.transfer_id}" if self.transfer_id else "unfunded"
        return f"{self.xof} XOF = {self.eur} EUR ({source})"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned")


def _statement_money(**kwargs) -> MoneyField:
    return MoneyField(
        max_digits=MONEY_DIGITS, decimal_places=2, default=Decimal("0"), default_currency=XOF,
        currency_choices=CURRENCY_CHOICES, **kwargs,
    )


class QuarterlyStatement(models.Model):
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="statements", verbose_name=_("grant"))
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements", verbose_name=_("partner"))
    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    quarter = models.PositiveSmallIntegerField(verbose_name=_("quarter"))
    opening_balance = _statement_money(verbose_name=_("opening balance"))
    funds_received = _statement_money(verbose_name=_("funds received"))
    closing_balance = _statement_money(verbose_name=_("closing balance"))
    cash_on_hand = _statement_money(verbose_name=_("cash on hand"))
    bank_balance = _statement_money(verbose_name=_("bank balance"))
    lines = models.JSONField(
        default=list, blank=True,
        help_text=_("The expenditures as the partner sent them, until the statement is submitted."),
        verbose_name=_("lines"),
    )
    explanations = models.JSONField(default=dict, blank=True, verbose_name=_("explanations"))
    status = models.CharField(max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT,
                              verbose_name=_("status"))
    problems = models.JSONField(default=list, blank=True, verbose_name=_("problems"))
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("submitted by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("reviewed by"),
    )
    review_comment = models.TextField(blank=True, verbose_name=_("review comment"))
    review_comments = models.JSONField(
        default=list, blank=True,
        help_text=_("Finance's comments on single rows and balances when it last returned the statement: "
                    '[{"row": 3, "comment": ...}, {"field": "cash_on_hand", "comment": ...}].'),
        verbose_name=_("review comments"),
    )
    digest = models.CharField(
        max_length=64, blank=True,
        help_text=_("SHA-256 of the quarter's ledger rows, their conversions and the statement, taken at "
                    "acceptance and chained to the partner's previous accepted quarter."),
        verbose_name=_("digest"),
    )
    previous_digest = models.CharField(
        max_length=64, blank=True, help_text=_("The digest of the partner's previous accepted quarter."),
        verbose_name=_("previous digest"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("quarterly statement")
        verbose_name_plural = _("quarterly statements")
        ordering = ["grant", "partner", "year", "quarter"]
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "partner", "year", "quarter"], name="statement_once_per_quarter"
            ),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="statement_quarter_1_to_4"),
            *[
                c
                for field in ("opening_balance", "funds_received", "closing_balance", "cash_on_hand", "bank_balance")
                for c in (
                    _currency_allowed(field, f"statement_{field}_currency_allowed"),
                    _whole_if_xof(field, f"statement_{field}_whole_xof"),
                )
            ],
            models.CheckConstraint(condition=Q(funds_received__gte=0), name="statement_received_not_negative"),
            models.CheckConstraint(condition=Q(cash_on_hand__gte=0), name="statement_cash_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.grant.code} {self.partner.code} {self.period}"

    @property
    def period(self) -> str:
        return f"{self.year}-Q{self.quarter}"


class StatementReopening(models.Model):
    """A finance officer reopened an accepted quarter, with a reason that stays on record: the
    quarter is open again (its statement is ``submitted``) until finance accepts it anew."""

    statement = models.ForeignKey(
        QuarterlyStatement, on_delete=models.CASCADE, related_name="reopenings", verbose_name=_("statement"),
    )
    reason = models.TextField(verbose_name=_("reason"))
    digest = models.CharField(
        max_length=64, blank=True, help_text=_("The digest the quarter had when reopened."), verbose_name=_("digest"),
    )
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("reopened by"),
    )
    reopened_at = models.DateTimeField(auto_now_add=True, verbose_name=_("reopened at"))

    class Meta:
        verbose_name = _("statement reopening")
        verbose_name_plural = _("statement reopenings")
        ordering = ["statement", "reopened_at", "id"]

    def __str__(self) -> str:
        return f"{self.statement} reopened on {self.reopened_at:%Y-%m-%d}"


class StatementVersionSource(models.TextChoices):
    WORKBOOK = "workbook", _("Workbook")
    API = "api", _("API")


class StatementVersion(models.Model):
    """One content of a statement as it was sent: a workbook uploaded (the file itself, the body
    read from it, the cell each field and row came from, its language) or a body written through
    the API (created or changed), with who sent it and when. Numbered 1, 2, ... per statement and
    never changed; the statement's own history (django-simple-history) keeps its other changes."""

    statement = models.ForeignKey(
        QuarterlyStatement, on_delete=models.CASCADE, related_name="versions", verbose_name=_("statement"),
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    source = models.CharField(max_length=10, choices=StatementVersionSource.choices, verbose_name=_("source"))
    body = models.JSONField(
        default=dict, help_text=_("The statement as sent, in the API's body shape."), verbose_name=_("body"),
    )
    cells = models.JSONField(
        default=dict, blank=True,
        help_text=_('For a workbook: the cell each field and row was read from ("expenditures.0.amount": '
                    '"Dépenses!D2").'),
        verbose_name=_("cells"),
    )
    lang = models.CharField(max_length=2, blank=True, verbose_name=_("language"))
    file = models.BinaryField(null=True, blank=True, editable=False, verbose_name=_("file"))
    file_name = models.CharField(max_length=255, blank=True, verbose_name=_("file name"))
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("sent by"),
    )
    sent_at = models.DateTimeField(auto_now_add=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("statement version")
        verbose_name_plural = _("statement versions")
        ordering = ["statement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "number"], name="statement_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.statement} version {self.number}"
