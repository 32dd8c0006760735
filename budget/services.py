"""Writes on the budget: lines, versions and their allocations. Keyword-only functions."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from moneyed import Money
from simple_history.utils import bulk_create_with_history

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from budget.policy import require_allocation_cell, require_version_editable
from budget.revisions import check_donor_rule
from budget.selectors import version_total
from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.models import Grant, Location, Partner
from grants.money import EUR, validate_money
from grants.roles import require_finance
from grants.validation import as_application_error


def budget_line_create(*, grant: Grant, code: str, label_fr: str, label_en: str,
                       parent: BudgetLine | None = None, beneficiary_target: int | None = None,
                       beneficiary_unit: str = "", position: int | None = None, by=None) -> BudgetLine:
    """A heading (no parent) or a line under a heading of the same grant."""
    require_finance(by, what=_("change the budget lines"))
    if BudgetLine.objects.filter(grant=grant, code=code).exists():
        raise ApplicationError(_("Line %(code)s exists already.") % {"code": code}, code=ErrorCode.UNIQUE, attr="code")
    _check_parent(grant, parent)
    if position is None:
        position = (BudgetLine.objects.filter(grant=grant).aggregate(m=Max("position"))["m"] or 0) + 1
    line = BudgetLine(grant=grant, code=code, parent=parent, label_fr=label_fr, label_en=label_en,
                      beneficiary_target=beneficiary_target, beneficiary_unit=beneficiary_unit,
                      position=position)
    with as_application_error():
        line.full_clean()
    line.save()
    return line


def budget_line_update(*, line: BudgetLine, by=None, **fields) -> BudgetLine:
    require_finance(by, what=_("change the budget lines"))
    if "code" in fields and fields["code"] != line.code:
        raise ApplicationError(_("A line's code cannot change."), code=ErrorCode.IMMUTABLE, attr="code")
    if "parent" in fields:
        _check_parent(line.grant, fields["parent"], line=line)
    for name, value in fields.items():
        setattr(line, name, value)
    with as_application_error():
        line.full_clean()
    line.save()
    return line


@transaction.atomic
def budget_line_delete(*, line: BudgetLine, by=None) -> None:
    """Delete a line or heading nothing stands on (no allocation, expenditure or child line)."""
    require_finance(by, what=_("change the budget lines"))
    try:
        with transaction.atomic():
            line.delete()
    except ProtectedError as exc:
        raise Conflict(_("Other records depend on this one: it cannot be deleted."), code=ErrorCode.IN_USE) from exc


def _check_parent(grant: Grant, parent: BudgetLine | None, line: BudgetLine | None = None) -> None:
    if parent is None:
        if line is not None and line.children.exists() is False and line.allocations.exists():
            raise ApplicationError(_("A line with allocations cannot become a heading."),
                                   code=ErrorCode.INVALID, attr="parent")
        return
    if parent.grant_id != grant.pk:
        raise ApplicationError(_("The parent is a heading of another grant."),
                               code=ErrorCode.UNKNOWN_BUDGET_LINE, attr="parent")
    if not parent.is_heading:
        raise ApplicationError(
            _("%(parent)s is a line, not a heading: the budget has two levels.") % {"parent": parent.code},
            code=ErrorCode.INVALID, attr="parent",
        )
    if line is not None and (line.pk == parent.pk or line.children.exists()):
        raise ApplicationError(_("A heading with lines cannot be put under another heading."),
                               code=ErrorCode.INVALID, attr="parent")


@transaction.atomic
def version_open_draft(*, grant: Grant, label: str, reason: str = "", by=None) -> BudgetVersion:
    """A new draft: a copy of the current version's allocations, or empty for a new grant.

    Raises ``Conflict`` (``draft_exists``) when the grant already has a draft.
    """
    require_finance(by, what=_("open a budget version"))
    Grant.objects.select_for_update().filter(pk=grant.pk).first()
    if BudgetVersion.objects.filter(grant=grant, status=VersionStatus.DRAFT).exists():
        raise Conflict(_("This grant already has a draft version."), code=ErrorCode.DRAFT_EXISTS)
    number = (BudgetVersion.objects.filter(grant=grant).aggregate(m=Max("number"))["m"] or 0) + 1
    draft = BudgetVersion.objects.create(grant=grant, number=number, label=label, reason=reason)
    current = BudgetVersion.objects.filter(grant=grant, is_current=True).first()
    if current is not None:
        bulk_create_with_history(
            [Allocation(version=draft, budget_line_id=a.budget_line_id, partner_id=a.partner_id,
                        location_id=a.location_id, year=a.year, amount=a.amount)
             for a in current.allocations.all()],
            Allocation,
        )
    return draft


def _lock_draft(version: BudgetVersion) -> BudgetVersion:
    """The version, locked for this transaction, and refused (409) unless it is a draft.

    Every write to a draft's allocations takes this lock first (the version before its
    allocations, as ``reallocate``, ``donor_decision_record`` and ``version_approve`` do): an
    approval or a donor's decision then never reads allocations that a concurrent write is
    changing, so what the donor saw and what is approved are the same rows."""
    locked = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    require_version_editable(locked)
    return locked


@transaction.atomic
def allocation_set(*, version: BudgetVersion, budget_line: BudgetLine, partner: Partner,
                   location: Location, year: int, amount: Money, by=None) -> Allocation:
    """Create or change the allocation of one cell of a draft version.

    Any change to a draft's allocations makes a donor's earlier approval stale (DOMAIN rule 14,
    ``budget.revisions.donor_approval_state``): the donor decides again before approval."""
    require_finance(by, what=_("change a budget"))
    version = _lock_draft(version)
    with as_application_error():
        validate_money(amount, "amount")
    if str(amount.currency) != EUR:
        raise ApplicationError(_("Budgets are in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="amount_currency")
    require_allocation_cell(version, budget_line, partner, location, year)
    allocation, _created = Allocation.objects.update_or_create(
        version=version, budget_line=budget_line, partner=partner, location=location, year=year,
        defaults={"amount": amount},
    )
    return allocation


@transaction.atomic
def allocation_update(*, allocation: Allocation, by=None, **fields) -> Allocation:
    """Change a draft's allocation (its cell or amount); see ``allocation_set`` on the donor."""
    require_finance(by, what=_("change a budget"))
    version = _lock_draft(allocation.version)
    for name, value in fields.items():
        setattr(allocation, name, value)
    with as_application_error():
        validate_money(allocation.amount, "amount")
    if str(allocation.amount.currency) != EUR:
        raise ApplicationError(_("Budgets are in EUR."), code=ErrorCode.CURRENCY_NOT_ALLOWED,
                               attr="amount_currency")
    require_allocation_cell(version, allocation.budget_line, allocation.partner, allocation.location,
                            allocation.year)
    with as_application_error():
        allocation.validate_constraints()
    allocation.save()
    return allocation


@transaction.atomic
def allocation_delete(*, allocation: Allocation, by=None) -> None:
    """Drop a draft's allocation; see ``allocation_set`` on the donor."""
    require_finance(by, what=_("change a budget"))
    _lock_draft(allocation.version)
    allocation.delete()


@transaction.atomic
def version_approve(*, version: BudgetVersion, by=None) -> BudgetVersion:
    """Make a draft the grant's current version; the one before becomes superseded.

    Raises ``Conflict`` when the version is not a draft and ``ApplicationError``
    (``total_mismatch``) when its allocations do not add up to the grant's total to the cent.
    """
    require_finance(by, what=_("approve a budget version"))
    version = BudgetVersion.objects.select_for_update().select_related("grant").get(pk=version.pk)
    require_version_editable(version)
    total = version_total(version)
    grant_total = version.grant.total
    if total.amount != grant_total.amount:
        raise ApplicationError(
            _("The allocations add up to %(total)s EUR, not the grant's %(grant_total)s EUR.") % {
                "total": total.amount, "grant_total": grant_total.amount},
            code=ErrorCode.TOTAL_MISMATCH, attr="total",
        )
    check_donor_rule(version)
    # Saved one by one (not .update()) so that the history records the supersession.
    for previous in BudgetVersion.objects.select_for_update().filter(grant=version.grant,
                                                                      is_current=True):
        previous.is_current = False
        previous.status = VersionStatus.SUPERSEDED
        previous.save()
    version.status = VersionStatus.APPROVED
    version.is_current = True
    version.approved_at = timezone.now()
    version.approved_by = by
    version.save()
    return version


def version_update(*, version: BudgetVersion, by=None, **fields) -> BudgetVersion:
    """Change a draft's label or reason; approved and superseded versions never change (409)."""
    require_finance(by, what=_("change a budget version"))
    require_version_editable(version)
    for name in ("label", "reason"):
        if name in fields:
            setattr(version, name, fields[name])
    version.save()
    return version


@transaction.atomic
def version_delete(*, version: BudgetVersion, by=None) -> None:
    """Drop a draft with its allocations; approved and superseded versions stay (409)."""
    require_finance(by, what=_("delete a budget version"))
    require_version_editable(version)
    version.delete()
