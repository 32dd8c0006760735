"""A finance officer switches a grant's conversion method, or revalues it on purpose.

The method is frozen once a statement of the grant is accepted, unless the officer confirms:
the switch then applies to the open quarters only; an accepted quarter keeps the EUR, rates, method
and funding pieces it was accepted with (DOMAIN rule 8; ``expenditures.fx``). The switch
is saved through ``Grant.save`` so the grant's history records who changed the method and when;
each expenditure that changes gets a history row with the reason.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _

from expenditures.fx import Revaluation, revalue_partner
from expenditures.models import Expenditure, QuarterlyStatement, StatementStatus
from grants.errors import ApplicationError, Conflict, ErrorCode
from grants.models import FxMethod, Grant, Partner
from grants.roles import require_finance


@transaction.atomic
def grant_revalue(*, grant: Grant, method: str, confirm: bool = False, by=None, progress=None) -> dict:
    """Set ``grant``'s method to ``method`` and recompute every partner's stored conversions
    under it, in one transaction.

    Returns ``{"method", "revalued": <expenditures changed>, "delta_eur": <change of their EUR
    total>, "by_quarter": {"2016-Q3": <rows moved>, ...}, "frozen_quarters": [{"partner", "period"},
    ...]}`` (the accepted quarters, left as they were). Raises ``ApplicationError``
    (``unknown_fx_method``) for a method that is not one of ``FxMethod``, and ``Conflict``
    (``revaluation_needs_confirm``, 409) when a statement of the grant is accepted and ``confirm``
    is not true.

    ``progress``, if given, is called with (expenditures revalued, expenditures of the grant) after
    each partner's (a job's progress, a command's bar).
    """
    require_finance(by, what=_("revalue a grant"))
    if method not in FxMethod.values:
        raise ApplicationError(
            _("'%(method)s' is not a conversion method; choose one of %(values)s.") % {
                "method": method, "values": ', '.join(FxMethod.values)},
            code=ErrorCode.UNKNOWN_FX_METHOD, attr="method",
        )
    locked = Grant.objects.select_for_update().get(pk=grant.pk)
    if confirm is not True and QuarterlyStatement.objects.filter(
            grant=locked, status=StatementStatus.ACCEPTED).exists():
        raise Conflict(
            _("%(locked)s has accepted statements: the method changes for the open quarters only (accepted quarters "
              "keep their EUR). Send confirm: true to revalue anyway.") % {
                "locked": locked.code},
            code=ErrorCode.REVALUATION_NEEDS_CONFIRM, attr="confirm",
        )
    previous = locked.fx_method
    reason = f"revaluation {previous} -> {method}" if previous != method else f"revaluation ({method})"
    if previous != method:
        locked.fx_method = method
        locked._history_user = by
        locked._change_reason = reason
        locked.save()
    grant.fx_method = method  # the caller's instance says what the database says

    # EXISTS, not a join with DISTINCT over every expenditure of the grant.
    partners = Partner.objects.filter(
        Q(pk__in=Grant.partners.through.objects.filter(grant=locked).values("partner"))
        | Exists(Expenditure.objects.filter(grant=locked, partner=OuterRef("pk")))
    ).order_by("code")
    result = Revaluation()
    counts, done = {}, 0
    if progress is not None:
        counts = dict(Expenditure.objects.filter(grant=locked).values_list("partner").annotate(n=Count("id"))
                      .order_by())
        progress(0, sum(counts.values()))
    for partner in partners:
        result += revalue_partner(grant=locked, partner=partner, by=by, reason=reason)
        if progress is not None:
            done += counts.get(partner.pk, 0)
            progress(done, sum(counts.values()))
    return {"method": method, "revalued": result.count, "delta_eur": result.delta_eur,
            "by_quarter": result.by_quarter,
            "frozen_quarters": [{"partner": code, "period": period} for code, period in result.frozen]}
