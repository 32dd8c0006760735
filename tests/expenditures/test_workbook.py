"""The statement workbook: the template (prefilled from the ledger, drop-downs, languages), its
upload, and the round trip: a filled template, a workbook made by another tool in the same layout
and the same data sent as JSON give the same statement."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moneyed import Money
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import from_excel

from budget.models import Allocation, BudgetVersion
from expenditures import services as expenditure_services
from expenditures.models import QuarterlyStatement, StatementStatus
from expenditures.workbook import (
    FIRST_ROW,
    TEMPLATE_VERSION,
    allowed_locations,
    cell_of,
    decimal_text,
    statement_from_workbook,
    statement_template,
)
from grants.models import Location, Partner

API = "/api/v1/statements"
SEED = "ML-ESEC-2015"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

OPENING = 40000
RECEIVED = 1311914
# (date, budget line, location, amount, voucher, description), as a partner picks them in the template.
ROWS = [
    (date(2016, 7, 12), "1.1 Animations thématiques et compétences de vie", "SEG Ségou", 125000, "V-2016-031",
     "Animation thématique, Ségou"),
    (date(2016, 8, 3), "2.2 Prise en charge médicale", "MOP Mopti", 87500, "V-2016-032", "Consultations"),
    (date(2016, 9, 29), "6.1 Frais de fonctionnement des partenaires", "BKO Bamako", 30000, 1033, None),
]
SPENT = 125000 + 87500 + 30000
CLOSING = OPENING + RECEIVED - SPENT
CASH, BANK = 109414, CLOSING - 109414

BODY = {
    "grant": SEED, "partner": "BNCE", "period": "2016-Q3",
    "opening_balance": str(OPENING), "opening_balance_currency": "XOF",
    "funds_received": str(RECEIVED), "funds_received_currency": "XOF",
    "closing_balance": str(CLOSING), "closing_balance_currency": "XOF",
    "cash_on_hand": str(CASH), "cash_on_hand_currency": "XOF",
    "bank_balance": str(BANK), "bank_balance_currency": "XOF",
    "expenditures": [
        {"date": "2016-07-12", "budget_line": "1.1", "location": "SEG", "amount": "125000", "amount_currency": "XOF",
         "voucher": "V-2016-031", "description": "Animation thématique, Ségou"},
        {"date": "2016-08-03", "budget_line": "2.2", "location": "MOP", "amount": "87500", "amount_currency": "XOF",
         "voucher": "V-2016-032", "description": "Consultations"},
        {"date": "2016-09-29", "budget_line": "6.1", "location": "BKO", "amount": "30000", "amount_currency": "XOF",
         "voucher": "1033", "description": ""},
    ],
    "explanations": {"2.2": "Urgences médicales plus nombreuses que prévu."},
}


# --- helpers -----------------------------------------------------------------------------------

def bnce_partner() -> Partner:
    return Partner.objects.get(code="BNCE")


@pytest.fixture
def ledger(grant):
    """BNCE's ledger at 2016-Q3: an accepted 2016-Q2 statement closing at 40,000 XOF, a transfer
    received in the quarter and one received before it."""
    bnce = bnce_partner()
    # Recorded before 2016-Q2 was accepted: a locked quarter takes no new transfer.
    expenditure_services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 6, 20),
                                         received_on=date(2016, 6, 28), amount_sent=Money("1000.00", "EUR"),
                                         amount_received=Money(655957, "XOF"))
    QuarterlyStatement.objects.create(grant=grant, partner=bnce, year=2016, quarter=2,
                                      closing_balance=Money(OPENING, "XOF"), status=StatementStatus.ACCEPTED)
    expenditure_services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 8, 1),
                                         received_on=date(2016, 8, 5), amount_sent=Money("2000.00", "EUR"),
                                         amount_received=Money(RECEIVED, "XOF"))
    return grant


def template(client, partner="BNCE", period="2016-Q3", lang=None, **extra):
    query = {"grant": SEED, "partner": partner, "period": period, **({"lang": lang} if lang else {})}
    return client.get(f"{API}/template.xlsx/", query, **extra)


def book_of(content: bytes):
    return load_workbook(io.BytesIO(content))


def fill(content: bytes, rows=ROWS, cash=CASH, bank=BANK, explanations=None) -> bytes:
    """What a partner does in the template: rows of expenditures, cash and bank, explanations."""
    book = book_of(content)
    summary, sheet = book.worksheets[0], book.worksheets[1]
    for offset, row in enumerate(rows):
        for column, value in zip("ABCDFG", row, strict=True):
            if value is not None:
                sheet[f"{column}{FIRST_ROW + offset}"] = value
    summary["B13"], summary["B14"] = cash, bank
    for offset, (code, text) in enumerate((explanations if explanations is not None else BODY["explanations"]).items()):
        summary[f"A{20 + offset}"], summary[f"B{20 + offset}"] = code, text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, content: bytes, name="releve.xlsx", **extra):
    return client.post(f"{API}/upload/", {"file": SimpleUploadedFile(name, content, content_type=XLSX)},
                       format="multipart", **extra)


def representation(response) -> dict:
    data = dict(response.json())
    data.pop("id")
    return data


def created_then_deleted(client, response) -> dict:
    """The API representation of a statement just created (minus its id), which is then deleted so
    that the same quarter can be created again another way."""
    assert response.status_code == 201, response.json()
    data = representation(response)
    assert client.delete(f"{API}/{response.json()['id']}/").status_code == 204
    return data


def attrs(response) -> set[str]:
    return {error["attr"] for error in response.json()["errors"]}


def libreoffice_like(keys=None) -> bytes:
    """The layout of the template, made from scratch with openpyxl as another tool would save it:
    numbers as floats, dates as datetimes, formulas with no cached value, no hidden lists, no
    validation, bare codes in the line and location columns."""
    book = Workbook()
    summary = book.active
    summary.title = "Relevé"
    summary["A1"] = "Relevé financier trimestriel"
    summary["B8"], summary["B9"] = float(OPENING), float(RECEIVED)
    summary["B10"] = "=SUMIF('Dépenses'!$E$2:$E$501,\"XOF\",'Dépenses'!$D$2:$D$501)"
    summary["B11"] = "=B8+B9-B10"
    summary["B13"], summary["B14"] = float(CASH), float(BANK)
    summary["B15"], summary["B16"] = "=B13+B14", "=B11-B15"
    summary["A20"], summary["B20"] = "2.2", BODY["explanations"]["2.2"]
    sheet = book.create_sheet("Dépenses")
    sheet.append(["Date", "Ligne budgétaire", "Lieu", "Montant", "Devise", "Pièce", "Libellé"])
    for line in BODY["expenditures"]:
        voucher = float(line["voucher"]) if line["voucher"].isdigit() else line["voucher"]
        sheet.append([datetime.fromisoformat(line["date"]), line["budget_line"], line["location"],
                      float(line["amount"]), "XOF", voucher, line["description"] or None])
    for _ in range(20):
        sheet.append([None, None, None, None, "XOF"])  # the currency column runs on, prefilled
    hidden = book.create_sheet("keys")
    for key, value in (keys or {"template_version": TEMPLATE_VERSION, "grant": SEED, "partner": "BNCE",
                                 "period": "2016-Q3", "lang": "fr", "currency": "XOF"}).items():
        hidden.append([key, value])
    hidden.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the template ------------------------------------------------------------------------------

def test_template_is_prefilled_from_the_ledger(ledger, bnce):
    response = template(bnce, lang="fr")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert 'filename="ML-ESEC-2015_BNCE_2016-Q3_releve.xlsx"' in response["Content-Disposition"]
    book = book_of(response.content)
    summary = book["Relevé"]
    assert summary["B8"].value == OPENING  # closing of the accepted 2016-Q2 statement
    assert summary["B9"].value == RECEIVED  # the transfer received in August; not the one of June
    assert isinstance(summary["B8"].value, int) and isinstance(summary["B9"].value, int)
    assert "FCFA" in summary["B9"].number_format and ".00" not in summary["B9"].number_format
    assert summary["B6"].value == "XOF"
    assert summary["B11"].value == "=B8+B9-B10"
    assert summary["B16"].value == "=B11-B15"
    assert "SUMIF('Dépenses'!" in summary["B10"].value
    assert summary["B13"].value is None and summary["B14"].value is None
    keys = dict(book["keys"].values)
    assert keys == {"template_version": TEMPLATE_VERSION, "grant": SEED, "partner": "BNCE", "period": "2016-Q3",
                    "lang": "fr", "currency": "XOF"}
    sheet = book["Dépenses"]
    assert [cell.value for cell in sheet[1]][:7] == ["Date", "Ligne budgétaire", "Lieu", "Montant (XOF)", "Devise",
                                                     "Pièce justificative", "Libellé"]
    assert sheet.freeze_panes == "A2"
    assert all(sheet[f"E{row}"].value == "XOF" for row in range(FIRST_ROW, FIRST_ROW + 500))
    assert sheet.page_setup.orientation == "landscape"


def test_the_url_without_its_slash_leads_to_the_template(grant, bnce):
    response = bnce.get(f"{API}/template.xlsx", {"grant": SEED, "partner": "BNCE", "period": "2016-Q3"}, follow=True)
    assert response.status_code == 200 and response["Content-Type"] == XLSX


def test_template_of_a_first_quarter_opens_at_zero(grant, bnce):
    summary = book_of(template(bnce, period="2015-Q3", lang="en").content)["Statement"]
    assert summary["B8"].value == 0 and summary["B9"].value == 0


def test_template_in_french_and_in_english(grant, bnce):
    french = book_of(template(bnce, HTTP_ACCEPT_LANGUAGE="fr").content)
    english = book_of(template(bnce, HTTP_ACCEPT_LANGUAGE="en").content)
    assert french.sheetnames == ["Relevé", "Dépenses", "lists", "keys"]
    assert english.sheetnames == ["Statement", "Expenditures", "lists", "keys"]
    assert french["Relevé"]["A8"].value == "Solde d'ouverture"
    assert english["Statement"]["A8"].value == "Opening balance"
    assert [french[name].sheet_state for name in ("lists", "keys")] == ["hidden", "hidden"]
    response = template(bnce, lang="en", HTTP_ACCEPT_LANGUAGE="fr")  # the query's lang wins
    assert book_of(response.content).sheetnames[0] == "Statement"
    assert response["Content-Disposition"].endswith('_statement.xlsx"')


def _list_values(book, formula: str) -> list[str]:
    sheet_name, cells = formula.lstrip("=").split("!")
    return [cell.value for row in book[sheet_name][cells.replace("$", "")] for cell in row]


def test_template_drop_downs_list_the_partners_lines_and_locations(grant, bnce):
    book = book_of(template(bnce, lang="fr").content)
    validations = {str(dv.sqref): dv for dv in book["Dépenses"].data_validations.dataValidation}
    lines = validations["B2:B501"]
    assert lines.type == "list" and lines.formula1.startswith("lists!")
    codes = [value.split()[0] for value in _list_values(book, lines.formula1)]
    current = BudgetVersion.objects.get(grant=grant, is_current=True)
    allocated = set(Allocation.objects.filter(version=current, partner=bnce_partner())
                    .values_list("budget_line__code", flat=True))
    assert sorted(codes) == sorted(allocated) and len(codes) == len(set(codes))
    assert "5.2" not in codes  # the external audit is not BNCE's
    locations = validations["C2:C501"]
    assert locations.type == "list"
    assert {value.split()[0] for value in _list_values(book, locations.formula1)} == {"BKO", "SEG", "SIK", "MOP"}
    dates = validations["A2:A501"]
    assert dates.type == "date" and dates.operator in (None, "between")  # between is the default
    assert from_excel(float(dates.formula1)).date() == date(2016, 7, 1)
    assert from_excel(float(dates.formula2)).date() == date(2016, 9, 30)
    assert validations["D2:D501"].type == "whole"
    explanations = {str(dv.sqref): dv for dv in book["Relevé"].data_validations.dataValidation}
    assert explanations["A20:A49"].formula1 == lines.formula1


def test_a_partner_with_no_locations_gets_every_location(grant):
    partner = Partner.objects.create(code="NEW", name="New partner", reporting_currency="XOF")
    assert [loc.code for loc in allowed_locations(partner)] == list(Location.objects.order_by("code")
                                                                    .values_list("code", flat=True))


def test_template_in_eur_for_a_eur_partner(grant, finance):
    # ECPAT-LU stands here for a partner reporting in EUR that is not the lead organisation (the lead
    # sends no transfer to itself).
    Partner.objects.filter(code="ECPAT-LU").update(kind="implementing")
    ecpat = Partner.objects.get(code="ECPAT-LU")
    expenditure_services.transfer_record(grant=grant, partner=ecpat, sent_on=date(2016, 7, 4),
                                         received_on=date(2016, 7, 4), amount_sent=Money("1500.50", "EUR"),
                                         amount_received=Money("1500.50", "EUR"))
    book = book_of(template(finance, partner="ECPAT-LU", lang="en").content)
    summary = book["Statement"]
    assert summary["B9"].value == 1500.5 and "0.00" in summary["B9"].number_format
    validations = {str(dv.sqref): dv for dv in book["Expenditures"].data_validations.dataValidation}
    assert validations["D2:D501"].type == "decimal"
    assert book["Expenditures"]["E2"].value == "EUR"


def test_a_partner_cannot_get_another_partners_template(grant, bnce, finance):
    assert template(bnce, partner="CARITAS").status_code == 404
    assert template(finance, partner="CARITAS").status_code == 200


# --- the round trip ----------------------------------------------------------------------------

def test_filled_template_reads_as_the_json_body(ledger, bnce):
    filled = fill(template(bnce, lang="fr").content)
    data = statement_from_workbook(io.BytesIO(filled))
    assert data == BODY
    assert data.lang == "fr"
    assert data.cells["expenditures.2.voucher"] == "Dépenses!F4"
    assert data.cells["explanations.2.2"] == "Relevé!B20"


def test_round_trip_template_libreoffice_and_json_give_the_same_statement(ledger, bnce):
    from_template = created_then_deleted(bnce, upload(bnce, fill(template(bnce, lang="fr").content)))
    assert from_template["status"] == StatementStatus.DRAFT
    assert from_template["expenditures"] == BODY["expenditures"]
    assert from_template["total_spent"] == str(SPENT)
    from_libreoffice = created_then_deleted(bnce, upload(bnce, libreoffice_like()))
    from_json = created_then_deleted(bnce, bnce.post(f"{API}/", BODY, format="json"))
    assert from_template == from_json
    assert from_libreoffice == from_json


def test_an_uploaded_statement_passes_the_checks_at_submission(ledger, bnce):
    created = upload(bnce, fill(template(bnce, lang="en").content))
    assert created.status_code == 201, created.json()
    submitted = bnce.post(f"{API}/{created.json()['id']}/submit/")
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == StatementStatus.SUBMITTED


def test_problems_found_at_submission_map_back_to_cells(ledger, bnce):
    rows = [ROWS[0], (date(2016, 8, 3), "5.2", "MOP", 87500, "V-2016-032", None), ROWS[2]]
    content = fill(template(bnce, lang="fr").content, rows=rows, cash=CASH, bank=BANK)
    created = upload(bnce, content)
    assert created.status_code == 201, created.json()
    problems = bnce.post(f"{API}/{created.json()['id']}/submit/").json()["errors"]
    assert {p["code"] for p in problems} == {"line_not_allocated"}
    assert [cell_of(p["attr"], "fr") for p in problems] == ["Dépenses!B3"]


def test_an_english_workbook_reads_the_same(ledger, bnce):
    filled = fill(template(bnce, lang="en").content)
    assert statement_from_workbook(io.BytesIO(filled)) == BODY


def test_skipped_rows_are_not_expenditures_and_keep_their_cells(ledger, bnce):
    book = book_of(template(bnce, lang="fr").content)
    sheet = book["Dépenses"]
    for column, value in zip("ABCDF", (date(2016, 7, 1), "1.1", "BKO", 1000, "A-1"), strict=True):
        sheet[f"{column}6"] = value
    out = io.BytesIO()
    book.save(out)
    data = statement_from_workbook(io.BytesIO(out.getvalue()))
    assert len(data["expenditures"]) == 1
    assert data.cells["expenditures.0.amount"] == "Dépenses!D6"
    assert data["closing_balance"] == str(OPENING + RECEIVED - 1000)


def test_eur_amounts_survive_the_trip_exactly(grant, finance):
    # ECPAT-LU stands here for a partner reporting in EUR that is not the lead organisation (the lead
    # sends no transfer to itself).
    Partner.objects.filter(code="ECPAT-LU").update(kind="implementing")
    ecpat = Partner.objects.get(code="ECPAT-LU")
    expenditure_services.transfer_record(grant=grant, partner=ecpat, sent_on=date(2016, 7, 4),
                                         received_on=date(2016, 7, 4), amount_sent=Money("1500.50", "EUR"),
                                         amount_received=Money("1500.50", "EUR"))
    rows = [(date(2016, 7, 8), "4.2", "LUX", 1234.56, "L-1", "Mission"),
            (date(2016, 7, 9), "4.2", "LUX", 0.1, "L-2", "Frais bancaires")]
    content = fill(template(finance, partner="ECPAT-LU", lang="en").content, rows=rows, cash=0,
                   bank=265.84, explanations={})
    response = upload(finance, content)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [line["amount"] for line in data["expenditures"]] == ["1234.56", "0.1"]
    assert data["funds_received"] == "1500.50" and data["bank_balance"] == "265.84"
    assert data["total_spent"] == "1234.66" and data["closing_balance"] == "265.84"


def test_decimal_text_is_what_was_typed():
    assert decimal_text(125000) == "125000"
    assert decimal_text(125000.0) == "125000"
    assert decimal_text(0.1) == "0.1"
    assert decimal_text(float("1234.5599999999999")) == "1234.56"  # as Excel may store 1234.56
    assert decimal_text(float("999999999999.99")) == "999999999999.99"  # the largest amount, exact
    assert decimal_text(1e16) == "10000000000000000"
    assert decimal_text("125 000") == "125000"
    for value in (True, "cent mille", "1,5", time(10, 30)):
        with pytest.raises(ValueError):
            decimal_text(value)


def test_cell_of_maps_api_attrs_to_template_cells():
    assert cell_of("expenditures.12.amount", "fr") == "Dépenses!D14"
    assert cell_of("expenditures.0.date", "en") == "Expenditures!A2"
    assert cell_of("expenditures.3.voucher", "fr") == "Dépenses!F5"
    assert cell_of("cash_on_hand", "fr") == "Relevé!B13"
    assert cell_of("bank_balance_currency", "en") == "Statement!B14"
    assert cell_of("closing_balance", "fr") == "Relevé!B11"
    assert cell_of("explanations.2.1", "fr") == "Relevé!A20"
    assert cell_of("period", "en") == "Statement!B5"
    assert cell_of("non_field_errors", "en") is None
    assert cell_of("expenditures.0.amount", "fr", {"expenditures.0.amount": "Dépenses!D9"}) == "Dépenses!D9"


# --- what cannot be read -----------------------------------------------------------------------

def test_every_unreadable_cell_is_reported_at_once_with_its_cell(ledger, bnce):
    book = book_of(fill(template(bnce, lang="fr").content))
    sheet, summary = book["Dépenses"], book["Relevé"]
    sheet["D3"] = "quatre-vingt mille"  # an amount that is no number
    sheet["A4"] = 42  # a date that is no date: a plain number, pasted with its format
    sheet["A4"].number_format = "General"
    sheet["G6"] = "a row with only a description"
    summary["B14"] = "beaucoup"
    out = io.BytesIO()
    book.save(out)
    response = upload(bnce, out.getvalue(), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["code"], e["attr"]) for e in errors} == {
        ("invalid", "Relevé!B14"), ("invalid", "Dépenses!D3"), ("invalid", "Dépenses!A4"),
        ("required", "Dépenses!A6"), ("required", "Dépenses!B6"), ("required", "Dépenses!C6"),
        ("required", "Dépenses!D6"),
        # what submission would also refuse, in the same answer: the row has no voucher
        ("required", "Dépenses!F6"),
    }
    assert all(e["detail"] for e in errors)
    assert not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists()


def test_amounts_the_ledger_refuses_come_back_with_their_cell(ledger, bnce):
    response = upload(bnce, fill(template(bnce, lang="fr").content, cash=1000.5), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("fractional_xof", "Relevé!B13")]


def test_another_partners_workbook_is_refused_at_the_partner_cell(grant, finance, bnce):
    content = fill(template(finance, partner="CARITAS", lang="fr").content, rows=[], cash=0, bank=0, explanations={})
    response = upload(bnce, content)
    assert response.status_code == 403
    assert attrs(response) == {"Relevé!B4"}


def test_an_upload_of_a_submitted_quarter_conflicts_at_the_period_cell(ledger, bnce):
    content = fill(template(bnce, lang="en").content)
    created = upload(bnce, content)
    assert created.status_code == 201
    assert bnce.post(f"{API}/{created.json()['id']}/submit/").status_code == 200
    response = upload(bnce, content)
    assert response.status_code == 409
    assert [(e["code"], e["attr"], e["cell"]) for e in response.json()["errors"]] == [
        ("statement_not_editable", "Statement!B5", "Statement!B5")]


def test_not_an_xlsx_is_refused(grant, bnce):
    response = upload(bnce, b"date;amount\n2016-08-01;125000\n", name="releve.csv")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "not_a_workbook"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("hello.txt", "not a workbook")
    assert upload(bnce, archive.getvalue()).json()["errors"][0]["code"] == "not_a_workbook"


def test_a_workbook_that_is_not_our_template_is_refused(grant, bnce):
    out = io.BytesIO()
    Workbook().save(out)
    response = upload(bnce, out.getvalue())
    assert response.status_code == 400
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("not_a_template", "file")]


def test_a_workbook_of_another_template_version_is_refused(grant, bnce):
    content = libreoffice_like(keys={"template_version": "statement-0", "grant": SEED, "partner": "BNCE",
                                     "period": "2016-Q3", "lang": "fr", "currency": "XOF"})
    response = upload(bnce, content)
    assert response.status_code == 400
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("template_version", "keys!B1")]


def test_the_template_of_a_quarter_outside_the_grant_is_refused(grant, finance):
    response = template(finance, period="2019-Q1")
    assert response.status_code == 400
    assert attrs(response) == {"period"}


def test_the_template_is_made_without_the_api(grant):
    content, filename = statement_template(grant=grant, partner=bnce_partner(), period="2016-Q3", lang="fr")
    assert filename == "ML-ESEC-2015_BNCE_2016-Q3_releve.xlsx" and content[:2] == b"PK"
