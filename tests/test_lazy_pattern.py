"""The log grammar's regexes compile when a line first needs them, not at import,
and once compiled they are the compiled pattern's own methods."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from rainbow_tui.logs.parse.lazy_pattern import LazyPattern


def test_a_lazy_pattern_matches_as_the_compiled_one() -> None:
    source = r"Completed (\d{3})\b.*? in (\d+)ms"
    lazy, compiled = LazyPattern(source), re.compile(source)
    assert lazy.pattern == source  # known before compiling: patterns are built from it
    line = "Completed 500 Internal Server Error in 12ms (ActiveRecord: 1.0ms)"
    lazy_match, compiled_match = lazy.match(line), compiled.match(line)
    assert lazy_match is not None and compiled_match is not None
    assert lazy_match.groups() == compiled_match.groups() == ("500", "12")
    assert lazy.fullmatch(line) is None
    assert lazy.search("x " + line) is not None
    assert lazy.findall(line + " " + line) == compiled.findall(line + " " + line)
    assert [m.span() for m in lazy.finditer(line)] == [m.span() for m in compiled.finditer(line)]


def test_once_compiled_its_methods_are_the_patterns_own() -> None:
    lazy = LazyPattern(r"\[([^\[\]]*)\] *", re.IGNORECASE)
    assert "match" not in vars(lazy)
    lazy.search("[abc]")
    # Bound methods of a compiled pattern, on the instance: no Python frame per call.
    for method in ("match", "fullmatch", "search", "findall", "finditer"):
        bound = vars(lazy)[method]
        assert isinstance(bound.__self__, re.Pattern)
        assert bound.__self__.flags & re.IGNORECASE


def test_anything_else_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        LazyPattern("x").groupindex_of_nothing  # noqa: B018 (the access is the test)


COUNT_COMPILED = """
import importlib, pkgutil
import rainbow_tui.logs.parse as grammar
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

def lazies():
    for info in pkgutil.iter_modules(grammar.__path__):
        module = importlib.import_module(f"{grammar.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, LazyPattern):
                yield value

def compiled():
    return sum(1 for lazy in set(lazies()) if "match" in vars(lazy))

print(len(set(lazies())), compiled(), end=" ")
line = grammar.parse_line(
    "2026-01-01T00:00:00.000000000Z [abc-1] Completed 200 OK in 5ms", "app-1", "web"
)
assert line.level is grammar.LogLevel.INFO and line.request_id == "abc-1", line
print(compiled())
"""


def test_importing_the_grammar_compiles_none_and_a_line_only_what_it_needs() -> None:
    result = subprocess.run(
        [sys.executable, "-c", COUNT_COMPILED], capture_output=True, text=True, check=True
    )
    patterns, at_import, after_one_line = map(int, result.stdout.split())
    assert patterns >= 20
    assert at_import == 0
    assert 0 < after_one_line < patterns
