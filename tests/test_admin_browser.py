"""The finance officer's admin in a real browser: headless Chromium driven by Selenium against a
live server, at 1,366 px (a laptop's width).

``finance`` (the demo user) logs in, records an expenditure typing 05/06/2018 in the English admin
and finds 5 June stored, filters the list on a partner and reads its totals, opens a submitted
statement, reads its table and accepts it. Screenshots of each step go to the test's temporary
folder. Chromium and its driver are found as tests/portal/test_browser.py finds them; the test is
skipped, saying so, where they are missing."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from moneyed import Money

from budget.models import BudgetLine
from expenditures.models import Expenditure, QuarterlyStatement, StatementStatus
from expenditures.services import expenditure_record
from grants.models import Location, Partner
from tests.browser import chrome_session, click_and_wait
from tests.test_admin import _submitted_statement

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: `make install` installs it")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chrome():
    yield from chrome_session(webdriver, width=1366, height=900)


def test_finance_records_filters_and_accepts_in_the_admin(live_server, grant, chrome, tmp_path):
    call_command("create_demo_users", "--json", stdout=open("/dev/null", "w"))  # noqa: SIM115
    bnce, caritas = Partner.objects.get(code="BNCE"), Partner.objects.get(code="CARITAS")
    line = BudgetLine.objects.get(grant=grant, code="1.1")
    bamako = Location.objects.get(code="BKO")
    expenditure_record(grant=grant, partner=caritas, budget_line=BudgetLine.objects.get(grant=grant, code="2.1"),
                       location=bamako, amount=Money("100000", "XOF"), date=date(2016, 2, 1), voucher="C-1")
    statement = _submitted_statement({"grant": grant, "BNCE": bnce}, explanation="Rent for the year")

    # Logs in.
    chrome.get(f"{live_server.url}/admin/")
    chrome.find_element(By.NAME, "username").send_keys("finance")
    chrome.find_element(By.NAME, "password").send_keys("finance")
    click_and_wait(chrome, chrome.find_element(By.CSS_SELECTOR, "input[type=submit]"))

    # Records an expenditure, typing the date day first; the only grant is already chosen.
    chrome.get(f"{live_server.url}/admin/expenditures/expenditure/add/")
    assert Select(chrome.find_element(By.NAME, "grant")).first_selected_option.get_attribute("value") == str(grant.pk)
    Select(chrome.find_element(By.NAME, "partner")).select_by_value(str(bnce.pk))
    lines = Select(chrome.find_element(By.NAME, "budget_line"))
    assert "1 " not in [option.text[:2] for option in lines.options]  # no heading offered
    lines.select_by_value(str(line.pk))
    Select(chrome.find_element(By.NAME, "location")).select_by_value(str(bamako.pk))
    chrome.find_element(By.NAME, "date").send_keys("05/06/2018")
    chrome.find_element(By.NAME, "voucher").send_keys("BNCE-2018-001")
    chrome.find_element(By.NAME, "amount_0").send_keys("655957")
    Select(chrome.find_element(By.NAME, "amount_1")).select_by_value("XOF")
    Select(chrome.find_element(By.NAME, "status")).select_by_value("validated")
    chrome.save_screenshot(str(tmp_path / "1-add.png"))
    click_and_wait(chrome, chrome.find_element(By.NAME, "_save"))
    chrome.save_screenshot(str(tmp_path / "2-list.png"))
    assert Expenditure.objects.get(voucher="BNCE-2018-001").date == date(2018, 6, 5)

    # Filters the list on BNCE and reads its totals: the new row and the statement's.
    chrome.get(f"{live_server.url}/admin/expenditures/expenditure/?partner__id__exact={bnce.pk}")
    chrome.save_screenshot(str(tmp_path / "3-filtered.png"))
    totals = chrome.find_element(By.ID, "expenditure-totals").text
    assert "1,155,957 XOF" in totals  # 655,957 + the statement's 500,000
    assert chrome.find_element(By.ID, "total-eur").text == "1,762.25 EUR"  # 1,000.00 + 762.25
    # At 1,366 px the amount and status columns are on screen.
    status = chrome.find_element(By.CSS_SELECTOR, "#result_list td.field-status")
    assert status.location["x"] + status.size["width"] <= 1366

    # Types a day-first date range in the sidebar: 05/06/2018 to 05/06/2018 keeps 5 June's row only.
    for name in ("date__range__gte", "date__range__lte"):
        chrome.find_element(By.NAME, name).send_keys("05/06/2018")
    click_and_wait(chrome, chrome.find_element(By.CSS_SELECTOR, ".admindatefilter input[type=submit]"))
    chrome.save_screenshot(str(tmp_path / "3b-dates.png"))
    assert [cell.text for cell in chrome.find_elements(By.CSS_SELECTOR, "#result_list td.field-voucher")] == [
        "BNCE-2018-001"]
    assert "655,957 XOF" in chrome.find_element(By.ID, "expenditure-totals").text

    # Opens the submitted statement, reads its table and accepts it.
    chrome.get(f"{live_server.url}/admin/expenditures/quarterlystatement/{statement.pk}/change/")
    cells = [cell.text for cell in chrome.find_elements(By.CSS_SELECTOR, "#statement-lines tbody td")]
    assert cells[1].startswith("2.1 ") and "500,000 XOF" in cells and "762.25 EUR" in cells
    assert "Rent for the year" in chrome.find_element(By.ID, "statement-budget").text
    chrome.save_screenshot(str(tmp_path / "4-statement.png"))
    chrome.find_element(By.ID, "review-comment").send_keys("Checked against the vouchers.")
    click_and_wait(chrome, chrome.find_element(By.CSS_SELECTOR, "#statement-review-form button[value=accept]"))
    chrome.save_screenshot(str(tmp_path / "5-accepted.png"))
    statement = QuarterlyStatement.objects.get(pk=statement.pk)
    assert (statement.status, statement.review_comment) == (StatementStatus.ACCEPTED, "Checked against the vouchers.")
    assert "accepted" in chrome.find_element(By.CSS_SELECTOR, "ul.messagelist").text
