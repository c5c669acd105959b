"""What ``kamal app containers`` prints, read back: the app versions a rollback can use.

Kamal runs ``docker container ls --all`` on every host and role and prints each table
after an ``App Host: …`` line, between SSHKit's ``INFO`` lines.  Docker aligns the
columns under their headings, so a row is cut where the heading's columns start
(values such as ``2 hours ago`` contain spaces).  The version is the image tag
(``registry/service:<version>``), or the end of the container name.  Docker lists the
newest container first; so does :func:`parse_app_containers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "NOTABLE",
    "AppVersion",
    "KamalVerdict",
    "judge_kamal_output",
    "parse_app_containers",
    "rollback_choices",
]

_COLUMNS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
_HOST = re.compile(r"^App Host:\s*(?P<host>\S+)")
_REPLACED = re.compile(r"_replaced_[0-9a-f]+$")
_CONTAINER_ID = re.compile(r"^[0-9a-f]{12,64}$")


@dataclass(frozen=True)
class AppVersion:
    version: str
    running: bool
    created: str  # as docker says it: "3 days ago"
    hosts: tuple[str, ...]


def _heading(line: str) -> dict[str, int] | None:
    if not line.startswith("CONTAINER ID"):
        return None
    starts = {name: line.find(name) for name in _COLUMNS}
    if any(start < 0 for start in starts.values()):
        return None
    return starts


def _cut(line: str, starts: dict[str, int]) -> dict[str, str]:
    ordered = sorted(starts.items(), key=lambda item: item[1])
    cells: dict[str, str] = {}
    for index, (name, start) in enumerate(ordered):
        end = ordered[index + 1][1] if index + 1 < len(ordered) else len(line)
        cells[name] = line[start:end].strip()
    return cells


def _version(image: str, name: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        if tag and tag != "latest":
            return tag
    name = _REPLACED.sub("", name)
    return name.rsplit("-", 1)[-1] if "-" in name else ""


def parse_app_containers(output: str) -> list[AppVersion]:
    """Every app version in the output, newest first, whether any container runs it."""
    found: dict[str, AppVersion] = {}
    host = ""
    starts: dict[str, int] | None = None
    for line in output.splitlines():
        if match := _HOST.match(line):
            host, starts = match["host"], None
            continue
        heading = _heading(line)
        if heading is not None:
            starts = heading
            continue
        if starts is None or not line.strip():
            continue
        cells = _cut(line, starts)
        if not _CONTAINER_ID.match(cells["CONTAINER ID"]):
            starts = None  # the table ended (an INFO line, say)
            continue
        version = _version(cells["IMAGE"], cells["NAMES"])
        if not version:
            continue
        status = cells["STATUS"]
        running = status.startswith(("Up", "Restarting"))
        known = found.get(version)
        if known is None:
            found[version] = AppVersion(version, running, cells["CREATED"], (host,) if host else ())
        else:
            hosts = known.hosts + ((host,) if host and host not in known.hosts else ())
            found[version] = AppVersion(version, known.running or running, known.created, hosts)
    return list(found.values())


def rollback_choices(versions: list[AppVersion]) -> list[AppVersion]:
    """Versions to offer for a rollback: those not running, newest first, then the rest."""
    return [v for v in versions if not v.running] + [v for v in versions if v.running]


# -- judging a command by what it did ---------------------------------------------------

# Lines worth keeping from any kamal output, however long, to judge it afterwards.
NOTABLE = re.compile(
    r"is not available as a container|Deploy lock already in place|Deploy lock found"
    r"|^Locked by: |^Message: |Secret '[^']*' not found|interactive login from a non TTY"
    r"|connection to server .* failed|could not open input file|Configuration file not found"
)
_MISSING_VERSION = re.compile(r"The app version '(?P<version>[^']*)' is not available")
_SECRET = re.compile(r"(?P<secret>Secret '[^']*' not found[^\n]*)")


@dataclass(frozen=True)
class KamalVerdict:
    """What a kamal command did, read from its output: Kamal exits 0 on some failures."""

    failed: bool
    detail: str = ""


def judge_kamal_output(notable: list[str]) -> KamalVerdict:
    """Failures the exit status hides, and a clear word on the usual causes of the rest.

    * cli/main.rb#rollback: a version with no container is a message and exit 0.
    * cli/base.rb#raise_if_locked: "Deploy lock found" while a lock is held.
    * secrets.rb#[]: a secret ``.kamal/secrets`` does not resolve on this machine.
    * cli/accessory.rb#exec without ``--reuse``: a fresh container, no server in it.
    """
    text = "\n".join(notable)
    if match := _MISSING_VERSION.search(text):
        return KamalVerdict(True, f"nothing was rolled back: version {match['version']} is not "
                                  "available as a container (Kamal exits 0 here); pick one "
                                  "`kamal app containers` lists")
    if "Deploy lock found" in text or "Deploy lock already in place" in text:
        holder = next((line for line in notable if line.startswith("Locked by: ")), "")
        message = next((line for line in notable if line.startswith("Message: ")), "")
        who = "; ".join(part for part in (holder, message) if part)
        return KamalVerdict(True, "refused: the deploy lock is held"
                                  + (f" ({who})" if who else "")
                                  + "; see `kamal lock status`, release it only if it is stale")
    if match := _SECRET.search(text):
        return KamalVerdict(True, f".kamal/secrets could not be resolved on this machine: "
                                  f"{match['secret']}")
    if "interactive login from a non TTY" in text:
        return KamalVerdict(True, "the registry login got no password: KAMAL_REGISTRY_PASSWORD "
                                  "in .kamal/secrets resolved to nothing on this machine")
    if "connection to server" in text and "failed" in text:
        return KamalVerdict(True, "the client reached no database server: without --reuse, "
                                  "accessory exec runs a new container with no server in it")
    if "Configuration file not found" in text:
        return KamalVerdict(True, next(line.strip() for line in notable
                                       if "Configuration file not found" in line))
    return KamalVerdict(False)
