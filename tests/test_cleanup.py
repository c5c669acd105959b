"""The monthly cleanup of old data by configured statements ([[cleanup]]): the
entries' form checked as config is (file, key, problem, exit 2), and the cleanup
itself on the demo's real PostgreSQL, in its ``sessions`` table as
activerecord-session_store makes it (its generator's
``lib/generators/active_record/templates/migration.rb``; its ``db:sessions:trim``
in ``lib/tasks/database.rake`` deletes sessions not updated for 30 days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest

from rainbow_tui.cli import main
from rainbow_tui.config import parse_config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.text import Phrase, language
from rainbow_tui.upkeep.cleanup import cleanup_old_data
from rainbow_tui.upkeep.cleanup_config import CleanupEntry
from rainbow_tui.upkeep.context import RoutineContext

MINIMAL = '[service]\nkamal_service = "s"\n'
GOOD_DELETE = ("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
               "WHERE updated_at < now() - interval '30 days' LIMIT $1)")


def _entry(**keys: str | int) -> str:
    fields = {"name": "sessions", "label": "old sessions",
              "count": "SELECT count(*) FROM sessions", "delete": GOOD_DELETE, **keys}
    lines = [f"{key} = {value}" if isinstance(value, int) else f'{key} = "{value}"'
             for key, value in fields.items()]
    return MINIMAL + "[[cleanup]]\n" + "\n".join(lines) + "\n"


BROKEN = {
    "no limit": (_entry(delete="DELETE FROM sessions WHERE updated_at < now()"),
                 "cleanup[0].delete: must be one DELETE FROM … WHERE … statement"),
    "no where": (_entry(delete="DELETE FROM sessions USING (SELECT 1 LIMIT $1) x"),
                 "cleanup[0].delete: must be one DELETE FROM"),
    "two statements": (_entry(delete=GOOD_DELETE + "; DROP TABLE sessions"),
                       "cleanup[0].delete: must be one DELETE FROM"),
    "another parameter": (_entry(delete=GOOD_DELETE.replace("now()", "$2")),
                          "cleanup[0].delete: must be one DELETE FROM"),
    "not a delete": (_entry(delete="UPDATE sessions SET data = NULL WHERE id IN "
                                   "(SELECT id FROM sessions LIMIT $1)"),
                     "cleanup[0].delete: must be one DELETE FROM"),
    "count with a parameter": (_entry(count="SELECT count(*) FROM sessions WHERE id > $1"),
                               "cleanup[0].count: must be one SELECT"),
    "count not a select": (_entry(count="DELETE FROM sessions"),
                           "cleanup[0].count: must be one SELECT"),
    "one title": (_entry(label="", title_ja="古いセッション"),
                  "cleanup[0].title_en: give both title_ja and title_en"),
    "no title": (_entry(label=""), "cleanup[0]: needs a label"),
    "bad name": (_entry(name="Old Sessions"), "cleanup[0].name: 'Old Sessions' cannot be"),
    "no batch": (_entry(batch_size=0),
                 "cleanup[0].batch_size: 0 is out of range: must be from 1 to 100000 rows"),
    "unknown database": (_entry(database="cache"), "cleanup[0].database"),
    "duplicate": (_entry() + '[[cleanup]]\nname = "sessions"\nlabel = "x"\n'
                  'count = "SELECT 1"\n' f'delete = "{GOOD_DELETE}"\n',
                  "cleanup[1].name: duplicate [[cleanup]] name 'sessions'"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_bad_cleanup_entry_is_named_with_its_key_exit_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BROKEN[kind]
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["--lang", "en", "config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{path}: {expected}" in err
    assert "Traceback" not in err


def test_a_good_entry_loads_with_a_title_in_each_language() -> None:
    config = parse_config(_entry(label="", title_ja="古いセッション", title_en="old sessions",
                                 database="queue", batch_size=50), "c.toml")
    (entry,) = config.cleanup
    assert (entry.database, entry.batch_size) == ("queue", 50)
    assert (entry.title("ja"), entry.title("en")) == ("古いセッション", "old sessions")


def test_the_shipped_example_is_a_valid_entry() -> None:
    """config.toml's commented [[cleanup]] example, uncommented, loads."""
    shipped = (Path(__file__).resolve().parent.parent / "config.toml").read_text()
    start = shipped.index("# [[cleanup]]")
    example = [line.removeprefix("# ") for line in shipped[start:].splitlines()]
    block = "\n".join(line for line in example[: example.index("timeout_s = 60") + 1]
                      if not line.startswith(("#", "Rails")))
    (entry,) = parse_config(MINIMAL + block, "c.toml").cleanup
    assert entry.name == "sessions" and "LIMIT $1" in entry.delete


async def test_no_entries_is_not_available_with_a_hint(tmp_path: Path) -> None:
    config = parse_config(MINIMAL, "c.toml")
    result = await cleanup_old_data(RoutineContext(config, CommandRunner(config)))
    assert result.outcome == "unknown"
    said = result.phrase.text(language("en"))
    assert said.startswith("not available:") and "[[cleanup]]" in said


# -- on the demo's PostgreSQL ---------------------------------------------------------------

PREFIX = "cleanup-test-"
OLD = f"updated_at < (now() AT TIME ZONE 'UTC') - interval '30 days' AND session_id LIKE '{PREFIX}%'"


def _test_entry(count_where: str = OLD, batch_size: int = 2) -> CleanupEntry:
    """The demo's sessions, but only this test's rows (the shared stack keeps its own)."""
    return CleanupEntry(
        name="test-sessions", title_ja="テストのセッション", title_en="test sessions",
        count=f"SELECT count(*) FROM sessions WHERE {count_where}",
        delete=f"DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE {OLD} LIMIT $1)",
        batch_size=batch_size,
    )


def _context(stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             entries: tuple[CleanupEntry, ...] | None, answer: bool = True,
             ) -> tuple[RoutineContext, list[str], list[str]]:
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, incidents_dir=tmp_path / "state")
    if entries is not None:
        config = msgspec.structs.replace(config, cleanup=entries)
    asked: list[str] = []
    progress: list[str] = []

    async def confirm(question: Phrase) -> bool:
        asked.append(question.text(language("en")))
        return answer

    context = RoutineContext(config, CommandRunner(config), None, confirm,
                             lambda line: progress.append(line.text(language("en"))))
    return context, asked, progress


async def _insert_sessions(connection: asyncpg.Connection, tag: str, ages_days: list[float],
                           ) -> list[int]:
    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        await connection.fetchval(
            "INSERT INTO sessions (session_id, data, created_at, updated_at)"
            " VALUES ($1, 'x', $2, $2) RETURNING id",
            f"{PREFIX}{tag}-{index}", now - timedelta(days=age))
        for index, age in enumerate(ages_days)
    ]


async def test_old_sessions_are_counted_confirmed_deleted_in_batches_and_counted_again(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, asked, progress = _context(demo_stack, tmp_path, monkeypatch, (_test_entry(),))
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        old = await _insert_sessions(connection, "old", [31, 40, 45, 60, 90])
        recent = await _insert_sessions(connection, "recent", [1, 29])
        result = await cleanup_old_data(context)
        left = {row["id"] for row in await connection.fetch(
            "SELECT id FROM sessions WHERE id = ANY($1::bigint[])", [*old, *recent])}
    finally:
        await connection.execute(f"DELETE FROM sessions WHERE session_id LIKE '{PREFIX}%'")
        await connection.close()
    assert left == set(recent)
    assert result.outcome == "ok"
    assert dict(result.figures) == {
        "test-sessions:before": 5.0, "test-sessions:after": 0.0,
        "test-sessions:deleted": 5.0, "test-sessions:batches": 3.0}
    assert asked == ["Delete 5 rows of test sessions (the primary database)?"]
    assert progress == [f"test sessions: deleted {n} of 5" for n in (2, 4, 5)]
    assert result.phrase.text(language("en")) == (
        "test sessions: 5 → 0 rows (5 deleted in 3 batches)")
    assert result.phrase.text(language("ja")).startswith("テストのセッション: 5 → 0 件")


async def test_never_more_rows_are_deleted_than_were_confirmed(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count says 2 (the "a" rows), the delete would take all four old rows: the
    batches stop at the confirmed 2."""
    entry = _test_entry(count_where=f"{OLD} AND session_id LIKE '{PREFIX}a-%'", batch_size=10)
    context, asked, _ = _context(demo_stack, tmp_path, monkeypatch, (entry,))
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        await _insert_sessions(connection, "a", [40, 50])
        await _insert_sessions(connection, "b", [40, 50])
        result = await cleanup_old_data(context)
        left = int(await connection.fetchval(
            f"SELECT count(*) FROM sessions WHERE session_id LIKE '{PREFIX}%'"))
    finally:
        await connection.execute(f"DELETE FROM sessions WHERE session_id LIKE '{PREFIX}%'")
        await connection.close()
    assert asked == ["Delete 2 rows of test sessions (the primary database)?"]
    assert result.figures["test-sessions:deleted"] == 2.0 and left == 2


async def test_declined_deletes_nothing(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, asked, _ = _context(demo_stack, tmp_path, monkeypatch, (_test_entry(),),
                                 answer=False)
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        await _insert_sessions(connection, "kept", [40, 41, 42])
        result = await cleanup_old_data(context)
        kept = int(await connection.fetchval(
            f"SELECT count(*) FROM sessions WHERE session_id LIKE '{PREFIX}%'"))
    finally:
        await connection.execute(f"DELETE FROM sessions WHERE session_id LIKE '{PREFIX}%'")
        await connection.close()
    assert kept == 3 and len(asked) == 1
    assert result.outcome == "unknown"
    assert result.phrase.text(language("en")) == (
        "test sessions: not deleted (not confirmed): 3 rows would be")


async def test_a_failing_statement_is_a_warning_naming_the_entry(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's role may delete only what it was granted (sessions): another
    table's delete fails, said with PostgreSQL's reason, and the next entry still runs."""
    denied = CleanupEntry(
        name="sightings", label="old sightings",
        count="SELECT count(*) FROM rainbow_sightings",
        delete="DELETE FROM rainbow_sightings WHERE id IN (SELECT id FROM rainbow_sightings"
               " LIMIT $1)")
    context, _, _ = _context(demo_stack, tmp_path, monkeypatch, (denied, _test_entry()))
    result = await cleanup_old_data(context)
    said = result.phrase.text(language("en"))
    assert result.outcome == "warning"
    assert "old sightings: could not delete:" in said and "permission denied" in said
    assert "test sessions: nothing to delete (0 rows)" in said


async def test_the_demo_s_own_entry_clears_its_expired_sessions(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, asked, _ = _context(demo_stack, tmp_path, monkeypatch, None)
    (entry,) = context.config.cleanup
    connection = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        await _insert_sessions(connection, "demo", [35, 36])
        expired = int(await connection.fetchval(entry.count))
        total = int(await connection.fetchval("SELECT count(*) FROM sessions"))
        result = await cleanup_old_data(context)
        after = int(await connection.fetchval("SELECT count(*) FROM sessions"))
    finally:
        await connection.execute(f"DELETE FROM sessions WHERE session_id LIKE '{PREFIX}%'")
        await connection.close()
    assert expired >= 2 and len(asked) == 1 and f"Delete {expired} rows" in asked[0]
    assert result.outcome == "ok"
    assert result.figures["sessions:before"] == expired
    assert result.figures["sessions:after"] == 0
    assert after == total - expired
