"""The server's own key: generated once, kept, and its fingerprint told.

A responder's ``known_hosts`` remembers it; a new key at every start would teach
them to accept whatever answers.  Written 0600 in a 0700 directory, created
exclusively so two servers starting at once do not write over each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncssh

HOST_KEY_NAME = "serve_host_ed25519_key"


def load_or_create_host_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    """The key at ``path`` (made there first if there is none); True when made now."""
    import asyncssh

    if path.exists():
        return asyncssh.read_private_key(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="rainbow-tui serve")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return asyncssh.read_private_key(path), False  # the other server's key wins
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.export_private_key())
        out.flush()
        os.fsync(out.fileno())
    return key, True


def fingerprint(key: asyncssh.SSHKey) -> str:
    """As ``ssh`` shows it when it meets the server: ``ED25519 SHA256:…``."""
    algorithm = key.get_algorithm().removeprefix("ssh-").upper()
    return f"{algorithm} {key.get_fingerprint('sha256')}"
