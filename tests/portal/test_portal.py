"""The partner's page (/portal/): log in, the quarters and their balances, the template, an upload
with its problems by cell, a submission, and what each user may see."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.utils.translation import gettext, ngettext, override
from moneyed import Money

from budget.seed import seed_load
from expenditures.models import Expenditure, QuarterlyStatement, StatementStatus
from grants.models import Partner
from tests.expenditures.test_workbook import BANK, CASH, CLOSING, OPENING, RECEIVED, ROWS, SPENT, fill
from tests.factories import GrantFactory
from tests.portal.conftest import (
    SEED,
    XLSX,
    browser,
    csrf_token,
    log_in,
    post,
    quarter_url,
    table_rows,
    text_of,
    upload,
    workbook_of,
)

PAGE_LIMIT = 100 * 1024  # bytes: a page for a slow line in Mopti


def french(message: str) -> str:
    with override("fr"):
        return gettext(message)


def french_plural(singular: str, plural: str, count: int) -> str:
    with override("fr"):
        return ngettext(singular, plural, count)


def template_content(client, period="2016-Q3") -> bytes:
    response = client.get(quarter_url(period, what="template.xlsx"))
    assert response.status_code == 200
    return response.content


def quarter_row(response, period: str) -> list[str]:
    return next(row for row in table_rows(response) if row and row[0] == period)


# --- who comes in ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/portal/", quarter_url(), quarter_url(what="template.xlsx")])
def test_anonymous_users_are_sent_to_the_login_page(grant, url):
    response = browser().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/portal/login/?next={url}"


def test_the_login_page_is_in_french_and_logs_a_partner_in(bnce_user):
    client = browser()
    page = client.get("/portal/login/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.content.decode() and page["Content-Language"] == "fr"
    assert "Nom d’utilisateur" in text_of(page)  # Django's own French for its login form
    refused = client.post("/portal/login/", {"username": "bnce", "password": "wrong",
                                             "csrfmiddlewaretoken": csrf_token(client, "/portal/login/")})
    assert refused.status_code == 200 and "Saisissez un nom d’utilisateur" in text_of(refused)
    log_in(client, "bnce")
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "BNCE" in text_of(home) and "bnce" in text_of(home)


def test_a_login_goes_back_to_the_page_asked_for(bnce_user, grant):
    client = browser()
    token = csrf_token(client, "/portal/login/")
    response = client.post("/portal/login/", {"username": "bnce", "password": "bnce", "next": quarter_url(),
                                              "csrfmiddlewaretoken": token})
    assert response["Location"] == quarter_url()


def test_log_out(bnce_web):
    response = post(bnce_web, "/portal/logout/", page="/portal/")
    assert response.status_code == 302 and response["Location"] == "/portal/login/"
    assert bnce_web.get("/portal/").status_code == 302


@pytest.mark.parametrize("username", ["finance", "donor"])
def test_finance_and_donors_get_a_page_that_says_where_to_go(username, finance_user, donor_user, grant):
    client = log_in(browser(), username)
    for url in ("/portal/", quarter_url(), quarter_url(what="template.xlsx")):
        response = client.get(url)
        assert response.status_code == 403
    page = client.get("/portal/").content.decode()
    assert ('href="/admin/"' in page) == (username == "finance")
    assert 'href="/api/v1/"' in page


# --- the quarters ----------------------------------------------------------------------------------

def test_the_list_shows_each_quarter_up_to_today_with_its_status_and_balances(ledger, bnce_web):
    bnce = Partner.objects.get(code="BNCE")
    QuarterlyStatement.objects.create(
        grant=ledger, partner=bnce, year=2016, quarter=4, status=StatementStatus.RETURNED,
        review_comment="La pièce V-12 manque.", opening_balance=Money(40000, "XOF"),
        closing_balance=Money(39000, "XOF"),
        lines=[{"date": "2016-10-03", "budget_line": "1.1", "location": "BKO", "amount": "1000",
                "amount_currency": "XOF", "voucher": "V-12", "description": ""}])
    response = bnce_web.get("/portal/")
    assert response.status_code == 200
    periods = [row[0] for row in table_rows(response)[1:]]
    # The grant runs from 2015-07-01 to 2018-06-30: twelve quarters, all ended, newest first.
    assert periods == [f"{year}-Q{q}" for year, q in [(2018, 2), (2018, 1), (2017, 4), (2017, 3), (2017, 2),
                                                      (2017, 1), (2016, 4), (2016, 3), (2016, 2), (2016, 1),
                                                      (2015, 4), (2015, 3)]]
    # quarter, status, opening, received, spent, closing
    assert quarter_row(response, "2016-Q2") == ["2016-Q2", "Accepté", "0", "0", "0", "40000"]  # as accepted
    assert quarter_row(response, "2016-Q3") == ["2016-Q3", french("Not sent yet"), "40000", "1311914", "–", "–"]
    assert quarter_row(response, "2016-Q4") == ["2016-Q4", "Renvoyé La pièce V-12 manque.", "40000", "0", "1000",
                                                "39000"]
    # Q4 is not accepted: the ledger's figure, Q2's closing balance plus Q3's transfers (nothing
    # counted spent since: Q4's lines are a statement's, not the ledger's)
    assert quarter_row(response, "2017-Q1")[2:] == ["1351914", "0", "–", "–"]
    assert quarter_row(response, "2015-Q3")[2:] == ["0", "0", "–", "–"]
    assert len(response.content) < PAGE_LIMIT


def test_a_quarter_page_shows_the_reviewers_comment(ledger, bnce_web):
    QuarterlyStatement.objects.create(grant=ledger, partner=Partner.objects.get(code="BNCE"), year=2016, quarter=3,
                                      status=StatementStatus.RETURNED, review_comment="Le solde bancaire manque.")
    response = bnce_web.get(quarter_url())
    assert response.status_code == 200
    assert "Le solde bancaire manque." in text_of(response)
    assert "Renvoyé" in text_of(response)


@pytest.mark.parametrize("period", ["2015-Q2", "2018-Q3", "2016-Q5", "Q3-2016"])
def test_a_quarter_outside_the_grant_is_not_found(grant, bnce_web, period):
    assert bnce_web.get(quarter_url(period)).status_code == 404
    assert bnce_web.get(quarter_url(period, what="template.xlsx")).status_code == 404


# --- the template, the upload, the submission -------------------------------------------------------

def test_the_template_is_the_quarters_prefilled_from_the_ledger(ledger, bnce_web):
    response = bnce_web.get(quarter_url(what="template.xlsx"))
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="ML-ESEC-2015_BNCE_2016-Q3_releve.xlsx"'
    book = workbook_of(response.content)
    assert book.sheetnames[:2] == ["Relevé", "Dépenses"]
    assert (book["Relevé"]["B8"].value, book["Relevé"]["B9"].value) == (OPENING, RECEIVED)


def test_an_upload_with_problems_lists_each_with_its_cell_and_saves_nothing(ledger, bnce_web):
    book = workbook_of(fill(template_content(bnce_web)))
    book["Dépenses"]["D3"] = "quatre-vingt mille"
    book["Dépenses"]["C4"] = None
    book["Relevé"]["B14"] = "beaucoup"
    response = upload(bnce_web, _saved(book))
    assert response.status_code == 200
    problems = [row for row in table_rows(response) if row and "!" in row[0]]
    amount, required = french("An amount such as 125000 is expected."), french(
        "This cell is required in a row with an expenditure.")
    assert sorted(problems) == sorted([["Relevé!B14", amount], ["Dépenses!D3", amount],
                                       ["Dépenses!C4", required]])
    assert not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists()
    assert len(response.content) < PAGE_LIMIT


def test_an_upload_saves_a_draft_that_is_then_submitted(ledger, bnce_web):
    response = upload(bnce_web, fill(template_content(bnce_web)))
    assert response.status_code == 302 and response["Location"] == quarter_url()
    page = bnce_web.get(quarter_url())
    assert "Brouillon" in text_of(page)
    assert [row[1] for row in table_rows(page)[:4]] == [f"{OPENING} XOF", f"{RECEIVED} XOF", f"{SPENT} XOF",
                                                      f"{CLOSING} XOF"]
    statement = QuarterlyStatement.objects.get(year=2016, quarter=3)
    assert statement.status == StatementStatus.DRAFT and len(statement.lines) == 3

    submitted = post(bnce_web, quarter_url(what="submit/"))
    assert submitted.status_code == 302 and submitted["Location"] == quarter_url()
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SUBMITTED
    assert Expenditure.objects.filter(statement=statement).count() == 3
    after = bnce_web.get(quarter_url())
    assert "Soumis" in text_of(after)
    assert 'action="/portal/ML-ESEC-2015/2016-Q3/upload/"' not in after.content.decode()  # nothing more to send


def test_the_problems_of_a_submission_are_shown_with_their_cells_and_kept(ledger, bnce_web):
    rows = [ROWS[0], (date(2016, 8, 3), "5.2", "MOP", 87500, "V-2016-032", None), ROWS[2]]
    assert upload(bnce_web, fill(template_content(bnce_web), rows=rows, cash=CASH, bank=BANK)).status_code == 302
    response = post(bnce_web, quarter_url(what="submit/"))
    assert response.status_code == 200
    expected = french("%(partner)s has no budget on line %(code)s.") % {"partner": "BNCE", "code": "5.2"}
    assert [row for row in table_rows(response) if row and "!" in row[0]] == [["Dépenses!B3", expected]]
    assert QuarterlyStatement.objects.get(year=2016, quarter=3).status == StatementStatus.DRAFT
    again = bnce_web.get(quarter_url())  # kept on the statement: shown until corrected
    assert [row for row in table_rows(again) if row and "!" in row[0]] == [["Dépenses!B3", expected]]
    one_problem = french_plural("%(counter)s problem", "%(counter)s problems", 1) % {"counter": 1}
    assert quarter_row(bnce_web.get("/portal/"), "2016-Q3")[1].endswith(one_problem)


def test_sending_the_file_again_replaces_the_draft(ledger, bnce_web):
    content = template_content(bnce_web)
    assert upload(bnce_web, fill(content)).status_code == 302
    first = QuarterlyStatement.objects.get(year=2016, quarter=3)
    assert upload(bnce_web, fill(content, rows=ROWS[:1], cash=CASH, bank=BANK)).status_code == 302
    again = QuarterlyStatement.objects.get(year=2016, quarter=3)
    assert again.pk == first.pk and [line["voucher"] for line in again.lines] == ["V-2016-031"]


def test_a_submitted_statement_takes_no_new_file(ledger, bnce_web):
    content = fill(template_content(bnce_web))
    assert upload(bnce_web, content).status_code == 302
    assert post(bnce_web, quarter_url(what="submit/")).status_code == 302
    response = upload(bnce_web, content)  # a form kept open in another tab
    assert response.status_code == 200
    said = french("%(partner)s's statement for %(period)s is submitted and waits for finance's review: send it "
                  "again once finance returns it.") % {"partner": "BNCE", "period": "2016-Q3"}
    assert said in [row[-1] for row in table_rows(response)]
    assert QuarterlyStatement.objects.get(year=2016, quarter=3).status == StatementStatus.SUBMITTED


def test_a_file_that_is_no_workbook_is_a_problem_of_the_file(grant, bnce_web):
    response = upload(bnce_web, b"date;amount\n2016-08-01;125000\n")
    assert response.status_code == 200
    assert ["", french("This file is not an Excel workbook (.xlsx).")] in table_rows(response)


# --- partners see their own only ---------------------------------------------------------------------

def test_a_partner_never_sees_another_partners_grant_or_statement(ledger, bnce_web, caritas_web):
    bnce = Partner.objects.get(code="BNCE")
    own = GrantFactory(code="BNCE-ONLY", start_date=date(2016, 1, 1), end_date=date(2017, 12, 31), partners=[bnce])
    assert upload(bnce_web, fill(template_content(bnce_web))).status_code == 302
    assert bnce_web.get(quarter_url(grant=own.code)).status_code == 200

    assert own.code not in text_of(caritas_web.get("/portal/"))
    for what in ("", "template.xlsx"):
        assert caritas_web.get(quarter_url(grant=own.code, what=what)).status_code == 404
    for what in ("upload/", "submit/"):
        assert post(caritas_web, quarter_url(grant=own.code, what=what), page="/portal/").status_code == 404
    # The grant they share: CARITAS sees its own quarter, none of BNCE's draft.
    page = caritas_web.get(quarter_url())
    assert page.status_code == 200 and "Brouillon" not in text_of(page) and "V-2016" not in text_of(page)
    submitted = post(caritas_web, quarter_url(what="submit/"))
    assert submitted.status_code == 302
    assert QuarterlyStatement.objects.get(year=2016, quarter=3).status == StatementStatus.DRAFT


def test_a_partner_cannot_send_another_partners_workbook(ledger, bnce_web, caritas_web):
    response = upload(caritas_web, fill(template_content(bnce_web)))
    assert response.status_code == 200
    cells = [row[0] for row in table_rows(response) if row and "!" in row[0]]
    assert cells == ["Relevé!B4"]
    assert not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists()


# --- CSRF, weight, language ---------------------------------------------------------------------------

def test_every_form_needs_its_csrf_token(ledger, bnce_user):
    client = browser()
    assert client.post("/portal/login/", {"username": "bnce", "password": "bnce"}).status_code == 403
    log_in(client, "bnce")
    for what in ("upload/", "submit/"):
        assert client.post(quarter_url(what=what)).status_code == 403
    assert client.post("/portal/logout/").status_code == 403
    assert client.post("/portal/language/", {"language": "en"}).status_code == 403


def test_pages_stay_under_100_kb_even_with_thousands_of_problems(ledger, bnce_web):
    bnce = Partner.objects.get(code="BNCE")
    lines = [{"date": "2016-07-01", "budget_line": "9.9", "location": "NOWHERE", "amount": "1.5",
              "amount_currency": "XOF", "voucher": f"V-{i}", "description": "x" * 200} for i in range(2000)]
    QuarterlyStatement.objects.create(grant=ledger, partner=bnce, year=2016, quarter=3, lines=lines,
                                      opening_balance=Money(OPENING, "XOF"), funds_received=Money(RECEIVED, "XOF"))
    response = post(bnce_web, quarter_url(what="submit/"))
    assert response.status_code == 200
    problems = QuarterlyStatement.objects.get(year=2016, quarter=3).problems
    assert len(problems) > 6000  # three in each line, at least
    assert len([row for row in table_rows(response) if row and "!" in row[0]]) == 200
    assert str(len(problems) - 200) in text_of(response)
    for page in (response, bnce_web.get(quarter_url()), bnce_web.get("/portal/"), browser().get("/portal/login/")):
        assert len(page.content) < PAGE_LIMIT, len(page.content)


def test_the_language_switch_turns_the_pages_and_the_template_to_english_and_back(ledger, bnce_web):
    response = post(bnce_web, "/portal/language/", {"language": "en", "next": "/portal/"}, page="/portal/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    home = bnce_web.get("/portal/")
    assert '<html lang="en">' in home.content.decode() and home["Content-Language"] == "en"
    assert quarter_row(home, "2016-Q2")[1] == "Accepted"
    assert quarter_row(home, "2016-Q3")[2:4] == ["40,000", "1,311,914"]  # grouped the English way
    assert workbook_of(template_content(bnce_web)).sheetnames[:2] == ["Statement", "Expenditures"]
    post(bnce_web, "/portal/language/", {"language": "fr", "next": "/portal/"}, page="/portal/")
    assert quarter_row(bnce_web.get("/portal/"), "2016-Q2")[1] == "Accepté"


def test_the_browsers_language_does_not_choose_the_page(ledger, bnce_web):
    response = bnce_web.get("/portal/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="fr">' in response.content.decode()


def _saved(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_seed_is_what_these_tests_assume(db):
    grant = seed_load().grant
    assert (grant.code, grant.start_date, grant.end_date) == (SEED, date(2015, 7, 1), date(2018, 6, 30))
