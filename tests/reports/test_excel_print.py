"""The donor's workbook as the donor reads and prints it: chart categories that name the headings,
no printed gridlines, a one-page summary, headers tall enough for their wrapped words, words in
the workbook's language, and a detail longer than a sheet continued on further sheets."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
import zlib
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest
from openpyxl.utils import range_boundaries

from reports import excel
from reports.excel import SHEETS, _Writer, variance_workbook, workbook_content, workbook_write
from reports.selectors import budget_version_for
from tests.reports.test_footing import spend_on_seed

D = Decimal
AS_OF = date(2020, 3, 15)


def workbook_bytes(small, lang: str) -> bytes:
    _, handle = variance_workbook(grant=small.grant, as_of=AS_OF, version=budget_version_for(grant=small.grant),
                                  lang=lang)
    with handle:
        return handle.read()


def cents(value) -> Decimal:
    return D(str(value)).quantize(D("0.01"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_heading_chart_reads_heading_names(small, lang):
    # given
    data = workbook_bytes(small, lang)
    # when: the bar chart's category range, as the file states it
    with zipfile.ZipFile(BytesIO(data)) as package:
        chart = package.read("xl/charts/chart1.xml").decode()
    categories = re.search(r"<c:cat>.*?<c:f>(.*?)</c:f>", chart, re.S).group(1)
    sheet, cells = categories.rsplit("!", 1)
    # then: the summary's cells it names hold "code name", not bare codes
    assert sheet.strip("'") == SHEETS[lang]["summary"]
    ws = openpyxl.load_workbook(BytesIO(data))[SHEETS[lang]["summary"]]
    min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
    names = [ws.cell(row, min_col).value for row in range(min_row, max_row + 1)]
    assert names == {"en": ["1 Prevention", "2 Protection"], "fr": ["1 Prévention", "2 Protection"]}[lang]


def test_no_sheet_prints_gridlines_and_the_summary_fits_one_landscape_a4_page(small):
    # given
    wb = openpyxl.load_workbook(BytesIO(workbook_bytes(small, "en")))
    # then
    for ws in wb.worksheets:
        assert not ws.print_options.gridLines, ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.paperSize in (9, "9"), ws.title
    summary = wb[SHEETS["en"]["summary"]]
    assert summary.sheet_properties.pageSetUpPr.fitToPage
    # one page wide and one tall (1 is the attribute's default, which the file leaves out), where
    # the other sheets are one page wide and as many tall as they need (0)
    assert summary.page_setup.fitToWidth in (None, 1) and summary.page_setup.fitToHeight in (None, 1)
    assert wb[SHEETS["en"]["partner"]].page_setup.fitToHeight == 0
    assert summary.sheet_view.showGridLines is False
    detail = wb[SHEETS["en"]["detail"]]
    assert detail.print_title_rows == "$1:$1"
    assert wb[SHEETS["en"]["partner"]].print_title_rows == "$4:$4"


def test_wrapped_headers_and_labels_get_rows_tall_enough(small):
    # given the French workbook, whose "Taux d'exécution" does not fit its 13-character column
    wb = openpyxl.load_workbook(BytesIO(workbook_bytes(small, "fr")))
    ws = wb[SHEETS["fr"]["partner"]]
    assert ws["H4"].value == "Taux d'exécution"
    # then the header wraps, on a row two lines tall or more
    assert ws["H4"].alignment.wrap_text
    assert ws.row_dimensions[4].height >= 2 * excel.LINE_HEIGHT
    # and the summary's burn-rate label, longer than column A, wraps on a taller row
    summary = wb[SHEETS["fr"]["summary"]]
    row = next(r for r in range(5, 22) if summary.cell(r, 1).value.startswith("Rythme"))
    assert summary.cell(row, 1).alignment.wrap_text
    assert summary.row_dimensions[row].height >= 2 * excel.LINE_HEIGHT


def test_a_french_workbook_has_no_raw_flag_or_state(small):
    # given
    wb = openpyxl.load_workbook(BytesIO(workbook_bytes(small, "fr")), data_only=True)
    # then no cell is a raw flag, and the version's state is French
    raw = []
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str) and (value.strip().lower() in {"ok", "over", "under"}
                                               or "approved" in value.lower()):
                    raw.append((ws.title, value))
    assert not raw
    about = {r[0]: r[1] for r in wb[SHEETS["fr"]["about"]].iter_rows(min_row=3, max_col=2, values_only=True)
             if r[0]}
    assert about["Version du budget"] == "1 (original, approuvée)"
    flags = {r[9] for r in wb[SHEETS["fr"]["partner"]].iter_rows(min_row=5, max_col=10, values_only=True) if r[9]}
    assert flags and flags <= {"dépassement", "sous-exécution", excel.TEXT["fr"]["flag.ok"]}


def detail_rows(wb, name: str) -> list[tuple]:
    """The detail's data rows, sheet after sheet ("name", "name (2)", ...), and each sheet's total."""
    rows, totals, number = [], [], 1
    while (title := name if number == 1 else f"{name} ({number})") in wb.sheetnames:
        ws = wb[title]
        for values in ws.iter_rows(min_row=2, max_col=12, values_only=True):
            if values[0] is None:
                break
            rows.append(values)
        totals.append(next(cents(r[10]) for r in ws.iter_rows(min_row=2, max_col=12, values_only=True)
                           if r[9] == "Total"))
        number += 1
    return rows, totals


def test_a_detail_longer_than_a_sheet_continues_on_further_sheets(small, monkeypatch):
    # given sheets of 6 rows: a header, 2 expenditures, a blank row and two total rows
    monkeypatch.setattr(excel, "DETAIL_SHEET_ROWS", 6)
    # when
    data = workbook_bytes(small, "en")
    wb = openpyxl.load_workbook(BytesIO(data), data_only=True)
    formulas = openpyxl.load_workbook(BytesIO(data))
    # then: the three counted expenditures, in order, on two sheets, before the about sheet
    name = SHEETS["en"]["detail"]
    assert wb.sheetnames[-3:] == [name, f"{name} (2)", SHEETS["en"]["about"]]
    rows, totals = detail_rows(wb, name)
    assert [(r[0], r[2], cents(r[10])) for r in rows] == [
        (datetime(2020, 1, 10), "PXOF", D("1000.00")),
        (datetime(2020, 2, 1), "PEUR", D("1200.00")),
        (datetime(2020, 3, 15), "PXOF", D("1000.00")),
    ]
    assert totals == [D("2200.00"), D("1000.00")]
    second = wb[f"{name} (2)"]
    assert second["A1"].value == "Date"  # each sheet has its header
    assert cents(second["K5"].value) == D("3200.00")  # the total of every sheet, on the last
    assert formulas[f"{name} (2)"]["K5"].value == f"='{name}'!K5+'{name} (2)'!K4"
    assert formulas[name]["K5"].value == "=SUBTOTAL(9,K2:K3)"


def test_a_long_detail_split_keeps_every_row_in_order_and_foots_to_the_cent(grant, monkeypatch):
    # given the seed with 800 expenditures, written once on one sheet
    spend_on_seed(grant, 800)
    as_of = date(2017, 6, 30)
    one_sheet = BytesIO()
    workbook_write(workbook_content(grant=grant, as_of=as_of, version=budget_version_for(grant=grant), lang="fr"),
                   one_sheet)
    whole, (whole_total,) = detail_rows(openpyxl.load_workbook(BytesIO(one_sheet.getvalue()), data_only=True),
                                        SHEETS["fr"]["detail"])
    # when the sheets hold 50 rows each (46 expenditures)
    monkeypatch.setattr(excel, "DETAIL_SHEET_ROWS", 50)
    split = BytesIO()
    workbook_write(workbook_content(grant=grant, as_of=as_of, version=budget_version_for(grant=grant), lang="fr"),
                   split)
    wb = openpyxl.load_workbook(BytesIO(split.getvalue()), data_only=True)
    rows, totals = detail_rows(wb, SHEETS["fr"]["detail"])
    # then the same rows, in the same order, and totals that add up to the whole to the cent
    assert len(whole) > 46 * 3
    assert rows == whole
    assert len(totals) == -(-len(whole) // 46)
    assert sum(totals) == whole_total == sum(cents(r[10]) for r in whole)
    last = wb[f"{SHEETS['fr']['detail']} ({len(totals)})"]
    grand = next(r for r in last.iter_rows(min_row=2, max_col=12, values_only=True)
                 if isinstance(r[9], str) and r[9].startswith("Total ("))
    assert cents(grand[10]) == whole_total


@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice) on the PATH")
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_printed_summary_is_one_page(grant, tmp_path, lang):
    # given the seed's summary (seven headings) alone: the burn-rate sheet its chart reads, hidden
    spend_on_seed(grant, 200)
    content = workbook_content(grant=grant, as_of=date(2017, 6, 30), version=budget_version_for(grant=grant),
                               lang=lang)
    path = tmp_path / "summary.xlsx"
    writer = _Writer(content, str(path))
    writer.sheet_summary()
    writer.sheet_burn()
    writer.wb.worksheets()[1].hide()
    writer.wb.close()
    # when LibreOffice prints it to PDF
    result = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=180,
    )
    # then one page, its 11-point text printed at 7 points or more: the fit's scale read from the
    # 14-point title, the largest text (LibreOffice without Calibri falls back to a wider font, so
    # it fits smaller than Excel does)
    assert result.returncode == 0, result.stderr
    pdf = (tmp_path / "summary.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
    sizes: set[float] = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            sizes.update(float(size) for size in re.findall(rb"/F\d+ ([\d.]+) Tf", zlib.decompress(stream)))
        except zlib.error:
            continue
    scale = max(sizes) / 14
    assert 11 * scale >= 7.0, sizes


def test_a_flag_is_set_apart_from_the_figure_before_it(small):
    wb = openpyxl.load_workbook(BytesIO(workbook_bytes(small, "en")))
    ws = wb[SHEETS["en"]["partner"]]
    flags = [row[9] for row in ws.iter_rows(min_row=5) if isinstance(row[9].value, str) and row[9].value]
    assert flags and all(cell.alignment.indent >= 1 for cell in flags)


@pytest.mark.parametrize(("text", "width", "lines"), [
    ("2 Protection, réhabilitation et réinsertion", 34.7, 2),  # one line in LibreOffice: not three
    ("1 Prévention", 34.7, 1),
    ("Taux d'exécution", 13, 2),
    ("MMMMMMMMMMMMMMMMMMMM", 13, 3),  # wide capitals
    ("Rythme de dépense (moyenne des 3 derniers mois complets)", 34.7, 2),
])
def test_a_wrapped_label_is_given_the_lines_it_takes(text, width, lines):
    assert excel._wrapped_lines(text, width) == lines
