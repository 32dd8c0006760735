"""Each partner's fund reconciliation on a grant: EUR sent, XOF received, XOF spent, the advance
still to justify, and what the conversion method costs against the parity.

Counted: expenditures with a status in ``COUNTED_STATUSES`` dated on or before ``as_of``, and
transfers received on or before ``as_of`` (a transfer not yet received counts nowhere). Sums are
made in SQL, grouped by partner and currency; nothing adds two currencies. The total row is the
sum of the partner rows, so they add up to it to the franc and to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Round

from expenditures.fx import RATE_PLACES, parity_rate
from expenditures.models import COUNTED_STATUSES, Expenditure, FundTransfer, QuarterlyStatement, StatementStatus
from grants.models import Grant, Partner
from grants.money import EUR, XOF, divide_to_eur, money_sum, quantize_amount
from grants.periods import quarter_bounds

# Money columns of a row, and their currency (what the total row adds up).
XOF_COLUMNS = ("xof_received", "xof_spent", "xof_balance", "unfunded_xof")
EUR_COLUMNS = ("eur_sent", "fees_eur", "eur_spent", "eur_spent_at_parity", "fx_difference_eur")
STATEMENT_COLUMNS = ("reported_closing_balance_xof", "xof_balance_at_statement_end", "discrepancy_xof")


def reconciliation_for(*, grant: Grant, as_of: date, partner: Partner | None = None) -> dict:
    """The reconciliation of ``grant`` at ``as_of``, one row per partner (or only ``partner``'s).

    Returns ``{"grant", "as_of", "method", "partners": [row, ...], "total": row}``. Each row has
    ``partner`` (its code; None on the total), ``eur_sent``, ``fees_eur`` (fees charged in XOF are
    converted at the parity, once per partner), ``xof_received``, ``effective_rate`` (XOF received
    over the EUR sent for them, 6 decimals; None before any), ``xof_spent``, ``xof_balance``
    (received - spent: the advance still to justify), ``unfunded_xof``, ``eur_spent`` (stored
    values, at the grant's method), ``eur_spent_at_parity``, ``fx_difference_eur`` (at parity
    minus at the method), and, from the partner's latest accepted statement ending on or before
    ``as_of`` (None where it has none, or reports in EUR): ``statement_period``, ``statement_end``,
    ``reported_closing_balance_xof``, ``xof_balance_at_statement_end`` and ``discrepancy_xof``
    (reported minus the ledger's). XOF are whole Decimals, EUR Decimals to the cent.
    """
    parity = parity_rate()
    partners = _partners(grant, partner)
    ids = [p.pk for p in partners]
    rows = {p.pk: _Row(code=p.code) for p in partners}

    transfers = FundTransfer.objects.filter(grant=grant, partner_id__in=ids, received_on__lte=as_of)
    _add_transfers(rows, transfers, parity)
    spending = Expenditure.objects.filter(grant=grant, partner_id__in=ids, status__in=COUNTED_STATUSES,
                                          date__lte=as_of)
    _add_spending(rows, spending, parity)
    _add_statements(rows, grant, ids, as_of)

    ordered = [rows[p.pk] for p in partners]
    return {
        "grant": grant.code,
        "as_of": as_of,
        "method": grant.fx_method,
        "partners": [row.as_dict() for row in ordered],
        "total": _total(ordered),
    }


def _partners(grant: Grant, partner: Partner | None) -> list[Partner]:
    """The grant's partners and any other that has transfers or spending on it, by code.

    EXISTS per partner (a few rows, each answered from the (grant, partner, ...) indexes), not a
    join with DISTINCT, which would read every expenditure of the grant."""
    query = Partner.objects.filter(
        Q(pk__in=Grant.partners.through.objects.filter(grant=grant).values("partner"))
        | Exists(Expenditure.objects.filter(grant=grant, partner=OuterRef("pk")))
        | Exists(FundTransfer.objects.filter(grant=grant, partner=OuterRef("pk")))
    )
    if partner is not None:
        query = query.filter(pk=partner.pk)
    return list(query.order_by("code"))


@dataclass
class _Row:
    code: str | None
    eur_sent: Decimal = Decimal("0.00")
    eur_sent_for_xof: Decimal = Decimal("0.00")  # the effective rate's denominator
    fees_eur: Decimal = Decimal("0.00")
    fees_xof: Decimal = Decimal("0")
    xof_received: Decimal = Decimal("0")
    xof_spent: Decimal = Decimal("0")
    unfunded_xof: Decimal = Decimal("0")
    eur_spent: Decimal = Decimal("0.00")
    eur_spent_at_parity: Decimal = Decimal("0.00")
    statement: dict | None = None

    def as_dict(self) -> dict:
        xof_balance = self.xof_received - self.xof_spent
        row = {
            "partner": self.code,
            "eur_sent": _eur(self.eur_sent),
            "fees_eur": _eur(self.fees_eur),
            "xof_received": _xof(self.xof_received),
            "effective_rate": _rate(self.xof_received, self.eur_sent_for_xof),
            "xof_spent": _xof(self.xof_spent),
            "xof_balance": _xof(xof_balance),
            "unfunded_xof": _xof(self.unfunded_xof),
            "eur_spent": _eur(self.eur_spent),
            "eur_spent_at_parity": _eur(self.eur_spent_at_parity),
            "fx_difference_eur": _eur(self.eur_spent_at_parity - self.eur_spent),
            "statement_period": None,
            "statement_end": None,
            **dict.fromkeys(STATEMENT_COLUMNS),
        }
        if self.statement is not None:
            row.update(self.statement)
        return row


def _add_transfers(rows: dict[int, _Row], transfers, parity: Decimal) -> None:
    sums = (
        transfers.order_by()
        .values("partner_id", "amount_received_currency", "fees_currency")
        .annotate(sent=money_sum("amount_sent"), received=money_sum("amount_received"), fees=money_sum("fees"))
    )
    for group in sums:
        row = rows[group["partner_id"]]
        row.eur_sent += group["sent"]
        if group["amount_received_currency"] == XOF:
            row.xof_received += group["received"]
            row.eur_sent_for_xof += group["sent"]
        if group["fees_currency"] == EUR:
            row.fees_eur += group["fees"]
        else:
            row.fees_xof += group["fees"]
    for row in rows.values():
        if row.fees_xof:
            row.fees_eur += divide_to_eur(quantize_amount(row.fees_xof, XOF), parity)


def _add_spending(rows: dict[int, _Row], spending, parity: Decimal) -> None:
    sums = (
        spending.order_by()
        .values("partner_id", "amount_currency")
        .annotate(amount=money_sum("amount"), eur=money_sum("amount_eur"), unfunded=money_sum("unfunded_xof", 0))
    )
    for group in sums:
        row = rows[group["partner_id"]]
        row.eur_spent += group["eur"]
        if group["amount_currency"] == XOF:
            row.xof_spent += group["amount"]
            row.unfunded_xof += group["unfunded"]
        else:
            row.eur_spent_at_parity += group["amount"]  # EUR spending is never converted
    # At the parity, each XOF row is converted and rounded half up on its own, then added, as a
    # stored EUR value would be (never the sum converted once). Plain ROUND(amount / parity, 2)
    # is not exact on either backend: SQLite divides in binary floating point, and PostgreSQL
    # keeps only about 16 significant digits of a NUMERIC quotient, too few to tell a half cent
    # apart for large amounts and fine rates. So on PostgreSQL the amount is cast to 20 decimals
    # first (the quotient keeps them) and ROUND, half away from zero, is half up for these
    # positive amounts: exact, in SQL. Elsewhere SQL groups equal amounts and Python converts
    # each distinct amount once with Decimal.
    xof_spending = spending.filter(amount_currency=XOF).order_by()
    if connection.vendor == "postgresql":
        exact = DecimalField(max_digits=32, decimal_places=20)
        at_parity = Round(Cast("amount", exact) / Value(parity, output_field=exact), 2, output_field=exact)
        for partner_id, eur in xof_spending.values("partner_id").annotate(eur=money_sum(at_parity)).values_list(
                "partner_id", "eur"):
            rows[partner_id].eur_spent_at_parity += _eur(eur)
        return
    for group in xof_spending.values("partner_id", "amount").annotate(rows=Count("id")):
        eur = divide_to_eur(quantize_amount(group["amount"], XOF), parity)
        rows[group["partner_id"]].eur_spent_at_parity += eur * group["rows"]


def quarter_end(year: int, quarter: int) -> date:
    return quarter_bounds(year, quarter)[1]


def _add_statements(rows: dict[int, _Row], grant: Grant, ids: list[int], as_of: date) -> None:
    """Each partner's latest accepted statement ending on or before ``as_of``, against the
    ledger's XOF balance at that statement's end."""
    latest: dict[int, tuple[date, dict]] = {}
    statements = QuarterlyStatement.objects.filter(
        grant=grant, partner_id__in=ids, status=StatementStatus.ACCEPTED, closing_balance_currency=XOF,
    ).values("partner_id", "year", "quarter", "closing_balance")
    for statement in statements:
        end = quarter_end(statement["year"], statement["quarter"])
        if end <= as_of and (statement["partner_id"] not in latest or end > latest[statement["partner_id"]][0]):
            latest[statement["partner_id"]] = (end, statement)
    if not latest:
        return

    # Received and spent up to each partner's own statement end: one query each.
    received_by = Q()
    spent_by = Q()
    for partner_id, (end, _statement) in latest.items():
        received_by |= Q(partner_id=partner_id, received_on__lte=end)
        spent_by |= Q(partner_id=partner_id, date__lte=end)
    received = dict(
        FundTransfer.objects.filter(received_by, grant=grant, amount_received_currency=XOF)
        .order_by().values("partner_id").annotate(s=money_sum("amount_received")).values_list("partner_id", "s")
    )
    spent = dict(
        Expenditure.objects.filter(spent_by, grant=grant, amount_currency=XOF, status__in=COUNTED_STATUSES)
        .order_by().values("partner_id").annotate(s=money_sum("amount")).values_list("partner_id", "s")
    )
    for partner_id, (end, statement) in latest.items():
        balance = _xof(received.get(partner_id, 0) - spent.get(partner_id, 0))
        reported = _xof(statement["closing_balance"])
        rows[partner_id].statement = {
            "statement_period": f"{statement['year']}-Q{statement['quarter']}",
            "statement_end": end,
            "reported_closing_balance_xof": reported,
            "xof_balance_at_statement_end": balance,
            "discrepancy_xof": reported - balance,
        }


def _total(rows: list[_Row]) -> dict:
    """The sum of the partner rows, column by column; the rate from the summed XOF and EUR."""
    total = _Row(code=None)
    for row in rows:
        for column in ("eur_sent", "eur_sent_for_xof", "fees_eur", "xof_received", "xof_spent",
                       "unfunded_xof", "eur_spent", "eur_spent_at_parity"):
            setattr(total, column, getattr(total, column) + getattr(row, column))
    out = total.as_dict()
    with_statement = [row.statement for row in rows if row.statement is not None]
    for column in STATEMENT_COLUMNS:
        out[column] = sum((s[column] for s in with_statement), Decimal("0")) if with_statement else None
    return out


def _xof(amount) -> Decimal:
    return quantize_amount(Decimal(amount), XOF)


def _eur(amount) -> Decimal:
    return quantize_amount(Decimal(amount), EUR)


def _rate(xof: Decimal, eur: Decimal) -> Decimal | None:
    return (xof / eur).quantize(RATE_PLACES) if eur else None
