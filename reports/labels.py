"""French and English words of the reports and the workbook, in one place.

Kept as plain tables rather than gettext catalogues: a report's language is a parameter of the
request (``lang``), not the server's locale, and the donor's workbook needs both on one server.
"""

from __future__ import annotations

LANGS = ("en", "fr")

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"],
}

UNITS = {
    "fr": {"children": "enfants", "girls": "filles", "boys": "garçons", "women": "femmes",
           "families": "familles", "people": "personnes"},
}

WORDS = {
    "en": {
        "total": "Total",
        "year": "Year {year} ({first} to {last})",
        "quarter": "Q{quarter} {year}",
        "over": "over", "under": "under", "ok": "ok",
        "ahead": "ahead", "behind": "behind", "on_track": "on track",
    },
    "fr": {
        "total": "Total",
        "year": "Année {year} ({first} à {last})",
        "quarter": "T{quarter} {year}",
        "over": "dépassement", "under": "sous-exécution", "ok": "ok",
        "ahead": "en avance", "behind": "en retard", "on_track": "dans les temps",
    },
}


def word(lang: str, name: str, **values) -> str:
    text = WORDS.get(lang, WORDS["en"])[name]
    return text.format(**values) if values else text


def month_name(lang: str, year: int, month: int) -> str:
    return f"{MONTHS.get(lang, MONTHS['en'])[month - 1]} {year}"


def unit_label(lang: str, unit: str) -> str:
    return UNITS.get(lang, {}).get(unit, unit)
