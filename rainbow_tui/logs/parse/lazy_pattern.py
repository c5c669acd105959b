"""Regular expressions compiled on first use, not when the grammar is imported.

The console imports the log grammar before its first frame, and lines arrive only
after it: the few dozen patterns wait until a line needs them.  The first call of a
method compiles the pattern and keeps the compiled pattern's bound methods on the
instance, so from then on ``lazy.match(text)`` costs what ``compiled.match(text)``
does (an attribute of the instance, no Python frame in between).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# The methods of re.Pattern the grammar calls; each is bound on first use.
_METHODS = ("match", "fullmatch", "search", "findall", "finditer", "sub", "split")


class LazyPattern:
    """``re.compile(pattern)``, done the first time a method is called.

    ``pattern`` is known from the start (other patterns are built from it)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str) -> object:
        # Only called for what the instance does not have yet: the methods.
        if name not in _METHODS:
            raise AttributeError(name)
        compiled = re.compile(self.pattern, self.flags)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)

    if TYPE_CHECKING:
        # What the methods are once bound: re.Pattern[str]'s own.
        def match(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def fullmatch(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def search(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]: ...

        def finditer(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> Iterator[re.Match[str]]: ...

        def sub(self, repl: str, string: str, count: int = 0) -> str: ...

        def split(self, string: str, maxsplit: int = 0) -> list[str | Any]: ...
