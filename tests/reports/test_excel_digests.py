"""The donor workbook lists the digests of the accepted quarters it covers (sheet "Digests" /
"Empreintes"), with their reopenings, so that an auditor holding it can tell whether the ledger
changed since."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import openpyxl
import pytest
from django.utils import timezone

from expenditures.audit import statement_seal
from expenditures.demo_data import demo_data_generate
from expenditures.models import QuarterlyStatement, StatementReopening
from grants.models import Partner
from reports.excel import SHEETS, variance_workbook
from reports.selectors import budget_version_for


def workbook(grant, lang: str, as_of: date, partner=None):
    _, handle = variance_workbook(grant=grant, as_of=as_of, version=budget_version_for(grant=grant), lang=lang,
                                  partner=partner)
    with handle:
        return openpyxl.load_workbook(BytesIO(handle.read()))


@pytest.fixture
def accepted(grant, finance_user):
    """CARITAS's 2016-Q1 and Q2 and BNCE's 2016-Q1 accepted over a generated history; CARITAS's
    Q1 was reopened once before (its reopening is on record)."""
    demo_data_generate(grant=grant, seed=3, expenditures=200)
    made = {}
    for code, quarter in (("CARITAS", 1), ("CARITAS", 2), ("BNCE", 1), ("BNCE", 4)):
        statement = QuarterlyStatement(grant=grant, partner=Partner.objects.get(code=code), year=2016,
                                       quarter=quarter, status="accepted", reviewed_at=timezone.now(),
                                       reviewed_by=finance_user)
        statement_seal(statement)
        statement.save()
        made[(code, quarter)] = statement
    StatementReopening.objects.create(statement=made[("CARITAS", 1)], reason="Loyer compté deux fois",
                                      digest="a" * 64, reopened_by=finance_user)
    return made


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_workbook_lists_the_digests_of_the_quarters_it_covers(grant, accepted, lang):
    wb = workbook(grant, lang, date(2016, 9, 30))
    ws = wb[SHEETS[lang]["digests"]]
    assert wb.sheetnames[-1] == SHEETS[lang]["digests"] == {"en": "Digests", "fr": "Empreintes"}[lang]
    header = [c.value for c in ws[5]]
    assert header == {"en": ["Partner", "Period", "Accepted at", "Digest", "Previous digest",
                             "Reopenings (when, why, digest then)"],
                      "fr": ["Partenaire", "Période", "Accepté le", "Empreinte", "Empreinte précédente",
                             "Réouvertures (date, motif, empreinte d'alors)"]}[lang]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows(min_row=6)]
    listed = [(partner, period, digest, previous) for partner, period, _at, digest, previous, _r in rows]
    caritas_q1, caritas_q2, bnce_q1 = accepted[("CARITAS", 1)], accepted[("CARITAS", 2)], accepted[("BNCE", 1)]
    # BNCE's 2016-Q4 starts after the as-of date: not covered
    assert listed == [
        ("BNCE", "2016-Q1", bnce_q1.digest, "-"),
        ("CARITAS", "2016-Q1", caritas_q1.digest, "-"),
        ("CARITAS", "2016-Q2", caritas_q2.digest, caritas_q1.digest),
    ]
    assert all(len(digest) == 64 for _, _, digest, _ in listed)
    reopenings = {(r[0], r[1]): r[5] for r in rows}
    assert "Loyer compté deux fois" in reopenings[("CARITAS", "2016-Q1")]
    assert "a" * 64 in reopenings[("CARITAS", "2016-Q1")]
    assert not reopenings[("CARITAS", "2016-Q2")]
    assert rows[1][2].startswith(f"{caritas_q1.reviewed_at:%Y-%m-%d}")


def test_a_partners_workbook_lists_its_own_digests_and_none_without_accepted_quarters(grant, accepted):
    wb = workbook(grant, "en", date(2018, 6, 30), partner=Partner.objects.get(code="BNCE"))
    rows = [tuple(c.value for c in row) for row in wb[SHEETS["en"]["digests"]].iter_rows(min_row=6)]
    assert [(r[0], r[1]) for r in rows] == [("BNCE", "2016-Q1"), ("BNCE", "2016-Q4")]
    wb = workbook(grant, "en", date(2015, 12, 31))
    assert SHEETS["en"]["digests"] not in wb.sheetnames  # no accepted quarter covered: no sheet
