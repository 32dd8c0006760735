"""The donor's workbook read back with openpyxl: every figure equals the JSON report's for the same
parameters, totals are formulas carrying their value, French and English."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest

from reports.excel import SHEETS, variance_workbook, workbook_content, workbook_filename, workbook_write
from reports.selectors import budget_version_for, report_as_of
from reports.variance import variance
from tests.reports.conftest import inputs_for
from tests.reports.test_footing import spend_on_seed
from tests.test_translations import AWAITING_FRENCH

D = Decimal
AS_OF = date(2020, 3, 15)
VARIANCE_COLUMNS = ("key", "label", "budget", "planned_to_date", "actual", "variance", "variance_pct",
                    "use_pct", "variance_to_date")
FLAG_WORDS = {"en": {"over": "over", "under": "under", "ok": "within tolerance"},
              "fr": {"over": "dépassement", "under": "sous-exécution", "ok": "dans la tolérance"}}
if ("reports.excel.TEXT", "flag.ok") in AWAITING_FRENCH:  # until the catalogue has its French
    FLAG_WORDS["fr"]["ok"] = FLAG_WORDS["en"]["ok"]


def money(value) -> Decimal:
    """A cell's number as the report's 2-decimal amount."""
    return D(str(value)).quantize(D("0.01"))


def percent(value) -> Decimal | None:
    """A percentage cell (a fraction) as the report's 2-decimal percentage; None when empty."""
    if value in (None, ""):
        return None
    return (D(str(value)) * 100).quantize(D("0.01"))


def workbook_for(grant, lang: str, as_of: date = AS_OF, partner=None):
    filename, handle = variance_workbook(grant=grant, as_of=report_as_of(grant, as_of),
                                         version=budget_version_for(grant=grant), partner=partner, lang=lang)
    data = handle.read()
    handle.close()
    return filename, openpyxl.load_workbook(BytesIO(data), data_only=True), openpyxl.load_workbook(BytesIO(data))


def table(ws, first_row: int = 5) -> dict[str, tuple]:
    """Rows of a variance sheet by key (column A), from the first data row to the total."""
    rows = {}
    for values in ws.iter_rows(min_row=first_row, max_col=10, values_only=True):
        if values[0] is None and values[1] is None:
            break
        key = "total" if values[1] == "Total" and values[0] in ("", None) else str(values[0])
        rows[key] = values
    return rows


def as_report(values: tuple) -> tuple:
    return (str(values[0]) if values[0] not in (None, "") else "total", values[1], money(values[2]),
            money(values[3]), money(values[4]), money(values[5]), percent(values[6]), percent(values[7]),
            money(values[8]))


def from_json(row: dict, key: str | None = None) -> tuple:
    return (key or row["key"], row["label"], D(row["budget"]), D(row["planned_to_date"]), D(row["actual"]),
            D(row["variance"]), None if row["variance_pct"] is None else D(row["variance_pct"]),
            None if row["use_pct"] is None else D(row["use_pct"]), D(row["variance_to_date"]))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_variance_figure_equals_the_json_report(small, finance, lang):
    # given the JSON reports for the same parameters
    base = f"/api/v1/grants/{small.grant.code}/reports"
    query = f"as_of={AS_OF.isoformat()}&lang={lang}"
    # when
    filename, wb, _ = workbook_for(small.grant, lang)
    # then
    assert filename == f"variance_G-SMALL_2020-03-15_{lang}.xlsx"
    names = SHEETS[lang]
    assert wb.sheetnames == [names[k] for k in ("summary", "heading_line", "partner", "location", "quarter",
                                                  "burn", "fx", "detail", "about")]
    for sheet, by in (("partner", "partner"), ("location", "location"), ("quarter", "quarter")):
        report = finance.get(f"{base}/variance/?by={by}&{query}").json()
        rows = table(wb[names[sheet]])
        assert set(rows) == {r["key"] for r in report["rows"]} | {"total"}, sheet
        for row in report["rows"]:
            assert as_report(rows[row["key"]]) == from_json(row), (sheet, row["key"])
            assert rows[row["key"]][9] == FLAG_WORDS[lang][row["flag"]]
        assert as_report(rows["total"]) == from_json(report["total"], "total")

    # headings carry their subtotals, their lines follow them
    report = finance.get(f"{base}/variance/?by=heading,line&{query}").json()
    sheet_rows = list(wb[names["heading_line"]].iter_rows(min_row=5, max_col=10, values_only=True))
    expected = []
    for heading in report["rows"]:
        expected.append(from_json(heading))
        expected.extend(from_json(line) for line in heading["children"])
    expected.append(from_json(report["total"], "total"))
    assert [as_report(v) for v in sheet_rows[:len(expected)]] == expected


def test_totals_and_subtotals_are_formulas(small):
    # when
    _, _, formulas = workbook_for(small.grant, "en")
    ws = formulas[SHEETS["en"]["heading_line"]]
    # then: heading 1 (row 5) sums its two lines (rows 6-7); the total sums every line, once
    assert ws["C5"].value == "=SUBTOTAL(9,C6:C7)"
    assert ws["F6"].value == "=C6-E6"
    assert ws["G6"].value == '=IF(C6=0,"",F6/C6)'
    total_row = next(r for r in range(5, 20) if ws[f"B{r}"].value == "Total")
    assert ws[f"C{total_row}"].value == f"=SUBTOTAL(9,C5:C{total_row - 1})"
    assert ws.freeze_panes == "C5"
    assert ws.conditional_formatting  # rows beyond tolerance are coloured
    assert ws.print_title_rows == "$4:$4"
    assert ws.page_setup.orientation == "landscape"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_burn_rate_summary_and_beneficiaries_equal_the_json(small, finance, lang):
    base = f"/api/v1/grants/{small.grant.code}/reports"
    burn = finance.get(f"{base}/burn-rate/?as_of=2020-03-15").json()
    costs = finance.get(f"{base}/cost-per-beneficiary/?as_of=2020-03-15&lang={lang}").json()
    # when
    _, wb, _ = workbook_for(small.grant, lang)
    # then: the burn-rate sheet, month by month
    ws = wb[SHEETS[lang]["burn"]]
    months = [r for r in ws.iter_rows(min_row=5, max_row=4 + len(burn["months"]), max_col=6, values_only=True)]
    assert [(m[0], money(m[2]), money(m[3]), money(m[4]), money(m[5])) for m in months] == [
        (m["month"], D(m["actual"]), D(m["planned"]), D(m["cumulative_actual"]), D(m["cumulative_planned"]))
        for m in burn["months"]
    ]
    assert months[2][1] == ("March 2020" if lang == "en" else "mars 2020")
    # the summary's key figures
    summary = {row[0]: row[1] for row in wb[SHEETS[lang]["summary"]].iter_rows(min_row=5, max_row=21, max_col=2,
                                                                                 values_only=True)}
    labels = {"en": ("Budget", "Actual", "Remaining budget", "Forecast at completion", "Runway (months)",
                     "Time elapsed %"),
              "fr": ("Budget", "Réalisé", "Budget restant", "Prévision à l'achèvement", "Autonomie (mois)",
                     "Temps écoulé %")}[lang]
    s = burn["summary"]
    assert money(summary[labels[0]]) == D(s["budget"])
    assert money(summary[labels[1]]) == D(s["cumulative_actual"])
    assert money(summary[labels[2]]) == D(s["remaining_budget"])
    assert money(summary[labels[3]]) == D(s["forecast_at_completion"])
    assert money(summary[labels[4]]) == D(s["runway_months"])
    assert percent(summary[labels[5]]) == D(s["time_elapsed_pct"])
    # cost per beneficiary, further down the summary
    cells = list(wb[SHEETS[lang]["summary"]].iter_rows(min_row=1, max_col=6, values_only=True))
    row = next(r for r in cells if r[0] == f"1 {costs['rows'][0]['label']}" and r[2] == 300)
    assert (money(row[1]), row[3], money(row[4])) == (
        D(costs["rows"][0]["actual"]), costs["rows"][0]["unit"],
        D(costs["rows"][0]["cost_per_beneficiary"]))
    assert len(wb[SHEETS[lang]["summary"]]._charts) == 2


def test_the_charts_read_the_heading_table_and_the_burn_rate_sheet(small):
    import zipfile
    _, handle = variance_workbook(grant=small.grant, as_of=AS_OF, version=budget_version_for(grant=small.grant),
                                  lang="en")
    with zipfile.ZipFile(handle) as package:
        charts = [n for n in package.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        xml = "".join(package.read(n).decode() for n in charts)
    assert "'Burn rate'!$E$5:$E$7" in xml and "Summary!$C$" in xml


def test_the_detail_lists_every_counted_expenditure(small):
    # when
    _, wb, formulas = workbook_for(small.grant, "fr")
    ws = wb[SHEETS["fr"]["detail"]]
    # then: the three expenditures counted by 2020-03-15, oldest first, and their total
    rows = list(ws.iter_rows(min_row=2, max_row=4, values_only=True))
    assert [(r[0], r[1][:2], r[2], r[3], money(r[7]), r[8], money(r[10]), r[11]) for r in rows] == [
        (datetime(2020, 1, 10), "V-", "PXOF", "1.1", D("655957.00"), "XOF", D("1000.00"), "validée"),
        (datetime(2020, 2, 1), "V-", "PEUR", "1.2", D("1200.00"), "EUR", D("1200.00"), "validée"),
        (datetime(2020, 3, 15), "V-", "PXOF", "1.1", D("655957.00"), "XOF", D("1000.00"), "soumise"),
    ]
    assert ws["A5"].value is None
    assert money(ws["K6"].value) == D("3200.00")
    assert formulas[SHEETS["fr"]["detail"]]["K6"].value == "=SUBTOTAL(9,K2:K4)"
    assert ws.auto_filter.ref == "A1:L4"
    assert ws["H2"].number_format == '#,##0 "FCFA";-#,##0 "FCFA"'
    assert ws["K2"].number_format == "#,##0.00 [$€-40C];-#,##0.00 [$€-40C]"
    assert ws["A2"].number_format == "dd/mm/yyyy"


def test_the_about_sheet_names_grant_version_and_as_of(small):
    _, wb, _ = workbook_for(small.grant, "en")
    about = {r[0]: r[1] for r in wb[SHEETS["en"]["about"]].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert about["Grant"] == "G-SMALL"
    assert about["Budget version"] == "1 (original, approved)"
    assert about["As of"] == "2020-03-15"
    assert about["Conversion method"] == "fixed parity"
    assert about["Spending counted"] == "submitted, validated"
    assert "Generated at" in about and "Definitions" in about


def test_the_fx_sheet_shows_the_reconciliation(small):
    _, wb, _ = workbook_for(small.grant, "en")
    ws = wb[SHEETS["en"]["fx"]]
    assert ws["A4"].value == "Partner"


def test_an_empty_grant_still_makes_a_workbook(db):
    from tests.reports.conftest import make_small_grant
    small = make_small_grant("G-EMPTY-XLSX", spend=False)
    _, wb, _ = workbook_for(small.grant, "en", as_of=date(2019, 6, 30))
    rows = table(wb[SHEETS["en"]["partner"]])
    assert money(rows["total"][2]) == D("100000.00") and money(rows["total"][4]) == D("0.00")


def test_the_seed_workbook_foots_like_the_json(grant):
    # given the Mali seed with a generated history
    spend_on_seed(grant, 800)
    as_of = date(2017, 6, 30)
    content = workbook_content(grant=grant, as_of=as_of, version=budget_version_for(grant=grant), lang="fr")
    report = variance(inputs_for(grant, as_of), by="location", lang="fr")
    out = BytesIO()
    # when
    workbook_write(content, out)
    wb = openpyxl.load_workbook(BytesIO(out.getvalue()), data_only=True)
    # then
    rows = table(wb[SHEETS["fr"]["location"]])
    for row in report["rows"]:
        assert money(rows[row["key"]][4]) == row["actual"]
    assert money(rows["total"][4]) == report["total"]["actual"]
    assert workbook_filename(grant.code, as_of, "fr") == "variance_ML-ESEC-2015_2017-06-30_fr.xlsx"





@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice) on the PATH")
def test_libreoffice_opens_the_workbook_and_reads_the_same_figures(small, tmp_path):
    # given the French workbook on disk
    filename, handle = variance_workbook(grant=small.grant, as_of=AS_OF, version=budget_version_for(grant=small.grant),
                                         lang="fr")
    (tmp_path / filename).write_bytes(handle.read())
    # when LibreOffice converts every sheet to CSV (a file it had to repair would not convert cleanly)
    result = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir",
         str(tmp_path / "csv"), str(tmp_path / filename)],
        capture_output=True, text=True, timeout=180,
    )
    # then
    assert result.returncode == 0, result.stderr
    partner_sheet = (tmp_path / "csv" / f"{filename[:-5]}-Par partenaire.csv").read_text(encoding="utf-8")
    total = next(line for line in partner_sheet.splitlines() if ",Total," in line).split(",")
    assert total[2:5] == ["100000", "2690.85", "3200"]
    detail = (tmp_path / "csv" / f"{filename[:-5]}-Détail des dépenses.csv").read_text(encoding="utf-8")
    # a date cell, shown in LibreOffice's own locale
    assert detail.splitlines()[1].split(",")[0] in ("01/10/2020", "10/01/2020", "2020-01-10")
