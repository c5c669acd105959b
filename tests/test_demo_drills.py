"""Each drill's fault is observable the way a console observes it, and its runbook cures it.

Drills started with ``--drill`` must already show when the stack announces itself;
the cures go through the real ``kamal`` stand-in command line.
"""

from __future__ import annotations

import json
import re

import pytest

READY = "SELECT count(*) FROM solid_queue_ready_executions"
FAILED = "SELECT count(*) FROM solid_queue_failed_executions"
FINISHED = "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL"
CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
LONGEST_ACTIVE_MS = (
    "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)) * 1000, 0) "
    "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
)


async def _web_log(driver, host: str = "app-1", tail: int = 300) -> bytes:
    name = driver.container(host, "web")["name"]
    code, out, _ = await driver.ssh(host, f"docker logs --tail {tail} {name}")
    assert code == 0
    return out


def _boot(driver) -> None:
    result = driver.kamal("app", "boot")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Start container with version" in result.stdout


@pytest.mark.slow
async def test_service_down_fails_up_until_app_boot(demo_stack_factory, drive) -> None:
    driver = drive(demo_stack_factory(drills=["service-down"]))
    assert driver.health_status() == 500
    assert driver.state()["drills"]["active"] == ["service-down"]

    async def errors_logged() -> bool:
        log = await _web_log(driver)
        return b"Completed 500 Internal Server Error" in log and b"NameError (" in log

    assert await driver.eventually(errors_logged, within=10)
    proxy = driver.container("app-1", "proxy")["name"]
    _, proxy_log, _ = await driver.ssh("app-1", f"docker logs --tail 5 {proxy}")
    statuses = [json.loads(line)["http"]["response"]["status_code"]
                for line in proxy_log.splitlines()]
    assert all(status >= 500 for status in statuses)

    _boot(driver)
    assert driver.health_status() == 200
    assert driver.state()["drills"]["active"] == []
    log = await _web_log(driver, tail=20)
    assert b"Completed 500" not in log

    # The other remedy of the runbook: roll back to the previous version.
    driver.control("POST", "/drill/service-down")
    assert driver.health_status() == 500
    previous = driver.state()["versions"][-2]
    result = driver.kamal("rollback", previous)
    assert result.returncode == 0, result.stdout
    assert driver.health_status() == 200
    assert driver.state()["current_version"] == previous


async def test_app_stop_takes_the_service_down_and_boot_brings_it_back(
    demo_stack_factory, drive
) -> None:
    driver = drive(demo_stack_factory())
    assert driver.kamal("app", "stop").returncode == 0
    assert driver.health_status() == 500
    # Production's containers (Kamal's filters: the empty destination label); the
    # staging destination's web container on the same host keeps running.
    production = "docker ps --filter label=destination= --filter label=role=web --quiet"
    _, out, _ = await driver.ssh("app-1", production)
    assert out == b""
    _, staging, _ = await driver.ssh(
        "app-1", "docker ps --filter label=destination=staging --filter label=role=web --quiet")
    assert len(staging.splitlines()) == 1
    _boot(driver)
    assert driver.health_status() == 200
    _, out, _ = await driver.ssh("app-1", production)
    assert len(out.splitlines()) == 1


@pytest.mark.slow
async def test_db_connections_cured_by_db_reboot_then_app_boot(demo_stack_factory, drive) -> None:
    driver = drive(demo_stack_factory(drills=["db-connections"]))
    assert await driver.sql(CONNECTIONS) > 80

    async def pool_timeouts_logged() -> bool:
        return b"ActiveRecord::ConnectionTimeoutError (could not obtain a connection" in (
            await _web_log(driver))

    assert await driver.eventually(pool_timeouts_logged, within=10)
    postgres_pid = driver.state()["postgres"]["pid"]
    reboot = driver.kamal("accessory", "reboot", "db")
    assert reboot.returncode == 0, reboot.stdout
    state = driver.state()
    assert state["postgres"]["pid"] != postgres_pid and state["postgres"]["restarts"] == 1
    assert state["drills"]["active"] == ["db-connections"]  # the app still has to reboot

    async def connections_back_to_normal() -> bool:
        count = await driver.sql(CONNECTIONS)
        return bool(3 <= count < 50)

    assert await driver.eventually(connections_back_to_normal, within=10)
    _boot(driver)
    assert driver.state()["drills"]["active"] == []
    # The workload rode out the restart: jobs still finish.
    finished = await driver.queue_sql(
        "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL")

    async def still_working() -> bool:
        count = await driver.queue_sql(
            "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL")
        return bool(count > finished)

    assert await driver.eventually(still_working, within=15)


@pytest.mark.slow
async def test_memory_leak_climbs_and_app_boot_resets_it(demo_stack_factory, drive) -> None:
    driver = drive(demo_stack_factory(drills=["memory-leak"]))

    async def used_fraction() -> float:
        _, out, _ = await driver.ssh("app-2", "free -m")
        total, used = (int(v) for v in out.decode().splitlines()[1].split()[1:3])
        return used / total

    first = await used_fraction()
    assert first >= 0.81

    async def climbed() -> bool:
        return await used_fraction() > first

    assert await driver.eventually(climbed, within=15)
    db_memory = next(h for h in driver.state()["hosts"] if h["name"] == "db-1")["memory_percent"]
    assert db_memory < 70  # only the app hosts leak
    _boot(driver)
    assert await used_fraction() < 0.70
    assert all(h["memory_percent"] < 70 for h in driver.state()["hosts"])


@pytest.mark.slow
async def test_job_backlog_grows_and_drains_after_app_boot(demo_stack_factory, drive) -> None:
    driver = drive(demo_stack_factory(drills=["job-backlog"]))
    backlog = await driver.queue_sql(READY)
    assert backlog > 1000

    async def nothing_claimed() -> bool:
        return bool(await driver.queue_sql("SELECT count(*) FROM solid_queue_claimed_executions") == 0)

    assert await driver.eventually(nothing_claimed, within=5)
    assert await driver.queue_sql(READY) >= backlog  # workers claim nothing; it only grows
    _boot(driver)

    async def drained() -> bool:
        return bool(await driver.queue_sql(READY) < 100)

    assert await driver.eventually(drained, within=30)


@pytest.mark.slow
async def test_failed_jobs_burst_keeps_failing_until_app_boot(demo_stack_factory, drive) -> None:
    driver = drive(demo_stack_factory(drills=["failed-jobs"]))
    burst = await driver.queue_sql(FAILED)
    assert burst > 50
    error = json.loads(await driver.queue_sql("SELECT error FROM solid_queue_failed_executions LIMIT 1"))
    assert error["exception_class"] == "Aws::S3::Errors::ServiceUnavailable"
    assert error["message"] and isinstance(error["backtrace"], list)
    classes = await driver.queue_sql(
        "SELECT count(DISTINCT j.class_name) FROM solid_queue_failed_executions f "
        "JOIN solid_queue_jobs j ON j.id = f.job_id")
    assert classes == 1

    async def more_failures() -> bool:
        return bool(await driver.queue_sql(FAILED) > burst)

    assert await driver.eventually(more_failures, within=15)
    _boot(driver)

    # Not a stretch of time but of work: the failure count is read around jobs that
    # finish, so "no new failures" means none while the workers kept working.
    async def failures_around_finished_jobs(jobs: int) -> tuple[int, int]:
        before = await driver.queue_sql(FAILED)
        finished = await driver.queue_sql(FINISHED)

        async def more_finished() -> bool:
            return bool(await driver.queue_sql(FINISHED) >= finished + jobs)

        assert await driver.eventually(more_finished, within=30), "the workers stopped"
        return before, await driver.queue_sql(FAILED)

    # Failures already being written when the boot ended the drill land first.
    settled = None
    for _ in range(10):
        before, after = await failures_around_finished_jobs(3)
        if before == after:
            settled = after
            break
    assert settled is not None, "failures kept coming after app boot"
    _, later = await failures_around_finished_jobs(10)
    assert later == settled  # no new failures; the old ones stay
    assert settled > 50


@pytest.mark.slow
async def test_slow_queries_show_in_activity_and_logs_until_app_boot(
    demo_stack_factory, drive
) -> None:
    driver = drive(demo_stack_factory(drills=["slow-queries"]))
    assert await driver.sql(LONGEST_ACTIVE_MS) > 1000
    application = await driver.sql(
        "SELECT application_name FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' "
        "AND pid <> pg_backend_pid() LIMIT 1")
    assert application == "puma"

    async def slow_requests_logged() -> bool:
        log = await _web_log(driver)
        return any(int(ms) >= 2000 for ms in re.findall(rb"Completed 200 OK in (\d+)ms", log))

    assert await driver.eventually(slow_requests_logged, within=10)
    _boot(driver)

    async def no_long_queries() -> bool:
        return bool(await driver.sql(LONGEST_ACTIVE_MS) < 100)

    assert await driver.eventually(no_long_queries, within=5)


def test_control_api_starts_and_stops_drills(demo_stack_factory, drive) -> None:
    # A stack of its own: the 500s this drill writes into the web log would stay in the
    # shared stack's log and spoil the tests that judge it healthy.
    stack = demo_stack_factory()
    driver = drive(stack)
    try:
        driver.control("POST", "/drill/service-down")
        assert driver.health_status() == 500
    finally:
        answer = driver.control("DELETE", "/drill/service-down")
    assert answer["was_active"] is True
    assert driver.health_status() == 200
    response = driver.http.post(f"{stack.endpoints.control_url}/drill/no-such-drill")
    assert response.status_code == 404
