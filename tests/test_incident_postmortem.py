"""Postmortem Markdown from fixed incidents: golden files, a real Markdown parser's view
of it (tables keep their column count, every fence closes), and no seeded secret.

Set ``UPDATE_GOLDEN=1`` to rewrite ``tests/golden/*.md`` after a deliberate change;
read the diff before committing it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from rainbow_tui.incidents.model import (
    Incident,
    new_incident,
    note,
)
from rainbow_tui.incidents.postmortem import code_fence, escape_cell, render_postmortem
from tests.helpers.incidents import JST, POSTMORTEM_CONFIG, RUNBOOKS, at, full_incident

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 11, 27, 18, 12, tzinfo=UTC)  # 03:12 JST on the 28th

SECRETS = [
    "Sup3rS3cret-pw",
    "s3cr3t-dsn-pass",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "0123456789abcdef0123456789abcdef",
    "MIIEpAIBAAKCAQEAsecretkeybody",
    "eyJhbGciOiJIUzI1NiJ9.payload.sig",
]

def minimal_incident() -> Incident:
    """Opened by hand, one note, nothing written yet."""
    runbook = RUNBOOKS.runbooks["db-connections"]
    incident = new_incident(runbook=runbook, at=at(0), author="kobayashi", tz=JST)
    return incident.with_event(
        note(incident, "Users report timeouts; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig in a curl", at=at(1), author="kobayashi")
    )


CASES = {"postmortem-full": full_incident, "postmortem-minimal": minimal_incident}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    rendered = render_postmortem(CASES[name](), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_japanese(name: str) -> None:
    """With one language asked for, every heading and fixed phrase is in it."""
    rendered = render_postmortem(CASES[name](), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST,
                                 languages=("ja",))
    path = GOLDEN / f"{name}.ja.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")
    assert rendered.startswith("# ポストモーテム: ")
    sections = [line for line in rendered.splitlines() if line.startswith("## ")]
    assert len(sections) == 10
    assert [s for s in sections if re.search(r"[A-Za-z]{3}", s)] == []


def _tables(tokens: list[Token]) -> list[list[int]]:
    """Cells per row, for every table."""
    tables: list[list[int]] = []
    for token in tokens:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            tables[-1].append(0)
        elif token.type in ("th_open", "td_open"):
            tables[-1][-1] += 1
    return tables


H2 = [
    "概要 / Summary", "影響 / Impact", "タイムライン / Timeline", "検知 / Detection",
    "対応 / Response", "根本原因とトリガー / Root cause and trigger", "解決 / Resolution",
    "教訓 / Lessons learned", "アクションアイテム / Action items",
    "補足情報 / Supporting information",
]


@pytest.mark.parametrize("name", sorted(CASES))
def test_renders_cleanly_in_a_markdown_parser(name: str) -> None:
    incident = CASES[name]()
    markdown = render_postmortem(incident, POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)

    headings = [
        tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"
    ]
    assert headings == H2  # no fence swallowed a section
    phases = [
        tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"
    ]
    assert phases[:5] == ["検知 / Detect", "封じ込め / Contain", "根絶 / Eradicate", "復旧 / Recover", "教訓 / Lessons"]

    tables = _tables(tokens)
    assert tables and all(len(set(rows)) == 1 for rows in tables), tables
    timeline = tables[1]
    assert len(timeline) == 1 + len(incident.events)
    assert timeline[0] == 3

    fences = [t.content for t in tokens if t.type == "fence"]
    for evidence in incident.pinned_evidence():
        if evidence.kind == "log_lines":
            # The pasted lines come back whole, backticks and all (the key redacted).
            assert "````not a fence end````\n| not | a | table |\n" in "".join(fences)
    for secret in SECRETS:
        assert secret not in markdown


def test_full_postmortem_structure() -> None:
    markdown = render_postmortem(full_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    h3 = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    assert h3[:6] == [
        "検知 / Detect", "封じ込め / Contain", "根絶 / Eradicate", "復旧 / Recover", "教訓 / Lessons",
        "エスカレーション / Escalation",
    ]
    # Action items: the pipe and the newline stay inside their cell.
    items = _tables(tokens)[-1]
    assert items == [5, 5, 5, 5]
    cells = [t.children for t in tokens if t.type == "inline" and t.children]
    texts = ["".join(c.content for c in children if c.type == "text") for children in cells]
    assert "Request spec for RainbowsController#index | all params" in texts
    assert "Time to acknowledge: 3 min 00 s (期限内 / in time)" in markdown  # the edited time
    assert "PagerDuty shows the ack at 03:15" in markdown


def test_escaping_helpers() -> None:
    assert escape_cell("a | b\nc") == "a \\| b<br>c"
    assert escape_cell("") == " "
    fence = code_fence("````\nx")
    assert fence.startswith("`````text\n") and fence.endswith("\n`````")
