"""Bytes from remote streams to lines of text that are safe to show.

SSH and ``docker logs`` output arrives as large byte chunks that cut lines and
multi-byte characters anywhere.  :class:`LineSplitter` turns such a stream into
complete lines with bounded memory; :func:`make_inert` neutralises terminal
control characters so hostile log text cannot drive the operator's terminal.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "LineSplitter",
    "make_inert",
    "make_inert_all",
    "truncation_marker",
]

DEFAULT_MAX_LINE_BYTES = 64 * 1024

# UTF-8 encodes a character in at most 4 bytes, so a decoded line of n characters
# came from at most 4n bytes; below this bound no byte length needs checking.
_MAX_BYTES_PER_CHAR = 4


def truncation_marker(dropped_bytes: int) -> str:
    """The visible suffix of a line whose last ``dropped_bytes`` bytes were cut."""
    return f" … [truncated {dropped_bytes} bytes]"


def _utf8_sequence_length(lead: int) -> int:
    """Bytes in the UTF-8 sequence that ``lead`` starts (1 for invalid leads)."""
    if lead >= 0xF0:
        return 4 if lead < 0xF8 else 1
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


def _complete_prefix_length(data: bytes) -> int:
    """Length of ``data`` without a trailing, incomplete UTF-8 character.

    Used where a line is cut at the byte cap, so the kept part does not end in
    a replacement character that the original line never had.
    """
    end = len(data)
    start = end - 1
    # Step back over at most three continuation bytes to the character's lead.
    while start >= 0 and end - start <= 3 and data[start] & 0xC0 == 0x80:
        start -= 1
    if start < 0 or data[start] & 0xC0 == 0x80:
        return end
    if start + _utf8_sequence_length(data[start]) > end:
        return start
    return end


class LineSplitter:
    """Incremental splitter of a byte stream into decoded lines.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r``; a ``\\r\\n`` split across two
    chunks ends one line, not two.  Bytes are decoded as UTF-8 with replacement
    characters for invalid sequences; because only complete lines are decoded, a
    character split across chunks decodes correctly.

    A line longer than ``max_line_bytes`` keeps its first ``max_line_bytes`` bytes
    (cut at a character boundary) followed by :func:`truncation_marker`; the rest
    is counted and discarded as it arrives, so a pending partial line never
    occupies more than ``max_line_bytes`` of memory.

    The returned text is *not* made inert (``parse_line`` does that for every
    ``LogLine``) unless ``inert`` is true: then every line is :func:`make_inert`,
    with one check of each chunk's bytes standing for a check of each line.
    """

    __slots__ = ("_after_cr", "_dropped", "_inert", "_max_line_bytes", "_pending")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, inert: bool = False) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be positive, got {max_line_bytes}")
        self._inert = inert
        self._max_line_bytes = max_line_bytes
        # Start of the line not yet terminated, at most max_line_bytes long.
        self._pending = b""
        # Bytes of the pending line already discarded beyond the cap.
        self._dropped = 0
        # The previous chunk ended in "\r": a "\n" opening the next chunk
        # completes that "\r\n" rather than ending an empty line.
        self._after_cr = False

    @property
    def max_line_bytes(self) -> int:
        return self._max_line_bytes

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unterminated line held in memory (never above the cap)."""
        return len(self._pending)

    def feed(self, chunk: bytes) -> list[str]:
        """Add ``chunk`` to the stream; return the lines it completed."""
        if not chunk:
            return []
        if self._after_cr and chunk[0] == 0x0A:
            chunk = chunk[1:]
            if not chunk:
                self._after_cr = False
                return []
        self._after_cr = chunk[-1] == 0x0D
        if 0x0D in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

        last_newline = chunk.rfind(b"\n")
        if last_newline < 0:
            self._hold(chunk)
            return []

        head = chunk[:last_newline]
        tail = chunk[last_newline + 1 :]
        first_end = head.find(b"\n")
        if self._pending or self._dropped:
            # Finish the line that started in an earlier chunk on its own, so the
            # bulk path below sees only lines that lie wholly inside this chunk.
            first_part = head if first_end < 0 else head[:first_end]
            self._hold(first_part)
            lines = [self._take_pending()]
            if first_end < 0:
                self._hold(tail)
                return lines
            head = head[first_end + 1 :]
            lines.extend(self._split_complete(head))
        else:
            lines = self._split_complete(head)
        self._hold(tail)
        return lines

    def flush(self) -> list[str]:
        """End of stream: return the unterminated last line, if any."""
        self._after_cr = False
        if not self._pending and not self._dropped:
            return []
        return [self._take_pending()]

    def _hold(self, part: bytes) -> None:
        """Append ``part`` to the pending line, discarding what exceeds the cap."""
        room = self._max_line_bytes - len(self._pending)
        if len(part) <= room:
            self._pending += part
        else:
            self._pending += part[:room]
            self._dropped += len(part) - room

    def _take_pending(self) -> str:
        data, dropped = self._pending, self._dropped
        self._pending = b""
        self._dropped = 0
        line = self._truncated(data, dropped) if dropped else data.decode("utf-8", "replace")
        return make_inert(line) if self._inert else line

    def _truncated(self, data: bytes, dropped: int) -> str:
        cut = _complete_prefix_length(data)
        dropped += len(data) - cut
        return data[:cut].decode("utf-8", "replace") + truncation_marker(dropped)

    def _split_complete(self, data: bytes) -> list[str]:
        """Decode ``data`` (whole lines joined by ``\\n``) into lines."""
        # One decode and one str.split for the whole chunk: an invalid UTF-8
        # sequence never swallows the ASCII "\n" after it, so this equals
        # decoding each line on its own, and is several times faster.
        lines = data.decode("utf-8", "replace").split("\n")
        if self._inert and not _clean_lines(data):
            lines = [make_inert(line) for line in lines]
        if len(data) <= self._max_line_bytes:
            return lines
        longest = max(map(len, lines))
        if longest * _MAX_BYTES_PER_CHAR <= self._max_line_bytes:
            return lines
        # Rare: some line may exceed the cap; redo this chunk line by line.
        result: list[str] = []
        cap = self._max_line_bytes
        for part in data.split(b"\n"):
            if len(part) > cap:
                result.append(self._truncated(part[:cap], len(part) - cap))
            else:
                result.append(part.decode("utf-8", "replace"))
        return [make_inert(line) for line in result] if self._inert else result


# Scheme: C0 controls except TAB, and DEL, become their single-width "Control
# Pictures" symbol (NUL → ␀ U+2400, ESC → ␛ U+241B, DEL → ␡ U+2421).  C1 controls
# (U+0080–U+009F, e.g. the 8-bit CSI U+009B) have no pictures and become the
# literal four characters "\x9b".  Every introducer of an ANSI/OSC/DCS sequence is
# a C0 or C1 control, so what follows it is left as harmless printable text.
_INERT_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code != 0x09}
_INERT_TABLE[0x7F] = "\u2421"
_INERT_TABLE.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})

_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def make_inert(text: str) -> str:
    """Return ``text`` with every control character except TAB made visible.

    Rich markup such as ``[bold]`` is deliberately left alone: callers render
    remote text with ``rich.text.Text``, never as markup.
    """
    # str.isprintable is a C loop that is False for every control character,
    # so ordinary log text returns here without a copy.
    if text.isprintable() or _CONTROL_CHARACTER.search(text) is None:
        return text
    return text.translate(_INERT_TABLE)


# Bytes of the UTF-8 encoding that can belong to a control character: C0 but TAB,
# and DEL, map to 0, everything else to 1.  C1 controls (U+0080–U+009F) are
# 0xC2 0x80–0x9F; 0xC2 is looked for on its own first.
_C0_BYTES = bytes(0 if (code < 0x20 and code != 0x09) or code == 0x7F else 1 for code in range(256))
_C1_BYTES = re.compile(rb"\xc2[\x80-\x9f]")
# The same, LF allowed (the separator of the lines checked).
_C0_OR_LF_BYTES = _C0_BYTES[:0x0A] + b"\x01" + _C0_BYTES[0x0B:]


def _clean_lines(data: bytes) -> bool:
    """Whether UTF-8 ``data`` (lines joined by LF) decodes without a control
    character but TAB and the LFs; invalid bytes decode to U+FFFD, which is fine."""
    return 0 not in data.translate(_C0_OR_LF_BYTES) and (
        0xC2 not in data or _C1_BYTES.search(data) is None
    )


def make_inert_all(texts: list[str]) -> list[str]:
    """:func:`make_inert` of every text; ``texts`` itself when none has a control
    character, which is checked for the whole list at once (a stream's batch of
    clean lines costs a few C-level passes, not one check per line)."""
    if not texts:
        return texts
    data = "".join(texts).encode("utf-8", "surrogatepass")
    clean = 0 not in data.translate(_C0_BYTES) and (
        0xC2 not in data or _C1_BYTES.search(data) is None
    )
    if clean:
        return texts
    return [make_inert(text) for text in texts]
