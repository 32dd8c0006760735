"""Reads on transfers, expenditures and statements."""

from __future__ import annotations

from datetime import date

from expenditures.models import QuarterlyStatement, StatementStatus
from grants.periods import quarter_of


def quarter_is_locked(*, grant_id: int, partner_id: int, day: date, for_update: bool = False) -> bool:
    """True when the partner's statement for the quarter of ``day`` has been accepted.

    With ``for_update`` (inside a transaction) the statement's row is locked, so that a write
    and an accept of the same quarter are serialized: whichever comes second sees the other."""
    year, quarter = quarter_of(day)
    statements = QuarterlyStatement.objects.filter(
        grant_id=grant_id, partner_id=partner_id, year=year, quarter=quarter)
    if for_update:
        statements = statements.select_for_update()
    status = statements.values_list("status", flat=True).first()
    return status == StatementStatus.ACCEPTED
