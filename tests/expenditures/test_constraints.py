"""The rules hold twice: the services refuse with a clear message, and the database refuses what
slips past them (a bulk insert, a raw save)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from moneyed import Money

from budget.models import BudgetLine
from expenditures.models import Expenditure, FundTransfer
from expenditures.services import expenditure_record, transfer_record
from grants.errors import ApplicationError
from grants.models import Grant, Location, Partner


@pytest.fixture
def bnce(grant):
    return Partner.objects.get(code="BNCE")


@pytest.fixture
def seg(grant):
    return Location.objects.get(code="SEG")


@pytest.fixture
def line(grant):
    return BudgetLine.objects.get(grant=grant, code="2.1")


def record(grant, bnce, line, seg, **overrides):
    kwargs = dict(grant=grant, partner=bnce, budget_line=line, location=seg,
                  amount=Money(Decimal("655957"), "XOF"), date=date(2016, 8, 1), voucher="BNCE-1")
    kwargs.update(overrides)
    return expenditure_record(**kwargs)


def test_a_valid_expenditure_stores_its_eur_value_rate_and_method(grant, bnce, line, seg):
    exp = record(grant, bnce, line, seg)
    exp.refresh_from_db()
    assert exp.amount == Money(Decimal("655957"), "XOF")
    assert exp.amount_eur == Decimal("1000.00")
    assert exp.fx_rate == Decimal("655.957000")
    assert exp.fx_method == "parity"
    assert exp.history.count() == 1


@pytest.mark.parametrize(
    ("overrides", "code", "attr"),
    [
        ({"amount": Money(Decimal("-5"), "XOF")}, "negative_amount", "amount"),
        ({"amount": Money(Decimal("0"), "XOF")}, "negative_amount", "amount"),
        ({"amount": Money(Decimal("100.5"), "XOF")}, "fractional_xof", "amount"),
        ({"amount": Money(Decimal("100"), "USD")}, "currency_not_allowed", "amount"),
        ({"amount": Decimal("100")}, "currency_missing", "amount_currency"),
        ({"date": date(2015, 6, 30)}, "date_outside_grant", "date"),
        ({"date": date(2018, 7, 1)}, "date_outside_grant", "date"),
        ({"voucher": ""}, "required", "voucher"),
    ],
)
def test_the_service_refuses_bad_input_and_writes_nothing(grant, bnce, line, seg, overrides, code, attr):
    with pytest.raises(ApplicationError) as caught:
        record(grant, bnce, line, seg, **overrides)
    assert (caught.value.code, caught.value.attr) == (code, attr)
    assert caught.value.message
    assert Expenditure.objects.count() == 0


def test_a_heading_is_not_a_line(grant, bnce, seg):
    heading = BudgetLine.objects.get(grant=grant, code="2")
    with pytest.raises(ApplicationError) as caught:
        record(grant, bnce, heading, seg)
    assert (caught.value.code, caught.value.attr) == ("heading_not_a_line", "budget_line")
    assert Expenditure.objects.count() == 0


def test_a_voucher_is_used_once_per_partner(grant, bnce, line, seg):
    record(grant, bnce, line, seg)
    with pytest.raises(ApplicationError) as caught:
        record(grant, bnce, line, seg, amount=Money(Decimal("1000"), "XOF"))
    assert (caught.value.code, caught.value.attr) == ("duplicate_voucher", "voucher")
    assert Expenditure.objects.count() == 1
    # another partner may use the same reference
    apjec = Partner.objects.get(code="APJEC")
    record(grant, apjec, BudgetLine.objects.get(grant=grant, code="1.1"), seg)
    assert Expenditure.objects.count() == 2


def test_a_partner_not_on_the_grant_is_refused(grant, line, seg):
    stranger = Partner.objects.create(code="OTHER", name="Not on the grant", reporting_currency="XOF")
    with pytest.raises(ApplicationError) as caught:
        record(grant, stranger, line, seg)
    assert caught.value.code == "partner_not_on_grant"


def test_a_line_of_another_grant_is_refused(grant, bnce, seg):
    other = Grant.objects.create(code="G2", title="Other", total=Money(Decimal("10"), "EUR"),
                                 start_date=date(2015, 1, 1), end_date=date(2019, 1, 1))
    other_line = BudgetLine.objects.create(grant=other, code="9.1", label_fr="x", label_en="x",
                                           parent=BudgetLine.objects.create(grant=other, code="9", label_fr="x",
                                                                            label_en="x"))
    with pytest.raises(ApplicationError) as caught:
        record(grant, bnce, other_line, seg)
    assert caught.value.code == "unknown_budget_line"


def _raw(grant, bnce, line, seg, **overrides):
    fields = dict(grant=grant, partner=bnce, budget_line=line, location=seg, date=date(2016, 8, 1),
                  amount=Money(Decimal("655957"), "XOF"), amount_eur=Decimal("1000.00"),
                  fx_rate=Decimal("655.957"), fx_method="parity", voucher="RAW-1")
    fields.update(overrides)
    return Expenditure(**fields)


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": Money(Decimal("-1"), "XOF")},
        {"amount": Money(Decimal("655957.50"), "XOF")},
        {"amount": Money(Decimal("10"), "USD")},
        {"amount_eur": Decimal("-1")},
    ],
)
def test_the_database_refuses_what_slips_past_the_services(grant, bnce, line, seg, overrides):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(grant, bnce, line, seg, **overrides).save()
    assert Expenditure.objects.count() == 0


def test_the_database_refuses_a_voucher_twice(grant, bnce, line, seg):
    _raw(grant, bnce, line, seg).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(grant, bnce, line, seg).save()
    assert Expenditure.objects.count() == 1


def test_eur_amounts_keep_their_cents_and_xof_whole_francs_pass(grant, bnce, line, seg):
    _raw(grant, bnce, line, seg, amount=Money(Decimal("12.34"), "EUR"), amount_eur=Decimal("12.34"),
         fx_rate=Decimal("1"), voucher="RAW-EUR").save()
    _raw(grant, bnce, line, seg, voucher="RAW-XOF").save()
    assert Expenditure.objects.count() == 2


def test_transfers_refuse_bad_money_and_store_the_obtained_rate(grant, bnce):
    transfer = transfer_record(grant=grant, partner=bnce, sent_on=date(2015, 7, 10), received_on=date(2015, 7, 14),
                               amount_sent=Money(Decimal("10000.00"), "EUR"),
                               amount_received=Money(Decimal("6500000"), "XOF"),
                               fees=Money(Decimal("66.00"), "EUR"))
    assert transfer.rate == Decimal("650.000000")
    with pytest.raises(ApplicationError) as caught:
        transfer_record(grant=grant, partner=bnce, sent_on=date(2015, 7, 10),
                        amount_sent=Money(Decimal("-1"), "EUR"), amount_received=Money(Decimal("1"), "XOF"))
    assert caught.value.attr == "amount_sent"
    with pytest.raises(ApplicationError) as caught:
        transfer_record(grant=grant, partner=bnce, sent_on=date(2015, 7, 10),
                        amount_sent=Money(Decimal("10"), "EUR"), amount_received=Money(Decimal("6559.5"), "XOF"))
    assert (caught.value.code, caught.value.attr) == ("fractional_xof", "amount_received")
    with pytest.raises(IntegrityError), transaction.atomic():
        FundTransfer.objects.create(grant=grant, partner=bnce, sent_on=date(2015, 7, 10),
                                    received_on=date(2015, 7, 1), amount_sent=Money(Decimal("10"), "EUR"),
                                    amount_received=Money(Decimal("6559"), "XOF"))
    assert FundTransfer.objects.count() == 1


def test_every_change_to_an_expenditure_is_in_its_history(grant, bnce, line, seg):
    from expenditures.services import expenditure_delete, expenditure_update

    exp = record(grant, bnce, line, seg)
    expenditure_update(expenditure=exp, amount=Money(Decimal("328"), "XOF"))
    expenditure_delete(expenditure=exp)
    history = list(Expenditure.history.filter(id=exp.id).order_by("history_date", "history_id"))
    assert [h.history_type for h in history] == ["+", "~", "-"]
    assert [h.amount_eur for h in history] == [Decimal("1000.00"), Decimal("0.50"), Decimal("0.50")]
