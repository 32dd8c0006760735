"""The partners' example script (examples/submit_statement.py), run as a partner runs it, against a
live server: the template downloaded, a quarter refused with its problem named by the CSV's row,
then corrected and submitted."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from expenditures.models import Expenditure, QuarterlyStatement
from tests.api import support

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "submit_statement.py"

# BNCE's 2016-Q1 (tests/test_worked_examples.py): 125,000 + 200,000 + 75,000 = 400,000 XOF spent;
# opening 0 + received 650,000 - 400,000 = closing 250,000 = 50,000 cash + 200,000 at the bank.
CSV = """date,budget_line,location,amount,voucher,description
2016-01-25,2.1,SEG,125000,BNCE-16-001,Community facilitators trained
2016-02-10,{line},BKO,200000,BNCE-16-002,"Coordinator's salary, February"
2016-03-15,1.2,SEG,75000,BNCE-16-003,Field visits
"""
BALANCES = ["--opening", "0", "--received", "650000", "--closing", "250000", "--cash", "50000", "--bank", "200000"]


@pytest.mark.django_db(transaction=True)
def test_the_example_script_downloads_the_template_and_submits_a_statement(live_server, tmp_path, grant, bnce_user):
    # Given BNCE's bank credited 650,000 XOF in 2016-Q1, and BNCE's token
    support.transfer(grant, "BNCE", sent="1000.00", received="650000", sent_on=date(2016, 1, 12),
                     received_on=date(2016, 1, 18))
    token = Token.objects.create(user=bnce_user).key

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), "--base", live_server.url, "--token", token,
                               "--grant", support.SEED, "--period", "2016-Q1", *args],
                              capture_output=True, text=True, timeout=60)

    # When BNCE downloads its template
    template = tmp_path / "statement.xlsx"
    done = run("--template", str(template), "--lang", "fr")
    # Then it is a workbook (a zip)
    assert done.returncode == 0, done.stdout + done.stderr
    assert template.read_bytes()[:2] == b"PK"

    # When it submits its lines with the salary on line 1.3, which is not allocated to BNCE
    lines = tmp_path / "lines.csv"
    lines.write_text(CSV.format(line="1.3"), encoding="utf-8")
    done = run(*BALANCES, "--lang", "fr", str(lines))
    # Then the draft is made, the submission refused, and the problem named by the file's row 3
    # (row 1 is the header) and its voucher, in French
    assert done.returncode == 1, done.stdout + done.stderr
    draft = QuarterlyStatement.objects.get()
    assert done.stdout.splitlines() == [
        f"Relevé {draft.pk} (BNCE, 2016-Q1) créé en brouillon.",
        "Refusé : 1 problème(s).",
        "  - ligne 3 du fichier (pièce BNCE-16-002), budget_line : BNCE n'a pas de budget sur la ligne 1.3. "
        "[line_not_allocated]",
    ]
    assert Expenditure.objects.count() == 0

    # When it corrects the line and runs the script again
    lines.write_text(CSV.format(line="1.1"), encoding="utf-8")
    done = run(*BALANCES, str(lines))
    # Then the same draft is updated and submitted, and its three lines are in the ledger
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"Statement {draft.pk} (BNCE, 2016-Q1) updated.",
        f"Submitted: statement {draft.pk}, 3 lines, 400000 XOF spent.",
    ]
    draft.refresh_from_db()
    assert draft.status == "submitted"
    assert sorted(Expenditure.objects.filter(statement=draft).values_list("voucher", flat=True)) == [
        "BNCE-16-001", "BNCE-16-002", "BNCE-16-003"]
