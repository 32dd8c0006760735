"""XOF to EUR under the four methods, the fifo funding pieces, and revaluation (issue 4).

Every expected figure is worked out by hand from the issue's worked example: transfers to BNCE of
10,000.00 EUR for 6,500,000 XOF (rate 650, received 15 January) and 10,000.00 EUR for 6,540,000
XOF (rate 654, received 15 April); spending of 3,250,000 (1 February), 4,550,000 (1 March) and
6,000,000 XOF (1 May).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moneyed import Money

from budget.models import Allocation, BudgetVersion
from expenditures import fx, services
from expenditures.models import (
    ExchangeRate,
    Expenditure,
    ExpenditureFunding,
    FundTransfer,
    QuarterlyStatement,
)
from expenditures.revaluation import grant_revalue
from grants.errors import ApplicationError, Conflict, PermissionRefused
from grants.models import Grant, Partner, Role
from tests.conftest import make_user
from tests.factories import BudgetLineFactory, GrantFactory, LocationFactory, PartnerFactory

PARITY = Decimal("655.957")


def xof(amount: int) -> Money:
    return Money(Decimal(amount), "XOF")


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def by_hand(francs: int, rate: str) -> Decimal:
    """An independent conversion for the expectations: francs / rate, half up to the cent."""
    return (Decimal(francs) / Decimal(rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Example:
    grant: Grant
    partner: object
    line: object
    location: object
    transfers: list
    expenditures: list

    def spend(self, amount: int, day: date, voucher: str, **kwargs) -> Expenditure:
        return services.expenditure_record(grant=self.grant, partner=self.partner, budget_line=self.line,
                                           location=self.location, amount=xof(amount), date=day,
                                           voucher=voucher, **kwargs)

    def stored(self) -> list[Decimal]:
        return [Expenditure.objects.get(pk=e.pk).amount_eur for e in self.expenditures]

    def pieces(self, expenditure) -> list[tuple]:
        return list(ExpenditureFunding.objects.filter(expenditure=expenditure).order_by("id")
                    .values_list("transfer_id", "xof", "eur", "rate"))


def worked_example(grant: Grant, partner, line, location, *, year: int = 2020,
                   spend: bool = True) -> Example:
    """The issue's example on ``grant`` (dates in ``year``), through the services."""
    transfers = [
        services.transfer_record(grant=grant, partner=partner, sent_on=date(year, 1, 10),
                                 received_on=date(year, 1, 15), amount_sent=eur("10000.00"),
                                 amount_received=xof(6_500_000)),
        services.transfer_record(grant=grant, partner=partner, sent_on=date(year, 4, 10),
                                 received_on=date(year, 4, 15), amount_sent=eur("10000.00"),
                                 amount_received=xof(6_540_000)),
    ]
    example = Example(grant, partner, line, location, transfers, [])
    if spend:
        for number, (amount, day) in enumerate(
                [(3_250_000, date(year, 2, 1)), (4_550_000, date(year, 3, 1)), (6_000_000, date(year, 5, 1))]):
            example.expenditures.append(example.spend(amount, day, f"BNCE-{year}-{number + 1}"))
    return example


def small_grant(method: str, **kwargs) -> tuple[Grant, object, object, object]:
    partner = PartnerFactory(code=kwargs.pop("partner_code", "BNCE"))
    grant = GrantFactory(partners=[partner], fx_method=method, **kwargs)
    heading = BudgetLineFactory(grant=grant, code="1")
    line = BudgetLineFactory(grant=grant, code="1.1", parent=heading)
    location = LocationFactory(code="BKO")
    allocate(grant, partner, line, location)
    return grant, partner, line, location


def allocate(grant: Grant, partner, line, location) -> None:
    """Give ``partner`` a budget on ``line``: a partner spends only on lines allocated to it (rule 13)."""
    version = BudgetVersion.objects.filter(grant=grant, is_current=True).first()
    if version is None:
        version = BudgetVersion.objects.create(grant=grant, number=1, label="v1", status="approved", is_current=True)
    Allocation.objects.create(version=version, budget_line=line, partner=partner, location=location, year=1,
                              amount=Money(Decimal("100000.00"), "EUR"))


@pytest.fixture
def example_under(db):
    def build(method: str, **kwargs) -> Example:
        return worked_example(*small_grant(method), **kwargs)
    return build


# --- the worked example, method by method -----------------------------------------------------------

WORKED = {
    "parity": ["4954.59", "6936.43", "9146.94"],
    "fifo": ["5000.00", "6987.77", "9170.84"],
    "weighted_average": ["5000.00", "7000.00", "9202.45"],
}


@pytest.mark.parametrize("method", sorted(WORKED))
def test_worked_example_to_the_cent(example_under, method):
    # given the transfers and spending, recorded under ``method``
    example = example_under(method)

    # then the stored EUR values are the issue's, and so are those the services returned
    expected = [Decimal(v) for v in WORKED[method]]
    assert example.stored() == expected
    assert [e.amount_eur for e in example.expenditures] == expected


def test_worked_example_at_parity_matches_an_independent_division(example_under):
    # given the example at the parity
    example = example_under("parity")

    # then each value is XOF / 655.957 half up, and the rate shown is the rate used, the parity
    assert example.stored() == [by_hand(3_250_000, "655.957"), by_hand(4_550_000, "655.957"),
                                by_hand(6_000_000, "655.957")]
    first = Expenditure.objects.get(pk=example.expenditures[0].pk)
    assert first.fx_rate == Decimal("655.957000")  # not 3,250,000 / 4,954.59 = 655.957405


def test_weighted_average_uses_transfers_received_up_to_the_day_and_parity_before(example_under):
    # given the example under the weighted average, and one more spending before any transfer arrived
    example = example_under("weighted_average")
    early = example.spend(655_957, date(2020, 1, 14), "BNCE-early")

    # then the early one is at the parity; the May one at (6,500,000 + 6,540,000) / 20,000 = 652
    assert Expenditure.objects.get(pk=early.pk).amount_eur == Decimal("1000.00")
    may = Expenditure.objects.get(pk=example.expenditures[2].pk)
    assert may.amount_eur == by_hand(6_000_000, "652") == Decimal("9202.45")
    assert may.fx_rate == Decimal("652.000000")  # the average used, not 6,000,000 / 9,202.45 = 652.000283


# --- fifo: straddling and unfunded ----------------------------------------------------------------------

def test_fifo_splits_an_expenditure_that_straddles_two_tranches(example_under):
    # given the example under fifo
    example = example_under("fifo")
    first, second = example.transfers

    # then 4,550,000 takes the 3,250,000 left of the first tranche and 1,300,000 of the second
    straddling = Expenditure.objects.get(pk=example.expenditures[1].pk)
    assert example.pieces(straddling) == [
        (first.pk, Decimal("3250000"), Decimal("5000.00"), Decimal("650.000000")),
        (second.pk, Decimal("1300000"), by_hand(1_300_000, "654"), Decimal("654.000000")),
    ]
    assert straddling.amount_eur == Decimal("5000.00") + Decimal("1987.77")
    assert straddling.unfunded_xof == 0
    assert straddling.fx_rate == (Decimal(4_550_000) / Decimal("6987.77")).quantize(Decimal("0.000001"))


def test_fifo_converts_spending_beyond_all_funds_at_the_parity_and_flags_it(example_under):
    # given the example under fifo
    example = example_under("fifo")
    second = example.transfers[1]

    # then 6,000,000 takes the 5,240,000 left of the second tranche; 760,000 are unfunded, at parity
    beyond = Expenditure.objects.get(pk=example.expenditures[2].pk)
    assert example.pieces(beyond) == [
        (second.pk, Decimal("5240000"), by_hand(5_240_000, "654"), Decimal("654.000000")),
        (None, Decimal("760000"), by_hand(760_000, "655.957"), Decimal("655.957000")),
    ]
    assert (by_hand(5_240_000, "654"), by_hand(760_000, "655.957")) == (Decimal("8012.23"), Decimal("1158.61"))
    assert beyond.unfunded_xof == Decimal("760000")
    assert beyond.amount_eur == Decimal("9170.84")


def test_fifo_consumes_tranches_whatever_the_dates(example_under):
    # given the fifo example and a transfer received late in the year
    example = example_under("fifo")
    late = services.transfer_record(grant=example.grant, partner=example.partner, sent_on=date(2020, 9, 1),
                                    received_on=date(2020, 9, 5), amount_sent=eur("1000.00"),
                                    amount_received=xof(800_000))

    # then the May spending, dated before it arrived, is funded by it (at 800): nothing unfunded
    beyond = Expenditure.objects.get(pk=example.expenditures[2].pk)
    assert beyond.unfunded_xof == 0
    assert example.pieces(beyond)[-1] == (late.pk, Decimal("760000"), Decimal("950.00"), Decimal("800.000000"))
    assert beyond.amount_eur == Decimal("8012.23") + Decimal("950.00")


def test_fifo_draft_spending_consumes_nothing_until_submitted(example_under):
    # given the fifo example and a draft dated before everything
    example = example_under("fifo")
    draft = example.spend(1_300_000, date(2020, 1, 20), "BNCE-draft", status="draft")

    # then the draft is at the parity, with no pieces, and the others are unchanged
    stored = Expenditure.objects.get(pk=draft.pk)
    assert (stored.amount_eur, stored.fx_method, example.pieces(stored)) == (by_hand(1_300_000, "655.957"),
                                                                            "parity", [])
    assert example.stored() == [Decimal("5000.00"), Decimal("6987.77"), Decimal("9170.84")]

    # when it is submitted
    services.expenditure_update(expenditure=stored, status="submitted")

    # then it takes the first 1,300,000 of the first tranche (2,000.00) and pushes the rest down
    assert Expenditure.objects.get(pk=draft.pk).amount_eur == Decimal("2000.00")
    assert example.stored() == [
        Decimal("5000.00"),                                   # 3,250,000 at 650
        Decimal("3000.00") + by_hand(2_600_000, "654"),       # 1,950,000 at 650, 2,600,000 at 654
        by_hand(3_940_000, "654") + by_hand(2_060_000, "655.957"),
    ]


def test_eur_spending_is_never_converted(example_under):
    # given the fifo example and a partner spending in EUR on the same grant
    example = example_under("fifo")
    lead = PartnerFactory(code="LEAD", reporting_currency="EUR")
    example.grant.partners.add(lead)
    allocate(example.grant, lead, example.line, example.location)

    # when it spends 1,234.56 EUR
    spent = services.expenditure_record(grant=example.grant, partner=lead, budget_line=example.line,
                                        location=example.location, amount=eur("1234.56"),
                                        date=date(2020, 2, 1), voucher="LEAD-1")

    # then its EUR value is its amount, at rate 1, under each method
    for method in ("fifo", "weighted_average", "monthly_rate", "parity"):
        grant_revalue(grant=example.grant, method=method)
        stored = Expenditure.objects.get(pk=spent.pk)
        assert (stored.amount_eur, stored.fx_rate, stored.fx_method) == (Decimal("1234.56"), Decimal("1"), method)


# --- corrections that move conversions -------------------------------------------------------------------

def test_a_corrected_transfer_revalues_the_spending_it_funded(example_under):
    # given the fifo example
    example = example_under("fifo")

    # when the second transfer turns out to have been credited 7,300,000 XOF (rate 730)
    services.transfer_update(transfer=example.transfers[1], amount_received=xof(7_300_000))

    # then its pieces are at 730 and nothing is unfunded any more
    assert example.stored() == [
        Decimal("5000.00"),
        Decimal("5000.00") + by_hand(1_300_000, "730"),
        by_hand(6_000_000, "730"),
    ]
    assert example.stored()[1:] == [Decimal("6780.82"), Decimal("8219.18")]
    assert Expenditure.objects.get(pk=example.expenditures[2].pk).unfunded_xof == 0

    # when the grant is switched to the weighted average, the May rate is (6,500,000 + 7,300,000) / 20,000
    grant_revalue(grant=example.grant, method="weighted_average")
    assert example.stored()[2] == by_hand(6_000_000, "690") == Decimal("8695.65")


def test_a_transfer_received_later_than_recorded_moves_the_weighted_average(example_under):
    # given the weighted-average example
    example = example_under("weighted_average")

    # when the first transfer is corrected: received on 15 March, after the March spending
    services.transfer_update(transfer=example.transfers[0], received_on=date(2020, 3, 15))

    # then February and March spending, before any funds, are at the parity
    assert example.stored() == [Decimal("4954.59"), Decimal("6936.43"), Decimal("9202.45")]


def test_a_deleted_transfer_leaves_its_spending_unfunded(example_under):
    # given the fifo example
    example = example_under("fifo")

    # when the second transfer is deleted
    deleted = example.transfers[1].pk
    services.transfer_delete(transfer=example.transfers[1])

    # then what it funded is unfunded, at the parity, and its pieces are gone
    assert example.stored() == [
        Decimal("5000.00"),
        Decimal("5000.00") + by_hand(1_300_000, "655.957"),
        by_hand(6_000_000, "655.957"),
    ]
    assert Expenditure.objects.get(pk=example.expenditures[2].pk).unfunded_xof == Decimal("6000000")
    assert not ExpenditureFunding.objects.filter(transfer_id=deleted).exists()


def test_an_expenditure_moved_earlier_takes_the_first_funds(example_under):
    # given the fifo example
    example = example_under("fifo")

    # when the May spending is redated to 20 January
    services.expenditure_update(expenditure=example.expenditures[2], date=date(2020, 1, 20))

    # then it takes 6,000,000 of the first tranche, and the others follow
    assert example.stored() == [
        by_hand(500_000, "650") + by_hand(2_750_000, "654"),     # 500,000 at 650, 2,750,000 at 654
        by_hand(3_790_000, "654") + by_hand(760_000, "655.957"),
        by_hand(6_000_000, "650"),
    ]


# --- monthly rates -----------------------------------------------------------------------------------------

def test_a_rate_added_for_a_month_revalues_that_months_spending(example_under):
    # given the example under monthly rates, with no rate for any month
    example = example_under("monthly_rate")
    february = Expenditure.objects.get(pk=example.expenditures[0].pk)
    assert (february.amount_eur, february.rate_missing) == (Decimal("4954.59"), True)

    # when a rate of 650.5 is added for February 2020
    ExchangeRate.objects.create(currency="XOF", month=date(2020, 2, 1), rate=Decimal("650.5"), source="donor")
    revalued = fx.after_rate_change(month=date(2020, 2, 1))

    # then February's spending is at 650.5, no longer flagged; March and May are unchanged
    february.refresh_from_db()
    assert (revalued.count, revalued.by_quarter) == (1, {"2020-Q1": 1})
    assert (february.amount_eur, february.rate_missing) == (by_hand(3_250_000, "650.5"), False)
    assert february.amount_eur == Decimal("4996.16")
    assert example.stored()[1:] == [Decimal("6936.43"), Decimal("9146.94")]


def test_a_rate_recorded_through_the_service_revalues_the_month(example_under):
    record = services.exchange_rate_record
    # given the example under monthly rates
    example = example_under("monthly_rate")

    # when a March rate is recorded, and then spending is recorded in March
    record(currency="XOF", rate=Decimal("651"), month=date(2020, 3, 1), source="donor's accounting rate")
    later = example.spend(651_000, date(2020, 3, 31), "BNCE-march")

    # then March's rows are at 651
    assert example.stored()[1] == by_hand(4_550_000, "651") == Decimal("6989.25")
    assert Expenditure.objects.get(pk=later.pk).amount_eur == Decimal("1000.00")


# --- switching the method ------------------------------------------------------------------------------------

def test_grant_revalue_switches_the_method_and_says_what_changed(example_under):
    # given the example at the parity and a finance officer
    example = example_under("parity")
    officer = make_user("officer", Role.FINANCE_OFFICER)

    # when the grant is switched to fifo
    result = grant_revalue(grant=example.grant, method="fifo", by=officer)

    # then the three rows changed by (5,000.00 + 6,987.77 + 9,170.84) - (4,954.59 + 6,936.43 + 9,146.94)
    assert result == {"method": "fifo", "revalued": 3, "delta_eur": Decimal("120.65"),
                      "by_quarter": {"2020-Q1": 2, "2020-Q2": 1}, "frozen_quarters": []}
    assert example.stored() == [Decimal("5000.00"), Decimal("6987.77"), Decimal("9170.84")]
    # and the grant's history and each row's history say who changed what
    latest = example.grant.history.order_by("-history_id").first()
    assert (latest.fx_method, latest.history_user, latest.prev_record.fx_method) == ("fifo", officer, "parity")
    row_history = Expenditure.objects.get(pk=example.expenditures[2].pk).history.order_by("-history_id").first()
    assert (row_history.amount_eur, row_history.history_user) == (Decimal("9170.84"), officer)
    assert row_history.history_change_reason == "revaluation parity -> fifo"

    # when it is switched back, the pieces go and the values are back at the parity
    back = grant_revalue(grant=example.grant, method="parity")
    assert back == {"method": "parity", "revalued": 3, "delta_eur": Decimal("-120.65"),
                    "by_quarter": {"2020-Q1": 2, "2020-Q2": 1}, "frozen_quarters": []}
    assert not ExpenditureFunding.objects.filter(expenditure__grant=example.grant).exists()


def test_revaluing_twice_changes_nothing(example_under):
    # given the fifo example, settled
    example = example_under("fifo")
    history = Expenditure.history.count()

    # when its partner is revalued again
    again = fx.revalue_partner(grant=example.grant, partner=example.partner)

    # then nothing changed, and no history row was written
    assert again == fx.Revaluation()
    assert Expenditure.history.count() == history


def test_switching_after_an_accepted_statement_needs_confirmation(example_under):
    # given the example and an accepted statement of the grant
    example = example_under("parity")
    QuarterlyStatement.objects.create(grant=example.grant, partner=example.partner, year=2020, quarter=1,
                                      status="accepted")

    # when the method is switched without confirmation, it is refused and nothing changes
    with pytest.raises(Conflict) as refused:
        grant_revalue(grant=example.grant, method="fifo")
    assert refused.value.code == "revaluation_needs_confirm"
    assert Grant.objects.get(pk=example.grant.pk).fx_method == "parity"

    # when it is confirmed, it is done for the open quarter only: 2020-Q1 keeps its EUR
    before = example.stored()
    result = grant_revalue(grant=example.grant, method="fifo", confirm=True)
    assert (result["revalued"], result["by_quarter"]) == (1, {"2020-Q2": 1})
    assert result["frozen_quarters"] == [{"partner": "BNCE", "period": "2020-Q1"}]
    assert example.stored()[:2] == before[:2]


def test_an_unknown_method_is_refused(example_under):
    example = example_under("parity", spend=False)
    with pytest.raises(ApplicationError) as refused:
        grant_revalue(grant=example.grant, method="spot")
    assert (refused.value.code, refused.value.attr) == ("unknown_fx_method", "method")


# --- cost ------------------------------------------------------------------------------------------------------

def bulk_spending(example: Example, count: int) -> None:
    """``count`` XOF expenditures at the parity, written in bulk (as an import would)."""
    rows = []
    for number in range(count):
        amount = xof(10_000 + number * 37)
        conversion = fx.conversion_at_parity(amount, parity=PARITY)
        rows.append(Expenditure(
            grant=example.grant, partner=example.partner, budget_line=example.line, location=example.location,
            date=date(2020, 1 + number % 12, 1 + number % 28), amount=amount, amount_eur=conversion.amount_eur,
            fx_rate=PARITY, fx_method="parity", voucher=f"BULK-{number}",
        ))
    Expenditure.objects.bulk_create(rows, batch_size=500)


@pytest.mark.parametrize("count", [200, 2000])
def test_revaluing_a_partner_costs_a_fixed_number_of_queries_per_batch(example_under, count,
                                                                       django_assert_max_num_queries):
    # given a partner with ``count`` expenditures at the parity, and the grant switched to fifo
    example = example_under("fifo", spend=False)
    bulk_spending(example, count)

    # when its partner is revalued, every row changes; the queries do not grow with the rows
    # (on SQLite, Django splits each bulk write by its 999-parameter limit: more per batch there)
    batches = -(-count // fx.BATCH_SIZE)
    with django_assert_max_num_queries(10 + 60 * batches):
        changed = fx.revalue_partner(grant=example.grant, partner=example.partner).count

    # then every row is revalued and has its pieces
    assert changed == count
    assert ExpenditureFunding.objects.filter(expenditure__grant=example.grant).count() >= count


# --- properties -------------------------------------------------------------------------------------------------

tranche_amounts = st.lists(
    st.tuples(st.integers(min_value=1, max_value=2_000_000),          # EUR sent, in cents
              st.integers(min_value=600_000, max_value=700_000)),     # XOF per 1,000 EUR
    min_size=0, max_size=4,
)
spending_amounts = st.lists(st.integers(min_value=1, max_value=3_000_000), min_size=1, max_size=8)


def _tranches(drawn) -> list[fx.Tranche]:
    out = []
    for number, (cents, per_thousand) in enumerate(drawn):
        sent = Decimal(cents) / 100
        received = (sent * per_thousand / 1000).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        if received > 0:
            out.append(fx.Tranche(number + 1, date(2020, 1, 1 + number), received, sent))
    return out


@settings(max_examples=60, deadline=None)
@given(drawn=tranche_amounts, amounts=spending_amounts)
def test_fifo_pieces_add_up_and_never_spend_more_eur_than_sent(drawn, amounts):
    # given tranches and spending, consumed first in first out
    tranches = _tranches(drawn)
    cursor = fx.FifoCursor(tranches, PARITY)
    conversions = [fx.fifo_conversion(Decimal(amount), cursor) for amount in amounts]

    # then each expenditure's pieces add up to it in XOF and to its EUR value
    for amount, conversion in zip(amounts, conversions, strict=True):
        assert sum(p.xof for p in conversion.pieces) == amount
        assert sum(p.eur for p in conversion.pieces) == conversion.amount_eur
        assert conversion.unfunded_xof == sum(p.xof for p in conversion.pieces if p.transfer_id is None)
    # and the EUR of funded pieces never exceeds the EUR sent, tranche by tranche
    for tranche in tranches:
        funded = sum(p.eur for c in conversions for p in c.pieces if p.transfer_id == tranche.transfer_id)
        assert funded <= tranche.eur
    # and the XOF taken from a tranche never exceed what it brought
    for tranche in tranches:
        assert sum(p.xof for c in conversions for p in c.pieces if p.transfer_id == tranche.transfer_id) <= tranche.xof


@pytest.fixture
def property_grant(db):
    return small_grant("fifo")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=tranche_amounts, amounts=spending_amounts,
       days=st.lists(st.integers(min_value=0, max_value=300), min_size=8, max_size=8))
def test_stored_fifo_conversions_hold_their_properties(property_grant, drawn, amounts, days):
    grant, partner, line, location = property_grant
    with transaction.atomic():
        # given transfers and spending stored in bulk at the parity, then revalued under fifo
        FundTransfer.objects.bulk_create([
            FundTransfer(grant=grant, partner=partner, sent_on=t.received_on, received_on=t.received_on,
                         amount_sent=Money(t.eur, "EUR"), amount_received=Money(t.xof, "XOF"))
            for t in _tranches(drawn)
        ])
        Expenditure.objects.bulk_create([
            Expenditure(grant=grant, partner=partner, budget_line=line, location=location,
                        date=date.fromordinal(date(2020, 1, 1).toordinal() + day), amount=xof(amount),
                        amount_eur=fx.conversion_at_parity(xof(amount), parity=PARITY).amount_eur,
                        fx_rate=PARITY, fx_method="parity", voucher=f"P-{number}")
            for number, (amount, day) in enumerate(zip(amounts, days, strict=False))
        ])
        fx.revalue_partner(grant=grant, partner=partner)

        # then the stored pieces add up to each expenditure in XOF and in EUR
        sent = sum((t.amount_sent.amount for t in FundTransfer.objects.filter(grant=grant)), Decimal("0"))
        funded_eur = Decimal("0")
        for expenditure in Expenditure.objects.filter(grant=grant):
            pieces = list(expenditure.funding.all())
            assert sum(p.xof for p in pieces) == expenditure.amount.amount
            assert sum(p.eur for p in pieces) == expenditure.amount_eur
            if expenditure.unfunded_xof == 0:
                funded_eur += expenditure.amount_eur
        # and the EUR of fully funded spending never exceeds the EUR sent
        assert funded_eur <= sent
        # and revaluing twice changes nothing
        assert fx.revalue_partner(grant=grant, partner=partner).count == 0
        transaction.set_rollback(True)


# --- one engine: per row, in batch and in the generator ------------------------------------------------

def _stored_by_id(grant) -> dict[int, tuple]:
    """Each expenditure's stored conversion and its funding pieces."""
    pieces: dict[int, list] = {}
    for expenditure_id, *piece in (ExpenditureFunding.objects.filter(expenditure__grant=grant)
                                   .order_by("expenditure_id", "id")
                                   .values_list("expenditure_id", "transfer_id", "xof", "eur", "rate")):
        pieces.setdefault(expenditure_id, []).append(tuple(piece))
    return {pk: (*values, tuple(pieces.get(pk, ())))
            for pk, *values in Expenditure.objects.filter(grant=grant).values_list("id", *fx.STORED_FIELDS)}


def _scramble(grant) -> None:
    """Forget every stored conversion: EUR 0.01 at rate 1, no pieces."""
    ExpenditureFunding.objects.filter(expenditure__grant=grant).delete()
    Expenditure.objects.filter(grant=grant).update(amount_eur=Decimal("0.01"), fx_rate=Decimal("1"),
                                                   fx_method="parity", rate_missing=False, unfunded_xof=0)


@pytest.mark.parametrize("method", ["parity", "monthly_rate", "weighted_average", "fifo"])
def test_per_row_batch_and_generator_store_the_same_conversions(grant, method):
    from expenditures.demo_data import demo_data_generate

    # given the Mali grant under ``method``, a donor's rate for one month, and a generated history
    # (its rows converted by the generator, then settled by the hook as after any write)
    Grant.objects.filter(pk=grant.pk).update(fx_method=method)
    grant.refresh_from_db()
    ExchangeRate.objects.create(currency="XOF", month=date(2016, 3, 1), rate=Decimal("650.250000"),
                                source="test: a donor's accounting rate")
    demo_data_generate(grant=grant, seed=7, expenditures=240)
    generated = _stored_by_id(grant)
    assert len(generated) == 240
    if method == "fifo":
        assert any(values[-1] for values in generated.values())  # pieces were made
    partners = list(Partner.objects.filter(expenditures__grant=grant).distinct().order_by("code"))

    # when every stored conversion is forgotten and the partners are revalued in batch
    _scramble(grant)
    for partner in partners:
        fx.revalue_partner(grant=grant, partner=partner)
    # then the batch stored exactly what the generator stored
    assert _stored_by_id(grant) == generated

    # when they are forgotten again and converted row by row (as a service does before a write),
    # then settled by the hook the services call after the write
    _scramble(grant)
    rates = fx.RateBook()
    for expenditure in Expenditure.objects.filter(grant=grant).select_related("grant").order_by("id"):
        fx.apply_conversion(expenditure, rates=rates)
        expenditure.save(update_fields=list(fx.STORED_FIELDS))
        if method in ("parity", "monthly_rate"):  # decided alone: final before any hook
            assert _stored_by_id(grant)[expenditure.pk][:5] == generated[expenditure.pk][:5]
    for partner in partners:
        fx.after_partner_change(grant=grant, partner=partner)
    # then the same again, to the cent, pieces included
    assert _stored_by_id(grant) == generated


def test_the_engine_is_what_every_helper_answers():
    # given an XOF amount of a day with no monthly rate and the parity
    rates = fx.RateBook(parity=PARITY)
    context = fx.ConversionContext(rates)
    amount = Decimal(3_250_000)

    # then conversion_for, conversion_at_parity and convert agree, and the rate stored is the rate used
    at_parity = fx.convert(amount, "XOF", "parity", date(2020, 2, 1), context=context)
    assert at_parity == fx.conversion_at_parity(xof(3_250_000), parity=PARITY)
    assert at_parity.values == (Decimal("4954.59"), Decimal("655.957000"), "parity", False, Decimal("0"))
    rates._monthly = {}
    assert fx.conversion_for(xof(3_250_000), method="monthly_rate", day=date(2020, 2, 1), rates=rates).values == (
        Decimal("4954.59"), Decimal("655.957000"), "monthly_rate", True, Decimal("0"))
    # a draft under fifo is at the parity and says so; EUR is never converted
    assert fx.convert(amount, "XOF", "fifo", date(2020, 2, 1), "draft", context).fx_method == "parity"
    assert fx.convert(Decimal("12.30"), "EUR", "fifo", date(2020, 2, 1), context=context).values == (
        Decimal("12.30"), Decimal("1.000000"), "fifo", False, Decimal("0"))


# --- frozen quarters (DOMAIN rule 8) ----------------------------------------------------------------------

def _frozen_state(pk: int) -> tuple:
    row = Expenditure.objects.filter(pk=pk).values_list(*fx.STORED_FIELDS).get()
    pieces = tuple(ExpenditureFunding.objects.filter(expenditure_id=pk).order_by("id")
                   .values_list("transfer_id", "xof", "eur", "rate"))
    return row, pieces


@pytest.fixture
def accepted_quarter(grant):
    """The Mali grant under fifo; BNCE received 6,500,000 XOF for 10,000.00 EUR (rate 650) on
    5 July 2016 and spent 4,000,000 XOF on 1 August, in its 2016-Q3 statement, accepted."""
    from expenditures.statements import statement_accept, statement_create, statement_submit

    Grant.objects.filter(pk=grant.pk).update(fx_method="fifo")
    grant.refresh_from_db()
    bnce = Partner.objects.get(code="BNCE")
    t1 = services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                                  amount_sent=eur("10000.00"), amount_received=xof(6_500_000))
    statement = statement_create(
        grant=grant, partner=bnce, period="2016-Q3", opening_balance=xof(0), funds_received=xof(6_500_000),
        closing_balance=xof(2_500_000), cash_on_hand=xof(500_000), bank_balance=xof(2_000_000),
        explanations={"2.1": "Rent of the shelter for the year."},
        lines=[{"date": "2016-08-01", "budget_line": "2.1", "location": "SEG", "amount": "4000000",
                "amount_currency": "XOF", "voucher": "B-1", "description": "Rent of the shelter"}])
    statement_accept(statement=statement_submit(statement=statement))
    frozen = Expenditure.objects.get(grant=grant, voucher="B-1")
    return grant, bnce, t1, frozen


def _spend(grant, partner, amount: int, day: date, voucher: str) -> Expenditure:
    from budget.models import BudgetLine
    from grants.models import Location

    return services.expenditure_record(grant=grant, partner=partner,
                                       budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
                                       location=Location.objects.get(code="SEG"), amount=xof(amount), date=day,
                                       voucher=voucher)


def test_fifo_open_rows_get_what_a_frozen_row_left_of_its_tranche(accepted_quarter):
    grant, bnce, t1, frozen = accepted_quarter
    # the accepted row took 4,000,000 XOF of the first tranche: 4,000,000 x 10,000 / 6,500,000 = 6,153.85
    # (its rate shown: the tranche's, 650; not 4,000,000 / 6,153.85)
    accepted = _frozen_state(frozen.pk)
    assert accepted == ((Decimal("6153.85"), Decimal("650.000000"), "fifo", False, Decimal("0")),
                        ((t1.pk, Decimal("4000000"), Decimal("6153.85"), Decimal("650.000000")),))

    # when BNCE records 1,000,000 XOF in the open 2016-Q2, before the accepted row
    june = _spend(grant, bnce, 1_000_000, date(2016, 6, 1), "B-Q2")

    # then the accepted row keeps its pieces, and the new row takes from what it left of the
    # tranche (1,000,000 x 10,000 / 6,500,000 = 1,538.46), not from the start of it
    assert _frozen_state(frozen.pk) == accepted
    assert (june.amount_eur, june.fx_method) == (Decimal("1538.46"), "fifo")  # the service's answer is settled
    assert _frozen_state(june.pk)[1] == ((t1.pk, Decimal("1000000"), Decimal("1538.46"), Decimal("650.000000")),)

    # when a second tranche arrives (5,000.00 EUR for 3,270,000 XOF, rate 654) and 3,000,000 is spent in Q4
    t2 = services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 10, 3),
                                  received_on=date(2016, 10, 5), amount_sent=eur("5000.00"),
                                  amount_received=xof(3_270_000))
    october = _spend(grant, bnce, 3_000_000, date(2016, 10, 10), "B-Q4")

    # then it takes the 1,500,000 left of the first tranche (EUR left 10,000 - 6,153.85 - 1,538.46 =
    # 2,307.69, its value at the rate) and 1,500,000 of the second (x 5,000 / 3,270,000 = 2,293.58)
    assert _frozen_state(october.pk)[1] == (
        (t1.pk, Decimal("1500000"), Decimal("2307.69"), Decimal("650.000000")),
        (t2.pk, Decimal("1500000"), Decimal("2293.58"), Decimal("654.000000")),
    )
    assert october.amount_eur == Decimal("4601.27") == by_hand(1_500_000, "650") + Decimal("2293.58")
    assert _frozen_state(frozen.pk) == accepted

    # and a reversal of the accepted row, entered in Q4, is never revalued and consumes nothing
    reversal = Expenditure.objects.create(
        grant=grant, partner=bnce, budget_line=frozen.budget_line, location=frozen.location, date=date(2016, 10, 1),
        amount=xof(-4_000_000), amount_eur=Decimal("-6153.85"), fx_rate=Decimal("650.000000"), fx_method="fifo",
        voucher="B-1~R1", adjusts=frozen, adjustment_reason="test: wrong line")
    result = fx.revalue_partner(grant=grant, partner=bnce)
    assert result == fx.Revaluation(frozen=(("BNCE", "2016-Q3"),))
    assert _frozen_state(reversal.pk) == ((Decimal("-6153.85"), Decimal("650.000000"), "fifo", False,
                                           Decimal("0")), ())
    assert fx.stale_conversions(grant=grant, partner=bnce) == {}


def test_an_accepted_quarter_keeps_its_eur_through_transfer_rate_and_method_changes(accepted_quarter):
    grant, bnce, t1, frozen = accepted_quarter
    accepted = _frozen_state(frozen.pk)
    t2 = services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 10, 3),
                                  received_on=date(2016, 10, 5), amount_sent=eur("5000.00"),
                                  amount_received=xof(3_270_000))
    october = _spend(grant, bnce, 3_000_000, date(2016, 10, 10), "B-Q4")
    assert october.amount_eur == by_hand(2_500_000, "650") + Decimal("764.53")  # 500,000 x 5,000 / 3,270,000

    # when the open quarter's transfer is corrected (3,300,000 XOF: rate 660)
    FundTransfer.objects.filter(pk=t2.pk).update(amount_received=3_300_000)
    moved = fx.after_partner_change(grant=grant, partner=bnce, reason="revaluation (transfer changed)")
    # then only the open quarter moves, and the answer says where
    assert (moved.count, moved.by_quarter, moved.frozen) == (1, {"2016-Q4": 1}, (("BNCE", "2016-Q3"),))
    assert moved.delta_eur == Decimal("757.58") - Decimal("764.53")  # 500,000 x 5,000 / 3,300,000
    assert _frozen_state(frozen.pk) == accepted

    # when the method is switched to monthly rates (confirmed) and a rate is added for August and October
    switched = grant_revalue(grant=grant, method="monthly_rate", confirm=True)
    assert (switched["revalued"], switched["by_quarter"]) == (1, {"2016-Q4": 1})
    assert switched["frozen_quarters"] == [{"partner": "BNCE", "period": "2016-Q3"}]
    ExchangeRate.objects.create(currency="XOF", month=date(2016, 8, 1), rate=Decimal("640"), source="test")
    august = fx.after_rate_change(month=date(2016, 8, 1))
    ExchangeRate.objects.create(currency="XOF", month=date(2016, 10, 1), rate=Decimal("640"), source="test")
    october_rate = fx.after_rate_change(month=date(2016, 10, 1))
    # then August's rate moves nothing (its quarter is accepted), October's moves October
    assert (august.count, august.frozen) == (0, (("BNCE", "2016-Q3"),))
    assert (october_rate.count, october_rate.by_quarter) == (1, {"2016-Q4": 1})
    assert Expenditure.objects.get(pk=october.pk).amount_eur == by_hand(3_000_000, "640")
    # and the accepted row still has the EUR, rate, method and pieces it was accepted with
    assert _frozen_state(frozen.pk) == accepted

    # when the standing rate changes, and the method goes to weighted average, then back to fifo
    parity = ExchangeRate.objects.get(currency="XOF", month__isnull=True)
    parity.rate = Decimal("656")
    parity.save()
    fx.after_rate_change(month=None)
    grant_revalue(grant=grant, method="weighted_average", confirm=True)
    assert _frozen_state(frozen.pk) == accepted
    back = grant_revalue(grant=grant, method="fifo", confirm=True)
    assert back["by_quarter"] == {"2016-Q4": 1}
    # then under fifo again the open row takes what the accepted row left, as before
    assert _frozen_state(october.pk)[1] == (
        (t1.pk, Decimal("2500000"), Decimal("3846.15"), Decimal("650.000000")),
        (t2.pk, Decimal("500000"), Decimal("757.58"), Decimal("660.000000")),
    )
    assert _frozen_state(frozen.pk) == accepted

    # and the auditor's check finds a tampered open row, never the accepted one
    Expenditure.objects.filter(pk=october.pk).update(amount_eur=Decimal("1.00"))
    stale = fx.stale_conversions(grant=grant, partner=bnce)
    assert list(stale) == [october.pk]
    assert stale[october.pk][0][0] == Decimal("1.00")
    assert stale[october.pk][1][0] == Decimal("3846.15") + Decimal("757.58")
    Expenditure.objects.filter(pk=frozen.pk).update(amount_eur=Decimal("2.00"))
    assert list(fx.stale_conversions(grant=grant, partner=bnce)) == [october.pk]


def test_only_a_finance_officer_revalues_a_grant(example_under, django_user_model):
    # given the example and a user who is no finance officer
    example = example_under("parity")
    stranger = django_user_model.objects.create_user("stranger")
    # when it asks for a revaluation, then it is refused and the method stays
    with pytest.raises(PermissionRefused):
        grant_revalue(grant=example.grant, method="fifo", by=stranger)
    example.grant.refresh_from_db()
    assert example.grant.fx_method == "parity"

