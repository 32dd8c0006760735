"""A partner's quarter as an accountant in Mopti sends it (issue 13): every problem of a workbook
at once, on the cell it was typed in and in the partner's language; a workbook sent again; the
versions kept; the problems handed back in the workbook; the ledger's figures prefilled and
checked; dates typed day first."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from moneyed import Money
from openpyxl import load_workbook

from budget.models import BudgetLine
from expenditures import services as expenditure_services
from expenditures.models import QuarterlyStatement, StatementStatus, StatementVersion
from expenditures.statements import statement_upload
from expenditures.workbook import statement_from_workbook
from grants.errors import ApplicationError
from grants.models import Location, Partner
from tests.expenditures import test_workbook
from tests.expenditures.test_workbook import (
    API,
    BANK,
    BODY,
    CASH,
    OPENING,
    RECEIVED,
    ROWS,
    SEED,
    book_of,
    fill,
    template,
    upload,
)

ledger = test_workbook.ledger  # the fixture: BNCE's ledger at 2016-Q3 (opening 40,000, 1,311,914 received)

PROBLEM_FILL = "00FFC7CE"
REVIEW_FILL = "00FCE4D6"


def bnce_partner() -> Partner:
    return Partner.objects.get(code="BNCE")


def saved(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def placed(response) -> set[tuple]:
    return {(e["code"], e["attr"], e.get("row"), e.get("cell")) for e in response.json()["errors"]}


def fill_at(content: bytes, rows_by_excel_row: dict[int, tuple], cash=CASH, bank=BANK) -> bytes:
    """A template with rows typed at the Excel rows given (rows left empty between them)."""
    book = book_of(content)
    summary, sheet = book.worksheets[0], book.worksheets[1]
    for excel_row, row in rows_by_excel_row.items():
        for column, value in zip("ABCDFG", row, strict=True):
            if value is not None:
                sheet[f"{column}{excel_row}"] = value
    summary["B13"], summary["B14"] = cash, bank
    summary["A20"], summary["B20"] = "2.2", BODY["explanations"]["2.2"]
    return saved(book)


# A workbook with four mistakes, as the issue tells them: 12,500.5 francs in D5, an impossible
# date in A4 and an unknown budget line in B5; cash and bank are those of the three first rows.
MISTAKES = [ROWS[0], ROWS[1], ("31/09/2016", "6.1", "BKO", 30000, 1033, None),
            (date(2016, 9, 30), "9.9", "BKO", 12500.5, "V-2016-034", "Fournitures")]


# --- 1. every problem at once, where it was typed ----------------------------------------------

def test_a_workbook_with_mistakes_answers_every_one_on_its_cell_in_french(ledger, bnce):
    response = upload(bnce, fill(template(bnce, lang="fr").content, rows=MISTAKES))
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert placed(response) == {
        # the fraction on its own row's cell, not on the closing balance's formula (B11)
        ("fractional_xof", "Dépenses!D5", 4, "Dépenses!D5"),
        ("invalid", "Dépenses!A4", 3, "Dépenses!A4"),
        # what submission would refuse, in the same answer
        ("unknown_budget_line", "Dépenses!B5", 4, "Dépenses!B5"),
    }
    details = {e["cell"]: e["detail"] for e in response.json()["errors"]}
    # no Accept-Language: the workbook's own language
    assert details["Dépenses!D5"] == ("Le franc CFA n'a pas de subdivision : 12500.5 n'est pas un nombre entier de "
                                      "francs.")
    assert details["Dépenses!B5"] == "'9.9' n'est pas une ligne budgétaire de ML-ESEC-2015."
    assert "15/02/2018" in details["Dépenses!A4"]  # the day-first hint
    assert not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists()


@pytest.mark.parametrize("how", [{"HTTP_ACCEPT_LANGUAGE": "en"}, {"QUERY_STRING": "lang=en"}])
def test_the_requests_language_wins_over_the_workbooks(ledger, bnce, how):
    response = upload(bnce, fill(template(bnce, lang="fr").content, rows=MISTAKES), **how)
    assert response.status_code == 400
    details = {e["cell"]: e["detail"] for e in response.json()["errors"]}
    assert details["Dépenses!D5"] == "XOF has no minor unit: 12500.5 is not a whole number of francs."
    assert details["Dépenses!B5"] == "'9.9' is not a budget line of ML-ESEC-2015."


def test_an_english_workbook_answers_in_english_and_a_french_request_in_french(ledger, bnce):
    content = fill(template(bnce, lang="en").content, rows=MISTAKES)
    english = upload(bnce, content)
    assert {e["cell"] for e in english.json()["errors"]} == {"Expenditures!D5", "Expenditures!A4", "Expenditures!B5"}
    assert {e["detail"] for e in english.json()["errors"]} >= {
        "XOF has no minor unit: 12500.5 is not a whole number of francs."}
    french = upload(bnce, content, HTTP_ACCEPT_LANGUAGE="fr")
    assert {e["detail"] for e in french.json()["errors"]} >= {
        "Le franc CFA n'a pas de subdivision : 12500.5 n'est pas un nombre entier de francs."}


def test_the_reader_hands_its_problems_over_with_what_it_could_read(ledger, bnce):
    problems: list[dict] = []
    body = statement_from_workbook(io.BytesIO(fill(template(bnce, lang="fr").content, rows=MISTAKES)),
                                   problems=problems)
    assert {(p["code"], p["cell"], p["row"]) for p in problems} == {
        ("fractional_xof", "Dépenses!D5", 4), ("invalid", "Dépenses!A4", 3)}
    assert len(body["expenditures"]) == 4
    # the refused amount is left out of the closing balance: 40,000 + 1,311,914 - 242,500
    assert body["closing_balance"] == str(OPENING + RECEIVED - 125000 - 87500 - 30000) == "1109414"
    with pytest.raises(ApplicationError) as caught:  # without a list: raised, all at once
        statement_from_workbook(io.BytesIO(fill(template(bnce, lang="fr").content, rows=MISTAKES)))
    assert len(caught.value.errors) == 2


def test_a_submitted_json_statements_problems_carry_their_row(ledger, bnce):
    body = {**BODY, "expenditures": [BODY["expenditures"][0], {**BODY["expenditures"][1], "budget_line": "5.2"},
                                     BODY["expenditures"][2]]}
    created = bnce.post(f"{API}/", body, format="json")
    assert created.status_code == 201, created.json()
    response = bnce.post(f"{API}/{created.json()['id']}/submit/")
    assert response.status_code == 400
    assert [(e["code"], e["attr"], e.get("row")) for e in response.json()["errors"]] == [
        ("line_not_allocated", "expenditures.1.budget_line", 2)]
    assert "cell" not in response.json()["errors"][0]  # no workbook, no cell


@pytest.mark.parametrize(("lang", "sheet"), [("fr", "Dépenses"), ("en", "Expenditures")])
def test_an_uploaded_statements_problems_carry_their_row_and_cell(ledger, bnce, lang, sheet):
    # rows typed on Excel rows 2, 3 and 6: the third line's cells are on row 6
    rows = {2: ROWS[0], 3: ROWS[1], 6: (date(2016, 9, 29), "5.2", "BKO", 30000, 1033, None)}
    created = upload(bnce, fill_at(template(bnce, lang=lang).content, rows))
    assert created.status_code == 201, created.json()
    # what submission would refuse is on the draft at once
    assert [(p["code"], p["attr"], p["row"], p["cell"]) for p in created.json()["problems"]] == [
        ("line_not_allocated", "expenditures.2.budget_line", 3, f"{sheet}!B6")]
    response = bnce.post(f"{API}/{created.json()['id']}/submit/")
    assert response.status_code == 400
    assert [(e["code"], e["attr"], e["row"], e["cell"]) for e in response.json()["errors"]] == [
        ("line_not_allocated", "expenditures.2.budget_line", 3, f"{sheet}!B6")]
    assert bnce.get(f"{API}/{created.json()['id']}/").json()["problems"][0]["cell"] == f"{sheet}!B6"


def test_the_schema_documents_where_a_problem_is(grant, finance):
    schema = finance.get("/api/schema/", {"format": "json"}).json()
    component = schema["components"]["schemas"]["StatementProblems400ErrorComponent"]
    assert {"row", "cell"} <= set(component["properties"]) and not {"row", "cell"} & set(component["required"])
    body = "#/components/schemas/StatementProblems400ErrorResponse"
    for path in ("/api/v1/statements/{id}/submit/", "/api/v1/statements/upload/", "/api/v1/statements/{id}/accept/"):
        assert schema["paths"][path]["post"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"] \
            == body
    assert "cell" in schema["components"]["schemas"]["Conflict409ErrorComponent"]["properties"]


# --- 2. sent again ---------------------------------------------------------------------------

def test_a_draft_is_replaced_by_the_workbook_sent_again_and_every_version_is_kept(ledger, bnce):
    first = fill(template(bnce, lang="fr").content, rows=MISTAKES[:2] + [ROWS[2]])
    created = upload(bnce, first, name="releve-v1.xlsx")
    assert created.status_code == 201, created.json()
    statement_id = created.json()["id"]
    # the partner corrects the workbook: the third row goes, cash and bank follow
    second = fill(template(bnce, lang="fr").content, rows=ROWS[:2], cash=CASH + 30000)
    again = upload(bnce, second, name="releve-v2.xlsx")
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == statement_id
    assert [line["voucher"] for line in again.json()["expenditures"]] == ["V-2016-031", "V-2016-032"]
    assert again.json()["cash_on_hand"] == str(CASH + 30000)
    assert QuarterlyStatement.objects.filter(year=2016, quarter=3).count() == 1
    assert QuarterlyStatement.history.filter(id=statement_id).count() == 2  # created, replaced

    versions = bnce.get(f"{API}/{statement_id}/versions/").json()["results"]
    assert [(v["number"], v["source"], v["sent_by"], v["file_name"], v["lang"]) for v in versions] == [
        (1, "workbook", "bnce", "releve-v1.xlsx", "fr"), (2, "workbook", "bnce", "releve-v2.xlsx", "fr")]
    one = bnce.get(f"{API}/{statement_id}/versions/1/").json()
    assert [line["voucher"] for line in one["body"]["expenditures"]] == ["V-2016-031", "V-2016-032", "1033"]
    assert one["cells"]["expenditures.2.amount"] == "Dépenses!D4"
    file = bnce.get(f"{API}/{statement_id}/versions/2/file.xlsx/")
    assert file.status_code == 200 and file.content == second
    assert bnce.get(f"{API}/{statement_id}/versions/3/").status_code == 404


def test_a_returned_statement_is_sent_again_and_submitted(ledger, bnce, finance):
    created = upload(bnce, fill(template(bnce, lang="en").content))
    statement_id = created.json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    returned = finance.post(f"{API}/{statement_id}/return/", {
        "comment": "Voucher 1033 is missing.", "comments": [{"row": 3, "comment": "Send the voucher."}]},
        format="json")
    assert returned.status_code == 200, returned.json()
    again = upload(bnce, fill(template(bnce, lang="en").content, rows=ROWS[:2], cash=CASH + 30000))
    assert again.status_code == 200, again.json()
    assert (again.json()["id"], again.json()["status"]) == (statement_id, "returned")
    assert again.json()["review_comments"][0]["comment"] == "Send the voucher."  # until the next review
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200


def test_an_accepted_quarter_is_not_sent_again_and_the_answer_says_what_to_do(ledger, bnce, finance):
    content = fill(template(bnce, lang="en").content)
    statement_id = upload(bnce, content).json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    assert finance.post(f"{API}/{statement_id}/accept/", {}, format="json").status_code == 200
    response = upload(bnce, content, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    (error,) = response.json()["errors"]
    assert (error["code"], error["attr"], error["cell"]) == ("period_locked", "Statement!B5", "Statement!B5")
    assert "ask a finance officer to reopen" in error["detail"]


def test_a_submitted_quarter_is_sent_again_once_returned(ledger, bnce):
    content = fill(template(bnce, lang="fr").content)
    statement_id = upload(bnce, content).json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    response = upload(bnce, content, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "statement_not_editable"
    assert "once finance returns it" in response.json()["errors"][0]["detail"]


def test_a_json_statement_keeps_its_versions_and_a_workbook_replaces_it(ledger, bnce):
    created = bnce.post(f"{API}/", BODY, format="json")
    statement_id = created.json()["id"]
    assert bnce.patch(f"{API}/{statement_id}/", {"cash_on_hand": str(CASH), "cash_on_hand_currency": "XOF"},
                      format="json").status_code == 200
    assert upload(bnce, fill(template(bnce, lang="fr").content)).status_code == 200
    versions = bnce.get(f"{API}/{statement_id}/versions/").json()["results"]
    assert [(v["number"], v["source"]) for v in versions] == [(1, "api"), (2, "api"), (3, "workbook")]
    assert bnce.get(f"{API}/{statement_id}/versions/1/").json()["body"]["expenditures"] == BODY["expenditures"]
    assert bnce.get(f"{API}/{statement_id}/versions/1/file.xlsx/").status_code == 404  # no file


def test_another_partner_sees_no_version(ledger, bnce, caritas):
    statement_id = upload(bnce, fill(template(bnce, lang="fr").content)).json()["id"]
    assert caritas.get(f"{API}/{statement_id}/versions/").status_code == 404
    assert caritas.get(f"{API}/{statement_id}/versions/1/file.xlsx/").status_code == 404
    assert caritas.get(f"{API}/{statement_id}/problems.xlsx").status_code == 404


# --- 3. one service for the API and the partner's pages ---------------------------------------

def test_the_upload_is_one_service_function(ledger, bnce, bnce_user):
    content = fill(template(bnce, lang="fr").content)
    statement = statement_upload(file=io.BytesIO(content), by=bnce_user)
    assert (statement.status, statement.period, statement.partner.code) == ("draft", "2016-Q3", "BNCE")
    assert statement.cash_on_hand == Money(CASH, "XOF") and len(statement.lines) == 3
    version = StatementVersion.objects.get(statement=statement)
    assert (version.source, version.sent_by, bytes(version.file)) == ("workbook", bnce_user, content)
    with pytest.raises(ApplicationError) as caught:
        statement_upload(file=io.BytesIO(fill(template(bnce, lang="fr").content, rows=MISTAKES)), by=bnce_user,
                         lang="en")
    assert caught.value.status == 400
    assert {e["cell"] for e in caught.value.errors} == {"Dépenses!D5", "Dépenses!A4", "Dépenses!B5"}
    assert "XOF has no minor unit: 12500.5 is not a whole number of francs." in {e["detail"] for e in
                                                                                  caught.value.errors}


def test_the_service_refuses_another_partners_workbook_at_the_partner_cell(grant, finance, caritas_user):
    content = fill(template(finance, partner="BNCE", lang="fr").content, rows=[], cash=0, bank=0, explanations={})
    with pytest.raises(ApplicationError) as caught:
        statement_upload(file=io.BytesIO(content), by=caritas_user)
    assert (caught.value.status, caught.value.errors[0]["attr"]) == (403, "Relevé!B4")


# --- 4. the problems handed back in the workbook ----------------------------------------------

def comment_of(cell) -> str | None:
    return cell.comment.text if cell.comment is not None else None


def test_problems_come_back_in_the_partners_own_workbook(ledger, bnce):
    rows = [ROWS[0], (date(2016, 8, 3), "5.2", "MOP", 87500, "V-2016-032", "Consultations"), ROWS[2]]
    statement_id = upload(bnce, fill(template(bnce, lang="fr").content, rows=rows)).json()["id"]
    response = bnce.get(f"{API}/{statement_id}/problems.xlsx")
    assert response.status_code == 200
    assert 'filename="ML-ESEC-2015_BNCE_2016-Q3_releve_' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content))["Dépenses"]
    assert sheet["B3"].fill.fgColor.rgb == PROBLEM_FILL
    assert comment_of(sheet["B3"]) == "BNCE n'a pas de budget sur la ligne 5.2."  # the workbook's language
    assert comment_of(sheet["B2"]) is None and sheet["B2"].fill.fgColor.rgb != PROBLEM_FILL
    assert sheet["G2"].value == "Animation thématique, Ségou"  # what the partner typed
    english = bnce.get(f"{API}/{statement_id}/problems.xlsx/", {"lang": "en"})
    assert comment_of(load_workbook(io.BytesIO(english.content))["Dépenses"]["B3"]) == \
        "BNCE has no budget on line 5.2."


def test_a_json_statements_problems_come_back_in_a_filled_template(ledger, bnce):
    body = {**BODY, "expenditures": [BODY["expenditures"][0], {**BODY["expenditures"][1], "location": "GAO"},
                                     BODY["expenditures"][2]]}
    statement_id = bnce.post(f"{API}/", body, format="json").json()["id"]
    response = bnce.get(f"{API}/{statement_id}/problems.xlsx", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["Expenditures"]
    assert sheet["A2"].value == datetime(2016, 7, 12) and sheet["D3"].value == 87500 and sheet["C3"].value == "GAO"
    assert comment_of(sheet["C3"]) == "'GAO' is not a known location."
    assert book["Statement"]["B13"].value == CASH and book["Statement"]["A20"].value == "2.2"


def test_finance_comments_rows_and_balances_and_the_partner_sees_them_beside_them(ledger, bnce, finance):
    statement_id = upload(bnce, fill(template(bnce, lang="fr").content)).json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    returned = finance.post(f"{API}/{statement_id}/return/", {
        "comment": "Deux points à reprendre.",
        "comments": [{"row": 2, "comment": "Joindre l'ordonnance."},
                     {"field": "cash_on_hand", "comment": "Le PV de caisse dit 109 000."}]}, format="json")
    assert returned.status_code == 200, returned.json()
    shown = bnce.get(f"{API}/{statement_id}/").json()
    assert shown["review_comments"] == [
        {"row": 2, "comment": "Joindre l'ordonnance.", "attr": "expenditures.1", "cell": "Dépenses!A3"},
        {"field": "cash_on_hand", "comment": "Le PV de caisse dit 109 000.", "attr": "cash_on_hand",
         "cell": "Relevé!B13"}]
    book = load_workbook(io.BytesIO(bnce.get(f"{API}/{statement_id}/problems.xlsx").content))
    sheet, summary = book["Dépenses"], book["Relevé"]
    assert "Joindre l'ordonnance." in comment_of(sheet["A3"])
    assert {sheet[f"{column}3"].fill.fgColor.rgb for column in "ABCDEFG"} == {REVIEW_FILL}
    assert sheet["A4"].fill.fgColor.rgb != REVIEW_FILL
    assert "Le PV de caisse dit 109 000." in comment_of(summary["B13"])
    # accepted after its correction, the comments are answered
    again = upload(bnce, fill(template(bnce, lang="fr").content))
    assert again.status_code == 200
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    accepted = finance.post(f"{API}/{statement_id}/accept/", {}, format="json")
    assert accepted.json()["review_comments"] == []


@pytest.mark.parametrize(("comments", "expected"), [
    ([{"row": 4, "comment": "?"}], ("unknown_row", "comments.0.row")),  # the statement has 3 rows
    ([{"row": 1, "field": "cash_on_hand", "comment": "?"}], ("invalid", "comments.0.non_field_errors")),
    ([{"field": "voucher", "comment": "?"}], ("invalid_choice", "comments.0.field")),
])
def test_a_comment_on_no_row_or_balance_is_refused(ledger, bnce, finance, comments, expected):
    statement_id = upload(bnce, fill(template(bnce, lang="fr").content)).json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    response = finance.post(f"{API}/{statement_id}/return/", {"comment": "Non.", "comments": comments},
                            format="json")
    assert response.status_code == 400
    assert (response.json()["errors"][0]["code"], response.json()["errors"][0]["attr"]) == expected
    assert QuarterlyStatement.objects.get(pk=statement_id).status == StatementStatus.SUBMITTED


# --- 5. the ledger's figures, prefilled and checked -------------------------------------------

@pytest.fixture
def unspent(grant):
    """BNCE's ledger before any statement: 12,000,000 XOF received on 2016-02-05, 739,579 XOF spent
    on 2016-03-10 (recorded by finance), so 12,000,000 - 739,579 = 11,260,421 XOF unspent when
    2016-Q2 starts; and 1,311,914 XOF received in 2016-Q2."""
    bnce = bnce_partner()
    expenditure_services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 2, 1),
                                         received_on=date(2016, 2, 5), amount_sent=Money("18400.00", "EUR"),
                                         amount_received=Money(12000000, "XOF"))
    expenditure_services.expenditure_record(
        grant=grant, partner=bnce, budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
        location=Location.objects.get(code="SEG"), amount=Money(739579, "XOF"), date=date(2016, 3, 10),
        voucher="F-2016-001")
    expenditure_services.transfer_record(grant=grant, partner=bnce, sent_on=date(2016, 5, 2),
                                         received_on=date(2016, 5, 3), amount_sent=Money("2000.00", "EUR"),
                                         amount_received=Money(1311914, "XOF"))
    return grant


# 11,260,421 + 1,311,914 - 500,000 = 12,072,335, counted as 72,335 cash + 12,000,000 at the bank.
Q2_LINE = {"date": "2016-05-10", "budget_line": "2.1", "location": "SEG", "amount": "500000",
           "amount_currency": "XOF", "voucher": "Q2-1", "description": "Formation des animateurs"}
Q2_COUNTED = {"closing_balance": "12072335", "closing_balance_currency": "XOF", "cash_on_hand": "72335",
              "cash_on_hand_currency": "XOF", "bank_balance": "12000000", "bank_balance_currency": "XOF"}


def test_a_json_statement_carries_the_ledgers_figures_as_the_template_does(unspent, bnce):
    created = bnce.post(f"{API}/", {"grant": SEED, "period": "2016-Q2", "expenditures": [Q2_LINE], **Q2_COUNTED},
                        format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["opening_balance"], created.json()["funds_received"]) == ("11260421", "1311914")
    summary = book_of(template(bnce, period="2016-Q2", lang="fr").content)["Relevé"]
    assert (summary["B8"].value, summary["B9"].value) == (11260421, 1311914)
    # its first submit passes: nothing to correct that the server knew
    assert bnce.post(f"{API}/{created.json()['id']}/submit/").status_code == 200


@pytest.mark.parametrize(("lang", "opening", "expected"), [
    ("en", "0 XOF", "11,260,421 XOF"), ("fr", "0 XOF", "11\xa0260\xa0421 XOF")])
def test_an_opening_balance_the_ledger_does_not_show_is_a_problem_naming_both(unspent, bnce, lang, opening,
                                                                              expected):
    body = {"grant": SEED, "period": "2016-Q2", "expenditures": [Q2_LINE], **Q2_COUNTED,
            "opening_balance": "0", "opening_balance_currency": "XOF"}
    created = bnce.post(f"{API}/", body, format="json")
    assert created.status_code == 201, created.json()
    response = bnce.post(f"{API}/{created.json()['id']}/submit/", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 400
    problems = {e["code"]: e for e in response.json()["errors"]}
    assert problems["opening_balance_mismatch"]["attr"] == "opening_balance"
    detail = problems["opening_balance_mismatch"]["detail"]
    assert detail.startswith(f"The opening balance {opening} is not the {expected} ") or (
        lang == "fr" and opening in detail and expected in detail)


def test_the_opening_balance_counts_from_the_last_accepted_statement(unspent, bnce, finance):
    # 2016-Q2 accepted, closing at 12,072,335; nothing sent in 2016-Q3, but 50,000 XOF spent by
    # finance on 2016-08-01: 2016-Q4 opens at 12,072,335 - 50,000 = 12,022,335
    created = bnce.post(f"{API}/", {"grant": SEED, "period": "2016-Q2", "expenditures": [Q2_LINE], **Q2_COUNTED},
                        format="json")
    assert bnce.post(f"{API}/{created.json()['id']}/submit/").status_code == 200
    assert finance.post(f"{API}/{created.json()['id']}/accept/", {}, format="json").status_code == 200
    expenditure_services.expenditure_record(
        grant=unspent, partner=bnce_partner(), budget_line=BudgetLine.objects.get(grant=unspent, code="2.1"),
        location=Location.objects.get(code="SEG"), amount=Money(50000, "XOF"), date=date(2016, 8, 1),
        voucher="F-2016-002")
    q4 = bnce.post(f"{API}/", {"grant": SEED, "period": "2016-Q4"}, format="json")
    assert (q4.json()["opening_balance"], q4.json()["funds_received"]) == ("12022335", "0")
    wrong = bnce.patch(f"{API}/{q4.json()['id']}/", {"opening_balance": "12072335", "opening_balance_currency": "XOF"},
                       format="json")
    assert wrong.status_code == 200
    response = bnce.post(f"{API}/{q4.json()['id']}/submit/", HTTP_ACCEPT_LANGUAGE="en")
    (problem,) = [e for e in response.json()["errors"] if e["code"] == "opening_balance_mismatch"]
    assert "12,072,335 XOF" in problem["detail"] and "12,022,335 XOF" in problem["detail"]
    assert "2016-Q2" in problem["detail"]


def test_acceptance_checks_the_opening_balance_against_the_ledger_once_more(unspent, bnce, finance):
    created = bnce.post(f"{API}/", {"grant": SEED, "period": "2016-Q2", "expenditures": [Q2_LINE], **Q2_COUNTED},
                        format="json")
    statement_id = created.json()["id"]
    assert bnce.post(f"{API}/{statement_id}/submit/").status_code == 200
    # a transfer of 2016-Q1 recorded late: 100,000 XOF more were unspent when 2016-Q2 started
    expenditure_services.transfer_record(grant=unspent, partner=bnce_partner(), sent_on=date(2016, 3, 15),
                                         received_on=date(2016, 3, 20), amount_sent=Money("153.00", "EUR"),
                                         amount_received=Money(100000, "XOF"))
    response = finance.post(f"{API}/{statement_id}/accept/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    (problem,) = response.json()["errors"]
    assert (problem["code"], problem["attr"]) == ("opening_balance_mismatch", "opening_balance")
    assert "11,260,421 XOF" in problem["detail"] and "11,360,421 XOF" in problem["detail"]
    shown = finance.get(f"{API}/{statement_id}/").json()
    assert shown["status"] == "submitted" and shown["problems"][0]["code"] == "opening_balance_mismatch"


# --- 6. dates as people type them -------------------------------------------------------------

@pytest.mark.parametrize("lang", ["fr", "en"])
def test_dates_typed_day_first_or_iso_are_read(ledger, bnce, lang):
    rows = [("12/07/2016", *ROWS[0][1:]), ("03-08-2016", *ROWS[1][1:]), ("29.09.2016", *ROWS[2][1:])]
    response = upload(bnce, fill(template(bnce, lang=lang).content, rows=rows))
    assert response.status_code == 201, response.json()
    assert [line["date"] for line in response.json()["expenditures"]] == ["2016-07-12", "2016-08-03", "2016-09-29"]
    assert response.json()["problems"] == []


@pytest.mark.parametrize(("lang", "sheet"), [("fr", "Dépenses"), ("en", "Expenditures")])
@pytest.mark.parametrize("typed", ["31/09/2016", "2016-13-01", "09/15/2016", "15/09/16"])
def test_an_impossible_or_ambiguous_date_is_a_problem_on_its_cell(ledger, bnce, lang, sheet, typed):
    rows = [ROWS[0], (typed, *ROWS[1][1:]), ROWS[2]]
    response = upload(bnce, fill(template(bnce, lang=lang).content, rows=rows))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["code"], error["cell"], error["row"]) == ("invalid", f"{sheet}!A3", 2)
    assert typed in error["detail"] and "15/02/2018" in error["detail"]


def test_a_date_outside_the_quarter_typed_day_first_is_the_checks_problem(ledger, bnce):
    rows = [ROWS[0], ("03/10/2016", *ROWS[1][1:]), ROWS[2]]
    response = upload(bnce, fill(template(bnce, lang="fr").content, rows=rows))
    assert response.status_code == 201
    assert [(p["code"], p["cell"]) for p in response.json()["problems"]] == [
        ("date_outside_period", "Dépenses!A3")]
    assert response.json()["expenditures"][1]["date"] == "2016-10-03"

