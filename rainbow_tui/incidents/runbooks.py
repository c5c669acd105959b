"""Runbooks: the operations manual's recovery procedures as data.

One TOML file per procedure (``rainbow_tui/runbooks/*.toml`` ships with the
console; a team directory, ``incidents.runbooks_dir``, adds more or replaces a
shipped one by ``id``).  Files are validated strictly into frozen objects, like the
configuration; a file that cannot be used becomes a :class:`RunbookProblem` naming
the file and the key, and every other runbook still loads.

A runbook answers alerts: ``matches`` holds alert keys (``service:health``) or
patterns (``host *:memory_percent``); :func:`pick_runbook` chooses the runbook whose
pattern fits an alert best and falls back to ``general``.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from rainbow_tui.config import explain_validation_error
from rainbow_tui.incidents.executors import CommandFieldError, executor_for
from rainbow_tui.incidents.runbook_sql import solid_queue_database_problem
from rainbow_tui.levels import Severity
from rainbow_tui.text import tr

__all__ = [
    "CHOICES_FROM_APP_CONTAINERS",
    "FALLBACK_RUNBOOK",
    "PHASES",
    "PHASE_LABELS",
    "Command",
    "CommandKind",
    "Parameter",
    "Phase",
    "Runbook",
    "RunbookCatalog",
    "RunbookProblem",
    "Step",
    "Verification",
    "VerificationKind",
    "load_runbooks",
    "parse_runbook",
    "pick_runbook",
    "shipped_runbooks_dir",
]

Phase = Literal["detect", "contain", "eradicate", "recover", "lessons"]
# インシデント対応: 検知 → 封じ込め → 根絶 → 復旧 → 教訓.
PHASES: tuple[Phase, ...] = ("detect", "contain", "eradicate", "recover", "lessons")
PHASE_LABELS: dict[Phase, tuple[str, str]] = {
    "detect": ("検知", "Detect"),
    "contain": ("封じ込め", "Contain"),
    "eradicate": ("根絶", "Eradicate"),
    "recover": ("復旧", "Recover"),
    "lessons": ("教訓", "Lessons"),
}
CommandKind = Literal["kamal", "ssh", "sql", "http", "local", "copy"]
VerificationKind = Literal["http_ok", "metric_below", "sql_scalar_below", "none"]
# Which database a ``sql`` command or check runs in: the app's, or Solid Queue's own
# (Rails 8 keeps it apart; without [queue] dsn_env both are the same database).
DatabaseName = Literal["primary", "queue"]
ThresholdName = Literal["normal", "warn", "critical"]
CHOICES_FROM_APP_CONTAINERS = "kamal app containers"
FALLBACK_RUNBOOK = "general"

# What a parameter value may hold unless the runbook says otherwise: enough for
# versions, file names and paths, nothing a shell would interpret.
DEFAULT_PARAMETER_PATTERN = r"[A-Za-z0-9._:/@+=-]+"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class RunbookProblem(msgspec.Struct, frozen=True):
    """One runbook file that could not be used, and why."""

    path: str
    key: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}: " if self.key else f"{self.path}: "
        return where + self.problem


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every runbook table: immutable, unknown keys are errors."""


class Parameter(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A value asked of the responder and put into the command as ``{name}``."""

    name: str
    prompt_ja: str
    prompt_en: str
    # Offer the values a command lists, e.g. the versions `kamal app containers` shows.
    choices_from: Literal["kamal app containers"] | None = None
    default: str = ""
    pattern: str = DEFAULT_PARAMETER_PATTERN


class Command(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One command of a step.

    ``kamal`` and ``local`` take ``argv``; ``ssh`` runs ``text`` on ``host`` (a host
    name, or ``role:db`` for the first host with that role); ``sql`` runs ``text``
    (parameters are bound, never pasted) in ``database``; ``http`` GETs ``text``
    (the health URL when empty); ``copy`` copies the newest file matching ``text``
    (a glob) from ``host`` into the local directory ``to``.
    """

    kind: CommandKind
    argv: tuple[str, ...] = ()
    text: str = ""
    host: str = ""
    database: DatabaseName = "primary"
    # copy: the local directory (empty: [backups] copy_to).
    to: str = ""
    destructive: bool = False
    # What the responder types to run a destructive command ("reboot db"); derived
    # from a kamal command's verb when empty (incidents/confirmation.py).
    confirm: str = ""
    timeout_s: float = 120.0
    parameters: tuple[Parameter, ...] = ()
    note_ja: str = ""
    note_en: str = ""

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def placeholders(self) -> list[str]:
        found: list[str] = []
        for part in (*self.argv, self.text):
            found += [name for name in _PLACEHOLDER.findall(part) if name not in found]
        return found


class Verification(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a step proves it worked, checked again and again until ``timeout_s``.

    ``http_ok``: the health URL answers 200.  ``metric_below``: every finding whose
    key matches ``key`` is below the ``threshold`` line of its metric (``warn``: not
    warning any more).  ``sql_scalar_below``: ``sql`` returns a number below
    ``below``.  ``none``: nothing to check automatically.
    """

    kind: VerificationKind
    key: str = ""
    threshold: ThresholdName = "warn"
    sql: str = ""
    database: DatabaseName = "primary"
    below: float | None = None
    timeout_s: float = 60.0
    interval_s: float = 2.0


class Step(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    phase: Phase
    title_ja: str
    title_en: str
    why_ja: str = ""
    why_en: str = ""
    commands: tuple[Command, ...] = ()
    # Things to do or look at that no command does (ログ分析, Sentry…).
    checklist_ja: tuple[str, ...] = ()
    checklist_en: tuple[str, ...] = ()
    verify: Verification | None = None


class Runbook(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    title_ja: str
    title_en: str
    severity: Severity
    matches: tuple[str, ...] = ()
    # Where in the operations manual the procedure comes from.
    source: str = ""
    steps: tuple[Step, ...]
    # The file it was read from; not a TOML key.
    path: str = ""

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None

    def match_rank(self, alert_key: str) -> int:
        """How well this runbook answers ``alert_key``: 0 not at all, higher is better.

        An exact key beats a pattern; a pattern with more literal characters beats a
        looser one.
        """
        best = 0
        for pattern in self.matches:
            if pattern == alert_key:
                return 10_000
            if fnmatch.fnmatchcase(alert_key, pattern):
                best = max(best, 1 + len(pattern.replace("*", "").replace("?", "")))
        return best


class _Invalid(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


def _check(runbook: Runbook) -> None:
    """Rules that types cannot express; raises ``_Invalid`` naming the key."""
    if not _ID.fullmatch(runbook.id):
        raise _Invalid("id", "must be lower-case letters, digits and dashes")
    if not runbook.steps:
        raise _Invalid("steps", "a runbook needs at least one step")
    seen: set[str] = set()
    for s, step in enumerate(runbook.steps):
        where = f"steps[{s}]"
        if step.id in seen:
            raise _Invalid(f"{where}.id", f"duplicate step id {step.id!r}")
        seen.add(step.id)
        if len(step.checklist_ja) != len(step.checklist_en):
            raise _Invalid(f"{where}.checklist_en", "must have as many items as checklist_ja")
        for c, command in enumerate(step.commands):
            _check_command(command, f"{where}.commands[{c}]")
        if step.verify is not None:
            _check_verification(step.verify, f"{where}.verify")


def _check_command(command: Command, where: str) -> None:
    # Which fields a kind takes is its executor's to say.
    try:
        executor_for(command.kind).check_fields(command)
    except CommandFieldError as error:
        raise _Invalid(f"{where}.{error.field}", error.problem) from None
    if command.to and command.kind != "copy":
        raise _Invalid(f"{where}.to", "only copy commands copy into a directory")
    if command.timeout_s <= 0:
        raise _Invalid(f"{where}.timeout_s", "must be a positive number of seconds")
    if command.confirm and not command.destructive:
        raise _Invalid(f"{where}.confirm", "only a destructive command asks for a typed word")
    if command.confirm != " ".join(command.confirm.split()):
        raise _Invalid(f"{where}.confirm", "words separated by single spaces, nothing around")
    names = [parameter.name for parameter in command.parameters]
    for p, parameter in enumerate(command.parameters):
        if names.count(parameter.name) > 1:
            raise _Invalid(f"{where}.parameters[{p}].name", f"duplicate {parameter.name!r}")
        try:
            re.compile(parameter.pattern)
        except re.error as error:
            raise _Invalid(
                f"{where}.parameters[{p}].pattern", f"not a regular expression: {error}"
            ) from None
    for name in command.placeholders():
        if name not in names:
            raise _Invalid(where, f"{{{name}}} is used but no parameter is named {name!r}")


def _check_verification(verify: Verification, where: str) -> None:
    if verify.timeout_s < 0 or verify.interval_s <= 0:
        raise _Invalid(f"{where}.timeout_s", "timeout must be >= 0 and interval > 0")
    if verify.kind == "metric_below" and ":" not in verify.key:
        raise _Invalid(
            f"{where}.key", "metric_below needs a finding key like database:db_connections"
        )
    if verify.kind == "sql_scalar_below":
        if not verify.sql.strip():
            raise _Invalid(f"{where}.sql", "sql_scalar_below needs sql")
        if verify.below is None:
            raise _Invalid(f"{where}.below", "sql_scalar_below needs below")
        problem = solid_queue_database_problem(verify.sql, verify.database)
        if problem is not None:
            raise _Invalid(f"{where}.database", problem)


def parse_runbook(text: str, path: Path | str) -> Runbook:
    """Validate TOML text into a ``Runbook``; raises ``RunbookError``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        not_toml = tr("config.not_toml", error=error)
        raise RunbookError(RunbookProblem(str(path), "", not_toml)) from None
    if "path" in raw:
        raise RunbookError(RunbookProblem(str(path), "path", tr("config.problem.unknown_key")))
    try:
        runbook = msgspec.convert(raw, Runbook, strict=True)
        _check(runbook)
    except msgspec.ValidationError as error:
        key, problem = explain_validation_error(error)
        raise RunbookError(RunbookProblem(str(path), key, problem)) from None
    except _Invalid as invalid:
        raise RunbookError(RunbookProblem(str(path), invalid.key, invalid.problem)) from None
    return msgspec.structs.replace(runbook, path=str(path))


class RunbookError(Exception):
    def __init__(self, problem: RunbookProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class RunbookCatalog:
    """Every usable runbook by id, and the files that could not be used."""

    runbooks: dict[str, Runbook]
    problems: tuple[RunbookProblem, ...] = ()
    # Ids a team file replaced.
    replaced: frozenset[str] = field(default_factory=frozenset)

    def get(self, runbook_id: str) -> Runbook | None:
        return self.runbooks.get(runbook_id)

    def pick(self, alert_key: str) -> Runbook:
        """The runbook that answers ``alert_key`` best; ``general`` when none does."""
        ranked = sorted(
            ((runbook.match_rank(alert_key), runbook.id) for runbook in self.runbooks.values()),
            key=lambda pair: (-pair[0], pair[1]),
        )
        if ranked and ranked[0][0] > 0:
            return self.runbooks[ranked[0][1]]
        fallback = self.runbooks.get(FALLBACK_RUNBOOK)
        if fallback is None:
            raise LookupError(
                f"no runbook answers {alert_key!r} and {FALLBACK_RUNBOOK!r} is missing"
            )
        return fallback


def shipped_runbooks_dir() -> Path:
    return Path(str(resources.files("rainbow_tui") / "runbooks"))


def _load_dir(directory: Path) -> tuple[dict[str, Runbook], list[RunbookProblem]]:
    found: dict[str, Runbook] = {}
    problems: list[RunbookProblem] = []
    try:
        files = sorted(directory.glob("*.toml"))
    except OSError as error:
        return found, [RunbookProblem(str(directory), "", f"cannot be read: {error}")]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(RunbookProblem(str(path), "", f"cannot be read: {error}"))
            continue
        try:
            runbook = parse_runbook(text, path)
        except RunbookError as error:
            problems.append(error.problem)
            continue
        if runbook.id in found:
            other = found[runbook.id].path
            problems.append(RunbookProblem(str(path), "id", f"{runbook.id!r} is also {other}"))
            continue
        found[runbook.id] = runbook
    return found, problems


def load_runbooks(team_dir: Path | str | None = None) -> RunbookCatalog:
    """The shipped runbooks, with a team directory's added or replacing them by id."""
    runbooks, problems = _load_dir(shipped_runbooks_dir())
    replaced: set[str] = set()
    if team_dir:
        team_path = Path(team_dir).expanduser()
        if not team_path.is_dir():
            problems.append(RunbookProblem(str(team_path), "", "runbooks_dir is not a directory"))
        else:
            team, team_problems = _load_dir(team_path)
            problems += team_problems
            replaced = set(team) & set(runbooks)
            runbooks.update(team)
    return RunbookCatalog(dict(sorted(runbooks.items())), tuple(problems), frozenset(replaced))


def pick_runbook(alert_key: str, catalog: RunbookCatalog | None = None) -> Runbook:
    """The runbook for an alert (``general`` as fallback), from the shipped ones by default."""
    return (catalog or load_runbooks()).pick(alert_key)
