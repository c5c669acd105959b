"""``python -m rainbow_tui.demo serve --state-dir DIR [--drill NAME]... [--log-rate N]
[--app-hosts N]``: run the demo stack in this process until SIGTERM/SIGINT/SIGHUP."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from rainbow_tui.demo.endpoints import DRILLS
from rainbow_tui.demo.loggen import DEFAULT_LOG_RATE
from rainbow_tui.demo.process_guard import set_parent_death_signal
from rainbow_tui.demo.supervisor import SUPERVISOR_LOG, ServeOptions, serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rainbow_tui.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the embedded demo stack")
    run.add_argument("--state-dir", type=Path, required=True,
                     help="where keys, the database and stack.json go")
    run.add_argument("--drill", action="append", default=[], choices=DRILLS,
                     help="start with this fault injected (repeatable)")
    run.add_argument("--log-rate", type=float, default=DEFAULT_LOG_RATE,
                     help="log lines per second per container (default %(default)s)")
    run.add_argument("--app-hosts", type=int, default=2,
                     help="number of app hosts, app-1… (default %(default)s)")
    run.add_argument("--monitor-without-grants", action="store_true",
                     help="leave pg_monitor and pg_signal_backend out of the console's role")
    run.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def _configure_logging(state_dir: Path) -> None:
    handler = logging.FileHandler(state_dir / SUPERVISOR_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # asyncssh logs every channel at INFO: far too chatty for a log rate of 10k/s.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Die with whoever started us (even if it was SIGKILLed); then check it had not
    # already gone before the signal was armed.
    set_parent_death_signal(signal.SIGTERM)
    if args.parent_pid is not None and os.getppid() != args.parent_pid:
        return 1
    if args.app_hosts < 1:
        print("--app-hosts must be at least 1", file=sys.stderr)
        return 2
    state_dir: Path = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    _configure_logging(state_dir)
    logging.getLogger("rainbow_tui.demo").info(
        "supervisor pid %s starting in %s (drills: %s)", os.getpid(), state_dir,
        ", ".join(args.drill) or "none",
    )
    options = ServeOptions(state_dir=state_dir, drills=tuple(args.drill),
                           log_rate=args.log_rate, app_hosts=args.app_hosts,
                           monitor_grants=not args.monitor_without_grants)
    return asyncio.run(serve(options))


if __name__ == "__main__":
    sys.exit(main())
