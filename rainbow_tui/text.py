"""The text layer: every sentence the console says, by key, in Japanese or English.

The core returns keys and values (a ``Phrase``); the view turns them into words
with ``tr`` in the language chosen at start.  The words live in gettext catalogues
(``rainbow_tui/locale/<lang>/LC_MESSAGES/rainbow_tui.mo``, compiled from the ``.po``
beside them by ``make catalogue``): the message id is the key, never the English
sentence, so an English wording can change without touching the Japanese side.

A sentence about a number ("1 row" / "2 rows") is a plural entry: ``trn`` or
``Phrase.plural`` look it up with ``ngettext``, the catalogue's ``Plural-Forms``
picking the form (English two, Japanese one).  Its ``msgid_plural`` is the key
again, as the key is no English sentence to put in the plural.

The language is chosen once per process: ``--lang`` on the command line, else
``RAINBOW_TUI_LANG``, else the locale (``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``
starting with ``ja``), else English.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

import msgspec
from rich.cells import cell_len

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Language",
    "LanguageCode",
    "Phrase",
    "cell_columns",
    "choose_language",
    "current_language",
    "language",
    "ljust_cells",
    "set_language",
    "tr",
    "trn",
]

DOMAIN = "rainbow_tui"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LanguageCode = Literal["ja", "en"]
LANGUAGES: tuple[LanguageCode, ...] = ("ja", "en")
DEFAULT_LANGUAGE: LanguageCode = "en"
LANGUAGE_ENV = "RAINBOW_TUI_LANG"
# Where the choice came from: a postmortem stays bilingual unless a person asked
# for one language (flag or environment), not merely because of the locale.
ChoiceSource = Literal["flag", "env", "locale", "default"]


def N_(key: str) -> str:
    """Marks ``key`` as a catalogue key where it is stored, not looked up at once
    (a table of keys by level, say), so extraction finds it."""
    return key


class Language(msgspec.Struct, frozen=True):
    """One language's catalogue (a struct, not a dataclass: made at start-up, where a
    dataclass costs half a millisecond to build; one per language, so equal means same)."""

    code: LanguageCode
    catalogue: gettext.NullTranslations

    def tr(self, key: str, /, **values: object) -> str:
        """The sentence of ``key`` with its named placeholders filled in.

        A key missing from the catalogue shows as the key itself (the completeness
        test keeps that from shipping), never as a crash in front of an operator."""
        template = self.catalogue.gettext(key)
        return template.format(**values) if values else template

    def trn(self, key: str, count: int, /, **values: object) -> str:
        """The form of plural entry ``key`` for ``count`` with its placeholders filled.

        ``count`` fills ``{count}`` unless ``values`` names it otherwise, so the usual
        "{count} rows" needs no repetition; a sentence whose number has another name
        ({rows}, {hosts}) passes it under that name as well."""
        template = self.catalogue.ngettext(key, key, count)
        return template.format(**{"count": count, **values})


@cache
def language(code: LanguageCode) -> Language:
    """The language ``code`` with its compiled catalogue (loaded once)."""
    catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
    return Language(code, catalogue)


_current: list[Language] = []


def current_language() -> Language:
    if not _current:
        _current.append(language(choose_language()[0]))
    return _current[0]


def set_language(code: LanguageCode) -> Language:
    """Choose the language every later ``tr`` speaks."""
    chosen = language(code)
    _current[:] = [chosen]
    return chosen


def tr(key: str, /, **values: object) -> str:
    """``key`` in the current language, its placeholders filled with ``values``."""
    return current_language().tr(key, **values)


def trn(key: str, count: int, /, **values: object) -> str:
    """Plural entry ``key`` in the current language, in its form for ``count``."""
    return current_language().trn(key, count, **values)


def _as_language(value: str | None) -> LanguageCode | None:
    if not value:
        return None
    lowered = value.strip().lower()
    for code in LANGUAGES:
        if lowered == code or lowered.startswith((f"{code}_", f"{code}-", f"{code}.")):
            return code
    return None


def choose_language(
    flag: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[LanguageCode, ChoiceSource]:
    """The language to speak and where that choice came from: the flag, else
    ``RAINBOW_TUI_LANG``, else the locale, else English."""
    env = os.environ if environ is None else environ
    chosen = _as_language(flag)
    if chosen is not None:
        return chosen, "flag"
    chosen = _as_language(env.get(LANGUAGE_ENV))
    if chosen is not None:
        return chosen, "env"
    # The first locale variable that is set decides, as the C library reads them.
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return ("ja" if value.lower().startswith("ja") else DEFAULT_LANGUAGE), "locale"
    return DEFAULT_LANGUAGE, "default"


class Phrase:
    """A sentence not yet put into words: its catalogue key and typed values.

    The core builds phrases; ``text()`` says them in the current language (or in
    ``language``), so the same finding reads in Japanese or English.  A value may
    be a phrase itself (a window such as "hour" inside "failed in the last hour").
    A phrase made by ``plural`` carries the number that picks its form.
    """

    __slots__ = ("count", "key", "values")

    def __init__(self, key: str, /, **values: object) -> None:
        self.key = key
        self.values: tuple[tuple[str, object], ...] = tuple(values.items())
        self.count: int | None = None

    @classmethod
    def plural(cls, key: str, count: int, /, **values: object) -> Phrase:
        """Plural entry ``key`` in its form for ``count`` (which fills ``{count}``
        unless ``values`` names it, as ``trn``)."""
        phrase = cls(key, **{"count": count, **values})
        phrase.count = count
        return phrase

    def text(self, language: Language | None = None) -> str:
        speaker = language or current_language()
        values = {
            name: value.text(speaker) if isinstance(value, Phrase) else value
            for name, value in self.values
        }
        if self.count is not None:
            return speaker.trn(self.key, self.count, **values)
        return speaker.tr(self.key, **values)

    @classmethod
    def verbatim(cls, text: str) -> Phrase:
        """Text that is already words (a server's error message, a version)."""
        return cls(N_("text.verbatim"), text=text)

    @property
    def empty(self) -> bool:
        return self.key == "text.verbatim" and not dict(self.values).get("text")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Phrase)
            and (self.key, self.count, self.values) == (other.key, other.count, other.values)
        )

    def __hash__(self) -> int:
        return hash((self.key, self.count, self.values))

    def __repr__(self) -> str:
        if self.count is not None:
            return f"Phrase.plural({self.key!r}, {self.count!r}, {dict(self.values)!r})"
        return f"Phrase({self.key!r}, {dict(self.values)!r})"


def ljust_cells(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (a kanji takes two)."""
    return text + " " * (width - cell_len(text)) if cell_len(text) < width else text


def cell_columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as lines of aligned columns, two spaces apart, each column as wide
    as its widest cell in terminal cells; the last column is left free (no padding)."""
    if not rows:
        return []
    padded = len(rows[0]) - 1
    widths = [max(cell_len(row[i]) for row in rows) for i in range(padded)]
    return ["  ".join([*(ljust_cells(row[i], widths[i]) for i in range(padded)),
                       *row[padded:]]).rstrip()
            for row in rows]
