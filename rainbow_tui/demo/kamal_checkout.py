"""What Kamal keeps outside the containers: the secrets and the deploy lock.

* ``.kamal/secrets-common`` and ``.kamal/secrets[.<destination>]`` in the checkout
  Kamal runs from, dotenv files whose values come from the environment of the machine
  running ``kamal`` (lib/kamal/secrets.rb).  They are read only when a command needs a
  secret: ``app boot`` uploads the role's env file (``RAILS_MASTER_KEY``), a new
  container logs in to the registry (``KAMAL_REGISTRY_PASSWORD``), the database
  accessory's env holds ``POSTGRES_PASSWORD``.
* The deploy lock: the directory ``.kamal/lock-<service>[-<destination>]`` on the
  primary host with a base64 ``details`` file (lib/kamal/commands/lock.rb).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rainbow_tui.demo.containers import SERVICE

SECRETS_PATH = ".kamal/secrets"
REGISTRY_PASSWORD = "KAMAL_REGISTRY_PASSWORD"
MASTER_KEY = "RAILS_MASTER_KEY"
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
AUTOMATIC_DEPLOY_LOCK_MESSAGE = "Automatic deploy lock"  # cli/base.rb

# The demo's own checkout holds plain values: they open nothing outside the demo.
_DEMO_SECRETS = f"""\
# Secrets for config/deploy.yml (registry/password, env/secret, accessories/db/env/secret).
{REGISTRY_PASSWORD}=demo-registry-token
{MASTER_KEY}=00000000000000000000000000000000
{POSTGRES_PASSWORD}=demo-accessory-password
"""
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def write_demo_secrets(checkout: Path) -> None:
    """The demo checkout's ``.kamal/secrets``, unless one is there already."""
    path = checkout / SECRETS_PATH
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(_DEMO_SECRETS)


def secrets_filenames(destination: str) -> list[str]:
    """secrets.rb#secrets_filenames."""
    return [f"{SECRETS_PATH}-common",
            f"{SECRETS_PATH}{'.' + destination if destination else ''}"]


def _value(raw: str, environ: Mapping[str, str]) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    return _VARIABLE.sub(lambda m: environ.get(m[1] or m[2], ""), raw)


class SecretMissing(Exception):
    """Kamal::ConfigurationError from secrets.rb#[]."""


@dataclass
class Secrets:
    """The secrets of one destination, read as Kamal reads them."""

    checkout: Path
    destination: str = ""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def files(self) -> list[str]:
        return [name for name in secrets_filenames(self.destination)
                if (self.checkout / name).is_file()]

    def values(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in self.files():
            try:
                text = (self.checkout / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                if line.lstrip().startswith("#"):
                    continue
                match = _LINE.match(line)
                if match:
                    found[match[1]] = _value(match[2], self.environ)
        return found

    def __getitem__(self, key: str) -> str:
        values = self.values()
        if key in values:
            return values[key]
        files = self.files()
        if files:
            raise SecretMissing(f"Secret '{key}' not found in {', '.join(files)}")
        raise SecretMissing(
            f"Secret '{key}' not found, no secret files "
            f"({', '.join(secrets_filenames(self.destination))}) provided"
        )


def lock_dir(destination: str) -> str:
    return f".kamal/lock-{'-'.join([SERVICE, *([destination] if destination else [])])}"


@dataclass
class DeployLock:
    """The deploy lock of each destination, as ``lock status`` prints its details."""

    details: dict[str, str] = field(default_factory=dict)

    def status(self, destination: str) -> str | None:
        return self.details.get(destination)

    def acquire(self, destination: str, message: str, version: str,
                locked_by: str = "rainbow", at: float | None = None) -> bool:
        if destination in self.details:
            return False
        when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.details[destination] = (
            f"Locked by: {locked_by} at {stamp}\nVersion: {version}\nMessage: {message}"
        )
        return True

    def release(self, destination: str) -> bool:
        return self.details.pop(destination, None) is not None
