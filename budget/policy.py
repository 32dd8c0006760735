"""What may change in a budget: the checks every write on a version's allocations makes first.

Shared by ``budget.services`` (cells set, updated, deleted; versions approved, changed, dropped)
and ``budget.revisions`` (moves, donors' decisions), so both refuse the same things with the
same codes. Nothing here writes or locks; the callers lock the version first.
"""

from __future__ import annotations

from budget.models import BudgetLine, BudgetVersion
from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.models import Location, Partner


def require_version_editable(version: BudgetVersion) -> None:
    """Raise ``Conflict`` (``version_not_editable``) unless ``version`` is a draft."""
    if not version.is_editable:
        raise Conflict(f"Version {version.number} is {version.status}: it cannot change.",
                       code=ErrorCode.VERSION_NOT_EDITABLE)


def require_allocation_cell(version: BudgetVersion, budget_line: BudgetLine, partner: Partner,
                            location: Location, year: int) -> None:
    """Raise ``ApplicationError`` unless (line, partner, location, year) is a cell ``version``
    may allocate to: a line (not a heading) of the version's grant, a partner on the grant, a
    project year of the grant. ``attr`` names the field at fault."""
    grant = version.grant
    if budget_line.grant_id != grant.pk:
        raise ApplicationError(f"{budget_line.code} is not a line of {grant.code}.",
                               code=ErrorCode.UNKNOWN_BUDGET_LINE, attr="budget_line")
    if budget_line.is_heading:
        raise ApplicationError(f"{budget_line.code} is a heading: allocate to its lines.",
                               code=ErrorCode.HEADING_NOT_A_LINE, attr="budget_line")
    if not grant.partners.filter(pk=partner.pk).exists():
        raise ApplicationError(f"{partner.code} is not a partner of {grant.code}.",
                               code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    if not 1 <= year <= grant.years:
        raise ApplicationError(f"The grant has project years 1 to {grant.years}.",
                               code=ErrorCode.INVALID, attr="year")
