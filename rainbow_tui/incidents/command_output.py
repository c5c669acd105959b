"""What a runbook command prints, made safe as it comes: bytes in, lines out.

Bytes are split into lines with ``LineSplitter`` (invalid UTF-8 replaced), secrets
redacted, control characters made inert; each line then goes to the caller's
callback, to the listeners an executor added (Kamal's verdict reads its notable
lines) and into the excerpt kept for the record: the first and last lines, with how
many were left out between.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rainbow_tui.incidents.redact import LineRedactor
from rainbow_tui.logs.lines import LineSplitter, make_inert

__all__ = ["CommandOutput", "Excerpt", "LineCallback"]

LineCallback = Callable[[str], None]

EXCERPT_HEAD = 30
EXCERPT_TAIL = 30
EXCERPT_LINE_CHARS = 400


class Excerpt:
    """The first and last lines of an output, with how many were left out between."""

    def __init__(self, head: int = EXCERPT_HEAD, tail: int = EXCERPT_TAIL) -> None:
        self._head_size = head
        self._tail_size = tail
        self.head: list[str] = []
        self.tail: list[str] = []
        self.total = 0

    def add(self, line: str) -> None:
        if len(line) > EXCERPT_LINE_CHARS:
            line = line[:EXCERPT_LINE_CHARS] + " …"
        self.total += 1
        if len(self.head) < self._head_size:
            self.head.append(line)
            return
        self.tail.append(line)
        if len(self.tail) > self._tail_size:
            del self.tail[0]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        middle = [f"… {omitted} lines omitted …"] if omitted > 0 else []
        return "\n".join([*self.head, *middle, *self.tail])


class CommandOutput:
    """Bytes in, safe lines out: to the callback, the listeners and the excerpt."""

    def __init__(
        self,
        on_line: LineCallback | None,
        shown_as: tuple[str, str] | None = None,
        context: str = "",
    ) -> None:
        self._splitter = LineSplitter()
        # The command is the output's context: what `cat config/master.key` prints is
        # the key, though 32 hex digits alone say nothing.
        self._redactor = LineRedactor(context)
        self._listeners: list[LineCallback] = [] if on_line is None else [on_line]
        # (what runs, what the operator knows it as): replaced in every line.
        self._shown_as = shown_as
        self.excerpt = Excerpt()

    def add_listener(self, listener: LineCallback) -> None:
        """Give ``listener`` every safe line from now on, as the callback gets it."""
        self._listeners.append(listener)

    def _emit(self, lines: Sequence[str]) -> None:
        for raw in lines:
            if self._shown_as is not None:
                raw = raw.replace(*self._shown_as)
            line = make_inert(self._redactor.line(raw))
            self.excerpt.add(line)
            for listener in self._listeners:
                listener(line)

    def feed(self, chunk: bytes) -> None:
        self._emit(self._splitter.feed(chunk))

    def text(self, text: str) -> None:
        self.feed(text.encode("utf-8", "replace") + (b"" if text.endswith("\n") else b"\n"))

    def close(self) -> None:
        self._emit(self._splitter.flush())
