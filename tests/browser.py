"""Headless Chromium for the browser tests (the partner's page, the admin), driven by Selenium.

`make test` installs Debian's chromium and chromium-driver where it can (bin/install-browser);
elsewhere the tests skip, saying why. Both paths are given to Selenium, so that Selenium Manager,
which would download a driver, is never asked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest


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
