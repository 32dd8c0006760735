"""The auditor's whole check: the ledger's own (``expenditures.audit``) and that every report foots.

``ledger_check`` here is what ``manage.py ledger_check`` and ``GET /api/v1/grants/{code}/check/``
run: the ledger's checks from ``expenditures.audit`` (conversions, digests and their chain,
budget versions), plus ``check_footing`` on the reports built on it. It lives above both, as the
layers go (grants <- budget <- expenditures <- reports <- api).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.utils.translation import gettext as _

from budget.models import Allocation
from expenditures import audit
from expenditures.audit import REPORT_GROUPINGS, Discrepancy, Kind, Report, exact_sum
from expenditures.models import COUNTED_STATUSES, Expenditure
from grants.models import Grant
from reports.selectors import budget_version_for, report_inputs
from reports.variance import variance


def check_footing(grant: Grant, report: Report) -> None:
    """Every grouping of the variance report foots: its rows add up to its total, its actual is the
    exact sum of the stored EUR of the counted expenditures, its budget the version's allocations."""
    as_of = grant.end_date
    version = budget_version_for(grant=grant)
    inputs = report_inputs(grant=grant, as_of=as_of, version=version)
    counted = Expenditure.objects.filter(grant=grant, status__in=list(COUNTED_STATUSES))
    ledger_total = exact_sum(counted, "amount_eur")
    budget_total = (exact_sum(Allocation.objects.filter(version=version), "amount") if version is not None
                    else Decimal("0.00"))
    for by in REPORT_GROUPINGS:
        result = variance(inputs, by=by)
        total = result["total"]
        report.counts["groupings"] += 1
        problems = []
        for name in ("budget", "actual", "planned_to_date"):
            rows = sum((row[name] for row in result["rows"]), Decimal("0.00"))
            if rows != total[name]:
                problems.append(_("its rows' %(figure)s add up to %(rows)s, not its total %(total)s") % {
                    "figure": name, "rows": rows, "total": total[name]})
        if total["actual"] != ledger_total:
            problems.append(_("its actual %(total)s is not the ledger's %(ledger)s (stored EUR of the counted "
                              "expenditures)") % {"total": total["actual"], "ledger": ledger_total})
        if total["budget"] != budget_total:
            problems.append(_("its budget %(total)s is not the version's allocations, %(budget)s") % {
                "total": total["budget"], "budget": budget_total})
        for problem in problems:
            report.discrepancies.append(Discrepancy(
                Kind.REPORT_NOT_FOOTING,
                _("The variance report by %(by)s does not foot: %(problem)s.") % {"by": by, "problem": problem},
                grant.code, version=version.number if version is not None else None))


def ledger_check(*, grant: Grant | None = None, progress: Callable[[int, int], None] | None = None) -> Report:
    """The auditor's check of every grant (or ``grant``): see ``expenditures.audit.ledger_check``,
    with the reports' footing."""
    return audit.ledger_check(grant=grant, progress=progress, checks=[check_footing])
