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
KEYWORDS: dict[str, None] = {"tr": None, "N_": None, "Phrase": None, "pm_text": None}


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(code: str) -> Path:
    return po_path(code).with_suffix(".mo")


def used_keys() -> dict[str, str]:
    """Every key the code names, with the first file that names it."""
    found: dict[str, str] = {}
    for directory in SOURCE_DIRECTORIES:
        for filename, _line, key, _comments, _context in extract_from_dir(
            REPOSITORY / directory, keywords=KEYWORDS
        ):
            if isinstance(key, str):
                found.setdefault(key, f"{directory}/{filename}")
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


def _update(code: str, keys: dict[str, str]) -> Iterator[str]:
    catalogue = read_catalogue(code)
    for key in keys:
        if key not in catalogue:
            catalogue.add(key, "")
            yield f"{code}: new key {key} (translate it in {po_path(code)})"
    for message in list(catalogue):
        if message.id and message.id not in keys:
            catalogue.delete(message.id)
            yield f"{code}: key {message.id} no longer used, removed"
    po_path(code).write_bytes(po_text(catalogue))
    mo_path(code).write_bytes(compiled(read_catalogue(code)))


def main() -> int:
    keys = used_keys()
    for code in LANGUAGES:
        for line in _update(code, keys):
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
