"""Writes on transfers and expenditures. Keyword-only; each takes Money and refuses anything else.

Every write that can move a conversion recomputes the stored EUR values it touches in the same
transaction (``expenditures.fx``), so that stored values are always what the grant's method says.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from moneyed import Money

from budget.models import BudgetLine
from expenditures import fx, lifecycle
from expenditures.fields import DESCRIPTION_MAX_LENGTH, VOUCHER_MAX_LENGTH
from expenditures.models import Expenditure, ExpenditureStatus, FundTransfer
from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.models import Grant, Location, Partner
from grants.money import EUR, XOF, validate_money
from grants.periods import check_in_bounds, quarter_of
from grants.validation import as_application_error

EXPENDITURE_FIELDS = ("budget_line", "location", "date", "amount", "voucher", "description")
TRANSFER_CHANGED = "revaluation (transfer changed)"  # the reason on the expenditures' history rows


def _problem(error: ApplicationError) -> list[dict]:
    return list(error.errors)


def expenditure_problems(*, grant: Grant | None = None, partner: Partner | None = None,
                         budget_line: BudgetLine | None = None, amount: Money | None = None,
                         date: date | None = None, voucher: str | None = None,
                         exclude_pk: int | None = None) -> list[dict]:
    """Every rule an expenditure with these fields breaks, all at once: ``[{"code", "detail",
    "attr"}]``, empty when none. A rule whose fields are not given (None) is not checked, so that
    a request whose other fields are malformed still hears about these."""
    problems: list[dict] = []
    if amount is not None:
        try:
            with as_application_error():
                validate_money(amount, "amount", allow_zero=False)
        except ApplicationError as error:
            problems += _problem(error)
    if grant is not None and date is not None and not grant.covers(date):
        problems.append({"code": ErrorCode.DATE_OUTSIDE_GRANT.value, "attr": "date", "detail": _(
            "%(date)s is outside the grant (%(start_date)s to %(end_date)s).") % {
            "date": date.isoformat(), "start_date": grant.start_date.isoformat(),
            "end_date": grant.end_date.isoformat()}})
    partner_on_grant = None
    if grant is not None and partner is not None:
        partner_on_grant = grant.partners.filter(pk=partner.pk).exists()
        if not partner_on_grant:
            problems.append({"code": ErrorCode.PARTNER_NOT_ON_GRANT.value, "attr": "partner", "detail": _(
                "%(partner)s is not a partner of %(grant)s.") % {"partner": partner.code, "grant": grant.code}})
    if grant is not None and budget_line is not None:
        if budget_line.grant_id != grant.pk:
            problems.append({"code": ErrorCode.UNKNOWN_BUDGET_LINE.value, "attr": "budget_line", "detail": _(
                "%(line)s is not a line of %(grant)s's budget.") % {"line": budget_line.code, "grant": grant.code}})
        elif budget_line.is_heading:
            problems.append({"code": ErrorCode.HEADING_NOT_A_LINE.value, "attr": "budget_line", "detail": _(
                "%(line)s is a heading: spend on one of its lines.") % {"line": budget_line.code}})
        elif partner_on_grant:
            try:
                lifecycle.check_allocated(grant=grant, partner=partner, budget_line=budget_line)
            except ApplicationError as error:
                problems += _problem(error)
    if voucher is not None:
        if not voucher.strip():
            problems.append({"code": ErrorCode.REQUIRED.value, "attr": "voucher",
                             "detail": _("A voucher reference is required.")})
        elif partner is not None:
            clash = Expenditure.objects.filter(partner_id=partner.pk, voucher=voucher)
            if exclude_pk:
                clash = clash.exclude(pk=exclude_pk)
            if clash.exists():
                problems.append({"code": ErrorCode.DUPLICATE_VOUCHER.value, "attr": "voucher", "detail": _(
                    "%(partner)s already used voucher %(voucher)s.") % {"partner": partner.code, "voucher": voucher}})
    return problems


def _check_expenditure(exp: Expenditure) -> None:
    """Every rule an expenditure must meet before it is written: one ApplicationError listing
    every problem (``expenditure_problems``)."""
    problems = expenditure_problems(grant=exp.grant, partner=exp.partner, budget_line=exp.budget_line,
                                    amount=exp.amount, date=exp.date, voucher=exp.voucher or "",
                                    exclude_pk=exp.pk)
    if problems:
        first = problems[0]
        raise ApplicationError(first["detail"], code=first["code"], attr=first["attr"], errors=problems)


def _save(exp: Expenditure) -> None:
    try:
        with transaction.atomic():
            exp.save()
    except IntegrityError as exc:  # a concurrent writer took the voucher between check and save
        if "voucher" in str(exc):
            raise ApplicationError(_("%(partner)s already used voucher %(voucher)s.") % {
                "partner": exp.partner.code, "voucher": exp.voucher},
                                   code=ErrorCode.DUPLICATE_VOUCHER, attr="voucher") from exc
        raise


@transaction.atomic
def expenditure_record(*, grant: Grant, partner: Partner, budget_line: BudgetLine,
                       location: Location, amount: Money, date: date, voucher: str,
                       description: str = "", status: str | None = None, statement=None,
                       adjusts: Expenditure | None = None, adjustment_reason: str = "",
                       by=None) -> Expenditure:
    """Record one expenditure and store its EUR value at the grant's method.

    ``status``: by default ``validated`` for a finance officer (or the system, ``by`` None) and
    ``submitted`` for a partner member, who records only for its own partner (``expenditures.lifecycle``).
    Raises ``ApplicationError`` for bad input (the field in ``attr``), ``PermissionRefused`` (403)
    for an actor who may not, and ``PeriodLocked`` (409) when the partner's quarter of ``date``
    is locked.
    """
    if not isinstance(amount, Money):
        raise ApplicationError(_("An amount must carry its currency."),
                               code=ErrorCode.CURRENCY_MISSING, attr="amount_currency")
    lifecycle.check_expenditure_actor(by=by, partner=partner)
    status = lifecycle.expenditure_status_on_create(by=by, status=status)
    exp = Expenditure(grant=grant, partner=partner, budget_line=budget_line, location=location,
                      amount=amount, date=date, voucher=voucher, description=description,
                      status=status, statement=statement, adjusts=adjusts,
                      adjustment_reason=adjustment_reason, entered_by=by)
    _check_expenditure(exp)
    lifecycle.check_quarters_open(grant=grant, partner=partner, days=[date])
    fx.apply_conversion(exp)
    _save(exp)
    if fx.after_partner_change(grant=grant, partner=partner, by=by).count:
        exp.refresh_from_db(fields=fx.STORED_FIELDS)  # settled by the revaluation
    return exp


def _lock_for_write(expenditure: Expenditure, *, by, changes: dict | None) -> Expenditure:
    """The row, locked after the statements of its quarters (the lock order), once ``by`` may
    write it: the old and the new quarter open, the row's own state allowing it."""
    first = Expenditure.objects.select_related("grant", "partner").get(pk=expenditure.pk)
    days = [first.date, (changes or {}).get("date") or first.date]
    lifecycle.check_quarters_open(grant=first.grant, partner=first.partner, days=days,
                                  statement_ids=[first.statement_id])
    exp = (Expenditure.objects.select_for_update(of=("self",))
           .select_related("grant", "partner", "statement", "budget_line").get(pk=first.pk))
    if (exp.date, exp.statement_id) != (first.date, first.statement_id):
        raise Conflict(_("Another change to this expenditure ran at the same time: try again."),
                       code=ErrorCode.RETRY)
    lifecycle.check_expenditure_writable(by=by, expenditure=exp, changes=changes)
    return exp


@transaction.atomic
def expenditure_update(*, expenditure: Expenditure, by=None, **changes) -> Expenditure:
    """Change an expenditure's fields, as ``expenditures.lifecycle`` allows ``by``: neither its
    old nor its new quarter may be locked; it never moves to another grant or partner."""
    exp = _lock_for_write(expenditure, by=by, changes=changes)
    for name in ("grant", "partner"):  # the same grant or partner, named again: nothing to change
        changes.pop(name, None)
    unknown = set(changes) - set(EXPENDITURE_FIELDS) - {"status", "statement"}
    if unknown:
        raise ApplicationError(_("Cannot change %(values)s.") % {
            "values": ', '.join(sorted(unknown))}, attr=sorted(unknown)[0])
    for name, value in changes.items():
        setattr(exp, name, value)
    _check_expenditure(exp)
    fx.apply_conversion(exp)
    _save(exp)
    if fx.after_partner_change(grant=exp.grant, partner=exp.partner, by=by).count:
        exp.refresh_from_db(fields=fx.STORED_FIELDS)  # settled by the revaluation
    return exp


@transaction.atomic
def expenditure_delete(*, expenditure: Expenditure, by=None) -> None:
    exp = _lock_for_write(expenditure, by=by, changes=None)
    grant, partner = exp.grant, exp.partner
    exp.delete()
    fx.after_partner_change(grant=grant, partner=partner)


def _adjustment_voucher(original: Expenditure, kind: str, number: int) -> str:
    """A voucher of an adjustment: the original's, then ~R<n> (reversal) or ~C<n> (its
    replacement), the original's cut so that the whole fits the column."""
    suffix = f"~{kind}{number}"
    return original.voucher[:VOUCHER_MAX_LENGTH - len(suffix)] + suffix


@transaction.atomic
def expenditure_adjust(*, expenditure: Expenditure, date: date, reason: str, by=None,
                       amount: Money | None = None, budget_line: BudgetLine | None = None,
                       location: Location | None = None, description: str | None = None
                       ) -> tuple[Expenditure, Expenditure | None]:
    """Correct a row of a locked quarter from an open one, as accountants do (finance only).

    Writes a reversal dated ``date``: the row's amount negated, at the EUR it was accepted with
    (its EUR never moves), and, when ``amount``, ``budget_line`` or ``location`` is given, a
    replacement with the corrected values, converted like any expenditure. Both name the row they
    correct (``adjusts``) and the reason. Answers (reversal, replacement or None).

    Raises ``PermissionRefused`` for anyone but finance, ``Conflict`` (``quarter_open``) when the
    row's quarter is open (change the row itself), ``PeriodLocked`` when ``date``'s quarter is
    locked, ``ApplicationError`` for a missing reason or a date outside the grant.
    """
    lifecycle.require_finance(by, what=_("record an adjustment"))
    if not reason or not str(reason).strip():
        raise ApplicationError(_("Say why the expenditure is corrected."), code=ErrorCode.REQUIRED, attr="reason")
    original = Expenditure.objects.select_related("grant", "partner", "budget_line", "location").get(
        pk=expenditure.pk)
    grant, partner = original.grant, original.partner
    if original.adjusts_id is not None and original.amount.amount < 0:
        raise Conflict(_("A reversal is not corrected: adjust the row it reverses."),
                       code=ErrorCode.REVERSAL_FIXED, attr="id")
    if not grant.covers(date):
        raise ApplicationError(
            _("%(date)s is outside the grant (%(start_date)s to %(end_date)s).") % {
                "date": date.isoformat(), "start_date": grant.start_date.isoformat(),
                "end_date": grant.end_date.isoformat()}, code=ErrorCode.DATE_OUTSIDE_GRANT, attr="date")
    locked = lifecycle.lock_quarters(grant_id=grant.pk, partner_id=partner.pk, days=[original.date, date])
    if quarter_of(original.date) not in locked:
        raise Conflict(_("This expenditure's quarter is open: change the expenditure itself."),
                       code=ErrorCode.QUARTER_OPEN, attr="id")
    lifecycle.refuse_locked(partner, {quarter_of(date)} & locked)
    number = original.adjustments.filter(amount__lt=0).count() + 1
    reversal = Expenditure(
        grant=grant, partner=partner, budget_line=original.budget_line, location=original.location, date=date,
        amount=Money(-original.amount.amount, original.amount.currency), amount_eur=-original.amount_eur,
        fx_rate=original.fx_rate, fx_method=original.fx_method, rate_missing=original.rate_missing,
        voucher=_adjustment_voucher(original, "R", number),
        description=(_("Reversal of %(voucher)s") % {"voucher": original.voucher})[:DESCRIPTION_MAX_LENGTH],
        status=ExpenditureStatus.VALIDATED, adjusts=original, adjustment_reason=str(reason)[:300], entered_by=by)
    _save(reversal)
    replacement = None
    if amount is not None or budget_line is not None or location is not None:
        replacement = expenditure_record(
            grant=grant, partner=partner, budget_line=budget_line or original.budget_line,
            location=location or original.location, amount=amount if amount is not None else original.amount,
            date=date, voucher=_adjustment_voucher(original, "C", number),
            description=description if description is not None else original.description,
            status=ExpenditureStatus.VALIDATED, adjusts=original, adjustment_reason=str(reason)[:300], by=by)
    else:
        fx.after_partner_change(grant=grant, partner=partner)
    return reversal, replacement


def _check_transfer(transfer: FundTransfer) -> None:
    with as_application_error():
        validate_money(transfer.amount_sent, "amount_sent", allow_zero=False)
        validate_money(transfer.amount_received, "amount_received")
        validate_money(transfer.fees, "fees")
    if str(transfer.amount_sent.currency) != EUR:
        raise ApplicationError(_("Transfers are sent in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="amount_sent_currency")
    if str(transfer.amount_received.currency) != XOF and transfer.partner.reporting_currency == XOF:
        raise ApplicationError(_("%(partner)s is credited in XOF.") % {"partner": transfer.partner.code},
                               code=ErrorCode.CURRENCY_NOT_ALLOWED, attr="amount_received_currency")
    grant = transfer.grant
    if not grant.partners.filter(pk=transfer.partner_id).exists():
        raise ApplicationError(_("%(partner)s is not a partner of %(grant)s.") % {
            "partner": transfer.partner.code, "grant": grant.code},
                               code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    for field in ("sent_on", "received_on"):
        day = getattr(transfer, field)
        if day is not None:
            check_in_bounds(day, attr=field)
        # A transfer may precede the grant's start by a little (advance), but not its end.
        if day is not None and day > grant.end_date:
            raise ApplicationError(_("%(day)s is after the grant's end.") % {"day": day.isoformat()},
                                   code=ErrorCode.DATE_OUTSIDE_GRANT, attr=field)
    if transfer.received_on and transfer.received_on < transfer.sent_on:
        raise ApplicationError(_("A transfer is received on or after the day it was sent."),
                               code=ErrorCode.INVALID, attr="received_on")


@transaction.atomic
def transfer_record(*, grant: Grant, partner: Partner, sent_on: date, amount_sent: Money,
                    amount_received: Money, received_on: date | None = None,
                    fees: Money | None = None, reference: str = "", note: str = "",
                    by=None) -> FundTransfer:
    """Record EUR sent to a partner and the XOF its bank credited; revalues its open quarters.
    Finance only; never to the lead organisation nor received in a locked quarter (409)."""
    lifecycle.require_finance(by, what=_("record a transfer"))
    transfer = FundTransfer(
        grant=grant, partner=partner, sent_on=sent_on, received_on=received_on,
        amount_sent=amount_sent, amount_received=amount_received,
        fees=fees if fees is not None else Money(0, EUR), reference=reference, note=note,
        entered_by=by,
    )
    lifecycle.check_transfer_target(transfer)
    _check_transfer(transfer)
    lifecycle.check_transfer_quarters_open(grant_id=grant.pk, partner=partner, received_on=received_on)
    transfer.save()
    transfer.revaluation = fx.after_partner_change(grant=grant, partner=partner, reason=TRANSFER_CHANGED)
    return transfer


@transaction.atomic
def transfer_update(*, transfer: FundTransfer, by=None, **changes) -> FundTransfer:
    """Change a transfer (finance only) that belongs to no locked quarter, and come to belong to
    none; its reference and note may always change. Revalues the open quarters it moves."""
    lifecycle.require_finance(by, what=_("change a transfer"))
    stored = FundTransfer.objects.select_related("grant", "partner").get(pk=transfer.pk)
    lifecycle.check_transfer_quarters_open(
        grant_id=stored.grant_id, partner=changes.get("partner", stored.partner),
        received_on=changes.get("received_on", stored.received_on), stored=stored, changes=changes)
    transfer = FundTransfer.objects.select_for_update(of=("self",)).select_related("grant", "partner").get(
        pk=stored.pk)
    previous_partner = transfer.partner
    for name, value in changes.items():
        setattr(transfer, name, value)
    lifecycle.check_transfer_target(transfer)
    _check_transfer(transfer)
    transfer.save()
    transfer.revaluation = fx.Revaluation()  # what the change moved in open quarters: shown by the API
    if set(changes) <= lifecycle.TRANSFER_NOTES:
        return transfer
    grant = transfer.grant
    transfer.revaluation = fx.after_partner_change(grant=grant, partner=transfer.partner, reason=TRANSFER_CHANGED)
    if previous_partner.pk != transfer.partner_id:
        transfer.revaluation += fx.after_partner_change(grant=grant, partner=previous_partner, reason=TRANSFER_CHANGED)
    return transfer


@transaction.atomic
def transfer_delete(*, transfer: FundTransfer, by=None) -> fx.Revaluation:
    """Delete a transfer (finance only) that belongs to no locked quarter."""
    lifecycle.require_finance(by, what=_("delete a transfer"))
    stored = FundTransfer.objects.select_related("grant", "partner").get(pk=transfer.pk)
    lifecycle.check_transfer_quarters_open(grant_id=stored.grant_id, partner=stored.partner, received_on=None,
                                           stored=stored)
    grant, partner = stored.grant, stored.partner
    stored.delete()
    return fx.after_partner_change(grant=grant, partner=partner, reason=TRANSFER_CHANGED)


@transaction.atomic
def exchange_rate_record(*, currency: str, rate, month=None, source: str, by=None):
    """Add a rate to the table (finance only); the open quarters of the grants it converts are
    revalued, accepted quarters keep their EUR."""
    from expenditures.models import ExchangeRate

    lifecycle.require_finance(by, what=_("change the rate table"))
    if month is not None:
        check_in_bounds(month, attr="month")
    if ExchangeRate.objects.filter(currency=currency, month=month).exists():
        raise ApplicationError("This currency already has a rate for that month." if month else
                               "This currency already has a standing rate.", code=ErrorCode.UNIQUE, attr="month")
    record = ExchangeRate.objects.create(currency=currency, rate=rate, month=month, source=source)
    record.revaluation = fx.after_rate_change(month=month)
    return record


@transaction.atomic
def exchange_rate_update(*, rate, by=None, **fields):
    """Change a rate (``rate`` is the ExchangeRate record; finance only); both the month it leaves
    and the month it comes to are revalued, in open quarters only."""
    from expenditures.models import ExchangeRate

    lifecycle.require_finance(by, what=_("change the rate table"))
    previous_month = rate.month
    for name, value in fields.items():
        setattr(rate, name, value)
    if rate.month is not None:
        check_in_bounds(rate.month, attr="month")
    clash = ExchangeRate.objects.filter(currency=rate.currency, month=rate.month).exclude(pk=rate.pk)
    if clash.exists():
        raise ApplicationError(_("This currency already has a rate for that month."), code=ErrorCode.UNIQUE,
                               attr="month")
    rate.save()
    rate.revaluation = fx.after_rate_change(month=rate.month)
    if previous_month != rate.month:
        rate.revaluation += fx.after_rate_change(month=previous_month)
    return rate


@transaction.atomic
def exchange_rate_delete(*, rate, by=None) -> fx.Revaluation:
    lifecycle.require_finance(by, what=_("change the rate table"))
    if lifecycle.is_standing_rate(rate):
        raise Conflict(_("The standing rate (the parity) cannot be deleted."), code=ErrorCode.IN_USE, attr="month")
    month = rate.month
    rate.delete()
    return fx.after_rate_change(month=month)
