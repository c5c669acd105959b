"""Postmortem Markdown from fixed incidents: golden files, a real Markdown parser's view
of it (headings, tables keep their column count, every fence closes, no backslash
that changes nothing), the drafts made from the record, and no seeded secret.

Set ``UPDATE_GOLDEN=1`` to rewrite ``tests/golden/*.md`` after a deliberate change;
read the diff before committing it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from rainbow_tui.incidents.model import (
    AlertEvidence,
    Incident,
    PostmortemText,
    VerificationRecorded,
    new_incident,
    note,
)
from rainbow_tui.incidents.postmortem import (
    code_fence,
    code_span,
    escape_cell,
    escape_text,
    render_postmortem,
)
from rainbow_tui.incidents.verification_words import detail_words
from rainbow_tui.text import language
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


def drafted_incident() -> Incident:
    """The full incident with nothing written: every section drafted from the record."""
    return msgspec.structs.replace(full_incident(), postmortem=PostmortemText(), action_items=())


CASES = {
    "postmortem-full": full_incident,
    "postmortem-minimal": minimal_incident,
    "postmortem-drafted": drafted_incident,
}


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
    assert len(sections) in (10, 11)  # the appendix when output was trimmed
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


def _headings(tokens: list[Token], tag: str) -> list[str]:
    return [
        tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == tag
    ]


H2 = [
    "概要 / Summary", "影響 / Impact", "タイムライン / Timeline", "検知 / Detection",
    "対応 / Response", "根本原因とトリガー / Root cause and trigger", "解決 / Resolution",
    "教訓 / Lessons learned", "アクションアイテム / Action items",
    "補足情報 / Supporting information",
]
APPENDIX = "付録: コマンド出力 / Appendix: command output"
MD = MarkdownIt("commonmark").enable("table")
_ESCAPE = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def _stray_escapes(inline: str) -> list[str]:
    """Backslash escapes in ``inline`` Markdown that change nothing: without the
    backslash it renders the same."""
    stray = []
    rendered = MD.renderInline(inline)
    for match in _ESCAPE.finditer(inline):
        without = inline[: match.start()] + inline[match.end():]
        if MD.renderInline(without) == rendered:
            stray.append(inline[max(0, match.start() - 20): match.end() + 20])
    return stray


@pytest.mark.parametrize("name", sorted(CASES))
def test_renders_cleanly_in_a_markdown_parser(name: str) -> None:
    incident = CASES[name]()
    markdown = render_postmortem(incident, POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    tokens = MD.parse(markdown)

    h2 = _headings(tokens, "h2")
    assert h2 in (H2, [*H2, APPENDIX])  # no fence swallowed a section
    tables = _tables(tokens)
    assert tables and all(len(set(rows)) == 1 for rows in tables), tables
    assert tables[1][0] == 3  # the timeline: time, who, what

    # Escapes only where Markdown would act: none that a reader sees for nothing.
    inline = [t.content for t in tokens if t.type == "inline"]
    assert [s for text in inline for s in _stray_escapes(text)] == []
    for secret in SECRETS:
        assert secret not in markdown


def test_plain_text_stays_as_typed() -> None:
    markdown = render_postmortem(full_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    assert "rainbow\\_" not in markdown and "\\#" not in markdown and "\\[" not in markdown
    assert "Request spec for RainbowsController#index \\| all params" in markdown  # cell's |
    assert "aws_secret_access_key=[REDACTED]" in markdown
    assert "Slack #rainbow-dev" in markdown


def test_full_postmortem_structure() -> None:
    incident = full_incident()
    markdown = render_postmortem(incident, POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    tokens = MD.parse(markdown)
    h3 = _headings(tokens, "h3")
    # The response by time: step 1, then 3 and 4 (the boot, the rollback), 5, 6; the
    # deploy-lock step never started is said so, not left out.
    steps = [h for h in h3 if h[:2] in ("1.", "2.", "3.", "4.", "5.", "6.")]
    assert [h.split(".")[0] for h in steps] == ["1", "3", "4", "5", "6"]
    assert "未着手の手順 / Steps not started" in h3
    assert "- 2. デプロイロックの確認 / Check the deploy lock" in markdown
    # Each verification once, in words, never by its internal name.
    verifications = sum(isinstance(e, VerificationRecorded) for e in incident.events)
    assert markdown.count("HTTP check: /up answers 200") == verifications
    assert "http_ok" not in markdown
    # The note is under the step it was written in (the boot), before its end.
    boot = markdown.index("### 3. ")
    rollback = markdown.index("### 4. ")
    assert boot < markdown.index("Boot did not help") < rollback
    # The declined command is recorded; the declared incident has its timeline entry.
    assert "**実行せず / Declined** kamal" in markdown
    assert "incident 2026-11-28-0314-service-down declared" in markdown
    # Action items: the pipe and the newline stay inside their cell; the one added on
    # the timeline is there too.
    assert _tables(tokens)[-1] == [5, 5, 5, 5, 5]
    assert "Rollback runbook step first" in markdown
    assert "Time to acknowledge: 3 min 00 s (期限内 / in time)" in markdown  # the edited time
    assert "PagerDuty shows the ack at 03:15" in markdown


def test_long_output_is_trimmed_with_the_rest_in_the_appendix() -> None:
    markdown = render_postmortem(full_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    response, appendix = markdown.split("## 付録: コマンド出力 / Appendix: command output")
    logs = response[response.index("bundle exec kamal app logs --lines 40"):]
    logs = logs[: logs.index("完了 / Done")]
    # First and last lines, and the error line between them; the rest is counted.
    assert "[r0] Completed 500" in logs and "[r39] Completed 500" in logs
    assert "NameError (undefined local variable `rainbow_id`)" in logs
    assert "[r10]" not in logs
    assert "33 more lines in appendix A1" in logs
    assert all(f"[r{n}]" in appendix for n in range(40))


def test_sections_not_written_are_drafted_from_the_record() -> None:
    markdown = render_postmortem(drafted_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    section = {
        heading: body
        for heading, body in re.findall(r"^## (.+?)\n\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    }
    summary = section["概要 / Summary"]
    assert "Mitigated (service back) 11 min 00 s after detection." in summary
    assert "step 4, 改善しない場合はロールバック / If that did not help: roll back" in summary
    impact = section["影響 / Impact"]
    assert "5xx rate: 96.4 % (at declare), 0.04 % (at mitigation), 0.04 % (at resolution)" in impact
    assert "1180, about 1138 of them failed" in impact
    causes = section["根本原因とトリガー / Root cause and trigger"]
    assert "A renamed local in RainbowsController#index shipped without a test." in causes
    assert "`service:health` — service: /up HTTP 500: service down: HTTP 500" in causes
    resolution = section["解決 / Resolution"]
    assert "`bundle exec kamal rollback 0fe43001ee0e`" in resolution
    assert "answered 200 in 35 ms" in resolution
    assert "drafted from the record" in summary
    # Metrics at declare and at resolution both among the evidence.
    assert "### Findings at start (metrics snapshot" in markdown
    assert "### Findings at resolution (metrics snapshot" in markdown


def test_related_alerts_are_listed_under_detection() -> None:
    incident = full_incident()
    sibling = AlertEvidence(key="service:error_rate_percent", title="5xx rate 96.4 %",
                            level="critical", severity="critical", first_seen=at(0.5),
                            respond_by=at(15.5))
    incident = msgspec.structs.replace(incident, related_alerts=(sibling,))
    markdown = render_postmortem(incident, POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    detection = markdown[markdown.index("## 検知 / Detection"): markdown.index("## 対応")]
    assert "関連アラート / Related alerts:" in detection
    assert "- `service:error_rate_percent` — 5xx rate 96.4 % (critical," in detection


def test_metric_verdicts_read_with_units() -> None:
    english = language("en")
    assert detail_words("host app-1:memory_percent = 55.9701 ≤ warn 80", english) == (
        "host app-1 Memory 56.0 % (warn 80 %)"
    )
    assert detail_words("service:response_time_p95_ms = 1234.5 > warn 500", english) == (
        "service p95 1,234 ms (above warn 500 ms)"
    )
    assert detail_words("GET https://x/up answered 200", english) == "GET https://x/up answered 200"


def test_escaping_helpers() -> None:
    assert escape_cell("a | b\nc") == "a \\| b<br>c"
    assert escape_cell("") == " "
    assert escape_text("rainbow_tui and Controller#index [REDACTED]") == (
        "rainbow_tui and Controller#index [REDACTED]"
    )
    assert escape_text("# not a heading\n1. not a list\n*not emphasis*") == (
        "\\# not a heading\n1\\. not a list\n\\*not emphasis\\*"
    )
    fence = code_fence("````\nx")
    assert fence.startswith("`````text\n") and fence.endswith("\n`````")
    assert code_span("a `b` c") == "``a `b` c``"


_PRINTABLE = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40
)


@given(_PRINTABLE)
@example("__0__")  # an underscore beside an underscore opens emphasis
@example("rainbow_tui __init__ a_b")
def test_escaped_text_reads_back_as_written(text: str) -> None:
    """Whatever a note says, the paragraph Markdown makes of it is that text."""
    line = " ".join(text.split())
    escaped = escape_text(line)
    if not escaped:
        return
    tokens = MD.parse(escaped)
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], escaped
    children = tokens[1].children or []
    shown = "".join(c.content for c in children if c.type in ("text", "code_inline"))
    assert shown == line and all(c.type == "text" for c in children), (escaped, children)


@given(_PRINTABLE)
def test_escaped_cells_stay_one_cell(text: str) -> None:
    markdown = f"| a |\n| --- |\n| {escape_cell(' '.join(text.split()))} |\n"
    assert _tables(MD.parse(markdown)) == [[1, 1]]
