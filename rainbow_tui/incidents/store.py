"""Incident records on disk: one TOML file per incident, never half written.

The file is the header (``tomli_w``) followed by one ``[[events]]`` table per event,
oldest first, each closed by a ``# end <id>`` comment line::

    format = 1
    id = "2026-11-28-0314-service-down"
    ...
    [postmortem]
    summary = "..."

    [[events]]
    id = 1
    kind = "status"
    ...
    # end 1

Why this layout, and why it always parses:

* **Events are appended, the header is rewritten.**  Rewriting a 1 000-event file
  for every note would cost milliseconds and grow with the incident; appending one
  table costs one ``pwrite`` and one ``fdatasync`` whatever the size.  Header changes
  (title, postmortem text, action items) are rare and rewrite the whole file: temp
  file, ``fsync``, ``os.replace``, ``fsync`` of the directory.  A kill during a
  rewrite leaves the old file, whole.
* **An append is never torn by a kill.**  Linux copies a buffered ``write`` into the
  page cache one page (folio) at a time and gives up between pages when the process
  is being killed, so a write that crosses a page boundary can stop half way.  A
  write that stays inside one page is copied whole once it has started.  So an
  event's table is written so that it never crosses a page boundary: if it does
  not fit in what is left of the current page, the same ``pwrite`` first fills the
  page with a comment line (``#   …``) and the table starts on the next page.  A
  kill may then land between the padding and the table, which leaves a comment at
  the end of a valid document.  A table larger than a page is not appended: the
  whole file is rewritten instead (atomic as above).
* **Belt and braces.**  The tail must be the ``# end <id>`` line of the last event.
  After a power loss (where the kernel promises nothing about unsynced data) a
  torn tail is cut back to the last complete event on load and reported; that event
  was never acknowledged, because ``record()`` returns only after ``fdatasync``.

Every change is on disk before ``record``/``update`` return.  A write that fails
(a full disk, any ``OSError``) raises :class:`StoreWriteError`; the event stays in
the in-memory record, marked pending, and the next write (``flush``, or the next
change) writes every pending change in order once there is room again.  A partial
append is cut back with ``ftruncate`` so the file stays valid meanwhile.

**Staging and writing apart.**  ``stage``/``stage_update`` put a change in the
in-memory record at once (ids and rules checked there, in the caller's order) and
``flush`` writes what is staged; ``flush`` may run in a worker thread while the
event loop goes on staging: one lock per incident serialises the writes, another
guards the in-memory record, and each write takes a consistent snapshot of both,
so pending events always reach the file in order with their ids.  ``unsaved``
says what the in-memory record holds that the file does not, so a view can mark
it as not on disk yet.

Two consoles on one incident: the first takes an exclusive ``flock`` on
``<id>.lock`` and writes; the second gets the incident read-only (after waiting up
to ``wait_s`` for the lock) and is told who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import mmap
import os
import re
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
import tomli_w

from rainbow_tui.incidents.model import (
    FORMAT,
    CommandFinished,
    Event,
    EvidencePinned,
    Incident,
    IncidentRuleError,
    check_history,
)
from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.timeline import describe_event
from rainbow_tui.text import current_language, tr

__all__ = [
    "Access",
    "CorruptIncident",
    "IncidentNotFound",
    "IncidentStore",
    "IncidentSummary",
    "LoadedIncident",
    "OpenIncident",
    "ReadOnlyIncident",
    "StoreError",
    "StoreWriteError",
    "Unsaved",
    "decode_incident",
    "encode_event",
    "encode_incident",
    "redact_struct",
    "write_file_durably",
]

PAGE_SIZE = mmap.PAGESIZE
Access = Literal["write", "read-only"]
SUFFIX = ".toml"
LOCK_SUFFIX = ".lock"
HEADER_COMMENT = (
    "# rainbow-tui incident record. The header comes first; events are appended as\n"
    "# [[events]] tables, each closed by an '# end <id>' line. Edit with care.\n"
)
_END_LINE = re.compile(rb"# end (\d+)\n")
_ID_OK = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")


class StoreError(Exception):
    """Something the store could not do; ``str()`` says what in words."""


class IncidentNotFound(StoreError):
    pass


class CorruptIncident(StoreError):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ReadOnlyIncident(StoreError):
    """This console holds the incident read-only: another one is writing it."""

    def __init__(self, incident_id: str, held_by: str) -> None:
        super().__init__(
            f"{incident_id} is open read-only; {held_by or 'another console'} writes it"
        )
        self.incident_id = incident_id
        self.held_by = held_by


class StoreWriteError(StoreError):
    """A change could not be written; it is kept in memory until ``retry_pending``.

    ``reason`` is for the operator ("no space left on device"); ``incident`` is the
    in-memory record including what is not on disk yet; ``pending`` counts the
    events waiting to be written.
    """

    def __init__(
        self, incident_id: str, path: Path, error: OSError, incident: Incident, pending: int
    ) -> None:
        reason = error.strerror or str(error)
        super().__init__(
            f"could not save incident {incident_id} to {path}: {reason}; "
            f"{pending} change(s) kept in memory, not on disk yet"
        )
        self.incident_id = incident_id
        self.path = path
        self.errno = error.errno
        self.reason = reason
        self.incident = incident
        self.pending = pending

    @property
    def disk_full(self) -> bool:
        return self.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    title: str
    severity: str
    status: str
    opened_at: datetime
    last_event_at: datetime | None
    last_event: str
    path: Path
    demo: bool = False


@dataclass(frozen=True)
class Unsaved:
    """What an incident's in-memory record holds that its file does not (yet)."""

    events: int = 0  # the last ``events`` events of the timeline
    header: bool = False  # a header change (postmortem text, title …)

    @property
    def changes(self) -> int:
        return self.events + (1 if self.header else 0)

    def __bool__(self) -> bool:
        return self.changes > 0


@dataclass(frozen=True)
class LoadedIncident:
    incident: Incident
    # Empty, or what was cut from a torn tail (after a power loss) to read it.
    recovered: str = ""


@dataclass(frozen=True)
class OpenIncident:
    incident: Incident
    access: Access
    # Who writes it, when this console only reads it.
    held_by: str = ""
    recovered: str = ""

    @property
    def writable(self) -> bool:
        return self.access == "write"


# -- encoding ------------------------------------------------------------------------


def _builtins(value: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(value, builtin_types=(datetime, date))
    return data


def encode_event(event: Event) -> bytes:
    """One event as an appendable block: a blank line, its table, its end line."""
    # Written by hand around tomli_w's flat key = value lines: left to itself it
    # may render a short array of tables inline, and an inline array cannot grow.
    fields = tomli_w.dumps(_builtins(event))
    return f"\n[[events]]\n{fields}# end {event.id}\n".encode()


def _header(incident: Incident) -> bytes:
    data = _builtins(msgspec.structs.replace(incident, events=()))
    data.pop("events", None)
    data.pop("format", None)
    return (HEADER_COMMENT + tomli_w.dumps({"format": FORMAT, **data})).encode()


def encode_incident(incident: Incident) -> bytes:
    return _header(incident) + b"".join(encode_event(event) for event in incident.events)


def _tail_ok(data: bytes, incident: Incident) -> bool:
    if not incident.events:
        return True
    return data.endswith(f"# end {incident.events[-1].id}\n".encode())


def _parse(data: bytes, path: Path) -> Incident:
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CorruptIncident(path, tr("config.not_toml", error=error)) from None
    if raw.get("format") != FORMAT:
        raise CorruptIncident(path, f"format {raw.get('format')!r} is not {FORMAT}")
    try:
        incident = msgspec.convert(raw, Incident, strict=True)
        check_history(incident)
    except msgspec.ValidationError as error:
        raise CorruptIncident(path, str(error)) from None
    except IncidentRuleError as error:
        raise CorruptIncident(path, f"timeline breaks a rule: {error}") from None
    return incident


def decode_incident(data: bytes, path: Path) -> LoadedIncident:
    """Read a record; a torn tail (after a power loss, or a SIGKILL that cut a
    multi-page write short: never an acknowledged event) is cut back."""
    try:
        incident = _parse(data, path)
        if _tail_ok(data, incident):
            return LoadedIncident(incident)
    except CorruptIncident as first_problem:
        problem: CorruptIncident | None = first_problem
    else:
        problem = None
    ends = list(_END_LINE.finditer(data))
    if not ends:
        raise problem or CorruptIncident(path, "no complete event")
    cut = ends[-1].end()
    incident = _parse(data[:cut], path)
    dropped = len(data) - cut
    return LoadedIncident(incident, recovered=f"dropped {dropped} bytes of an unfinished write")


def redact_struct(value: Any) -> Any:
    """``value`` with every string in it (structs, tuples, nested) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(redact_struct(item) for item in value)
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            item = getattr(value, name)
            cleaned = redact_struct(item)
            if cleaned is not item and cleaned != item:
                changes[name] = cleaned
        return msgspec.structs.replace(value, **changes) if changes else value
    return value


def redact_event(event: Event) -> Event:
    """``event`` redacted, each text with what it belongs to as its context: an output
    excerpt with its command (the output of ``cat config/master.key`` is the key),
    pinned evidence with its title ("秘密鍵", "id_ed25519")."""
    if isinstance(event, CommandFinished) and event.excerpt:
        event = msgspec.structs.replace(event, excerpt=redact(event.excerpt, event.command))
    elif isinstance(event, EvidencePinned) and event.content:
        event = msgspec.structs.replace(event, content=redact(event.content, event.title))
    cleaned: Event = redact_struct(event)
    return cleaned


def checked_event(event: Event) -> Event:
    """``event`` as the file will hold it, refused now if reading it back would fail.

    msgspec checks field types and literals when decoding, not when a struct is
    built: an event with ``evidence_kind="log"`` would be written, then make the
    whole record unreadable.
    """
    try:
        msgspec.convert(
            msgspec.to_builtins(event, builtin_types=(datetime, date)), Event, strict=True
        )
    except msgspec.ValidationError as error:
        raise IncidentRuleError(f"{type(event).__name__} cannot be recorded: {error}") from None
    return event


# -- writing ---------------------------------------------------------------------------


def _padding(room: int) -> bytes:
    """``room`` bytes that are a valid TOML line: a comment, or just a newline."""
    if room <= 1:
        return b"\n"[:room]
    return b"#" + b" " * (room - 2) + b"\n"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]
        offset += written


def write_file_durably(path: Path, data: bytes) -> None:
    """``data`` as the whole of ``path`` (0600), or the old file left whole: a temp
    file, ``fsync``, ``os.replace``, ``fsync`` of the directory (0700), as a
    header rewrite does.  Raises ``OSError``."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = directory / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            _write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(directory)


@dataclass
class _Writer:
    """An incident this store holds the lock of, and its open file."""

    incident: Incident
    path: Path
    lock_fd: int
    fd: int = -1
    size: int = 0
    pending: list[Event] = field(default_factory=list)
    header_dirty: bool = False
    # Bumped by every staged header change, so a write that began before a newer
    # change does not mark that newer one as written.
    header_version: int = 0
    # A failed append could not be cut back: only a full rewrite is trusted now.
    needs_rewrite: bool = False
    # The encoded tables of the events on disk, kept so a header rewrite does not
    # encode a long timeline again (None until the first rewrite needs them).
    blocks: list[bytes] | None = None
    # ``state`` guards incident/pending/header_* (held for microseconds, by the
    # event loop too); ``io`` serialises the writes (held across pwrite and fsync).
    state: threading.Lock = field(default_factory=threading.Lock)
    io: threading.Lock = field(default_factory=threading.Lock)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user} on {socket.gethostname()} (pid {os.getpid()})"


class IncidentStore:
    """The incidents under one state directory."""

    def __init__(self, state_dir: Path | str, *, lock_wait_s: float = 0.0) -> None:
        self.state_dir = Path(state_dir).expanduser()
        self.lock_wait_s = lock_wait_s
        self._writers: dict[str, _Writer] = {}
        self._readers: dict[str, OpenIncident] = {}

    # -- paths and reading ---------------------------------------------------------

    def path(self, incident_id: str) -> Path:
        if not _ID_OK.fullmatch(incident_id):
            raise IncidentNotFound(f"not an incident id: {incident_id!r}")
        return self.state_dir / f"{incident_id}{SUFFIX}"

    def ids(self) -> list[str]:
        try:
            names = [path.name for path in self.state_dir.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(
            name[: -len(SUFFIX)]
            for name in names
            if name.endswith(SUFFIX) and not name.startswith(".")
        )

    def read(self, incident_id: str) -> LoadedIncident:
        """The record as it is on disk now (no lock needed to read)."""
        path = self.path(incident_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IncidentNotFound(f"no incident {incident_id} in {self.state_dir}") from None
        except OSError as error:
            raise StoreError(f"{path}: cannot be read: {error.strerror}") from None
        return decode_incident(data, path)

    def load(self, incident_id: str) -> Incident:
        return self.read(incident_id).incident

    def list(self) -> list[IncidentSummary]:
        """Every readable incident, newest first; unreadable files are skipped."""
        summaries: list[IncidentSummary] = []
        for incident_id in self.ids():
            try:
                incident = self.load(incident_id)
            except StoreError:
                continue
            last = incident.last_event
            summaries.append(
                IncidentSummary(
                    id=incident.id,
                    title=incident.title,
                    severity=incident.severity,
                    status=incident.status,
                    opened_at=incident.opened_at,
                    last_event_at=incident.time_of(last) if last else None,
                    last_event=(
                        describe_event(incident, last, language=current_language())
                        if last else ""
                    ),
                    path=self.path(incident_id),
                    demo=incident.demo,
                )
            )
        summaries.sort(key=lambda s: (s.opened_at, s.id), reverse=True)
        return summaries

    # -- locking ---------------------------------------------------------------------

    def _try_lock(self, incident_id: str, wait_s: float) -> tuple[int | None, str]:
        """The locked lock file's descriptor, or None and who holds it."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.state_dir / f"{incident_id}{LOCK_SUFFIX}"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
                    finally:
                        os.close(fd)
                    return None, holder
                time.sleep(0.05)
                continue
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, (_who() + "\n").encode(), 0)
            return fd, ""

    def access(self, incident_id: str) -> Access | None:
        if incident_id in self._writers:
            return "write"
        if incident_id in self._readers:
            return "read-only"
        return None

    # -- opening ---------------------------------------------------------------------

    def create(self, incident: Incident) -> Incident:
        """Write a new incident and hold it for writing.

        Should its id be taken (two incidents in one minute), a suffix is added;
        the returned incident carries the id it was saved under.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        incident = redact_struct(incident)
        wanted = incident.id
        taken = set(self.ids())
        while True:
            incident_id = _free_id(wanted, taken)
            lock_fd, _ = self._try_lock(incident_id, 0.0)
            if lock_fd is not None and not self.path(incident_id).exists():
                break
            # Someone else took this id a moment ago: pick the next one.
            if lock_fd is not None:
                os.close(lock_fd)
            taken.add(incident_id)
        incident = msgspec.structs.replace(incident, id=incident_id)
        writer = _Writer(incident=incident, path=self.path(incident.id), lock_fd=lock_fd)
        writer.header_dirty = True
        self._writers[incident.id] = writer
        self._flush(writer)
        return incident

    def open(self, incident_id: str, *, wait_s: float | None = None) -> OpenIncident:
        """Open an incident to record into it, or read-only if another console writes it."""
        if incident_id in self._writers:
            writer = self._writers[incident_id]
            return OpenIncident(writer.incident, "write")
        path = self.path(incident_id)
        if not path.exists():
            raise IncidentNotFound(f"no incident {incident_id} in {self.state_dir}")
        lock_fd, holder = self._try_lock(
            incident_id, self.lock_wait_s if wait_s is None else wait_s
        )
        if lock_fd is None:
            loaded = self.read(incident_id)
            opened = OpenIncident(loaded.incident, "read-only", holder, loaded.recovered)
            self._readers[incident_id] = opened
            return opened
        try:
            loaded = self.read(incident_id)
        except StoreError:
            os.close(lock_fd)
            raise
        self._readers.pop(incident_id, None)
        writer = _Writer(incident=loaded.incident, path=path, lock_fd=lock_fd)
        self._writers[incident_id] = writer
        if loaded.recovered:
            # A torn tail is cut off for good by rewriting the file whole.
            writer.needs_rewrite = True
            with contextlib.suppress(StoreWriteError):
                self._flush(writer)
        else:
            try:
                writer.fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                writer.size = os.fstat(writer.fd).st_size
            except OSError as error:
                self.close(incident_id)
                raise StoreError(
                    f"{path}: cannot be opened for writing: {error.strerror}"
                ) from None
        self._cleanup_temp_files(incident_id)
        return OpenIncident(loaded.incident, "write", "", loaded.recovered)

    def refresh(self, incident_id: str) -> OpenIncident:
        """A read-only console's fresh look; tries to take over if the writer has left."""
        if incident_id in self._writers:
            return OpenIncident(self._writers[incident_id].incident, "write")
        self._readers.pop(incident_id, None)
        return self.open(incident_id, wait_s=0.0)

    def incident(self, incident_id: str) -> Incident:
        """The in-memory record (with pending changes) of an open incident."""
        if incident_id in self._writers:
            return self._writers[incident_id].incident
        if incident_id in self._readers:
            return self._readers[incident_id].incident
        return self.load(incident_id)

    def close(self, incident_id: str | None = None) -> None:
        """Release one incident (or all); pending changes are tried once more."""
        ids = [incident_id] if incident_id is not None else [*self._writers, *self._readers]
        for one in ids:
            self._readers.pop(one, None)
            writer = self._writers.pop(one, None)
            if writer is None:
                continue
            # Under the write lock: a write running in a worker thread ends first.
            with writer.io:
                with contextlib.suppress(StoreWriteError):
                    self._flush_locked(writer)
                if writer.fd >= 0:
                    os.close(writer.fd)
                    writer.fd = -1
                os.close(writer.lock_fd)

    # -- recording -------------------------------------------------------------------

    def _writer(self, incident_id: str) -> _Writer:
        writer = self._writers.get(incident_id)
        if writer is None:
            reader = self._readers.get(incident_id)
            if reader is not None:
                raise ReadOnlyIncident(incident_id, reader.held_by)
            raise StoreError(f"incident {incident_id} is not open for writing")
        return writer

    def stage(self, incident_id: str, event: Event) -> Incident:
        """Add ``event`` (redacted) to the in-memory record, pending; ``flush`` writes it.

        Raises ``IncidentRuleError`` if the event breaks the incident's rules (nothing
        changes), ``ReadOnlyIncident`` if another console writes it.
        """
        writer = self._writer(incident_id)
        event = checked_event(redact_event(event))
        with writer.state:
            writer.incident = writer.incident.with_event(event)
            writer.pending.append(event)
            return writer.incident

    def stage_update(
        self, incident_id: str, change: Callable[[Incident], Incident]
    ) -> Incident:
        """Change the header in memory (postmortem text, action items, title), pending."""
        writer = self._writer(incident_id)
        with writer.state:
            changed = change(writer.incident)
            if changed.events != writer.incident.events or changed.id != writer.incident.id:
                raise IncidentRuleError("update changes the header only; record events instead")
            # The events were redacted when recorded; only the header needs it now.
            header = redact_struct(msgspec.structs.replace(changed, events=()))
            writer.incident = msgspec.structs.replace(header, events=writer.incident.events)
            writer.header_dirty = True
            writer.header_version += 1
            return writer.incident

    def flush(self, incident_id: str) -> int:
        """Write every pending change, in order; returns how many went out.

        Safe to call from a worker thread while the event loop stages more; raises
        ``StoreWriteError`` (everything stays pending) if the write fails.
        """
        return self._flush(self._writer(incident_id))

    def record(self, incident_id: str, event: Event) -> Incident:
        """Append ``event`` (redacted) and return the incident once it is on disk.

        Raises ``IncidentRuleError`` if the event breaks the incident's rules (nothing
        changes), ``StoreWriteError`` if it could not be written (it is kept in
        memory and pending), ``ReadOnlyIncident`` if another console writes it.
        """
        self.stage(incident_id, event)
        self.flush(incident_id)
        return self.incident(incident_id)

    def update(self, incident_id: str, change: Callable[[Incident], Incident]) -> Incident:
        """Change the header (postmortem text, action items, title): a full rewrite."""
        self.stage_update(incident_id, change)
        self.flush(incident_id)
        return self.incident(incident_id)

    def unsaved(self, incident_id: str) -> Unsaved:
        """What the in-memory record holds that the file does not."""
        writer = self._writers.get(incident_id)
        if writer is None:
            return Unsaved()
        with writer.state:
            return Unsaved(len(writer.pending), writer.header_dirty)

    def pending(self, incident_id: str) -> int:
        return self.unsaved(incident_id).changes

    def retry_pending(self, incident_id: str | None = None) -> int:
        """Write what earlier failures kept in memory; returns how many changes went out."""
        written = 0
        for one in [incident_id] if incident_id is not None else list(self._writers):
            written += self.flush(one)
        return written

    # -- the two ways to write ---------------------------------------------------------

    def _flush(self, writer: _Writer) -> int:
        with writer.io:
            return self._flush_locked(writer)

    def _flush_locked(self, writer: _Writer) -> int:
        # One consistent look at what is staged: events staged while this write
        # runs wait for the next one.
        with writer.state:
            incident = writer.incident
            pending = list(writer.pending)
            header_dirty = writer.header_dirty
            header_version = writer.header_version
        if not pending and not header_dirty and not writer.needs_rewrite:
            return 0
        blocks = [encode_event(event) for event in pending]
        whole = (
            header_dirty
            or writer.needs_rewrite
            or writer.fd < 0
            or any(len(block) > PAGE_SIZE for block in blocks)
        )
        try:
            if whole:
                self._rewrite(writer, incident, blocks)
            else:
                self._append(writer, blocks)
                if writer.blocks is not None:
                    writer.blocks += blocks
        except OSError as error:
            with writer.state:
                kept = writer.incident
                count = len(writer.pending) + (1 if writer.header_dirty else 0)
            raise StoreWriteError(incident.id, writer.path, error, kept, count) from error
        writer.needs_rewrite = False
        with writer.state:
            del writer.pending[: len(pending)]
            if writer.header_version == header_version:
                writer.header_dirty = False
        return len(pending) + (1 if header_dirty else 0)

    def _append(self, writer: _Writer, blocks: Sequence[bytes]) -> None:
        start = writer.size
        offset = start
        try:
            for block in blocks:
                room = PAGE_SIZE - offset % PAGE_SIZE
                data = block if len(block) <= room else _padding(room) + block
                _write_all(writer.fd, data, offset)
                offset += len(data)
            os.fdatasync(writer.fd)
        except OSError:
            try:
                os.ftruncate(writer.fd, start)
            except OSError:
                writer.needs_rewrite = True
            raise
        writer.size = offset

    def _rewrite(self, writer: _Writer, incident: Incident, pending: Sequence[bytes]) -> None:
        """The whole file again from ``incident`` (a snapshot whose last events are
        the ``pending`` blocks)."""
        events = incident.events
        written = writer.blocks
        if written is None:
            written = [encode_event(event) for event in events[: len(events) - len(pending)]]
        blocks = [*written, *pending]
        data = b"".join([_header(incident), *blocks])
        directory = writer.path.parent
        temp = directory / f".{writer.path.name}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            try:
                _write_all(fd, data, 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            temp.replace(writer.path)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        _fsync_dir(directory)
        # The old descriptor points at the replaced file: appends go to the new one.
        if writer.fd >= 0:
            os.close(writer.fd)
            writer.fd = -1
        writer.fd = os.open(writer.path, os.O_WRONLY | os.O_CLOEXEC)
        writer.size = len(data)
        writer.blocks = blocks

    def _cleanup_temp_files(self, incident_id: str) -> None:
        prefix = f".{incident_id}{SUFFIX}."
        with contextlib.suppress(OSError):
            for path in self.state_dir.iterdir():
                if path.name.startswith(prefix) and path.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        path.unlink()


def _free_id(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate
