"""Headless Chromium for the browser tests (the partner's page, the admin), driven by Selenium.

`make test` installs Debian's chromium and chromium-driver where it can (bin/install-browser);
elsewhere the tests skip, saying why. Both paths are given to Selenium, so that Selenium Manager,
which would download a driver, is never asked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

# The marker the page being left carries; the page that replaces it has none.
_OLD_PAGE = "window.__ledgerOldPage"


def chromium_and_driver() -> tuple[str | None, str | None]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return chromium, driver


def chrome_session(webdriver, *, width: int, height: int) -> Iterator:
    """A headless Chromium of that window size, English (the pages choose their own language)."""
    chromium, driver_path = chromium_and_driver()
    if not (chromium and driver_path):
        pytest.skip("no Chromium and chromedriver here: `make test` installs Debian's chromium and chromium-driver "
                    "where it can (as root, with apt-get); or name them with CHROMIUM and CHROMEDRIVER")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--lang=en-US"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def click_and_wait(driver, button, *, timeout: float = 20) -> None:
    """Click a button that loads another page and wait until that page has loaded.

    The page being left is marked with a property on ``window``, and the wait ends when the loaded
    page has none. Waiting for the old ``<html>`` element to go stale instead raced with
    chromedriver: an element asked about in the middle of the navigation may answer "Node with
    given id does not belong to the document", a plain WebDriverException that
    ``staleness_of`` does not expect (it failed a CI run). Errors met while the page changes are
    ignored until the timeout, which then names the page still shown."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(f"{_OLD_PAGE} = true;")
    button.click()

    def loaded(driver) -> bool:
        return driver.execute_script(f"return !{_OLD_PAGE} && document.readyState === 'complete';")

    try:
        WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(loaded)
    except TimeoutException as error:
        raise TimeoutException(f"no new page {timeout} s after the click; still on {driver.current_url}") from error
