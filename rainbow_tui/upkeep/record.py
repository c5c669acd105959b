"""Routine runs on disk: one TOML file per run under the incidents' state
directory (``<state_dir>/routines/``), written whole and durably after every
change (temp file, fsync, replace: the incident store's own way), redacted like
the incidents before anything is written.

A run's file is small (a few dozen items), so each change rewrites it: a kill
leaves the previous version whole, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
import tomli_w

from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.store import StoreError, redact_struct, write_file_durably

__all__ = [
    "ITEM_STATES",
    "ItemRecord",
    "ItemState",
    "RoutineRecord",
    "RoutineRecords",
    "records_dir",
]

FORMAT = 1
SUFFIX = ".toml"
SUBDIRECTORY = "routines"
HEADER_COMMENT = "# rainbow-tui routine run record: written whole after every change.\n"
ItemState = Literal["pending", "ok", "warning", "critical", "unknown", "skipped"]
ITEM_STATES: tuple[ItemState, ...] = ("pending", "ok", "warning", "critical", "unknown",
                                      "skipped")
_ID_OK = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")


class ItemRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True,
                 forbid_unknown_fields=True):
    """One item of a run as it went; its words in both languages, so the report
    reads in either whatever language ran it."""

    item: str
    title_ja: str
    title_en: str
    # The check's key, or the command as it runs (its preview).
    shown: str
    outcome: ItemState = "pending"
    said_ja: str = ""
    said_en: str = ""
    figures: dict[str, float] = msgspec.field(default_factory=dict)
    lines: tuple[str, ...] = ()
    excerpt: str = ""
    note: str = ""
    # Marked done by a person (password rotation, a look at the dashboard).
    done: bool = False
    at: datetime | None = None
    duration_s: float = 0.0

    def said(self, language: str) -> str:
        return self.said_ja if language == "ja" else self.said_en

    def title(self, language: str) -> str:
        return self.title_ja if language == "ja" else self.title_en


class RoutineRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True,
                    forbid_unknown_fields=True):
    format: int = FORMAT
    record: Literal["routine"] = "routine"
    id: str
    routine: str
    title_ja: str
    title_en: str
    frequency: str
    service: str
    author: str
    started_at: datetime
    finished_at: datetime | None = None
    demo: bool = False
    items: tuple[ItemRecord, ...] = ()

    def title(self, language: str) -> str:
        return self.title_ja if language == "ja" else self.title_en

    def item(self, item_id: str) -> ItemRecord | None:
        return next((item for item in self.items if item.item == item_id), None)

    def with_item(self, changed: ItemRecord) -> RoutineRecord:
        items = tuple(changed if item.item == changed.item else item for item in self.items)
        return msgspec.structs.replace(self, items=items)

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(item.outcome for item in self.items)


def records_dir(state_dir: Path | str) -> Path:
    return Path(state_dir).expanduser() / SUBDIRECTORY


def _redacted(record: RoutineRecord) -> RoutineRecord:
    # An output excerpt with its command as context (the output of `cat
    # config/master.key` is the key), then every string of the record.
    items = tuple(
        msgspec.structs.replace(item, excerpt=redact(item.excerpt, item.shown))
        if item.excerpt else item
        for item in record.items
    )
    cleaned: RoutineRecord = redact_struct(msgspec.structs.replace(record, items=items))
    return cleaned


def _encode(record: RoutineRecord) -> bytes:
    data: dict[str, Any] = msgspec.to_builtins(record, builtin_types=(datetime, date))
    return (HEADER_COMMENT + tomli_w.dumps(data)).encode()


def _decode(data: bytes, path: Path) -> RoutineRecord:
    try:
        raw = tomllib.loads(data.decode("utf-8"))
        return msgspec.convert(raw, RoutineRecord, strict=True)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
        raise StoreError(f"{path}: not a routine record: {error}") from None


class RoutineRecords:
    """The routine runs under one state directory."""

    def __init__(self, state_dir: Path | str) -> None:
        self.directory = records_dir(state_dir)

    def path(self, run_id: str) -> Path:
        if not _ID_OK.fullmatch(run_id):
            raise StoreError(f"not a routine run id: {run_id!r}")
        return self.directory / f"{run_id}{SUFFIX}"

    def ids(self) -> list[str]:
        try:
            names = [path.name for path in self.directory.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(
            name[: -len(SUFFIX)] for name in names
            if name.endswith(SUFFIX) and not name.startswith(".")
        )

    def create(self, record: RoutineRecord) -> RoutineRecord:
        """Write a new run, under a free id (``-2``… after a taken one)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        wanted, n = record.id, 1
        while True:
            run_id = wanted if n == 1 else f"{wanted}-{n}"
            try:
                # Claims the id: a second console picks the next one.
                os.close(os.open(self.path(run_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                 0o600))
                break
            except FileExistsError:
                n += 1
        return self.save(msgspec.structs.replace(record, id=run_id))

    def save(self, record: RoutineRecord) -> RoutineRecord:
        """The run as it is now, on disk before this returns (redacted first);
        raises ``StoreError`` when it cannot be written."""
        cleaned = _redacted(record)
        path = self.path(cleaned.id)
        try:
            write_file_durably(path, _encode(cleaned))
        except OSError as error:
            raise StoreError(f"could not save routine run {cleaned.id} to {path}: "
                             f"{error.strerror or error}") from error
        return cleaned

    def load(self, run_id: str) -> RoutineRecord:
        path = self.path(run_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"no routine run {run_id} in {self.directory}") from None
        except OSError as error:
            raise StoreError(f"{path}: cannot be read: {error.strerror}") from None
        return _decode(data, path)

    def list(self) -> list[RoutineRecord]:
        """Every readable run, newest first; unreadable files are skipped."""
        found: list[RoutineRecord] = []
        for run_id in self.ids():
            with contextlib.suppress(StoreError):
                found.append(self.load(run_id))
        found.sort(key=lambda record: (record.started_at, record.id), reverse=True)
        return found

    def last_runs(self) -> dict[str, datetime]:
        """Each routine's latest finished run."""
        last: dict[str, datetime] = {}
        for record in self.list():
            if record.finished_at is not None:
                previous = last.get(record.routine)
                if previous is None or record.finished_at > previous:
                    last[record.routine] = record.finished_at
        return last

    def last_done(self, item_id: str) -> datetime | None:
        """When a person last marked ``item_id`` done, in any run."""
        times = [
            item.at for record in self.list() for item in record.items
            if item.item == item_id and item.done and item.at is not None
        ]
        return max(times, default=None)
