"""The words of the workbooks and the reports: gettext messages looked up for a requested language.

A report's or a workbook's language is a parameter of the request (``lang``), not the server's
locale, and one server writes both. So each place declares its words once, as lazy gettext
messages (English msgid in the code, French in locale/fr/LC_MESSAGES/django.po), and ``Labels``
resolves them under ``translation.override(lang)``: ``TEXT["fr"]["budget"]``. Where one English
word takes different French in different places (a sheet name, a column header, the feminine of a
status), the message carries a context (``pgettext_lazy``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from types import MappingProxyType

from django.utils import translation
from django.utils.functional import Promise

LANGS = ("en", "fr")


class Labels(Mapping[str, Mapping[Hashable, str]]):
    """A table of words by language: ``labels[lang][key]``, for ``lang`` in ``LANGS``.

    Each language's table is built once, on first use, under ``translation.override(lang)``; the
    catalogues do not change while the process runs.
    """

    def __init__(self, messages: Mapping[Hashable, Promise]) -> None:
        self.messages = dict(messages)
        self._built: dict[str, Mapping[Hashable, str]] = {}

    def __getitem__(self, lang: str) -> Mapping[Hashable, str]:
        built = self._built.get(lang)
        if built is None:
            if lang not in LANGS:
                raise KeyError(lang)
            with translation.override(lang):
                built = MappingProxyType({key: str(message) for key, message in self.messages.items()})
            self._built[lang] = built
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(LANGS)

    def __len__(self) -> int:
        return len(LANGS)
