"""The lifecycle of money records: who may create, change, delete or reconvert each, by the
record's state and its quarter's state. Every path (the API, the admin, the XLSX upload, the
management commands, revaluation) reaches these rules through the services, which call the
functions below; views, serializers and admin classes only translate.

Actors: a finance officer (or a superuser), a partner member (acts for its own partner only), a
donor member (reads only), and the system (``by=None``: commands, the demo-data generator),
which has the finance officer's rights.

A quarter is a partner's calendar quarter on a grant. It is *locked* while that partner's
statement for it is ``accepted``; a statement that is ``submitted`` *freezes* its own rows for
the partner until finance returns it.

Expenditures
- a partner member: creates for its own partner, on a line allocated to it in the current
  version, in an open quarter, with status ``submitted``; changes or deletes only its own rows
  that finance has not ``validated`` and that are not in a ``submitted`` or ``accepted``
  statement, the old and the new quarter open;
- a finance officer: creates for any partner of the grant (allocated line, open quarter),
  changes or deletes any row whose old and new quarter are open; a row never moves to another
  grant or partner;
- reconversion (EUR, rate, method): only by revaluation (``expenditures.fx``), of open quarters
  only; an accepted quarter keeps the EUR it was accepted with;
- an adjustment (finance only) corrects a row of a locked quarter from an open quarter: a
  reversal, whose EUR is the negative of the reversed row's and never moves, and optionally a
  replacement, an ordinary expenditure.

Transfers (finance only)
- never to the grant's lead organisation; not received in a locked quarter;
- not changed or deleted while they belong to a locked quarter (received in it, or funding any
  of its rows under fifo); their reference and note, which carry no money, may always change.

Exchange rates (finance only): any change revalues the open quarters only.

Statements: a partner member (its own) or finance creates a draft; drafts and returned
statements change; the partner or finance submits; finance accepts or returns; finance reopens
an accepted quarter, with a reason, when it is the partner's latest accepted one.

Budget versions and allocations (``budget.services``): drafts only. Donor decisions
(``budget.revisions``) hold for the exact allocations they saw: any later change to the draft
makes them stale.

Corrections of a locked quarter: an adjustment (``expenditures.services.expenditure_adjust``):
a reversal of the row, dated in an open quarter, at the EUR it was accepted with, and optionally a
replacement with the corrected line, location or amount; or a finance officer reopens the
quarter with a reason (``expenditures.statements.statement_reopen``), which stays on record and
is shown on the statement and in the donor workbook.

Lock order, everywhere: the statements of the quarters concerned (by id), then the rows. Accepting
a statement locks it, then its rows; a write locks the statements of the quarters it touches
before its own row, so the two are serialized and never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Q
from django.utils.translation import gettext as _

from expenditures.models import (
    ExchangeRate,
    Expenditure,
    ExpenditureFunding,
    ExpenditureStatus,
    FundTransfer,
    QuarterlyStatement,
    StatementStatus,
)
from expenditures.selectors import quarter_is_locked
from grants.errors import ApplicationError, Conflict, ErrorCode, PeriodLocked, PermissionRefused
from grants.models import Grant, Partner, PartnerKind
from grants.periods import quarter_label, quarter_of
from grants.roles import actor_of, require_finance  # noqa: F401 (require_finance: the services' one import)

# Fields of a transfer that carry no money: they may change whatever the quarter.
TRANSFER_NOTES = frozenset({"reference", "note"})


# --- quarters ------------------------------------------------------------------------------------

def lock_partner(*, grant_id: int, partner_id: int) -> set[tuple[int, int]]:
    """Take the partner's write locks on the grant, in the one order every write follows: its
    statements (by id), then the partner's own row; answer the accepted quarters.

    Every write that can move a partner's money (its expenditures, its transfers, its statements'
    submission or return, revaluation) takes these before any row of its own, and accepting a
    statement takes its statement before its rows: two writes meet on the first lock and never
    wait for each other in opposite orders (no deadlock)."""
    rows = (QuarterlyStatement.objects.select_for_update().filter(grant_id=grant_id, partner_id=partner_id)
            .order_by("pk").values_list("year", "quarter", "status"))
    accepted = {(year, quarter) for year, quarter, status in rows if status == StatementStatus.ACCEPTED}
    list(Partner.objects.select_for_update().filter(pk=partner_id).values_list("pk", flat=True))
    return accepted


def lock_quarters(*, grant_id: int, partner_id: int, days: Iterable[date | None] = (),
                  statement_ids: Iterable[int | None] = ()) -> set[tuple[int, int]]:
    """Take the partner's write locks (``lock_partner``) and answer which of the quarters of
    ``days`` and of the statements ``statement_ids`` are accepted."""
    accepted = lock_partner(grant_id=grant_id, partner_id=partner_id)
    keys = {quarter_of(day) for day in days if day is not None}
    ids = [pk for pk in statement_ids if pk is not None]
    if ids:
        keys |= set(QuarterlyStatement.objects.filter(pk__in=ids).values_list("year", "quarter"))
    return accepted & keys


def refuse_locked(partner: Partner, quarters: Iterable[tuple[int, int]], *, attr: str = "date") -> None:
    """409 ``period_locked`` naming the quarters, when there are any."""
    names = sorted(quarter_label(year, quarter) for year, quarter in quarters)
    if names:
        raise PeriodLocked(
            _("%(partner)s's quarter %(quarters)s is locked by an accepted statement: record a correction "
              "in an open quarter (an adjustment), or ask a finance officer to reopen it.")
            % {"partner": partner.code, "quarters": ", ".join(names)},
            attr=attr,
        )


def check_quarters_open(*, grant: Grant, partner: Partner, days: Iterable[date | None] = (),
                        statement_ids: Iterable[int | None] = (), attr: str = "date") -> None:
    refuse_locked(partner, lock_quarters(grant_id=grant.pk, partner_id=partner.pk, days=days,
                                         statement_ids=statement_ids), attr=attr)


# --- expenditures --------------------------------------------------------------------------------

def check_allocated(*, grant: Grant, partner: Partner, budget_line, attr: str = "budget_line") -> None:
    """A partner spends only on the lines allocated to it in the grant's current version."""
    from budget.selectors import lines_allocated_to

    if budget_line.pk not in lines_allocated_to(grant=grant, partner=partner):
        raise ApplicationError(
            _("%(partner)s has no budget on line %(code)s.") % {"partner": partner.code, "code": budget_line.code},
            code=ErrorCode.LINE_NOT_ALLOCATED, attr=attr)


def expenditure_status_on_create(*, by, status: str | None) -> str:
    """A partner's expenditure is ``submitted`` (finance validates it); finance's is ``validated``
    unless it says otherwise. A partner cannot record a validated expenditure."""
    actor = actor_of(by)
    if actor.is_finance:
        return status or ExpenditureStatus.VALIDATED
    if actor.kind != "partner":
        raise PermissionRefused(_("Only a finance officer or the partner itself records expenditures."))
    if status not in (None, ExpenditureStatus.SUBMITTED, ExpenditureStatus.DRAFT):
        raise PermissionRefused(_("Only a finance officer validates an expenditure."), attr="status")
    return status or ExpenditureStatus.SUBMITTED


def _check_finance_or_own_partner(*, by, partner: Partner, nobody: str, not_own: str) -> None:
    """Finance writes for any partner; a partner member only for its own (403 ``not_own``); anyone
    else (a donor member) never (403 ``nobody``)."""
    actor = actor_of(by)
    if actor.is_finance:
        return
    if actor.kind != "partner":
        raise PermissionRefused(nobody)
    if actor.partner.pk != partner.pk:
        raise PermissionRefused(not_own, code=ErrorCode.NOT_YOUR_PARTNER, attr="partner")


def check_expenditure_actor(*, by, partner: Partner) -> None:
    """A partner member acts only for its own partner; a donor member never writes."""
    _check_finance_or_own_partner(
        by=by, partner=partner, nobody=_("Only a finance officer or the partner itself records expenditures."),
        not_own=_("A partner records only its own expenditures."))


def check_expenditure_writable(*, by, expenditure: Expenditure, changes: dict | None = None) -> None:
    """May ``by`` change (``changes``) or delete (``changes`` None) ``expenditure``? Checks the
    actor and the row's own state; the quarters are checked under lock by the service."""
    check_expenditure_actor(by=by, partner=expenditure.partner)
    changes = changes or {}
    if "partner" in changes:  # a partner member names only itself
        check_expenditure_actor(by=by, partner=changes["partner"])
    for name in ("grant", "partner"):
        if name in changes and getattr(changes[name], "pk", changes[name]) != getattr(expenditure, f"{name}_id"):
            raise ApplicationError(_("An expenditure cannot move to another %(what)s.") % {"what": name},
                                   code=ErrorCode.IMMUTABLE, attr=name)
    if expenditure.adjusts_id is not None and expenditure.amount.amount < 0:
        raise Conflict(_("A reversal keeps the EUR of the row it reverses: record another adjustment instead."),
                       code=ErrorCode.REVERSAL_FIXED, attr="amount")
    if actor_of(by).is_finance:
        return
    if expenditure.status == ExpenditureStatus.VALIDATED:
        raise Conflict(_("Finance has validated this expenditure: only a finance officer may change it."),
                       code=ErrorCode.EXPENDITURE_VALIDATED, attr="status")
    statement = expenditure.statement
    if statement is not None and statement.status in (StatementStatus.SUBMITTED, StatementStatus.ACCEPTED):
        raise Conflict(_("This expenditure is part of the statement for %(period)s, which is %(status)s: it "
                         "changes only once finance returns the statement.")
                       % {"period": statement.period, "status": statement.get_status_display().lower()},
                       code=ErrorCode.STATEMENT_SUBMITTED, attr="statement")
    if "status" in changes and changes["status"] not in (ExpenditureStatus.SUBMITTED, ExpenditureStatus.DRAFT):
        raise PermissionRefused(_("Only a finance officer validates an expenditure."), attr="status")


# --- statements ----------------------------------------------------------------------------------

def check_statement_actor(*, by, partner: Partner) -> None:
    """A statement is written by its partner's members or by finance; donors only read."""
    _check_finance_or_own_partner(
        by=by, partner=partner, nobody=_("Only a finance officer or the partner itself writes statements."),
        not_own=_("A partner submits only its own statements."))


# --- transfers -----------------------------------------------------------------------------------

def transfer_quarters(transfer: FundTransfer) -> set[tuple[int, int]]:
    """The partner's quarters a stored transfer belongs to: the one it was received in, and those
    of the rows it funds (fifo pieces)."""
    quarters = {quarter_of(transfer.received_on)} if transfer.received_on else set()
    days = (ExpenditureFunding.objects.filter(transfer=transfer).values_list("expenditure__date", flat=True)
            .distinct().order_by())
    return quarters | {quarter_of(day) for day in days}


def check_transfer_target(transfer: FundTransfer) -> None:
    """The lead organisation does not send itself money."""
    if transfer.partner.kind == PartnerKind.LEAD:
        raise ApplicationError(_("%(partner)s is the grant's lead organisation: it does not record a transfer to "
                                 "itself.") % {"partner": transfer.partner.code},
                               code=ErrorCode.TRANSFER_TO_LEAD, attr="partner")


def check_transfer_quarters_open(*, grant_id: int, partner: Partner, received_on: date | None,
                                 stored: FundTransfer | None = None, changes: dict | None = None) -> None:
    """Lock and check the quarters of a transfer being created (``stored`` None), changed or
    deleted: neither the quarters it belonged to nor the one it comes to belong to (received in
    by ``partner`` on ``received_on``) may be locked. A change of the reference or the note alone
    touches no money and passes."""
    if stored is not None and changes is not None and set(changes) <= TRANSFER_NOTES:
        return
    wanted: dict[int, tuple[Partner, set]] = {}
    if stored is not None:
        wanted.setdefault(stored.partner_id, (stored.partner, set()))[1].update(transfer_quarters(stored))
    if received_on is not None:
        wanted.setdefault(partner.pk, (partner, set()))[1].add(quarter_of(received_on))
    for partner_id in sorted(wanted):
        who, quarters = wanted[partner_id]
        days = [date(year, 3 * quarter - 2, 1) for year, quarter in quarters]
        refuse_locked(who, lock_quarters(grant_id=grant_id, partner_id=partner_id, days=days), attr="received_on")


def is_transfer_locked(transfer: FundTransfer) -> bool:
    """For screens (the admin): does a stored transfer belong to a locked quarter? No lock taken."""
    quarters = transfer_quarters(transfer)
    if not quarters:
        return False
    condition = Q(pk__in=[])
    for year, quarter in quarters:
        condition |= Q(year=year, quarter=quarter)
    return QuarterlyStatement.objects.filter(condition, grant_id=transfer.grant_id, partner_id=transfer.partner_id,
                                             status=StatementStatus.ACCEPTED).exists()


# --- states the admin shows as read-only, from the same rules ------------------------------------

def statement_is_editable(statement: QuarterlyStatement) -> bool:
    """A statement's content changes while it is a draft or returned; submitted, it waits for
    review; accepted, its quarter is locked (``statements.statement_update`` refuses the rest)."""
    return statement.status in (StatementStatus.DRAFT, StatementStatus.RETURNED)


def is_standing_rate(rate: ExchangeRate) -> bool:
    """The standing rate of a currency (the parity, no month): it changes, it is never deleted."""
    return rate.month is None


def is_expenditure_locked(expenditure: Expenditure) -> bool:
    """Its quarter is locked (accepted): only an adjustment corrects it."""
    return quarter_is_locked(grant_id=expenditure.grant_id, partner_id=expenditure.partner_id,
                             day=expenditure.date)
