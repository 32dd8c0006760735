"""The auditor's check: statement digests sealed at acceptance and chained, and ``ledger_check``
finding what any path (raw SQL included) changed in the records."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone
from moneyed import Money

from budget.models import Allocation, BudgetLine, BudgetVersion
from budget.services import allocation_set, version_open_draft
from expenditures.audit import _fixed, statement_digest, statement_seal
from expenditures.demo_data import demo_data_generate
from expenditures.models import Expenditure, QuarterlyStatement
from expenditures.services import transfer_record
from expenditures.statements import statement_accept, statement_create, statement_submit
from grants.models import Location, Partner
from reports.checks import ledger_check
from tests.expenditures.test_statements import XOF, line, xof


def sql(statement: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def kinds(report) -> list[tuple]:
    return [(d.kind, d.partner, d.quarter) for d in report.discrepancies]


@pytest.fixture
def two_quarters(grant):
    """BNCE's 2016-Q3 and 2016-Q4, each submitted and accepted through the services."""
    bnce = Partner.objects.get(code="BNCE")
    transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 7, 1), received_on=date(2016, 7, 5),
                    amount_sent=Money(Decimal("10000.00"), "EUR"), amount_received=xof("6500000"))
    first = statement_create(grant=grant, partner=bnce, period="2016-Q3", opening_balance=xof(0),
                             funds_received=xof(6500000), closing_balance=xof(6000000), cash_on_hand=xof(1000000),
                             bank_balance=xof(5000000), lines=[line()])
    first = statement_accept(statement=statement_submit(statement=first))
    second = statement_create(grant=grant, partner=bnce, period="2016-Q4", opening_balance=xof(6000000),
                              funds_received=xof(0), closing_balance=xof(5000000), cash_on_hand=xof(1000000),
                              bank_balance=xof(4000000),
                              lines=[line(date="2016-11-02", voucher="B-2", amount="600000"),
                                     line(date="2016-12-01", voucher="B-3", amount="400000")])
    second = statement_accept(statement=statement_submit(statement=second))
    return first, second


@pytest.fixture
def history(grant):
    """The seed with a generated history (parity), no statement yet."""
    demo_data_generate(grant=grant, seed=42, expenditures=400)
    return grant


def accept_generated_quarter(grant, partner: Partner, year: int, quarter: int) -> QuarterlyStatement:
    """An accepted statement over a generated quarter's rows, sealed as ``statement_accept`` seals."""
    statement = QuarterlyStatement(grant=grant, partner=partner, year=year, quarter=quarter, status="accepted",
                                   reviewed_at=timezone.now())
    statement_seal(statement)
    statement.save()
    return statement


@pytest.fixture
def sealed(history):
    """CARITAS's 2016-Q1 and 2016-Q2 of the generated history, accepted and chained."""
    caritas = Partner.objects.get(code="CARITAS")
    q1 = accept_generated_quarter(history, caritas, 2016, 1)
    q2 = accept_generated_quarter(history, caritas, 2016, 2)
    return q1, q2


def row_in(statement: QuarterlyStatement) -> Expenditure:
    first_month = 3 * statement.quarter - 2
    return (Expenditure.objects.filter(grant=statement.grant, partner=statement.partner, date__year=statement.year,
                                       date__month__gte=first_month, date__month__lte=first_month + 2)
            .order_by("id").first())


# --- digests ---------------------------------------------------------------------------------------

def test_decimals_are_written_in_one_form_whatever_the_database_returns():
    assert _fixed(Decimal("762.250000"), Decimal("0.01")) == "762.25"
    assert _fixed(Decimal("762.25"), Decimal("0.01")) == "762.25"
    assert _fixed(Decimal("-0.00"), Decimal("0.01")) == "0.00"
    assert _fixed(Decimal("1E+3"), Decimal("1")) == "1000"
    assert _fixed(Decimal("655.957"), Decimal("0.000001")) == "655.957000"
    assert _fixed(None, Decimal("1")) == ""


def test_accepting_seals_the_statement_and_chains_it_to_the_previous_quarter(two_quarters):
    first, second = two_quarters
    assert len(first.digest) == 64 and int(first.digest, 16) >= 0
    assert first.previous_digest == ""
    assert second.previous_digest == first.digest
    assert second.digest not in ("", first.digest)
    stored = QuarterlyStatement.objects.get(pk=second.pk)
    assert (stored.digest, stored.previous_digest) == (second.digest, first.digest)  # saved by the service


def test_the_digest_is_stable_and_depends_on_every_part(two_quarters):
    first, second = two_quarters
    first = QuarterlyStatement.objects.get(pk=first.pk)
    assert statement_digest(first, previous_digest="") == first.digest
    assert statement_digest(first, previous_digest="") == first.digest  # twice the same
    assert statement_digest(first, previous_digest="0" * 64) != first.digest  # the chain is in it
    first.cash_on_hand = xof(1000001)
    assert statement_digest(first, previous_digest="") != first.digest  # the header is in it
    row = Expenditure.objects.get(voucher="B-1")
    Expenditure.objects.filter(pk=row.pk).update(description="not in the digest")
    first = QuarterlyStatement.objects.get(pk=first.pk)
    assert statement_digest(first, previous_digest="") == first.digest
    Expenditure.objects.filter(pk=row.pk).update(voucher="B-1bis")
    assert statement_digest(first, previous_digest="") != first.digest


def test_the_statements_of_the_service_pass_the_check(two_quarters):
    report = ledger_check(grant=two_quarters[0].grant)
    assert report.ok, report.discrepancies
    assert report.counts["statements"] == 2


# --- the check on a generated history --------------------------------------------------------------

def test_the_check_is_clean_on_the_seed_with_a_generated_history(sealed):
    steps = []
    report = ledger_check(progress=lambda done, total: steps.append((done, total)))
    assert report.ok, report.discrepancies
    assert report.grants == ["ML-ESEC-2015"]
    assert report.counts["statements"] == 2
    assert report.counts["groupings"] == 6
    assert report.counts["versions"] == BudgetVersion.objects.count()
    assert steps and steps[-1][0] == steps[-1][1] and [d for d, _ in steps] == list(range(1, len(steps) + 1))


def test_an_update_in_sql_of_an_accepted_quarters_eur_is_found(sealed):
    q1, q2 = sealed
    row = row_in(q2)
    assert sql("UPDATE expenditures_expenditure SET amount_eur = amount_eur + 0.01 WHERE id = %s", [row.pk]) == 1
    report = ledger_check()
    assert kinds(report) == [("digest_mismatch", "CARITAS", "2016-Q2")]
    finding = report.discrepancies[0]
    assert (finding.statement, finding.grant) == (q2.pk, "ML-ESEC-2015")


def test_a_row_deleted_in_sql_from_an_accepted_quarter_is_found(sealed):
    q1, q2 = sealed
    row = row_in(q1)
    assert sql("DELETE FROM expenditures_expenditure WHERE id = %s", [row.pk]) == 1
    report = ledger_check()
    assert kinds(report) == [("digest_mismatch", "CARITAS", "2016-Q1")]
    assert report.discrepancies[0].statement == q1.pk


def test_a_rewritten_digest_breaks_the_chain(sealed):
    q1, q2 = sealed
    sql("UPDATE expenditures_quarterlystatement SET digest = %s WHERE id = %s", ["f" * 64, q1.pk])
    report = ledger_check()
    assert kinds(report) == [("digest_mismatch", "CARITAS", "2016-Q1"), ("chain_broken", "CARITAS", "2016-Q2")]
    assert [d.statement for d in report.discrepancies] == [q1.pk, q2.pk]


def test_a_stale_conversion_in_an_open_quarter_is_found(sealed):
    row = Expenditure.objects.filter(grant=sealed[0].grant, date__gte=date(2017, 1, 1), amount_currency=XOF).first()
    sql("UPDATE expenditures_expenditure SET amount_eur = amount_eur + 1 WHERE id = %s", [row.pk])
    report = ledger_check()
    quarter = f"{row.date.year}-Q{(row.date.month - 1) // 3 + 1}"
    assert [(d.kind, d.expenditure, d.partner, d.quarter) for d in report.discrepancies] == [
        ("conversion_stale", row.pk, row.partner.code, quarter)]


def test_a_row_the_reports_cannot_see_makes_them_not_foot(history):
    row = Expenditure.objects.filter(grant=history, status="validated").first()
    sql("UPDATE expenditures_expenditure SET date = %s WHERE id = %s", [date(2019, 1, 15), row.pk])
    report = ledger_check()
    footing = [d for d in report.discrepancies if d.kind == "report_not_footing"]
    assert len(footing) == 6  # every grouping's total misses it
    for by in ("line", "partner", "location", "year", "quarter", "heading"):
        assert sum(f"by {by} does" in d.detail for d in footing) == 1


def test_a_version_whose_allocations_do_not_add_up_is_found_and_a_draft_only_noted(history):
    current = BudgetVersion.objects.get(grant=history, is_current=True)
    allocation = Allocation.objects.filter(version=current).order_by("id").first()
    sql("UPDATE budget_allocation SET amount = amount + 0.01 WHERE id = %s", [allocation.pk])
    report = ledger_check()
    assert [(d.kind, d.version) for d in report.discrepancies] == [("allocations_not_total", current.number)]
    assert "0.01" in report.discrepancies[0].detail

    sql("UPDATE budget_allocation SET amount = amount - 0.01 WHERE id = %s", [allocation.pk])
    draft = version_open_draft(grant=history, label="revision")
    allocation_set(version=draft, budget_line=BudgetLine.objects.get(grant=history, code="2.1"),
                   partner=Partner.objects.get(code="BNCE"), location=Location.objects.get(code="SEG"), year=1,
                   amount=Money(Decimal("1.00"), "EUR"))
    report = ledger_check()
    assert report.ok, report.discrepancies
    assert [(n.kind, n.version) for n in report.notes] == [("draft_allocations_not_total", draft.number)]


# --- the command -----------------------------------------------------------------------------------

def test_the_command_exits_0_when_clean_and_1_naming_the_record_otherwise(sealed, capsys, monkeypatch):
    # run_from_argv closes every connection when it ends, the test's transaction with it.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    out = StringIO()
    call_command("ledger_check", "--grant", "ML-ESEC-2015", stdout=out)
    assert "No discrepancy." in out.getvalue()
    execute_from_command_line(["manage.py", "ledger_check"])  # no SystemExit: status 0

    q1, q2 = sealed
    sql("UPDATE expenditures_expenditure SET amount_eur = amount_eur + 0.01 WHERE id = %s", [row_in(q2).pk])
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ledger_check", stdout=out)
    assert caught.value.returncode == 1
    assert (f"digest_mismatch: statement {q2.pk} grant ML-ESEC-2015 partner CARITAS quarter 2016-Q2"
            in out.getvalue())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "ledger_check", "--json"])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["ok"] is False
    assert [(d["kind"], d["statement"], d["partner"], d["quarter"]) for d in data["discrepancies"]] == [
        ("digest_mismatch", q2.pk, "CARITAS", "2016-Q2")]
    assert "1 discrepancy found" in captured.err


def test_the_command_refuses_an_unknown_grant(db):
    with pytest.raises(CommandError) as caught:
        call_command("ledger_check", "--grant", "NOPE", stdout=StringIO())
    assert caught.value.returncode == 2


class _Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_the_command_shows_a_bar_on_a_terminal_and_plain_lines_otherwise(sealed):
    # On a terminal: a progress bar (tqdm: redrawn with carriage returns), on stderr
    terminal, pipe = _Terminal(), StringIO()
    call_command("ledger_check", "--json", stdout=StringIO(), stderr=terminal)
    assert "ledger_check" in terminal.getvalue() and "\r" in terminal.getvalue()
    # Elsewhere (a log, CI): plain lines, at most one per tenth and the last at 100 %, still on stderr
    out = StringIO()
    call_command("ledger_check", "--json", stdout=out, stderr=pipe)
    lines = pipe.getvalue().splitlines()
    assert lines and "\r" not in pipe.getvalue() and len(lines) <= 12
    assert all(line.startswith("ledger_check: ") for line in lines) and lines[-1].endswith("(100 %)")
    assert json.loads(out.getvalue())["ok"] is True  # stdout holds the JSON alone


def test_a_reopened_quarter_keeps_its_old_digest_on_record_and_is_sealed_anew(two_quarters, finance_user):
    from expenditures.services import expenditure_update
    from expenditures.statements import statement_reopen

    first, second = two_quarters
    before = second.digest
    second = statement_reopen(statement=second, reason="Voucher B-3 was 1,000 XOF too high", by=finance_user)
    assert list(second.reopenings.values_list("digest", flat=True)) == [before]
    report = ledger_check()
    assert report.ok and report.counts["statements"] == 1  # an open quarter is not digested

    row = Expenditure.objects.get(voucher="B-3")
    expenditure_update(expenditure=row, by=finance_user, amount=xof(399000))
    second = statement_accept(statement=second, by=finance_user)
    assert second.previous_digest == first.digest and second.digest not in ("", before)
    report = ledger_check()
    assert report.ok, report.discrepancies
    assert report.counts["statements"] == 2
