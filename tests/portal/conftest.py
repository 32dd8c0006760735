"""The partner's page through Django's test client: a browser's session, cookies and CSRF."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from tests.expenditures.test_workbook import ledger  # noqa: F401  (a fixture: BNCE's ledger at 2016-Q3)

SEED = "ML-ESEC-2015"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def quarter_url(period: str = "2016-Q3", grant: str = SEED, what: str = "") -> str:
    return f"/portal/{grant}/{period}/{what}"


def browser() -> Client:
    """A client that checks CSRF tokens as a browser's requests are checked."""
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client, url: str) -> str:
    """The token a page's forms carry, read from the page as a browser would."""
    html = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def log_in(client: Client, username: str) -> Client:
    token = csrf_token(client, "/portal/login/")
    response = client.post("/portal/login/", {"username": username, "password": username,
                                              "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def post(client: Client, url: str, data: dict | None = None, page: str | None = None):
    """Post a page's form with the page's CSRF token."""
    token = csrf_token(client, page or quarter_url())
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token})


def upload(client: Client, content: bytes, period: str = "2016-Q3"):
    return post(client, quarter_url(period, what="upload/"),
                {"file": SimpleUploadedFile("releve.xlsx", content, content_type=XLSX)}, page=quarter_url(period))


@pytest.fixture
def bnce_web(bnce_user) -> Client:
    return log_in(browser(), "bnce")


@pytest.fixture
def caritas_web(caritas_user) -> Client:
    return log_in(browser(), "caritas")


class _Tables(HTMLParser):
    """The text of each table row's cells, spaces of every kind dropped inside numbers."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self.rows[-1].append(re.sub(r"(?<=\d)[\s\u00a0\u202f](?=\d)", "", text))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response) -> list[list[str]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.rows


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def workbook_of(content: bytes):
    return load_workbook(io.BytesIO(content))
