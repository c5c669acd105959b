"""Routines: the operations manual's routine work as data.

One TOML file per routine (``rainbow_tui/routines/*.toml`` ships with the console;
a team directory, ``[routines] dir``, adds more or replaces a shipped one by
``id``), validated strictly like the runbooks: a file that cannot be used becomes a
:class:`RoutineProblem` naming the file and the key, and every other routine still
loads.

Each item is either a command (the runbooks' kinds, run by their executors) or an
automatic check named by a key of the check registry (``upkeep.checks``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from rainbow_tui.config import explain_validation_error
from rainbow_tui.incidents.executors import CommandFieldError, executor_for
from rainbow_tui.incidents.runbooks import Command
from rainbow_tui.text import tr

__all__ = [
    "FREQUENCIES",
    "Frequency",
    "ItemFailure",
    "Routine",
    "RoutineCatalog",
    "RoutineError",
    "RoutineItem",
    "RoutineProblem",
    "configured_routines",
    "load_routines",
    "parse_routine",
    "shipped_routines_dir",
]

Frequency = Literal["daily", "weekly", "monthly", "quarterly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "monthly", "quarterly")
# How bad a command's failure is for the routine: most are worth a look (warning);
# a health check that fails is the service down.
ItemFailure = Literal["warning", "critical"]
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class RoutineProblem(msgspec.Struct, frozen=True):
    """One routine file that could not be used, and why."""

    path: str
    key: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}: " if self.key else f"{self.path}: "
        return where + self.problem


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every routine table: immutable, unknown keys are errors."""


class RoutineItem(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    title_ja: str
    title_en: str
    # Where in the operations manual the item comes from.
    source: str
    why_ja: str = ""
    why_en: str = ""
    # Exactly one of the two: an automatic check by key, or a command.
    check: str = ""
    command: Command | None = None
    fails_as: ItemFailure = "warning"
    # An item of its own rhythm inside its routine (パスワードローテーション: 四半期,
    # in the monthly security routine); its check weighs the last time it was done.
    frequency: Frequency | None = None
    # What to look at besides, that nothing here does (OWASP ZAP on staging…).
    checklist_ja: tuple[str, ...] = ()
    checklist_en: tuple[str, ...] = ()

    def title(self, language: str) -> str:
        return self.title_ja if language == "ja" else self.title_en


class Routine(_Table, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    title_ja: str
    title_en: str
    frequency: Frequency
    source: str
    items: tuple[RoutineItem, ...]
    # A word or two for where the title does not fit (the dashboard's due line);
    # empty: the title.
    short_ja: str = ""
    short_en: str = ""
    # The file it was read from; not a TOML key.
    path: str = ""

    def title(self, language: str) -> str:
        return self.title_ja if language == "ja" else self.title_en

    def short(self, language: str) -> str:
        return (self.short_ja if language == "ja" else self.short_en) or self.title(language)

    def item(self, item_id: str) -> RoutineItem | None:
        return next((item for item in self.items if item.id == item_id), None)


class _Invalid(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


def _check(routine: Routine, checks: Collection[str]) -> None:
    """Rules that types cannot express; raises ``_Invalid`` naming the key."""
    if not _ID.fullmatch(routine.id):
        raise _Invalid("id", "must be lower-case letters, digits and dashes")
    if not routine.items:
        raise _Invalid("items", "a routine needs at least one item")
    seen: set[str] = set()
    for index, item in enumerate(routine.items):
        where = f"items[{index}]"
        if not _ID.fullmatch(item.id):
            raise _Invalid(f"{where}.id", "must be lower-case letters, digits and dashes")
        if item.id in seen:
            raise _Invalid(f"{where}.id", f"duplicate item id {item.id!r}")
        seen.add(item.id)
        for name in ("title_ja", "title_en", "source"):
            if not getattr(item, name).strip():
                raise _Invalid(f"{where}.{name}", "must not be empty")
        if len(item.checklist_ja) != len(item.checklist_en):
            raise _Invalid(f"{where}.checklist_en", "must have as many items as checklist_ja")
        if bool(item.check) == (item.command is not None):
            raise _Invalid(where, "an item is either a check or a command, exactly one")
        if item.check and item.check not in checks:
            raise _Invalid(
                f"{where}.check",
                f"no automatic check {item.check!r} (known: {', '.join(sorted(checks))})",
            )
        if item.command is not None:
            _check_command(item.command, f"{where}.command")


def _check_command(command: Command, where: str) -> None:
    try:
        executor_for(command.kind).check_fields(command)
    except CommandFieldError as error:
        raise _Invalid(f"{where}.{error.field}", error.problem) from None
    if command.to and command.kind != "copy":
        raise _Invalid(f"{where}.to", "only copy commands copy into a directory")
    if command.timeout_s <= 0:
        raise _Invalid(f"{where}.timeout_s", "must be a positive number of seconds")
    if command.parameters or command.placeholders():
        # A routine runs unattended too: nothing to ask for.
        raise _Invalid(f"{where}.parameters", "a routine's command takes no parameters")


class RoutineError(Exception):
    def __init__(self, problem: RoutineProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _known_checks() -> Collection[str]:
    from rainbow_tui.upkeep.checks import CHECK_KEYS

    return CHECK_KEYS


def parse_routine(
    text: str, path: Path | str, checks: Collection[str] | None = None
) -> Routine:
    """Validate TOML text into a ``Routine``; raises ``RoutineError``."""
    known = _known_checks() if checks is None else checks
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        not_toml = tr("config.not_toml", error=error)
        raise RoutineError(RoutineProblem(str(path), "", not_toml)) from None
    if "path" in raw:
        raise RoutineError(RoutineProblem(str(path), "path", tr("config.problem.unknown_key")))
    try:
        routine = msgspec.convert(raw, Routine, strict=True)
        _check(routine, known)
    except msgspec.ValidationError as error:
        key, problem = explain_validation_error(error)
        raise RoutineError(RoutineProblem(str(path), key, problem)) from None
    except _Invalid as invalid:
        raise RoutineError(RoutineProblem(str(path), invalid.key, invalid.problem)) from None
    return msgspec.structs.replace(routine, path=str(path))


@dataclass(frozen=True)
class RoutineCatalog:
    """Every usable routine by id, and the files that could not be used."""

    routines: dict[str, Routine]
    problems: tuple[RoutineProblem, ...] = ()
    replaced: frozenset[str] = field(default_factory=frozenset)

    def get(self, routine_id: str) -> Routine | None:
        return self.routines.get(routine_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(self.routines)


def shipped_routines_dir() -> Path:
    return Path(str(resources.files("rainbow_tui") / "routines"))


def _load_dir(directory: Path) -> tuple[dict[str, Routine], list[RoutineProblem]]:
    found: dict[str, Routine] = {}
    problems: list[RoutineProblem] = []
    known = _known_checks()
    try:
        files = sorted(directory.glob("*.toml"))
    except OSError as error:
        return found, [RoutineProblem(str(directory), "", f"cannot be read: {error}")]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(RoutineProblem(str(path), "", f"cannot be read: {error}"))
            continue
        try:
            routine = parse_routine(text, path, known)
        except RoutineError as error:
            problems.append(error.problem)
            continue
        if routine.id in found:
            other = found[routine.id].path
            problems.append(RoutineProblem(str(path), "id", f"{routine.id!r} is also {other}"))
            continue
        found[routine.id] = routine
    return found, problems


def _ordered(routines: dict[str, Routine]) -> dict[str, Routine]:
    """Daily first, then by rhythm, then by id: the order the manual reads."""
    return dict(
        sorted(
            routines.items(),
            key=lambda pair: (FREQUENCIES.index(pair[1].frequency), pair[0]),
        )
    )


def load_routines(team_dir: Path | str | None = None) -> RoutineCatalog:
    """The shipped routines, with a team directory's added or replacing them by id."""
    routines, problems = _load_dir(shipped_routines_dir())
    replaced: set[str] = set()
    if team_dir:
        team_path = Path(team_dir).expanduser()
        if not team_path.is_dir():
            problems.append(RoutineProblem(str(team_path), "", "[routines] dir is not a directory"))
        else:
            team, team_problems = _load_dir(team_path)
            problems += team_problems
            replaced = set(team) & set(routines)
            routines.update(team)
    return RoutineCatalog(_ordered(routines), tuple(problems), frozenset(replaced))


def configured_routines(team_dir: str, frequencies: dict[str, str]) -> RoutineCatalog:
    """The routines with ``[routines] dir`` and each ``[routines.frequency]`` applied."""
    catalog = load_routines(team_dir or None)
    routines = {
        routine_id: (
            msgspec.structs.replace(routine, frequency=frequencies[routine_id])
            if routine_id in frequencies else routine
        )
        for routine_id, routine in catalog.routines.items()
    }
    return RoutineCatalog(_ordered(routines), catalog.problems, catalog.replaced)
