"""kamal-proxy's JSON lines: its request log (ECS-style keys, flat or nested, and the
older flat slog form) and its other slog lines, with Go ``time.Duration`` strings."""

from __future__ import annotations

import math
from typing import Any, Final

from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse.fields import (
    MISSING,
    LogKind,
    LogLevel,
    ScratchFields,
    level_for_status,
)
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

_GO_DURATION_PART = LazyPattern(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_MS: Final = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "m": 60e3,
    "h": 3600e3,
}
_JSON_LEVELS: Final = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "warn": LogLevel.WARN,
    "warning": LogLevel.WARN,
    "error": LogLevel.ERROR,
    "fatal": LogLevel.FATAL,
    "critical": LogLevel.FATAL,
    "panic": LogLevel.FATAL,
}


def _json_get(document: dict[str, Any], dotted_key: str) -> object:
    """Look up an ECS key written flat (``"url.path"``), nested, or mixed."""
    value = document.get(dotted_key, MISSING)
    if value is not MISSING or "." not in dotted_key:
        return value
    head, _, rest = dotted_key.partition(".")
    while True:
        inner = document.get(head, MISSING)
        if isinstance(inner, dict):
            value = _json_get(inner, rest)
            if value is not MISSING:
                return value
        if "." not in rest:
            return MISSING
        step, _, rest = rest.partition(".")
        head = f"{head}.{step}"


def _first(document: dict[str, Any], keys: tuple[str, ...]) -> object:
    for key in keys:
        value = _json_get(document, key)
        if value is not MISSING and value is not None:
            return value
    return MISSING


def _json_text(value: object) -> str | None:
    # json.loads turns "\u001b" escapes into real control characters.
    if isinstance(value, str):
        return make_inert(value)
    return None


def _json_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc", or an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _go_duration_ms(text: str) -> float | None:
    """``"1.5ms"``, ``"2m3.1s"`` (Go time.Duration strings) in milliseconds."""
    total = 0.0
    position = 0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _GO_DURATION_MS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        return None
    return total


def _json_duration_ms(document: dict[str, Any]) -> float | None:
    # ECS event.duration and Go slog's time.Duration are nanoseconds; the older
    # kamal-proxy "dur" field is milliseconds.
    value = _json_get(document, "event.duration")
    if value is not MISSING:
        number = _json_number(value)
        return None if number is None else number / 1e6
    value = _json_get(document, "dur")
    if value is not MISSING:
        return _json_number(value)
    value = _json_get(document, "duration")
    if isinstance(value, str):
        number = _go_duration_ms(value)
        if number is not None:
            return number
    number = _json_number(value)
    return None if number is None else number / 1e6


def _json_status(value: object) -> int | None:
    number = _json_number(value)
    if number is None or not number.is_integer() or not 100 <= number <= 999:
        return None
    return int(number)


def parse_json(text: str, fields: ScratchFields) -> bool:
    # Loaded with the first proxy line, not with the console's first frame.
    import json

    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(document, dict):
        return False
    message = _json_text(_first(document, ("message", "msg")))
    level_text = _json_text(_first(document, ("log.level", "level")))
    if level_text is not None:
        fields.level = _JSON_LEVELS.get(level_text.lower(), LogLevel.UNKNOWN)
    status = _json_status(_first(document, ("http.response.status_code", "status")))
    method = _json_text(_first(document, ("http.request.method", "method")))
    is_request = (message is not None and message.lower() == "request") or (
        status is not None and method is not None
    )
    if is_request:
        fields.kind = LogKind.PROXY_REQUEST
        fields.method = method
        fields.path = _json_text(_first(document, ("url.path", "path")))
        fields.status = status
        fields.duration_ms = _json_duration_ms(document)
        fields.request_id = _json_text(_first(document, ("http.request.id", "request_id")))
        if status is not None:
            fields.raise_level(level_for_status(status, warn_on_4xx=False))
    elif message is not None or level_text is not None:
        fields.kind = LogKind.LOGGER
    else:
        return False
    if message is not None:
        fields.message = message
    return True


# Pre-filter for a level filter (``LogLine.could_reach``): only a line that starts
# with "{" is parsed as JSON, so no other line takes a level or status from here.
MAY_ERROR_PREFIXES: Final = ("{",)
