"""Each partner's fund reconciliation (issue 4): sent, received, spent, the advance to justify,
and the exchange difference against the parity. Figures worked out by hand from the issue's
example (see tests/expenditures/test_fx.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money

from expenditures import services
from expenditures.models import ExchangeRate, QuarterlyStatement
from expenditures.reconciliation import EUR_COLUMNS, XOF_COLUMNS, reconciliation_for
from expenditures.revaluation import grant_revalue
from tests.expenditures.test_fx import allocate, by_hand, eur, small_grant, worked_example, xof
from tests.factories import PartnerFactory

AS_OF = date(2020, 6, 30)


@pytest.fixture
def bnce(db):
    """The issue's example under fifo, with fees: 12.00 EUR on the first transfer, 6,560 XOF on
    the second (10.00 EUR at the parity)."""
    example = worked_example(*small_grant("fifo"))
    services.transfer_update(transfer=example.transfers[0], fees=eur("12.00"))
    services.transfer_update(transfer=example.transfers[1], fees=xof(6_560))
    return example


def row_of(report: dict, code: str) -> dict:
    return next(row for row in report["partners"] if row["partner"] == code)


def test_a_partner_row_under_fifo(bnce):
    # when the grant is reconciled at the end of June
    report = reconciliation_for(grant=bnce.grant, as_of=AS_OF)

    # then BNCE's row says what was sent, received and spent, and what fifo costs against the parity
    assert (report["grant"], report["as_of"], report["method"]) == (bnce.grant.code, AS_OF, "fifo")
    row = row_of(report, "BNCE")
    spent_at_parity = Decimal("4954.59") + Decimal("6936.43") + Decimal("9146.94")
    spent_at_fifo = Decimal("5000.00") + Decimal("6987.77") + Decimal("9170.84")
    assert row == {
        "partner": "BNCE",
        "eur_sent": Decimal("20000.00"),
        "fees_eur": Decimal("12.00") + by_hand(6_560, "655.957"),
        "xof_received": Decimal("13040000"),
        "effective_rate": Decimal("652.000000"),
        "xof_spent": Decimal("13800000"),
        "xof_balance": Decimal("-760000"),
        "unfunded_xof": Decimal("760000"),
        "eur_spent": spent_at_fifo,
        "eur_spent_at_parity": spent_at_parity,
        "fx_difference_eur": spent_at_parity - spent_at_fifo,
        "statement_period": None, "statement_end": None, "reported_closing_balance_xof": None,
        "xof_balance_at_statement_end": None, "discrepancy_xof": None,
    }
    assert row["fees_eur"] == Decimal("22.00") and row["fx_difference_eur"] == Decimal("-120.65")


def test_as_of_counts_transfers_by_receipt_and_spending_by_date(bnce):
    # when reconciled at the end of March: the April transfer and the May spending are not yet there
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=date(2020, 3, 31)), "BNCE")

    # then (the stored fifo values stand: March's spending is partly funded by the April transfer)
    assert (row["eur_sent"], row["xof_received"], row["effective_rate"]) == (
        Decimal("10000.00"), Decimal("6500000"), Decimal("650.000000"))
    assert (row["xof_spent"], row["xof_balance"], row["unfunded_xof"]) == (
        Decimal("7800000"), Decimal("-1300000"), Decimal("0"))
    assert row["eur_spent"] == Decimal("5000.00") + Decimal("6987.77")
    assert row["fees_eur"] == Decimal("12.00")


def test_before_any_transfer_the_rate_is_empty(bnce):
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=date(2020, 1, 14)), "BNCE")
    assert (row["eur_sent"], row["effective_rate"], row["xof_spent"]) == (Decimal("0.00"), None, Decimal("0"))


def test_draft_and_rejected_spending_is_not_counted(bnce):
    # given a draft and a rejected expenditure in the period
    bnce.spend(100_000, date(2020, 6, 1), "BNCE-draft", status="draft")
    bnce.spend(200_000, date(2020, 6, 2), "BNCE-rejected", status="rejected")

    # then the spending is still the three counted expenditures
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=AS_OF), "BNCE")
    assert (row["xof_spent"], row["eur_spent"]) == (Decimal("13800000"), Decimal("21158.61"))


@pytest.mark.parametrize("method", ["parity", "fifo", "weighted_average", "monthly_rate"])
def test_partner_rows_add_up_to_the_total(bnce, method):
    # given two more partners: CARITAS in XOF (one transfer, odd amounts) and LEAD in EUR
    grant = bnce.grant
    caritas = PartnerFactory(code="CARITAS")
    lead = PartnerFactory(code="LEAD", reporting_currency="EUR")
    grant.partners.add(caritas, lead)
    for partner in (caritas, lead):
        allocate(grant, partner, bnce.line, bnce.location)
    services.transfer_record(grant=grant, partner=caritas, sent_on=date(2020, 2, 1), received_on=date(2020, 2, 3),
                             amount_sent=eur("3333.33"), amount_received=xof(2_171_717), fees=eur("7.77"))
    for number, amount in enumerate([123_457, 987_653, 1_111_111, 7]):
        services.expenditure_record(grant=grant, partner=caritas, budget_line=bnce.line, location=bnce.location,
                                    amount=xof(amount), date=date(2020, 2 + number, 11), voucher=f"C-{number}")
    services.expenditure_record(grant=grant, partner=lead, budget_line=bnce.line, location=bnce.location,
                                amount=eur("4321.09"), date=date(2020, 3, 3), voucher="L-1")
    QuarterlyStatement.objects.create(grant=grant, partner=caritas, year=2020, quarter=1, status="accepted",
                                      closing_balance=xof(1_000_000))
    QuarterlyStatement.objects.create(grant=grant, partner=bnce.partner, year=2020, quarter=1, status="accepted",
                                      closing_balance=xof(0))
    grant_revalue(grant=grant, method=method, confirm=True)

    # when reconciled
    report = reconciliation_for(grant=grant, as_of=AS_OF)

    # then each money column of the total is the sum of the partners', to the franc and the cent
    assert [row["partner"] for row in report["partners"]] == ["BNCE", "CARITAS", "LEAD"]
    for column in (*XOF_COLUMNS, *EUR_COLUMNS, "reported_closing_balance_xof", "discrepancy_xof"):
        assert report["total"][column] == sum(row[column] or 0 for row in report["partners"]), column
    assert report["total"]["partner"] is None
    # and the total's rate is all the XOF received over the EUR sent for them
    assert report["total"]["effective_rate"] == (Decimal(13_040_000 + 2_171_717) / Decimal("23333.33")).quantize(
        Decimal("0.000001"))
    # and EUR spending counts at its own amount, at the parity too
    lead_row = row_of(report, "LEAD")
    assert (lead_row["eur_spent"], lead_row["eur_spent_at_parity"], lead_row["fx_difference_eur"]) == (
        Decimal("4321.09"), Decimal("4321.09"), Decimal("0.00"))


def test_eur_at_parity_is_the_sum_of_each_row_rounded_on_its_own(bnce):
    # given many spending rows with the same amount: each rounds half up on its own
    for number in range(7):
        bnce.spend(1_001, date(2020, 6, 1 + number), f"BNCE-small-{number}")

    # then at the parity each counts 1.53 (1,001 / 655.957 = 1.52601...), not 7,007 / 655.957 = 10.68
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=AS_OF), "BNCE")
    assert row["eur_spent_at_parity"] == Decimal("21037.96") + 7 * by_hand(1_001, "655.957")
    assert by_hand(1_001, "655.957") == Decimal("1.53")


def test_an_accepted_statement_is_checked_against_the_ledger_at_its_end(bnce):
    # given BNCE's first quarter accepted, reporting a closing balance of -1,250,000 XOF
    QuarterlyStatement.objects.create(grant=bnce.grant, partner=bnce.partner, year=2020, quarter=1,
                                      status="accepted", closing_balance=xof(-1_250_000))
    # and a later quarter only submitted
    QuarterlyStatement.objects.create(grant=bnce.grant, partner=bnce.partner, year=2020, quarter=2,
                                      status="submitted", closing_balance=xof(0))

    # when reconciled at the end of June
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=AS_OF), "BNCE")

    # then the ledger at 31 March says 6,500,000 received - 7,800,000 spent = -1,300,000
    assert (row["statement_period"], row["statement_end"]) == ("2020-Q1", date(2020, 3, 31))
    assert (row["reported_closing_balance_xof"], row["xof_balance_at_statement_end"], row["discrepancy_xof"]) == (
        Decimal("-1250000"), Decimal("-1300000"), Decimal("50000"))
    # and the balance at the as-of date is unchanged by it
    assert row["xof_balance"] == Decimal("-760000")


def test_a_statement_ending_after_as_of_is_not_used(bnce):
    QuarterlyStatement.objects.create(grant=bnce.grant, partner=bnce.partner, year=2020, quarter=2,
                                      status="accepted", closing_balance=xof(0))
    row = row_of(reconciliation_for(grant=bnce.grant, as_of=date(2020, 6, 29)), "BNCE")
    assert row["discrepancy_xof"] is None


def test_one_partner_only(bnce):
    # given another partner on the grant
    other = PartnerFactory(code="APJEC")
    bnce.grant.partners.add(other)
    services.transfer_record(grant=bnce.grant, partner=other, sent_on=date(2020, 2, 1), received_on=date(2020, 2, 3),
                             amount_sent=eur("100.00"), amount_received=Money(Decimal("65000"), "XOF"))

    # when reconciled for BNCE only
    report = reconciliation_for(grant=bnce.grant, as_of=AS_OF, partner=bnce.partner)

    # then there is one row, and the total is that row
    assert [row["partner"] for row in report["partners"]] == ["BNCE"]
    assert {k: v for k, v in report["total"].items() if k not in ("partner", "statement_period", "statement_end")} \
        == {k: v for k, v in report["partners"][0].items()
            if k not in ("partner", "statement_period", "statement_end")}


@pytest.mark.parametrize("rate, amounts", [
    ("1000", [5, 15, 25, 1_000_005]),                        # exact half cents: half up, never to even
    ("655.957123", [99_999_999_999, 1, 327_978_562, 7_777_777]),  # large amounts, a fine rate
])
def test_eur_at_parity_rounds_each_row_half_up_on_every_backend(db, rate, amounts):
    # given a standing rate (changed for the test) and spending in XOF
    ExchangeRate.objects.filter(currency="XOF", month__isnull=True).update(rate=Decimal(rate))
    grant, partner, line, location = small_grant("parity")
    for number, amount in enumerate(amounts):
        services.expenditure_record(grant=grant, partner=partner, budget_line=line, location=location,
                                    amount=xof(amount), date=date(2020, 2, 1), voucher=f"R-{number}")

    # then EUR at the parity is the sum of each amount / rate rounded half up on its own
    row = row_of(reconciliation_for(grant=grant, as_of=AS_OF), "BNCE")
    assert row["eur_spent_at_parity"] == sum(by_hand(amount, rate) for amount in amounts)
