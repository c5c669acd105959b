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
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui import __version__
from rainbow_tui.config import Config, ConfigError, find_config, load_config
from rainbow_tui.demo.endpoints import DRILLS

if TYPE_CHECKING:
    from rainbow_tui.demo.endpoints import DemoEndpoints

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
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = config_commands.add_parser("validate", help="validate a configuration file")
    validate.add_argument("path", nargs="?", type=Path, help="file (default: the search order)")
    return parser


def _fail_config(error: ConfigError) -> int:
    print(f"rainbow-tui: config error: {error}", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "config":
            return _validate(args.path)
        if args.command == "check":
            if args.drill and not args.demo:
                print("rainbow-tui: check: --drill needs --demo", file=sys.stderr)
                return EXIT_CONFIG
            return _check(args.check_config or args.config, args.demo, args.drill, args.json)
        if args.command == "demo":
            return _demo(
                args.drill,
                args.read_only or args.demo_read_only,
                args.no_mouse or args.demo_no_mouse,
            )
        return _console(find_config(args.config), args.read_only, args.no_mouse)
    except ConfigError as error:
        return _fail_config(error)
    except KeyboardInterrupt:
        return 130


def _validate(path: Path | None) -> int:
    config = load_config(path) if path is not None else find_config(None)
    print(f"{config.source}: valid")
    placeholders = config.placeholders()
    if placeholders:
        print(f"  still to fill in ({len(placeholders)}): {', '.join(placeholders)}")
    return 0


def _demo_parent() -> str | None:
    """Where demo stacks live: $TMPDIR when set, else memory-backed /dev/shm when
    usable (copying the database template there takes a tenth of the time)."""
    if os.environ.get("TMPDIR"):
        return None
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def running_demo(drills: Sequence[str]) -> Iterator[DemoEndpoints]:
    """A demo stack in a fresh state directory, gone without a trace afterwards."""
    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import export_demo_dsn

    state_dir = Path(tempfile.mkdtemp(prefix="rainbow-tui-demo-", dir=_demo_parent()))
    try:
        with start_demo_stack(state_dir, drills=drills) as stack:
            export_demo_dsn(stack.endpoints)
            yield stack.endpoints
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _check(config_path: Path | None, demo: bool, drills: Sequence[str], as_json: bool) -> int:
    from rainbow_tui.check import print_findings, run_check

    if demo:
        from rainbow_tui.demo.launcher import DemoStartError
        from rainbow_tui.demo.profile import demo_config

        try:
            with running_demo(drills) as endpoints:
                config = demo_config(endpoints)
                findings = asyncio.run(run_check(config))
        except DemoStartError as error:
            print(f"rainbow-tui: the demo stack did not start: {error}", file=sys.stderr)
            return 3
    else:
        config = find_config(config_path)
        findings = asyncio.run(run_check(config))
    return print_findings(config, findings, as_json)


def _console(config: Config, read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.app import make_app

    app = make_app(config, read_only=read_only)
    app.run(mouse=not no_mouse)
    return app.return_code or 0


def _demo(drills: Sequence[str], read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    print("Starting the demo stack (PostgreSQL, web app, SSH hosts)…", file=sys.stderr)
    try:
        with running_demo(drills) as endpoints:
            return _console(demo_config(endpoints), read_only, no_mouse)
    except DemoStartError as error:
        print(f"rainbow-tui: the demo stack did not start: {error}", file=sys.stderr)
        return 3
