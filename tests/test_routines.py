"""Routines as data, their records and reports, and what is due: no stack needed.

The shipped routines transcribe the operations manual (毎日の確認事項, 週次, 月次,
四半期, セキュリティ); a team file that cannot be used is named with its key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from markdown_it import MarkdownIt
from rich.cells import cell_len

from rainbow_tui.config import Config, ServiceConfig
from rainbow_tui.text import set_language
from rainbow_tui.upkeep.catalog import load_routines
from rainbow_tui.upkeep.checks import CHECK_KEYS
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.due import due_state, due_summary, routines_due
from rainbow_tui.upkeep.record import RoutineRecords
from rainbow_tui.upkeep.report import render_routine_report
from rainbow_tui.upkeep.results import exit_status
from rainbow_tui.upkeep.run import RoutineRun

MANUAL_SECTIONS = {
    "daily": "毎日の確認事項",
    "weekly": "週次の確認事項",
    "monthly": "月次メンテナンス",
    "quarterly": "四半期メンテナンス",
    "security": "定期的なセキュリティタスク",
}
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_every_shipped_routine_loads_with_both_languages_and_its_manual_section() -> None:
    catalog = load_routines()
    assert catalog.problems == ()
    assert set(catalog.ids()) == set(MANUAL_SECTIONS)
    for routine_id, section in MANUAL_SECTIONS.items():
        routine = catalog.routines[routine_id]
        assert section in routine.source and section in routine.title_ja
        assert routine.title_en.strip()
        for item in routine.items:
            assert item.title_ja.strip() and item.title_en.strip(), item.id
            assert item.title_ja != item.title_en or item.command is not None, item.id
            assert item.source.strip(), item.id
            assert bool(item.why_ja) == bool(item.why_en), item.id
            assert (item.check in CHECK_KEYS) != (item.command is not None), item.id


def test_the_manual_s_items_are_all_there() -> None:
    catalog = load_routines()
    checks = {rid: {item.check for item in r.items} for rid, r in catalog.routines.items()}
    assert {"health_up", "sentry_new_issues", "recent_logs"} <= checks["daily"]
    assert {"weekly_figures", "disk_db_growth", "bundler_audit"} <= checks["weekly"]
    assert {"vacuum_analyze", "cleanup_finished_jobs", "brakeman"} <= checks["monthly"]
    assert {"tls_expiry", "pg_stat_statements_review", "dr_restore_test"} <= checks["quarterly"]
    assert {"password_rotation_due", "access_log_audit"} <= checks["security"]
    logs = catalog.routines["daily"].item("logs")
    assert logs is not None and logs.command is not None
    assert logs.command.argv == ("app", "logs", "--since", "1h")


def test_a_scan_s_checklist_keeps_only_what_a_person_must_still_do() -> None:
    """Brakeman, bundler-audit and Dependabot run as checks: a checklist line telling
    someone to run them by hand again would be done twice (or skipped as done). The
    dynamic scan on staging has no check, so it stays on security's list."""
    catalog = load_routines()
    automatic = {"brakeman": "brakeman", "bundler_audit": "bundler-audit",
                 "dependabot_alerts": "dependabot"}
    scans = [(routine_id, item) for routine_id, routine in catalog.routines.items()
             for item in routine.items if item.check in automatic]
    assert {(rid, item.check) for rid, item in scans} >= {
        ("weekly", "bundler_audit"), ("weekly", "dependabot_alerts"),
        ("monthly", "brakeman"), ("monthly", "bundler_audit"), ("security", "brakeman")}
    for routine_id, item in scans:
        assert item.why_ja and item.why_en, (routine_id, item.id)  # what the check does
        for line in (*item.checklist_ja, *item.checklist_en):
            assert automatic[item.check] not in line.lower(), (routine_id, item.id, line)
    security_scan = catalog.routines["security"].item("brakeman")
    assert security_scan is not None
    assert security_scan.checklist_en == ("OWASP ZAP (on staging)",)
    assert security_scan.checklist_ja == ("OWASP ZAP (ステージング環境)",)


def _write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


GOOD_ITEM = """
[[items]]
id = "health"
title_ja = "ヘルスチェック"
title_en = "Health check"
source = "毎日の確認事項 1"
"""


@pytest.mark.parametrize(
    ("item_tail", "key", "words"),
    [
        ('check = "no_such_check"\n', "items[0].check", "no automatic check 'no_such_check'"),
        ('check = "health_up"\ncolour = "red"\n', "items[0].colour", "unknown"),
        ('check = "health_up"\n[items.command]\nkind = "kamal"\nargv = ["app", "details"]\n',
         "items[0]", "exactly one"),
        ('[items.command]\nkind = "ssh"\nargv = ["ls"]\n', "items[0].command.argv", "text"),
    ],
)
def test_a_bad_team_file_is_named_with_its_key_and_the_others_still_load(
    tmp_path: Path, item_tail: str, key: str, words: str
) -> None:
    team = tmp_path / "team"
    _write(team, "broken.toml", 'id = "broken"\ntitle_ja = "壊れた"\ntitle_en = "Broken"\n'
           'frequency = "daily"\nsource = "team"\n' + GOOD_ITEM + item_tail)
    catalog = load_routines(team)
    assert "broken" not in catalog.routines
    assert "daily" in catalog.routines
    (problem,) = catalog.problems
    assert problem.path.endswith("broken.toml")
    assert problem.key == key
    assert words in problem.problem


def test_a_team_file_replaces_a_shipped_routine_by_id(tmp_path: Path) -> None:
    team = tmp_path / "team"
    _write(team, "ours.toml", 'id = "daily"\ntitle_ja = "うちの毎日"\ntitle_en = "Our daily"\n'
           'frequency = "daily"\nsource = "team"\n' + GOOD_ITEM + 'check = "health_up"\n')
    catalog = load_routines(team)
    assert catalog.problems == ()
    assert catalog.replaced == {"daily"}
    assert catalog.routines["daily"].title_en == "Our daily"
    assert len(catalog.routines["daily"].items) == 1


@pytest.mark.parametrize(
    ("frequency", "age", "state"),
    [
        ("daily", timedelta(hours=23, minutes=59), "done"),
        ("daily", timedelta(hours=24), "due"),
        ("daily", timedelta(hours=35, minutes=59), "due"),
        ("daily", timedelta(hours=36), "overdue"),
        ("weekly", timedelta(days=6, hours=23), "done"),
        ("weekly", timedelta(days=7), "due"),
        ("weekly", timedelta(days=10, hours=12), "overdue"),
        ("monthly", timedelta(days=29), "done"),
        ("monthly", timedelta(days=30), "due"),
        ("quarterly", timedelta(days=90), "done"),
        ("quarterly", timedelta(days=91), "due"),
        ("quarterly", timedelta(days=137), "overdue"),
    ],
)
def test_due_and_overdue_from_the_date_of_the_last_run(
    frequency: str, age: timedelta, state: str
) -> None:
    assert due_state(frequency, NOW - age, NOW) == state


def test_a_routine_never_run_is_due_and_says_when_it_falls_due_once_run() -> None:
    found = routines_due({"daily": "daily", "weekly": "weekly"},
                         {"weekly": NOW - timedelta(days=2)}, NOW)
    assert [(d.routine, d.state) for d in found] == [("daily", "due"), ("weekly", "done")]
    assert found[0].due_at is None
    assert found[1].due_at == NOW - timedelta(days=2) + timedelta(days=7)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_due_line_names_every_shipped_routine_within_80_columns(language: str) -> None:
    """The dashboard's line: overdue ones first, each by its short name, and the key."""
    set_language(language)  # type: ignore[arg-type]
    catalog = load_routines()
    names = {routine.id: routine.short(language) for routine in catalog.routines.values()}
    frequencies = {routine.id: routine.frequency for routine in catalog.routines.values()}
    found = routines_due(frequencies, {"monthly": NOW - timedelta(days=60)}, NOW)
    line = due_summary(found, names)
    assert cell_len(line) <= 78, line  # the line's padding: 1 cell each side
    overdue, due = ("期限切れ: 月次", "要実施: 毎日、週次") if language == "ja" else (
        "overdue: monthly", "due: daily, weekly")
    assert overdue in line and due in line and line.index(overdue) < line.index(due)
    assert ("R で開く" if language == "ja" else "R opens") in line


def _config(state_dir: Path) -> Config:
    config = Config(service=ServiceConfig(kamal_service="shiojiri-rainbow-seeker"))
    incidents = msgspec.structs.replace(config.incidents, state_dir=str(state_dir))
    return msgspec.structs.replace(config, incidents=incidents)


def _security_run(tmp_path: Path, clock: datetime) -> tuple[RoutineRun, RoutineRecords]:
    from rainbow_tui.incidents.runner import CommandRunner

    config = _config(tmp_path / "state")
    records = RoutineRecords(tmp_path / "state")
    context = RoutineContext(config, CommandRunner(config), records, clock=lambda: clock)
    routine = load_routines().routines["security"]
    return RoutineRun.start(routine, context, records), records


async def test_a_run_is_recorded_item_by_item_redacted_and_read_back(tmp_path: Path) -> None:
    run, records = _security_run(tmp_path, NOW)
    rotation = await run.run_item("password-rotation")
    # Never marked done: a warning, in both languages.
    assert rotation.outcome == "warning"
    assert "never marked done (due quarterly)" in rotation.said_en
    # The period in the reader's words, never the data's key.
    assert "完了の記録がない (周期: 四半期)" in rotation.said_ja and "quarterly" not in rotation.said_ja
    run.note("password-rotation", "rotated; old key was AKIAIOSFODNN7EXAMPLE")
    run.mark_done("password-rotation")
    audit = await run.run_item("access-log-audit")
    assert audit.outcome == "unknown" and audit.said_en.startswith("not available:")
    run.skip("brakeman")
    run.finish()
    on_disk = records.load(run.record.id)
    assert on_disk.finished_at == NOW
    item = on_disk.item("password-rotation")
    assert item is not None and item.done
    assert "AKIAIOSFODNN7EXAMPLE" not in item.note and "rotated" in item.note
    assert "AKIAIOSFODNN7EXAMPLE" not in records.path(run.record.id).read_text()
    assert records.path(run.record.id).stat().st_mode & 0o777 == 0o600
    assert records.last_runs() == {"security": NOW}
    assert exit_status(on_disk.outcomes) == 1


async def test_the_rotation_is_due_again_a_quarter_after_it_was_marked_done(
    tmp_path: Path,
) -> None:
    first, _ = _security_run(tmp_path, NOW)
    first.mark_done("password-rotation")
    first.finish()
    later, _ = _security_run(tmp_path, NOW + timedelta(days=30))
    assert (await later.run_item("password-rotation")).outcome == "ok"
    much_later, _ = _security_run(tmp_path, NOW + timedelta(days=92))
    assert (await much_later.run_item("password-rotation")).outcome == "warning"


def test_two_runs_in_one_minute_get_their_own_records(tmp_path: Path) -> None:
    first, records = _security_run(tmp_path, NOW)
    second, _ = _security_run(tmp_path, NOW)
    assert first.record.id != second.record.id
    assert len(records.ids()) == 2


async def test_the_report_is_markdown_in_both_languages(tmp_path: Path) -> None:
    run, _ = _security_run(tmp_path, NOW)
    await run.run_item("password-rotation")
    run.note("password-rotation", "DB は次の保守日に | 表が壊れないこと")
    run.finish()
    markdown = render_routine_report(run.record, ("ja", "en"))
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    headings = [tokens[i + 1].content for i, token in enumerate(tokens)
                if token.type == "heading_open" and token.tag == "h2"]
    assert headings == ["定期的なセキュリティタスク", "Regular security tasks"]
    tables = [token for token in tokens if token.type == "table_open"]
    assert len(tables) >= 2
    cells = [token.content for token in tokens if token.type == "inline"]
    assert "警告" in cells and "warning" in cells
    assert any("表が壊れないこと" in cell for cell in cells)


def test_cli_routine_list_shows_due_and_export_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rainbow_tui.cli import main

    state = tmp_path / "state"
    config_file = tmp_path / "config.toml"
    config_file.write_text('[service]\nkamal_service = "x"\n[incidents]\n'
                           f'state_dir = "{state}"\n')
    monkeypatch.setenv("RAINBOW_TUI_CONFIG", str(config_file))
    run, _ = _security_run(tmp_path, datetime.now(UTC))
    asyncio.run(run.run_item("password-rotation"))
    run.finish()
    assert main(["--lang", "en", "routine", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in listed[1:]}
    assert "done" in rows["security"] and "never" in rows["daily"] and "due" in rows["daily"]
    # In Japanese every column starts at the same cell on every line (kanji are two).
    assert main(["--lang", "ja", "routine", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    title_at = {cell_len(line) - cell_len(line.split(maxsplit=1)[1]) for line in lines}
    frequency_at = {cell_len(line[:line.index(f"  {word}  ")]) for line in lines[1:]
                    for word in ("毎日", "週次", "月次", "四半期") if f"  {word}  " in line}
    assert len(title_at) == 1 and len(frequency_at) == 1, lines
    out = tmp_path / "report.md"
    assert main(["--lang", "ja", "routine", "export", run.record.id, "-o", str(out)]) == 0
    assert out.read_text().startswith("# 定期的なセキュリティタスク")
    assert main(["routine", "export", "no-such-run"]) == 1
