"""Secrets out of text before it is recorded, shown in a timeline or exported.

Command output and notes end up in incident files that are mailed around and pasted
into postmortems, so every string is passed through :func:`redact` before it is
stored.  Each rule keeps the *name* of what was hidden (``password=[REDACTED]``), so
the record still says what was there.

A value after ``password=`` (and the other names) ends at whitespace, a quote, ``&``,
``;`` or ``,``: that is where shell words, URL queries and connection strings end it.
A private key block whose ``END`` line is missing (an excerpt cut in the middle) is
hidden up to the end of the text; an ``END`` line without its ``BEGIN`` hides
everything before it.

:class:`LineRedactor` does the same for a stream of lines (live command output),
remembering across lines whether it is inside a private key block.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "LineRedactor", "redact"]

REDACTED = "[REDACTED]"

# Names whose value is a secret: DB_PASSWORD, api_key, X-Auth-Token, secret_key_base…
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*?"
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|master[_-]?key|private[_-]?key|credentials?)"
    r"[A-Za-z0-9_.-]*"
)

_KEY_MARKER = re.compile(r"-----(?P<edge>BEGIN|END) (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY-----")

# scheme://user:password@host — URL syntax forbids a raw "@" or "/" in the password.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)(?P<secret>[^\s@/]+)(?=@)"
)

# password=…, "api_key": "…", PASSWORD: …, --password … is left to the word rules.
_QUOTED_PAIR = re.compile(
    rf"(?P<head>(?P<q>[\"']?)\b{_SECRET_NAME}(?P=q)\s*[=:]\s*)"
    r"(?P<open>[\"'])(?P<secret>(?:(?!(?P=open)).)+)(?P=open)",
    re.IGNORECASE,
)
_BARE_PAIR = re.compile(
    rf"(?P<head>(?P<q>[\"']?)\b{_SECRET_NAME}(?P=q)\s*[=:]\s*)"
    r"(?P<secret>(?![\"'\[])[^\s\"'&;,]+)",
    re.IGNORECASE,
)

# Authorization: Bearer …, Authorization: Basic …, and a bearer token on its own.
_AUTHORIZATION_HEADER = re.compile(
    r"(?P<head>\bauthorization[\"']?\s*[=:]\s*[\"']?(?:[A-Za-z]+\s+)?)(?P<secret>[^\s\"',;]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(
    r"(?P<head>aws_secret_access_key[\"']?\s*[=:]?\s*[\"']?)(?P<secret>[A-Za-z0-9/+=]{40})",
    re.IGNORECASE,
)
_RAILS_MASTER_KEY = re.compile(
    r"(?P<head>RAILS_MASTER_KEY[\"']?\s*[=:]?\s*[\"']?)(?P<secret>[0-9a-fA-F]{32})"
)

_PREFIXED = (
    _URL_PASSWORD,
    _AWS_SECRET,
    _RAILS_MASTER_KEY,
    _QUOTED_PAIR,
    _BARE_PAIR,
    _AUTHORIZATION_HEADER,
    _BEARER,
)


def _keep_head(match: re.Match[str]) -> str:
    text = match.group(0)
    start = match.start("secret") - match.start(0)
    end = match.end("secret") - match.start(0)
    return text[:start] + REDACTED + text[end:]


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


def redact(text: str) -> str:
    """``text`` with every secret the rules know replaced by ``[REDACTED]``.

    Idempotent, and text without anything secret-looking comes back unchanged.
    """
    text = _private_keys(text)
    text = _AWS_KEY_ID.sub(REDACTED, text)
    for rule in _PREFIXED:
        text = rule.sub(_keep_head, text)
    return text


class LineRedactor:
    """Redacts a stream line by line, hiding whole private key blocks across lines."""

    _OPENING = "-----BEGIN PRIVATE KEY-----\n"

    def __init__(self) -> None:
        self._in_key = False

    def line(self, text: str) -> str:
        inside = self._in_key
        for marker in _KEY_MARKER.finditer(text):
            inside = marker["edge"] == "BEGIN"
        if self._in_key:
            # Continue the block begun on an earlier line, then drop that opening again.
            hidden = redact(self._OPENING + text)[len(self._OPENING) :].replace("\n", " ")
        else:
            hidden = redact(text).replace("\n", " ") if "PRIVATE KEY-----" in text else redact(text)
        self._in_key = inside
        return hidden
