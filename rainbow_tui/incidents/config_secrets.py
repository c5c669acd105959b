"""The secrets the configuration points at, for redaction to know by value.

``config.toml`` never holds a secret; it names environment variables that do
(``[database] dsn_env``, ``[queue] dsn_env`` and any later ``*_env`` key).  Their
values are registered with :func:`rainbow_tui.incidents.redact.register_known_secrets`
once the configuration is loaded, so they are hidden wherever they turn up (a
command's output, an error message), in whatever shape they appear there.

A DSN is not a secret as a whole (the README's own DSNs carry no password): what
is registered from it is its password (userinfo, ``?password=``, or libpq's
``password=`` keyword form), and the passwords libpq would use for it from
``$PGPASSWORD`` and the password file (``$PGPASSFILE`` or ``~/.pgpass``).  Any
other named variable is registered whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from rainbow_tui.config import Config
from rainbow_tui.incidents.redact import register_known_secrets

__all__ = ["dsn_passwords", "env_names", "register_config_secrets", "secrets_named_by_config"]

# libpq's keyword/value form: host=db-1 user=monitor password='s3 cret'
_KEYWORD_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?:'((?:\\.|[^'\\])*)'|(\S+))")


def env_names(config: Config) -> list[str]:
    """Every environment variable the configuration names (keys ending in ``_env``)."""

    def walk(value: Any, key: str) -> Iterator[str]:
        if isinstance(value, dict):
            for name, item in value.items():
                yield from walk(item, name)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item, key)
        elif isinstance(value, str) and key.endswith("_env") and value:
            yield value

    return sorted(set(walk(msgspec.to_builtins(config), "")))


def _is_dsn(value: str) -> bool:
    return "://" in value or bool(re.search(r"(?:^|\s)(?:host|dbname|user)\s*=", value))


def _dsn_user(value: str) -> str:
    if "://" in value:
        try:
            return unquote(urlsplit(value).username or "")
        except ValueError:
            return ""
    match = re.search(r"(?:^|\s)user\s*=\s*'?([^'\s]+)", value)
    return match[1] if match else ""


def dsn_passwords(value: str) -> list[str]:
    """The passwords written in a DSN (URL or libpq keyword form), decoded."""
    found: list[str] = []
    if "://" in value:
        try:
            parts = urlsplit(value)
            if parts.password:
                found.append(unquote(parts.password))
            found += parse_qs(parts.query).get("password", [])
        except ValueError:  # a malformed URL (bad port): the rules still see user:pw@
            pass
    for match in _KEYWORD_PASSWORD.finditer(value):
        quoted, bare = match.groups()
        found.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare)
    return [password for password in found if password]


def _pgpass_passwords(path: Path, users: set[str]) -> list[str]:
    """Passwords of the password file's lines for these users (or any user: ``*``)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # host:port:database:username:password, with \: and \\ escaped.
        fields = [re.sub(r"\\(.)", r"\1", f) for f in re.split(r"(?<!\\):", line, maxsplit=4)]
        if len(fields) == 5 and (fields[3] in users or fields[3] == "*"):
            found.append(fields[4])
    return found


def secrets_named_by_config(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values behind the configuration's environment variables."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    users: set[str] = set()
    for name in env_names(config):
        value = env.get(name, "")
        if not value:
            continue
        if _is_dsn(value):
            values += dsn_passwords(value)
            if user := _dsn_user(value):
                users.add(user)
        else:
            values.append(value)
    if users:
        # What libpq (and asyncpg) would add to these DSNs from the environment.
        if env.get("PGPASSWORD"):
            values.append(env["PGPASSWORD"])
        passfile = env.get("PGPASSFILE") or str(Path.home() / ".pgpass")
        values += _pgpass_passwords(Path(passfile), users)
    return values


def register_config_secrets(config: Config, environ: Mapping[str, str] | None = None) -> int:
    """Register :func:`secrets_named_by_config` for redaction; returns how many are new."""
    return register_known_secrets(secrets_named_by_config(config, environ))
