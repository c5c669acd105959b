"""Routines run headless on the demo stack, for real: each item has a result, the
run is recorded and exportable; VACUUM ANALYZE and the clearing of finished jobs
measured on the demo's real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest
from markdown_it import MarkdownIt

from rainbow_tui.cli import main
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.demo.schema import APP_ROLE
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.text import Phrase
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.finished_jobs import clear_finished_jobs
from rainbow_tui.upkeep.record import RoutineRecords
from rainbow_tui.upkeep.vacuum import DEAD_TUPLES_SQL, vacuum_analyze


def _cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[service]\nkamal_service = "x"\n[incidents]\nstate_dir = "{state}"\n')
    monkeypatch.setenv("RAINBOW_TUI_CONFIG", str(config_file))
    return state


def _routine_headless(routine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    state = _cli_config(tmp_path, monkeypatch)
    status = main(["--lang", "en", "routine", routine, "--demo", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == document["exit_status"]
    items = document["items"]
    assert isinstance(items, list) and items
    for item in items:
        assert item["outcome"] in ("ok", "warning", "critical", "unknown"), item
        assert item["said"], item
    record = RoutineRecords(state).load(str(document["id"]))
    assert record.finished_at is not None and record.demo
    assert [item.outcome for item in record.items] == [item["outcome"] for item in items]
    out = tmp_path / "report.md"
    assert main(["routine", "export", record.id, "-o", str(out)]) == 0
    tokens = MarkdownIt("commonmark").enable("table").parse(out.read_text())
    assert sum(token.type == "table_open" for token in tokens) >= 2
    return document


def _by_item(document: dict[str, object]) -> dict[str, dict[str, object]]:
    items = document["items"]
    assert isinstance(items, list)
    return {str(item["item"]): item for item in items}


def test_daily_headless_on_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _by_item(_routine_headless("daily", tmp_path, monkeypatch, capsys))
    assert items["health"]["outcome"] == "ok" and "/up" in str(items["health"]["said"])
    assert items["logs"]["outcome"] == "ok"  # kamal app logs --since 1h ran and ended 0
    assert items["logs-figures"]["outcome"] == "ok"
    assert "Requests" in str(items["logs-figures"]["said"])
    # This run's own round is in the history: the day has figures.
    assert items["day-figures"]["outcome"] in ("ok", "warning")


@pytest.mark.slow
def test_weekly_headless_on_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _by_item(_routine_headless("weekly", tmp_path, monkeypatch, capsys))
    assert items["database-size"]["outcome"] == "ok"
    assert items["performance"]["outcome"] in ("ok", "warning")
    # bundler-audit in the demo's app container: its Gemfile.lock is clean.
    assert items["bundler-audit"]["outcome"] == "ok", items["bundler-audit"]


@pytest.mark.slow
def test_monthly_headless_on_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _by_item(_routine_headless("monthly", tmp_path, monkeypatch, capsys))
    # Without --yes nothing that changes the checkout runs.
    assert "not confirmed" in str(items["bundle-update"]["said"])
    assert items["vacuum"]["outcome"] in ("ok", "warning")
    figures = items["vacuum"]["figures"]
    assert isinstance(figures, dict) and "dead_tuples_before" in figures
    assert items["finished-jobs"]["outcome"] in ("ok", "unknown")
    # Brakeman and bundler-audit in the demo's app container: nothing to fix.
    assert items["brakeman"]["outcome"] == "ok", items["brakeman"]
    assert items["bundler-audit"]["outcome"] == "ok", items["bundler-audit"]


@pytest.mark.slow
def test_quarterly_headless_restores_the_latest_demo_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    items = _by_item(_routine_headless("quarterly", tmp_path, monkeypatch, capsys))
    drill = items["dr-drill"]
    assert drill["outcome"] == "ok", drill
    assert "restored into a scratch PostgreSQL" in str(drill["said"])
    assert any("rows:" in line for line in drill["lines"])  # type: ignore[union-attr]
    review = items["performance-review"]
    assert "pg_stat_statements" in str(review["said"]) or review["outcome"] in ("ok", "warning")


def _context(stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             **routines: float) -> tuple[RoutineContext, list[str], list[str]]:
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, incidents_dir=tmp_path / "state")
    config = msgspec.structs.replace(
        config, routines=msgspec.structs.replace(config.routines, **routines))
    asked: list[str] = []
    progress: list[str] = []

    async def confirm(question: Phrase) -> bool:
        asked.append(question.text())
        return True

    context = RoutineContext(config, CommandRunner(config), None, confirm,
                             lambda line: progress.append(line.text()))
    return context, asked, progress


async def test_finished_jobs_are_cleared_as_solid_queue_clears_them(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rails/solid_queue app/models/solid_queue/job/clearable.rb: finished_at before
    clear_finished_jobs_after.ago (exclusive), limit(batch_size).delete_all until a
    batch deletes none; unfinished and recent jobs stay."""
    # The demo prunes jobs finished over an hour ago itself: these are younger.
    context, asked, progress = _context(demo_stack, tmp_path, monkeypatch,
                                        clear_finished_jobs_after_s=600, clear_batch_size=2)
    now = datetime.now(UTC).replace(tzinfo=None)
    old, recent = now - timedelta(minutes=30), now - timedelta(minutes=1)
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_queue_dsn)
    try:
        insert = ("INSERT INTO solid_queue_jobs (queue_name, class_name, finished_at, created_at,"
                  " updated_at) VALUES ('routine_test', $1, $2, $2, $2) RETURNING id")
        old_ids = [await connection.fetchval(insert, "OldJob", old) for _ in range(5)]
        recent_id = await connection.fetchval(insert, "RecentJob", recent)
        unfinished_id = await connection.fetchval(
            "INSERT INTO solid_queue_jobs (queue_name, class_name, created_at, updated_at)"
            " VALUES ('routine_test', 'Unfinished', $1, $1) RETURNING id", old)
        result = await clear_finished_jobs(context)
        left = await connection.fetch(
            "SELECT id FROM solid_queue_jobs WHERE id = ANY($1::bigint[])",
            [*old_ids, recent_id, unfinished_id])
        await connection.execute("DELETE FROM solid_queue_jobs WHERE queue_name = 'routine_test'")
    finally:
        await connection.close()
    assert {row["id"] for row in left} == {recent_id, unfinished_id}
    assert result.outcome == "ok"
    assert result.figures["clearable_before"] >= 5
    assert result.figures["clearable_after"] == 0
    assert result.figures["deleted"] >= 5 and result.figures["batches"] >= 3
    assert len(asked) == 1 and "Delete the" in asked[0]
    assert progress and "deleted" in progress[-1]


async def test_declined_cleanup_deletes_nothing(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _, _ = _context(demo_stack, tmp_path, monkeypatch, clear_finished_jobs_after_s=600)

    async def refuse(_question: Phrase) -> bool:
        return False

    context.confirm = refuse
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30)
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_queue_dsn)
    try:
        job = await connection.fetchval(
            "INSERT INTO solid_queue_jobs (queue_name, class_name, finished_at, created_at,"
            " updated_at) VALUES ('routine_test', 'Kept', $1, $1, $1) RETURNING id", now)
        result = await clear_finished_jobs(context)
        kept = await connection.fetchval("SELECT count(*) FROM solid_queue_jobs WHERE id = $1", job)
        await connection.execute("DELETE FROM solid_queue_jobs WHERE queue_name = 'routine_test'")
    finally:
        await connection.close()
    assert kept == 1
    assert result.outcome == "unknown" and "not deleted" in result.phrase.text()


async def test_vacuum_analyze_reclaims_the_dead_tuples_it_reports(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the manual's ``psql -U <app> -c "VACUUM ANALYZE;"``: run as the tables' owner
    (the demo names the app role's DSN in owner_dsn_env), it vacuums the app's tables,
    and only the shared catalogs a superuser alone may vacuum are left (counted, not
    a warning)."""
    context, _, progress = _context(demo_stack, tmp_path, monkeypatch)
    assert context.config.database.owner_dsn_env
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        await connection.execute("CREATE TABLE routine_vacuum_test (id int, note text)")
        await connection.execute(f'ALTER TABLE routine_vacuum_test OWNER TO "{APP_ROLE}"')
        await connection.execute(
            "INSERT INTO routine_vacuum_test SELECT g, 'x' FROM generate_series(1, 20000) g")
        await connection.execute("DELETE FROM routine_vacuum_test WHERE id % 2 = 0")
        # The statistics reach other sessions once this one reports them (at idle).
        dead = 0
        for _ in range(50):
            await connection.execute("SELECT pg_stat_clear_snapshot()")
            dead = int(await connection.fetchval(DEAD_TUPLES_SQL))
            if dead >= 10000:
                break
            await connection.execute("SELECT pg_sleep(0.2)")
        assert dead >= 10000
        result = await vacuum_analyze(context)
    finally:
        await connection.execute("DROP TABLE IF EXISTS routine_vacuum_test")
        await connection.close()
    assert result.figures["dead_tuples_before"] >= 10000
    assert result.figures["dead_tuples_after"] < result.figures["dead_tuples_before"]
    assert "dead tuples" in result.phrase.text()
    # Each app table as it finishes, with what VERBOSE says it removed: the 10000
    # deleted rows here (the demo's own tables may have a few more of theirs).
    assert "public.routine_vacuum_test: 10000 dead tuples removed" in progress
    assert result.figures["dead_tuples_removed"] >= 10000
    assert result.figures["tables_vacuumed"] >= 2  # this table and the app's sessions
    assert all("blocks" in line or line.endswith(" removed") for line in progress)
    assert result.outcome == "ok", result.phrase.text()
    assert result.figures["tables_skipped"] == 0
    # pg_authid, pg_database…: shared, so not even the database's owner vacuums them.
    assert result.figures["catalogs_skipped"] > 0
    assert "left to autovacuum" in result.phrase.text()


async def test_vacuum_as_the_consoles_role_says_which_app_tables_it_skipped(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without owner_dsn_env the console's role vacuums nothing of the app's (it owns
    none of it, PostgreSQL 16): a warning naming the tables, not an all-clear."""
    context, _, _ = _context(demo_stack, tmp_path, monkeypatch)
    config = context.config
    config = msgspec.structs.replace(
        config, database=msgspec.structs.replace(config.database, owner_dsn_env=""),
        queue=msgspec.structs.replace(config.queue, owner_dsn_env=""))
    context = RoutineContext(config, CommandRunner(config), None, context.confirm,
                             context.progress)
    result = await vacuum_analyze(context)
    assert result.outcome == "warning"
    assert "does not own" in result.phrase.text()
    assert any('"sessions"' in line for line in result.lines)
    assert any('"solid_queue_jobs"' in line for line in result.lines)
    # Only the app's tables are listed; the catalogs are a count.
    assert not any('"pg_authid"' in line for line in result.lines)
    assert result.figures["catalogs_skipped"] > 0


async def test_vacuum_with_its_owner_variable_unset_runs_nothing_and_says_so(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, _, _ = _context(demo_stack, tmp_path, monkeypatch)
    monkeypatch.delenv(context.config.database.owner_dsn_env)
    result = await vacuum_analyze(context)
    assert result.outcome == "unknown"
    assert f"${context.config.database.owner_dsn_env} is not set" in result.phrase.text()


def test_daily_headless_with_stale_backups_warns_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rainbow-tui routine daily --demo --drill backup-stale --json``: the demo's
    newest full dump is made older than the manual's 26 hours, the backups item says
    so, and the run exits as check would (1 on a warning, 2 on a critical)."""
    state = _cli_config(tmp_path, monkeypatch)
    status = main(["--lang", "en", "routine", "daily", "--demo", "--drill", "backup-stale",
                   "--json"])
    document = json.loads(capsys.readouterr().out)
    backups = _by_item(document)["backups"]
    assert backups["outcome"] in ("warning", "critical"), backups
    assert "the policy allows 26 h" in str(backups["said"])
    assert status == document["exit_status"] >= 1
    kept = RoutineRecords(state).load(str(document["id"])).item("backups")
    assert kept is not None and kept.outcome == backups["outcome"]
