"""expenditures.demo_data (command ``generate_history``): reproducible, plausible demo data, 36 months
for the Mali grant."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from moneyed import Money

from budget.models import Allocation
from expenditures import fx
from expenditures.demo_data import GENERATED, demo_data_generate, split_units
from expenditures.models import ExchangeRate, Expenditure, ExpenditureFunding, ExpenditureStatus, FundTransfer
from expenditures.services import expenditure_record
from grants.models import Partner
from grants.money import divide_to_eur

PARITY = Decimal("655.957")
BUDGET = Decimal("955926.26")
MALI_PARTNERS = {"APJEC", "BNCE", "CARITAS"}
# The grant's twelve quarters, 2015-Q3 to 2018-Q2.
GRANT_QUARTERS = [(2015, 3), (2015, 4)] + [(y, q) for y in (2016, 2017) for q in (1, 2, 3, 4)] + [(2018, 1), (2018, 2)]


def snapshot(grant) -> tuple[list[tuple], list[tuple]]:
    expenditures = sorted(
        Expenditure.objects.filter(grant=grant).values_list(
            "partner__code", "voucher", "date", "amount", "amount_currency", "amount_eur", "budget_line__code",
            "location__code", "status",
        )
    )
    transfers = sorted(
        FundTransfer.objects.filter(grant=grant).values_list(
            "partner__code", "sent_on", "received_on", "amount_sent", "amount_received", "fees",
        )
    )
    return expenditures, transfers


def quarter(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def test_split_units_adds_up_and_keeps_the_floor():
    assert split_units(10, [1, 1, 1]) == [4, 3, 3]
    # 100 - 2 x 10 = 80 shared 1:3 on top of the floor of 10
    assert split_units(100, [1, 3], floor=10) == [30, 70]
    with pytest.raises(ValueError):
        split_units(5, [1, 1], floor=3)


def test_the_same_seed_gives_the_same_history(grant):
    demo_data_generate(grant=grant, seed=42, expenditures=800)
    first = snapshot(grant)

    demo_data_generate(grant=grant, seed=42, expenditures=800, replace=True)

    assert snapshot(grant) == first
    assert len(first[0]) == 800


def test_another_seed_gives_another_history(grant):
    demo_data_generate(grant=grant, seed=42, expenditures=800)
    first = snapshot(grant)

    demo_data_generate(grant=grant, seed=43, expenditures=800, replace=True)

    second = snapshot(grant)
    assert second[0] != first[0]
    assert second[1] != first[1]


def test_every_row_keeps_the_ledgers_rules(grant):
    summary = demo_data_generate(grant=grant, seed=42, expenditures=2000)

    rows = list(Expenditure.objects.filter(grant=grant).select_related("partner"))
    assert len(rows) == summary.expenditures == 2000
    assert not Expenditure.history.exists(), "generated rows carry no history"
    vouchers = [(e.partner.code, e.voucher) for e in rows]
    assert len(set(vouchers)) == len(vouchers)
    for e in rows:
        assert date(2015, 7, 1) <= e.date <= date(2018, 6, 30)
        assert re.fullmatch(rf"{re.escape(e.partner.code)}-{e.date.year}-\d{{6}}", e.voucher)
        assert e.description.startswith(GENERATED)
        assert e.amount.amount > 0
        assert str(e.amount.currency) == e.partner.reporting_currency
        assert e.fx_method == "parity"
        if str(e.amount.currency) == "XOF":
            assert e.amount.amount == e.amount.amount.to_integral_value()
            assert e.amount_eur == divide_to_eur(e.amount.amount, PARITY)
            assert e.fx_rate == PARITY  # the rate used, not XOF / rounded EUR
        else:
            assert e.amount.amount == e.amount.amount.quantize(Decimal("0.01"))
            assert e.amount_eur == e.amount.amount
            assert e.fx_rate == 1


def test_rows_are_converted_as_the_service_would_under_monthly_rates(grant):
    grant.fx_method = "monthly_rate"
    grant.save()
    ExchangeRate.objects.create(currency="XOF", rate=Decimal("650.000000"), month=date(2016, 3, 1),
                                source="test: a donor's accounting rate")

    demo_data_generate(grant=grant, seed=42, expenditures=500)

    march = 0
    for e in Expenditure.objects.filter(grant=grant, amount_currency="XOF"):
        expected = fx.conversion_for(e.amount, method="monthly_rate", day=e.date)
        assert (e.amount_eur, e.fx_method, e.rate_missing) == (expected.amount_eur, "monthly_rate",
                                                               expected.rate_missing)
        if (e.date.year, e.date.month) == (2016, 3):
            march += 1
            assert e.amount_eur == divide_to_eur(e.amount.amount, Decimal("650"))
        else:
            assert e.rate_missing
    assert march > 0


def test_under_fifo_rows_are_settled_and_replace_clears_their_funding_pieces(grant):
    grant.fx_method = "fifo"
    grant.save()

    demo_data_generate(grant=grant, seed=42, expenditures=300)

    xof = Expenditure.objects.filter(grant=grant, amount_currency="XOF")
    assert set(xof.values_list("fx_method", flat=True)) == {"fifo"}
    pieces = ExpenditureFunding.objects.filter(expenditure__grant=grant)
    assert pieces.aggregate(s=Sum("eur"))["s"] == xof.aggregate(s=Sum("amount_eur"))["s"]

    demo_data_generate(grant=grant, seed=42, expenditures=300, replace=True)

    assert Expenditure.objects.filter(grant=grant).count() == 300
    assert FundTransfer.objects.filter(grant=grant).count() == 36


def test_most_rows_are_validated_and_a_few_of_the_last_quarter_submitted(grant):
    demo_data_generate(grant=grant, seed=42, expenditures=2000)

    submitted = Expenditure.objects.filter(grant=grant, status=ExpenditureStatus.SUBMITTED)
    last_quarter = Expenditure.objects.filter(grant=grant, date__gte=date(2018, 4, 1))
    assert submitted.exists()
    assert not submitted.filter(date__lt=date(2018, 4, 1)).exists()
    assert submitted.count() < last_quarter.count()
    assert Expenditure.objects.filter(grant=grant, status=ExpenditureStatus.VALIDATED).count() > 1800


@pytest.mark.parametrize("count", [300, 4000])
def test_the_total_is_most_of_the_budget_whatever_the_count(grant, count):
    summary = demo_data_generate(grant=grant, seed=42, expenditures=count)

    total = Expenditure.objects.filter(grant=grant).aggregate(s=Sum("amount_eur"))["s"].quantize(Decimal("0.01"))
    assert total == summary.total_eur
    assert BUDGET * Decimal("0.80") <= total <= BUDGET * Decimal("1.05")
    assert Expenditure.objects.filter(grant=grant).count() == count


def test_spending_starts_slowly_and_follows_the_budget_with_some_lines_over_and_some_under(grant):
    demo_data_generate(grant=grant, seed=42, expenditures=3000)

    by_quarter: dict[tuple[int, int], Decimal] = {}
    for day, eur in Expenditure.objects.filter(grant=grant).values_list("date", "amount_eur"):
        by_quarter[quarter(day)] = by_quarter.get(quarter(day), Decimal("0")) + eur
    assert sorted(by_quarter) == GRANT_QUARTERS
    average = sum(by_quarter.values()) / 12
    assert by_quarter[2015, 3] < average

    budget = dict(Allocation.objects.filter(version__grant=grant, version__is_current=True)
                  .values("budget_line__code").annotate(s=Sum("amount")).values_list("budget_line__code", "s"))
    spent = dict(Expenditure.objects.filter(grant=grant).values("budget_line__code")
                 .annotate(s=Sum("amount_eur")).values_list("budget_line__code", "s"))
    use = {code: spent.get(code, Decimal("0")) / amount for code, amount in budget.items()}
    assert any(u > Decimal("1.05") for u in use.values()), use
    assert any(u < Decimal("0.90") for u in use.values()), use


def test_transfers_go_quarterly_to_the_mali_partners_below_the_parity(grant):
    summary = demo_data_generate(grant=grant, seed=42, expenditures=500)

    transfers = list(FundTransfer.objects.filter(grant=grant).select_related("partner"))
    assert len(transfers) == summary.transfers == 36
    assert {t.partner.code for t in transfers} == MALI_PARTNERS
    for code in MALI_PARTNERS:
        assert sorted(quarter(t.sent_on) for t in transfers if t.partner.code == code) == GRANT_QUARTERS
    for t in transfers:
        sent, received = t.amount_sent.amount, t.amount_received.amount
        assert str(t.amount_sent.currency) == "EUR" and str(t.amount_received.currency) == "XOF"
        assert received == received.to_integral_value()
        assert Decimal("640") < received / sent < PARITY
        assert str(t.fees.currency) == "EUR"
        assert sent * Decimal("0.006") < t.fees.amount < sent * Decimal("0.006") + 50
        assert date(2015, 7, 1) <= t.sent_on <= t.received_on <= date(2018, 6, 30)


def test_if_empty_does_nothing_the_second_time(grant):
    out = StringIO()
    call_command("generate_history", "--seed", "42", "--expenditures", "300", "--if-empty", stdout=out)
    first = snapshot(grant)
    assert "generated 300 expenditures" in out.getvalue()

    out = StringIO()
    call_command("generate_history", "--seed", "7", "--expenditures", "500", "--if-empty", stdout=out)

    assert "nothing generated" in out.getvalue()
    assert snapshot(grant) == first


def test_without_replace_an_existing_history_is_refused(grant):
    call_command("generate_history", "--expenditures", "300", stdout=StringIO())

    with pytest.raises(CommandError, match="already has 300 expenditures and 36 transfers"):
        call_command("generate_history", "--expenditures", "300", stdout=StringIO())


def test_replace_deletes_only_what_was_generated(grant):
    bnce = Partner.objects.get(code="BNCE")
    allocation = Allocation.objects.filter(version__grant=grant, partner=bnce).first()
    manual = expenditure_record(grant=grant, partner=bnce, budget_line=allocation.budget_line,
                                location=allocation.location, amount=Money(Decimal("15000"), "XOF"),
                                date=date(2016, 3, 1), voucher="MANUEL-1")
    demo_data_generate(grant=grant, seed=42, expenditures=300, replace=True)
    demo_data_generate(grant=grant, seed=42, expenditures=400, replace=True)

    assert Expenditure.objects.filter(grant=grant).count() == 401
    assert Expenditure.objects.filter(pk=manual.pk).exists()
    assert FundTransfer.objects.filter(grant=grant).count() == 36

