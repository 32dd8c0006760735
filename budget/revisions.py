"""Revising a budget: moves inside a draft, and the donor's rule on moves between headings.

The rule (DOMAIN.md rule 9, the EU's flexibility clause): a heading may move by up to the
grant's ``reallocation_limit_pct`` (default 25 %) of its amount in the original version, counted
cumulatively, on the giving and the receiving side alike, without the donor's approval; beyond
that, the donor's recorded approval is needed before the draft is approved. A warning is raised
from 20 %. Moves inside a heading never need it. Expenditures are never touched by a revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion, DonorDecision, Reallocation, VersionStatus
from budget.services import _check_cell, _check_editable, version_total
from grants.errors import ApplicationError, Conflict, ErrorCode, PermissionRefused
from grants.models import Donor, Location, Partner
from grants.money import EUR, validate_money
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
            .annotate(total=Sum("amount")).order_by())
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
    version = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    _check_editable(version)
    with as_application_error():
        validate_money(amount, "amount", allow_zero=False)
    if str(amount.currency) != EUR:
        raise ApplicationError(_("Budgets are in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED, attr="amount_currency")
    if not reason or not reason.strip():
        raise ApplicationError(_("Say why the money moves."), code=ErrorCode.REQUIRED, attr="reason")
    for prefix, cell in (("from", source), ("to", target)):
        try:
            _check_cell(version, cell.budget_line, cell.partner, cell.location, cell.year)
        except ApplicationError as exc:
            raise ApplicationError(exc.message, code=exc.code, attr=f"{prefix}.{exc.attr}") from exc
    if source == target:
        raise ApplicationError(_("The money moves to the cell it comes from."), code=ErrorCode.INVALID, attr="to")
    giving = (Allocation.objects.select_for_update()
              .filter(version=version, budget_line=source.budget_line, partner=source.partner,
                      location=source.location, year=source.year).first())
    if giving is None:
        raise ApplicationError(_("There is no allocation to move money from."), code="unknown_allocation",
                               attr="from")
    if giving.amount.amount < amount.amount:
        raise ApplicationError(
            _("The allocation has %(available)s EUR: %(amount)s cannot move.") % {
                "available": giving.amount.amount, "amount": amount.amount},
            code="insufficient_allocation", attr="amount")
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
                          by=None) -> DonorDecision:
    """Record a donor's decision on a draft. The donor must fund the grant."""
    version = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    if not version.grant.donor_shares.filter(donor=donor).exists():
        raise PermissionRefused(_("%(donor)s does not fund this grant.") % {"donor": donor.code}, attr="donor")
    _check_editable(version)
    if decision not in DonorDecision.Decision.values:
        raise ApplicationError(_("A decision is approved or rejected."), code=ErrorCode.INVALID, attr="decision")
    return DonorDecision.objects.create(version=version, donor=donor, decision=decision, comment=comment,
                                        decided_by=by)


def donor_approval_state(version: BudgetVersion) -> str:
    """``not_needed``, ``missing``, ``approved``, ``rejected``, or ``stale`` (money moved after the
    last decision, which therefore no longer speaks for the draft)."""
    if not version_needs_donor(version):
        return "not_needed"
    last = version.donor_decisions.order_by("-decided_at", "-id").first()
    if last is None:
        return "missing"
    if last.decision == DonorDecision.Decision.REJECTED:
        return "rejected"
    moved_since = version.reallocations.filter(moved_at__gt=last.decided_at).exists()
    return "stale" if moved_since else "approved"


def check_donor_rule(version: BudgetVersion) -> None:
    """Raise ``Conflict`` unless the draft may be approved under the donor's rule."""
    state = donor_approval_state(version)
    if state in ("not_needed", "approved"):
        return
    if state == "rejected":
        raise Conflict(_("The donor rejected this revision: it needs a new decision."),
                       code="donor_approval_rejected")
    raise Conflict(
        _("A heading moves beyond %(limit)s %% of its original amount: the donor's approval is needed first.")
        % {"limit": version.grant.reallocation_limit_pct},
        code="donor_approval_required")
