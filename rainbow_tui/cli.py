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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len

from rainbow_tui import __version__
from rainbow_tui.check_deadline import check_bound_help
from rainbow_tui.config import Config, ConfigError, find_config, load_config
from rainbow_tui.demo.endpoints import DRILLS
from rainbow_tui.text import (
    LANGUAGES,
    cell_columns,
    choose_language,
    current_language,
    ljust_cells,
    set_language,
    tr,
)

if TYPE_CHECKING:
    from rainbow_tui.demo.endpoints import DemoEndpoints
    from rainbow_tui.deployment import Resolution

EXIT_CONFIG = 2


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal cells: argparse counts
    characters, and a Japanese character takes two cells (and has no spaces to
    break at, which rich folds by cells)."""
    from rich.console import Console
    from rich.text import Text

    width = max(width, 11)
    paragraph = Text(" ".join(text.split()))
    return [line.plain.rstrip() for line in paragraph.wrap(Console(width=width), width)]


class _Formatter(argparse.HelpFormatter):
    """argparse's layout with the usage line's prefix in the chosen language and
    help texts wrapped by terminal cells."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrapped(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in _wrapped(text, width - len(indent)))

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, tr("cli.usage") if prefix is None else prefix)


def _localized(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's own words (section titles, -h) in the chosen language, and a
    ``--lang`` that may come after the subcommand as well as before it."""
    parser._positionals.title = tr("cli.positionals")
    parser._optionals.title = tr("cli.options")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = tr("cli.help")
    # SUPPRESS: a subcommand without --lang leaves the global one's value alone.
    parser.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                        help=tr("cli.lang"))
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
    **options: str,
) -> argparse.ArgumentParser:
    return _localized(
        commands.add_parser(name, help=help, formatter_class=_Formatter, **options)  # type: ignore[arg-type]
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line, its help in the language already chosen (``set_language``)."""
    parser = argparse.ArgumentParser(
        prog="rainbow-tui", description=tr("cli.description"), formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"rainbow-tui {__version__}",
                        help=tr("cli.version"))
    parser.add_argument("--config", type=Path, metavar="PATH", help=tr("cli.config"))
    parser.add_argument("--read-only", action="store_true", help=tr("cli.read_only"))
    parser.add_argument("--no-mouse", action="store_true", help=tr("cli.no_mouse"))
    parser.add_argument(
        "--destination", "-d", metavar="NAME", default=None, help=tr("cli.destination")
    )
    _localized(parser)
    parser.set_defaults(lang=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = _command(commands, "demo", tr("cli.demo"))
    demo.add_argument(
        "--drill",
        action="append",
        choices=DRILLS,
        default=[],
        metavar="NAME",
        help=tr("cli.demo.drill", drills=", ".join(DRILLS)),
    )
    demo.add_argument(
        "--read-only", action="store_true", dest="demo_read_only", help=tr("cli.read_only")
    )
    demo.add_argument(
        "--no-mouse", action="store_true", dest="demo_no_mouse", help=tr("cli.no_mouse")
    )
    demo.add_argument(
        "--monitor-without-grants", action="store_true", help=tr("cli.demo.without_grants")
    )

    check = _command(
        commands, "check", tr("cli.check"),
        description=tr("cli.check.description", bound=check_bound_help()),
    )
    where = check.add_mutually_exclusive_group()
    where.add_argument(
        "--config", type=Path, metavar="PATH", dest="check_config", help=tr("cli.config")
    )
    where.add_argument("--demo", action="store_true", help=tr("cli.check.demo"))
    check.add_argument(
        "--drill",
        action="append",
        choices=DRILLS,
        default=[],
        metavar="NAME",
        help=tr("cli.check.drill"),
    )
    check.add_argument(
        "--monitor-without-grants", action="store_true", help=tr("cli.check.without_grants")
    )
    check.add_argument("--json", action="store_true", help=tr("cli.check.json"))

    backups = _command(commands, "backups", tr("cli.backups"),
                       description=tr("cli.backups.description"))
    backups.add_argument("backups_action", nargs="?", choices=("list", "verify"),
                         default="list", metavar="ACTION", help=tr("cli.backups.action"))
    backup_where = backups.add_mutually_exclusive_group()
    backup_where.add_argument("--config", type=Path, metavar="PATH", dest="backups_config",
                              help=tr("cli.config"))
    backup_where.add_argument("--demo", action="store_true", dest="backups_demo",
                              help=tr("cli.backups.demo"))
    backups.add_argument("--drill", action="append", choices=DRILLS, default=[],
                         metavar="NAME", dest="backups_drill", help=tr("cli.check.drill"))
    backups.add_argument("--json", action="store_true", dest="backups_json",
                         help=tr("cli.check.json"))

    routine = _command(commands, "routine", tr("cli.routine"),
                       description=tr("cli.routine.description"))
    routine.add_argument("routine_words", nargs="+", metavar="NAME",
                         help=tr("cli.routine.name"))
    routine_where = routine.add_mutually_exclusive_group()
    routine_where.add_argument("--config", type=Path, metavar="PATH", dest="routine_config",
                               help=tr("cli.config"))
    routine_where.add_argument("--demo", action="store_true", dest="routine_demo",
                               help=tr("cli.routine.demo"))
    routine.add_argument("--drill", action="append", choices=DRILLS, default=[],
                         metavar="NAME", dest="routine_drill", help=tr("cli.check.drill"))
    routine.add_argument("--json", action="store_true", dest="routine_json",
                         help=tr("cli.check.json"))
    routine.add_argument("--yes", action="store_true", dest="routine_yes",
                         help=tr("cli.routine.yes"))
    routine.add_argument("-o", "--output", type=Path, metavar="FILE", dest="routine_output",
                         help=tr("cli.incidents.output"))

    config = _command(commands, "config", tr("cli.config_tools"))
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = _command(config_commands, "validate", tr("cli.config.validate"))
    validate.add_argument("path", nargs="?", type=Path, help=tr("cli.config.path"))
    show_config = _command(config_commands, "show", tr("cli.config.show"))
    show_config.add_argument("path", nargs="?", type=Path, help=tr("cli.config.path"))
    for action in (validate, show_config):
        action.add_argument("--destination", "-d", metavar="NAME", dest="config_destination",
                            default=None, help=tr("cli.config.destination"))

    notify = _command(commands, "notify", tr("cli.notify"))
    notify_commands = notify.add_subparsers(dest="notify_command", metavar="ACTION",
                                            required=True)
    notify_test = _command(notify_commands, "test", tr("cli.notify.test"))
    notify_test.add_argument("--config", type=Path, metavar="PATH", dest="notify_config",
                             help=tr("cli.config"))

    serve = _command(commands, "serve", tr("cli.serve"), description=tr("cli.serve.description"))
    serve_where = serve.add_mutually_exclusive_group()
    serve_where.add_argument("--config", type=Path, metavar="PATH", dest="serve_config",
                             help=tr("cli.config"))
    serve_where.add_argument("--demo", action="store_true", dest="serve_demo",
                             help=tr("cli.serve.demo"))
    serve.add_argument("--listen", metavar="HOST:PORT", help=tr("cli.serve.listen"))
    serve.add_argument("--authorized-keys", type=Path, metavar="FILE",
                       help=tr("cli.serve.authorized_keys"))
    serve.add_argument("--host-key", type=Path, metavar="FILE", help=tr("cli.serve.host_key"))

    history = _command(commands, "history", tr("cli.history"))
    history.add_argument("--config", type=Path, metavar="PATH", dest="history_config",
                         help=tr("cli.config"))
    history.add_argument("--week", action="store_true", help=tr("cli.history.week"))
    history.add_argument("--json", action="store_true", dest="history_json",
                         help=tr("cli.history.json"))

    incidents = _command(commands, "incidents", tr("cli.incidents"))
    incident_commands = incidents.add_subparsers(
        dest="incidents_command", metavar="ACTION", required=True
    )
    _command(incident_commands, "list", tr("cli.incidents.list"))
    show = _command(incident_commands, "show", tr("cli.incidents.show"))
    show.add_argument("id", metavar="ID")
    resume = _command(incident_commands, "resume", tr("cli.incidents.resume"))
    resume.add_argument("id", metavar="ID")
    export = _command(incident_commands, "export", tr("cli.incidents.export"))
    export.add_argument("id", metavar="ID")
    export.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help=tr("cli.incidents.output"))
    return parser


def _language_flag(argv: Sequence[str]) -> str | None:
    """``--lang``'s value wherever it stands, read before the parser is built so
    the parser's own help is in that language (the parser checks the value)."""
    for index, argument in enumerate(argv):
        if argument == "--":
            break
        if argument == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith("--lang="):
            return argument.partition("=")[2]
    return None


def register_secrets(config: Config) -> None:
    """Tell redaction the secrets behind the configuration's environment variables
    (the DSNs' passwords), so no record, export or saved log ever holds them."""
    from rainbow_tui.incidents.config_secrets import register_config_secrets

    register_config_secrets(config)


def _fail_config(error: ConfigError) -> int:
    print(tr("cli.error.config", error=error), file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    code, source = choose_language(_language_flag(arguments))
    set_language(code)
    args = build_parser().parse_args(arguments)
    # A postmortem is a shared record: both languages unless one was asked for.
    args.postmortem_languages = (code,) if source in ("flag", "env") else LANGUAGES
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
                    print(tr("cli.error.needs_demo", flag=flag), file=sys.stderr)
                    return EXIT_CONFIG
            demo = DemoOptions(args.drill, not args.monitor_without_grants) if args.demo else None
            return _check(args.check_config or args.config, demo, args.json, args.destination)
        if args.command == "incidents":
            return _incidents(args)
        if args.command == "backups":
            if args.backups_drill and not args.backups_demo:
                print(tr("cli.error.needs_demo", flag="--drill"), file=sys.stderr)
                return EXIT_CONFIG
            return _backups(args.backups_action, args.backups_config or args.config,
                            DemoOptions(args.backups_drill) if args.backups_demo else None,
                            args.backups_json, args.destination)
        if args.command == "routine":
            return _routine(args)
        if args.command == "history":
            return _history(args.history_config or args.config, args.week, args.history_json)
        if args.command == "notify":
            return _notify_test(args.notify_config or args.config)
        if args.command == "serve":
            return _serve(args)
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
        print(tr("cli.warning", warning=warning), file=sys.stderr)
    return resolution.config


def _validate(path: Path | None, destination: str | None) -> int:
    resolution = _resolve(path, destination)
    config = resolution.config
    print(tr("cli.validate.valid", source=config.source))
    if resolution.kamal is not None:
        kamal = resolution.kamal
        print(tr("cli.validate.kamal", files=" + ".join(kamal.files), hosts=len(config.hosts),
                 roles=", ".join(kamal.roles) or "-",
                 accessories=", ".join(a.name for a in kamal.accessories) or "-"))
    elif resolution.skipped:
        print(tr("cli.validate.kamal_skipped", why=resolution.skipped))
    for warning in resolution.warnings:
        print(tr("cli.validate.warning", warning=warning))
    placeholders = config.placeholders()
    if placeholders:
        print(tr("cli.validate.placeholders", count=len(placeholders),
                 names=", ".join(placeholders)))
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
    from rainbow_tui.check import check_round, print_findings, record_round

    if demo is not None:
        from rainbow_tui.demo.launcher import DemoStartError
        from rainbow_tui.demo.profile import demo_config

        try:
            with running_demo(demo) as endpoints:
                config = demo_config(endpoints)
                register_secrets(config)
                found = asyncio.run(check_round(config))
                kept = record_round(config, found)
        except DemoStartError as error:
            print(tr("cli.error.demo_start", error=error), file=sys.stderr)
            return 3
    else:
        config = load_deployment(config_path, destination)
        register_secrets(config)
        found = asyncio.run(check_round(config))
        kept = record_round(config, found)
    if kept is not None:
        # Without history the check still answers: the problem goes to stderr.
        print(tr("cli.history.not_kept", error=kept), file=sys.stderr)
    return print_findings(config, found.findings, as_json, found.logs, found.new_exceptions)


def _history(config_path: Path | None, week: bool, as_json: bool) -> int:
    """``history [--week] [--json]``: what the history holds, or the week's figures."""
    import time

    from rainbow_tui.history import HistoryError, open_history, weekly_figures
    from rainbow_tui.history_report import print_overview, print_weekly

    config = find_config(config_path)
    try:
        with open_history(config) as history:
            if week:
                print_weekly(weekly_figures(history, time.time()), as_json)
            else:
                print_overview(history, as_json)
    except HistoryError as error:
        print(tr("cli.error.history", error=error), file=sys.stderr)
        return 1
    return 0


def _backups(action: str, config_path: Path | None, demo: DemoOptions | None, as_json: bool,
             destination: str | None) -> int:
    from rainbow_tui.backups_cli import list_backups, print_drill, print_listing, verify_latest

    def run(config: Config) -> int:
        register_secrets(config)
        if action == "verify":
            return print_drill(asyncio.run(verify_latest(config)), as_json)
        snapshot, findings = asyncio.run(list_backups(config))
        return print_listing(config, snapshot, findings, as_json)

    if demo is None:
        return run(load_deployment(config_path, destination))
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    try:
        with running_demo(demo) as endpoints:
            return run(demo_config(endpoints))
    except DemoStartError as error:
        print(tr("cli.error.demo_start", error=error), file=sys.stderr)
        return 3


def _routine(args: argparse.Namespace) -> int:
    """``routine NAME | list | export ID [-o FILE]``: a run headless, what is due, a
    run's Markdown report."""
    from rainbow_tui.upkeep.headless import export_run, print_due, run_routine

    words = args.routine_words
    if words[0] in ("list", "export"):
        config = find_config(args.routine_config or args.config)
        if words[0] == "list":
            return print_due(config)
        if len(words) != 2:
            print(tr("cli.routine.export_needs_id"), file=sys.stderr)
            return EXIT_CONFIG
        return export_run(config, words[1], args.routine_output, args.postmortem_languages)
    if len(words) != 1:
        print(tr("cli.routine.one_name"), file=sys.stderr)
        return EXIT_CONFIG
    if args.routine_drill and not args.routine_demo:
        print(tr("cli.error.needs_demo", flag="--drill"), file=sys.stderr)
        return EXIT_CONFIG

    def run(config: Config) -> int:
        register_secrets(config)
        return asyncio.run(run_routine(config, words[0], yes=args.routine_yes,
                                       quiet=args.routine_json))

    if not args.routine_demo:
        return run(load_deployment(args.routine_config or args.config, args.destination))
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    try:
        with running_demo(DemoOptions(args.routine_drill)) as endpoints:
            # A rehearsal's run is kept where `routine list` and `export` look (marked demo).
            return run(demo_config(endpoints, incidents_dir=_user_incidents_dir()))
    except DemoStartError as error:
        print(tr("cli.error.demo_start", error=error), file=sys.stderr)
        return 3


def _console(config: Config, read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.app import make_app

    register_secrets(config)
    app = make_app(config, read_only=read_only)
    app.run(mouse=not no_mouse)
    return app.return_code or 0


def _serve(args: argparse.Namespace) -> int:
    """``serve``: the console over SSH, on the configuration or on a demo stack."""
    from rainbow_tui.serve_console import serve_from_command_line

    def run(config: Config) -> int:
        register_secrets(config)
        return serve_from_command_line(config, args.listen, args.authorized_keys,
                                       args.host_key)

    if not args.serve_demo:
        return run(load_deployment(args.serve_config or args.config, args.destination))
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    print(tr("cli.demo.starting"), file=sys.stderr)
    try:
        with running_demo(DemoOptions()) as endpoints:
            return run(demo_config(endpoints, incidents_dir=_user_incidents_dir()))
    except DemoStartError as error:
        print(tr("cli.error.demo_start", error=error), file=sys.stderr)
        return 3


def _user_incidents_dir() -> Path:
    """Where ``incidents list`` looks by default: a rehearsal's record outlives its
    stack there (marked demo).  A configuration that cannot be read leaves the
    shipped default; the demo itself needs none."""
    from rainbow_tui.config import IncidentsConfig, expand_path

    try:
        state_dir = find_config(None).incidents.state_dir
    except ConfigError:
        state_dir = IncidentsConfig().state_dir
    return expand_path(state_dir)


def _demo(options: DemoOptions, read_only: bool, no_mouse: bool) -> int:
    from rainbow_tui.demo.launcher import DemoStartError
    from rainbow_tui.demo.profile import demo_config

    print(tr("cli.demo.starting"), file=sys.stderr)
    incidents_dir = _user_incidents_dir()
    try:
        with running_demo(options) as endpoints:
            return _console(demo_config(endpoints, incidents_dir=incidents_dir), read_only,
                            no_mouse)
    except DemoStartError as error:
        print(tr("cli.error.demo_start", error=error), file=sys.stderr)
        return 3


def _notify_test(path: Path | None) -> int:
    """``notify test``: each configured channel, ok or failed and why; 1 if one failed."""
    from rainbow_tui.notify.probe import probe_channels

    config = find_config(path)
    if config.notify.pagerduty is None and config.notify.slack is None:
        raise ConfigError(config.source, "notify", tr("cli.notify.none"))
    results = asyncio.run(probe_channels(config))
    width = max(cell_len(result.channel) for result in results)
    for result in results:
        verdict = tr("cli.notify.ok") if result.ok else tr("cli.notify.failed")
        print(tr("cli.notify.result", channel=ljust_cells(result.channel, width),
                 verdict=verdict, detail=result.detail.text()))
    return 0 if all(result.ok for result in results) else 1


def _incidents(args: argparse.Namespace) -> int:
    """``incidents list | show ID | resume ID | export ID [-o FILE]``."""
    import inspect

    from rainbow_tui.config import expand_path
    from rainbow_tui.incidents.postmortem import render_postmortem, role_word, status_word
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
                print(tr("cli.incidents.none", directory=store.state_dir))
                return 0
            headings = (
                tr("cli.incidents.column.id"),
                tr("cli.incidents.column.status"),
                tr("cli.incidents.column.severity"),
                tr("cli.incidents.column.title"),
                tr("cli.incidents.column.opened"),
                tr("cli.incidents.column.last_event"),
            )
            rows = [headings] + [
                (
                    s.id,
                    status_word(s.status),
                    s.severity,
                    tr("cli.incidents.demo_title", title=s.title) if s.demo else s.title,
                    format_time(s.opened_at),
                    (format_time(s.last_event_at) + "  " if s.last_event_at else "") + s.last_event,
                )
                for s in summaries
            ]
            # Widths in terminal cells: a Japanese title takes two per character.
            for line in cell_columns(rows):
                print(line)
            return 0
        incident = store.load(args.id)
        if action == "show":
            # Once more on the way out: a record written before a rule existed.
            from rainbow_tui.incidents.redact import redact

            roles = incident.roles()
            print(redact(f"{incident.id}  {incident.title}"))
            print(tr("cli.incidents.show.state", severity=incident.severity,
                     status=status_word(incident.status), runbook=incident.runbook,
                     step=incident.current_step + 1))
            if roles:
                print(", ".join(tr("cli.incidents.show.role", role=role_word(role),
                                   person=person) for role, person in roles.items()))
            times = incident.effective_times()
            for event in sorted(incident.events, key=lambda e: (times[e.id], e.id)):
                what = describe_event(incident, event, language=current_language())
                print(redact(f"{format_time(times[event.id])}  {event.author}  {what}"))
            return 0
        if action == "export":
            markdown = render_postmortem(incident, config, languages=args.postmortem_languages)
            if args.output is None:
                sys.stdout.write(markdown)
            else:
                from rainbow_tui.incidents.export_files import write_private_text

                write_private_text(args.output, markdown)
                print(tr("cli.incidents.written", id=incident.id, path=args.output),
                      file=sys.stderr)
            return 0
        # resume: the console opens at the incident, when it knows how to.
        from rainbow_tui.app import make_app

        if "resume_incident" not in inspect.signature(make_app).parameters:
            print(tr("cli.incidents.cannot_resume", id=incident.id), file=sys.stderr)
            return 1
        config = load_deployment(args.config, args.destination)
        register_secrets(config)
        app = make_app(config, read_only=args.read_only, resume_incident=incident.id)
        app.run(mouse=not args.no_mouse)
        return app.return_code or 0
    except StoreError as error:
        print(tr("cli.error.incidents", action=action, error=error), file=sys.stderr)
        return 1
    except OSError as error:
        print(tr("cli.error.incidents", action=action, error=error.strerror or error),
              file=sys.stderr)
        return 1
