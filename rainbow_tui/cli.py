"""Command line: the console, the demo, a headless check, config validation.

Textual, asyncpg and asyncssh are imported only by the commands that need them,
so ``--help`` and ``config validate`` answer at once and the console's first frame
is not held up by libraries it does not need yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui import __version__
from rainbow_tui.config import Config, ConfigError, find_config, load_config
from rainbow_tui.demo.endpoints import DRILLS

if TYPE_CHECKING:
    from rainbow_tui.demo.endpoints import DemoEndpoints
    from rainbow_tui.deployment import Resolution

EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rainbow-tui",
        description="On-call console for Shiojiri Rainbow Seeker (塩尻レインボーシーカー).",
    )
    parser.add_argument("--version", action="version", version=f"rainbow-tui {__version__}")
    parser.add_argument("--config", type=Path, metavar="PATH", help="configuration file")
    parser.add_argument(
        "--read-only", action="store_true", help="hide every action that changes anything"
    )
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse")
    parser.add_argument(
        "--destination", "-d", metavar="NAME", default=None,
        help="Kamal destination (config/deploy.NAME.yml), instead of [kamal] destination",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the console on the embedded demo stack")
    demo.add_argument(
        "--drill",
        action="append",
        choices=DRILLS,
        default=[],
        metavar="NAME",
        help=f"inject a fault before the first check ({', '.join(DRILLS)})",
    )
    demo.add_argument(
        "--read-only",
        action="store_true",
        dest="demo_read_only",
        help="hide every action that changes anything",
    )
    demo.add_argument(
        "--no-mouse", action="store_true", dest="demo_no_mouse", help="do not capture the mouse"
    )
    demo.add_argument(
        "--monitor-without-grants",
        action="store_true",
        help="log in as a role without pg_monitor / pg_signal_backend (what it cannot see)",
    )

    check = commands.add_parser("check", help="one headless round of every health check")
    where = check.add_mutually_exclusive_group()
    where.add_argument(
        "--config", type=Path, metavar="PATH", dest="check_config", help="configuration file"
    )
    where.add_argument("--demo", action="store_true", help="check a fresh embedded demo stack")
    check.add_argument(
        "--drill",
        action="append",
        choices=DRILLS,
        default=[],
        metavar="NAME",
        help="with --demo: inject a fault first",
    )
    check.add_argument(
        "--monitor-without-grants",
        action="store_true",
        help="with --demo: the console's role lacks pg_monitor / pg_signal_backend",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = config_commands.add_parser("validate", help="validate a configuration file")
    validate.add_argument("path", nargs="?", type=Path, help="file (default: the search order)")
    show_config = config_commands.add_parser(
        "show", help="the resolved deployment (deploy.yml + config.toml) as TOML"
    )
    show_config.add_argument("path", nargs="?", type=Path,
                             help="file (default: the search order)")
    for action in (validate, show_config):
        action.add_argument("--destination", "-d", metavar="NAME", dest="config_destination",
                            default=None, help="Kamal destination (config/deploy.NAME.yml)")

    incidents = commands.add_parser(
        "incidents", help="incident records: list, show, resume, export"
    )
    incident_commands = incidents.add_subparsers(
        dest="incidents_command", metavar="ACTION", required=True
    )
    incident_commands.add_parser("list", help="every incident, newest first")
    show = incident_commands.add_parser("show", help="an incident's timeline as text")
    show.add_argument("id", metavar="ID")
    resume = incident_commands.add_parser("resume", help="open the console at an incident")
    resume.add_argument("id", metavar="ID")
    export = incident_commands.add_parser("export", help="the postmortem draft as Markdown")
    export.add_argument("id", metavar="ID")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE")
    return parser


def register_secrets(config: Config) -> None:
    """Tell redaction the secrets behind the configuration's environment variables
    (the DSNs' passwords), so no record, export or saved log ever holds them."""
    from rainbow_tui.incidents.config_secrets import register_config_secrets

    register_config_secrets(config)


def _fail_config(error: ConfigError) -> int:
    print(f"rainbow-tui: config error: {error}", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "config":
            destination = args.config_destination or args.destination
            path = args.path or args.config
            if args.config_command == "show":
                return _show_config(path, destination)
            return _validate(path, destination)
        if args.command == "check":
            for flag, given in (("--drill", args.drill),
                                ("--monitor-without-grants", args.monitor_without_grants)):
                if given and not args.demo:
                    print(f"rainbow-tui: check: {flag} needs --demo", file=sys.stderr)
                    return EXIT_CONFIG
            demo = DemoOptions(args.drill, not args.monitor_without_grants) if args.demo else None
            return _check(args.check_config or args.config, demo, args.json, args.destination)
        if args.command == "incidents":
            return _incidents(args)
        if args.command == "demo":
            return _demo(
                DemoOptions(args.drill, not args.monitor_without_grants),
                args.read_only or args.demo_read_only,
                args.no_mouse or args.demo_no_mouse,
            )
        return _console(load_deployment(args.config, args.destination), args.read_only,
                        args.no_mouse)
    except ConfigError as error:
        return _fail_config(error)
    except KeyboardInterrupt:
        return 130


def _resolve(path: Path | None, destination: str | None) -> Resolution:
    from rainbow_tui.deployment import resolve_deployment

    config = load_config(path) if path is not None else find_config(None)
    return resolve_deployment(config, destination)


def load_deployment(path: Path | None, destination: str | None) -> Config:
    """The configuration with the hosts of Kamal's configuration; warnings to stderr."""
    resolution = _resolve(path, destination)
    for warning in resolution.warnings:
        print(f"rainbow-tui: warning: {warning}", file=sys.stderr)
    return resolution.config


def _validate(path: Path | None, destination: str | None) -> int:
    resolution = _resolve(path, destination)
    config = resolution.config
    print(f"{config.source}: valid")
    if resolution.kamal is not None:
        kamal = resolution.kamal
        print(f"  {' + '.join(kamal.files)}: {len(config.hosts)} hosts, roles "
              f"{', '.join(kamal.roles) or '-'}, accessories "
              f"{', '.join(a.name for a in kamal.accessories) or '-'}")
    elif resolution.skipped:
        print(f"  Kamal configuration not read: {resolution.skipped}")
    for warning in resolution.warnings:
        print(f"  warning: {warning}")
    placeholders = config.placeholders()
    if placeholders:
        print(f"  still to fill in ({len(placeholders)}): {', '.join(placeholders)}")
    return 0


def _show_config(path: Path | None, destination: str | None) -> int:
    import tomli_w

    from rainbow_tui.deployment import show_document

    sys.stdout.write(tomli_w.dumps(show_document(_resolve(path, destination))))
    return 0


def _demo_parent() -> str | None:
    """Where demo stacks live: $TMPDIR when set, else memory-backed /dev/shm when
    usable (copying the database template there takes a tenth of the time)."""
    if os.environ.get("TMPDIR"):
        return None
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@dataclass(frozen=True)
class DemoOptions:
    drills: Sequence[str] = ()
    # False: the console's role lacks pg_monitor / pg_signal_backend.
    monitor_grants: bool = True


@contextlib.contextmanager
def running_demo(options: DemoOptions) -> Iterator[DemoEndpoints]:
    """A demo stack in a fresh state directory, gone without a trace afterwards."""
    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import export_demo_dsn

    state_dir = Path(tempfile.mkdtemp(prefix="rainbow-tui-demo-", dir=_demo_parent()))
    try:
        with start_demo_stack(
            state_dir, drills=options.drills, monitor_grants=options.monitor_grants
        ) as stack:
            export_demo_dsn(stack.endpoints)
            yield stack.endpoints
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _check(config_path: Path | None, demo: DemoOptions | None, as_json: bool,
           destination: str | None = None) -> int:
    from rainbow_tui.check import print_findings, run_check

    if demo is not None:
        from rainbow_tui.demo.launcher import DemoStartError
        from rainbow_tui.demo.profile import demo_config

        try:
            with running_demo(demo) as endpoints:
                config = demo_config(endpoints)
                register_secrets(config)
                findings = asyncio.run(run_check(config))
        except DemoStartError as error:
            print(f"rainbow-tui: the demo stack did not start: {error}", file=sys.stderr)
            return 3
    else:
        config = load_deployment(config_path, destination)
        register_secrets(config)
        findings = asyncio.run(run_check(config))
    return print_findings(config, findings, as_json)


def _console(config: Config, read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.app import make_app

    register_secrets(config)
    app = make_app(config, read_only=read_only)
    app.run(mouse=not no_mouse)
    return app.return_code or 0


def _demo(options: DemoOptions, read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    print("Starting the demo stack (PostgreSQL, web app, SSH hosts)…", file=sys.stderr)
    try:
        with running_demo(options) as endpoints:
            return _console(demo_config(endpoints), read_only, no_mouse)
    except DemoStartError as error:
        print(f"rainbow-tui: the demo stack did not start: {error}", file=sys.stderr)
        return 3


def _incidents(args: argparse.Namespace) -> int:
    """``incidents list | show ID | resume ID | export ID [-o FILE]``."""
    import inspect

    from rainbow_tui.config import expand_path
    from rainbow_tui.incidents.postmortem import render_postmortem
    from rainbow_tui.incidents.store import IncidentStore, StoreError
    from rainbow_tui.incidents.timeline import describe_event, format_time

    config = find_config(args.config)
    register_secrets(config)
    store = IncidentStore(expand_path(config.incidents.state_dir))
    action = args.incidents_command
    try:
        if action == "list":
            summaries = store.list()
            if not summaries:
                print(f"no incidents in {store.state_dir}")
                return 0
            rows = [("ID", "STATUS", "SEVERITY", "TITLE", "OPENED", "LAST EVENT")] + [
                (
                    s.id,
                    s.status,
                    s.severity,
                    s.title,
                    format_time(s.opened_at),
                    (format_time(s.last_event_at) + "  " if s.last_event_at else "") + s.last_event,
                )
                for s in summaries
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(5)]
            for row in rows:
                cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:5])]
                print("  ".join([*cells, row[5]]).rstrip())
            return 0
        incident = store.load(args.id)
        if action == "show":
            roles = incident.roles()
            print(f"{incident.id}  {incident.title}")
            print(
                f"severity {incident.severity}, status {incident.status}, "
                f"runbook {incident.runbook}, step {incident.current_step + 1}"
            )
            if roles:
                print(", ".join(f"{role}: {person}" for role, person in roles.items()))
            times = incident.effective_times()
            for event in sorted(incident.events, key=lambda e: (times[e.id], e.id)):
                what = describe_event(incident, event)
                print(f"{format_time(times[event.id])}  {event.author}  {what}")
            return 0
        if action == "export":
            markdown = render_postmortem(incident, config)
            if args.output is None:
                sys.stdout.write(markdown)
            else:
                args.output.write_text(markdown, encoding="utf-8")
                print(f"postmortem of {incident.id} written to {args.output}", file=sys.stderr)
            return 0
        # resume: the console opens at the incident, when it knows how to.
        from rainbow_tui.app import make_app

        if "resume_incident" not in inspect.signature(make_app).parameters:
            print(
                "rainbow-tui: incidents resume: this console cannot open an incident yet; "
                f"see it with `rainbow-tui incidents show {incident.id}`",
                file=sys.stderr,
            )
            return 1
        config = load_deployment(args.config, args.destination)
        register_secrets(config)
        app = make_app(config, read_only=args.read_only, resume_incident=incident.id)
        app.run(mouse=not args.no_mouse)
        return app.return_code or 0
    except StoreError as error:
        print(f"rainbow-tui: incidents {action}: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"rainbow-tui: incidents {action}: {error.strerror or error}", file=sys.stderr)
        return 1
