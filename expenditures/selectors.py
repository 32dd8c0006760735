"""Reads on transfers, expenditures and statements."""

from __future__ import annotations

from datetime import date

from expenditures.models import QuarterlyStatement, StatementStatus


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_is_locked(*, grant_id: int, partner_id: int, day: date) -> bool:
    """True when the partner's statement for the quarter of ``day`` has been accepted."""
    year, quarter = quarter_of(day)
    return QuarterlyStatement.objects.filter(
        grant_id=grant_id, partner_id=partner_id, year=year, quarter=quarter,
        status=StatementStatus.ACCEPTED,
    ).exists()
