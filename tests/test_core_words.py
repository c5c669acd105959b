"""The core's own sentences in the console's language: database and job action
results (on a real PostgreSQL), log gap lines, the findings table a new incident
records, and a single-language postmortem's timeline.  Each in Japanese, and in
English exactly as it has always read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from rich.cells import cell_len

from rainbow_tui.actions import DatabaseActions
from rainbow_tui.demo.schema import APP_ROLE, MONITOR_ROLE, QUEUE_DATABASE
from rainbow_tui.findings import Finding
from rainbow_tui.incidents.model import new_incident
from rainbow_tui.incidents.postmortem import render_postmortem
from rainbow_tui.job_actions import BulkOutcome, JobActions
from rainbow_tui.levels import Level
from rainbow_tui.logs.buffer import GapMarker
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.text import LanguageCode, set_language
from tests.helpers.incidents import JST, POSTMORTEM_CONFIG, RUNBOOKS, full_incident
from tests.helpers.queue_db import TABLES, QueueDatabase, add_failed, private_queue_database
from tests.helpers.words import english_left, english_sentences


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def queue_db() -> AsyncIterator[QueueDatabase]:
    async with private_queue_database("rtui-core-words-") as database:
        yield database


@pytest_asyncio.fixture(loop_scope="module")
async def link(queue_db: QueueDatabase) -> AsyncIterator[PostgresLink]:
    await queue_db.fetch(f"TRUNCATE {TABLES} RESTART IDENTITY")
    link = PostgresLink(queue_db.monitor_dsn, statement_timeout_ms=2000)
    yield link
    await link.close()


async def action_messages(db: QueueDatabase, link: PostgresLink) -> list[str]:
    """Every kind of result the queue and backend actions give, in order."""
    actions = JobActions(link)
    retried, discarded, unreadable = await add_failed(db, 3, "Net::ReadTimeout")
    await db.fetch("UPDATE solid_queue_jobs SET arguments = NULL WHERE id = $1", unreadable)
    messages = [
        (await actions.retry_failed_job(retried)).message,
        (await actions.retry_failed_job(retried)).message,
        (await actions.retry_failed_job(unreadable)).message,
        (await actions.discard_failed_job(discarded)).message,
        (await actions.discard_failed_job(discarded)).message,
        (await actions.pause_queue("images")).message,
        (await actions.pause_queue("images")).message,
        (await actions.resume_queue("images")).message,
        (await actions.resume_queue("images")).message,
    ]
    # An idle session of the app: cancelling its (no) query is signalled; once it
    # has closed, its pid is signalled no more.
    app_session = await asyncpg.connect(db.server.dsn(APP_ROLE, QUEUE_DATABASE))
    pid = app_session.get_server_pid()
    backends = DatabaseActions(link)
    messages.append((await backends.cancel_backend(pid)).message)
    await app_session.close()
    gone = await backends.terminate_backend(pid)
    while gone.ok:  # the server may not have reaped the closed session yet
        gone = await backends.terminate_backend(pid)
    messages.append(gone.message)
    return [message.replace(str(pid), "PID").replace(str(retried), "R")
            .replace(str(discarded), "D").replace(str(unreadable), "U") for message in messages]


@pytest.mark.asyncio(loop_scope="module")
async def test_action_results_read_as_before_in_english(
    queue_db: QueueDatabase, link: PostgresLink
) -> None:
    assert MONITOR_ROLE in queue_db.monitor_dsn
    assert await action_messages(queue_db, link) == [
        "retried job R: ready",
        "retry job R: nothing to retry (already handled?)",
        "job U not retried: its arguments are empty",
        "discarded job D",
        "discard job D: nothing to discard (already handled?)",
        "paused queue images",
        "queue images was already paused",
        "resumed queue images",
        "queue images was not paused",
        "cancelled the query of backend PID",
        "backend PID not signalled (already gone?)",
    ]


@pytest.mark.asyncio(loop_scope="module")
async def test_action_results_in_japanese(queue_db: QueueDatabase, link: PostgresLink) -> None:
    set_language("ja")
    messages = await action_messages(queue_db, link)
    assert messages == [
        "ジョブ R を再実行: 実行待ち",
        "ジョブ R の再実行: 再実行するものがありません（対応済み？）",
        "ジョブ U は再実行していません: 引数が空です",
        "ジョブ D を破棄しました",
        "ジョブ D の破棄: 破棄するものがありません（対応済み？）",
        "キュー images を一時停止しました",
        "キュー images はすでに一時停止中でした",
        "キュー images を再開しました",
        "キュー images は一時停止していませんでした",
        "バックエンド PID のクエリをキャンセルしました",
        "バックエンド PID にシグナルを送れませんでした（すでに終了？）",
    ]
    assert english_left("\n".join(messages)) == {}


# -- bulk outcomes: said when shown, in the language of that moment --------------------

PARTIAL_RETRY = BulkOutcome(
    verb="retry", exception_class="Net::ReadTimeout", total=61_234, done=1_200, left=60_000,
    gone=34, ready=1_000, blocked=150, scheduled=40, discarded=10, cancelled=True,
    problems=("job 7 not retried: its arguments are empty",),
)
STOPPED_DISCARD = BulkOutcome(
    verb="discard", exception_class="Net::ReadTimeout", total=5_000, done=1_000, left=4_000,
    error="connection lost",
)


def test_bulk_outcomes_read_as_before_in_english() -> None:
    assert PARTIAL_RETRY.message == (
        "Cancelled: retried 1 200 of 61 234 failed jobs of Net::ReadTimeout (1 000 ready, "
        "150 blocked by their concurrency key, 40 scheduled, 10 discarded on conflict; "
        "60 000 left failed; 34 already handled elsewhere) — job 7 not retried: its "
        "arguments are empty"
    )
    assert STOPPED_DISCARD.message == (
        "Stopped by an error: discarded 1 000 of 5 000 failed jobs of Net::ReadTimeout "
        "(4 000 left failed): connection lost"
    )


def test_bulk_outcomes_in_japanese() -> None:
    set_language("ja")
    assert PARTIAL_RETRY.message == (
        "中止: Net::ReadTimeout の失敗ジョブ 61 234 件中 1 200 件を再実行しました（実行待ち "
        "1 000 件、同時実行キーでブロック中 150 件、予定済み 40 件、競合により破棄 10 件；"
        "失敗のまま 60 000 件；他で対応済み 34 件） — job 7 not retried: its arguments are empty"
    )
    assert STOPPED_DISCARD.message == (
        "エラーで停止: Net::ReadTimeout の失敗ジョブ 5 000 件中 1 000 件を破棄しました"
        "（失敗のまま 4 000 件）: connection lost"
    )


# -- log gap lines -------------------------------------------------------------------

LOST_AT = datetime(2026, 11, 27, 18, 2, 11, tzinfo=UTC)
GAPS = (
    GapMarker("app-1", "web", LOST_AT, LOST_AT + timedelta(seconds=8.1)),
    GapMarker("app-1", "web", LOST_AT, LOST_AT + timedelta(seconds=8.1), lines_missed=1),
    GapMarker("", "", LOST_AT, LOST_AT + timedelta(seconds=2), lines_missed=12),
)


def test_gap_lines_read_as_before_in_english() -> None:
    assert [gap.describe(JST) for gap in GAPS] == [
        "── app-1/web: stream lost 03:02:11 → 03:02:19 (8.1 s) ──",
        "── app-1/web: stream lost 03:02:11 → 03:02:19 (8.1 s, 1 line missed) ──",
        "── stream: stream lost 03:02:11 → 03:02:13 (2.0 s, 12 lines missed) ──",
    ]


def test_gap_lines_in_japanese() -> None:
    set_language("ja")
    assert [gap.describe(JST) for gap in GAPS] == [
        "── app-1/web: ストリーム断 03:02:11 → 03:02:19（8.1 秒） ──",
        "── app-1/web: ストリーム断 03:02:11 → 03:02:19（8.1 秒、1 行欠落） ──",
        "── ストリーム: ストリーム断 03:02:11 → 03:02:13（2.0 秒、12 行欠落） ──",
    ]
    assert GAPS[0].text == GAPS[0].describe()


# -- the findings a new incident records ---------------------------------------------


def findings_evidence(code: LanguageCode) -> tuple[str, str, str]:
    set_language(code)
    findings = [
        Finding("database", "db_connections", "Connections", "42 / 100", Level.NORMAL,
                value=42),
    ]
    incident = new_incident(runbook=RUNBOOKS.runbooks["db-connections"], findings=findings,
                            at=LOST_AT, author="kobayashi", tz=JST)
    (evidence,) = incident.evidence
    return incident.title, evidence.title, evidence.content


def test_findings_at_start_read_as_before_in_english() -> None:
    assert findings_evidence("en") == (
        "データベース接続エラー / Database connection errors",
        "Findings at start",
        "component  metric       value     level\n"
        "database   Connections  42 / 100  normal",
    )


def test_findings_at_start_in_japanese_line_up_in_cells() -> None:
    title, evidence_title, content = findings_evidence("ja")
    # The title stays the runbook's in both languages: responders of either read it.
    assert title == "データベース接続エラー / Database connection errors"
    assert evidence_title == "開始時の監視結果"
    header, row = content.splitlines()
    assert header.split() == ["コンポーネント", "項目", "値", "レベル"]
    # Columns start at the same terminal cell though a kanji takes two.
    assert row.startswith("データベース")  # the component in the table's language
    assert cell_len(header[: header.index("項目")]) == cell_len(row[: row.index("Connections")])
    assert cell_len(header[: header.index("レベル")]) == cell_len(row[: row.index("normal")])


# -- a Japanese postmortem's timeline ------------------------------------------------


def timeline_rows(rendered: str) -> list[str]:
    body = rendered.split("\n## ")[3]  # title, facts, summary, impact: then the timeline
    return [line for line in body.splitlines() if line.startswith("| 2026-")]


def test_japanese_postmortem_timeline_has_no_english_sentence() -> None:
    rendered = render_postmortem(full_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST,
                                 languages=("ja",))
    rows = timeline_rows(rendered)
    assert rows[0] == "| 2026-11-28 03:12:00 | tanaka | 状態 → 検知 |"
    timeline_keys = {key for key in english_sentences() if key.startswith("timeline.")}
    assert set(english_left("\n".join(rows))) & timeline_keys == set()
    assert "終了コード 0、1.2 秒" in rendered and "exit 0" not in rendered


def test_bilingual_postmortem_timeline_keeps_the_record_words() -> None:
    rendered = render_postmortem(full_incident(), POSTMORTEM_CONFIG, runbooks=RUNBOOKS, tz=JST)
    rows = timeline_rows(rendered)
    assert rows[0] == "| 2026-11-28 03:12:00 | tanaka | status → 検知 / detected |"
    assert "ok — exit 0, 1.2 s, 2026-11-28 03:17:12" in rendered
