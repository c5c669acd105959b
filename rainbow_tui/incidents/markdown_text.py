"""Text into Markdown that reads as written, escaped only where Markdown would act.

A postmortem is read as plain text as often as rendered, so ``rainbow_tui`` and
``Controller#index`` must stay as typed: a backslash goes only before a character
that would otherwise start Markdown syntax (emphasis, code, links, HTML, entities,
line-start blocks).  Names and commands go into code spans and fences, whose fence
is longer than any backtick run inside, so pasted log lines cannot close it early.
Everything is redacted on the way in.
"""

from __future__ import annotations

import re

from rainbow_tui.incidents.redact import redact

__all__ = ["code_fence", "code_span", "escape_cell", "escape_text", "table"]

_BACKTICKS = re.compile(r"`+")
# Inline: what starts syntax wherever it stands.  A backtick (code span); a backslash
# before punctuation; a star that is not between spaces, an underscore not between
# letters or digits (inside a word it never is emphasis: rainbow_tui; beside another
# underscore it can be: __0__); ~~ (strikethrough); < that
# opens HTML or an autolink; & that spells an entity; ] that ends a link's text.
_INLINE = re.compile(
    r"""
    `
  | \\(?=[!-/:-@\[-`{-~])
  | (?<!\s)\*|\*(?!\s)
  | (?<![^\W_])_|_(?![^\W_])
  | ~(?=~)
  | <(?=[A-Za-z/!?])
  | &(?=\#?\w+;)
  | \](?=[(\[:])
    """,
    re.VERBOSE,
)
# Line starts that open a block: heading, quote, list item, setext underline or
# thematic break, fence; a table's delimiter row.
_BLOCK_START = re.compile(
    r"#|>|[-+*](?=\s|$)|=+\s*$|-+\s*$|_+\s*$|\d{1,9}[.)](?=\s|$)|~~~|[|:-]*\|[\s|:-]*-[\s|:-]*$"
)


def _escape_inline(line: str) -> str:
    return _INLINE.sub(lambda m: "\\" + m.group(0), line)


def _escape_line(line: str) -> str:
    line = line.strip()  # leading spaces could make a code block, and show nothing
    escaped = _escape_inline(line)
    start = _BLOCK_START.match(escaped)
    if start is not None:
        mark = start.group(0)
        # "1. " opens a list: escape its dot or parenthesis, not the number.
        at = len(mark.rstrip()) - 1 if mark[0].isdigit() else 0
        escaped = escaped[:at] + "\\" + escaped[at:]
    return escaped


def escape_text(text: str) -> str:
    """Plain text that Markdown shows as written; its lines stay lines of one
    paragraph (blank ones dropped, so it stays one)."""
    lines = redact(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_escape_line(line) for line in lines if line.strip())


def escape_cell(text: str) -> str:
    """Text for one table cell: escaped as inline text, ``|`` too, lines joined by
    ``<br>`` (block syntax cannot start inside a cell)."""
    lines = redact(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cells = [_escape_inline(line.strip()).replace("|", "\\|") for line in lines]
    return "<br>".join(cell for cell in cells if cell) or " "


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """Inline code that survives backticks in ``text`` (one line)."""
    text = redact(text).replace("\r", " ").replace("\n", " ")
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def code_fence(text: str, info: str = "text") -> str:
    """A fenced block longer than any backtick run inside, so it always closes."""
    text = redact(text).rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def table(headings: list[str], rows: list[list[str]], *, cells_are_markdown: bool = False) -> str:
    """A table; cells escaped as text unless ``cells_are_markdown`` (then each is
    Markdown already, inline only, its ``|`` escaped)."""
    def cell(value: str) -> str:
        if cells_are_markdown:
            return value.replace("\n", "<br>") or " "
        return escape_cell(value)

    lines = [
        "| " + " | ".join(headings) + " |",
        "|" + "|".join(" --- " for _ in headings) + "|",
    ]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
