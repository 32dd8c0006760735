"""An auditor's check: statement digests, and ``ledger_check``, which recomputes from the raw records.

Digests
- When finance accepts a partner's quarterly statement (``expenditures.statements.statement_accept``)
  ``statement_seal`` stores on it a SHA-256 (``digest``) of a canonical text of: the statement's
  header (grant, partner, period, its five money fields with their currency, status accepted);
  every ledger expenditure of that grant, partner and quarter (dated in it, any status, by id:
  id, date, line code, location code, amount, currency, EUR value, rate, method, unfunded XOF,
  voucher, status, the row it adjusts); their fifo funding pieces (transfer, XOF, EUR, rate);
  and ``previous_digest``, the digest of the partner's latest accepted statement of that grant
  for an earlier quarter ("" for the first). The digests form a chain, as accounting systems
  chain their entries: a change to an accepted quarter made by any path, raw SQL included,
  changes its digest, and rewriting that digest breaks the next quarter's link.
- Decimals are written in a fixed normal form (quantized to their column's places, no exponent,
  no negative zero), so SQLite and PostgreSQL give the same digest for the same records.
- The digests also live outside the database: the statement's API shows them, the donor workbook
  lists those of the quarters it covers.

``ledger_check`` (run whole, with the reports' footing, by ``reports.checks.ledger_check``: the
command ``ledger_check`` and the endpoint ``GET /api/v1/grants/{code}/check/``) reports each
discrepancy naming its record (expenditure, statement or budget version id), grant, partner and
quarter:

- ``conversion_stale``: a stored EUR value, rate or method that is not the conversion the grant's
  method gives today (``expenditures.fx.stale_conversions``; accepted quarters are frozen with the
  EUR they were accepted with and are not compared);
- ``digest_mismatch``: an accepted statement whose digest, recomputed from the records, is not the
  stored one; ``chain_broken``: one whose ``previous_digest`` is not the digest of the partner's
  previous accepted quarter;
- ``report_not_footing`` (``reports.checks.check_footing``, passed in as one of ``checks``): a
  grouping of the variance report (line, partner, location, year,
  quarter, heading) whose rows do not add up to its total, or whose total is not the exact sum of
  the stored EUR values of the counted expenditures, to the cent;
- ``allocations_not_total``: an approved or superseded budget version whose allocations do not
  add up to the grant's total (a draft's are only noted: it may be work in progress).

It reads at database speed: rows are streamed (``iterator(chunk_size=5000)``), with a fixed
number of queries per partner and per accepted statement, none per row. Money is summed exactly
(``grants.money.money_sum``: integer cents on either database, Decimal in Python), never as float.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from budget.models import Allocation, BudgetLine, BudgetVersion, VersionStatus
from expenditures import fx
from expenditures.models import (
    Expenditure,
    ExpenditureFunding,
    QuarterlyStatement,
    StatementReopening,
    StatementStatus,
)
from grants.models import Grant, Location, Partner
from grants.money import money_sum
from grants.periods import quarter_bounds, quarter_label, quarter_label_of

DIGEST_FORMAT = "ledger-digest/1"
CHUNK_SIZE = 5000
CENTS = Decimal("0.01")
WHOLE = Decimal("1")
RATE = Decimal("0.000001")
STATEMENT_MONEY = ("opening_balance", "funds_received", "closing_balance", "cash_on_hand", "bank_balance")
EXPENDITURE_FIELDS = ("id", "date", "budget_line_id", "location_id", "amount", "amount_currency", "amount_eur",
                      "fx_rate", "fx_method", "unfunded_xof", "voucher", "status", "adjusts_id")
FUNDING_FIELDS = ("expenditure_id", "transfer_id", "xof", "eur", "rate")
REPORT_GROUPINGS = ("line", "partner", "location", "year", "quarter", "heading")


class Kind:
    CONVERSION_STALE = "conversion_stale"
    DIGEST_MISMATCH = "digest_mismatch"
    CHAIN_BROKEN = "chain_broken"
    REPORT_NOT_FOOTING = "report_not_footing"
    ALLOCATIONS_NOT_TOTAL = "allocations_not_total"
    # Notes, not discrepancies:
    DRAFT_NOT_TOTAL = "draft_allocations_not_total"
    CHAIN_REORDERED = "chain_reordered"


# --- digests ---------------------------------------------------------------------------------------

def _fixed(value: Decimal | None, quantum: Decimal) -> str:
    """A decimal in one text whatever the database returned: its column's places, no exponent,
    no negative zero."""
    if value is None:
        return ""
    value = Decimal(value).quantize(quantum)
    if not value:
        value = abs(value)
    return format(value, "f")


def _text(value) -> str:
    """Text fields as they are, with the separators escaped so that no field can fake another."""
    return "" if value is None else str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


class _Codes:
    """Line and location codes by id, read once (they are few): the rows' queries need no join."""

    def __init__(self) -> None:
        self._lines: dict[int, dict[int, str]] = {}
        self._locations: dict[int, str] | None = None

    def lines(self, grant_id: int) -> dict[int, str]:
        if grant_id not in self._lines:
            self._lines[grant_id] = dict(BudgetLine.objects.filter(grant_id=grant_id).values_list("id", "code"))
        return self._lines[grant_id]

    def locations(self) -> dict[int, str]:
        if self._locations is None:
            self._locations = dict(Location.objects.values_list("id", "code"))
        return self._locations


def _reading_whole_results() -> None:
    """In the current transaction, let PostgreSQL plan server-side cursors for reading every row.

    By default it plans a cursor for its first tenth (``cursor_tuple_fraction`` 0.1): a quarter's
    rows by id then come through the primary key, scanning the whole table for each quarter (a
    million rows: 36 s to seal 48 quarters instead of a few), not through the index on grant,
    partner and date then a sort."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")


def _digests(statements: list[QuarterlyStatement], *, previous: dict[int, str], codes: _Codes,
             grant_code: str, partner_code: str) -> dict[int, str]:
    """The digest of each of ``statements`` (one grant, one partner), chained to ``previous[pk]``:
    two queries whatever their number (the rows of their quarters by id, then their funding
    pieces), each row fed to its quarter's hash."""
    if not statements:
        return {}
    with transaction.atomic():
        _reading_whole_results()
        return _digests_read(statements, previous=previous, codes=codes, grant_code=grant_code,
                             partner_code=partner_code)


def _digests_read(statements: list[QuarterlyStatement], *, previous: dict[int, str], codes: _Codes,
                  grant_code: str, partner_code: str) -> dict[int, str]:
    grant_id, partner_id = statements[0].grant_id, statements[0].partner_id
    hashes: dict[tuple[int, int], object] = {}
    within = Q()
    for statement in statements:
        sha = hashlib.sha256()
        header = [DIGEST_FORMAT, "statement", _text(grant_code), _text(partner_code),
                  quarter_label(statement.year, statement.quarter)]
        for name in STATEMENT_MONEY:
            money = getattr(statement, name)
            header += [f"{name}={_fixed(money.amount, CENTS)}", _text(money.currency)]
        header.append(f"status={StatementStatus.ACCEPTED}")
        sha.update(("|".join(header) + "\n").encode())
        hashes[(statement.year, statement.quarter)] = sha
        start, end = quarter_bounds(statement.year, statement.quarter)
        within |= Q(date__gte=start, date__lte=end)
    # Codes escaped once; decimals quantized inline (the loop runs once per row: a function call
    # per field would double its cost). ``+ 0`` turns a negative zero into zero.
    lines = {pk: _text(code) for pk, code in codes.lines(grant_id).items()}
    locations = {pk: _text(code) for pk, code in codes.locations().items()}
    cents, whole, places = CENTS, WHOLE, RATE

    rows = Expenditure.objects.filter(within, grant_id=grant_id, partner_id=partner_id).order_by("id")
    quarter_by_row: dict[int, tuple[int, int]] = {}
    for (pk, day, line_id, location_id, amount, currency, eur, rate, method, unfunded, voucher, status,
         adjusts) in rows.values_list(*EXPENDITURE_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        key = (day.year, (day.month - 1) // 3 + 1)  # grants.periods.quarter_of, inline: once per row
        quarter_by_row[pk] = key
        if "|" in voucher or "\\" in voucher or "\n" in voucher:
            voucher = _text(voucher)
        hashes[key].update(
            (f"e|{pk}|{day.isoformat()}|{lines.get(line_id) or f'#{line_id}'}|"
             f"{locations.get(location_id) or f'#{location_id}'}|{amount.quantize(cents) + 0:f}|{currency}|"
             f"{eur.quantize(cents) + 0:f}|{rate.quantize(places) + 0:f}|{method}|"
             f"{unfunded.quantize(whole) + 0:f}|{voucher}|{status}|{'' if adjusts is None else adjusts}\n").encode())
    pieces = (ExpenditureFunding.objects
              .filter(expenditure__grant_id=grant_id, expenditure__partner_id=partner_id,
                      expenditure_id__in=rows.values("id"))
              .order_by("expenditure_id", "id").values_list(*FUNDING_FIELDS))
    for expenditure_id, transfer_id, xof, eur, rate in pieces.iterator(chunk_size=CHUNK_SIZE):
        key = quarter_by_row.get(expenditure_id)
        if key is None:  # a row written between the two queries: it changes the digest anyway
            continue
        hashes[key].update((f"f|{expenditure_id}|{'' if transfer_id is None else transfer_id}|"
                            f"{_fixed(xof, WHOLE)}|{_fixed(eur, CENTS)}|{_fixed(rate, RATE)}\n").encode())
    result = {}
    for statement in statements:
        sha = hashes[(statement.year, statement.quarter)]
        sha.update(f"previous|{_text(previous.get(statement.pk, ''))}\n".encode())
        result[statement.pk] = sha.hexdigest()
    return result


def statement_digest(statement: QuarterlyStatement, *, previous_digest: str) -> str:
    """The SHA-256 (hex) of the statement's canonical text, its quarter's ledger rows and their
    funding pieces, chained to ``previous_digest``. Reads the rows; writes nothing."""
    return _digests([statement], previous={statement.pk: previous_digest}, codes=_Codes(),
                    grant_code=Grant.objects.values_list("code", flat=True).get(pk=statement.grant_id),
                    partner_code=Partner.objects.values_list("code", flat=True).get(pk=statement.partner_id),
                    )[statement.pk]


def _earlier(year: int, quarter: int) -> Q:
    return Q(year__lt=year) | Q(year=year, quarter__lt=quarter)


def previous_accepted(statement: QuarterlyStatement) -> QuarterlyStatement | None:
    """The partner's latest accepted statement of the grant for a quarter before ``statement``'s."""
    return (QuarterlyStatement.objects
            .filter(_earlier(statement.year, statement.quarter), grant_id=statement.grant_id,
                    partner_id=statement.partner_id, status=StatementStatus.ACCEPTED)
            .exclude(pk=statement.pk).order_by("-year", "-quarter").first())


def statement_seal(statement: QuarterlyStatement) -> None:
    """Set ``statement.previous_digest`` and ``statement.digest`` (does not save). Called by
    ``statement_accept`` once the quarter's rows are validated, just before the statement is saved."""
    previous = previous_accepted(statement)
    statement.previous_digest = previous.digest if previous is not None else ""
    statement.digest = statement_digest(statement, previous_digest=statement.previous_digest)


def accepted_digests(*, grant: Grant, as_of: date, partner: Partner | None = None) -> list[dict]:
    """The accepted statements of the quarters up to ``as_of`` (those starting on or before it),
    by partner and period, with their digests and reopenings: what the donor workbook lists."""
    statements = (QuarterlyStatement.objects.filter(grant=grant, status=StatementStatus.ACCEPTED)
                  .select_related("partner").order_by("partner__code", "year", "quarter"))
    if partner is not None:
        statements = statements.filter(partner=partner)
    statements = [s for s in statements if quarter_bounds(s.year, s.quarter)[0] <= as_of]
    reopenings = defaultdict(list)
    for reopening in StatementReopening.objects.filter(statement__in=[s.pk for s in statements]).order_by(
            "reopened_at", "id"):
        reopenings[reopening.statement_id].append({"reason": reopening.reason, "digest": reopening.digest,
                                                   "reopened_at": reopening.reopened_at})
    return [{"partner": s.partner.code, "period": s.period, "accepted_at": s.reviewed_at, "digest": s.digest,
             "previous_digest": s.previous_digest, "reopenings": reopenings.get(s.pk, [])} for s in statements]


# --- the check ----------------------------------------------------------------------------------

@dataclass
class Discrepancy:
    kind: str
    detail: str
    grant: str
    partner: str | None = None
    quarter: str | None = None
    expenditure: int | None = None
    statement: int | None = None
    version: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def record(self) -> str:
        for name in ("expenditure", "statement", "version"):
            value = getattr(self, name)
            if value is not None:
                return f"{name} {value}"
        return "grant"


@dataclass
class Report:
    grants: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    notes: list[Discrepancy] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    checked_at: object = None

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def as_dict(self) -> dict:
        return {"checked_at": self.checked_at, "grants": list(self.grants), "ok": self.ok,
                "counts": dict(self.counts), "discrepancies": [d.as_dict() for d in self.discrepancies],
                "notes": [n.as_dict() for n in self.notes]}


def exact_sum(queryset: QuerySet, column: str, group: str | None = None):
    """The exact sum of a 2-decimal column, as Decimal (by ``group`` when given), zero over no rows:
    ``money_sum``, exact on either database."""
    total = money_sum(column)

    def shaped(value) -> Decimal:
        return value if value is not None else CENTS * 0

    if group is None:
        return shaped(queryset.order_by().aggregate(total=total)["total"])
    rows = queryset.order_by().values(group).annotate(total=total).values_list(group, "total")
    return {key: shaped(value) for key, value in rows}


def _check_conversions(grant: Grant, partner: Partner, report: Report) -> None:
    stale = fx.stale_conversions(grant=grant, partner=partner)
    report.counts["partners_converted"] += 1
    if not stale:
        return
    ids = sorted(stale)
    days: dict[int, date] = {}
    for start in range(0, len(ids), CHUNK_SIZE):
        days.update(Expenditure.objects.filter(pk__in=ids[start:start + CHUNK_SIZE]).values_list("id", "date"))
    for pk in ids:
        stored, expected = stale[pk]
        day = days.get(pk)
        report.discrepancies.append(Discrepancy(
            Kind.CONVERSION_STALE,
            _("Stored conversion %(stored)s is not %(expected)s under the grant's method.") % {
                "stored": _shown(stored), "expected": _shown(expected)},
            grant.code, partner.code,
            quarter_label_of(day) if day else None, expenditure=pk))


def _shown(values) -> str:
    if isinstance(values, tuple | list):
        return "(" + ", ".join(_shown(v) for v in values) + ")"
    if isinstance(values, Decimal):
        return format(values, "f")
    return str(values)


def _check_statements(grant: Grant, report: Report, codes: _Codes, tick: Callable[[], None]) -> None:
    statements = list(QuarterlyStatement.objects.filter(grant=grant, status=StatementStatus.ACCEPTED)
                      .select_related("partner").order_by("partner__code", "year", "quarter"))
    reopened: dict[int, set[str]] = defaultdict(set)
    for statement_id, digest in StatementReopening.objects.filter(
            statement__in=[s.pk for s in statements]).values_list("statement_id", "digest"):
        reopened[statement_id].add(digest)
    by_partner: dict[int, list[QuarterlyStatement]] = defaultdict(list)
    for statement in statements:
        by_partner[statement.partner_id].append(statement)
    for chain in by_partner.values():
        digests = _digests(chain, previous={s.pk: s.previous_digest for s in chain}, codes=codes,
                           grant_code=grant.code, partner_code=chain[0].partner.code)
        for index, statement in enumerate(chain):
            partner, period = statement.partner.code, statement.period
            recomputed = digests[statement.pk]
            report.counts["statements"] += 1
            if recomputed != statement.digest:
                report.discrepancies.append(Discrepancy(
                    Kind.DIGEST_MISMATCH,
                    _("The statement's records do not give its digest any more (stored %(stored)s, recomputed "
                      "%(recomputed)s): a row, a conversion or the statement changed since it was accepted.") % {
                        "stored": statement.digest or "-", "recomputed": recomputed},
                    grant.code, partner, period, statement=statement.pk))
            _check_link(grant, statement, chain[:index], reopened, report)
            tick()


def _check_link(grant: Grant, statement: QuarterlyStatement, earlier: list[QuarterlyStatement],
                reopened: dict[int, set[str]], report: Report) -> None:
    """``previous_digest`` is the digest of the partner's previous accepted quarter. Accepted out of
    order, or chained to a quarter reopened and accepted again since, it is only noted, as long as it
    is a digest that quarter has had (stored, or kept by its reopening)."""
    expected = earlier[-1].digest if earlier else ""
    if statement.previous_digest == expected:
        return
    known = {s.digest for s in earlier} | {d for s in earlier for d in reopened.get(s.pk, ())}
    accepted_first = statement.previous_digest == "" and all(
        s.reviewed_at and statement.reviewed_at and s.reviewed_at > statement.reviewed_at for s in earlier)
    where = (grant.code, statement.partner.code, statement.period)
    if statement.previous_digest in known or accepted_first:
        report.notes.append(Discrepancy(
            Kind.CHAIN_REORDERED,
            _("Chained to %(previous)s, an earlier digest of the partner's quarters, not to the previous "
              "quarter's current digest %(expected)s (accepted out of order, or a quarter reopened since).") % {
                "previous": statement.previous_digest or "-", "expected": expected or "-"},
            *where, statement=statement.pk))
        return
    report.discrepancies.append(Discrepancy(
        Kind.CHAIN_BROKEN,
        _("The previous digest %(previous)s is not the digest of the partner's previous accepted quarter "
          "(%(expected)s).") % {"previous": statement.previous_digest or "-", "expected": expected or "-"},
        *where, statement=statement.pk))


def _check_versions(grant: Grant, report: Report) -> None:
    total = grant.total.amount.quantize(CENTS)
    sums = exact_sum(Allocation.objects.filter(version__grant=grant), "amount", group="version_id")
    for version in BudgetVersion.objects.filter(grant=grant).order_by("number"):
        report.counts["versions"] += 1
        allocated = sums.get(version.pk, Decimal("0.00"))
        if allocated == total:
            continue
        detail = _("Version %(number)s's allocations add up to %(allocated)s EUR, not the grant's total "
                   "%(total)s EUR (a difference of %(difference)s).") % {
            "number": version.number, "allocated": allocated, "total": total, "difference": allocated - total}
        finding = Discrepancy(Kind.ALLOCATIONS_NOT_TOTAL if version.status != VersionStatus.DRAFT
                              else Kind.DRAFT_NOT_TOTAL, detail, grant.code, version=version.number)
        (report.notes if version.status == VersionStatus.DRAFT else report.discrepancies).append(finding)


def ledger_check(*, grant: Grant | None = None, progress: Callable[[int, int], None] | None = None,
                 checks: Sequence[Callable[[Grant, Report], None]] = ()) -> Report:
    """Recompute every grant's (or ``grant``'s) figures from the raw records and report each
    discrepancy (see the module's docstring). ``progress(done, total)`` is called as it goes.

    ``checks``: further checks of a grant, run after the ledger's own; the layers above pass
    theirs (``reports.checks.ledger_check`` adds that every report grouping foots), so that this
    app imports nothing above it."""
    grants = [grant] if grant is not None else list(Grant.objects.order_by("code"))
    report = Report(grants=[g.code for g in grants], checked_at=timezone.now())
    partners = {g.pk: list(g.partners.order_by("code")) for g in grants}
    accepted = dict(QuarterlyStatement.objects.filter(grant__in=grants, status=StatementStatus.ACCEPTED)
                    .order_by().values("grant_id").annotate(n=Count("id")).values_list("grant_id", "n"))
    total = sum(len(partners[g.pk]) + (accepted.get(g.pk) or 0) + 2 for g in grants)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    codes = _Codes()
    # In a transaction: PostgreSQL's server-side cursors then need no WITH HOLD (which copies every
    # row it streams before the first is read).
    with transaction.atomic():
        _reading_whole_results()
        for g in grants:
            for partner in partners[g.pk]:
                _check_conversions(g, partner, report)
                tick()
            _check_statements(g, report, codes, tick)
            for check in checks:
                check(g, report)
            tick()
            _check_versions(g, report)
            tick()
    report.counts = dict(report.counts)
    return report
