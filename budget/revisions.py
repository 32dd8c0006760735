"""Revising a budget: moves inside a draft, and the donor's rule on moves between headings.

The rule (DOMAIN.md rule 9, the EU's flexibility clause): a heading may move by up to the
grant's ``reallocation_limit_pct`` (default 25 %) of its amount in the original version, counted
cumulatively, on the giving and the receiving side alike, without the donor's approval; beyond
that, the donor's recorded approval is needed before the draft is approved. A warning is raised
from 20 %. Moves inside a heading never need it. Expenditures are never touched by a revision.

The donor's approval covers the exact allocations it saw (DOMAIN rule 14): each decision stores
the fingerprint of the draft's allocations when it is recorded, and the approval is stale as soon
as the draft's current allocations fingerprint differently, whatever changed them (a move, a
cell set, updated or deleted through the API or the admin, a raw UPDATE). A stale approval
blocks ``version_approve`` (409 ``donor_approval_stale``) until the donor decides again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, DonorDecision, Reallocation, VersionStatus
from budget.policy import require_allocation_cell, require_version_editable
from budget.selectors import version_total
from grants.errors import ApplicationError, Conflict, ErrorCode, PermissionRefused
from grants.models import Donor, Location, Partner
from grants.money import EUR, money_sum, validate_money
from grants.roles import actor_of, require_finance
from grants.validation import as_application_error

WARNING_PCT = Decimal("20")
PCT = Decimal("0.01")


@dataclass(frozen=True)
class Cell:
    budget_line: BudgetLine
    partner: Partner
    location: Location
    year: int


def version_original(grant) -> BudgetVersion | None:
    """The grant's first approved budget, against which changes are counted."""
    return (BudgetVersion.objects.filter(grant=grant)
            .exclude(status=VersionStatus.DRAFT).order_by("number").first())


def heading_totals(version: BudgetVersion) -> dict[int, Decimal]:
    rows = (Allocation.objects.filter(version=version).values("budget_line__parent_id")
            .annotate(total=money_sum("amount")).order_by())
    return {row["budget_line__parent_id"]: row["total"] for row in rows}


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(PCT, rounding=ROUND_HALF_UP)


def version_standing(version: BudgetVersion) -> dict:
    """Each heading's original, revised, change and change %, against the original version;
    whether it needs the donor's approval and whether it warns; the version's total."""
    grant = version.grant
    original = version_original(grant)
    after = heading_totals(version)
    # The first budget of a grant is its own original: nothing has moved yet.
    before = heading_totals(original) if original else after
    limit = grant.reallocation_limit_pct
    headings = []
    for heading in BudgetLine.objects.filter(grant=grant, parent__isnull=True).order_by("position", "code"):
        was = before.get(heading.pk, Decimal("0.00"))
        now = after.get(heading.pk, Decimal("0.00"))
        change = now - was
        change_pct = _pct(change, was)
        beyond = abs(change_pct) > limit if change_pct is not None else change != 0
        warns = abs(change_pct) >= WARNING_PCT if change_pct is not None else change != 0
        headings.append({
            "code": heading.code, "original": was, "revised": now, "change": change,
            "change_pct": change_pct, "needs_donor_approval": beyond, "warning": warns,
        })
    return {"headings": headings, "total": version_total(version).amount, "grant_total": grant.total.amount}


def version_needs_donor(version: BudgetVersion) -> bool:
    return any(h["needs_donor_approval"] for h in version_standing(version)["headings"])


@transaction.atomic
def reallocate(*, version: BudgetVersion, source: Cell, target: Cell, amount: Money, reason: str,
               by=None) -> dict:
    """Move ``amount`` EUR from one allocation of a draft to another (created if absent).

    Raises ``Conflict`` for a version that is not a draft, ``ApplicationError`` for a source cell
    that has no allocation or not enough (``from`` cannot go below zero), a bad amount, or a
    cell that is not a line of the grant allocated to one of its partners. Answers the draft's
    standing (``version_standing``)."""
    require_finance(by, what=_("move money between budget lines"))
    version = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    require_version_editable(version)
    with as_application_error():
        validate_money(amount, "amount", allow_zero=False)
    if str(amount.currency) != EUR:
        raise ApplicationError(_("Budgets are in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED, attr="amount_currency")
    if not reason or not reason.strip():
        raise ApplicationError(_("Say why the money moves."), code=ErrorCode.REQUIRED, attr="reason")
    for prefix, cell in (("from", source), ("to", target)):
        try:
            require_allocation_cell(version, cell.budget_line, cell.partner, cell.location, cell.year)
        except ApplicationError as exc:
            raise ApplicationError(exc.message, code=exc.code, attr=f"{prefix}.{exc.attr}") from exc
    if source == target:
        raise ApplicationError(_("The money moves to the cell it comes from."), code=ErrorCode.INVALID, attr="to")
    giving = (Allocation.objects.select_for_update()
              .filter(version=version, budget_line=source.budget_line, partner=source.partner,
                      location=source.location, year=source.year).first())
    if giving is None:
        raise ApplicationError(_("There is no allocation to move money from."), code=ErrorCode.UNKNOWN_ALLOCATION,
                               attr="from")
    if giving.amount.amount < amount.amount:
        raise ApplicationError(
            _("The allocation has %(available)s EUR: %(amount)s cannot move.") % {
                "available": giving.amount.amount, "amount": amount.amount},
            code=ErrorCode.INSUFFICIENT_ALLOCATION, attr="amount")
    giving.amount = Money(giving.amount.amount - amount.amount, EUR)
    giving.save()
    receiving, _created = Allocation.objects.get_or_create(
        version=version, budget_line=target.budget_line, partner=target.partner, location=target.location,
        year=target.year, defaults={"amount": Money(Decimal("0.00"), EUR)})
    receiving.amount = Money(receiving.amount.amount + amount.amount, EUR)
    receiving.save()
    Reallocation.objects.create(
        version=version, from_line=source.budget_line, from_partner=source.partner, from_location=source.location,
        from_year=source.year, to_line=target.budget_line, to_partner=target.partner, to_location=target.location,
        to_year=target.year, amount=amount, reason=reason, moved_by=by)
    return version_standing(version)


@transaction.atomic
def donor_decision_record(*, version: BudgetVersion, donor: Donor, decision: str, comment: str = "",
                          by=None, seen_fingerprint: str | None = None) -> DonorDecision:
    """Record a donor's decision on a draft. The donor must fund the grant.

    The decision stores the fingerprint of the draft's allocations now (rule 14). A caller that
    knows which allocations the donor was shown passes their fingerprint as ``seen_fingerprint``:
    when the draft has changed since, the decision is refused (``Conflict``,
    ``donor_approval_stale``) rather than recorded for allocations the donor did not see."""
    actor = actor_of(by)
    if not actor.is_finance and donor.pk not in actor.donor_ids:  # finance records it on the donor's behalf
        raise PermissionRefused(_("Only a member of %(donor)s records its decision.") % {"donor": donor.code},
                                attr="donor")
    version = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    if not version.grant.donor_shares.filter(donor=donor).exists():
        raise PermissionRefused(_("%(donor)s does not fund this grant.") % {"donor": donor.code}, attr="donor")
    require_version_editable(version)
    if decision not in DonorDecision.Decision.values:
        raise ApplicationError(_("A decision is approved or rejected."), code=ErrorCode.INVALID, attr="decision")
    fingerprint = version.allocations_fingerprint()
    if seen_fingerprint is not None and seen_fingerprint != fingerprint:
        raise Conflict(_("The draft changed after it was shown to the donor: show it again before deciding."),
                       code=ErrorCode.DONOR_APPROVAL_STALE)
    return DonorDecision.objects.create(version=version, donor=donor, decision=decision, comment=comment,
                                        decided_by=by, allocations_fingerprint=fingerprint)



def last_donor_decision(version: BudgetVersion) -> DonorDecision | None:
    return version.donor_decisions.order_by("-decided_at", "-id").first()


def donor_approval_state(version: BudgetVersion) -> str:
    """``not_needed``, ``missing``, ``approved``, ``rejected``, or ``stale``.

    The last decision (of any donor of the grant) speaks for the draft. A rejection stays a
    rejection whatever changes after it. An approval is ``stale`` when the draft's allocations
    no longer have the fingerprint stored with it, or when it has none (a decision recorded
    before fingerprints existed: what the donor saw cannot be shown, so it is not relied on)."""
    if not version_needs_donor(version):
        return "not_needed"
    last = last_donor_decision(version)
    if last is None:
        return "missing"
    if last.decision == DonorDecision.Decision.REJECTED:
        return "rejected"
    if not last.allocations_fingerprint or last.allocations_fingerprint != version.allocations_fingerprint():
        return "stale"
    return "approved"


def check_donor_rule(version: BudgetVersion) -> None:
    """Raise ``Conflict`` unless the draft may be approved under the donor's rule."""
    state = donor_approval_state(version)
    if state in ("not_needed", "approved"):
        return
    if state == "rejected":
        raise Conflict(_("The donor rejected this revision: it needs a new decision."),
                       code=ErrorCode.DONOR_APPROVAL_REJECTED)
    if state == "stale":
        raise Conflict(
            _("The draft changed since the donor's decision: the donor's approval covers only the allocations "
              "it saw, and a new decision is needed."),
            code=ErrorCode.DONOR_APPROVAL_STALE)
    raise Conflict(
        _("A heading moves beyond %(limit)s %% of its original amount: the donor's approval is needed first.")
        % {"limit": version.grant.reallocation_limit_pct},
        code=ErrorCode.DONOR_APPROVAL_REQUIRED)
