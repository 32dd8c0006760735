"""The detail sheet's fast path writes the same file as xlsxwriter's own cell by cell path.

``_DirectRowWorksheet.write_direct_row`` writes a row's XML itself, leaning on xlsxwriter's
private API. These tests write the same rows through it and through plain ``write_string`` /
``write_number`` calls into two constant_memory workbooks and compare every file inside the
two zips byte for byte, so any divergence (an upgrade of xlsxwriter included) fails here.
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from decimal import Decimal
from io import BytesIO

import pytest
import xlsxwriter

from reports.excel import _DirectRowWorksheet

LONG = "Réparation du forage de Ségou, " * 5  # over STRING_CACHE_MAX_LEN: escaped each time, never kept
# Over Excel's 32,767 UTF-16 units: truncated without splitting the emojis (2 units each).
HUGE = "é" * 20_000 + "\U0001f600" * 10_000
NASTY = [
    " leading space", "trailing space ", "\ttab", "new\nline", 'Tom & Jerry <"quoted"> \'single\'',
    "bell\x01and\x1f", "escape _x0041_ kept", "non-characters \ufffe\uffff", "Ségou", "Mopti – Sévaré",
    "<r>half", "", " ", "日本語", "\U0001f600", LONG, HUGE,
    "x" * 32_767, "y" * 32_768,
]
PARTNERS = ["AMSOPT", "ENDA", "ECPAT-LUX", "CAEB"]
LINES = [(f"{h}.{n}", f"Ligne {h}.{n} & frais <divers>") for h in range(1, 4) for n in range(1, 6)]
NUMBERS = [Decimal("1234.50"), Decimal("-0.01"), Decimal("0"), Decimal("0.00"), Decimal("655.957"),
           Decimal("1.23456789012345678"), Decimal("123456789012345678.9"), Decimal("1E+3"), Decimal("-0"),
           Decimal("0.000001234"), 0, -7, 10**17 + 1, 0.1, 1e-7]


def detail_rows(count: int) -> list[tuple[int, list]]:
    """(row, cells) in the detail's shape; cells[col] is None or (value, format name or None)."""
    rows = []
    for i in range(count):
        row = i + 1 if i < count - 3 else i + 5  # a gap of rows near the end
        xof = i % 3 == 0
        amount = (int(Decimal(655957 + i)), "xof") if xof else (NUMBERS[i % len(NUMBERS)], "eur")
        code, label = LINES[i % len(LINES)]
        description = NASTY[i % len(NASTY)] if i % 7 else ""
        rows.append((row, [
            (42_000 + i, "date"),
            (f"V-{i:06d}", None),
            (PARTNERS[i % len(PARTNERS)], None),
            (code, None),
            (label, None),
            (["BKO", "SEG", "MOP", " KYS", "GAO "][i % 5], None),
            (description, None) if description else None,
            amount,
            ("XOF" if xof else "EUR", None),
            (Decimal("655.957") if xof else Decimal("1"), "rate"),
            (NUMBERS[(i * 7) % len(NUMBERS)], "eur"),
            (["soumise", "validée"][i % 2], None),
        ]))
    rows.append((count + 10, [None, None, ("only column C", None), None]))  # cells not from column A
    rows.append((count + 11, [None, None]))  # no cell at all: no row
    return rows


def build(rows, *, fast: bool, options: dict | None = None, setup=None, fallbacks: list | None = None) -> dict:
    """The workbook of ``rows`` (a header, the rows, a total row), every file in its zip by name."""
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False, **(options or {})})
    wb.set_properties({"created": datetime(2024, 1, 2, 3, 4, 5)})
    formats = {"date": wb.add_format({"num_format": "dd/mm/yyyy", "align": "left"}),
               "eur": wb.add_format({"num_format": "#,##0.00 [$€-40C];-#,##0.00 [$€-40C]"}),
               "xof": wb.add_format({"num_format": '#,##0 "FCFA";-#,##0 "FCFA"'}),
               "rate": wb.add_format({"num_format": "0.000000"}),  # first used in the rows
               None: None}
    header = wb.add_format({"bold": True})
    ws = wb.add_worksheet("Détail", worksheet_class=_DirectRowWorksheet if fast else None)
    assert ws.constant_memory
    if setup:
        setup(wb, ws)
    for col in range(12):
        ws.write_string(0, col, f"Column {col}", header)
    if fast and fallbacks is not None:
        write_cells = ws._write_cells

        def counted(row, cells):
            fallbacks.append(row)
            write_cells(row, cells)

        ws._write_cells = counted
    last = 0
    for row, cells in rows:
        last = max(last, row)
        if fast:
            ws.write_direct_row(row, [None if c is None else (c[0], formats[c[1]]) for c in cells])
        else:
            for col, cell in enumerate(cells):
                if cell is None:
                    continue
                value, name = cell
                if isinstance(value, str):
                    ws.write_string(row, col, value, formats[name])
                else:
                    ws.write_number(row, col, value, formats[name])
    ws.write_string(last + 2, 9, "Total", header)
    ws.write_formula(last + 2, 10, f"=SUBTOTAL(9,K2:K{last + 1})", formats["eur"], Decimal("12.34"))
    ws.autofilter(0, 0, last, 11)
    ws.freeze_panes(1, 0)
    for col, width in enumerate((12, 16, 11, 7, 40, 9, 36, 15, 8, 12, 15, 11)):
        ws.set_column(col, col, width)
    wb.add_worksheet("After").write_string(0, 0, "a later sheet", formats["rate"])
    wb.close()
    with zipfile.ZipFile(BytesIO(out.getvalue())) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def assert_same(rows, **kwargs) -> list[int]:
    """Build both ways, compare, and return the rows the fast path handed to xlsxwriter."""
    fallbacks: list[int] = []
    fast = build(rows, fast=True, fallbacks=fallbacks, **kwargs)
    slow = build(rows, fast=False, **kwargs)
    assert sorted(fast) == sorted(slow)
    for name in sorted(slow):
        assert fast[name] == slow[name], f"{name} differs"
    return fallbacks


def test_direct_rows_write_the_same_file_as_write_string_and_write_number():
    rows = detail_rows(300)
    assert assert_same(rows) == []  # every row went the fast way
    sheet = build(rows, fast=True)["xl/worksheets/sheet1.xml"].decode()
    # The cases the comparison is meant to cover did reach the file.
    assert '<t xml:space="preserve"> leading space</t>' in sheet
    assert "Tom &amp; Jerry &lt;\"quoted\"&gt;" in sheet
    assert "bell_x0001_and_x001F_" in sheet and "_x005F_x0041_" in sheet and "_xFFFE__xFFFF_" in sheet
    assert "Ségou" in sheet and "<v>655.957</v>" in sheet and "<v>1234.50</v>" in sheet
    assert "y" * 32_767 + "</t>" in sheet and "y" * 32_768 not in sheet
    assert '<c r="G2"' not in sheet  # the empty description of the first row: no cell


@pytest.mark.parametrize("cache_size", [1, 3])
def test_a_full_string_cache_is_emptied_and_the_file_stays_the_same(monkeypatch, cache_size):
    monkeypatch.setattr(_DirectRowWorksheet, "STRING_CACHE_SIZE", cache_size)
    assert assert_same(detail_rows(120)) == []


def test_row_height_column_format_and_row_attributes_are_kept():
    def setup(wb, ws):
        ws.set_default_row(20)  # every <row> carries ht and customHeight
        ws.set_column(6, 6, 30, wb.add_format({"text_wrap": True}))  # the description's column format
        ws.set_row(5, 40, wb.add_format({"italic": True}))  # row attributes: xlsxwriter's own path
        ws.set_row(8, None, None, {"hidden": True})

    assert assert_same(detail_rows(60), setup=setup) == [5, 8]


def test_what_the_fast_path_does_not_cover_goes_through_xlsxwriter():
    rows = detail_rows(20)
    rows[3][1][10] = (Decimal("NaN"), "eur")
    rows[4][1][7] = (float("inf"), "eur")
    rows[5][1][10] = (Decimal("-Infinity"), "eur")
    rows[6][1][9] = (True, "rate")
    rows[7][1].extend([None] * 16_372 + [("beyond the last column", None)])
    rows[8:8] = [(rows[7][0], [("again, an already written row", None)]),
                 (rows[2][0], [("an earlier row", None)])]
    fallbacks = assert_same(rows, options={"nan_inf_to_errors": True})
    assert fallbacks == [row for row, _ in rows[3:10]]


def test_a_direct_row_is_written_out_once_and_the_string_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(_DirectRowWorksheet, "STRING_CACHE_SIZE", 8)
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    ws = wb.add_worksheet(worksheet_class=_DirectRowWorksheet)
    for row in range(1, 60):
        ws.write_direct_row(row, [(f"V-{row}", None), ("EUR", None), (LONG + str(row), None)])
        assert len(ws._string_xml) <= 8
        assert all(len(key) <= _DirectRowWorksheet.STRING_CACHE_MAX_LEN for key in ws._string_xml)
    # A written row takes no more cells, as a row xlsxwriter has flushed: no second <row r="60">.
    ws.write_direct_row(59, [None, None, None, ("late", None)])
    ws.write_string(59, 4, "later")
    wb.close()
    with zipfile.ZipFile(BytesIO(out.getvalue())) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count('<row r="60"') == 1
    assert "late" not in sheet


def test_a_string_shaped_like_a_rich_string_is_text():
    """xlsxwriter's own path writes "<r>...</r>" unescaped (its rich strings); a description typed
    so must not break the detail sheet: the fast path escapes it as any text."""
    import openpyxl

    text = "<r>a & b</r>"
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    ws = wb.add_worksheet("Détail", worksheet_class=_DirectRowWorksheet)
    ws.write_direct_row(0, [(text, None), (Decimal("1.50"), None)])
    wb.close()
    out.seek(0)
    sheet = openpyxl.load_workbook(out).active
    assert (sheet["A1"].value, sheet["B1"].value) == (text, 1.5)
