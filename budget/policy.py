"""What may change in a budget: the checks every write on a version's allocations makes first.

Shared by ``budget.services`` (cells set, updated, deleted; versions approved, changed, dropped)
and ``budget.revisions`` (moves, donors' decisions), so both refuse the same things with the
same codes. Nothing here writes or locks; the callers lock the version first.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from budget.models import BudgetLine, BudgetVersion
from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.models import Location, Partner


def require_version_editable(version: BudgetVersion) -> None:
    """Raise ``Conflict`` (``version_not_editable``) unless ``version`` is a draft."""
    if not version.is_editable:
        raise Conflict(_("Version %(version)s is %(version_status)s: it cannot change.") % {
            "version": version.number, "version_status": version.status},
                       code=ErrorCode.VERSION_NOT_EDITABLE)


def require_allocation_cell(version: BudgetVersion, budget_line: BudgetLine, partner: Partner,
                            location: Location, year: int) -> None:
    """Raise ``ApplicationError`` unless (line, partner, location, year) is a cell ``version``
    may allocate to: a line (not a heading) of the version's grant, a partner on the grant, a
    project year of the grant. ``attr`` names the field at fault."""
    grant = version.grant
    if budget_line.grant_id != grant.pk:
        raise ApplicationError(_("%(budget_line)s is not a line of %(grant)s.") % {
            "budget_line": budget_line.code, "grant": grant.code},
                               code=ErrorCode.UNKNOWN_BUDGET_LINE, attr="budget_line")
    if budget_line.is_heading:
        raise ApplicationError(_("%(budget_line)s is a heading: allocate to its lines.") % {
            "budget_line": budget_line.code},
                               code=ErrorCode.HEADING_NOT_A_LINE, attr="budget_line")
    if not grant.partners.filter(pk=partner.pk).exists():
        raise ApplicationError(_("%(partner)s is not a partner of %(grant)s.") % {
            "partner": partner.code, "grant": grant.code},
                               code=ErrorCode.PARTNER_NOT_ON_GRANT, attr="partner")
    if not 1 <= year <= grant.years:
        raise ApplicationError(_("The grant has project years 1 to %(years)s.") % {"years": grant.years},
                               code=ErrorCode.INVALID, attr="year")
