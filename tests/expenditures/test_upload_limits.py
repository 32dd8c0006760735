"""Statement uploads cannot burn the server's CPU or memory (issue 15): each bomb a user met, or
could build, is refused with its status and code before openpyxl parses it, and nothing is
written. The bombs are built here with zipfile: a few kilobytes compressed, megabytes unpacked.

Also: a statement line's description has an expenditure's limit on every path, a formula saved
without its result in an input cell is a problem on its cell, and a body over Django's limit
answers 413 in the API's error format."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from expenditures.fields import DESCRIPTION_MAX_LENGTH, VOUCHER_MAX_LENGTH
from expenditures.models import Expenditure, QuarterlyStatement
from expenditures.statements import statement_create, statement_submit, statement_update
from expenditures.upload_limits import UploadLimits, workbook_check_limits
from expenditures.workbook import statement_from_workbook
from grants.errors import ApplicationError, PayloadTooLarge
from grants.models import Partner
from tests.expenditures.test_workbook import (
    API,
    BODY,
    CASH,
    ROWS,
    fill,
    ledger,  # noqa: F401 (a fixture)
    template,
    upload,
)

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS = "xl/sharedStrings.xml"
MB = 1024 * 1024


# --- helpers -----------------------------------------------------------------------------------

@pytest.fixture
def blank(grant, bnce) -> bytes:
    """BNCE's 2016-Q3 template as the API gives it: xlsxwriter keeps its texts in shared strings,
    as Excel does."""
    return template(bnce, lang="fr").content


@pytest.fixture
def filled(request, bnce) -> bytes:
    """The template filled as a partner fills it (French), on BNCE's ledger (the workbook tests'
    ``ledger``): it is accepted. Saved by openpyxl, which writes each text in its cell (no shared
    strings)."""
    request.getfixturevalue("ledger")
    return fill(template(bnce, lang="fr").content)


Part = bytes | Iterator[bytes]


def rezip(content: bytes, replace: dict[str, Part] | None = None, add: dict[str, Part] | None = None,
          compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The workbook with parts replaced or added: what a bomb's author does by hand. A part given
    in pieces is deflated as it comes (a 150 MB part, 150 KB deflated, in 0.6 s)."""
    replace, add = replace or {}, add or {}
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression, compresslevel=9) as archive:
        parts = [(name, replace.get(name, source.read(name))) for name in source.namelist()] + list(add.items())
        for name, data in parts:
            if isinstance(data, bytes):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w") as part:
                for piece in data:
                    part.write(piece)
    return out.getvalue()


def shared_strings(content: bytes, items: int, text: str = "a") -> Iterator[bytes]:
    """The workbook's shared strings, then ``items`` more, each ``text``, in pieces of about 1 MB:
    the cells still find theirs, so only the count is wrong."""
    own = zipfile.ZipFile(io.BytesIO(content)).read(SHARED_STRINGS)
    yield own[:own.rindex(b"</sst>")]
    si = f"<si><t>{text}</t></si>".encode()
    per_piece = max(1, MB // len(si))
    for start in range(0, items, per_piece):
        yield si * min(per_piece, items - start)
    yield b"</sst>"


def huge_string(content: bytes, chars: int) -> Iterator[bytes]:
    """The workbook's shared strings, then one of ``chars`` characters, in pieces of 1 MB."""
    own = zipfile.ZipFile(io.BytesIO(content)).read(SHARED_STRINGS)
    yield own[:own.rindex(b"</sst>")] + b"<si><t>"
    for start in range(0, chars, MB):
        yield b"x" * min(MB, chars - start)
    yield b"</t></si></sst>"


def errors(response) -> list[tuple[str, str | None]]:
    return [(error["code"], error["attr"]) for error in response.json()["errors"]]


def nothing_written() -> bool:
    """No statement of 2016-Q3 (the ledger's accepted 2016-Q2 aside) and no expenditure."""
    return not QuarterlyStatement.objects.filter(year=2016, quarter=3).exists() and not Expenditure.objects.exists()


# --- the bombs, through the API ----------------------------------------------------------------

def test_the_filled_template_is_within_every_limit(filled, bnce):
    # given the template as a partner fills it, then when it is uploaded, then it is accepted:
    # the limits leave the real file alone
    assert workbook_check_limits(io.BytesIO(filled)) is None
    assert upload(bnce, filled).status_code == 201


@pytest.mark.parametrize(("items", "code"), [
    (100_001, "too_many_strings"),  # 1.7 MB unpacked: streamed, stopped at the 100,001st string
    (3_000_000, "workbook_too_large"),  # the 133 KB file of the report, 51 MB unpacked: the directory says so
])
def test_many_shared_strings_are_refused(blank, bnce, items, code):
    bomb = rezip(blank, replace={SHARED_STRINGS: shared_strings(blank, items)})
    assert len(bomb) < 300_000
    response = upload(bnce, bomb)
    assert response.status_code == 400
    assert errors(response) == [(code, "file")]
    assert response.json()["type"] == "validation_error"
    assert nothing_written()


def test_one_cell_over_the_cell_limit_is_refused(blank, bnce):
    bomb = rezip(blank, replace={SHARED_STRINGS: huge_string(blank, 32_768)})
    response = upload(bnce, bomb)
    assert response.status_code == 400
    assert errors(response) == [("cell_too_long", "file")]
    assert nothing_written()


def test_one_huge_cell_is_refused_from_the_directory(blank, bnce):
    # the report's 158 KB file with one 150 MB description: nothing of it is unpacked
    bomb = rezip(blank, replace={SHARED_STRINGS: huge_string(blank, 150 * MB)})
    assert len(bomb) < 300_000
    response = upload(bnce, bomb)
    assert response.status_code == 400
    assert errors(response) == [("workbook_too_large", "file")]
    assert nothing_written()


def test_an_inline_string_cell_over_the_limit_is_refused(filled, bnce):
    # openpyxl and other tools write a cell's text in the worksheet itself (t="inlineStr")
    sheet = "xl/worksheets/sheet2.xml"
    xml = zipfile.ZipFile(io.BytesIO(filled)).read(sheet).decode()
    cell = f'<c r="H2" t="inlineStr"><is><t>{"x" * 40_000}</t></is></c>'
    xml = re.sub(r'(<row r="2"[^>]*>)', lambda match: match.group(1) + cell, xml, count=1)
    response = upload(bnce, rezip(filled, replace={sheet: xml.encode()}))
    assert errors(response) == [("cell_too_long", "file")]
    assert nothing_written()


def test_a_huge_uncompressed_part_is_refused(filled, bnce):
    bomb = rezip(filled, add={"xl/media/image1.png": bytes(25 * MB)})  # 25 MB of zeros, 25 KB deflated
    response = upload(bnce, bomb)
    assert response.status_code == 400
    assert errors(response) == [("workbook_too_large", "file")]
    assert nothing_written()


def test_a_part_openpyxl_reads_whole_is_limited(filled, bnce):
    # 60,000 cell formats: openpyxl builds an object for each (2 s and 80 MB at 100,000)
    styles = zipfile.ZipFile(io.BytesIO(filled)).read("xl/styles.xml").decode()
    xf = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    styles = re.sub(r"<cellXfs count=\"\d+\">", lambda match: match.group(0) + xf * 60_000, styles, count=1)
    response = upload(bnce, rezip(filled, replace={"xl/styles.xml": styles.encode()}))
    assert errors(response) == [("workbook_too_large", "file")]
    assert "xl/styles.xml" in response.json()["errors"][0]["detail"]
    assert nothing_written()


def test_too_many_parts_are_refused(filled, bnce):
    bomb = rezip(filled, add={f"customXml/item{i}.xml": b"<a/>" for i in range(100)})
    response = upload(bnce, bomb)
    assert response.status_code == 400
    assert errors(response) == [("workbook_too_large", "file")]
    assert nothing_written()


def test_a_file_over_the_upload_limit_is_refused_before_its_body_is_read(filled, bnce):
    # a picture of 5 MB, stored: the request's Content-Length says it all
    bomb = rezip(filled, add={"xl/media/image1.png": bytes(5 * MB)}, compression=zipfile.ZIP_STORED)
    assert len(bomb) > 5 * MB
    response = upload(bnce, bomb)
    assert response.status_code == 413
    assert response.json() == {"type": "client_error", "errors": [
        {"code": "upload_too_large", "detail": response.json()["errors"][0]["detail"], "attr": "file"}]}
    assert "5 MB" in response.json()["errors"][0]["detail"]
    assert nothing_written()


def test_a_file_over_the_upload_limit_is_refused_by_its_size_too(filled, bnce, settings):
    # a limit just under the file: the body's length passes (the multipart overhead), its file does not
    settings.STATEMENT_UPLOAD_MAX_BYTES = len(filled) - 1
    response = upload(bnce, filled)
    assert response.status_code == 413
    assert errors(response) == [("upload_too_large", "file")]
    assert nothing_written()


def test_a_json_body_over_djangos_limit_answers_413(grant, bnce):
    body = {**BODY, "explanations": {"2.2": "x" * 2_700_000}}  # DATA_UPLOAD_MAX_MEMORY_SIZE: 2.5 MB
    response = bnce.post(f"{API}/", json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert errors(response) == [("request_too_large", None)]
    assert response.json()["type"] == "client_error"
    assert "2.5 MB" in response.json()["errors"][0]["detail"]
    assert nothing_written()


def test_form_fields_over_djangos_limit_beside_an_upload_answer_413(filled, bnce, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = bnce.post(f"{API}/upload/", {"file": SimpleUploadedFile("releve.xlsx", filled), "note": "x" * 20_000},
                         format="multipart")
    assert response.status_code == 413
    assert errors(response) == [("request_too_large", None)]
    assert nothing_written()


def test_a_dtd_in_a_part_is_not_a_workbook(blank, bnce):
    own = zipfile.ZipFile(io.BytesIO(blank)).read(SHARED_STRINGS)
    dtd = own.replace(b"?>", b'?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]>', 1)
    response = upload(bnce, rezip(blank, replace={SHARED_STRINGS: dtd}))
    assert errors(response) == [("not_a_workbook", "file")]
    assert nothing_written()


def test_a_cell_naming_a_shared_string_that_is_not_there_is_not_a_workbook(blank, bnce):
    # openpyxl meets it while reading the sheet (an IndexError): 400, not a server error
    table = f'<?xml version="1.0"?><sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>a</t></si></sst>'
    response = upload(bnce, rezip(blank, replace={SHARED_STRINGS: table.encode()}))
    assert response.status_code == 400
    assert errors(response) == [("not_a_workbook", "file")]
    assert nothing_written()


# --- the reader, without the API ---------------------------------------------------------------

def test_the_reader_applies_the_limits_on_every_path(blank, filled, tmp_path):
    # given a file over the limits, read as a management command would (a path) or from memory
    small = UploadLimits(max_bytes=len(filled) - 1, max_members=100, max_uncompressed_bytes=MB,
                         max_part_bytes=MB, max_shared_strings=10, max_shared_strings_bytes=MB, max_cell_chars=10)
    path = tmp_path / "statement.xlsx"
    path.write_bytes(filled)
    with pytest.raises(PayloadTooLarge):
        workbook_check_limits(str(path), small)
    bomb = rezip(blank, replace={SHARED_STRINGS: shared_strings(blank, 200_000)})
    with pytest.raises(ApplicationError) as caught:
        statement_from_workbook(io.BytesIO(bomb))
    assert caught.value.code == "too_many_strings"


# --- a formula saved without its result ----------------------------------------------------------

def with_formula(content: bytes, cell: str, cached: int | None = None) -> bytes:
    """The workbook with a formula in the summary's ``cell``, saved by openpyxl (no result), or
    with ``cached`` as its saved result, as Excel saves one."""
    book = load_workbook(io.BytesIO(content))
    book.worksheets[0][cell] = "=B11-B14"
    out = io.BytesIO()
    book.save(out)
    if cached is None:
        return out.getvalue()
    sheet = "xl/worksheets/sheet1.xml"
    xml = zipfile.ZipFile(io.BytesIO(out.getvalue())).read(sheet).decode()
    # openpyxl writes the empty result as <v/> or <v></v> (with lxml), or leaves it out
    xml, found = re.subn(rf'(<c r="{cell}"[^>]*><f>[^<]*</f>)(?:<v\s*/>|<v>\s*</v>)?', rf"\g<1><v>{cached}</v>", xml)
    assert found == 1
    return rezip(out.getvalue(), replace={sheet: xml.encode()})


def test_a_formula_without_its_result_in_the_cash_cell_is_a_problem_on_its_cell(filled, bnce):
    response = upload(bnce, with_formula(filled, "B13"), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert errors(response) == [("formula_without_value", "Relevé!B13")]
    assert nothing_written()


def test_a_formula_with_its_result_in_the_cash_cell_is_read(filled, bnce):
    response = upload(bnce, with_formula(filled, "B13", cached=CASH))
    assert response.status_code == 201, response.json()
    assert response.json()["cash_on_hand"] == str(CASH)


def test_an_empty_cash_cell_is_still_zero(grant, bnce):
    content = fill(template(bnce, lang="en").content, cash=None)
    assert statement_from_workbook(io.BytesIO(content))["cash_on_hand"] == "0"


# --- a line's description ------------------------------------------------------------------------

def long_line(length: int) -> dict:
    return {**BODY["expenditures"][0], "description": "d" * length}


def test_a_json_statement_line_takes_a_description_of_the_limit_and_no_more(grant, bnce):
    too_long = bnce.post(f"{API}/", {**BODY, "expenditures": [long_line(DESCRIPTION_MAX_LENGTH + 1)]},
                         format="json")
    assert too_long.status_code == 400
    assert errors(too_long) == [("max_length", "expenditures.0.description")]
    assert nothing_written()
    at_limit = bnce.post(f"{API}/", {**BODY, "expenditures": [long_line(DESCRIPTION_MAX_LENGTH)]}, format="json")
    assert at_limit.status_code == 201


def test_an_uploaded_description_over_the_limit_is_a_problem_on_its_cell(grant, bnce):
    rows = [ROWS[0][:5] + ("d" * (DESCRIPTION_MAX_LENGTH + 1),), *ROWS[1:]]
    response = upload(bnce, fill(template(bnce, lang="fr").content, rows=rows), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    # on its cell, listed with whatever else the upload finds (every problem comes at once)
    assert errors(response)[0] == ("max_length", "Dépenses!G2")
    assert nothing_written()


def test_the_services_refuse_a_description_over_the_limit(grant):
    bnce = Partner.objects.get(code="BNCE")
    with pytest.raises(ApplicationError) as caught:
        statement_create(grant=grant, partner=bnce, period="2016-Q3", lines=[long_line(501), long_line(10),
                                                                             long_line(600)])
    assert [(e["code"], e["attr"]) for e in caught.value.errors] == [
        ("max_length", "expenditures.0.description"), ("max_length", "expenditures.2.description")]
    statement = statement_create(grant=grant, partner=bnce, period="2016-Q3", lines=[long_line(10)])
    with pytest.raises(ApplicationError):
        statement_update(statement=statement, lines=[long_line(501)])
    statement.refresh_from_db()
    assert statement.lines[0]["description"] == "d" * 10


def test_a_draft_kept_from_before_the_limit_is_refused_at_submission_not_cut(grant):
    bnce = Partner.objects.get(code="BNCE")
    statement = statement_create(grant=grant, partner=bnce, period="2016-Q3", lines=[long_line(10)])
    QuarterlyStatement.objects.filter(pk=statement.pk).update(lines=[long_line(501)])  # as stored before
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    assert ("max_length", "expenditures.0.description") in [(e["code"], e["attr"]) for e in caught.value.errors]
    assert not Expenditure.objects.exists()


# --- a line's voucher: the expenditure's column holds 64 characters -----------------------------------

def long_voucher(length: int) -> dict:
    return {**BODY["expenditures"][0], "voucher": "V" * length}


def with_voucher(length: int) -> dict:
    """The statement with its first line's voucher of that length."""
    return {**BODY, "expenditures": [long_voucher(length), *BODY["expenditures"][1:]]}


def test_a_json_statement_line_takes_a_voucher_of_the_limit_and_no_more(grant, bnce):
    # was stored in the draft, then a 500 on PostgreSQL at submission (value too long for varchar(64))
    too_long = bnce.post(f"{API}/", with_voucher(VOUCHER_MAX_LENGTH + 1), format="json", HTTP_ACCEPT_LANGUAGE="fr")
    assert too_long.status_code == 400
    assert errors(too_long) == [("max_length", "expenditures.0.voucher")]
    assert "64" in too_long.json()["errors"][0]["detail"]
    assert nothing_written()
    at_limit = bnce.post(f"{API}/", with_voucher(VOUCHER_MAX_LENGTH), format="json")
    assert at_limit.status_code == 201
    assert at_limit.json()["expenditures"][0]["voucher"] == "V" * VOUCHER_MAX_LENGTH


def test_an_uploaded_voucher_over_the_limit_is_a_problem_on_its_cell(grant, bnce):
    rows = [ROWS[0][:4] + ("V" * (VOUCHER_MAX_LENGTH + 1),) + ROWS[0][5:], *ROWS[1:]]
    response = upload(bnce, fill(template(bnce, lang="fr").content, rows=rows), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert ("max_length", "Dépenses!F2") in errors(response)
    assert nothing_written()


def test_a_draft_voucher_kept_from_before_the_limit_is_refused_at_submission(grant):
    bnce = Partner.objects.get(code="BNCE")
    statement = statement_create(grant=grant, partner=bnce, period="2016-Q3", lines=[long_line(10)])
    too_long = with_voucher(VOUCHER_MAX_LENGTH + 1)["expenditures"]
    QuarterlyStatement.objects.filter(pk=statement.pk).update(lines=too_long)  # as stored before
    with pytest.raises(ApplicationError) as caught:
        statement_submit(statement=statement)
    assert ("max_length", "expenditures.0.voucher") in [(e["code"], e["attr"]) for e in caught.value.errors]
    assert not Expenditure.objects.exists()
