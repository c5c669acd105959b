"""Backups as a judged component: the listing parser, the manual's policy, and the
demo's db-1 with its real dumps (fresh, and after the backup-stale drill)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.check import run_check
from rainbow_tui.config import BackupsConfig, parse_config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, export_demo_dsn
from rainbow_tui.findings import evaluate, exit_status
from rainbow_tui.levels import Level
from rainbow_tui.sources.backups import (
    BackupListingError,
    BackupsSnapshot,
    DumpFile,
    format_listing_entry,
    listing_command,
    parse_listing,
)
from rainbow_tui.sources.service_sources import Readings, ServiceSources
from tests.conftest import DemoStackFactory, StackDriver

CONFIG = parse_config(
    '[service]\nkamal_service = "shiojiri-rainbow-seeker"\nhealth_url = "http://127.0.0.1/up"\n',
    "test.toml",
)
NOW = 1_800_000_000.0
HOUR = 3600.0
T0 = datetime.fromtimestamp(NOW, UTC)

# Any path a host may hold: no NUL, not empty (find prints what it found).
paths = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]),
                min_size=1, max_size=60)
dumps = st.builds(
    DumpFile,
    path=paths,
    size=st.integers(min_value=0, max_value=2**48),
    mtime=st.integers(min_value=0, max_value=4_000_000_000).map(float),
)


@given(st.lists(dumps, max_size=20))
def test_listing_round_trips_whatever_the_file_names(entries: list[DumpFile]) -> None:
    text = "".join(format_listing_entry(entry) for entry in entries)
    assert parse_listing(text) == entries


@given(st.text(max_size=200))
def test_listing_parser_rejects_garbage_in_words_never_crashes(text: str) -> None:
    try:
        parsed = parse_listing(text)
    except BackupListingError as error:
        assert "mtime" in str(error)
    else:
        assert all(entry.size >= 0 and entry.path for entry in parsed)


def test_listing_reads_gnu_find_fractions_and_spaces_in_names() -> None:
    text = "1796193309.1662570000 37377 /backup/full 2026.dump\0" \
           "1796171709.0000000000 0 /backup/diff_x.dump\0"
    assert parse_listing(text) == [
        DumpFile("/backup/full 2026.dump", 37377, 1796193309.166257),
        DumpFile("/backup/diff_x.dump", 0, 1796171709.0),
    ]


def test_listing_command_quotes_the_configured_directory_and_globs() -> None:
    command = listing_command(BackupsConfig(directory="/srv/back ups; rm -rf /",
                                            full_pattern="full_*.dump"))
    assert "'/srv/back ups; rm -rf /'" in command
    assert "-name 'full_*.dump'" in command
    assert "(" not in command  # no group for a remote shell to trip over


def _snapshot(*dumps: tuple[str, float, int]) -> BackupsSnapshot:
    """Dumps by (name, age in hours, size)."""
    return BackupsSnapshot(
        T0, "db-1", "/backup", NOW,
        tuple(DumpFile(f"/backup/{name}", size, NOW - hours * HOUR) for name, hours, size in dumps),
    )


def _judged(snapshot: BackupsSnapshot) -> dict[str, tuple[Level, str]]:
    found = evaluate(CONFIG, Readings(backups=snapshot))
    return {f.metric: (f.level, f.reason) for f in found if f.component == "backups"}


def test_fresh_full_and_differential_are_normal() -> None:
    judged = _judged(_snapshot(("full_b.dump", 3, 5000), ("full_a.dump", 27, 4900),
                               ("diff_a.dump", 1, 300)))
    assert judged["full"][0] is Level.NORMAL
    assert judged["differential"][0] is Level.NORMAL


def test_full_past_26_hours_is_a_warning_and_twice_that_critical() -> None:
    late = _judged(_snapshot(("full_a.dump", 30, 5000), ("diff_a.dump", 2, 300)))
    assert late["full"][0] is Level.WARNING
    assert "30.0 h old" in late["full"][1] and "26 h" in late["full"][1]
    stopped = _judged(_snapshot(("full_a.dump", 60, 5000), ("diff_a.dump", 2, 300)))
    assert stopped["full"][0] is Level.CRITICAL
    assert "stopped" in stopped["full"][1]


def test_zero_byte_and_shrinking_full_dumps_are_warnings() -> None:
    empty = _judged(_snapshot(("full_b.dump", 1, 0), ("full_a.dump", 25, 5000)))
    assert empty["full"] == (Level.WARNING, "full_b.dump is 0 bytes")
    shrunk = _judged(_snapshot(("full_b.dump", 1, 2000), ("full_a.dump", 25, 5000)))
    assert shrunk["full"][0] is Level.WARNING
    assert "smaller" in shrunk["full"][1]
    # A little smaller after the monthly cleanup is no warning.
    assert _judged(_snapshot(("full_b.dump", 1, 4800), ("full_a.dump", 25, 5000)))["full"][0] \
        is Level.NORMAL


def test_no_full_dump_is_critical_and_names_where_it_looked() -> None:
    judged = _judged(_snapshot(("diff_a.dump", 1, 300)))
    assert judged["full"][0] is Level.CRITICAL
    assert "full_*.dump" in judged["full"][1] and "/backup" in judged["full"][1]


def test_differential_late_after_seven_hours_unless_a_full_is_newer() -> None:
    late = _judged(_snapshot(("full_a.dump", 20, 5000), ("diff_a.dump", 8, 300)))
    assert late["differential"][0] is Level.WARNING
    # Right after the nightly full no differential is due yet.
    covered = _judged(_snapshot(("full_a.dump", 2, 5000)))
    assert covered["differential"][0] is Level.NORMAL


def test_a_manual_dump_counts_as_a_full_backup() -> None:
    judged = _judged(_snapshot(("full_a.dump", 30, 5000), ("manual_x.dump", 0.5, 5100)))
    assert judged["full"][0] is Level.NORMAL
    assert judged["manual"][0] is Level.NORMAL


def test_expired_dumps_still_on_disk_are_elevated() -> None:
    judged = _judged(_snapshot(("full_b.dump", 2, 5000), ("full_a.dump", 24 * 31, 5000),
                               ("diff_a.dump", 1, 300)))
    assert judged["full"][0] is Level.ELEVATED
    assert "30 days" in judged["full"][1]


def test_unreachable_host_is_never_an_all_clear() -> None:
    snapshot = BackupsSnapshot(T0, "db-1", "/backup", error="db-1: connection refused")
    found = [f for f in evaluate(CONFIG, Readings(backups=snapshot)) if f.component == "backups"]
    assert [(f.metric, f.level) for f in found] == [("listing", Level.UNKNOWN)]
    assert "connection refused" in found[0].reason
    missing = BackupsSnapshot(T0, "db-1", "/backup", error="find: '/backup': No such file "
                              "or directory", directory_problem=True)
    found = [f for f in evaluate(CONFIG, Readings(backups=missing)) if f.component == "backups"]
    assert found[0].level is Level.WARNING and exit_status(found) == 1


# -- against the demo stack's db-1 -------------------------------------------------


def _backup_findings(stack: DemoProcess) -> tuple[dict[str, Level], int]:
    export_demo_dsn(stack.endpoints)
    findings = asyncio.run(run_check(demo_config(stack.endpoints)))
    return ({f.metric: f.level for f in findings if f.component == "backups"},
            exit_status(findings))


def test_demo_db_host_lists_real_fresh_dumps(demo_stack: DemoProcess) -> None:
    backup_dir = demo_stack.endpoints.state_dir / "hosts" / "db-1" / "backup"
    fulls = sorted(backup_dir.glob("full_*.dump"))
    # Real pg_dump -Fc archives: they start with PostgreSQL's custom-format magic.
    assert fulls and fulls[-1].read_bytes()[:5] == b"PGDMP"
    assert list(backup_dir.glob("diff_*.dump"))

    async def listed() -> BackupsSnapshot | None:
        sources = ServiceSources(demo_config(demo_stack.endpoints))
        try:
            return await sources.poll_backups()
        finally:
            await sources.close()

    snapshot = asyncio.run(listed())
    assert snapshot is not None and snapshot.error is None
    sizes = {dump.name: dump.size for dump in snapshot.dumps}
    assert sizes[fulls[-1].name] == fulls[-1].stat().st_size
    levels, _ = _backup_findings(demo_stack)
    assert levels == {"full": Level.NORMAL, "differential": Level.NORMAL}


def test_backup_stale_drill_makes_the_finding_warn_and_check_fail(
    demo_stack_factory: DemoStackFactory,
) -> None:
    stack = demo_stack_factory(drills=["backup-stale"])
    levels, status = _backup_findings(stack)
    assert levels["full"] in (Level.WARNING, Level.CRITICAL)
    assert status >= 1


@pytest.mark.parametrize("command", ["ls -lh /backup", "ls /nowhere"])
def test_demo_db_host_answers_the_restore_runbooks_ls(
    demo_stack: DemoProcess, drive: Callable[[DemoProcess], StackDriver], command: str
) -> None:
    driver = drive(demo_stack)
    status, out, err = asyncio.run(driver.ssh("db-1", command))
    if command.endswith("/backup"):
        assert status == 0 and b"full_" in out and b"K " in out
    else:
        assert status == 2 and b"No such file or directory" in err


def test_manual_backup_of_the_runbook_writes_a_real_dump_and_clears_a_stale_full(
    demo_stack_factory: DemoStackFactory, drive: Callable[[DemoProcess], StackDriver],
) -> None:
    from rainbow_tui.incidents.runbooks import load_runbooks

    stack = demo_stack_factory(drills=["backup-stale"])
    runbook = load_runbooks().runbooks["backup"]
    dump = next(step for step in runbook.steps if step.id == "dump").commands[0]
    status, out, err = asyncio.run(drive(stack).ssh("db-1", dump.text))
    # The size is reported: ls -l of the new file.
    assert status == 0, err
    assert b"/backup/manual_" in out and b".dump" in out
    made = sorted((stack.endpoints.state_dir / "hosts" / "db-1" / "backup").glob("manual_*"))
    assert made and made[-1].read_bytes()[:5] == b"PGDMP"
    assert str(made[-1].stat().st_size).encode() in out
    levels, _ = _backup_findings(stack)
    assert levels["full"] is Level.NORMAL and levels["manual"] is Level.NORMAL
