"""The console's command line (``:`` as in k9s): what a typed line asks for, and the
lines it may become as it is typed.

Textual-free: the screen asks for a line, this module reads it against the names the
session knows (runbook ids, open alerts' keys), and the app routes what it asks for to
the actions a key would run.  A line that asks for nothing known is answered with a
``Phrase`` saying why, so the view can say it in the chosen language.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Literal

from rainbow_tui.text import N_, Phrase

__all__ = [
    "COMMANDS",
    "CommandProblem",
    "CommandRequest",
    "CommandSpec",
    "completions",
    "parse_command",
    "shipped_routine_ids",
]

# What a command's argument names: nothing, an open alert or a runbook (either one
# for ``incident``), a runbook only, or a routine (daily, weekly …).
ArgumentKind = Literal["none", "alert_or_runbook", "runbook", "routine"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    argument: ArgumentKind
    # Catalogue key of what it does, shown beside its completion.
    what: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("incident", "alert_or_runbook", N_("command_line.what.incident")),
    CommandSpec("runbook", "runbook", N_("command_line.what.runbook")),
    CommandSpec("routine", "routine", N_("command_line.what.routine")),
    CommandSpec("acknowledge", "none", N_("command_line.what.acknowledge")),
    CommandSpec("mitigate", "none", N_("command_line.what.mitigate")),
    CommandSpec("resolve", "none", N_("command_line.what.resolve")),
    CommandSpec("close", "none", N_("command_line.what.close")),
    CommandSpec("postmortem", "none", N_("command_line.what.postmortem")),
    CommandSpec("escalate", "none", N_("command_line.what.escalate")),
    CommandSpec("logs", "none", N_("command_line.what.logs")),
    CommandSpec("help", "none", N_("command_line.what.help")),
    CommandSpec("quit", "none", N_("command_line.what.quit")),
)
_BY_NAME = {spec.name: spec for spec in COMMANDS}


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A line understood: the command's full name and its argument ("" for none)."""

    command: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class CommandProblem:
    """A line not understood, and why (said by the view)."""

    why: Phrase


@cache
def shipped_routine_ids() -> tuple[str, ...]:
    """The routines the console ships (read once), offered as ``:routine`` completes."""
    from rainbow_tui.upkeep.catalog import load_routines

    return load_routines().ids()


def _words(line: str) -> tuple[str, str]:
    """The command word and the rest, a leading ``:`` and spaces let go."""
    stripped = line.strip().removeprefix(":").strip()
    word, _, rest = stripped.partition(" ")
    return word.lower(), rest.strip()


def _named(word: str) -> list[CommandSpec]:
    """The commands ``word`` names: itself, else every one it begins."""
    if word in _BY_NAME:
        return [_BY_NAME[word]]
    return [spec for spec in COMMANDS if spec.name.startswith(word)]


def _listed(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "—"


def parse_command(
    line: str, *, runbooks: Collection[str], alerts: Collection[str]
) -> CommandRequest | CommandProblem:
    """What ``line`` asks for; a command may be shortened to any unique beginning
    (``:res`` is ``:resolve``).  ``runbooks`` are the catalogue's ids, ``alerts`` the
    open alerts' keys."""
    word, argument = _words(line)
    if not word:
        return CommandProblem(
            Phrase(N_("command_line.problem.empty"), commands=_listed(_BY_NAME))
        )
    named = _named(word)
    if not named:
        return CommandProblem(
            Phrase(N_("command_line.problem.unknown"), word=word, commands=_listed(_BY_NAME))
        )
    if len(named) > 1:
        return CommandProblem(
            Phrase(N_("command_line.problem.ambiguous"), word=word,
                   commands=_listed([spec.name for spec in named]))
        )
    spec = named[0]
    if spec.argument == "routine":
        # Which routines exist is the catalogue's to say (a team file may add one):
        # the app answers a name it does not know.
        if not argument:
            return CommandProblem(
                Phrase(N_("command_line.problem.which_routine"),
                       routines=_listed(shipped_routine_ids()))
            )
        return CommandRequest(spec.name, argument)
    if spec.argument == "none":
        if argument:
            return CommandProblem(
                Phrase(N_("command_line.problem.no_argument"), command=spec.name)
            )
        return CommandRequest(spec.name)
    if spec.argument == "runbook":
        if not argument:
            return CommandProblem(
                Phrase(N_("command_line.problem.which_runbook"), runbooks=_listed(runbooks))
            )
        if argument not in runbooks:
            return CommandProblem(
                Phrase(N_("command_line.problem.no_runbook"), name=argument,
                       runbooks=_listed(runbooks))
            )
        return CommandRequest(spec.name, argument)
    # incident: no name is the most urgent alert, as the i key takes it.
    if argument and argument not in alerts and argument not in runbooks:
        return CommandProblem(
            Phrase(N_("command_line.problem.no_target"), name=argument,
                   alerts=_listed(alerts), runbooks=_listed(runbooks))
        )
    return CommandRequest(spec.name, argument)


def completions(
    line: str, *, runbooks: Collection[str], alerts: Collection[str]
) -> tuple[str, ...]:
    """Whole lines (without the ``:``) that ``line`` may become, in the order offered:
    command names while the first word is typed, then the names its argument takes
    (alerts before runbooks, as ``incident`` prefers an open alert)."""
    text = line.lstrip().removeprefix(":").lstrip()
    word, space, rest = text.partition(" ")
    word = word.lower()
    if not space:
        return tuple(spec.name for spec in COMMANDS if spec.name.startswith(word))
    named = _named(word)
    if len(named) != 1 or named[0].argument == "none":
        return ()
    spec = named[0]
    partial = rest.strip()
    if spec.argument == "routine":
        return tuple(f"{spec.name} {name}" for name in shipped_routine_ids()
                     if name.startswith(partial))
    names = list(alerts) if spec.argument == "alert_or_runbook" else []
    names += [name for name in sorted(runbooks) if name not in names]
    return tuple(f"{spec.name} {name}" for name in names if name.startswith(partial))
