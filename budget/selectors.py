"""Reads of the budget: which version is current, what a partner may spend on, what a donor saw.

Keyword-only where the arguments could be swapped. Nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from budget.models import Allocation, BudgetVersion
from grants.models import Grant, Partner

CENT = Decimal("0.01")


def current_version(grant: Grant) -> BudgetVersion | None:
    """The grant's current (approved) version, or ``None`` before its first approval."""
    return BudgetVersion.objects.filter(grant=grant, is_current=True).first()


def lines_allocated_to(*, grant: Grant, partner: Partner) -> set[int]:
    """Ids of the budget lines on which ``partner`` has an allocation in ``grant``'s current version.

    DOMAIN rule 13: a partner spends only on lines allocated to it on that grant. An allocation
    row counts whatever its amount (a row of 0.00 EUR still names the line as the partner's,
    as ``statement_check`` has always read it); any year and any location count. Before the
    grant's first approved version the set is empty: nothing is allocated yet. Callers refuse
    a line outside the set with the code ``line_not_allocated``."""
    return set(
        Allocation.objects.filter(version__grant=grant, version__is_current=True, partner=partner)
        .values_list("budget_line_id", flat=True).distinct().order_by()
    )


def allocation_rows(version: BudgetVersion) -> list[list]:
    """The version's allocations in canonical form: ``[line code, partner code, location code,
    year, amount]`` with the amount as a string to the cent, sorted. What a donor is shown."""
    rows = (Allocation.objects.filter(version=version).order_by()
            .values_list("budget_line__code", "partner__code", "location__code", "year", "amount"))
    return sorted([line, partner, location, int(year), str(Decimal(amount).quantize(CENT))]
                  for line, partner, location, year, amount in rows)


def allocations_fingerprint(version: BudgetVersion) -> str:
    """SHA-256 (hex) of ``allocation_rows(version)`` as compact JSON.

    DOMAIN rule 14: a donor's decision stores this at decision time; when the draft's
    fingerprint no longer matches, the decision no longer speaks for the draft. It is read from
    the rows themselves, so a change by any path (API, admin, services, raw SQL) shows."""
    payload = json.dumps(allocation_rows(version), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode("ascii")).hexdigest()
