"""``make catalogue``: the text layer's keys extracted from the code, each
language's ``.po`` brought up to date with them, and its ``.mo`` compiled.

Run as ``python -m tools.catalogue``.  Babel does the extracting, reading and
writing; this only decides the options, so that a second run changes nothing
(no dates, no source line numbers in the files) and the test can compile the
committed ``.po`` exactly as this does.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from rainbow_tui.text import DOMAIN, LANGUAGES, LOCALE_DIR

REPOSITORY = Path(__file__).resolve().parent.parent
# Where keys are looked up: the core, the widgets and the screens.
SOURCE_DIRECTORIES = ("rainbow_tui", "widgets", "screens")
# The calls whose first argument is a catalogue key (``pm_text`` is the postmortem's).
# A plural call's key is its singular and its plural both (spec ``(1, 1)``): Babel then
# yields the pair, the entry gets a ``msgid_plural`` and a form per the language's
# Plural-Forms.  ``plural`` is ``Phrase.plural`` (Babel sees the name before the
# parenthesis); no other function of that name may take a key first.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "tr": None, "N_": None, "Phrase": None, "pm_text": None,
    "trn": (1, 1), "plural": (1, 1),
}


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(code: str) -> Path:
    return po_path(code).with_suffix(".mo")


def used_keys() -> dict[str, str]:
    """Every key the code names, with the first file that names it."""
    return {key: where for key, (where, _plural) in _extracted().items()}


def plural_keys() -> set[str]:
    """The keys the code names in a plural call (``trn``, ``Phrase.plural``)."""
    return {key for key, (_where, plural) in _extracted().items() if plural}


def _extracted() -> dict[str, tuple[str, bool]]:
    """Each key the code names: the first file naming it, and whether it is plural."""
    found: dict[str, tuple[str, bool]] = {}
    for directory in SOURCE_DIRECTORIES:
        for filename, _line, message, _comments, _context in extract_from_dir(
            REPOSITORY / directory, keywords=KEYWORDS
        ):
            key = message if isinstance(message, str) else message[0] if message else None
            if isinstance(key, str):
                where, plural = found.get(key, (f"{directory}/{filename}", False))
                found[key] = (where, plural or not isinstance(message, str))
    return found


def read_catalogue(code: str) -> Catalog:
    with po_path(code).open("rb") as source:
        return read_po(source, locale=code, domain=DOMAIN)


def compiled(catalogue: Catalog) -> bytes:
    """The ``.mo`` bytes of ``catalogue``, as ``make catalogue`` writes them."""
    out = io.BytesIO()
    write_mo(out, catalogue, use_fuzzy=False)
    return out.getvalue()


def po_text(catalogue: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalogue, width=100, no_location=True, omit_header=False,
             sort_output=True, ignore_obsolete=True)
    return out.getvalue()


def _forms(catalogue: Catalog, text: str) -> tuple[str, ...]:
    """A sentence turned plural: the one it was is the last ("many") form, the
    others left to translate, so the completeness test asks for them."""
    return ("",) * (catalogue.num_plurals - 1) + (text,)


def _update(code: str, keys: dict[str, str], plurals: set[str]) -> Iterator[str]:
    catalogue = read_catalogue(code)
    for key in keys:
        message = catalogue.get(key)
        if message is None:
            if key in plurals:
                catalogue.add((key, key), _forms(catalogue, ""))
            else:
                catalogue.add(key, "")
            yield f"{code}: new key {key} (translate it in {po_path(code)})"
        elif key in plurals and not message.pluralizable:
            catalogue.delete(key)
            catalogue.add((key, key), _forms(catalogue, str(message.string)))
            if catalogue.num_plurals > 1:
                yield f"{code}: key {key} is plural now (translate its forms in {po_path(code)})"
        elif key not in plurals and isinstance(message.string, (list, tuple)):
            catalogue.delete(key)
            catalogue.add(key, str(message.string[-1]))
            yield f"{code}: key {key} is singular now, its last form kept"
    for message in list(catalogue):
        key = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        if key and key not in keys:
            catalogue.delete(key)
            yield f"{code}: key {key} no longer used, removed"
    po_path(code).write_bytes(po_text(catalogue))
    mo_path(code).write_bytes(compiled(read_catalogue(code)))


def main() -> int:
    extracted = _extracted()
    keys = {key: where for key, (where, _plural) in extracted.items()}
    plurals = {key for key, (_where, plural) in extracted.items() if plural}
    for code in LANGUAGES:
        for line in _update(code, keys, plurals):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
