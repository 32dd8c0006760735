"""The contract is good enough to generate a client from: openapi-python-client turns the served
schema (/api/schema/) into a Python package without a warning, and that package's models and
endpoint functions, not hand-written HTTP, draft, fill and submit BNCE's quarter against a live
server, and read the problems of a refused submission.

The generator's settings are the ones the README gives partners (examples/openapi-python-client.yaml).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.request import urlopen

import pytest
from rest_framework.authtoken.models import Token

from expenditures.models import Expenditure
from tests.api import support
from tests.test_worked_examples import QUARTER_LINES

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "openapi-python-client.yaml"
PACKAGE = "grant_ledger_client"


def generate_client(base_url: str, folder: Path) -> subprocess.CompletedProcess:
    """The served schema saved to a file, and the generator run on it (the package in ``folder``)."""
    schema = folder / "schema.json"
    with urlopen(f"{base_url}/api/schema/?format=json") as response:
        schema.write_bytes(response.read())
    return subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema), "--config", str(CONFIG),
         "--meta", "none", "--output-path", str(folder / PACKAGE), "--fail-on-warning"],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture
def funded_bnce(grant):
    """BNCE's bank credited 650,000 XOF on 2016-01-18 (1,000.00 EUR sent): 2016-Q1's funds received."""
    return support.transfer(grant, "BNCE", sent="1000.00", received="650000", sent_on=date(2016, 1, 12),
                            received_on=date(2016, 1, 18))


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_drafts_fills_and_submits_a_statement(live_server, tmp_path, monkeypatch, grant,
                                                                 bnce_user, funded_bnce):
    # Given a client generated from the served schema
    done = generate_client(live_server.url, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    monkeypatch.syspath_prepend(str(tmp_path))
    client_module = importlib.import_module(f"{PACKAGE}.client")
    models = importlib.import_module(f"{PACKAGE}.models")
    create, partial_update, submit, retrieve = (
        importlib.import_module(f"{PACKAGE}.api.statements.v1_statements_{name}")
        for name in ("create", "partial_update", "submit_create", "retrieve"))
    token = Token.objects.create(user=bnce_user).key
    client = client_module.AuthenticatedClient(base_url=live_server.url, token=token, prefix="Token",
                                               raise_on_unexpected_status=True)
    xof = models.CurrencyEnum.XOF

    with client:
        # When BNCE drafts its 2016-Q1 statement: opening 0 + received 650,000 - spent 400,000 =
        # closing 250,000 XOF, of which it counts 40,000 in the cash box (50,000 in truth) and
        # 200,000 at the bank
        draft = create.sync(client=client, body=models.StatementRequest(
            grant=support.SEED, period="2016-Q1",
            opening_balance="0", opening_balance_currency=xof,
            funds_received="650000", funds_received_currency=xof,
            closing_balance="250000", closing_balance_currency=xof,
            cash_on_hand="40000", cash_on_hand_currency=xof,
            bank_balance="200000", bank_balance_currency=xof,
        ))
        assert isinstance(draft, models.Statement), draft
        assert (draft.partner, draft.status, draft.total_spent) == ("BNCE", models.StatementStatusEnum.DRAFT, "0")

        # and fills in its three receipts (125,000 + 200,000 + 75,000 = 400,000 XOF)
        filled = partial_update.sync(draft.id, client=client, body=models.PatchedStatementRequest(
            expenditures=[models.StatementLineRequest(**line) for line in QUARTER_LINES]))
        assert isinstance(filled, models.Statement), filled
        assert (filled.total_spent, filled.total_spent_currency) == ("400000", "XOF")
        assert [line.voucher for line in filled.expenditures] == ["BNCE-16-001", "BNCE-16-002", "BNCE-16-003"]

        # Then submitting it is refused, with the one problem named: 40,000 + 200,000 is not 250,000
        refused = submit.sync_detailed(draft.id, client=client)
        assert refused.status_code == 400, refused.content
        problems = [(error.code, error.attr) for error in refused.parsed.errors]
        assert problems == [("cash_mismatch", "cash_on_hand")]
        assert Expenditure.objects.count() == 0

        # When BNCE corrects its cash count and submits again
        partial_update.sync(draft.id, client=client, body=models.PatchedStatementRequest(cash_on_hand="50000",
                                                                                         cash_on_hand_currency=xof))
        submitted = submit.sync(draft.id, client=client)

        # Then it is submitted and its three lines are in the ledger
        assert isinstance(submitted, models.Statement), submitted
        assert submitted.status == models.StatementStatusEnum.SUBMITTED and submitted.submitted_at is not None
        assert retrieve.sync(draft.id, client=client).status == models.StatementStatusEnum.SUBMITTED
    ledger = Expenditure.objects.filter(statement_id=draft.id)
    assert sorted(ledger.values_list("voucher", flat=True)) == ["BNCE-16-001", "BNCE-16-002", "BNCE-16-003"]
    assert sum(row.amount.amount for row in ledger) == 400000
