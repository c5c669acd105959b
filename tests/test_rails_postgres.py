"""The console against PostgreSQL as a Rails 8 app runs it: the server's TimeZone is
Asia/Tokyo, Solid Queue lives in its own database, and the console logs in as a
monitoring role of its own — first without pg_monitor, then granted it.

`rainbow-tui check --config PATH --json` runs in a real process, with a config file
written to disk as an operator would, and the DSNs in the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import tomli_w

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_dsn_variables, demo_profile
from rainbow_tui.demo.schema import MONITOR_ROLE

REPO = Path(__file__).resolve().parent.parent


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def _write_config(stack: DemoProcess, path: Path) -> None:
    # As an operator's config.toml: no [[hosts]], the deployment is read from the
    # demo checkout's config/deploy.yml.
    document = msgspec.to_builtins(demo_profile(stack.endpoints))
    document.pop("source")
    document.pop("hosts", None)
    document["kamal"].pop("accessories", None)
    path.write_text(tomli_w.dumps(_without_none(document)), encoding="utf-8")


def _check(stack: DemoProcess, config: Path) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "check", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
        env={**os.environ, **demo_dsn_variables(stack.endpoints)},
    )
    assert result.stdout, result.stderr
    rows = json.loads(result.stdout)["findings"]
    return {f"{row['component']}:{row['metric']}": row for row in rows}


@pytest.mark.slow
async def test_check_on_a_tokyo_server_with_a_queue_database_and_an_ungranted_role(
    demo_stack_factory: Any, tmp_path: Path
) -> None:
    stack = demo_stack_factory(monitor_grants=False)
    config = tmp_path / "config.toml"
    _write_config(stack, config)

    findings = _check(stack, config)
    # UTC wall clock read in UTC (rails/rails activerecord/lib/active_record/
    # connection_adapters/postgresql_adapter.rb sets the session's timezone): the
    # workload's live processes are alive and its jobs take seconds, not 9 h.
    assert findings["queue:processes"]["level"] == "normal", findings["queue:processes"]
    assert findings["queue:processes"]["display"].endswith("alive")
    assert findings["queue:job_processing_time_s"]["value"] < 60
    assert findings["queue:waiting_jobs"]["level"] == "normal"
    # The role sees other roles' sessions only as rows without state or query:
    # a named missing privilege, never a healthy zero.
    privileges = findings["database:privileges"]
    assert privileges["level"] == "warning"
    assert f"GRANT pg_monitor TO {MONITOR_ROLE};" in privileges["reason"]
    assert f"GRANT pg_signal_backend TO {MONITOR_ROLE};" in privileges["reason"]
    connections = findings["database:db_connections"]
    assert connections["value"] >= 6  # the workload's Puma and Solid Queue sessions
    assert "hidden" in connections["display"]
    assert findings["database:db_query_time_ms"]["level"] == "unknown"
    assert "pg_monitor" in findings["database:db_query_time_ms"]["reason"]
    assert findings["queue:privileges"]["level"] == "normal"

    admin = await asyncpg.connect(stack.endpoints.pg_admin_dsn)
    try:
        await admin.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
    finally:
        await admin.close()

    findings = _check(stack, config)
    privileges = findings["database:privileges"]
    # Only cancel / terminate are still out of reach: shown, not alerted.
    assert privileges["level"] == "elevated"
    assert "pg_monitor" not in privileges["reason"]
    connections = findings["database:db_connections"]
    assert connections["value"] >= 6 and "hidden" not in connections["display"]
    assert findings["database:db_query_time_ms"]["level"] == "normal"


async def test_a_queue_role_without_table_rights_is_told_the_grant(
    demo_stack_factory: Any, tmp_path: Path
) -> None:
    stack = demo_stack_factory()
    admin = await asyncpg.connect(stack.endpoints.pg_admin_queue_dsn)
    try:
        await admin.execute(f"REVOKE DELETE ON solid_queue_failed_executions FROM {MONITOR_ROLE}")
    finally:
        await admin.close()
    config = tmp_path / "config.toml"
    _write_config(stack, config)
    privileges = _check(stack, config)["queue:privileges"]
    assert privileges["level"] == "elevated"
    assert privileges["reason"].startswith(
        f"role {MONITOR_ROLE} in database shiojiri_rainbow_seeker_production_queue; "
        "run as its owner: "
        f"GRANT DELETE ON solid_queue_failed_executions TO {MONITOR_ROLE};"
    )
