"""The DR drill for real: a dump the demo made on db-1, copied over SSH, restored
into a scratch PostgreSQL and verified; a queue database's dump with Solid Queue's
schema; a broken dump that fails clearly."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg

from rainbow_tui.config import Config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, export_demo_dsn
from rainbow_tui.dr_drill import SOLID_QUEUE_TABLES, DrillResult, run_dr_drill
from tests.conftest import DemoStackFactory


def _config(stack: DemoProcess) -> Config:
    export_demo_dsn(stack.endpoints)
    return demo_config(stack.endpoints)


def _backup_dir(stack: DemoProcess) -> Path:
    return stack.endpoints.state_dir / "hosts" / "db-1" / "backup"


def _steps(result: DrillResult) -> dict[str, bool]:
    return {check.step: check.ok for check in result.checks}


async def _count(dsn: str, table: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


def test_drill_restores_the_demos_latest_full_dump_and_counts_its_rows(
    demo_stack: DemoProcess,
) -> None:
    result = asyncio.run(run_dr_drill(_config(demo_stack)))
    assert result.ok and result.exit_status == 0, [c.detail for c in result.checks]
    newest = max(_backup_dir(demo_stack).glob("full_*.dump"), key=lambda p: p.stat().st_mtime)
    assert result.dump is not None and result.dump.name == newest.name
    steps = _steps(result)
    assert {"find", "copy", "scratch", "restore", "tables", "cleanup"} <= set(steps)
    # The seeded migrations, exactly; the sightings as many as the database had.
    assert result.row_counts["schema_migrations"] == 4
    live = asyncio.run(_count(demo_stack.endpoints.pg_admin_dsn, "rainbow_sightings"))
    assert 0 < result.row_counts["rainbow_sightings"] <= live
    # Timed: the whole and each step.
    assert result.duration_s >= sum(check.duration_s for check in result.checks) * 0.5
    assert all(check.duration_s >= 0 for check in result.checks)
    # The scratch server and the copy are gone.
    cleanup = next(check for check in result.checks if check.step == "cleanup")
    assert cleanup.ok and not Path(cleanup.phrase.values[0][1]).exists()  # type: ignore[arg-type]


def _pg_dump(stack: DemoProcess, dsn: str, target: Path) -> None:
    pg_dump = Path(stack.endpoints.pg_bin_dir) / "pg_dump"
    subprocess.run([str(pg_dump), "-Fc", "-f", str(target), "-d", dsn], check=True,
                   capture_output=True, env={"PATH": "/usr/bin:/bin"})


def test_drill_checks_solid_queues_schema_in_a_queue_dump_and_fails_a_broken_dump(
    demo_stack_factory: DemoStackFactory,
) -> None:
    stack = demo_stack_factory()
    config = _config(stack)
    queue_dump = _backup_dir(stack) / "manual_queue.dump"
    _pg_dump(stack, stack.endpoints.pg_admin_queue_dsn, queue_dump)
    result = asyncio.run(run_dr_drill(config, dump_name="manual_queue.dump",
                                      main_tables=("solid_queue_recurring_tasks",)))
    assert result.ok, [c.detail for c in result.checks]
    assert _steps(result)["solid_queue"] is True
    assert result.row_counts == {"solid_queue_recurring_tasks": 2}
    # The app's dump holds no Solid Queue: asked for it, the drill says so.
    app_dump = max(_backup_dir(stack).glob("full_*.dump"), key=lambda p: p.stat().st_mtime)
    app_result = asyncio.run(run_dr_drill(config, dump_name=app_dump.name,
                                          expect_solid_queue=True))
    queue_check = next(c for c in app_result.checks if c.step == "solid_queue")
    assert not queue_check.ok and SOLID_QUEUE_TABLES[0] in queue_check.detail
    assert app_result.exit_status == 2

    # Half a dump, as when the disk filled up during pg_dump.
    whole = queue_dump.read_bytes()
    broken = _backup_dir(stack) / "manual_broken.dump"
    broken.write_bytes(whole[: len(whole) // 2])
    os.utime(broken)
    failed = asyncio.run(run_dr_drill(config, dump_name="manual_broken.dump"))
    assert not failed.ok and failed.exit_status == 2
    restore = next(c for c in failed.checks if c.step == "restore")
    assert not restore.ok and "pg_restore" in restore.detail
    # Cleaned up all the same.
    assert _steps(failed)["cleanup"] is True
