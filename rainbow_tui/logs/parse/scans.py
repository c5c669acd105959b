"""Scans of many lines that count what request statistics and alerts need without
parsing each line: the Rails ``Completed`` lines' samples and an exception's stamps.

They read a line's record from its slot (``LogLine._record``), not through the
property: they run over every line a buffer holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from rainbow_tui.logs.parse.docker_stamp import (
    NS_PER_SECOND,
    canonical_seconds,
    is_canonical_stamp,
)
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern
from rainbow_tui.logs.parse.rails import TAGGED_COMPLETED
from rainbow_tui.logs.parse.record import LogLine

# TAGGED_COMPLETED after a stamp in docker's own form (whole second, nanoseconds).
_STAMPED_COMPLETED = LazyPattern(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z " + TAGGED_COMPLETED.pattern
)


def rails_completed_samples(entries: Iterable[object]) -> list[tuple[int, float, int]]:
    """``(stamp_ns, duration_ms, status)`` of every stamped Rails ``Completed`` line
    among ``entries`` (other entries are skipped): what request statistics count.

    The same as ``stamp_ns`` and :meth:`LogLine.rails_completed` of each line, but
    a docker-stamped line is read with one regex, stamp and all, and a line without
    ``Completed `` in it costs a substring test.
    """
    samples: list[tuple[int, float, int]] = []
    for entry in entries:
        if not isinstance(entry, LogLine):
            continue
        text, _, _, start, fields = entry._record
        if not isinstance(fields, tuple):
            if "Completed " not in text:
                continue
            if is_canonical_stamp(text, start) and text.startswith(("[", "C"), start):
                # No Logger prefix: the regex decides, as in rails_completed.
                match = _STAMPED_COMPLETED.match(text)
                if match is not None:
                    second, fraction, status, duration = match.groups()
                    seconds = canonical_seconds(second)
                    if seconds is not None:
                        stamp = seconds * NS_PER_SECOND + int(fraction)
                        samples.append((stamp, float(duration), int(status)))
                continue
        sample = entry.rails_completed()
        stamp_ns = None if sample is None else entry.stamp_ns
        if sample is not None and stamp_ns is not None:
            samples.append((stamp_ns, *sample))
    return samples


def exception_stamps(entries: Iterable[object], exception_class: str) -> list[int]:
    """``stamp_ns`` of every stamped line among ``entries`` (other entries are
    skipped) whose ``exception_class`` is ``exception_class``.  A line that does
    not name the class costs a substring test; only those that do are parsed."""
    named = [
        entry
        for entry in entries
        if isinstance(entry, LogLine) and exception_class in entry._record[0]
    ]
    stamps: list[int] = []
    for line in named:
        if line.exception_class == exception_class:
            stamp_ns = line.stamp_ns
            if stamp_ns is not None:
                stamps.append(stamp_ns)
    return stamps
