"""The operations manual's appendix (付録 よく使うコマンド), as commands the console runs.

The manual writes ``kamal console``, ``kamal shell``, ``kamal dbconsole`` and ``kamal
logs -f``: those are aliases a deploy.yml may define, not Kamal commands.  The console
runs what they stand for (cli/app.rb#exec with ``--interactive``, #logs with
``--follow``), so they work whatever aliases the app's deploy.yml has.  Interactive
ones get the real terminal; the app shell suspends itself while they run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass

from rainbow_tui.config import KamalConfig
from rainbow_tui.incidents import model
from rainbow_tui.incidents.model import CommandOutcome, CommandStarted, Incident

__all__ = ["APPENDIX", "AppendixCommand", "TerminalResult", "kamal_command_line",
           "record_finished", "record_started", "run_on_terminal"]


def kamal_command_line(kamal: KamalConfig, argv: tuple[str, ...] | list[str], *,
                       shown: bool = False) -> tuple[str, ...]:
    """The kamal command line that runs, or (``shown``) the one the operator knows."""
    destination = ("-d", kamal.destination) if kamal.destination else ()
    return (*(kamal.shown_command if shown else kamal.command), *argv, *destination)


@dataclass(frozen=True)
class AppendixCommand:
    id: str
    title_ja: str
    title_en: str
    argv: tuple[str, ...]  # after the kamal command
    manual: str  # as the manual writes it
    interactive: bool = False  # needs the terminal until the operator leaves it
    changes: bool = False  # changes something: asks first, never under --read-only


APPENDIX: tuple[AppendixCommand, ...] = (
    AppendixCommand("console", "Railsコンソール", "Rails console",
                    ("app", "exec", "-i", "bin/rails console"), "kamal console",
                    interactive=True, changes=True),
    AppendixCommand("shell", "シェルアクセス", "Shell in an app container",
                    ("app", "exec", "-i", "bash"), "kamal shell", interactive=True,
                    changes=True),
    AppendixCommand("dbconsole", "DBコンソール", "Database console",
                    ("app", "exec", "-i", "bin/rails dbconsole"), "kamal dbconsole",
                    interactive=True, changes=True),
    AppendixCommand("details", "コンテナ詳細", "Container details", ("app", "details"),
                    "kamal app details"),
    AppendixCommand("logs", "アプリログ確認 (追従)", "Follow the app log",
                    ("app", "logs", "-f"), "kamal logs -f", interactive=True),
    AppendixCommand("cache-clear", "キャッシュクリア", "Clear the cache",
                    ("app", "exec", "bin/rails tmp:cache:clear"),
                    'kamal app exec "bin/rails tmp:cache:clear"', changes=True),
    AppendixCommand("monitoring-status", "監視ステータス", "Monitoring status",
                    ("app", "exec", "bin/rails monitoring:status"),
                    'kamal app exec "bin/rails monitoring:status"'),
)


@dataclass(frozen=True)
class TerminalResult:
    exit_code: int | None
    duration_s: float
    detail: str = ""

    @property
    def outcome(self) -> CommandOutcome:
        if self.exit_code is None:
            return "error"
        return "ok" if self.exit_code == 0 else "failed"


def run_on_terminal(argv: tuple[str, ...], shown: str, cwd: str,
                    wait_for_enter: bool) -> TerminalResult:
    """Run on the process's own terminal (the app shell has suspended itself)."""
    print(f"$ {shown}", flush=True)
    started = time.monotonic()
    try:
        code: int | None = subprocess.call(list(argv), cwd=cwd, env=dict(os.environ))
        detail = ""
    except OSError as error:
        code, detail = None, f"could not start {shown.split()[0]}: {error.strerror or error}"
        print(detail, flush=True)
    except KeyboardInterrupt:
        code, detail = 130, "interrupted"
    duration = time.monotonic() - started
    if wait_for_enter:
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input("\n[Enter] back to rainbow-tui ")
    return TerminalResult(code, duration, detail)


def record_started(incident: Incident, step: int, shown: str,
                   changes: bool) -> CommandStarted:
    return model.command_started(incident, step, shown, "kamal", destructive=changes)


def record_finished(incident: Incident, started: CommandStarted,
                    result: TerminalResult, interactive: bool) -> model.CommandFinished:
    excerpt = result.detail or (
        "ran on the operator's terminal; its output is not recorded" if interactive
        else "shown on the operator's terminal"
    )
    return model.command_finished(incident, started, result.outcome,
                                  exit_code=result.exit_code, duration_s=result.duration_s,
                                  excerpt=excerpt)
