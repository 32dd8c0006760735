"""Turning XOF into EUR under a grant's method, and keeping stored conversions what it says.

One engine: ``convert`` gives the stored conversion of one expenditure (``amount_eur``,
``fx_rate``, ``fx_method``, ``rate_missing``, ``unfunded_xof`` and, under fifo, its funding
pieces). Every path calls it: ``apply_conversion`` before a row is written, ``revalue_partner``
(and ``stale_conversions``) for a partner's rows in batch, and the demo-data generator
(``expenditures.demo_data``). The rate always comes from the rate table or from the transfers; the
arithmetic is Decimal, divides by the full rate and rounds once, half up, to the cent
(``grants.money.divide_to_eur``); the one fallback is the parity (the standing rate).

The four methods (``grants.models.FxMethod``; DOMAIN.md says why, issue 4 says exactly what):

- ``parity``: the standing rate (655.957).
- ``monthly_rate``: the rate of the expenditure's month; the parity, flagged ``rate_missing``,
  where the month has none.
- ``weighted_average``: XOF received / EUR sent to the partner on the grant, counting transfers
  received on or before the expenditure's date; the parity before the first one.
- ``fifo``: the partner's transfers on the grant, by ``received_on`` then id, are tranches of XOF
  at their own rate (received / sent; fees stay apart). The partner's counted XOF expenditures
  (``COUNTED_STATUSES``), by date then id, consume them in order whatever their dates. A piece
  taken from a tranche is converted at its rate and rounded half up to the cent, except that a
  tranche never gives more EUR than was sent for it: where the half-up values of its pieces would
  add up to more, the piece that would overshoot gets what is left. XOF beyond all tranches is converted
  at the parity and stored in ``unfunded_xof``. The pieces are ``ExpenditureFunding`` rows;
  ``amount_eur`` is their sum. Draft and rejected expenditures consume nothing: they are shown
  at the parity (``fx_method`` says ``parity``) until submitted.

Only transfers received (``received_on`` set) with a positive XOF amount count as funds.
EUR expenditures are never converted (rate 1). The rate stored on a row (``fx_rate``) is the rate
used, to 6 decimals: the parity (655.957), the month's rate, the weighted average (received / sent)
or, under fifo, the rate of the one tranche it was paid from; never the XOF over the rounded EUR
(1,000 XOF at the parity is 1.52 EUR, which would read 657.894737). A fifo row paid from several
tranches has no one rate: it stores its XOF over its EUR, and its pieces carry each tranche's rate.

Frozen rows (DOMAIN rule 8). A row dated in a quarter the partner's statement for that grant has
``accepted`` keeps the conversion it was accepted with: no revaluation (a method switch, a rate
edit, a transfer edit, another row's change) rewrites its stored values or its funding pieces.
Nor is a reversal ever rewritten (``adjusts`` set and a negative amount: the adjustment of a locked
quarter's row, whose EUR is the negative of the original's, fixed when it is made); a reversal
consumes no tranche. Under ``fifo`` the frozen rows' stored pieces are taken out of their tranches
first (XOF and EUR); the open rows then consume what remains of each tranche, oldest tranche first,
as above. Under ``weighted_average`` and ``monthly_rate`` the open rows are converted as if
nothing were frozen (their rate does not depend on other rows).

Who decides a row's conversion: ``apply_conversion`` before each write, alone for ``parity`` and
``monthly_rate``; for ``fifo`` and ``weighted_average``, whose rows depend on the partner's other
rows and transfers, ``apply_conversion`` stores the parity and ``revalue_partner`` settles the
partner's rows after the write (the hooks ``after_partner_change``,
``after_rate_change``), in the caller's transaction. A caller that needs the settled values reads
them back (``refresh_from_db(fields=STORED_FIELDS)``). Each revaluation answers a ``Revaluation``:
the rows moved, their EUR delta, the rows moved per quarter and the quarters left frozen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from moneyed import Money

from expenditures import lifecycle
from expenditures.models import (
    COUNTED_STATUSES,
    ExchangeRate,
    Expenditure,
    ExpenditureFunding,
    ExpenditureStatus,
    FundTransfer,
    QuarterlyStatement,
    StatementStatus,
)
from grants.models import FxMethod, Grant, Partner
from grants.money import EUR, XOF, divide_to_eur, quantize_amount
from grants.periods import quarter_label_of, quarter_of

ONE = Decimal("1")
ZERO_XOF = Decimal("0")
ZERO_EUR = Decimal("0.00")
RATE_PLACES = Decimal("0.000001")
ONE_RATE = ONE.quantize(RATE_PLACES)
# Rows written per round of queries: a revaluation costs a fixed number of queries per batch.
BATCH_SIZE = 1000
# Methods whose conversions depend on the partner's other rows and transfers.
PARTNER_METHODS = (FxMethod.FIFO, FxMethod.WEIGHTED_AVERAGE)
STORED_FIELDS = ("amount_eur", "fx_rate", "fx_method", "rate_missing", "unfunded_xof")


class RateMissing(LookupError):
    pass


# --- rates ---------------------------------------------------------------------------------------

def parity_rate(currency: str = XOF) -> Decimal:
    """The standing rate of ``currency`` (655.957 for XOF), from the rate table."""
    rate = (
        ExchangeRate.objects.filter(currency=currency, month__isnull=True)
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise RateMissing(f"no standing rate for {currency} in the rate table")
    return rate


def monthly_rate(month: date, currency: str = XOF) -> Decimal | None:
    return (
        ExchangeRate.objects.filter(currency=currency, month=month.replace(day=1))
        .values_list("rate", flat=True)
        .first()
    )


def monthly_rates(currency: str = XOF) -> dict[date, Decimal]:
    """Every monthly rate of ``currency``, by first day of the month (one query)."""
    return dict(
        ExchangeRate.objects.filter(currency=currency, month__isnull=False).values_list("month", "rate")
    )


def convert_to_eur(amount: Money, *, rate: Decimal | None = None) -> Money:
    """``amount`` in EUR: EUR unchanged; XOF divided by ``rate`` (default: the parity), half up
    to the cent. Refuses anything but a ``Money`` in XOF or EUR."""
    if not isinstance(amount, Money):
        raise TypeError("convert_to_eur takes a Money")
    currency = str(amount.currency)
    if currency == EUR:
        return Money(amount.amount, EUR)
    if currency != XOF:
        raise ValueError(f"cannot convert {currency}")
    return Money(divide_to_eur(amount.amount, rate if rate is not None else parity_rate()), EUR)


def shown_rate(xof: Decimal, eur: Decimal, fallback: Decimal) -> Decimal:
    """XOF over EUR to 6 decimals (``fallback`` when the EUR rounds to zero): the rate stored for a
    fifo row paid from several tranches, which has no one rate."""
    if not eur:
        return fallback.quantize(RATE_PLACES)
    return (xof / eur).quantize(RATE_PLACES)


def rate_used(rate: Decimal) -> Decimal:
    """The rate stored on a row: the one its EUR was computed with, to 6 decimals."""
    return rate.quantize(RATE_PLACES)


class RateBook:
    """The rate table read once, for converting many rows in a few queries instead of one or two
    a row. Rates are read on first use; ``parity`` may be given (no query for it then)."""

    def __init__(self, currency: str = XOF, *, parity: Decimal | None = None):
        self.currency = currency
        self._parity = parity
        self._monthly: dict[date, Decimal] | None = None

    def parity(self) -> Decimal:
        if self._parity is None:
            self._parity = parity_rate(self.currency)
        return self._parity

    def monthly(self, day: date) -> Decimal | None:
        if self._monthly is None:
            self._monthly = monthly_rates(self.currency)
        return self._monthly.get(day.replace(day=1))


# --- the partner's funds -------------------------------------------------------------------------------

class Piece(NamedTuple):
    """XOF of one expenditure taken from one tranche (``transfer_id`` None: unfunded)."""

    transfer_id: int | None
    xof: Decimal
    eur: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Tranche:
    """XOF a partner received from one transfer, and the EUR sent for them."""

    transfer_id: int | None
    received_on: date
    xof: Decimal
    eur: Decimal

    @cached_property
    def rate(self) -> Decimal:
        return (self.xof / self.eur).quantize(RATE_PLACES)

    def to_eur(self, xof: Decimal) -> Decimal:
        # xof / (received / sent) with the full rate: xof x sent / received, rounded once.
        return divide_to_eur(xof * self.eur, self.xof)


class FifoCursor:
    """Counted XOF expenditures, in order, consume ``tranches`` (in order) first in first out.

    ``consumed``: XOF and EUR already taken from a tranche, by transfer id (the stored pieces of
    frozen rows); the cursor starts with what remains of each tranche."""

    def __init__(self, tranches: Sequence[Tranche], parity: Decimal,
                 consumed: Mapping[int, tuple[Decimal, Decimal]] | None = None):
        self.parity = parity
        self.tranches = [t for t in tranches if t.xof > 0 and t.eur > 0]
        consumed = consumed or {}
        # [tranche, XOF left, EUR left] for each tranche with XOF left, in order
        self._left: list[list] = []
        for tranche in self.tranches:
            used_xof, used_eur = consumed.get(tranche.transfer_id, (ZERO_XOF, ZERO_EUR))
            if tranche.xof - used_xof > 0:
                self._left.append([tranche, tranche.xof - used_xof, max(tranche.eur - used_eur, ZERO_EUR)])
        self.index = 0

    def take(self, xof: Decimal) -> tuple[Piece, ...]:
        """The pieces ``xof`` is paid from; consumes them. Their XOF add up to ``xof``."""
        pieces = []
        rest = xof
        while rest > 0 and self.index < len(self._left):
            slot = self._left[self.index]
            tranche, xof_left, eur_left = slot
            taken = min(rest, xof_left)
            # Half up, but never more EUR than the tranche still holds: rounding its pieces up
            # must not make the partner's funded spending exceed the EUR sent.
            eur = min(tranche.to_eur(taken), eur_left)
            pieces.append(Piece(tranche.transfer_id, taken, eur, tranche.rate))
            rest -= taken
            slot[1] = xof_left - taken
            slot[2] = eur_left - eur
            if taken == xof_left:
                self.index += 1
        if rest > 0:
            pieces.append(Piece(None, rest, divide_to_eur(rest, self.parity), self.parity.quantize(RATE_PLACES)))
        return tuple(pieces)


class AverageRate:
    """XOF received and EUR sent up to a day, for days asked in non-decreasing order."""

    def __init__(self, tranches: Sequence[Tranche]):
        self.tranches = sorted((t for t in tranches if t.xof > 0 and t.eur > 0),
                               key=lambda t: t.received_on)
        self.index = 0
        self.xof = ZERO_XOF
        self.eur = ZERO_EUR

    def upto(self, day: date) -> tuple[Decimal, Decimal]:
        if self.index and day < self.tranches[self.index - 1].received_on:
            raise ValueError("AverageRate is asked for days in order")
        while self.index < len(self.tranches) and self.tranches[self.index].received_on <= day:
            self.xof += self.tranches[self.index].xof
            self.eur += self.tranches[self.index].eur
            self.index += 1
        return self.xof, self.eur


def partner_tranches(grant: Grant, partner: Partner) -> list[Tranche]:
    """The partner's funds on the grant in fifo order (one query)."""
    rows = (
        FundTransfer.objects.filter(
            grant=grant, partner=partner, received_on__isnull=False,
            amount_received_currency=XOF, amount_received__gt=0,
        )
        .order_by("received_on", "id")
        .values_list("id", "received_on", "amount_received", "amount_sent")
    )
    return [Tranche(pk, received_on, xof, eur) for pk, received_on, xof, eur in rows]


# --- the engine ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conversion:
    """The stored conversion of one expenditure: ``values`` are its ``STORED_FIELDS``."""

    amount_eur: Decimal
    fx_rate: Decimal  # as stored: the rate used, to 6 decimals (1 for EUR; see the module docstring)
    fx_method: str
    rate_missing: bool = False
    unfunded_xof: Decimal = ZERO_XOF
    pieces: tuple[Piece, ...] = field(default=())

    @property
    def values(self) -> tuple:
        return (self.amount_eur, self.fx_rate, self.fx_method, self.rate_missing, self.unfunded_xof)


class ConversionContext:
    """What a conversion reads besides the row: the rate table (read once) and, for a partner's
    rows converted in order (``for_partner``), its funds as consumed so far. Without funds,
    ``fifo`` and ``weighted_average`` give the parity, which ``revalue_partner`` settles."""

    def __init__(self, rates: RateBook | None = None, *, fifo: FifoCursor | None = None,
                 average: AverageRate | None = None):
        self.rates = rates if rates is not None else RateBook()
        self.fifo = fifo
        self.average = average

    @classmethod
    def for_partner(cls, method: str, tranches: Sequence[Tranche], rates: RateBook | None = None,
                    consumed: Mapping[int, tuple[Decimal, Decimal]] | None = None) -> ConversionContext:
        """For the partner's rows, by date then id: ``tranches`` are its funds, ``consumed`` what
        frozen rows took from them (fifo)."""
        context = cls(rates)
        if method == FxMethod.FIFO:
            context.fifo = FifoCursor(tranches, context.rates.parity(), consumed)
        elif method == FxMethod.WEIGHTED_AVERAGE:
            context.average = AverageRate(tranches)
        return context


def _at(xof: Decimal, rate: Decimal, method: str, *, rate_missing: bool = False) -> Conversion:
    return Conversion(divide_to_eur(xof, rate), rate_used(rate), method, rate_missing)


def convert(amount: Decimal, currency: str, method: str, day: date,
            status: str = ExpenditureStatus.VALIDATED, context: ConversionContext | None = None) -> Conversion:
    """The stored conversion of an expenditure of ``amount`` ``currency`` dated ``day`` with
    ``status``, under ``method``. The one place EUR is computed (see the module docstring).

    Under ``fifo`` a counted row consumes ``context``'s funds (rows must come by date then id).
    """
    if context is None:
        context = ConversionContext()
    if currency == EUR:
        return Conversion(amount, ONE_RATE, method)
    if currency != XOF:
        raise ValueError(f"cannot convert {currency}")
    amount = quantize_amount(amount, XOF)  # whole by constraint; read back as NUMERIC(14, 2)
    if method == FxMethod.MONTHLY_RATE:
        rate = context.rates.monthly(day)
        if rate is not None:
            return _at(amount, rate, method)
        return _at(amount, context.rates.parity(), method, rate_missing=True)
    if method == FxMethod.FIFO:
        if status not in COUNTED_STATUSES:  # consumes nothing until submitted
            return _at(amount, context.rates.parity(), FxMethod.PARITY)
        if context.fifo is not None:
            pieces = context.fifo.take(amount)
            eur = sum((p.eur for p in pieces), ZERO_EUR)
            unfunded = sum((p.xof for p in pieces if p.transfer_id is None), ZERO_XOF)
            rate = rate_used(pieces[0].rate) if len(pieces) == 1 else shown_rate(amount, eur, pieces[0].rate)
            return Conversion(eur, rate, method, unfunded_xof=unfunded, pieces=pieces)
    elif method == FxMethod.WEIGHTED_AVERAGE and context.average is not None:
        received, sent = context.average.upto(day)
        if sent:
            # xof / (received / sent), the full rate: xof x sent / received, rounded once.
            eur = divide_to_eur(amount * sent, received)
            return Conversion(eur, rate_used(received / sent), method)
    return _at(amount, context.rates.parity(), method)


def conversion_for(amount: Money, *, method: str, day: date, status: str = ExpenditureStatus.VALIDATED,
                   rates: RateBook | None = None) -> Conversion:
    """``convert`` for a ``Money``, alone (fifo and weighted average: the parity, until settled)."""
    return convert(amount.amount, str(amount.currency), method, day, status, ConversionContext(rates))


def conversion_at_parity(amount: Money, *, parity: Decimal | None = None) -> Conversion:
    """Stored values for an expenditure converted at the standing rate (method ``parity``)."""
    return convert(amount.amount, str(amount.currency), FxMethod.PARITY, date.min,
                   context=ConversionContext(RateBook(parity=parity)))


def fifo_conversion(xof: Decimal, cursor: FifoCursor, method: str = FxMethod.FIFO) -> Conversion:
    """A counted XOF row's conversion under fifo, from ``cursor``'s funds."""
    return convert(xof, XOF, method, date.min, context=ConversionContext(RateBook(parity=cursor.parity),
                                                                         fifo=cursor))


def is_reversal(expenditure) -> bool:
    """An adjustment that reverses a locked quarter's row: its conversion is fixed when made."""
    return expenditure.adjusts_id is not None and expenditure.amount.amount < 0


def apply_conversion(expenditure, *, rates: RateBook | None = None) -> None:
    """Set the stored EUR value, rate and method of an unsaved or changed expenditure.

    Under ``fifo`` and ``weighted_average`` these are provisional (the parity) until the
    ``after_partner_change`` hook, which the services call after the save, settles them in the
    database (read them back with ``refresh_from_db(fields=STORED_FIELDS)``). A reversal keeps
    the values it was given. ``rates``: a ``RateBook`` shared by the rows of one write.
    """
    if is_reversal(expenditure):
        return
    conversion = convert(expenditure.amount.amount, str(expenditure.amount.currency),
                         expenditure.grant.fx_method, expenditure.date, expenditure.status,
                         ConversionContext(rates))
    for name, value in zip(STORED_FIELDS, conversion.values, strict=True):
        setattr(expenditure, name, value)


# --- revaluation ---------------------------------------------------------------------------------

@dataclass
class Revaluation:
    """What a revaluation did: ``count`` expenditures whose stored conversion or pieces changed,
    ``delta_eur`` the change of their EUR total, ``by_quarter`` the rows moved per quarter
    (``{"2016-Q3": 12}``), ``frozen`` the accepted quarters left as they were, as
    (partner code, quarter) pairs."""

    count: int = 0
    delta_eur: Decimal = ZERO_EUR
    by_quarter: dict[str, int] = field(default_factory=dict)
    frozen: tuple[tuple[str, str], ...] = ()

    def __add__(self, other: Revaluation) -> Revaluation:
        by_quarter = Counter(self.by_quarter)
        by_quarter.update(other.by_quarter)
        return Revaluation(self.count + other.count, self.delta_eur + other.delta_eur,
                           dict(sorted(by_quarter.items())), tuple(sorted({*self.frozen, *other.frozen})))


@dataclass
class _Plan:
    changed: dict[int, tuple] = field(default_factory=dict)  # id -> new stored values
    stored: dict[int, tuple] = field(default_factory=dict)  # id -> stored values, for the changed
    funding: dict[int, tuple[Piece, ...]] = field(default_factory=dict)  # id -> new pieces
    quarter: dict[int, str] = field(default_factory=dict)  # id -> its quarter, for the moved
    delta_eur: Decimal = ZERO_EUR
    frozen: tuple[str, ...] = ()

    def result(self, partner: Partner) -> Revaluation:
        moved = Counter(self.quarter.values())
        return Revaluation(len(self.quarter), self.delta_eur, dict(sorted(moved.items())),
                           tuple((partner.code, q) for q in self.frozen))


def frozen_quarters(*, grant: Grant, partner: Partner, lock: bool = False) -> set[tuple[int, int]]:
    """(year, quarter) of the partner's accepted statements on the grant. With ``lock`` (inside a
    transaction), the partner's statements on the grant are locked first, so that no quarter is
    accepted while its rows are being revalued (a statement before its rows)."""
    if lock:
        return lifecycle.lock_partner(grant_id=grant.pk, partner_id=partner.pk)
    return set(QuarterlyStatement.objects.filter(grant=grant, partner=partner, status=StatementStatus.ACCEPTED)
               .values_list("year", "quarter"))


def _plan(grant: Grant, partner: Partner, *, lock: bool) -> _Plan:
    """Every open row of ``partner`` on ``grant`` converted again under the grant's method, and
    what differs from what is stored (reads only)."""
    method = grant.fx_method
    frozen = frozen_quarters(grant=grant, partner=partner, lock=lock)
    rows = list(
        Expenditure.objects.filter(grant=grant, partner=partner)
        .order_by("date", "id")
        .values_list("id", "date", "amount", "amount_currency", "status", "adjusts_id", *STORED_FIELDS)
    )
    stored_pieces: dict[int, tuple] = {}
    for expenditure_id, *piece in (ExpenditureFunding.objects
                                   .filter(expenditure__grant=grant, expenditure__partner=partner)
                                   .order_by("expenditure_id", "id")
                                   .values_list("expenditure_id", "transfer_id", "xof", "eur", "rate")):
        stored_pieces[expenditure_id] = (*stored_pieces.get(expenditure_id, ()), tuple(piece))

    def is_frozen(row) -> bool:
        day, amount, adjusts_id = row[1], row[2], row[5]
        return quarter_of(day) in frozen or (adjusts_id is not None and amount < 0)

    consumed: dict[int, tuple[Decimal, Decimal]] = {}
    if method == FxMethod.FIFO and frozen:
        for row in rows:
            if is_frozen(row):
                for transfer_id, xof, eur, _rate in stored_pieces.get(row[0], ()):
                    if transfer_id is not None:
                        used = consumed.get(transfer_id, (ZERO_XOF, ZERO_EUR))
                        consumed[transfer_id] = (used[0] + xof, used[1] + eur)
    tranches = partner_tranches(grant, partner) if method in PARTNER_METHODS else []
    context = ConversionContext.for_partner(method, tranches, RateBook(), consumed)

    plan = _Plan(frozen=tuple(f"{year}-Q{quarter}" for year, quarter in sorted(frozen)))
    for row in rows:
        if (frozen and is_frozen(row)) or (row[5] is not None and row[2] < 0):
            continue
        pk, day, amount, currency, status = row[:5]
        stored = row[6:]
        conversion = convert(amount, currency, method, day, status, context)
        new = conversion.values
        if new != stored:
            plan.changed[pk] = new
            plan.stored[pk] = stored
            plan.delta_eur += conversion.amount_eur - stored[0]
            plan.quarter[pk] = quarter_label_of(day)
        if conversion.pieces != stored_pieces.get(pk, ()):
            plan.funding[pk] = conversion.pieces
            plan.quarter[pk] = quarter_label_of(day)
    return plan


@transaction.atomic
def revalue_partner(*, grant: Grant, partner: Partner, by=None, reason: str = "") -> Revaluation:
    """Recompute the stored conversion of ``partner``'s open expenditures on ``grant`` under the
    grant's method (``grant.fx_method``); write the rows that change, with their history (user
    ``by``, change reason ``reason``), and the ``fifo`` funding pieces that change (none are kept
    under the other methods). Rows of accepted quarters and reversals are left as they are.

    Reads the rows once; writes in batches of ``BATCH_SIZE``, a fixed number of queries each,
    so time and queries grow linearly with the partner's expenditures. Revaluing twice changes
    nothing the second time.
    """
    # The partner's statements, then the partner (expenditures.lifecycle's lock order): revaluations
    # of a partner are serialised, the last one sees every committed row, and no quarter is accepted
    # while its rows are revalued.
    plan = _plan(grant, partner, lock=True)
    _write(plan, by=by, reason=reason or f"revaluation ({grant.fx_method})")
    return plan.result(partner)


def stale_conversions(*, grant: Grant, partner: Partner) -> dict[int, tuple[tuple, tuple]]:
    """Read-only: expenditure id -> (stored ``STORED_FIELDS`` values, the values the engine
    computes) for each open row of ``partner`` on ``grant`` whose stored conversion differs, the
    same computation as ``revalue_partner`` (rows of accepted quarters and reversals are not
    checked: they keep the conversion they were accepted with). No writes, no locks."""
    plan = _plan(grant, partner, lock=False)
    return {pk: (plan.stored[pk], new) for pk, new in plan.changed.items()}


def _write(plan: _Plan, *, by, reason: str) -> None:
    """Write the plan in batches of ``BATCH_SIZE`` expenditures: per batch one UPDATE of the
    changed rows, one SELECT of them and one INSERT of their history rows (built by
    django-simple-history's ``bulk_history_create``), one DELETE and one INSERT of their pieces
    (on SQLite, its parameter limit splits each into a few statements).

    Not ``QuerySet.bulk_update``: it builds a CASE per field and row, which costs milliseconds a
    row in Python. On PostgreSQL the values travel as one array per column (``unnest``), so a
    statement has a handful of parameters whatever the batch; elsewhere, as VALUES rows."""
    ids = sorted(plan.changed.keys() | plan.funding.keys())
    now = timezone.now()
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start:start + BATCH_SIZE]
        changed = [pk for pk in batch if pk in plan.changed]
        if changed:
            _update_rows([(pk, *plan.changed[pk]) for pk in changed], now)
            _record_history(changed, now, by, reason)
        refunded = [pk for pk in batch if pk in plan.funding]
        if refunded:
            ExpenditureFunding.objects.filter(expenditure_id__in=refunded).delete()
            pieces = [(pk, p.transfer_id, p.xof, p.eur, p.rate) for pk in refunded for p in plan.funding[pk]]
            if pieces:
                _insert_pieces(pieces)


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _chunks(items: list, params_each: int, extra_params: int = 0) -> Iterator[list]:
    """``items`` in runs that keep a statement within the backend's parameter limit."""
    limit = connection.features.max_query_params
    size = len(items) if limit is None else max(1, (limit - extra_params) // params_each)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _update_rows(rows: list[tuple], now) -> None:
    """Set the stored conversion of each (id, *STORED_FIELDS) row: UPDATE ... FROM a derived
    table of the new values, joined on the id."""
    meta = Expenditure._meta
    quote = connection.ops.quote_name
    fields = [meta.pk, *(meta.get_field(name) for name in STORED_FIELDS)]
    names = ", ".join(quote(f.column) for f in fields)
    table = quote(meta.db_table)
    updated_at = meta.get_field("updated_at")
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    pk = f"{table}.{quote(meta.pk.column)}"
    # The id range lets the database read the batch through the primary key, not scan the table
    # for each batch (rows are sorted by id, so the ranges of the batches never overlap).
    update = (f"UPDATE {table} SET {assignments}, {quote(updated_at.column)} = %s "
              f"FROM v WHERE {pk} = v.{quote(meta.pk.column)} AND {pk} BETWEEN %s AND %s")
    stamp = updated_at.get_db_prep_save(now, connection)
    bounds = [rows[0][0], rows[-1][0]]
    with connection.cursor() as cursor:
        if _on_postgresql():
            arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(f"WITH v({names}) AS (SELECT * FROM unnest({arrays})) {update}",
                           [*columns, stamp, *bounds])
            return
        row_sql = "(" + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields) + ")"
        for part in _chunks(rows, len(fields), extra_params=3):
            params = [f.get_db_prep_save(value, connection)
                      for row in part for f, value in zip(fields, row, strict=True)]
            cursor.execute(f"WITH v({names}) AS (VALUES {', '.join([row_sql] * len(part))}) {update}",
                           [*params, stamp, part[0][0], part[-1][0]])


class _Recorded:
    """An expenditure as ``bulk_history_create`` reads it: its tracked fields' values, as the
    database holds them (read as plain values: a model instance costs more than its history row)."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def _record_history(ids: list[int], now, by, reason: str) -> None:
    """One history row per changed expenditure, as it now is in the database (every change to
    money is recorded: DOMAIN rule 12), through django-simple-history's public
    ``bulk_history_create``: who (``by``), when (``now``) and why (``reason``)."""
    history = Expenditure.history
    names = [f.attname for f in history.model.tracked_fields]
    rows = []
    for part in _chunks(ids, 1, extra_params=2):
        rows.extend(_Recorded({**dict(zip(names, values, strict=True)), "pk": values[names.index("id")]})
                    for values in Expenditure.objects.filter(pk__in=part, pk__gte=part[0], pk__lte=part[-1])
                    .order_by("pk").values_list(*names))
    history.bulk_history_create(rows, batch_size=BATCH_SIZE, update=True, default_user=by,
                                default_change_reason=reason[:100], default_date=now)


def _insert_pieces(pieces: list[tuple]) -> None:
    """Insert (expenditure_id, transfer_id, xof, eur, rate) funding rows."""
    if not _on_postgresql():
        ExpenditureFunding.objects.bulk_create(
            ExpenditureFunding(expenditure_id=e, transfer_id=t, xof=x, eur=eur, rate=r) for e, t, x, eur, r in pieces
        )
        return
    meta = ExpenditureFunding._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in ("expenditure", "transfer", "xof", "eur", "rate")]
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"SELECT * FROM unnest({arrays})",
            [list(column) for column in zip(*pieces, strict=True)],
        )


# --- hooks the services call -----------------------------------------------------------------------

def after_partner_change(*, grant, partner, by=None, reason: str = "") -> Revaluation:
    """Hook, after any write to a partner's expenditures or transfers: the methods whose conversions
    depend on the partner's other rows and transfers (fifo, weighted average) recompute its open rows."""
    if grant.fx_method in PARTNER_METHODS:
        return revalue_partner(grant=grant, partner=partner, by=by, reason=reason)
    return Revaluation()


def after_rate_change(*, month: date | None, by=None) -> Revaluation:
    """Hook: a rate was added, changed or removed. A monthly rate revalues the partners of the
    grants converting at monthly rates that spent XOF that month; the standing rate (``month``
    None) revalues every partner of every grant. Accepted quarters keep their EUR."""
    spending = Expenditure.objects.filter(amount_currency=XOF)
    if month is not None:
        first = month.replace(day=1)
        spending = spending.filter(grant__fx_method=FxMethod.MONTHLY_RATE, date__year=first.year,
                                   date__month=first.month)
    pairs = sorted(set(spending.order_by().values_list("grant_id", "partner_id").distinct()))
    grants = Grant.objects.in_bulk({g for g, _ in pairs})
    partners = Partner.objects.in_bulk({p for _, p in pairs})
    result = Revaluation()
    for grant_id, partner_id in pairs:
        result += revalue_partner(grant=grants[grant_id], partner=partners[partner_id], by=by,
                                  reason="revaluation (rate table changed)")
    return result
