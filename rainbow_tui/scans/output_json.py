"""A scanner's JSON report found in what its command printed around it.

Neither report comes alone: ``bundler-audit check --update`` prints the database
update and its stats before the JSON (``JSON.generate``, no newline after it),
and ``kamal app exec`` frames the output with ``App Host: …`` or, when the command
exits non-zero as bundler-audit does on a finding, puts it inside SSHKit's error
(``docker stdout: {…}``).  So the report is the first JSON object in the text that
has the keys its format always has.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

__all__ = ["MAX_FIELD_CHARS", "field_text", "json_objects", "report_object"]

_DECODER = json.JSONDecoder()
# A report's field is a scanner's words about someone else's code: kept short.
MAX_FIELD_CHARS = 500


def field_text(value: object) -> str:
    """A report field as text: a string or number as it is (cut to length), a missing
    or nested value as nothing."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)[:MAX_FIELD_CHARS]


def json_objects(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every JSON object that starts somewhere in ``text`` and decodes whole, with
    where it starts; an object inside one already found is not given again."""
    index = text.find("{")
    while index >= 0:
        try:
            value, end = _DECODER.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        if isinstance(value, dict):
            yield index, value
            index = text.find("{", end)
        else:
            index = text.find("{", index + 1)


def report_object(text: str, keys: Collection[str]) -> dict[str, Any] | None:
    """The first JSON object in ``text`` that has every one of ``keys``."""
    for _start, value in json_objects(text):
        if all(key in value for key in keys):
            return value
    return None
