"""Reads of the budget: which version is current, what a version adds up to, what a partner may
spend on. What a donor saw is the version's own ``BudgetVersion.allocations_fingerprint``.

Keyword-only where the arguments could be swapped. Nothing here writes.
"""

from __future__ import annotations

from decimal import Decimal

from moneyed import Money

from budget.models import Allocation, BudgetVersion
from grants.models import Grant, Partner
from grants.money import EUR, money_sum

CENT = Decimal("0.01")


def current_version(grant: Grant) -> BudgetVersion | None:
    """The grant's current (approved) version, or ``None`` before its first approval."""
    return BudgetVersion.objects.filter(grant=grant, is_current=True).first()


def version_total(version: BudgetVersion) -> Money:
    """The sum of the version's allocations (all in EUR, by constraint)."""
    total = version.allocations.aggregate(s=money_sum("amount"))["s"]
    return Money(total if total is not None else CENT * 0, EUR)


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


def budget_by_line(*, version: BudgetVersion, partner: Partner | None = None) -> dict[int, Decimal]:
    """{budget line id: its EUR budget in ``version``}: a line's allocations summed, a heading's
    the sum of its lines'; ``partner``: its allocations only. A line without allocations is absent
    (its budget is 0). One grouped query; every allocation is in EUR (a constraint)."""
    allocations = Allocation.objects.filter(version=version)
    if partner is not None:
        allocations = allocations.filter(partner=partner)
    budget: dict[int, Decimal] = {}
    rows = (allocations.order_by().values("budget_line_id", "budget_line__parent_id")
            .annotate(total=money_sum("amount")))
    for row in rows:
        for line_id in (row["budget_line_id"], row["budget_line__parent_id"]):
            if line_id is not None:
                budget[line_id] = budget.get(line_id, Decimal("0")) + row["total"]
    return budget
