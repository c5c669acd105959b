"""The English catalogue's sentences, and a finder of them in a Japanese screen or output:
what "entirely Japanese" is checked against."""

from __future__ import annotations

import re
import string

from babel.messages.catalog import Catalog

from tools.catalogue import read_catalogue


def catalogue_forms(catalogue: Catalog) -> dict[str, tuple[str, ...]]:
    """Each entry's sentences by key: one, or a plural entry's forms in order."""
    return {
        str(message.id[0] if message.pluralizable else message.id): (
            tuple(str(form) for form in message.string)
            if isinstance(message.string, (list, tuple))
            else (str(message.string),)
        )
        for message in catalogue
        if message.id and not message.fuzzy
    }


def catalogue_messages(catalogue: Catalog) -> dict[str, str]:
    """Each entry's sentence by key: a plural entry's last ("many") form, or "" while
    any of its forms is untranslated, so a missing form counts as a missing key."""
    forms = catalogue_forms(catalogue)
    return {key: said[-1] if all(said) else "" for key, said in forms.items()}


# Words of the operated system a Japanese operator reads in English as well.
OPERATED_SYSTEM_WORDS = {"PostgreSQL", "Solid Queue", "SSH", "Puma", "Kamal", "GRANT"}


def english_sentences() -> dict[str, list[str]]:
    """Each translated entry's English fixed text, by key: the literal parts of its
    template that carry a word and that the Japanese side does not share."""
    english = catalogue_forms(read_catalogue("en"))
    japanese = catalogue_messages(read_catalogue("ja"))
    found: dict[str, list[str]] = {}
    for key, forms in english.items():
        if forms == (japanese[key],):
            continue  # the same in both: a name or a term of the operated system
        # Every form's words: "1 row" must not leak any more than "2 rows".
        parts = [literal.strip(" ,;:()·\n…")
                 for text in forms for literal, *_ in string.Formatter().parse(text)]
        words = [
            part for part in parts
            if re.search(r"[A-Za-z]{3}", part)
            and part not in japanese[key]
            and part not in OPERATED_SYSTEM_WORDS
        ]
        if words:
            found[key] = list(dict.fromkeys(words))
    return found


def english_left(output: str) -> dict[str, str]:
    """The catalogue's English sentences found in ``output``, by key."""
    leaks: dict[str, str] = {}
    for key, parts in english_sentences().items():
        for part in parts:
            # Whole words only: "queue" inside a database's name is a name.
            if re.search(rf"(?<![\w-]){re.escape(part)}(?![\w-])", output):
                leaks[key] = part
    return leaks


