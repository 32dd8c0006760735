"""French and English words of the reports (month names, units, flags): gettext messages.

A report's language is a parameter of the request (``lang``), not the server's locale: the words
are looked up under ``translation.override(lang)`` (``grants.i18n.Labels``), the French in
locale/fr/LC_MESSAGES/django.po.
"""

from __future__ import annotations

from django.utils.translation import pgettext_lazy

from grants.i18n import LANGS, Labels

__all__ = ["LANGS", "MONTHS", "UNITS", "WORDS", "month_name", "unit_label", "word"]

MONTHS = Labels({
    1: pgettext_lazy("month", "January"),
    2: pgettext_lazy("month", "February"),
    3: pgettext_lazy("month", "March"),
    4: pgettext_lazy("month", "April"),
    5: pgettext_lazy("month", "May"),
    6: pgettext_lazy("month", "June"),
    7: pgettext_lazy("month", "July"),
    8: pgettext_lazy("month", "August"),
    9: pgettext_lazy("month", "September"),
    10: pgettext_lazy("month", "October"),
    11: pgettext_lazy("month", "November"),
    12: pgettext_lazy("month", "December"),
})

# The beneficiary units a heading may count; another unit is shown as it is.
UNITS = Labels({
    "children": pgettext_lazy("beneficiary unit", "children"),
    "girls": pgettext_lazy("beneficiary unit", "girls"),
    "boys": pgettext_lazy("beneficiary unit", "boys"),
    "women": pgettext_lazy("beneficiary unit", "women"),
    "families": pgettext_lazy("beneficiary unit", "families"),
    "people": pgettext_lazy("beneficiary unit", "people"),
})

WORDS = Labels({
    "total": pgettext_lazy("report", "Total"),
    "year": pgettext_lazy("report", "Year {year} ({first} to {last})"),
    "quarter": pgettext_lazy("report", "Q{quarter} {year}"),
    "over": pgettext_lazy("report", "over"),
    "under": pgettext_lazy("report", "under"),
    "ok": pgettext_lazy("report", "ok"),
    "ahead": pgettext_lazy("report", "ahead"),
    "behind": pgettext_lazy("report", "behind"),
    "on_track": pgettext_lazy("report", "on track"),
})


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "en"


def word(lang: str, name: str, **values) -> str:
    text = WORDS[_lang(lang)][name]
    return text.format(**values) if values else text


def month_name(lang: str, year: int, month: int) -> str:
    return f"{MONTHS[_lang(lang)][month]} {year}"


def unit_label(lang: str, unit: str) -> str:
    return UNITS[_lang(lang)].get(unit, unit)
