"""Who a key belongs to: the responders of an OpenSSH ``authorized_keys`` file.

Each line is OpenSSH's (options, key type, base64, comment); asyncssh parses the
options and key and checks them (``from=`` and the like) at log-in.  The comment
names the responder — its first word, e.g. ``ssh-ed25519 AAAA… tanaka role=commander``
— and may give a role; ``[serve] responders`` in the configuration gives the role by
name and wins.  A ``viewer`` (by role, or the key's ``restrict`` option) gets a
read-only console.  A key not in the file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from rainbow_tui.text import tr

if TYPE_CHECKING:
    import asyncssh

ResponderRole = Literal["commander", "scribe", "responder", "viewer"]
ROLES: tuple[ResponderRole, ...] = get_args(ResponderRole)

# Where the key starts on a line with options before it (OpenSSH's key types).
_KEY_START = re.compile(
    r"(?:^|\s)((?:ssh-|ecdsa-sha2-|sk-|rsa-sha2-)\S+\s+[A-Za-z0-9+/]+={0,3}(?:\s.*)?)$"
)


class ResponderKeysError(ValueError):
    """The authorized keys file cannot be used; ``str()`` says which line and why."""


@dataclass(frozen=True, slots=True)
class Responder:
    """A person at one SSH console: the name each of their entries carries."""

    name: str
    role: ResponderRole = "responder"

    @property
    def read_only(self) -> bool:
        return self.role == "viewer"


@dataclass(frozen=True, slots=True)
class _Entry:
    key: asyncssh.SSHKey
    # The line alone, for asyncssh's check of its options at log-in.
    line_keys: asyncssh.SSHAuthorizedKeys
    responder: Responder


def _role_in(words: list[str]) -> ResponderRole | None:
    for word in words:
        name, _, value = word.partition("=")
        if name == "role":
            return next((role for role in ROLES if role == value), None)
    return None


def _entry(line: str, number: int, path: Path, configured: Mapping[str, str]) -> _Entry:
    import asyncssh

    found = _KEY_START.search(line)
    key_text = found.group(1) if found else line
    try:
        key = asyncssh.import_public_key(key_text)
        line_keys = asyncssh.import_authorized_keys(line)
    except (asyncssh.KeyImportError, ValueError) as error:
        raise ResponderKeysError(
            tr("serve.keys.unreadable_line", path=path, line=number, error=error)
        ) from None
    words = (key.get_comment() or "").split()
    if not words or "=" in words[0]:
        raise ResponderKeysError(tr("serve.keys.no_name", path=path, line=number))
    name = words[0]
    # OpenSSH's options before the key, outside quoted values: "restrict" alone.
    options = line[: found.start(1)] if found else ""
    restricted = "restrict" in re.sub(r'"[^"]*"', '""', options).replace(" ", "").split(",")
    named = configured.get(name)
    role = next((r for r in ROLES if r == named), None) or _role_in(words[1:]) or "responder"
    if restricted:
        role = "viewer"
    return _Entry(key, line_keys, Responder(name, role))


class ResponderKeys:
    """The authorized keys, each with its responder."""

    def __init__(self, entries: list[_Entry]) -> None:
        self._entries = entries

    @property
    def responders(self) -> tuple[Responder, ...]:
        return tuple(entry.responder for entry in self._entries)

    def identify(self, key: asyncssh.SSHKey, host: str, address: str) -> Responder | None:
        """The responder of ``key`` logging in from ``address``; None: refused."""
        for entry in self._entries:
            if entry.key == key and entry.line_keys.validate(key, host, address) is not None:
                return entry.responder
        return None


def load_responder_keys(path: Path, configured: Mapping[str, str] | None = None) -> ResponderKeys:
    """The responders of ``path``; ``configured`` maps a name to its role."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ResponderKeysError(
            tr("serve.keys.unreadable", path=path, error=error.strerror or error)
        ) from None
    entries = [
        _entry(line.strip(), number, path, configured or {})
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not entries:
        raise ResponderKeysError(tr("serve.keys.none", path=path))
    return ResponderKeys(entries)
