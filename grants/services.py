"""Writes on grants, partners, locations and donors. Every function is keyword-only."""

from __future__ import annotations

from decimal import Decimal

from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.utils.translation import gettext as _
from moneyed import Money

from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.iati import normalised_sectors
from grants.models import Donor, DonorPayment, Grant, GrantDonor, Partner
from grants.money import EUR, validate_money
from grants.periods import check_grant_span
from grants.roles import require_finance
from grants.validation import as_application_error

HUNDRED = Decimal("100")
# What a finance officer sets on a grant for its IATI activity (reports.iati).
IATI_FIELDS = ("title_en", "description_fr", "description_en", "iati_org_ref", "iati_identifier",
               "iati_activity_status", "dac_sectors")


@transaction.atomic
def grant_create(*, code: str, title: str, total: Money, start_date, end_date,
                 fx_method: str = "parity", variance_tolerance_pct: Decimal = Decimal("10"),
                 reallocation_limit_pct: Decimal = Decimal("25"), partners: list[Partner] = (),
                 donor_shares: list[tuple[Donor, Decimal]] = (), notes: str = "", by=None,
                 **iati) -> Grant:
    """Create a grant. ``iati``: its IATI fields (``IATI_FIELDS``: English title, descriptions,
    organisation and activity identifiers, activity status, DAC sectors; ``grants.iati``'s rules)."""
    require_finance(by, what=_("create a grant"))
    unknown = set(iati) - set(IATI_FIELDS)
    if unknown:
        raise TypeError(f"grant_create() got unexpected keyword arguments {sorted(unknown)}")
    if Grant.objects.filter(code=code).exists():
        raise ApplicationError(_("Grant %(code)s exists already.") % {"code": code}, code=ErrorCode.UNIQUE,
                               attr="code")
    grant = Grant(
        code=code, title=title, total=total, start_date=start_date, end_date=end_date,
        fx_method=fx_method, variance_tolerance_pct=variance_tolerance_pct,
        reallocation_limit_pct=reallocation_limit_pct, notes=notes, **iati,
    )
    _validate_grant(grant)
    grant.save()
    grant.partners.set(partners)
    if donor_shares:
        grant_set_donors(grant=grant, donor_shares=donor_shares)
    return grant


@transaction.atomic
def grant_update(*, grant: Grant, partners: list[Partner] | None = None,
                 donor_shares: list[tuple[Donor, Decimal]] | None = None, by=None, **fields) -> Grant:
    """Change a grant. What the ledger already stands on cannot move here (409): the total once
    a budget is approved (a revised total needs a new budget), the dates past recorded money,
    and the conversion method once money is converted (``grants/{code}/revalue/`` switches it
    and revalues in the same transaction). Its code never changes: every URL names it."""
    require_finance(by, what=_("change a grant"))
    if "code" in fields and fields["code"] != grant.code:
        raise ApplicationError(_("A grant's code cannot change."), code=ErrorCode.IMMUTABLE, attr="code")
    _check_settled_fields(grant, fields)
    for name, value in fields.items():
        setattr(grant, name, value)
    _validate_grant(grant)
    if partners is not None:
        _check_partners_removable(grant, partners)
    grant.save()
    if partners is not None:
        grant.partners.set(partners)
    if donor_shares is not None:
        grant_set_donors(grant=grant, donor_shares=donor_shares)
    return grant


def _check_settled_fields(grant: Grant, fields: dict) -> None:
    if "total" in fields and fields["total"] != grant.total and grant.versions.exclude(status="draft").exists():
        raise Conflict(_("The grant has an approved budget: its total cannot change here."), code=ErrorCode.IN_USE,
                       attr="total")
    if "fx_method" in fields and fields["fx_method"] != grant.fx_method and grant.expenditures.exists():
        raise Conflict(_("Expenditures are converted at this method: switch it with revalue."),
                       code=ErrorCode.USE_REVALUE, attr="fx_method")
    start, end = fields.get("start_date", grant.start_date), fields.get("end_date", grant.end_date)
    if (start, end) != (grant.start_date, grant.end_date):
        from django.db.models import Q

        outside = Q(date__lt=start) | Q(date__gt=end)
        if grant.expenditures.filter(outside).exists():
            raise Conflict(_("Expenditures are recorded outside these dates."), code=ErrorCode.IN_USE,
                           attr="start_date" if start != grant.start_date else "end_date")


@transaction.atomic
def grant_set_donors(*, grant: Grant, donor_shares: list[tuple[Donor, Decimal]]) -> None:
    """Replace the grant's donors. The shares must add up to exactly 100 %."""
    total = sum((Decimal(share) for _, share in donor_shares), Decimal("0"))
    if donor_shares and total != HUNDRED:
        raise ApplicationError(
            _("Donor shares add up to %(total)s %%, not 100 %%.") % {"total": total}, code=ErrorCode.SHARES_NOT_100,
            attr="donors",
        )
    donors = [donor.pk for donor, _ in donor_shares]
    if len(set(donors)) != len(donors):
        raise ApplicationError(_("A donor is listed twice."), code=ErrorCode.INVALID, attr="donors")
    GrantDonor.objects.filter(grant=grant).delete()
    for donor, share in donor_shares:
        GrantDonor.objects.create(grant=grant, donor=donor, share_pct=Decimal(share))


def _check_partners_removable(grant: Grant, partners: list[Partner]) -> None:
    """A partner leaves a grant only if nothing of it is recorded there: no allocation in any
    version, no transfer, expenditure or statement (they would lose their partner). Reverse
    relations only: this module does not import the apps above it."""
    keep = {partner.pk for partner in partners}
    for partner in grant.partners.exclude(pk__in=keep):
        in_use = grant.versions.filter(allocations__partner=partner).exists() or any(
            getattr(grant, name).filter(partner=partner).exists()
            for name in ("transfers", "expenditures", "statements") if hasattr(grant, name)
        )
        if in_use:
            raise Conflict(_("%(partner)s has a budget or money recorded on %(grant)s: it stays a partner.") % {
                "partner": partner.code, "grant": grant.code},
                           code=ErrorCode.IN_USE, attr="partners")


def _validate_grant(grant: Grant) -> None:
    grant.dac_sectors = normalised_sectors(grant.dac_sectors)
    with as_application_error():
        validate_money(grant.total, "total")
    if str(grant.total.currency) != EUR:
        raise ApplicationError(_("A grant's total is in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="total")
    if grant.start_date and grant.end_date and grant.start_date >= grant.end_date:
        raise ApplicationError(_("A grant starts before it ends."), code=ErrorCode.INVALID,
                               attr="end_date")
    if grant.start_date and grant.end_date:
        check_grant_span(grant.start_date, grant.end_date)
    with as_application_error():
        grant.full_clean(exclude=["partners", "donors"], validate_unique=True)


@transaction.atomic
def grant_delete(*, grant: Grant, by=None) -> None:
    """Delete a grant that nothing has happened on yet (no approved budget, no money moved)."""
    require_finance(by, what=_("delete a grant"))
    in_use = any(
        getattr(grant, name).exists() for name in ("expenditures", "transfers", "statements")
        if hasattr(grant, name)
    ) or grant.versions.exclude(status="draft").exists()
    if in_use:
        raise Conflict(_("This grant has an approved budget or money recorded: it cannot be deleted."),
                       code=ErrorCode.IN_USE)
    try:
        grant.delete()
    except ProtectedError as exc:
        raise Conflict(_("Other records depend on this grant."), code=ErrorCode.IN_USE) from exc


# --- reference records: partners, locations, donors ---------------------------------------------

def reference_create(*, model: type[models.Model], by=None, **fields) -> models.Model:
    """A partner, a location or a donor (finance officers)."""
    require_finance(by, what=_("change the reference records"))
    record = model(**fields)
    with as_application_error():
        record.full_clean()
    record.save()
    return record


def reference_update(*, record: models.Model, by=None, **fields) -> models.Model:
    require_finance(by, what=_("change the reference records"))
    for name, value in fields.items():
        setattr(record, name, value)
    with as_application_error():
        record.full_clean()
    record.save()
    return record


@transaction.atomic
def reference_delete(*, record: models.Model, by=None) -> None:
    """Delete a partner, a location or a donor that no record names (409 ``in_use`` otherwise)."""
    require_finance(by, what=_("change the reference records"))
    try:
        with transaction.atomic():
            record.delete()
    except ProtectedError as exc:
        raise Conflict(_("Other records depend on this one: it cannot be deleted."), code=ErrorCode.IN_USE) from exc


# --- donors' payments (IATI's incoming funds) -----------------------------------------------------

DONOR_PAYMENT_FIELDS = ("donor", "received_on", "amount", "reference", "note")


@transaction.atomic
def donor_payment_record(*, grant: Grant, donor: Donor, received_on, amount: Money, reference: str = "",
                         note: str = "", by=None) -> DonorPayment:
    """Record money a donor of ``grant`` paid for it (finance only)."""
    require_finance(by, what=_("record a donor's payment"))
    payment = DonorPayment(grant=grant, donor=donor, received_on=received_on, amount=amount,
                           reference=reference, note=note)
    _validate_donor_payment(payment)
    payment.save()
    return payment


@transaction.atomic
def donor_payment_update(*, payment: DonorPayment, by=None, **changes) -> DonorPayment:
    require_finance(by, what=_("record a donor's payment"))
    if "grant" in changes and changes["grant"] != payment.grant:
        raise ApplicationError(_("A payment stays on its grant."), code=ErrorCode.IMMUTABLE, attr="grant")
    for name, value in changes.items():
        setattr(payment, name, value)
    _validate_donor_payment(payment)
    payment.save()
    return payment


def donor_payment_delete(*, payment: DonorPayment, by=None) -> None:
    require_finance(by, what=_("record a donor's payment"))
    payment.delete()


def _validate_donor_payment(payment: DonorPayment) -> None:
    with as_application_error():
        validate_money(payment.amount, "amount", allow_zero=False)
    if str(payment.amount.currency) != EUR:
        raise ApplicationError(_("A donor's payment is in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="amount_currency")
    if not GrantDonor.objects.filter(grant=payment.grant, donor=payment.donor).exists():
        raise ApplicationError(_("%(donor)s does not fund %(grant)s.") % {
            "donor": payment.donor.code, "grant": payment.grant.code}, code=ErrorCode.UNKNOWN_DONOR, attr="donor")
    with as_application_error():
        payment.full_clean()
