"""The command that runs a scanner where ``[security]`` says, as a runbook
command the console's runner runs (its timeout, its cancellation, its output
made safe, its preview shown in the record).

Through Kamal it is ``kamal app exec --primary --reuse "COMMAND"`` (basecamp/kamal
``lib/kamal/cli/app.rb#exec``): ``--reuse`` runs it with ``docker exec`` in the
container already running (no new container, no registry login), ``--primary`` on
the primary host only, as every container of one version has the same
Gemfile.lock and app; never ``--interactive``, whose output goes to a terminal
rather than to the console.  ``-d DESTINATION`` is added as for every kamal
command.  In the checkout it is the command's own words run in ``[kamal] workdir``.
"""

from __future__ import annotations

import shlex
from typing import Literal

from rainbow_tui.incidents.runbooks import Command
from rainbow_tui.scans.settings import SecurityConfig

__all__ = ["Scanner", "scan_command"]

Scanner = Literal["bundler_audit", "brakeman"]
KAMAL_EXEC = ("app", "exec", "--primary", "--reuse")


def scan_command(security: SecurityConfig, scanner: Scanner) -> Command:
    """The command that runs ``scanner`` (the configuration was checked: its
    command line splits into words)."""
    place = security.bundler_audit if scanner == "bundler_audit" else security.brakeman
    line = (security.bundler_audit_command if scanner == "bundler_audit"
            else security.brakeman_command)
    if place == "kamal":
        return Command(kind="kamal", argv=(*KAMAL_EXEC, line), timeout_s=security.timeout_s)
    return Command(kind="local", argv=tuple(shlex.split(line)), timeout_s=security.timeout_s)
