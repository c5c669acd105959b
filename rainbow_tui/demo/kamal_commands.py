"""Kamal's command-line grammar, shared by the stand-in's server and its command line.

Kept free of heavy imports: ``python -m rainbow_tui.demo.kamal`` starts quickly.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from rainbow_tui.demo.containers import DB_ACCESSORY, SERVICE

HOST_ADDRESS = "127.0.0.1"


class KamalUsageError(Exception):
    pass


@dataclass
class KamalOptions:
    """Kamal's common options, picked out of argv wherever they appear."""

    follow: bool = False
    lines: int | None = None
    since: str | None = None
    grep: str | None = None
    roles: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    primary: bool = False
    reuse: bool = False
    skip_timestamps: bool = False
    positional: list[str] = field(default_factory=list)


def parse_options(argv: list[str]) -> KamalOptions:
    options = KamalOptions()
    index = 0

    def value() -> str:
        nonlocal index
        token = argv[index]
        if "=" in token and token.startswith("--"):
            return token.split("=", 1)[1]
        index += 1
        if index >= len(argv):
            raise KamalUsageError(f"No value provided for option '{token}'")
        return argv[index]

    while index < len(argv):
        token = argv[index]
        name = token.split("=", 1)[0]
        if name in ("-f", "--follow"):
            options.follow = True
        elif name in ("-n", "--lines"):
            options.lines = int(value())
        elif name in ("-s", "--since"):
            options.since = value()
        elif name in ("-g", "--grep"):
            options.grep = value()
        elif name in ("-r", "--roles"):
            options.roles += value().split(",")
        elif name in ("-h", "--hosts"):
            options.hosts += value().split(",")
        elif name in ("-p", "--primary"):
            options.primary = True
        elif name == "--reuse":
            options.reuse = True
        elif name in ("-T", "--skip-timestamps"):
            options.skip_timestamps = True
        elif name in ("-d", "--destination", "-c", "--config-file", "--version"):
            value()
        elif name in ("-v", "--verbose", "-q", "--quiet", "-i", "--interactive", "-y",
                      "--confirmed", "--skip-hooks", "-H"):
            pass
        elif token.startswith("-") and token != "-":
            raise KamalUsageError(f"Unknown switches \"{token}\"")
        else:
            options.positional.append(token)
        index += 1
    return options


def app_logs_command(options: KamalOptions, role: str = "web") -> str:
    """The pipeline Kamal 2 runs on a host to show an app container's log."""
    parts = ["docker logs"]
    if not options.skip_timestamps:
        parts.append("--timestamps")
    if options.since:
        parts.append(f"--since {shlex.quote(options.since)}")
    lines = options.lines if options.lines is not None else (
        10 if options.follow else (None if options.since else 100)
    )
    if lines is not None:
        parts.append(f"--tail {lines}")
    if options.follow:
        parts.append("--follow")
    command = (
        f"docker ps --latest --quiet --filter label=service={SERVICE} --filter label=destination= "
        f"--filter label=role={role} --filter status=running --filter status=restarting "
        f"| head -1 | xargs {' '.join(parts)} 2>&1"
    )
    if options.grep:
        command += f" | grep {shlex.quote(options.grep)}"
    return command


def accessory_logs_command(options: KamalOptions) -> str:
    parts = [f"docker logs {DB_ACCESSORY}"]
    if not options.skip_timestamps:
        parts.append("--timestamps")
    if options.since:
        parts.append(f"--since {shlex.quote(options.since)}")
    lines = options.lines if options.lines is not None else (10 if options.follow else 100)
    parts.append(f"--tail {lines}")
    if options.follow:
        parts.append("--follow")
    command = " ".join(parts) + " 2>&1"
    if options.grep:
        command += f" | grep {shlex.quote(options.grep)}"
    return command
