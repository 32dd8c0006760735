"""Who may see what, for views: a grant the user may not read is 404, not 403."""

from __future__ import annotations

from rest_framework.exceptions import NotFound

from grants.models import Grant, Partner
from grants.roles import is_finance_officer, partner_of, require_finance
from grants.selectors import grant_get_for


def grant_or_404(user, code: str) -> Grant:
    # No code holds a NUL character, and PostgreSQL refuses one in a query (a 500 otherwise).
    grant = None if "\x00" in code else grant_get_for(user, code)
    if grant is None:
        raise NotFound(f"No grant {code}.")
    return grant


def partner_scope(user) -> Partner | None:
    """The partner a user's reads are restricted to (None: the whole grant)."""
    if is_finance_officer(user):
        return None
    return partner_of(user)


def budget_line_or_400(grant: Grant, code, *, attr: str, what: str = "line"):
    """The grant's budget line (or heading) of that code, or 400 ``unknown_budget_line`` on ``attr``."""
    from budget.models import BudgetLine
    from grants.errors import ApplicationError, ErrorCode

    line = BudgetLine.objects.filter(grant=grant, code=code).select_related("parent").first()
    if line is None:
        raise ApplicationError(f"No {what} {code!r} in {grant.code}'s budget.", code=ErrorCode.UNKNOWN_BUDGET_LINE,
                               attr=attr)
    return line


def require_finance_officer(user) -> None:
    """The policy's own check (``grants.roles.require_finance``), asked before the body is read."""
    require_finance(user)
