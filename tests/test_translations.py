"""Every word of the donor's workbook, the reports and the statement template is a gettext message
with its French in the catalogue (locale/fr/LC_MESSAGES/django.po, compiled to django.mo)."""

from __future__ import annotations

import pytest
from django.utils.translation import override

from expenditures import workbook
from grants.i18n import LANGS, Labels
from reports import excel, labels

TABLES: dict[str, Labels] = {
    "reports.excel.SHEETS": excel.SHEETS,
    "reports.excel.TEXT": excel.TEXT,
    "reports.excel.STATUS_WORDS": excel.STATUS_WORDS,
    "reports.excel.METHOD_WORDS": excel.METHOD_WORDS,
    "reports.labels.MONTHS": labels.MONTHS,
    "reports.labels.UNITS": labels.UNITS,
    "reports.labels.WORDS": labels.WORDS,
    "expenditures.workbook.SHEETS": workbook.SHEETS,
    "expenditures.workbook.LABELS": workbook.LABELS,
}

# The words written the same in French and in English: their French cannot be told from a
# missing translation, so they are listed here, and only they may come out in English.
SAME_IN_FRENCH = {
    ("reports.excel.TEXT", "key"),  # Code
    ("reports.excel.TEXT", "budget"),  # Budget
    ("reports.excel.TEXT", "date"),  # Date
    ("reports.excel.TEXT", "description"),  # Description
    ("reports.excel.TEXT", "none"),  # -
    ("reports.labels.WORDS", "total"),  # Total
    ("reports.labels.WORDS", "ok"),  # ok
    ("expenditures.workbook.LABELS", "date"),  # Date
}

# Words new in the code whose French is not yet in the catalogue (locale/ is updated on its own,
# from the msgids and French given with the change). Only they may come out in English; once the
# catalogue has their French, the test says so and they leave this list.
AWAITING_FRENCH: set[tuple[str, str]] = set()  # words added to the code before their French (none now)


@pytest.mark.parametrize("name", TABLES)
def test_every_label_has_its_french(name):
    table = TABLES[name]
    untranslated, listed_but_translated = [], []
    for key, message in table.messages.items():
        with override("en"):
            english = str(message)
        with override("fr"):
            french = str(message)
        if (name, key) in SAME_IN_FRENCH:
            if french != english:
                listed_but_translated.append((key, english, french))
        elif (name, key) in AWAITING_FRENCH:
            if french != english:
                listed_but_translated.append((key, english, french))
        elif french == english:
            untranslated.append((key, english))
    assert not untranslated, f"{name}: no French in the catalogue for {untranslated}"
    assert not listed_but_translated, f"{name}: listed as the same in French, but {listed_but_translated}"


def test_the_same_words_list_names_real_labels():
    for name, key in SAME_IN_FRENCH | AWAITING_FRENCH:
        assert key in TABLES[name].messages, (name, key)


@pytest.mark.parametrize("name", TABLES)
def test_labels_are_looked_up_for_the_requested_language(name):
    table = TABLES[name]
    assert list(table) == list(LANGS)
    with override("fr"):  # the server's active language does not choose the words
        english = dict(table["en"])
    with override("en"):
        french = dict(table["fr"])
    for key, message in table.messages.items():
        with override("en"):
            assert english[key] == str(message)
        with override("fr"):
            assert french[key] == str(message)
    with pytest.raises(KeyError):
        table["de"]


def test_sheet_names_fit_excel():
    for table in (excel.SHEETS, workbook.SHEETS):
        for lang in LANGS:
            for sheet in table[lang].values():
                assert len(sheet) <= 31, sheet


def test_the_same_english_word_takes_its_french_from_its_place():
    # "Grant" and "Voucher": a column of the donor's workbook, a label of the partner's template.
    assert excel.TEXT["fr"]["grant"] == "Subvention"
    assert workbook.LABELS["fr"]["grant"] == "Convention"
    assert excel.TEXT["fr"]["voucher"] == "Pièce"
    assert workbook.LABELS["fr"]["voucher"] == "Pièce justificative"
    assert excel.STATUS_WORDS["fr"]["submitted"] == "soumise"
    assert excel.STATUS_WORDS["en"]["submitted"] == "submitted"
