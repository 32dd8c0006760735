"""Reads for the reports: a few aggregated rows from the database, nothing computed in Python.

Everything a report needs is gathered here into a ``ReportInputs``: the grant's facts, the
labels of its lines, partners and locations, the allocations of one budget version, and the
counted spending summed by line x partner x location x month (the finest grain, ``GRAIN``) or
by only those of them a report needs (``grain``: the variance report by line reads a ``GROUP BY``
of the line alone, not the finer groups to be added up again). Money leaves the database as
whole cents (``int64``, ``grants.money.minor_units``): each row is rounded to its cents and the
integers are added, exactly on either database (SQLite stores decimals as REAL). No float ever
carries an amount into a frame.

The report functions (``reports.variance``, ``reports.burn_rate``, ``reports.beneficiaries``)
take a ``ReportInputs`` and never touch the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from expenditures.fields import WORKBOOK_COLUMNS, workbook_sources
from expenditures.models import COUNTED_STATUSES, Expenditure
from grants.models import Grant, Location, Partner
from grants.money import minor_units
from grants.periods import month_index

ALLOCATION_COLUMNS = ["line_id", "partner_id", "location_id", "year", "cents"]
ACTUAL_COLUMNS = ["line_id", "partner_id", "location_id", "month", "cents"]
# What counted spending can be summed by, finest first to last: each name's frame column and
# the expenditure's field it is read from (``month`` is the date's month, see ``actual_rows``).
GRAIN = ("line", "partner", "location", "month")
GRAIN_COLUMN = {"line": "line_id", "partner": "partner_id", "location": "location_id", "month": "month"}
GRAIN_FIELD = {"line": "budget_line_id", "partner": "partner_id", "location": "location_id",
               "month": "month_start"}


class UnknownVersion(LookupError):
    """The grant has no approved or superseded budget version of that number."""


@dataclass(frozen=True)
class LineInfo:
    id: int
    code: str
    heading_id: int
    label_fr: str
    label_en: str
    position: int
    is_heading: bool
    beneficiary_target: int | None
    beneficiary_unit: str

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


@dataclass(frozen=True)
class NamedInfo:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class VersionInfo:
    number: int
    label: str
    status: str


@dataclass(frozen=True)
class ReportInputs:
    """What every report of one grant, version, as-of date and scope is computed from.

    ``allocations``: one row per allocation of the version (``ALLOCATION_COLUMNS``, cents int64).
    ``actuals``: counted spending dated from the start to ``as_of``, summed per ``grain`` (by
    default line x partner x location x month), ``month`` being the month's index from the
    grant's start month (0 first); its columns are ``grain_columns(grain)`` and ``cents``.
    """

    grant_code: str
    grant_title: str
    start_date: date
    end_date: date
    months: int
    tolerance_pct: Decimal
    fx_method: str
    as_of: date
    version: VersionInfo | None
    partner_code: str | None
    statuses: tuple[str, ...]
    lines: dict[int, LineInfo]
    partners: dict[int, NamedInfo]
    locations: dict[int, NamedInfo]
    allocations: pd.DataFrame
    actuals: pd.DataFrame
    # With ``compare``: another version's allocations, to show its budget beside this one's.
    compared: VersionInfo | None = None
    compared_allocations: pd.DataFrame | None = None
    # What ``actuals`` is summed by: some of ``GRAIN``, in its order.
    grain: tuple[str, ...] = GRAIN


def normalize_grain(grain: Iterable[str]) -> tuple[str, ...]:
    """``grain`` as distinct names of ``GRAIN`` in its order; ValueError for anything else or none."""
    names = set(grain)
    if not names or not names <= set(GRAIN):
        raise ValueError(f"a grain is one or more of {', '.join(GRAIN)}, not {sorted(names)}")
    return tuple(name for name in GRAIN if name in names)


def grain_columns(grain: Iterable[str]) -> list[str]:
    """The frame columns of ``grain``'s names, e.g. ``("line", "month")`` -> ``["line_id", "month"]``."""
    return [GRAIN_COLUMN[name] for name in normalize_grain(grain)]


def report_as_of(grant: Grant, as_of: date | None, *, today: date | None = None) -> date:
    """The as-of date a report uses: ``as_of`` or today, capped at the grant's end.

    A date before the start is kept: the report then shows the budget and nothing else.
    """
    day = as_of or today or date.today()
    return min(day, grant.end_date)


def budget_version_for(*, grant: Grant, number: int | None = None) -> BudgetVersion | None:
    """The one place a report finds its budget version.

    ``number`` None: the grant's current version (None when it has none yet). Otherwise the
    approved or superseded version of that number; a draft never feeds a report.
    Raises ``UnknownVersion`` when there is no such version.
    """
    versions = BudgetVersion.objects.filter(grant=grant)
    if number is None:
        return versions.filter(is_current=True).first()
    version = versions.filter(
        number=number, status__in=[VersionStatus.APPROVED, VersionStatus.SUPERSEDED]
    ).first()
    if version is None:
        raise UnknownVersion(_("%(grant)s has no approved or superseded version %(number)s.") % {
            "grant": grant.code, "number": number})
    return version


def counted_expenditures(*, grant: Grant, as_of: date, partner: Partner | None = None,
                         statuses: Iterable[str] = COUNTED_STATUSES) -> QuerySet[Expenditure]:
    """The expenditures a report counts: the grant's, of those statuses, dated up to ``as_of``."""
    qs = Expenditure.objects.filter(grant=grant, status__in=list(statuses), date__lte=as_of)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return qs


def actual_rows(*, grant: Grant, as_of: date, partner: Partner | None = None,
                statuses: Iterable[str] = COUNTED_STATUSES, grain: Iterable[str] = GRAIN) -> pd.DataFrame:
    """Counted spending summed in SQL by ``grain`` (some of line, partner, location, month; all
    of them by default, ``ACTUAL_COLUMNS``): one ``GROUP BY`` of those columns only, columns
    ``grain_columns(grain)`` then ``cents``."""
    grain = normalize_grain(grain)
    qs = counted_expenditures(grant=grant, as_of=as_of, partner=partner, statuses=statuses)
    if "month" in grain:
        qs = qs.annotate(month_start=TruncMonth("date"))
    fields = [GRAIN_FIELD[name] for name in grain]
    rows = (
        qs.values(*fields)
        .annotate(cents=Sum(minor_units("amount_eur")))
        .order_by()
        .values_list(*fields, "cents")
    )
    columns = grain_columns(grain) + ["cents"]
    if "month" not in grain:
        return _frame(list(rows), columns)
    start = grant.start_date
    at = grain.index("month")
    records = [
        (*row[:at], month_index(start, _as_date(row[at])), *row[at + 1:])
        for row in rows
    ]
    return _frame(records, columns)


def allocation_rows(*, version: BudgetVersion | None, partner: Partner | None = None) -> pd.DataFrame:
    """The version's allocations (``ALLOCATION_COLUMNS``), amounts as cents."""
    if version is None:
        return _frame([], ALLOCATION_COLUMNS)
    qs = Allocation.objects.filter(version=version)
    if partner is not None:
        qs = qs.filter(partner=partner)
    rows = (
        qs.annotate(cents=minor_units("amount"))
        .order_by()
        .values_list("budget_line_id", "partner_id", "location_id", "year", "cents")
    )
    return _frame(list(rows), ALLOCATION_COLUMNS)


def report_inputs(*, grant: Grant, as_of: date, version: BudgetVersion | None = None,
                  partner: Partner | None = None,
                  statuses: Iterable[str] = COUNTED_STATUSES,
                  compare: BudgetVersion | None = None, grain: Iterable[str] = GRAIN) -> ReportInputs:
    """Everything the reports of ``grant`` need, restricted to ``partner``'s allocations and
    spending when one is given. ``version`` None means the budget is empty (a grant with no
    approved version yet); callers pick it with ``budget_version_for``. ``compare``: another
    version whose budget the variance report shows beside this one's. ``grain``: what the
    spending is summed by (the finest by default, which every report can use; a report that
    needs less says so, e.g. ``reports.variance.actual_grain``)."""
    statuses = tuple(str(s) for s in statuses)
    grain = normalize_grain(grain)
    allocations = allocation_rows(version=version, partner=partner)
    compared_allocations = allocation_rows(version=compare, partner=partner) if compare is not None else None
    actuals = actual_rows(grant=grant, as_of=as_of, partner=partner, statuses=statuses, grain=grain)
    lines = {
        line.id: LineInfo(
            id=line.id, code=line.code, heading_id=line.parent_id or line.id,
            label_fr=line.label_fr, label_en=line.label_en, position=line.position,
            is_heading=line.parent_id is None, beneficiary_target=line.beneficiary_target,
            beneficiary_unit=line.beneficiary_unit,
        )
        for line in BudgetLine.objects.filter(grant=grant)
    }
    partner_ids = set(allocations["partner_id"]) | set(actuals.get("partner_id", ()))
    location_ids = set(allocations["location_id"]) | set(actuals.get("location_id", ()))
    if compared_allocations is not None:
        partner_ids |= set(compared_allocations["partner_id"])
        location_ids |= set(compared_allocations["location_id"])
    partners = {
        p.id: NamedInfo(p.id, p.code, p.name)
        for p in Partner.objects.filter(id__in=[int(i) for i in partner_ids])
    }
    locations = {
        loc.id: NamedInfo(loc.id, loc.code, loc.name)
        for loc in Location.objects.filter(id__in=[int(i) for i in location_ids])
    }
    return ReportInputs(
        grant_code=grant.code, grant_title=grant.title, start_date=grant.start_date,
        end_date=grant.end_date, months=grant.months, tolerance_pct=grant.variance_tolerance_pct,
        fx_method=grant.fx_method, as_of=as_of,
        version=(VersionInfo(version.number, version.label, version.status) if version else None),
        partner_code=partner.code if partner else None, statuses=statuses,
        lines=lines, partners=partners, locations=locations,
        allocations=allocations, actuals=actuals,
        compared=(VersionInfo(compare.number, compare.label, compare.status) if compare else None),
        compared_allocations=compared_allocations, grain=grain,
    )


# What the workbook's expenditure detail reads, from its columns (expenditures.fields).
DETAIL_FIELDS = tuple(dict.fromkeys(
    source for column, field in WORKBOOK_COLUMNS for source in workbook_sources(column, field)))


def expenditure_detail(*, grant: Grant, as_of: date, partner: Partner | None = None,
                       statuses: Iterable[str] = COUNTED_STATUSES,
                       chunk_size: int = 5000) -> Iterator[dict]:
    """Every counted expenditure, oldest first, streamed from a server-side cursor in chunks,
    so that memory stays flat however many there are."""
    qs = (
        counted_expenditures(grant=grant, as_of=as_of, partner=partner, statuses=statuses)
        .order_by("date", "id")
        .values_list(*DETAIL_FIELDS)
    )
    for values in qs.iterator(chunk_size=chunk_size):
        yield dict(zip(DETAIL_FIELDS, values, strict=True))


def _as_date(value) -> date:
    # TruncMonth on a DateField gives a date; some backends hand back a datetime.
    return value.date() if isinstance(value, datetime) else value


def _frame(records: list[tuple], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.astype({column: "int64" for column in columns})
