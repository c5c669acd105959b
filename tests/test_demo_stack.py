"""The healthy demo stack, exercised through its real parts: HTTP, SSH, PostgreSQL, kamal."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import asyncssh
import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.schema import SEED_TIMES_TO_NOW_SQL

SOLID_QUEUE_TABLES = {
    "solid_queue_jobs", "solid_queue_ready_executions", "solid_queue_claimed_executions",
    "solid_queue_failed_executions", "solid_queue_scheduled_executions",
    "solid_queue_blocked_executions", "solid_queue_recurring_executions",
    "solid_queue_processes", "solid_queue_pauses", "solid_queue_semaphores",
    "solid_queue_recurring_tasks",
}
DOCKER_STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) ")
WEB_LOGS = "docker logs --timestamps {tail} {name}"


def test_up_answers_green_page_when_healthy(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    response = driver.http.get(demo_stack.endpoints.health_url)
    assert response.status_code == 200
    assert 'background-color: green' in response.text
    state = driver.state()
    assert state["app_state"] == "running"
    assert state["drills"]["active"] == []


async def test_schema_exists_and_workload_moves_jobs(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    # As in a Rails 8 app: the app's tables in <app>_production, Solid Queue's in
    # <app>_production_queue (railties' templates/config/databases/postgresql.yml.tt);
    # the server's TimeZone is the team's, not UTC.
    app = await asyncpg.connect(demo_stack.endpoints.pg_dsn)
    try:
        app_tables = {r["tablename"] for r in await app.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert "rainbow_sightings" in app_tables
        assert not app_tables & SOLID_QUEUE_TABLES
        assert await app.fetchval("SELECT current_database()") == (
            "shiojiri_rainbow_seeker_production")
        # What a session gets that does not set UTC as Rails does.
        assert await app.fetchval("SELECT current_setting('TimeZone')") == "Asia/Tokyo"
    finally:
        await app.close()
    conn = await asyncpg.connect(demo_stack.endpoints.pg_queue_dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") == (
            "shiojiri_rainbow_seeker_production_queue")
        tables = {r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables >= SOLID_QUEUE_TABLES
        cascades = await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confdeltype = 'c' "
            "AND confrelid = 'solid_queue_jobs'::regclass")
        assert cascades == 6
        kinds = sorted(r["kind"] for r in await conn.fetch(
            "SELECT kind FROM solid_queue_processes"))
        assert kinds == ["Dispatcher", "Scheduler", "Supervisor", "Worker", "Worker"]
        finished_before = await conn.fetchval(
            "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL")

        async def more_finished() -> bool:
            count = await conn.fetchval(
                "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL")
            return bool(count > finished_before)

        assert await driver.eventually(more_finished, within=15)
    finally:
        await conn.close()


async def test_seeded_rows_are_brought_to_the_day_the_stack_starts(
    demo_stack: DemoProcess,
) -> None:
    """The cached template keeps the day it was built: rows seeded 40 days ago are
    moved so that the newest session is 6 h old and the newest sighting 37 min, as
    on a new template (so the monthly cleanup finds its ~120 old sessions, not 240:
    the ones that were past 30 days at the start, not all of them)."""
    admin = await asyncpg.connect(demo_stack.endpoints.pg_admin_dsn)
    try:
        async with admin.transaction():
            # Another test's monthly cleanup may already have deleted the old
            # sessions of the shared stack, so the count expected is taken from the
            # rows as they are: those more than 30 days less 6 h behind the newest.
            expected_old = await admin.fetchval(
                "SELECT count(*) FROM sessions WHERE updated_at"
                " < (SELECT max(updated_at) FROM sessions)"
                " - (interval '30 days' - interval '6 hours')")
            await admin.execute(
                "UPDATE sessions SET created_at = created_at - interval '40 days',"
                " updated_at = updated_at - interval '40 days'")
            await admin.execute(
                "UPDATE rainbow_sightings SET observed_at = observed_at - interval '40 days',"
                " created_at = created_at - interval '40 days'")
            for statement in SEED_TIMES_TO_NOW_SQL:
                await admin.execute(statement)
            ages = await admin.fetchrow(
                "SELECT (SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC')"
                " - max(updated_at)) FROM sessions) AS session,"
                " (SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - max(observed_at))"
                " FROM rainbow_sightings) AS sighting,"
                " (SELECT count(*) FROM sessions WHERE updated_at"
                " < (now() AT TIME ZONE 'UTC') - interval '30 days') AS old_sessions")
            raise _RolledBack(ages, expected_old)
    except _RolledBack as rolled_back:
        ages, expected_old = rolled_back.args
    finally:
        await admin.close()
    assert ages["session"] == 6 * 3600 and ages["sighting"] == 37 * 60, ages
    assert ages["old_sessions"] == expected_old


class _RolledBack(Exception):
    """Leaves the transaction, so the shared stack keeps its rows."""


async def test_healthy_stack_judges_all_normal(demo_stack: DemoProcess, drive) -> None:
    """Every manual threshold in its normal band: what a console must show as all-green."""
    driver = drive(demo_stack)
    queue_checks = {
        "failed": "SELECT count(*) FROM solid_queue_failed_executions",
        "ready": "SELECT count(*) FROM solid_queue_ready_executions",
        "oldest_claim_s": "SELECT coalesce(max(extract(epoch FROM now()::timestamp - created_at)), 0) "
                          "FROM solid_queue_claimed_executions",
    }
    checks = {
        "connections": "SELECT count(*) FROM pg_stat_activity "
                       "WHERE backend_type = 'client backend'",
        "longest_ms": "SELECT coalesce(max(extract(epoch FROM now() - query_start)) * 1000, 0) "
                      "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()",
    }
    values = {name: float(await driver.sql(sql)) for name, sql in checks.items()}
    values |= {name: float(await driver.queue_sql(sql)) for name, sql in queue_checks.items()}
    assert values["failed"] == 0
    assert values["ready"] < 100
    assert values["connections"] < 50
    assert values["longest_ms"] < 100
    assert values["oldest_claim_s"] < 30
    for host in driver.state()["hosts"]:
        assert host["memory_percent"] < 70
        assert host["cpu_percent"] < 60
        assert host["disk_percent"] < 70
    # Response times and errors as the web log reports them.
    code, out, _ = await driver.ssh("app-1", "docker logs --tail 400 " + driver.container(
        "app-1", "web")["name"])
    assert code == 0
    durations = [int(m) for m in re.findall(rb"Completed \d{3} [^\n]*? in (\d+)ms", out)]
    assert len(durations) > 5
    durations.sort()
    assert durations[int(len(durations) * 0.95) - 1] < 200
    assert b"Completed 5" not in out


def test_kamal_cli_details_exec_and_psql(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    details = driver.kamal("app", "details")
    assert details.returncode == 0
    assert "  INFO [" in details.stdout and "Running docker ps" in details.stdout
    assert "shiojiri-rainbow-seeker-web-" in details.stdout
    free = driver.kamal("app", "exec", "free -m")
    assert free.returncode == 0
    assert re.search(r"^Mem:\s+\d+\s+\d+", free.stdout, re.MULTILINE)
    psql = driver.kamal(
        "accessory", "exec", "db", "--reuse",
        'psql -U shiojiri_rainbow_seeker -c "SELECT count(*) FROM pg_stat_activity;"',
    )
    assert psql.returncode == 0, psql.stdout
    assert re.search(r"^\s*count\s*$", psql.stdout, re.MULTILINE)
    db = driver.kamal("accessory", "details", "db")
    assert db.returncode == 0 and "shiojiri-rainbow-seeker-db" in db.stdout
    # lib/kamal/cli/main.rb#rollback: a message, and exit status 0.
    unknown = driver.kamal("rollback", "0000000000000000000000000000000000000000")
    assert unknown.returncode == 0
    assert "not available as a container" in unknown.stdout
    logs = driver.kamal("app", "logs", "-n", "3")
    assert logs.returncode == 0
    stamped = [line for line in logs.stdout.splitlines() if DOCKER_STAMP.match(line.encode())]
    assert len(stamped) == 3 * 3  # three lines from each role on each host (web ×2, job)
    nothing = driver.kamal("app", "exec", "no-such-tool")
    assert nothing.returncode != 0


async def test_ssh_host_tools_answer_in_linux_formats(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    code, out, _ = await driver.ssh("app-1", "free -m")
    assert code == 0
    lines = out.decode().splitlines()
    assert lines[0].split() == ["total", "used", "free", "shared", "buff/cache", "available"]
    total, used = (int(v) for v in lines[1].split()[1:3])
    assert 0.45 < used / total < 0.65
    code, out, _ = await driver.ssh("db-1", f"df -h / {demo_stack.endpoints.db_data_mount}")
    rows = out.decode().splitlines()
    assert rows[0].split() == ["Filesystem", "Size", "Used", "Avail", "Use%", "Mounted", "on"]
    assert rows[1].endswith(" /") and rows[2].endswith(demo_stack.endpoints.db_data_mount)
    assert all(40 <= int(r.split()[4].rstrip("%")) <= 56 for r in rows[1:])
    code, out, _ = await driver.ssh("app-2", "cat /proc/loadavg /proc/meminfo; nproc; hostname")
    text = out.decode()
    assert re.match(r"^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+\n", text)
    assert re.search(r"^MemTotal:\s+\d+ kB$", text, re.MULTILINE)
    assert text.rstrip().endswith("app-2")
    code, out, _ = await driver.ssh("app-1", "uptime")
    assert re.match(rb"^ \d\d:\d\d:\d\d up .*load average: [\d.]+, [\d.]+, [\d.]+\n$", out)
    code, out, err = await driver.ssh("app-1", "kubectl get pods")
    assert code == 127 and err == b"sh: 1: kubectl: not found\n"


async def test_proc_stat_counters_advance_with_cpu_use(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)

    async def sample() -> tuple[float, list[int]]:
        _, out, _ = await driver.ssh("app-1", "cat /proc/stat")
        first = out.decode().splitlines()[0].split()
        assert first[0] == "cpu"
        return time.monotonic(), [int(v) for v in first[1:]]

    t0, before = await sample()
    await asyncio.sleep(1.0)  # the interval the counters are measured over: the behaviour
    t1, after = await sample()
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    busy = 1 - (delta[3] + delta[4]) / total
    assert 0.10 < busy < 0.45
    cpus = 4
    assert total == pytest.approx((t1 - t0) * 100 * cpus, rel=0.35)


async def test_docker_ps_formats_and_filters(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    # Kamal's container_filters (basecamp/kamal lib/kamal/commands/app.rb): the empty
    # destination label is production's; staging's job container runs beside it.
    code, out, _ = await driver.ssh(
        "app-1", "docker ps --filter label=service=shiojiri-rainbow-seeker "
                 "--filter label=destination= --filter label=role=job --format '{{json .}}'")
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert code == 0 and len(rows) == 1
    _, both, _ = await driver.ssh(
        "app-1", "docker ps --filter label=service=shiojiri-rainbow-seeker "
                 "--filter label=role=job --format '{{.Names}} {{.Label \"destination\"}}'")
    staging = [line for line in both.decode().splitlines() if line.endswith(" staging")]
    assert len(staging) == 1 and "-job-staging-" in staging[0]
    job = rows[0]
    assert {"ID", "Image", "Names", "Labels", "State", "Status", "CreatedAt", "RunningFor",
            "Command", "Ports"} <= set(job)
    assert "role=job" in job["Labels"].split(",")
    assert job["State"] == "running" and job["Status"].startswith("Up ")
    version = job["Image"].rsplit(":", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{40}", version) and job["Names"].endswith(version)
    _, every, _ = await driver.ssh("app-1", "docker ps -a --format '{{.Names}} {{.State}}'")
    exited = [line for line in every.decode().splitlines() if line.endswith(" exited")]
    assert len(exited) >= 2  # earlier versions: rollback targets
    _, table, _ = await driver.ssh("app-2", "docker ps")
    header = table.decode().splitlines()[0]
    assert header.split("   ")[0] == "CONTAINER ID" and header.rstrip().endswith("NAMES")
    assert "kamal-proxy" in table.decode()
    _, quiet, _ = await driver.ssh("db-1", "docker ps --quiet")
    assert re.fullmatch(rb"[0-9a-f]{12}\n", quiet)


async def test_docker_logs_tail_and_since_are_exact(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    name = driver.container("app-1", "web")["name"]
    _, out, _ = await driver.ssh("app-1", WEB_LOGS.format(tail="--tail 5", name=name))
    lines = out.splitlines()
    assert len(lines) == 5
    stamps = [DOCKER_STAMP.match(line).group(1) for line in lines]  # type: ignore[union-attr]
    assert stamps == sorted(stamps)
    _, out, _ = await driver.ssh("app-1", WEB_LOGS.format(tail="--tail 20", name=name))
    lines = out.splitlines()
    pivot = DOCKER_STAMP.match(lines[9]).group(1).decode()  # type: ignore[union-attr]
    _, after, _ = await driver.ssh("app-1", f"docker logs --timestamps --since {pivot} {name}")
    after_lines = after.splitlines()
    assert after_lines[: len(lines) - 10] == lines[10:]  # strictly after the pivot
    assert all(DOCKER_STAMP.match(line).group(1).decode() > pivot  # type: ignore[union-attr]
               for line in after_lines)
    # A relative --since counts back from when docker reads it: every line is from
    # the last 2 s (another test's burst may have made them many), older ones are not.
    asked_at = datetime.now(UTC)
    _, recent, _ = await driver.ssh("app-1", f"docker logs --timestamps --since 2s {name}")
    recent_stamps = [DOCKER_STAMP.match(line).group(1).decode()  # type: ignore[union-attr]
                     for line in recent.splitlines()]
    earliest = (asked_at - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    assert recent_stamps and all(stamp >= earliest for stamp in recent_stamps)
    _, everything, _ = await driver.ssh("app-1", f"docker logs {name}")
    assert len(recent_stamps) < len(everything.splitlines())


async def test_docker_logs_follow_streams_injected_bytes_exactly(
    demo_stack: DemoProcess, drive
) -> None:
    driver = drive(demo_stack)
    name = driver.container("app-2", "web")["name"]
    hostile = b"\x1b[31mred\x1b[0m \x00\xff\xfe not utf-8 \xe2\x80 [req] Completed 500\n"
    target = driver.host("app-2")
    async with asyncssh.connect(
        target.address, target.port, username=demo_stack.endpoints.ssh_user,
        client_keys=[str(demo_stack.endpoints.client_key)],
        known_hosts=str(demo_stack.endpoints.known_hosts),
    ) as conn:
        process = await conn.create_process(f"docker logs -f --tail 0 {name}", encoding=None)
        answer = driver.control("POST", "/logs/inject", {
            "host": "app-2", "container": name,
            "data_b64": base64.b64encode(hostile).decode(),
        })
        assert answer["bytes"] == len(hostile)
        received = b""
        deadline = time.monotonic() + 10
        while hostile not in received and time.monotonic() < deadline:
            received += await asyncio.wait_for(process.stdout.read(65536), 10)
        assert hostile in received
        # Generated lines keep coming after it, as a live follow should.
        more = await asyncio.wait_for(process.stdout.read(65536), 10)
        assert more
        process.close()
    _, out, _ = await driver.ssh("app-2", f"docker logs --tail 200 {name}")
    assert hostile in out


async def test_host_keys_are_verified_and_only_deploy_gets_in(
    demo_stack: DemoProcess, drive, tmp_path
) -> None:
    driver = drive(demo_stack)
    endpoints = demo_stack.endpoints
    app1, app2 = driver.host("app-1"), driver.host("app-2")
    # A known_hosts that pairs app-1's port with app-2's key must be refused.
    entries = dict(line.split(" ", 1) for line in endpoints.known_hosts.read_text().splitlines())
    forged = tmp_path / "known_hosts"
    forged.write_text(f"[127.0.0.1]:{app1.port} {entries[f'[127.0.0.1]:{app2.port}']}\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(app1.address, app1.port, username=endpoints.ssh_user,
                               client_keys=[str(endpoints.client_key)], known_hosts=str(forged))
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(app1.address, app1.port, username="root",
                               client_keys=[str(endpoints.client_key)],
                               known_hosts=str(endpoints.known_hosts))


async def test_ssh_stop_drops_connections_and_start_listens_again(
    demo_stack: DemoProcess, drive
) -> None:
    driver = drive(demo_stack)
    endpoints = demo_stack.endpoints
    target = driver.host("db-1")
    conn = await asyncssh.connect(target.address, target.port, username=endpoints.ssh_user,
                                  client_keys=[str(endpoints.client_key)],
                                  known_hosts=str(endpoints.known_hosts))
    try:
        driver.control("POST", "/ssh/stop")
        await asyncio.wait_for(conn.wait_closed(), 5)
        with pytest.raises(OSError):
            await driver.ssh("db-1", "hostname")
    finally:
        conn.close()
        driver.control("POST", "/ssh/start")
    code, out, _ = await driver.ssh("db-1", "hostname")
    assert (code, out) == (0, b"db-1\n")
    assert driver.state()["ssh"]["ports"]["db-1"] == target.port


async def test_log_rate_can_be_raised_for_one_container(demo_stack: DemoProcess, drive) -> None:
    driver = drive(demo_stack)
    web = driver.container("app-2", "web")
    driver.control("POST", "/logs/rate", {"host": "app-2", "container": web["id"],
                                          "lines_per_s": 2000})
    try:
        # 2000 lines/s gives ~1000 in the last half second; the default rate, far fewer.
        async def raised() -> bool:
            _, out, _ = await driver.ssh("app-2", f"docker logs --since 0.5s {web['name']}")
            return len(out.splitlines()) > 400

        assert await driver.eventually(raised, within=10)
    finally:
        driver.control("POST", "/logs/rate", {"host": "app-2", "container": web["id"],
                                              "lines_per_s": driver.state()["log_rate"]})


async def test_kamal_app_logs_follow_streams_over_ssh(demo_stack: DemoProcess) -> None:
    process = await asyncio.create_subprocess_exec(
        *demo_stack.endpoints.kamal_command, "app", "logs", "-f",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        stamped = 0
        deadline = time.monotonic() + 15
        while stamped < 12 and time.monotonic() < deadline:
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            stamped += bool(DOCKER_STAMP.match(line))
        assert stamped >= 12  # the ten-line tail, then live lines
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 130
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_kamal_2_log_pipeline_runs_verbatim(demo_stack: DemoProcess, drive) -> None:
    """The exact command Kamal 2 sends, command substitution and all."""
    driver = drive(demo_stack)
    service = demo_stack.endpoints.service
    filters = (f"--filter label=service={service} --filter label=destination= "
               "--filter label=role=web --filter status=running --filter status=restarting")
    command = (
        f"sh -c 'docker ps --latest --quiet {filters} --filter ancestor=$(docker image ls "
        f"--filter reference=registry.example/{service}:latest --format '\\''{{{{.ID}}}}'\\'') ; "
        f"docker ps --latest --quiet {filters}' | head -1 | xargs docker logs --timestamps "
        "--tail 3 2>&1"
    )
    code, out, err = await driver.ssh("app-1", command)
    assert (code, err) == (0, b"")
    assert len(out.splitlines()) == 3
    assert all(DOCKER_STAMP.match(line) for line in out.splitlines())
