"""The API's translation of ``grants.access``: a grant the user may not see is 404, not 403; a
budget line the grant lacks is 400 on the field that named it."""

from __future__ import annotations

from rest_framework.exceptions import NotFound

from grants.access import grant_visible_to, no_such_grant
from grants.models import Grant


def grant_not_found(code) -> NotFound:
    """The 404 of a grant the user cannot have, whether it exists or not (``grants.access.no_such_grant``)."""
    return NotFound(no_such_grant(code))


def grant_or_404(user, code: str) -> Grant:
    grant = grant_visible_to(user, code)
    if grant is None:
        raise grant_not_found(code)
    return grant


def budget_line_or_400(grant: Grant, code, *, attr: str, what: str = "line"):
    """The grant's budget line (or heading) of that code, or 400 ``unknown_budget_line`` on ``attr``."""
    from budget.models import BudgetLine
    from grants.errors import ApplicationError, ErrorCode

    line = BudgetLine.objects.filter(grant=grant, code=code).select_related("parent").first()
    if line is None:
        raise ApplicationError(f"No {what} {code!r} in {grant.code}'s budget.", code=ErrorCode.UNKNOWN_BUDGET_LINE,
                               attr=attr)
    return line
