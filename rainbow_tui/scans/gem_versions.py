"""RubyGems' versions and requirements, as far as advisories use them: which
version a requirement such as ``"~> 3.0.14"`` lets through, and which of an
advisory's patched requirements is the way up from a given version.

Modelled on rubygems ``lib/rubygems/version.rb`` (segments are the runs of digits
and of letters; a letter segment marks a prerelease and sorts before any number;
missing segments are zeros, so 1.0 == 1) and ``lib/rubygems/requirement.rb``
(``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=``, ``~>``; no operator is ``=``;
``~> 3.0.14`` is ``>= 3.0.14, < 3.1``: ``Version#bump`` drops the prerelease part
and the last segment, then adds one to the new last).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import total_ordering

__all__ = ["GemVersion", "fix_for", "lower_bound", "satisfies"]

_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+")
_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|~>|>|<)?\s*([0-9][0-9A-Za-z.\-]*)\s*$")


@total_ordering
class GemVersion:
    __slots__ = ("segments", "text")

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.segments: tuple[int | str, ...] = tuple(
            int(part) if part.isdigit() else part for part in _SEGMENT.findall(self.text)
        )

    @property
    def prerelease(self) -> bool:
        return any(isinstance(segment, str) for segment in self.segments)

    def bump(self) -> GemVersion:
        release = [s for s in self._release() if isinstance(s, int)]
        if len(release) > 1:
            release.pop()
        release[-1] += 1
        return GemVersion(".".join(str(part) for part in release))

    def _release(self) -> list[int | str]:
        out: list[int | str] = []
        for segment in self.segments:
            if isinstance(segment, str):
                break
            out.append(segment)
        return out or [0]

    def _compare(self, other: GemVersion) -> int:
        left, right = list(self.segments), list(other.segments)
        for index in range(max(len(left), len(right))):
            a = left[index] if index < len(left) else 0
            b = right[index] if index < len(right) else 0
            if a == b:
                continue
            if isinstance(a, str) and isinstance(b, int):
                return -1
            if isinstance(a, int) and isinstance(b, str):
                return 1
            return -1 if a < b else 1  # type: ignore[operator]
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GemVersion) and self._compare(other) == 0

    def __lt__(self, other: GemVersion) -> bool:
        return self._compare(other) < 0

    def __hash__(self) -> int:
        trimmed = list(self.segments)
        while trimmed and trimmed[-1] == 0:
            trimmed.pop()
        return hash(tuple(trimmed))

    def __str__(self) -> str:
        return self.text


def _constraints(requirement: str) -> list[tuple[str, GemVersion]] | None:
    found: list[tuple[str, GemVersion]] = []
    for part in requirement.split(","):
        match = _CONSTRAINT.match(part)
        if match is None:
            return None
        found.append((match[1] or "=", GemVersion(match[2])))
    return found or None


def _meets(version: GemVersion, operator: str, bound: GemVersion) -> bool:
    if operator == "~>":
        return bound <= version < bound.bump()
    return {
        "=": version == bound, "!=": version != bound, ">": version > bound,
        "<": version < bound, ">=": version >= bound, "<=": version <= bound,
    }[operator]


def satisfies(version: str, requirement: str) -> bool:
    """Whether ``version`` meets every constraint of ``requirement`` ("~> 2.0.9,
    >= 2.0.9.1"); an unreadable requirement lets nothing through."""
    constraints = _constraints(requirement)
    if constraints is None:
        return False
    candidate = GemVersion(version)
    return all(_meets(candidate, operator, bound) for operator, bound in constraints)


def lower_bound(requirement: str) -> GemVersion | None:
    """The least version ``requirement`` names as allowed (its highest ``>=``,
    ``~>`` or ``=`` bound)."""
    bounds = [bound for operator, bound in _constraints(requirement) or []
              if operator in ("=", ">=", "~>", ">")]
    return max(bounds) if bounds else None


def fix_for(version: str, patched: Sequence[str]) -> str | None:
    """Of an advisory's patched requirements, the nearest one up from ``version``
    (``3.1.10`` and ``~> 2.2.13``, ``~> 3.0.14``, ``>= 3.1.12``: ``>= 3.1.12``);
    None when none lies above it."""
    current = GemVersion(version)
    above = [(bound, requirement) for requirement in patched
             if (bound := lower_bound(requirement)) is not None and bound > current]
    return min(above, key=lambda pair: pair[0])[1] if above else None
