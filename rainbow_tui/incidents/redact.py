"""Secrets out of text before it is recorded, shown in a timeline, exported or saved.

Command output, notes and log lines end up in incident files and saved logs that are
mailed around and pasted into postmortems, so every string is passed through
:func:`redact` before it is written.  What counts as a secret is the rule set of
:mod:`rainbow_tui.incidents.secret_rules` (detect-secrets' detectors plus this
stack's own kinds and contexts), plus the **known secrets** the configuration
points at (the DSNs' passwords), registered once at start with
:func:`register_known_secrets`.  Each rule hides only the value, so the record
still says what was there (``password=[REDACTED]``).

A private key block whose ``END`` line is missing (an excerpt cut in the middle) is
hidden up to the end of the text; an ``END`` line without its ``BEGIN`` hides
everything before it.

:class:`LineRedactor` does the same for a stream of lines (live command output, a
saved log), remembering across lines whether it is inside a private key block and
which contexts (key material, master key, PagerDuty) the last lines left open.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

from rainbow_tui.incidents.secret_rules import (
    Context,
    context_material,
    contexts_marked,
    key_body_lines,
    library_spans,
    line_spans,
    load_rules,
    own_spans,
    url_password_spans,
)

__all__ = [
    "MIN_KNOWN_SECRET_LENGTH",
    "REDACTED",
    "LineRedactor",
    "forget_known_secrets",
    "known_secret_count",
    "redact",
    "register_known_secrets",
]

REDACTED = "[REDACTED]"

# A shorter value would blank ordinary words wherever it occurs; the rules still
# catch it where it stands as a password (password=…, user:…@host).
MIN_KNOWN_SECRET_LENGTH = 4

_KEY_MARKER = re.compile(r"-----(?P<edge>BEGIN|END) (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY-----")
_KEY_END = re.compile(r"END [A-Z0-9 ]*PRIVATE KEY", re.IGNORECASE)

# Whatever imports redaction is about to record or write something: load the rule
# set with the module (the console's first frame does not import it), so the first
# record is not held up by it.
load_rules()

# -- known secrets ---------------------------------------------------------------------

_known_lock = threading.Lock()
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None


def register_known_secrets(values: Iterable[str]) -> int:
    """Hide these exact values wherever they appear from now on; returns how many are new.

    Each value is also hidden in its URL-encoded form (as it stands in a DSN).  Empty
    and very short values (below :data:`MIN_KNOWN_SECRET_LENGTH`) are skipped.
    """
    global _known_pattern
    with _known_lock:
        before = len(_known)
        for value in values:
            for form in {value, quote(value, safe="")}:
                if len(form) >= MIN_KNOWN_SECRET_LENGTH and form != REDACTED:
                    _known.add(form)
        if len(_known) != before:
            # Longest first, so a secret containing another is hidden whole.
            ordered = sorted(_known, key=lambda s: (-len(s), s))
            _known_pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return len(_known) - before


def forget_known_secrets() -> None:
    """Drop every registered value (a fresh start, as for a new configuration)."""
    global _known_pattern
    with _known_lock:
        _known.clear()
        _known_pattern = None


def known_secret_count() -> int:
    return len(_known)


# -- redaction -------------------------------------------------------------------------


def _private_keys(text: str) -> str:
    """Hide the body of every private key block, paired or cut off by an excerpt."""
    if "PRIVATE KEY-----" not in text:
        return text
    out: list[str] = []
    done = 0  # text[:done] is settled
    begin: re.Match[str] | None = None
    for marker in _KEY_MARKER.finditer(text):
        if marker["edge"] == "BEGIN":
            if begin is None:
                begin = marker
            continue
        if begin is not None:  # a block: keep its frame, hide its body
            out += [text[done : begin.end()], "\n", REDACTED, "\n", marker[0]]
        else:  # an END whose BEGIN was cut off: hide what precedes it
            out += [REDACTED, "\n", marker[0]]
        done = marker.end()
        begin = None
    if begin is not None:  # a BEGIN whose END was cut off: hide the rest
        out += [text[done : begin.end()], "\n", REDACTED]
    else:
        out.append(text[done:])
    return "".join(out)


def _context_spans(
    text: str, open_contexts: frozenset[Context]
) -> tuple[list[tuple[int, int]], frozenset[Context]]:
    """Material hidden by the contexts its lines open (see secret_rules), and the
    contexts still open after the last line."""
    spans: list[tuple[int, int]] = []
    if not open_contexts and not contexts_marked(text):
        return spans, open_contexts
    still_open = set(open_contexts)
    for offset, line in line_spans(text):
        marked = contexts_marked(line)
        following = set(marked)
        for context in still_open | marked:
            material = context_material(line, context)
            spans += [(offset + start, offset + end) for start, end in material]
            if material:
                following.add(context)
        if _KEY_END.search(line):
            following.discard("key")  # the block is over
        still_open = following
    return spans, frozenset(still_open)


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching spans replaced by one mark."""
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    done = 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        out += [text[done:start], REDACTED]
        done = end
        start, end = next_start, next_end
    out += [text[done:start], REDACTED, text[end:]]
    return "".join(out)


def _redact(text: str, open_contexts: frozenset[Context]) -> tuple[str, frozenset[Context]]:
    text = _private_keys(text)
    # Known values and URL passwords first: what they hide cannot then be read as
    # part of something else (a user named "masterkey" as a name: value pair).
    spans = list(url_password_spans(text))
    pattern = _known_pattern
    if pattern is not None:
        spans += [match.span() for match in pattern.finditer(text)]
    text = _apply(text, spans)
    spans = [*own_spans(text), *key_body_lines(text)]
    found, still_open = _context_spans(text, open_contexts)
    text = _apply(text, spans + found)
    # The library's patterns last: where one of ours already hid the value and kept
    # its name (hooks.slack.com/services/[REDACTED]), theirs no longer matches whole.
    return _apply(text, list(library_spans(text))), still_open


def redact(text: str, context: str = "") -> str:
    """``text`` with every secret the rules know replaced by ``[REDACTED]``.

    ``context`` is what the text belongs to, when that is kept apart (the command
    of an output excerpt, the title of pinned evidence): the contexts it names
    (``cat config/master.key``, "秘密鍵") are open for the text's first lines.
    Idempotent, and text without anything secret-looking comes back unchanged.
    """
    opened = frozenset(contexts_marked(context)) if context else frozenset()
    return _redact(text, opened)[0]


class LineRedactor:
    """Redacts a stream line by line, hiding whole private key blocks across lines.

    ``context`` is what the stream is the output of (the command line, say ``cat
    config/master.key``): the contexts it names are open for the first lines.
    """

    _OPENING = "-----BEGIN PRIVATE KEY-----\n"

    def __init__(self, context: str = "") -> None:
        self._in_key = False
        self._open: frozenset[Context] = frozenset(contexts_marked(context))

    def line(self, text: str) -> str:
        inside = self._in_key
        for marker in _KEY_MARKER.finditer(text):
            inside = marker["edge"] == "BEGIN"
        if self._in_key:
            # Continue the block begun on an earlier line, then drop that opening again.
            hidden, self._open = _redact(self._OPENING + text, self._open)
            hidden = hidden[len(self._OPENING) :].replace("\n", " ")
        else:
            hidden, self._open = _redact(text, self._open)
            if "PRIVATE KEY-----" in text:
                hidden = hidden.replace("\n", " ")
        self._in_key = inside
        return hidden
