"""The partner's flow in a real browser: headless Chromium driven by Selenium against a live server.

BNCE's member logs in, opens 2016-Q3, downloads the template, fills it with openpyxl with three
mistakes, sends it, reads the three problems by cell, sends it corrected and submits. Screenshots
of each step go to the test's temporary folder (``--basetemp`` keeps them where you want them).

Chromium and its driver are found on the PATH (``chromium`` or ``chromium-browser``, and
``chromedriver``), or named by ``CHROMIUM`` and ``CHROMEDRIVER``. ``make test`` installs Debian's
``chromium`` and ``chromium-driver`` when they are missing and it can (``bin/browser``); the test
is skipped, saying so, only where neither is there."""

from __future__ import annotations

import io
import urllib.request

import pytest
from openpyxl import load_workbook

from expenditures.models import Expenditure, QuarterlyStatement, StatementStatus
from tests.browser import chrome_session, click_and_wait
from tests.expenditures.test_workbook import fill

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: `make install` installs it")
from selenium.webdriver.common.by import By  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chrome():
    yield from chrome_session(webdriver, width=1280, height=1000)


def problem_cells(driver) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#problems td.cell")]


def send(driver, path) -> None:
    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]"))


def download(driver, url: str) -> bytes:
    """The template through the page's link, with the browser's session."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookies}), timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        return response.read()


def test_a_partner_sends_corrects_and_submits_its_statement(live_server, ledger, bnce_user, chrome, tmp_path):
    chrome.get(f"{live_server.url}/portal/")
    assert "/portal/login/" in chrome.current_url
    assert chrome.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    chrome.find_element(By.NAME, "username").send_keys("bnce")
    chrome.find_element(By.NAME, "password").send_keys("bnce")
    click_and_wait(chrome, chrome.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    chrome.save_screenshot(str(tmp_path / "1-quarters.png"))

    click_and_wait(chrome, chrome.find_element(By.LINK_TEXT, "2016-Q3"))
    content = download(chrome, chrome.find_element(By.CSS_SELECTOR, "a[download]").get_attribute("href"))
    book = load_workbook(io.BytesIO(fill(content)))
    book["Dépenses"]["D3"] = "quatre-vingt mille"  # an amount in words
    book["Dépenses"]["C4"] = None  # a row without its location
    book["Relevé"]["B14"] = "beaucoup"  # a bank balance that is no number
    book.save(tmp_path / "releve.xlsx")
    send(chrome, tmp_path / "releve.xlsx")
    chrome.save_screenshot(str(tmp_path / "2-problems.png"))
    assert sorted(problem_cells(chrome)) == ["Dépenses!C4", "Dépenses!D3", "Relevé!B14"]
    assert not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists()

    (tmp_path / "releve-corrige.xlsx").write_bytes(fill(content))
    send(chrome, tmp_path / "releve-corrige.xlsx")
    assert problem_cells(chrome) == []
    assert chrome.find_element(By.CSS_SELECTOR, "[role=status]").text
    chrome.save_screenshot(str(tmp_path / "3-draft.png"))

    click_and_wait(chrome, chrome.find_element(By.XPATH, "//form[contains(@action, '/submit/')]//button"))
    assert chrome.find_element(By.CSS_SELECTOR, "strong .s-submitted").text
    chrome.save_screenshot(str(tmp_path / "4-submitted.png"))
    statement = QuarterlyStatement.objects.get(year=2016, quarter=3)
    assert statement.status == StatementStatus.SUBMITTED
    assert Expenditure.objects.filter(statement=statement).count() == 3
