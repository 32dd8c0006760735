"""Worked examples: real scenarios told end to end through the public API, numbers by hand.

Each story starts from the Mali seed (ML-ESEC-2015, version 1 approved, no spending) and the
three roles' API clients (tests/conftest.py): a finance officer, BNCE (a partner in Mali, which
spends XOF on lines 1.1, 1.2 and 2.1 among others, not 1.3) and a member of the donor MAEE-LU.
Every figure asserted is worked out in the comments beside it, never read back from the code
that computes it.

1. A partner's quarter, from the first transfer to the accepted statement.
2. A correction after acceptance: by an adjustment in an open quarter, or by reopening the quarter.
3. A reallocation beyond the 25 % limit, refused, then approved by the donor.
4. A partner's quarter as an accountant in Mopti sends it: the template downloaded, filled in Excel,
   uploaded with a mistake, corrected and sent again, submitted and accepted, to the franc.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

GRANT = "ML-ESEC-2015"
HEX64 = re.compile(r"[0-9a-f]{64}")

# BNCE's first quarter, as the partner reports it. Three receipts, 400,000 XOF in all:
#   BNCE-16-001  2016-01-25  line 2.1  SEG  125,000 XOF  facilitators trained
#   BNCE-16-002  2016-02-10  line 1.1  BKO  200,000 XOF  coordinator's salary
#   BNCE-16-003  2016-03-15  line 1.2  SEG   75,000 XOF  field visits
QUARTER_LINES = [
    {"date": "2016-01-25", "budget_line": "2.1", "location": "SEG", "amount": "125000",
     "amount_currency": "XOF", "voucher": "BNCE-16-001", "description": "Community facilitators trained"},
    {"date": "2016-02-10", "budget_line": "1.1", "location": "BKO", "amount": "200000",
     "amount_currency": "XOF", "voucher": "BNCE-16-002", "description": "Coordinator's salary, February"},
    {"date": "2016-03-15", "budget_line": "1.2", "location": "SEG", "amount": "75000",
     "amount_currency": "XOF", "voucher": "BNCE-16-003", "description": "Field visits"},
]

# Under fifo, all three are paid from the one transfer (650,000 XOF for 1,000.00 EUR, so
# 650 XOF/EUR): EUR = XOF / 650, half up to the cent.
#   125,000 / 650 = 192.3076... -> 192.31
#   200,000 / 650 = 307.6923... -> 307.69
#    75,000 / 650 = 115.3846... -> 115.38
#   rows' total                     615.38   (and 400,000 / 650 = 615.3846... -> 615.38 too)
# At the parity they would have been 190.56, 304.90 and 114.34 (609.80): the 5.58 EUR between
# the two is the cost of the francs the bank did not credit, which fifo puts inside the rate.
EUR_BY_VOUCHER = {"BNCE-16-001": "192.31", "BNCE-16-002": "307.69", "BNCE-16-003": "115.38"}
# A row stores the rate used (expenditures.fx): each is paid whole from the one tranche, so 650,
# the tranche's rate, not XOF / rounded EUR (125,000 / 192.31 would read 649.992200).
RATE_BY_VOUCHER = {"BNCE-16-001": "650.000000", "BNCE-16-002": "650.000000", "BNCE-16-003": "650.000000"}


def error_code(response) -> str | None:
    body = response.json() if response.content else {}
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors[0]["code"] if errors else None


def error_details(response) -> str:
    return " ".join(error["detail"] for error in response.json().get("errors", []))


def results(response) -> list[dict]:
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


def record_first_transfer(finance) -> dict:
    # 1,000.00 EUR sent on 2016-01-12; BNCE's bank credits 650,000 XOF on 2016-01-18, not
    # 1,000 x 655.957 = 655,957: 5,957 XOF fewer (9.08 EUR at the parity). The NGO's bank also
    # charges 6.00 EUR (6 per mille of 1,000.00), which stay apart from the rate.
    response = finance.post("/api/v1/transfers/", {
        "grant": GRANT, "partner": "BNCE", "sent_on": "2016-01-12", "received_on": "2016-01-18",
        "amount_sent": "1000.00", "amount_sent_currency": "EUR",
        "amount_received": "650000", "amount_received_currency": "XOF",
        "fees": "6.00", "fees_currency": "EUR", "reference": "BMS-2016-0042",
    }, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def statement_body() -> dict:
    # opening 0 + received 650,000 - spent 400,000 = closing 250,000 XOF,
    # counted as 50,000 in the cash box + 200,000 at the bank.
    return {
        "grant": GRANT, "period": "2016-Q1", "expenditures": QUARTER_LINES,
        "opening_balance": "0", "opening_balance_currency": "XOF",
        "funds_received": "650000", "funds_received_currency": "XOF",
        "closing_balance": "250000", "closing_balance_currency": "XOF",
        "cash_on_hand": "50000", "cash_on_hand_currency": "XOF",
        "bank_balance": "200000", "bank_balance_currency": "XOF",
    }


def rows_of(client, statement_id: int) -> dict[str, dict]:
    response = client.get(f"/api/v1/expenditures/?statement={statement_id}")
    assert response.status_code == 200
    return {row["voucher"]: row for row in results(response)}


def accepted_quarter(finance, bnce) -> tuple[dict, dict[str, dict]]:
    """Story 1 in short: BNCE's 2016-Q1 under fifo, accepted. Answers the statement and its rows."""
    record_first_transfer(finance)
    assert finance.post(f"/api/v1/grants/{GRANT}/revalue/", {"method": "fifo"}, format="json").status_code == 200
    statement = bnce.post("/api/v1/statements/", statement_body(), format="json").json()
    assert bnce.post(f"/api/v1/statements/{statement['id']}/submit/").status_code == 200
    accepted = finance.post(f"/api/v1/statements/{statement['id']}/accept/", {"comment": "Checked."},
                            format="json")
    assert accepted.status_code == 200, accepted.json()
    return accepted.json(), rows_of(finance, statement["id"])


def bnce_actual(finance) -> tuple[Decimal, Decimal]:
    """BNCE's actual EUR spending in the variance report, and the report's total actual."""
    response = finance.get(f"/api/v1/grants/{GRANT}/reports/variance/?by=partner")
    assert response.status_code == 200, response.json()
    report = response.json()
    (row,) = [row for row in report["rows"] if "BNCE" in (row["key"], row["label"])]
    return Decimal(row["actual"]), Decimal(report["total"]["actual"])


# --- 1. a partner's quarter -------------------------------------------------------------------------

def test_a_partners_quarter_from_the_first_transfer_to_the_accepted_statement(grant, finance, bnce):
    # Given the first transfer to BNCE, received in 2016-Q1
    transfer = record_first_transfer(finance)
    # then its rate is what the bank credited per euro sent, fees apart: 650,000 / 1,000.00 = 650
    assert Decimal(transfer["rate"]) == Decimal("650")
    assert (transfer["fees"], transfer["fees_currency"]) == ("6.00", "EUR")

    # and the grant converts at the rate actually obtained (fifo), switched before any
    # statement is accepted, so no confirmation is needed and no spending moves yet
    switched = finance.post(f"/api/v1/grants/{GRANT}/revalue/", {"method": "fifo"}, format="json")
    assert switched.status_code == 200, switched.json()
    assert (switched.json()["method"], switched.json()["revalued"]) == ("fifo", 0)

    # When BNCE drafts its 2016-Q1 statement and submits it
    created = bnce.post("/api/v1/statements/", statement_body(), format="json")
    assert created.status_code == 201, created.json()
    statement = created.json()
    assert (statement["partner"], statement["status"]) == ("BNCE", "draft")
    assert (statement["total_spent"], statement["total_spent_currency"]) == ("400000", "XOF")
    submitted = bnce.post(f"/api/v1/statements/{statement['id']}/submit/")

    # Then it is submitted and its three lines are in the ledger, each paid whole from the one
    # transfer at 650 XOF/EUR
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == "submitted"
    rows = rows_of(finance, statement["id"])
    assert set(rows) == set(EUR_BY_VOUCHER)
    for voucher, eur in EUR_BY_VOUCHER.items():
        row = rows[voucher]
        assert (row["amount_eur"], row["fx_rate"], row["fx_method"]) == (eur, RATE_BY_VOUCHER[voucher], "fifo")
        assert row["status"] == "submitted"
        (piece,) = finance.get(f"/api/v1/expenditures/{row['id']}/").json()["funding"]
        assert (piece["transfer"], Decimal(piece["xof"]), Decimal(piece["eur"]), Decimal(piece["rate"])) == (
            transfer["id"], Decimal(row["amount"]), Decimal(eur), Decimal("650"))

    # and while it is submitted, BNCE cannot change the rows it sent
    salary = rows["BNCE-16-002"]
    frozen = bnce.patch(f"/api/v1/expenditures/{salary['id']}/", {"amount": "180000", "amount_currency": "XOF"},
                        format="json")
    assert frozen.status_code == 409
    assert error_code(frozen) == "statement_submitted"
    assert finance.get(f"/api/v1/expenditures/{salary['id']}/").json()["amount"] == "200000"

    # When finance accepts it
    accepted = finance.post(f"/api/v1/statements/{statement['id']}/accept/",
                            {"comment": "Vouchers checked against the bank statement."}, format="json")

    # Then the statement is accepted with its digest, and its rows are validated at the EUR
    # worked out above: 192.31 + 307.69 + 115.38 = 615.38
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["review_comment"] == "Vouchers checked against the bank statement."
    assert HEX64.fullmatch(accepted.json()["digest"])
    rows = rows_of(finance, statement["id"])
    assert {voucher: row["amount_eur"] for voucher, row in rows.items()} == EUR_BY_VOUCHER
    assert {row["status"] for row in rows.values()} == {"validated"}
    assert sum(Decimal(row["amount_eur"]) for row in rows.values()) == Decimal("615.38")
    assert bnce_actual(finance)[0] == Decimal("615.38")

    # and the quarter is locked, for finance too: a row of 2016-Q1 does not change
    locked = finance.patch(f"/api/v1/expenditures/{salary['id']}/", {"amount": "180000", "amount_currency": "XOF"},
                           format="json")
    assert locked.status_code == 409
    assert error_code(locked) == "period_locked"
    assert "2016-Q1" in error_details(locked)
    assert finance.get(f"/api/v1/expenditures/{salary['id']}/").json()["amount_eur"] == "307.69"

    # nor does the transfer that funded it (655,000 XOF would make the rate 655 and move the EUR)
    moved = finance.patch(f"/api/v1/transfers/{transfer['id']}/", {"amount_received": "655000",
                                                                   "amount_received_currency": "XOF"},
                          format="json")
    assert moved.status_code == 409
    assert error_code(moved) == "period_locked"
    assert "2016-Q1" in error_details(moved)
    assert finance.get(f"/api/v1/transfers/{transfer['id']}/").json()["amount_received"] == "650000"
    # while its bank reference, which carries no money, may still be corrected
    noted = finance.patch(f"/api/v1/transfers/{transfer['id']}/", {"reference": "BMS-2016-0042/A"}, format="json")
    assert noted.status_code == 200, noted.json()
    assert {voucher: row["amount_eur"] for voucher, row in rows_of(finance, statement["id"]).items()} \
        == EUR_BY_VOUCHER


# --- 2. a correction after acceptance ---------------------------------------------------------------

def test_a_correction_after_acceptance_is_an_adjustment_in_an_open_quarter(grant, finance, bnce):
    # Given BNCE's 2016-Q1 accepted, the facilitators' training booked at 125,000 XOF = 192.31 EUR
    statement, rows = accepted_quarter(finance, bnce)
    training = rows["BNCE-16-001"]
    assert training["amount_eur"] == "192.31"
    actual_before, total_before = bnce_actual(finance)
    assert actual_before == Decimal("615.38")

    # and the invoice really said 130,000 XOF: the row itself cannot change
    refused = finance.patch(f"/api/v1/expenditures/{training['id']}/", {"amount": "130000",
                                                                         "amount_currency": "XOF"}, format="json")
    assert error_code(refused) == "period_locked"

    # When finance adjusts it from 2016-Q2, which is open
    adjusted = finance.post(f"/api/v1/expenditures/{training['id']}/adjust/", {
        "date": "2016-04-15", "reason": "Invoice 2016/014 reads 130,000 XOF, not 125,000.",
        "amount": "130000", "amount_currency": "XOF"}, format="json")

    # Then a reversal takes back exactly what was accepted: -125,000 XOF and -192.31 EUR
    assert adjusted.status_code == 201, adjusted.json()
    reversal, replacement = adjusted.json()["reversal"], adjusted.json()["replacement"]
    assert (reversal["date"], reversal["amount"], reversal["amount_currency"]) == ("2016-04-15", "-125000", "XOF")
    assert reversal["amount_eur"] == "-192.31"
    # and a replacement books the corrected amount, converted like any expenditure: it is paid
    # from what is left of the same transfer (650,000 - 400,000 = 250,000 XOF), at 650 XOF/EUR:
    # 130,000 / 650 = 200.00 EUR exactly
    assert (replacement["date"], replacement["amount"], replacement["amount_currency"]) == (
        "2016-04-15", "130000", "XOF")
    assert (replacement["budget_line"], replacement["location"]) == ("2.1", "SEG")
    assert replacement["amount_eur"] == "200.00"
    assert replacement["fx_rate"] == "650.000000"  # 130,000 / 200.00, no rounding this time

    # and the accepted row keeps the EUR it was accepted with
    assert finance.get(f"/api/v1/expenditures/{training['id']}/").json()["amount_eur"] == "192.31"
    assert finance.get(f"/api/v1/statements/{statement['id']}/").json()["digest"] == statement["digest"]

    # and BNCE's actual moves by replacement - original = 200.00 - 192.31 = 7.69 EUR:
    # 615.38 - 192.31 + 200.00 = 623.07, and the grant's total actual by the same 7.69
    actual_after, total_after = bnce_actual(finance)
    assert actual_after == Decimal("623.07")
    assert actual_after - actual_before == Decimal("7.69")
    assert total_after - total_before == Decimal("7.69")


def test_a_correction_after_acceptance_by_reopening_the_quarter(grant, finance, bnce):
    # Given BNCE's 2016-Q1 accepted, with the coordinator's salary booked in Bamako
    statement, rows = accepted_quarter(finance, bnce)
    salary = rows["BNCE-16-002"]
    assert salary["location"] == "BKO"
    first_digest = statement["digest"]

    # When finance reopens the quarter with a reason
    reason = "The coordinator worked in Ségou in February; location to correct."
    reopened = finance.post(f"/api/v1/statements/{statement['id']}/reopen/", {"reason": reason}, format="json")

    # Then the statement is submitted again, and the reason stays on record with the digest
    # the quarter had
    assert reopened.status_code == 200, reopened.json()
    assert reopened.json()["status"] == "submitted"
    (reopening,) = reopened.json()["reopenings"]
    assert (reopening["reason"], reopening["digest"], reopening["reopened_by"]) == (reason, first_digest, "finance")

    # When finance corrects the row (the quarter is open again) and accepts anew
    corrected = finance.patch(f"/api/v1/expenditures/{salary['id']}/", {"location": "SEG"}, format="json")
    assert corrected.status_code == 200, corrected.json()
    accepted = finance.post(f"/api/v1/statements/{statement['id']}/accept/", {"comment": "Location corrected."},
                            format="json")

    # Then the quarter is accepted under a new digest, the reopening still listed
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted"
    assert HEX64.fullmatch(accepted.json()["digest"])
    assert accepted.json()["digest"] != first_digest
    assert [r["reason"] for r in accepted.json()["reopenings"]] == [reason]
    # and the row moved place, not money: 200,000 XOF, still 307.69 EUR
    row = finance.get(f"/api/v1/expenditures/{salary['id']}/").json()
    assert (row["location"], row["amount"], row["amount_eur"]) == ("SEG", "200000", "307.69")
    # and the quarter is locked again
    relocked = finance.patch(f"/api/v1/expenditures/{salary['id']}/", {"location": "BKO"}, format="json")
    assert error_code(relocked) == "period_locked"


# --- 3. a reallocation refused, then approved ---------------------------------------------------------

def versions_url(suffix: str = "") -> str:
    return f"/api/v1/grants/{GRANT}/versions/{suffix}"


def cell(line: str, year: int) -> dict:
    return {"budget_line": line, "partner": "CARITAS", "location": "BKO", "year": year}


def allocation_id(client, number: int, line: str, year: int) -> tuple[int, Decimal]:
    response = client.get(versions_url(f"{number}/allocations/?page_size=1000"))
    assert response.status_code == 200
    (row,) = [row for row in results(response)
              if (row["budget_line"], row["partner"], row["location"], row["year"]) == (line, "CARITAS", "BKO", year)]
    return row["id"], Decimal(row["amount"])


def test_a_reallocation_beyond_the_limit_is_refused_until_the_donor_approves_what_it_saw(grant, finance, donor):
    # Given a draft of the Mali budget, a copy of version 1
    opened = finance.post(versions_url(), {"label": "Revision 2016",
                                           "reason": "More supervision of CARITAS's shelters"}, format="json")
    assert opened.status_code == 201, opened.json()
    number = opened.json()["number"]
    assert (number, opened.json()["status"], opened.json()["total"]) == (2, "draft", "955926.26")

    # When finance moves 9,000.00 EUR from 2.1 (CARITAS, Bamako, year 2) to 6.1 (same cell)
    moved = finance.post(versions_url(f"{number}/reallocations/"), {
        "from": cell("2.1", 2), "to": cell("6.1", 2), "amount": "9000.00", "amount_currency": "EUR",
        "reason": "Supervision visits to the shelters"}, format="json")

    # Then heading 6 grows from 33,000.00 to 42,000.00: 9,000 / 33,000 = 27.27 %, beyond the
    # 25 % limit (8,250.00 EUR), so the donor must approve; heading 2 gives 9,000 of its
    # 334,500.00, 2.69 %, well inside the limit; the total does not move
    assert moved.status_code == 200, moved.json()
    headings = {h["code"]: h for h in moved.json()["headings"]}
    six, two = headings["6"], headings["2"]
    assert (Decimal(six["original"]), Decimal(six["revised"]), Decimal(six["change"])) == (
        Decimal("33000"), Decimal("42000"), Decimal("9000"))
    assert Decimal(six["change_pct"]) == Decimal("27.27")
    assert six["needs_donor_approval"] is True
    assert (Decimal(two["revised"]), Decimal(two["change"])) == (Decimal("325500"), Decimal("-9000"))
    assert abs(Decimal(two["change_pct"])) == Decimal("2.69")
    assert two["needs_donor_approval"] is False
    assert Decimal(moved.json()["total"]) == Decimal("955926.26")

    # When finance tries to approve the draft
    refused = finance.post(versions_url(f"{number}/approve/"))
    # Then it is refused: the donor's approval is needed first, and version 1 stays current
    assert refused.status_code == 409
    assert error_code(refused) == "donor_approval_required"
    assert finance.get(versions_url("1/")).json()["is_current"] is True

    # and only the donor records the donor's decision
    assert finance.post(versions_url(f"{number}/donor-approval/"), {"decision": "approved"},
                        format="json").status_code == 403

    # When the donor approves the draft as it stands
    approval = donor.post(versions_url(f"{number}/donor-approval/"),
                          {"decision": "approved", "comment": "Agreed by letter of 2016-05-02."}, format="json")
    assert approval.status_code == 201, approval.json()
    assert (approval.json()["donor"], approval.json()["decision"], approval.json()["approval_state"]) == (
        "MAEE-LU", "approved", "approved")
    assert HEX64.fullmatch(approval.json()["allocations_fingerprint"])

    # but finance then shifts 1,000.00 EUR of 6.1 from year 2 to year 3, inside the heading
    # (13,180.00 -> 12,180.00 and 3,520.00 -> 4,520.00): the total and the headings are unchanged,
    # yet these are no longer the allocations the donor saw
    year2, amount2 = allocation_id(finance, number, "6.1", 2)
    year3, amount3 = allocation_id(finance, number, "6.1", 3)
    assert (amount2, amount3) == (Decimal("13180"), Decimal("3520"))  # 4,180 + 9,000; 3,520
    for allocation, amount in ((year2, "12180.00"), (year3, "4520.00")):
        changed = finance.patch(versions_url(f"{number}/allocations/{allocation}/"),
                                {"amount": amount, "amount_currency": "EUR"}, format="json")
        assert changed.status_code == 200, changed.json()
    assert finance.get(versions_url(f"{number}/")).json()["total"] == "955926.26"

    # Then approving is refused again: the donor's approval is stale
    stale = finance.post(versions_url(f"{number}/approve/"))
    assert stale.status_code == 409
    assert error_code(stale) == "donor_approval_stale"

    # When the donor approves the draft as it now stands
    again = donor.post(versions_url(f"{number}/donor-approval/"),
                       {"decision": "approved", "comment": "Year split agreed."}, format="json")
    assert again.status_code == 201, again.json()
    assert again.json()["approval_state"] == "approved"
    approved = finance.post(versions_url(f"{number}/approve/"))

    # Then version 2 is the grant's current budget, its allocations still adding up to the
    # grant's 955,926.26 EUR, and version 1 is superseded
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["status"], approved.json()["is_current"]) == ("approved", True)
    assert approved.json()["total"] == "955926.26"
    assert Decimal(approved.json()["total"]) == Decimal(grant.total.amount)
    first = finance.get(versions_url("1/")).json()
    assert (first["status"], first["is_current"]) == ("superseded", False)


# --- 4. a quarter sent as a workbook ----------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filled_template(bnce, rows: list[tuple], cash: int, bank: int) -> bytes:
    """What the accountant does: downloads the French template for 2016-Q2, picks the budget line
    and the place in the drop-downs' lists, types the rows (dates as they come: a date cell, day
    first as text, ISO), counts the cash and reads the bank statement."""
    response = bnce.get("/api/v1/statements/template.xlsx", {"grant": GRANT, "period": "2016-Q2"},
                        HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    lists = [value for (value,) in book["lists"].iter_rows(min_col=1, max_col=1, values_only=True) if value]
    places = [value for (value,) in book["lists"].iter_rows(min_col=2, max_col=2, values_only=True) if value]
    sheet = book["Dépenses"]
    for row, (day, line, place, amount, voucher, description) in enumerate(rows, start=2):
        sheet[f"A{row}"] = day
        sheet[f"B{row}"] = next(item for item in lists if item.split()[0] == line)
        sheet[f"C{row}"] = next(item for item in places if item.split()[0] == place)
        sheet[f"D{row}"], sheet[f"F{row}"], sheet[f"G{row}"] = amount, voucher, description
    book["Relevé"]["B13"], book["Relevé"]["B14"] = cash, bank
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def send(bnce, content: bytes):
    return bnce.post("/api/v1/statements/upload/",
                     {"file": SimpleUploadedFile("releve-2016-T2.xlsx", content, content_type=XLSX)},
                     format="multipart")


def test_a_quarter_sent_as_a_workbook_is_accepted_with_the_ledgers_figures_to_the_franc(grant, finance, bnce):
    # Given BNCE's 2016-Q1, which it never reported: 650,000 XOF received on 2016-01-18 and
    # 150,000 XOF spent on 2016-03-02 (recorded by finance): 500,000 XOF are unspent when 2016-Q2
    # starts. In 2016-Q2, 1,300,000 XOF are received on 2016-04-20.
    record_first_transfer(finance)
    spent = finance.post("/api/v1/expenditures/", {
        "grant": GRANT, "partner": "BNCE", "budget_line": "1.1", "location": "BKO", "date": "2016-03-02",
        "amount": "150000", "amount_currency": "XOF", "voucher": "BNCE-16-000", "description": "Loyer du bureau"},
        format="json")
    assert spent.status_code == 201, spent.json()
    received = finance.post("/api/v1/transfers/", {
        "grant": GRANT, "partner": "BNCE", "sent_on": "2016-04-14", "received_on": "2016-04-20",
        "amount_sent": "2000.00", "amount_sent_currency": "EUR",
        "amount_received": "1300000", "amount_received_currency": "XOF"}, format="json")
    assert received.status_code == 201, received.json()

    # When the accountant fills the template: 400,000 + 250,000 + 125,500 = 775,500 XOF spent, so
    # 500,000 + 1,300,000 - 775,500 = 1,024,500 XOF left, 24,500 in the cash box and 1,000,000 at
    # the bank; but the third amount is typed 125,500.5
    rows = [(date(2016, 4, 25), "2.1", "SEG", 400000, "BNCE-16-101", "Formation des animateurs"),
            ("15/05/2016", "1.1", "MOP", 250000, "BNCE-16-102", "Salaire du coordinateur, mai"),
            ("2016-06-02", "1.2", "MOP", 125500.5, "BNCE-16-103", "Visites de terrain")]
    refused = send(bnce, filled_template(bnce, rows, cash=24500, bank=1000000))

    # Then the upload says so where it was typed, in French, and nothing else
    assert refused.status_code == 400
    assert [(e["code"], e["cell"], e["row"]) for e in refused.json()["errors"]] == [
        ("fractional_xof", "Dépenses!D4", 3)]
    assert refused.json()["errors"][0]["detail"].startswith("Le franc CFA n'a pas de subdivision")

    # When the corrected workbook is sent again, submitted and accepted
    rows[2] = (*rows[2][:3], 125500, *rows[2][4:])
    created = send(bnce, filled_template(bnce, rows, cash=24500, bank=1000000))
    assert created.status_code == 201, created.json()
    statement = created.json()
    assert (statement["opening_balance"], statement["funds_received"]) == ("500000", "1300000")
    assert (statement["total_spent"], statement["closing_balance"]) == ("775500", "1024500")
    assert [line["date"] for line in statement["expenditures"]] == ["2016-04-25", "2016-05-15", "2016-06-02"]
    assert statement["problems"] == []
    submitted = bnce.post(f"/api/v1/statements/{statement['id']}/submit/")
    assert submitted.status_code == 200, submitted.json()
    accepted = finance.post(f"/api/v1/statements/{statement['id']}/accept/", {"comment": "Conforme."},
                            format="json")
    assert accepted.status_code == 200, accepted.json()

    # Then the accepted figures are the ledger's, to the franc: at the quarter's end BNCE received
    # 650,000 + 1,300,000 = 1,950,000 and spent 150,000 + 775,500 = 925,500 XOF, so 1,024,500 XOF
    # are left, what the statement says and what it counted
    ledger = finance.get(f"/api/v1/grants/{GRANT}/reconciliation/", {"as_of": "2016-06-30", "partner": "BNCE"})
    assert ledger.status_code == 200, ledger.json()
    (row,) = ledger.json()["partners"]
    assert (Decimal(row["xof_received"]), Decimal(row["xof_spent"]), Decimal(row["xof_balance"])) == (
        Decimal("1950000"), Decimal("925500"), Decimal("1024500"))
    assert Decimal(accepted.json()["closing_balance"]) == Decimal(row["xof_balance"])
    assert (row["statement_period"], Decimal(row["discrepancy_xof"])) == ("2016-Q2", Decimal("0"))
    assert {r["voucher"]: r["amount"] for r in rows_of(finance, statement["id"]).values()} == {
        "BNCE-16-101": "400000", "BNCE-16-102": "250000", "BNCE-16-103": "125500"}
    # and the workbook it was read from is kept with it (the refused one never made a statement)
    versions = bnce.get(f"/api/v1/statements/{statement['id']}/versions/").json()["results"]
    assert [(v["number"], v["source"], v["file_name"]) for v in versions] == [(1, "workbook", "releve-2016-T2.xlsx")]


def saved_by_libreoffice(content: bytes, folder) -> bytes:
    """The workbook opened and saved again by LibreOffice Calc (headless), as a partner without
    Excel would: LibreOffice computes the formulas and writes its own XML."""
    source = folder / "releve.xlsx"
    source.write_bytes(content)
    out = folder / "saved"
    subprocess.run([shutil.which("soffice"), "--headless", "--norestore", f"-env:UserInstallation=file://{folder}/lo",
                    "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=120)
    return (out / "releve.xlsx").read_bytes()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed here")
def test_a_workbook_saved_by_libreoffice_is_read_and_accepted_with_the_ledgers_figures(grant, finance, bnce,
                                                                                     tmp_path):
    # Given BNCE's money as in the example above: 500,000 XOF unspent at the start of 2016-Q2,
    # 1,300,000 XOF received in it
    record_first_transfer(finance)
    assert finance.post("/api/v1/expenditures/", {
        "grant": GRANT, "partner": "BNCE", "budget_line": "1.1", "location": "BKO", "date": "2016-03-02",
        "amount": "150000", "amount_currency": "XOF", "voucher": "BNCE-16-000"}, format="json").status_code == 201
    assert finance.post("/api/v1/transfers/", {
        "grant": GRANT, "partner": "BNCE", "sent_on": "2016-04-14", "received_on": "2016-04-20",
        "amount_sent": "2000.00", "amount_sent_currency": "EUR",
        "amount_received": "1300000", "amount_received_currency": "XOF"}, format="json").status_code == 201

    # When the accountant fills the template and LibreOffice saves it
    rows = [(date(2016, 4, 25), "2.1", "SEG", 400000, "BNCE-16-101", "Formation des animateurs"),
            ("15/05/2016", "1.1", "MOP", 250000, "BNCE-16-102", "Salaire du coordinateur, mai")]
    content = saved_by_libreoffice(filled_template(bnce, rows, cash=150000, bank=1000000), tmp_path)
    created = send(bnce, content)

    # Then it reads as Excel's would, and is accepted with the ledger's figures to the franc
    assert created.status_code == 201, created.json()
    statement = created.json()
    assert (statement["opening_balance"], statement["funds_received"]) == ("500000", "1300000")
    assert (statement["total_spent"], statement["closing_balance"]) == ("650000", "1150000")
    assert statement["problems"] == []
    assert bnce.post(f"/api/v1/statements/{statement['id']}/submit/").status_code == 200
    accepted = finance.post(f"/api/v1/statements/{statement['id']}/accept/", {"comment": "Conforme."},
                            format="json")
    assert accepted.status_code == 200, accepted.json()
    ledger = finance.get(f"/api/v1/grants/{GRANT}/reconciliation/", {"as_of": "2016-06-30", "partner": "BNCE"})
    (row,) = ledger.json()["partners"]
    assert Decimal(row["xof_balance"]) == Decimal("1150000") == Decimal(accepted.json()["closing_balance"])
    assert Decimal(row["discrepancy_xof"]) == Decimal("0")
