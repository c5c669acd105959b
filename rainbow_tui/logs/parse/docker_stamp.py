"""The ``docker logs --timestamps`` prefix: an RFC 3339 stamp and a space.

A stamp in docker's own form is checked for a whole batch at once
(:func:`docker_stamp_heads`); any other stamp takes the per-line regex.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Final

from rainbow_tui.logs.parse.fields import MISSING
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

_DOCKER_TIMESTAMP = LazyPattern(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) "
)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND: Final = timedelta(seconds=1)
NS_PER_SECOND: Final = 1_000_000_000


def parse_docker_timestamp(text: str) -> datetime | None:
    """An RFC 3339 stamp (up to nanoseconds) as an aware UTC datetime, or None.

    Python's datetime holds microseconds, so nanoseconds are truncated here;
    callers that resume ``docker logs --since`` keep the original text.
    """
    match = _DOCKER_TIMESTAMP.match(text + " ")
    if match is None or match.end() != len(text) + 1:
        return None
    return datetime_from_ns(_ns_from_match(match))


def datetime_from_ns(ns: int | None) -> datetime | None:
    if ns is None:
        return None
    return EPOCH + timedelta(microseconds=ns // 1000)


def _ns_from_match(match: re.Match[str]) -> int | None:
    """Nanoseconds since the epoch of a matched stamp; None for an impossible date."""
    fraction = match.group(7)
    offset = match.group(8)
    # A burst of lines shares a handful of whole seconds: each is worked out once.
    key = match.string[: match.start(7) if fraction else match.start(8)] + offset
    seconds = _whole_seconds.get(key, MISSING)
    if seconds is MISSING:
        year, month, day, hour, minute, second = match.group(1, 2, 3, 4, 5, 6)
        seconds = _epoch_seconds(year, month, day, hour, minute, second, offset)
        _remember_seconds(key, seconds)
    if not isinstance(seconds, int):
        return None
    return seconds * NS_PER_SECOND + (int(fraction.ljust(9, "0")) if fraction else 0)


_WHOLE_SECONDS_CACHE_SIZE: Final = 256
# Whole seconds (int since the epoch, or None when impossible) by the stamp's text
# up to the fraction plus its zone ("2026-11-28T03:00:00.Z"), or, for docker's own
# form, by its first 19 characters ("2026-11-28T03:00:00"): the keys cannot meet.
_whole_seconds: dict[str, object] = {}


def _remember_seconds(key: str, seconds: int | None) -> None:
    if len(_whole_seconds) >= _WHOLE_SECONDS_CACHE_SIZE:
        _whole_seconds.clear()
    _whole_seconds[key] = seconds


def _epoch_seconds(
    year: str, month: str, day: str, hour: str, minute: str, second: str, offset: str
) -> int | None:
    if offset == "Z":
        zone = UTC
    else:
        minutes = int(offset[1:3]) * 60 + int(offset[4:6])
        if minutes >= 24 * 60:
            return None
        zone = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
        if zone is not UTC:
            stamp = stamp.astimezone(UTC)  # out of range near year 1 or 9999
    except (ValueError, OverflowError):
        return None
    return (stamp - EPOCH) // _ONE_SECOND


# Docker's own form (RFC3339NanoFixed): "2026-11-28T03:00:00.123456789Z " — always
# 31 characters with the space, UTC, nine digits.  For such stamps text order is
# time order, which lets a whole batch be checked at once.
HEAD_LENGTH: Final = 31
_HEAD_SHAPE: Final = "0000-00-00T00:00:00.000000000Z "
_DIGITS_TO_ZERO: Final = str.maketrans("123456789", "000000000")
_head_of = itemgetter(slice(0, HEAD_LENGTH))


def canonical_seconds(second: str) -> int | None:
    """Whole seconds of ``2026-11-28T03:00:00`` (digits in place), None if impossible."""
    seconds = _whole_seconds.get(second, MISSING)
    if seconds is MISSING:
        seconds = _epoch_seconds(
            second[0:4],
            second[5:7],
            second[8:10],
            second[11:13],
            second[14:16],
            second[17:19],
            "Z",
        )
        _remember_seconds(second, seconds)
    return seconds if isinstance(seconds, int) else None


def is_canonical_stamp(text: str, end: int) -> bool:
    """Whether the stamp that ends at ``end`` (with its space) has docker's own form,
    given that it matched :data:`_DOCKER_TIMESTAMP`."""
    return end == HEAD_LENGTH and text[29] == "Z" and text[19] == "."


def docker_stamp_heads(texts: list[str]) -> list[str] | None:
    """The first 31 characters of every line, when every line starts with a valid
    stamp in docker's own form and they never go back in time; else None.

    This is the usual case for a ``docker logs --timestamps`` stream, checked for a
    whole batch with a few C-level passes instead of a regex per line.  The heads
    sort as their times do.  ASCII digits only: other stamps take the per-line way.
    """
    if not texts:
        return None
    heads = list(map(_head_of, texts))
    if "".join(heads).translate(_DIGITS_TO_ZERO) != _HEAD_SHAPE * len(heads):
        return None
    if heads != sorted(heads):
        return None
    # Sorted, so each second's heads are adjacent: visit each second once.
    start, count = 0, len(heads)
    while start < count:
        second = heads[start][:19]
        if canonical_seconds(second) is None:
            return None
        # "." sorts before "/", so every head of this second is below second + "/".
        start = bisect_left(heads, second + "/", start + 1)
    return heads


def find_stamp_end(text: str) -> int:
    """Where the text after a valid docker stamp and its space starts; 0 if none."""
    if len(text) > 20 and text[10] == "T" and "0" <= text[0] <= "9":
        match = _DOCKER_TIMESTAMP.match(text)
        if match is not None and _ns_from_match(match) is not None:
            return match.end()
    return 0


def read_stamp_ns(text: str, end: int) -> int | None:
    """Nanoseconds of the stamp that ``find_stamp_end`` found ending at ``end``."""
    if not end:
        return None
    if end == HEAD_LENGTH and text[29] == "Z" and text[19] == ".":  # docker's own form
        seconds = _whole_seconds.get(text[:19])
        if type(seconds) is not int:
            seconds = canonical_seconds(text[:19])
            if seconds is None:
                return None
        return seconds * NS_PER_SECOND + int(text[20:29])
    match = _DOCKER_TIMESTAMP.match(text)
    return None if match is None else _ns_from_match(match)
