"""A small grant whose reports can be worked out by hand, and helpers to compute them.

The grant runs 2020-01-01 to 2022-12-31 (36 months, 1,096 days), total 100,000.00 EUR,
tolerance 10 %. Budget, version 1:

| line | partner | location | year | EUR |
| --- | --- | --- | --- | --- |
| 1.1 (heading 1) | PXOF | L1 | 1 | 12,000.00 (1,000.00 a month) |
| 1.1 | PXOF | L1 | 2 | 12,000.00 |
| 1.2 (heading 1) | PEUR | L2 | 1 | 1,000.00 (83.33 x 11, then 83.37) |
| 2.1 (heading 2) | PEUR | L1 | 3 | 75,000.00 |

Heading 1 targets 300 children, heading 2 has no target. Spending (parity, 655,957 XOF =
1,000.00 EUR), counted when submitted or validated:

| date | partner | line | amount | status | EUR |
| --- | --- | --- | --- | --- | --- |
| 2020-01-10 | PXOF | 1.1 | 655,957 XOF | validated | 1,000.00 |
| 2020-02-01 | PEUR | 1.2 | 1,200.00 EUR | validated | 1,200.00 |
| 2020-02-02 | PEUR | 1.2 | 99.00 EUR | draft | not counted |
| 2020-02-21 | PXOF | 1.1 | 655,957 XOF | rejected | not counted |
| 2020-03-15 | PXOF | 1.1 | 655,957 XOF | submitted | 1,000.00 |
| 2020-03-16 | PXOF | 1.1 | 655,957 XOF | validated | 1,000.00 (after 2020-03-15) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money

from budget.models import BudgetLine
from budget.services import allocation_set, version_approve, version_open_draft
from expenditures.services import expenditure_record
from grants.models import Grant, Location, Partner
from reports.selectors import budget_version_for, report_as_of, report_inputs
from tests.factories import BudgetLineFactory, GrantFactory, LocationFactory, PartnerFactory


@dataclass
class SmallGrant:
    grant: Grant
    pxof: Partner
    peur: Partner
    l1: Location
    l2: Location
    lines: dict[str, BudgetLine]


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def xof(value: int) -> Money:
    return Money(Decimal(value), "XOF")


def make_small_grant(code: str = "G-SMALL", *, spend: bool = True) -> SmallGrant:
    # given a grant with two headings, three lines, two partners and two places
    pxof = PartnerFactory(code="PXOF", name="Partenaire en francs", reporting_currency="XOF")
    peur = PartnerFactory(code="PEUR", name="Partner in euros", reporting_currency="EUR")
    l1 = LocationFactory(code="L1", name="Bamako")
    l2 = LocationFactory(code="L2", name="Ségou")
    grant = GrantFactory(code=code, total=eur("100000.00"), start_date=date(2020, 1, 1),
                         end_date=date(2022, 12, 31), variance_tolerance_pct=Decimal("10"))
    grant.partners.add(pxof, peur)
    h1 = BudgetLineFactory(grant=grant, code="1", label_fr="Prévention", label_en="Prevention",
                           beneficiary_target=300, beneficiary_unit="children", position=1)
    lines = {
        "1": h1,
        "1.1": BudgetLineFactory(grant=grant, code="1.1", parent=h1, label_fr="Animations",
                                 label_en="Sessions", position=2),
        "1.2": BudgetLineFactory(grant=grant, code="1.2", parent=h1, label_fr="Radios",
                                 label_en="Radio", position=3),
    }
    h2 = BudgetLineFactory(grant=grant, code="2", label_fr="Protection", label_en="Protection", position=4)
    lines["2"] = h2
    lines["2.1"] = BudgetLineFactory(grant=grant, code="2.1", parent=h2, label_fr="Accueil",
                                     label_en="Shelter", position=5)
    version = version_open_draft(grant=grant, label="original")
    for line, partner, place, year, amount in [
        ("1.1", pxof, l1, 1, "12000.00"), ("1.1", pxof, l1, 2, "12000.00"),
        ("1.2", peur, l2, 1, "1000.00"), ("2.1", peur, l1, 3, "75000.00"),
    ]:
        allocation_set(version=version, budget_line=lines[line], partner=partner, location=place,
                       year=year, amount=eur(amount))
    version_approve(version=version)
    small = SmallGrant(grant=grant, pxof=pxof, peur=peur, l1=l1, l2=l2, lines=lines)
    if spend:
        for day, partner, line, place, amount, status in [
            (date(2020, 1, 10), pxof, "1.1", l1, xof(655957), "validated"),
            (date(2020, 2, 1), peur, "1.2", l2, eur("1200.00"), "validated"),
            (date(2020, 2, 2), peur, "1.2", l2, eur("99.00"), "draft"),
            (date(2020, 2, 21), pxof, "1.1", l1, xof(655957), "rejected"),
            (date(2020, 3, 15), pxof, "1.1", l1, xof(655957), "submitted"),
            (date(2020, 3, 16), pxof, "1.1", l1, xof(655957), "validated"),
        ]:
            spent_on(small, day, partner, line, place, amount, status)
    return small


def spent_on(small: SmallGrant, day: date, partner: Partner, line: str, place: Location,
             amount: Money, status: str = "validated"):
    spent_on.counter = getattr(spent_on, "counter", 0) + 1
    return expenditure_record(
        grant=small.grant, partner=partner, budget_line=small.lines[line], location=place,
        amount=amount, date=day, voucher=f"V-{spent_on.counter:05d}", status=status,
    )


@pytest.fixture
def small(db) -> SmallGrant:
    return make_small_grant()


def inputs_for(grant: Grant, as_of: date, *, version: int | None = None, partner: Partner | None = None):
    return report_inputs(grant=grant, as_of=report_as_of(grant, as_of),
                         version=budget_version_for(grant=grant, number=version), partner=partner)


def money(value: str) -> Decimal:
    return Decimal(value)
