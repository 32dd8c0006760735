"""Writes on transfers and expenditures. Keyword-only; each takes Money and refuses anything else.

Every write that can move a conversion recomputes the stored EUR values it touches in the same
transaction (``expenditures.fx``), so that stored values are always what the grant's method says.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from moneyed import Money

from budget.models import BudgetLine
from expenditures import fx
from expenditures.models import Expenditure, ExpenditureStatus, FundTransfer
from expenditures.selectors import quarter_is_locked
from grants.errors import ApplicationError, Conflict, ErrorCode, PeriodLocked
from grants.models import Grant, Location, Partner
from grants.money import EUR, XOF, validate_money
from grants.validation import as_application_error

EXPENDITURE_FIELDS = ("budget_line", "location", "date", "amount", "voucher", "description")


def _check_locked(grant: Grant, partner: Partner, day: date) -> None:
    if quarter_is_locked(grant_id=grant.pk, partner_id=partner.pk, day=day, for_update=True):
        raise PeriodLocked(
            f"{partner.code}'s quarter of {day.isoformat()} is locked by an accepted statement; "
            "enter corrections in an open quarter.",
            attr="date",
        )


def _check_expenditure(exp: Expenditure) -> None:
    """Every rule an expenditure must meet before it is written. Raises ApplicationError."""
    grant = exp.grant
    with as_application_error():
        validate_money(exp.amount, "amount", allow_zero=False)
    if not grant.covers(exp.date):
        raise ApplicationError(
            f"{exp.date.isoformat()} is outside the grant ({grant.start_date.isoformat()} to "
            f"{grant.end_date.isoformat()}).",
            code=ErrorCode.DATE_OUTSIDE_GRANT, attr="date",
        )
    if not grant.partners.filter(pk=exp.partner_id).exists():
        raise ApplicationError(f"{exp.partner.code} is not a partner of {grant.code}.",
                               code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    line: BudgetLine = exp.budget_line
    if line.grant_id != grant.pk:
        raise ApplicationError(f"{line.code} is not a line of {grant.code}'s budget.",
                               code=ErrorCode.UNKNOWN_BUDGET_LINE, attr="budget_line")
    if line.is_heading:
        raise ApplicationError(f"{line.code} is a heading: spend on one of its lines.",
                               code=ErrorCode.HEADING_NOT_A_LINE, attr="budget_line")
    if not exp.voucher or not exp.voucher.strip():
        raise ApplicationError("A voucher reference is required.", code=ErrorCode.REQUIRED,
                               attr="voucher")
    clash = Expenditure.objects.filter(partner_id=exp.partner_id, voucher=exp.voucher)
    if exp.pk:
        clash = clash.exclude(pk=exp.pk)
    if clash.exists():
        raise ApplicationError(f"{exp.partner.code} already used voucher {exp.voucher}.",
                               code=ErrorCode.DUPLICATE_VOUCHER, attr="voucher")


def _save(exp: Expenditure) -> None:
    try:
        with transaction.atomic():
            exp.save()
    except IntegrityError as exc:  # a concurrent writer took the voucher between check and save
        if "voucher" in str(exc):
            raise ApplicationError(f"{exp.partner.code} already used voucher {exp.voucher}.",
                                   code=ErrorCode.DUPLICATE_VOUCHER, attr="voucher") from exc
        raise


@transaction.atomic
def expenditure_record(*, grant: Grant, partner: Partner, budget_line: BudgetLine,
                       location: Location, amount: Money, date: date, voucher: str,
                       description: str = "", status: str = ExpenditureStatus.VALIDATED,
                       statement=None, by=None) -> Expenditure:
    """Record one expenditure and store its EUR value at the grant's method.

    Raises ``ApplicationError`` for bad input (the field in ``attr``) and ``PeriodLocked`` (409)
    when the partner's quarter of ``date`` is locked.
    """
    if not isinstance(amount, Money):
        raise ApplicationError("An amount must carry its currency.",
                               code=ErrorCode.CURRENCY_MISSING, attr="amount_currency")
    exp = Expenditure(grant=grant, partner=partner, budget_line=budget_line, location=location,
                      amount=amount, date=date, voucher=voucher, description=description,
                      status=status, statement=statement, entered_by=by)
    _check_expenditure(exp)
    _check_locked(grant, partner, date)
    fx.apply_conversion(exp)
    _save(exp)
    if fx.after_expenditure_change(grant=grant, partner=partner, by=by).count:
        exp.refresh_from_db(fields=fx.STORED_FIELDS)  # settled by the revaluation
    return exp


@transaction.atomic
def expenditure_update(*, expenditure: Expenditure, by=None, **changes) -> Expenditure:
    """Change an expenditure's fields. Neither its old nor its new date may be locked."""
    unknown = set(changes) - set(EXPENDITURE_FIELDS) - {"status", "statement"}
    if unknown:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))}.", attr=sorted(unknown)[0])
    exp = Expenditure.objects.select_for_update().get(pk=expenditure.pk)
    _check_locked(exp.grant, exp.partner, exp.date)
    for name, value in changes.items():
        setattr(exp, name, value)
    _check_expenditure(exp)
    _check_locked(exp.grant, exp.partner, exp.date)
    fx.apply_conversion(exp)
    _save(exp)
    if fx.after_expenditure_change(grant=exp.grant, partner=exp.partner, by=by).count:
        exp.refresh_from_db(fields=fx.STORED_FIELDS)  # settled by the revaluation
    return exp


@transaction.atomic
def expenditure_delete(*, expenditure: Expenditure, by=None) -> None:
    exp = Expenditure.objects.select_for_update().get(pk=expenditure.pk)
    _check_locked(exp.grant, exp.partner, exp.date)
    grant, partner = exp.grant, exp.partner
    exp.delete()
    fx.after_expenditure_change(grant=grant, partner=partner)


def _check_transfer(transfer: FundTransfer) -> None:
    with as_application_error():
        validate_money(transfer.amount_sent, "amount_sent", allow_zero=False)
        validate_money(transfer.amount_received, "amount_received")
        validate_money(transfer.fees, "fees")
    if str(transfer.amount_sent.currency) != EUR:
        raise ApplicationError("Transfers are sent in EUR.", code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="amount_sent_currency")
    if str(transfer.amount_received.currency) != XOF and transfer.partner.reporting_currency == XOF:
        raise ApplicationError(f"{transfer.partner.code} is credited in XOF.",
                               code=ErrorCode.CURRENCY_NOT_ALLOWED, attr="amount_received_currency")
    grant = transfer.grant
    if not grant.partners.filter(pk=transfer.partner_id).exists():
        raise ApplicationError(f"{transfer.partner.code} is not a partner of {grant.code}.",
                               code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    for field in ("sent_on", "received_on"):
        day = getattr(transfer, field)
        # A transfer may precede the grant's start by a little (advance), but not its end.
        if day is not None and day > grant.end_date:
            raise ApplicationError(f"{day.isoformat()} is after the grant's end.",
                                   code=ErrorCode.DATE_OUTSIDE_GRANT, attr=field)
    if transfer.received_on and transfer.received_on < transfer.sent_on:
        raise ApplicationError("A transfer is received on or after the day it was sent.",
                               code=ErrorCode.INVALID, attr="received_on")


@transaction.atomic
def transfer_record(*, grant: Grant, partner: Partner, sent_on: date, amount_sent: Money,
                    amount_received: Money, received_on: date | None = None,
                    fees: Money | None = None, reference: str = "", note: str = "",
                    by=None) -> FundTransfer:
    """Record EUR sent to a partner and the XOF its bank credited; revalues its spending."""
    transfer = FundTransfer(
        grant=grant, partner=partner, sent_on=sent_on, received_on=received_on,
        amount_sent=amount_sent, amount_received=amount_received,
        fees=fees if fees is not None else Money(0, EUR), reference=reference, note=note,
        entered_by=by,
    )
    _check_transfer(transfer)
    transfer.save()
    fx.after_transfer_change(grant=grant, partner=partner)
    return transfer


@transaction.atomic
def transfer_update(*, transfer: FundTransfer, by=None, **changes) -> FundTransfer:
    transfer = FundTransfer.objects.select_for_update().get(pk=transfer.pk)
    previous_partner = transfer.partner
    for name, value in changes.items():
        setattr(transfer, name, value)
    _check_transfer(transfer)
    transfer.save()
    fx.after_transfer_change(grant=transfer.grant, partner=transfer.partner)
    if previous_partner.pk != transfer.partner_id:
        fx.after_transfer_change(grant=transfer.grant, partner=previous_partner)
    return transfer


@transaction.atomic
def transfer_delete(*, transfer: FundTransfer, by=None) -> None:
    grant, partner = transfer.grant, transfer.partner
    transfer.delete()
    fx.after_transfer_change(grant=grant, partner=partner)


@transaction.atomic
def exchange_rate_record(*, currency: str, rate, month=None, source: str, by=None):
    """Add a rate to the table; the grants converting at monthly rates are revalued."""
    from expenditures.models import ExchangeRate

    if ExchangeRate.objects.filter(currency=currency, month=month).exists():
        raise ApplicationError("This currency already has a rate for that month." if month else
                               "This currency already has a standing rate.", code="unique", attr="month")
    record = ExchangeRate.objects.create(currency=currency, rate=rate, month=month, source=source)
    fx.after_rate_change(month=month)
    return record


@transaction.atomic
def exchange_rate_update(*, rate, **fields):
    """Change a rate (``rate`` is the ExchangeRate record); both the month it leaves and the month
    it comes to are revalued."""
    from expenditures.models import ExchangeRate

    previous_month = rate.month
    for name, value in fields.items():
        setattr(rate, name, value)
    clash = ExchangeRate.objects.filter(currency=rate.currency, month=rate.month).exclude(pk=rate.pk)
    if clash.exists():
        raise ApplicationError("This currency already has a rate for that month.", code="unique", attr="month")
    rate.save()
    fx.after_rate_change(month=rate.month)
    if previous_month != rate.month:
        fx.after_rate_change(month=previous_month)
    return rate


@transaction.atomic
def exchange_rate_delete(*, rate) -> None:
    if rate.month is None:
        raise Conflict("The standing rate (the parity) cannot be deleted.", code="in_use", attr="month")
    month = rate.month
    rate.delete()
    fx.after_rate_change(month=month)
