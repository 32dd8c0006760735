"""The IATI Validator's data-quality rules an export must pass before it is published.

The XML schema says what an activity may look like; these rules say what its data must mean. The
export (``iati_export``, which the API's ``iati.xml`` answers with) refuses with 409
``iati_rules_failed``, listing every violation with its rule's number, rather than publish an
activity the IATI Validator would fail:

| rule | what |
| --- | --- |
| 1.1.21 | the activity identifier starts with the reporting organisation's identifier (which is set) |
| 2.1.2 | the sector percentages of each vocabulary add up to 100 |
| 6.2.2 | sectors are on the activity or on every transaction, never both (and never neither) |
| 7.5.2 | each budget has a value date, inside its period |
| 7.5.3 | each budget's period is at most a year, and starts before it ends |
| 7.8.1 | every value has its currency (the export also sets the activity's default, EUR) |
| 11.1.1 | the planned start is before or on the planned end |
| 11.1.2 | the actual start is before or on the actual end |
| 11.1.3 | the actual start is not in the future |
| 11.1.4 | the actual end is not in the future |
| 11.2.1 | a transaction's date is not in the future |
| 11.2.2 | a transaction's value date is not in the future |

"Today" is ``django.utils.timezone.localdate()`` unless the caller gives it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from grants.errors import Conflict, ErrorCode
from grants.iati import SECTOR_VOCABULARY_DAC, sector_percentage
from reports.iati import (
    DATE_END_ACTUAL,
    DATE_END_PLANNED,
    DATE_START_ACTUAL,
    DATE_START_PLANNED,
    Activity,
    add_months,
    iati_activity,
    iati_xml_chunks,
)

HUNDRED = Decimal("100")


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str
    attr: str | None = None


def iati_violations(activity: Activity, *, today: date | None = None) -> list[Violation]:
    """Every rule ``activity`` breaks, in the order of the rules' numbers."""
    today = today or timezone.localdate()
    found: list[Violation] = []
    found += _identifier(activity)
    found += _sectors(activity)
    found += _budgets(activity)
    found += _currencies(activity)
    found += _activity_dates(activity, today)
    found += _transaction_dates(activity, today)
    return found


def _identifier(activity: Activity) -> list[Violation]:
    ref = activity.reporting_org.ref
    if not ref:
        return [Violation("1.1.21", _("The reporting organisation has no IATI identifier: set one on the grant or "
                                      "on its lead partner."), "iati_org_ref")]
    if not activity.identifier.startswith(ref):
        return [Violation("1.1.21", _("The activity identifier %(identifier)s does not start with the reporting "
                                      "organisation's identifier %(ref)s.") % {
            "identifier": activity.identifier, "ref": ref}, "iati_identifier")]
    return []


def _sectors(activity: Activity) -> list[Violation]:
    found = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for sector in activity.sectors:
        percentage = sector_percentage(sector.get("percentage")) if isinstance(sector, dict) else None
        totals[str(sector.get("vocabulary", SECTOR_VOCABULARY_DAC)) if isinstance(sector, dict) else "?"] += (
            percentage if percentage is not None else Decimal("0"))
    for vocabulary, total in sorted(totals.items()):
        if total != HUNDRED:
            found.append(Violation("2.1.2", _("The sector percentages of vocabulary %(vocabulary)s add up to "
                                              "%(total)s %%, not 100 %%.") % {"vocabulary": vocabulary,
                                                                              "total": total}, "dac_sectors"))
    if not activity.sectors and activity.transactions:
        found.append(Violation("6.2.2", _("No sector on the activity nor on its transactions: set the grant's DAC "
                                          "sectors."), "dac_sectors"))
    return found


def _budgets(activity: Activity) -> list[Violation]:
    found = []
    for budget in activity.budgets:
        period = f"{budget.period_start.isoformat()}..{budget.period_end.isoformat()}"
        if budget.value_date is None:
            found.append(Violation("7.5.2", _("The budget of %(period)s has no value date.") % {"period": period},
                                   "budget"))
        elif not budget.period_start <= budget.value_date <= budget.period_end:
            found.append(Violation("7.5.2", _("The budget of %(period)s has its value date %(day)s outside its "
                                              "period.") % {"period": period, "day": budget.value_date.isoformat()},
                                   "budget"))
        if budget.period_end < budget.period_start or budget.period_end >= add_months(budget.period_start, 12):
            found.append(Violation("7.5.3", _("The budget of %(period)s is not a period of at most one year.") % {
                "period": period}, "budget"))
    return found


def _currencies(activity: Activity) -> list[Violation]:
    # Stricter than the Validator (a value may lean on the activity's default-currency): the
    # ledger knows each amount's currency, so each value says it.
    values = [*activity.budgets, *activity.transactions]
    missing = sum(1 for value in values if not value.currency)
    if not missing:
        return []
    return [Violation("7.8.1", _("%(count)s values have no currency.") % {"count": missing}, "currency")]


def _activity_dates(activity: Activity, today: date) -> list[Violation]:
    dates = dict(activity.dates)
    found = []
    pairs = (("11.1.1", DATE_START_PLANNED, DATE_END_PLANNED, _("The planned start %(start)s is after the planned "
                                                                 "end %(end)s.")),
             ("11.1.2", DATE_START_ACTUAL, DATE_END_ACTUAL, _("The actual start %(start)s is after the actual end "
                                                              "%(end)s.")))
    for rule, start, end, message in pairs:
        if start in dates and end in dates and dates[start] > dates[end]:
            found.append(Violation(rule, message % {"start": dates[start].isoformat(), "end": dates[end].isoformat()},
                                   "activity_date"))
    if DATE_START_ACTUAL in dates and dates[DATE_START_ACTUAL] > today:
        found.append(Violation("11.1.3", _("The actual start %(day)s is in the future: the activity status says it "
                                           "has started.") % {"day": dates[DATE_START_ACTUAL].isoformat()},
                               "iati_activity_status"))
    if DATE_END_ACTUAL in dates and dates[DATE_END_ACTUAL] > today:
        found.append(Violation("11.1.4", _("The actual end %(day)s is in the future: the activity status says it "
                                           "has ended.") % {"day": dates[DATE_END_ACTUAL].isoformat()},
                               "iati_activity_status"))
    return found


def _transaction_dates(activity: Activity, today: date) -> list[Violation]:
    found = []
    for transaction in activity.transactions:
        if transaction.date > today:
            found.append(Violation("11.2.1", _("A transaction (%(what)s) is dated %(day)s, in the future.") % {
                "what": transaction.description, "day": transaction.date.isoformat()}, "transaction"))
        if transaction.value_date is not None and transaction.value_date > today:
            found.append(Violation("11.2.2", _("A transaction (%(what)s) has its value date %(day)s in the "
                                               "future.") % {"what": transaction.description,
                                                             "day": transaction.value_date.isoformat()},
                                   "transaction"))
    return found


def iati_export(grant, *, today: date | None = None):
    """The grant's IATI 2.03 document, as chunks of UTF-8 bytes (``reports.iati.iati_xml_chunks``),
    once it passes every rule here; else ``Conflict`` (409 ``iati_rules_failed``) with one error
    per violation, its ``rule`` the rule's number."""
    activity = iati_activity(grant)
    violations = iati_violations(activity, today=today or timezone.localdate())
    if violations:
        raise Conflict(
            _("The IATI export of %(grant)s would fail the IATI Validator's rules.") % {"grant": grant.code},
            code=ErrorCode.IATI_RULES_FAILED,
            errors=[{"code": ErrorCode.IATI_RULES_FAILED, "detail": f"{v.rule}: {v.detail}", "attr": v.attr,
                     "rule": v.rule} for v in violations],
        )
    return iati_xml_chunks(activity)
