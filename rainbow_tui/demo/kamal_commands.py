"""Kamal's command-line grammar, shared by the stand-in's server and its command line.

Kept free of heavy imports: ``python -m rainbow_tui.demo.kamal`` starts quickly.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from rainbow_tui.demo.containers import DB_ACCESSORY, IMAGE_REPOSITORY, SERVICE

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
    interactive: bool = False
    skip_timestamps: bool = False
    # -d: the destination (config/deploy.<destination>.yml); empty: none.
    destination: str = ""
    version: str | None = None
    message: str | None = None  # lock acquire -m
    # --lock-wait (cli/base.rb's class options, commander.rb's defaults).
    lock_wait: bool = False
    lock_wait_timeout: float = 900.0
    lock_wait_interval: float = 15.0
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
        elif name in ("-i", "--interactive"):
            options.interactive = True
        elif name in ("-T", "--skip-timestamps"):
            options.skip_timestamps = True
        elif name in ("-d", "--destination"):
            options.destination = value()
        elif name == "--version":
            options.version = value()
        elif name in ("-m", "--message"):
            options.message = value()
        elif name == "--lock-wait":
            options.lock_wait = True
        elif name in ("--lock-wait-timeout", "--lock-wait-interval"):
            raw = value()
            try:
                seconds = float(raw)
            except ValueError:
                raise KamalUsageError(f"Expected numeric value for '{name}'; got {raw!r}") from None
            if name == "--lock-wait-timeout":
                options.lock_wait_timeout = seconds
            else:
                options.lock_wait_interval = seconds
        elif name in ("-c", "--config-file"):
            value()
        elif name in ("-v", "--verbose", "-q", "--quiet", "-y", "--confirmed", "--skip-hooks",
                      "-H"):
            pass
        elif token.startswith("-") and token != "-":
            raise KamalUsageError(f"Unknown switches \"{token}\"")
        else:
            options.positional.append(token)
        index += 1
    return options


def container_filters(role: str | None, destination: str = "",
                      active: bool = False) -> str:
    """Kamal 2's container filters (commands/app.rb#container_filters): service,
    destination (empty when none), role, and for the running one both active states."""
    filters = [f"label=service={SERVICE}", f"label=destination={destination}"]
    if role:
        filters.append(f"label=role={role}")
    if active:
        filters += ["status=running", "status=restarting"]
    return " ".join(f"--filter {f}" for f in filters)


def current_container_command(role: str, destination: str = "", latest: str = "latest") -> str:
    """Kamal 2's ``current_running_container``: the container of the ``latest`` image,
    else the newest active one (commands/app.rb)."""
    filters = container_filters(role, destination, active=True)
    return (
        f"sh -c 'docker ps --latest --quiet {filters} --filter ancestor=$(docker image ls "
        f"--filter reference={IMAGE_REPOSITORY}:{latest} --format '\\''{{{{.ID}}}}'\\'') ; "
        f"docker ps --latest --quiet {filters}' | head -1"
    )


def log_lines(options: KamalOptions) -> int | None:
    """``--lines``, else 10 when following and 100 when not, unless ``--since`` or
    ``--grep`` is given (cli/app.rb#logs)."""
    if options.lines is not None:
        return options.lines
    if options.since or options.grep:
        return None
    return 10 if options.follow else 100


def app_logs_command(options: KamalOptions, role: str = "web", destination: str = "") -> str:
    """The pipeline Kamal 2 runs on a host to show an app container's log
    (commands/app/logging.rb)."""
    parts = ["xargs docker logs"]
    if not options.skip_timestamps:
        parts.append("--timestamps")
    if options.since and not options.follow:
        parts.append(f"--since {shlex.quote(options.since)}")
    lines = log_lines(options)
    if lines is not None:
        parts.append(f"--tail {lines}")
    if options.follow:
        parts.append("--follow")
    latest = "-".join(["latest", *([destination] if destination else [])])
    command = f"{current_container_command(role, destination, latest)} | {' '.join(parts)} 2>&1"
    if options.grep:
        command += f" | grep {shlex.quote(options.grep)}"
    return command


def accessory_logs_command(options: KamalOptions) -> str:
    parts = [f"docker logs {DB_ACCESSORY}"]
    if options.since and not options.follow:
        parts.append(f"--since {shlex.quote(options.since)}")
    lines = 10 if options.follow else log_lines(options)
    if lines is not None:
        parts.append(f"--tail {lines}")
    if not options.skip_timestamps:
        parts.append("--timestamps")
    if options.follow:
        parts.append("--follow")
    command = " ".join(parts) + " 2>&1"
    if options.grep:
        command += f" | grep {shlex.quote(options.grep)}"
    return command
