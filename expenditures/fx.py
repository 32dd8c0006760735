"""Turning XOF into EUR under a grant's method, and keeping stored conversions what it says.

The rate always comes from the rate table or from the transfers; the arithmetic is Decimal,
divides by the full rate and rounds once, half up, to the cent (``grants.money.divide_to_eur``).

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
EUR expenditures are never converted (rate 1). The rate stored on a row (``fx_rate``) is its
XOF over its EUR, to 6 decimals.

Who decides a row's conversion: ``apply_conversion`` before each write, alone for ``parity`` and
``monthly_rate``; for ``fifo`` and ``weighted_average``, whose rows depend on the partner's other
rows and transfers, ``revalue_partner`` settles the partner's rows after the write (the hooks
``after_expenditure_change``, ``after_transfer_change``, ``after_rate_change``), in the caller's
transaction.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from moneyed import Money

from expenditures.models import (
    COUNTED_STATUSES,
    ExchangeRate,
    Expenditure,
    ExpenditureFunding,
    FundTransfer,
)
from grants.models import FxMethod, Grant, Partner
from grants.money import EUR, XOF, divide_to_eur, quantize_amount

ONE = Decimal("1")
ZERO_XOF = Decimal("0")
ZERO_EUR = Decimal("0.00")
RATE_PLACES = Decimal("0.000001")
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
    """XOF over EUR to 6 decimals; ``fallback`` (the rate used) when the EUR rounds to zero."""
    if not eur:
        return fallback.quantize(RATE_PLACES)
    return (xof / eur).quantize(RATE_PLACES)


# --- one row's conversion ------------------------------------------------------------------------

class Piece(NamedTuple):
    """XOF of one expenditure taken from one tranche (``transfer_id`` None: unfunded)."""

    transfer_id: int | None
    xof: Decimal
    eur: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Conversion:
    amount_eur: Decimal
    fx_rate: Decimal
    fx_method: str
    rate_missing: bool = False
    unfunded_xof: Decimal = ZERO_XOF
    pieces: tuple[Piece, ...] = field(default=())


def conversion_at_parity(amount: Money, *, parity: Decimal | None = None) -> Conversion:
    """Stored values for an expenditure converted at the standing rate (method ``parity``)."""
    if str(amount.currency) == EUR:
        return Conversion(amount.amount, ONE, FxMethod.PARITY)
    rate = parity if parity is not None else parity_rate()
    return Conversion(convert_to_eur(amount, rate=rate).amount, rate, FxMethod.PARITY)


class RateBook:
    """The rate table read once, for converting many rows (a statement's lines) in a few queries
    instead of one or two a row. Rates are read on first use."""

    def __init__(self, currency: str = XOF):
        self.currency = currency
        self._parity: Decimal | None = None
        self._monthly: dict[date, Decimal] | None = None

    def parity(self) -> Decimal:
        if self._parity is None:
            self._parity = parity_rate(self.currency)
        return self._parity

    def monthly(self, day: date) -> Decimal | None:
        if self._monthly is None:
            self._monthly = monthly_rates(self.currency)
        return self._monthly.get(day.replace(day=1))


class _TableRates:
    """The rate table asked row by row (one row's conversion: no point reading every month)."""

    @staticmethod
    def parity() -> Decimal:
        return parity_rate()

    @staticmethod
    def monthly(day: date) -> Decimal | None:
        return monthly_rate(day)


def conversion_for(amount: Money, *, method: str, day: date, rates: RateBook | None = None) -> Conversion:
    """The conversion of one expenditure that can be decided alone (parity, monthly rate).

    Methods that depend on the partner's other transfers and spending (fifo, weighted
    average) start from the parity here and are settled by ``revalue_partner`` after the write.
    ``rates``: a ``RateBook`` to read the rate table once for many rows.
    """
    if str(amount.currency) == EUR:
        return Conversion(amount.amount, ONE, method)
    table = rates or _TableRates()
    if method == FxMethod.MONTHLY_RATE:
        rate = table.monthly(day)
        if rate is None:
            parity = table.parity()
            return Conversion(convert_to_eur(amount, rate=parity).amount, parity, method, rate_missing=True)
        return Conversion(convert_to_eur(amount, rate=rate).amount, rate, method)
    parity = table.parity()
    return Conversion(convert_to_eur(amount, rate=parity).amount, parity, method)


# Expenditures whose conversion ``revalue_partner`` settles after they are written: it copies
# the settled values onto these instances, so that a service returns what the database holds.
_settling = threading.local()


def apply_conversion(expenditure, *, rates: RateBook | None = None) -> None:
    """Set the stored EUR value, rate and method of an unsaved or changed expenditure.

    Under ``fifo`` and ``weighted_average`` these are provisional (the parity) until the
    ``after_expenditure_change`` hook, which the services call after the save, settles them.
    ``rates``: a ``RateBook`` shared by the rows of one write, to read the rate table once.
    """
    method = expenditure.grant.fx_method
    conversion = conversion_for(expenditure.amount, method=method, day=expenditure.date, rates=rates)
    if (method == FxMethod.FIFO and str(expenditure.amount.currency) == XOF
            and expenditure.status not in COUNTED_STATUSES):
        conversion = Conversion(conversion.amount_eur, conversion.fx_rate, FxMethod.PARITY)
    expenditure.amount_eur = conversion.amount_eur
    expenditure.fx_rate = _shown_rate(expenditure.amount, conversion)
    expenditure.fx_method = conversion.fx_method
    expenditure.rate_missing = conversion.rate_missing
    expenditure.unfunded_xof = ZERO_XOF
    if method in PARTNER_METHODS:
        pending = getattr(_settling, "refs", None)
        if pending is None:
            pending = _settling.refs = []
        if len(pending) >= 10_000:  # a hook never came (a caller that only converts): forget the dead
            pending[:] = [ref for ref in pending if ref() is not None]
        pending.append(weakref.ref(expenditure))


def _shown_rate(amount: Money, conversion: Conversion) -> Decimal:
    """The rate shown on an expenditure: its amount over its EUR, to 6 decimals."""
    if str(amount.currency) == EUR:
        return conversion.fx_rate.quantize(RATE_PLACES)
    return shown_rate(amount.amount, conversion.amount_eur, conversion.fx_rate)


# --- the partner methods, as pure functions --------------------------------------------------------

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
    """Counted XOF expenditures, in order, consume ``tranches`` (in order) first in first out."""

    def __init__(self, tranches: Sequence[Tranche], parity: Decimal):
        self.tranches = [t for t in tranches if t.xof > 0 and t.eur > 0]
        self.parity = parity
        self.index = 0
        self.xof_left = self.tranches[0].xof if self.tranches else ZERO_XOF
        self.eur_left = self.tranches[0].eur if self.tranches else ZERO_EUR

    def take(self, xof: Decimal) -> tuple[Piece, ...]:
        """The pieces ``xof`` is paid from; consumes them. Their XOF add up to ``xof``."""
        pieces = []
        rest = xof
        while rest > 0 and self.index < len(self.tranches):
            tranche = self.tranches[self.index]
            taken = min(rest, self.xof_left)
            exhausts = taken == self.xof_left
            # Half up, but never more EUR than the tranche still holds: rounding its pieces up
            # must not make the partner's funded spending exceed the EUR sent.
            eur = min(tranche.to_eur(taken), self.eur_left)
            pieces.append(Piece(tranche.transfer_id, taken, eur, tranche.rate))
            rest -= taken
            self.xof_left -= taken
            self.eur_left -= eur
            if exhausts:
                self.index += 1
                if self.index < len(self.tranches):
                    self.xof_left = self.tranches[self.index].xof
                    self.eur_left = self.tranches[self.index].eur
        if rest > 0:
            pieces.append(Piece(None, rest, divide_to_eur(rest, self.parity), self.parity.quantize(RATE_PLACES)))
        return tuple(pieces)


def fifo_conversion(xof: Decimal, cursor: FifoCursor, method: str = FxMethod.FIFO) -> Conversion:
    pieces = cursor.take(xof)
    eur = sum((p.eur for p in pieces), ZERO_EUR)
    unfunded = sum((p.xof for p in pieces if p.transfer_id is None), ZERO_XOF)
    return Conversion(eur, pieces[0].rate, method, unfunded_xof=unfunded, pieces=pieces)


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


def average_conversion(xof: Decimal, day: date, average: AverageRate, parity: Decimal) -> Conversion:
    received, sent = average.upto(day)
    if not sent:
        return Conversion(divide_to_eur(xof, parity), parity, FxMethod.WEIGHTED_AVERAGE)
    # xof / (received / sent), the full rate: xof x sent / received, rounded once.
    return Conversion(divide_to_eur(xof * sent, received), (received / sent).quantize(RATE_PLACES),
                      FxMethod.WEIGHTED_AVERAGE)


# --- revaluation ---------------------------------------------------------------------------------

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


@dataclass
class _Plan:
    changed: dict[int, tuple] = field(default_factory=dict)  # id -> new stored values
    funding: dict[int, tuple[Piece, ...]] = field(default_factory=dict)  # id -> new pieces
    delta_eur: Decimal = ZERO_EUR


def _conversions(rows: Iterable[tuple], method: str, tranches: Sequence[Tranche], parity: Decimal,
                 rates: dict[date, Decimal]) -> Iterator[tuple[tuple, Conversion]]:
    """Each row (ordered by date then id) with its conversion under ``method``."""
    cursor = FifoCursor(tranches, parity) if method == FxMethod.FIFO else None
    average = AverageRate(tranches) if method == FxMethod.WEIGHTED_AVERAGE else None
    for row in rows:
        _pk, day, amount, currency, status = row[:5]
        if currency == XOF:
            amount = quantize_amount(amount, XOF)  # whole by constraint; read back as NUMERIC(14, 2)
        if currency == EUR:
            conversion = Conversion(amount, ONE, method)
        elif method == FxMethod.FIFO:
            if status in COUNTED_STATUSES:
                conversion = fifo_conversion(amount, cursor)
            else:
                conversion = Conversion(divide_to_eur(amount, parity), parity, FxMethod.PARITY)
        elif method == FxMethod.WEIGHTED_AVERAGE:
            conversion = average_conversion(amount, day, average, parity)
        elif method == FxMethod.MONTHLY_RATE:
            rate = rates.get(day.replace(day=1))
            conversion = Conversion(divide_to_eur(amount, rate or parity), rate or parity, method,
                                    rate_missing=rate is None)
        else:
            conversion = Conversion(divide_to_eur(amount, parity), parity, method)
        yield row, conversion


@transaction.atomic
def revalue_partner(*, grant: Grant, partner: Partner, by=None, reason: str = "") -> tuple[int, Decimal]:
    """Recompute every stored conversion of ``partner``'s expenditures on ``grant`` under the
    grant's method (``grant.fx_method``); write the rows that change, with their history, and
    the ``fifo`` funding pieces that change (none are kept under the other methods).

    Returns (expenditures whose stored conversion or pieces changed, change of their EUR total).
    Reads the rows once; writes in batches of ``BATCH_SIZE``, a fixed number of queries each,
    so time and queries grow linearly with the partner's expenditures. Revaluing twice changes
    nothing the second time.
    """
    # Serialise the partner's revaluations: the last one to take the lock sees every committed row.
    list(Partner.objects.select_for_update().filter(pk=partner.pk).values_list("pk", flat=True))
    method = grant.fx_method
    parity = parity_rate()
    rates = monthly_rates() if method == FxMethod.MONTHLY_RATE else {}
    tranches = partner_tranches(grant, partner) if method in PARTNER_METHODS else []
    rows = (
        Expenditure.objects.filter(grant=grant, partner=partner)
        .order_by("date", "id")
        .values_list("id", "date", "amount", "amount_currency", "status", *STORED_FIELDS)
    )
    funding = ExpenditureFunding.objects.filter(expenditure__grant=grant, expenditure__partner=partner)
    stored_pieces: dict[int, list[tuple]] = {}
    if method == FxMethod.FIFO:
        for expenditure_id, *piece in funding.order_by("expenditure_id", "id").values_list(
                "expenditure_id", "transfer_id", "xof", "eur", "rate"):
            stored_pieces.setdefault(expenditure_id, []).append(tuple(piece))
    else:
        funding.delete()  # pieces exist only under fifo

    plan = _Plan()
    settled: dict[int, tuple] = {}
    waiting = _waiting(grant, partner)
    for row, conversion in _conversions(rows, method, tranches, parity, rates):
        pk, amount, stored = row[0], row[2], row[5:]
        rate = conversion.fx_rate.quantize(RATE_PLACES) if row[3] == EUR else shown_rate(
            amount, conversion.amount_eur, conversion.fx_rate)
        new = (conversion.amount_eur, rate, conversion.fx_method, conversion.rate_missing,
               conversion.unfunded_xof)
        if new != tuple(stored):
            plan.changed[pk] = new
            plan.delta_eur += conversion.amount_eur - stored[0]
        if method == FxMethod.FIFO:
            if list(conversion.pieces) != stored_pieces.get(pk, []):
                plan.funding[pk] = conversion.pieces
        if pk in waiting:
            settled[pk] = new
    _write(plan, by=by, reason=reason or f"revaluation ({method})")
    for pk, values in settled.items():
        for instance in waiting[pk]:
            for name, value in zip(STORED_FIELDS, values, strict=True):
                setattr(instance, name, value)
    return len(plan.changed.keys() | plan.funding.keys()), plan.delta_eur


def _waiting(grant: Grant, partner: Partner) -> dict[int, list]:
    """The instances ``apply_conversion`` left to settle for this grant and partner, by id."""
    pending = getattr(_settling, "refs", None) or []
    waiting: dict[int, list] = {}
    keep = []
    for ref in pending:
        instance = ref()
        if instance is None:
            continue
        if instance.grant_id == grant.pk and instance.partner_id == partner.pk and instance.pk:
            waiting.setdefault(instance.pk, []).append(instance)
        else:
            keep.append(ref)
    if pending:
        _settling.refs = keep
    return waiting


def _write(plan: _Plan, *, by, reason: str) -> None:
    """Write the plan in batches of ``BATCH_SIZE`` expenditures: per batch one UPDATE of the
    changed rows, one INSERT of their history rows, one DELETE and one INSERT of their pieces
    (on SQLite, its parameter limit splits each into a few statements).

    Not ``QuerySet.bulk_update``: it builds a CASE per field and row, which costs milliseconds a
    row in Python. On PostgreSQL the values travel as one array per column (``unnest``), so a
    statement has a handful of parameters whatever the batch; elsewhere, as VALUES rows."""
    ids = sorted(plan.changed.keys() | plan.funding.keys())
    now = timezone.now()
    user_id = getattr(by, "pk", None)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start:start + BATCH_SIZE]
        changed = [pk for pk in batch if pk in plan.changed]
        if changed:
            _update_rows([(pk, *plan.changed[pk]) for pk in changed], now)
            _record_history(changed, now, user_id, reason)
        refunded = [pk for pk in batch if pk in plan.funding]
        if refunded:
            ExpenditureFunding.objects.filter(expenditure_id__in=refunded).delete()
            _insert_pieces([(pk, p.transfer_id, p.xof, p.eur, p.rate) for pk in refunded for p in plan.funding[pk]])


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


def _record_history(ids: list[int], now, user_id: int | None, reason: str) -> None:
    """One history row per changed expenditure, copied by the database from the updated row
    (every change to money is recorded: DOMAIN rule 12), as django-simple-history writes them."""
    history = Expenditure.history.model
    quote = connection.ops.quote_name
    tracked = history.tracked_fields
    target = ", ".join(quote(history._meta.get_field(f.name).column) for f in tracked)
    source = ", ".join(quote(f.column) for f in tracked)
    extra = ["history_date", "history_change_reason", "history_type", "history_user"]
    extra_columns = ", ".join(quote(history._meta.get_field(name).column) for name in extra)
    values = [history._meta.get_field("history_date").get_db_prep_save(now, connection),
              reason[:100], "~", user_id]
    pk = quote(Expenditure._meta.pk.column)
    insert = (f"INSERT INTO {quote(history._meta.db_table)} ({target}, {extra_columns}) "
              f"SELECT {source}, %s, %s, %s, %s FROM {quote(Expenditure._meta.db_table)} ")
    with connection.cursor() as cursor:
        if _on_postgresql():
            cursor.execute(f"{insert} WHERE {pk} = ANY(%s::bigint[]) ORDER BY {pk}", [*values, ids])
            return
        for part in _chunks(ids, 1, extra_params=len(values)):
            cursor.execute(f"{insert} WHERE {pk} IN ({', '.join(['%s'] * len(part))}) ORDER BY {pk}",
                           [*values, *part])


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

def after_expenditure_change(*, grant, partner) -> None:
    """Hook: methods whose conversions depend on the partner's other rows recompute them."""
    if grant.fx_method in PARTNER_METHODS:
        revalue_partner(grant=grant, partner=partner)


def after_transfer_change(*, grant, partner) -> None:
    """Hook: a transfer moved; methods that read transfers recompute the partner's rows."""
    if grant.fx_method in PARTNER_METHODS:
        revalue_partner(grant=grant, partner=partner)


def after_rate_change(*, month: date | None) -> int:
    """Hook: a rate was added, changed or removed. A monthly rate revalues the partners of the
    grants converting at monthly rates that spent XOF that month; the standing rate (``month``
    None) revalues every partner of every grant. Returns the expenditures revalued."""
    spending = Expenditure.objects.filter(amount_currency=XOF)
    if month is not None:
        first = month.replace(day=1)
        spending = spending.filter(grant__fx_method=FxMethod.MONTHLY_RATE, date__year=first.year,
                                   date__month=first.month)
    pairs = sorted(set(spending.order_by().values_list("grant_id", "partner_id").distinct()))
    grants = Grant.objects.in_bulk({g for g, _ in pairs})
    partners = Partner.objects.in_bulk({p for _, p in pairs})
    revalued = 0
    for grant_id, partner_id in pairs:
        count, _delta = revalue_partner(grant=grants[grant_id], partner=partners[partner_id],
                                        reason="revaluation (rate table changed)")
        revalued += count
    return revalued
