"""The runner against the real demo stack: each kind of command runs for real, each
drill is cured by its runbook's step run through the runner, and its verification
passes only once the fault is gone."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import psutil
import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.kamal_output import parse_app_containers
from rainbow_tui.incidents.runbooks import (
    Command,
    Parameter,
    Runbook,
    Step,
    Verification,
    load_runbooks,
)
from rainbow_tui.incidents.runner import CommandRunner, ParameterError, findings_probe

RUNBOOKS = load_runbooks().runbooks


def step(runbook_id: str, step_id: str) -> Step:
    runbook: Runbook = RUNBOOKS[runbook_id]
    return next(s for s in runbook.steps if s.id == step_id)


@asynccontextmanager
async def runner_for(
    stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, *, read_only: bool = False, **changes: object
) -> AsyncIterator[CommandRunner]:
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, poll_s=1.0)
    if changes:
        config = msgspec.structs.replace(config, **changes)
    runner = CommandRunner(config, read_only=read_only)
    runner.metric_probe = findings_probe(config, runner.sources)
    try:
        yield runner
    finally:
        await runner.close()


def immediately(verification: Verification | None) -> Verification:
    """The step's check, made once: what it says about the system right now."""
    assert verification is not None
    return msgspec.structs.replace(verification, timeout_s=0)


async def test_service_down_boot_step_cures_the_drill_and_http_ok_passes(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["service-down"])
    driver = drive(stack)
    boot = step("service-down", "boot")
    async with runner_for(stack, monkeypatch) as runner:
        before = await runner.verify(immediately(boot.verify))
        assert not before.passed and "HTTP 500" in before.detail

        streamed: list[str] = []
        result = await runner.run(boot.commands[0], on_line=streamed.append)
        assert result.ok and result.exit_code == 0
        assert any("Start container with version" in line for line in streamed)
        # lib/kamal/cli/app.rb#boot: no --version, the image tagged latest.
        assert "Start container with version latest" in result.excerpt

        after = await runner.verify(boot.verify)  # type: ignore[arg-type]
        assert after.passed and "answered 200" in after.detail
    assert driver.state()["drills"]["active"] == []


async def test_rollback_offers_the_previous_versions_and_rolls_back(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["service-down"])
    driver = drive(stack)
    versions = driver.state()["versions"]
    rollback_step = step("service-down", "rollback")
    rollback = rollback_step.commands[1]
    async with runner_for(stack, monkeypatch) as runner:
        choices = await runner.choices(rollback.parameters[0])
        assert choices[0].value == versions[-2]  # the one that ran before, offered first
        assert choices[-1].value == versions[-1] and "running now" in choices[-1].label
        assert runner.preview(rollback, {"version": choices[0].value}).endswith(
            f"rollback {versions[-2]}"
        )
        with pytest.raises(ParameterError):
            runner.preview(rollback, {"version": "v1; rm -rf /"})

        result = await runner.run(rollback, {"version": choices[0].value})
        assert result.ok, result.excerpt
        assert f"Rolling back to version {versions[-2]}" in result.excerpt
        assert (await runner.verify(rollback_step.verify)).passed  # type: ignore[arg-type]
    assert driver.state()["current_version"] == versions[-2]


async def test_read_only_runs_nothing_destructive_but_shows_what_it_would_run(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["service-down"])
    driver = drive(stack)
    async with runner_for(stack, monkeypatch, read_only=True) as runner:
        boot = step("service-down", "boot").commands[0]
        result = await runner.run(boot)
        assert result.outcome == "not_run" and result.exit_code is None
        assert result.detail.startswith("not run: read-only")
        preview = runner.preview(boot)
        assert preview.endswith("app boot") and preview in result.detail
        assert driver.health_status() == 500  # nothing was booted

        details = await runner.run(step("service-down", "status").commands[0])
        assert details.ok and "App Host: app-1" in details.excerpt

        retry = step("failed-jobs", "retry").commands[0]
        assert (await runner.run(retry)).outcome == "not_run"


@pytest.mark.slow
async def test_db_connections_runbook_end_to_end(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["db-connections"])
    driver = drive(stack)
    async with runner_for(stack, monkeypatch) as runner:
        count = await runner.run(step("db-connections", "connections").commands[0])
        assert count.ok
        value = int(count.excerpt.splitlines()[2])
        assert value > 80

        manual_way = await runner.run(step("db-connections", "connections").commands[2])
        assert manual_way.ok and "count" in manual_way.excerpt

        reboot = step("db-connections", "db-reboot")
        assert not (await runner.verify(immediately(reboot.verify))).passed
        assert (await runner.run(reboot.commands[0])).ok
        verified = await runner.verify(reboot.verify)  # type: ignore[arg-type]
        assert verified.passed, verified.detail
        assert "database:db_connections" in verified.detail

        boot = step("db-connections", "app-boot")
        assert (await runner.run(boot.commands[0])).ok
        assert (await runner.verify(boot.verify)).passed  # type: ignore[arg-type]
    assert driver.state()["drills"]["active"] == []


@pytest.mark.slow
async def test_memory_growth_restart_brings_every_app_host_below_warning(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["memory-leak"])
    async with runner_for(stack, monkeypatch) as runner:
        free = await runner.run(step("memory-growth", "memory").commands[0])
        assert free.ok and "Mem:" in free.excerpt
        restart = step("memory-growth", "restart")
        before = await runner.verify(immediately(restart.verify))
        assert not before.passed and "host app-1:memory_percent" in before.detail
        assert (await runner.run(restart.commands[0])).ok
        after = await runner.verify(restart.verify)  # type: ignore[arg-type]
        assert after.passed, after.detail
        assert "host app-1:memory_percent" in after.detail
        assert "host app-2:memory_percent" in after.detail


@pytest.mark.slow
async def test_job_backlog_boot_workers_drains_the_queue(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["job-backlog"])
    async with runner_for(stack, monkeypatch) as runner:
        queues = await runner.run(step("job-backlog", "queues").commands[0])
        assert queues.ok and "ready" in queues.excerpt
        boot = step("job-backlog", "boot-workers")
        assert not (await runner.verify(immediately(boot.verify))).passed
        assert (await runner.run(boot.commands[0])).ok
        verified = await runner.verify(boot.verify)  # type: ignore[arg-type]
        assert verified.passed, verified.detail


async def test_failed_jobs_stop_then_retry_in_a_read_write_transaction(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["failed-jobs"])
    driver = drive(stack)
    async with runner_for(stack, monkeypatch) as runner:
        failures = await runner.run(step("failed-jobs", "failures").commands[0])
        assert failures.ok and "Aws::S3::Errors::ServiceUnavailable" in failures.excerpt
        assert (await runner.run(step("failed-jobs", "stop-failures").commands[0])).ok
        retry = step("failed-jobs", "retry")
        assert not (await runner.verify(immediately(retry.verify))).passed
        result = await runner.run(retry.commands[0])
        assert result.ok, result.excerpt
        requeued = int(result.excerpt.splitlines()[2].split("|")[0])
        assert requeued > 50
        assert (await runner.verify(retry.verify)).passed  # type: ignore[arg-type]
    assert await driver.queue_sql("SELECT count(*) FROM solid_queue_failed_executions") < 10


@pytest.mark.slow
async def test_slow_queries_cancel_then_app_boot(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["slow-queries"])
    async with runner_for(stack, monkeypatch) as runner:
        found = await runner.run(step("slow-queries", "find").commands[0])
        assert found.ok and "pg_sleep" in found.excerpt and "puma" in found.excerpt
        cancel = step("slow-queries", "cancel")
        assert not (await runner.verify(immediately(cancel.verify))).passed
        cancelled = await runner.run(cancel.commands[0])
        assert cancelled.ok and "| true " in cancelled.excerpt  # pg_cancel_backend said yes

        boot = step("slow-queries", "app-boot")
        assert (await runner.run(boot.commands[0])).ok
        verified = await runner.verify(boot.verify)  # type: ignore[arg-type]
        assert verified.passed, verified.detail


async def test_ssh_commands_verify_the_host_key(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    free = step("memory-growth", "memory").commands[1]
    async with runner_for(demo_stack, monkeypatch) as runner:
        assert runner.preview(free).startswith(f"ssh -p {runner.target('role:web').port} ")
        result = await runner.run(free)
        assert result.ok and "Mem:" in result.excerpt
        with pytest.raises(ParameterError, match="no configured host"):
            runner.preview(msgspec.structs.replace(free, host="web-9"))

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    async with runner_for(demo_stack, monkeypatch) as runner:
        ssh = msgspec.structs.replace(runner.config.ssh, known_hosts=str(empty))
        strict = CommandRunner(msgspec.structs.replace(runner.config, ssh=ssh))
        try:
            refused = await strict.run(free)
        finally:
            await strict.close()
        assert refused.outcome == "error"
        target = runner.target("role:web")
        assert refused.detail.startswith(f"{target.name}: unknown host key SHA256:")
        assert f"[127.0.0.1]:{target.port} is not in known_hosts file {empty}" in refused.detail


async def test_http_and_sql_commands(demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    async with runner_for(demo_stack, monkeypatch) as runner:
        health = step("general", "status").commands[0]
        result = await runner.run(health)
        assert result.ok and result.excerpt.startswith("HTTP 200 OK")

        echo = Command(
            kind="sql",
            text="SELECT {word}::text AS word, current_setting('transaction_read_only') AS ro",
            parameters=(Parameter(name="word", prompt_ja="語", prompt_en="word"),),
        )
        assert runner.preview(echo, {"word": "rainbow"}).endswith("-- $1 = 'rainbow'")
        echoed = await runner.run(echo, {"word": "rainbow"})
        assert echoed.ok and echoed.excerpt.splitlines()[2].split() == ["rainbow", "|", "on"]
        writes = msgspec.structs.replace(echo, destructive=True)
        assert (await runner.run(writes, {"word": "x"})).excerpt.splitlines()[2].endswith("off")

        broken = await runner.run(Command(kind="sql", text="SELECT * FROM no_such_table"))
        assert broken.outcome == "failed" and "no_such_table" in broken.excerpt
        # The failed statement did not spoil the session for the next caller.
        assert (await runner.run(echo, {"word": "again"})).ok


@pytest.mark.slow
async def test_runbook_sql_runs_past_the_monitors_timeout_within_its_own(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's session is its own: a statement the monitor's timeout would cut
    off finishes within the step's ``timeout_s``, and one past that is a timeout."""
    async with runner_for(demo_stack, monkeypatch) as runner:
        monitor_limit_s = runner.config.database.statement_timeout_ms / 1000
        # Past the monitor's server and client limits (the client's is 1 s later).
        sleep_s = monitor_limit_s + 1.7
        slow = Command(kind="sql", text=f"SELECT pg_sleep({sleep_s}) AS slept, "
                       "current_setting('application_name') AS app", timeout_s=sleep_s * 4)
        done = await runner.run(slow)
        assert done.ok, done.detail
        assert done.excerpt.splitlines()[2].split() == ["|", "rainbow-tui"]

        queue_slow = msgspec.structs.replace(
            slow, text=f"SELECT pg_sleep({sleep_s}), current_database() AS db", database="queue"
        )
        on_queue = await runner.run(queue_slow)
        assert on_queue.ok, on_queue.detail
        assert on_queue.excerpt.splitlines()[2].split()[-1].endswith("_queue")

        too_slow = msgspec.structs.replace(slow, timeout_s=sleep_s / 2)
        timed_out = await runner.run(too_slow)
        assert timed_out.outcome == "timeout"
        assert timed_out.detail == f"timed out after {sleep_s / 2:g} s"
        # The monitor's link was never borrowed, and is still fine for the next poll.
        assert runner.sources.link is not None
        assert await runner.sources.link.fetch_json("SELECT 1") == 1


async def test_ssh_parameters_reach_the_remote_shell_quoted(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A responder's value is one word in the remote command line, run by a real sh."""
    from tests.ssh_servers import shell_server

    hostile = "x; touch PWNED; echo $(touch PWNED2)"
    echo = Command(
        kind="ssh", host="app-1", text="printf '%s\\n' {word}", timeout_s=30,
        parameters=(Parameter(name="word", prompt_ja="語", prompt_en="word", pattern=".+"),),
    )
    async with shell_server(tmp_path) as server, runner_for(demo_stack, monkeypatch) as runner:
        runner.sources.targets["app-1"] = server.target("app-1")
        # What the operator could copy: ssh with the remote command line as one word.
        preview = shlex.split(runner.preview(echo, {"word": hostile}))
        assert preview[:4] == ["ssh", "-p", str(server.port), "deploy@127.0.0.1"]
        result = await runner.run(echo, {"word": hostile})
        assert result.ok, result.detail
        assert result.excerpt == hostile
        assert server.commands == [preview[4]]
        assert shlex.split(preview[4]) == ["printf", "%s\\n", hostile]
        assert sorted(p.name for p in server.workdir.iterdir()) == []


async def test_app_versions_are_parsed_from_kamal_app_containers(
    demo_stack: DemoProcess, drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = drive(demo_stack).state()
    async with runner_for(demo_stack, monkeypatch) as runner:
        versions = await runner.app_versions()
    assert [v.version for v in versions] == list(reversed(state["versions"]))
    assert [v.running for v in versions] == [True] + [False] * (len(versions) - 1)
    assert versions[0].hosts == ("app-1", "app-2")


# -- local commands: streaming, redaction, timeouts, cancellation --------------------------

NOISY = r"""
import sys, time
out = sys.stdout.buffer
out.write(b"first line\n"); out.flush()
out.write("password=hunter2 DATABASE_URL=postgresql://u:s3cret@db/x\n".encode()); out.flush()
out.write(b"bad bytes \xff\xfe and \x1b[31mred\x1b[0m\n"); out.flush()
out.write(b"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabcdefg\n-----END RSA PRIVATE KEY-----\n")
for n in range(200):
    out.write(b"line %d\n" % n)
out.write(b"no newline at the end")
sys.exit(3)
"""


async def test_local_output_streams_redacted_and_inert(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = Command(kind="local", argv=(sys.executable, "-c", NOISY))
    lines: list[str] = []
    async with runner_for(demo_stack, monkeypatch) as runner:
        result = await runner.run(command, on_line=lines.append)
    assert result.outcome == "failed" and result.exit_code == 3
    assert lines[0] == "first line"
    assert lines[1] == "password=[REDACTED] DATABASE_URL=postgresql://u:[REDACTED]@db/x"
    assert lines[2] == "bad bytes \ufffd\ufffd and \u241b[31mred\u241b[0m"
    assert "MIIEpAIBAAKCAQEA" not in "\n".join(lines)
    assert lines[-1] == "no newline at the end"
    assert "hunter2" not in result.excerpt and "s3cret" not in result.excerpt
    assert "lines omitted" in result.excerpt and result.excerpt.endswith("no newline at the end")


async def test_output_known_secret_only_by_its_command_is_redacted(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What `cat config/master.key` prints is the master key, though 32 hex digits alone
    are nothing: the command is the output's context."""
    master_key = "3f1c9a0be27d4c58a6e1f0b9d2c7e4a1"
    key_file = tmp_path / "config" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(master_key + "\n", encoding="ascii")
    command = Command(kind="local", argv=("cat", str(key_file)))
    lines: list[str] = []
    async with runner_for(demo_stack, monkeypatch) as runner:
        result = await runner.run(command, on_line=lines.append)
    assert result.outcome == "ok"
    assert lines == ["[REDACTED]"]
    assert master_key not in result.excerpt


# A command that outlives its timeout, with a grandchild of its own: the sleeps are the
# command under test, which the runner must end together with what it started.
SLOW = r"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


async def test_a_timeout_ends_the_command_and_what_it_started(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = Command(kind="local", argv=(sys.executable, "-c", SLOW), timeout_s=1.5)
    lines: list[str] = []
    async with runner_for(demo_stack, monkeypatch) as runner:
        result = await runner.run(command, on_line=lines.append)
    assert result.outcome == "timeout" and "timed out after 1.5 s" in result.detail
    grandchild = int(lines[0])

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    # The group's SIGKILL is sent; on a loaded machine the kernel may take a moment
    # to end the grandchild, which is not ours to wait for.
    for _ in range(100):  # up to 5 s
        if gone():
            break
        await asyncio.sleep(0.05)
    assert gone()


async def test_a_running_command_can_be_cancelled(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = Command(kind="local", argv=(sys.executable, "-c", SLOW), timeout_s=120)
    started = asyncio.Event()
    async with runner_for(demo_stack, monkeypatch) as runner:
        running = runner.start(command, on_line=lambda _line: started.set())
        await started.wait()
        running.cancel()
        result = await running.wait()
    assert result.outcome == "cancelled" and result.exit_code is None


def test_parse_app_containers_tolerates_noise() -> None:
    output = """\
  INFO [1] Running docker container ls --all on 10.0.0.1
App Host: 10.0.0.1
CONTAINER ID   IMAGE                      COMMAND                  CREATED        STATUS                      PORTS     NAMES
aaaaaaaaaaaa   registry/app:v2            "/rails/bin/docker-e…"   1 hour ago     Up 1 hour                   80/tcp    app-web-v2
bbbbbbbbbbbb   registry/app:v1            "/rails/bin/docker-e…"   2 days ago     Exited (0) 1 hour ago                 app-web-v1_replaced_0123abcd
cccccccccccc   registry/app:latest        "/rails/bin/docker-e…"   3 weeks ago    Exited (137) 2 weeks ago              app-web-v0
  INFO [2] Finished in 0.1 seconds with exit status 0 (successful).
garbage | line
"""
    versions = parse_app_containers(output)
    assert [(v.version, v.running, v.created) for v in versions] == [
        ("v2", True, "1 hour ago"), ("v1", False, "2 days ago"), ("v0", False, "3 weeks ago"),
    ]
    assert parse_app_containers("") == [] and parse_app_containers("CONTAINER ID\n\x00") == []


async def test_a_command_cancelled_before_it_starts_runs_nothing(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    command = Command(kind="local", argv=("touch", str(marker)))
    async with runner_for(demo_stack, monkeypatch) as runner:
        running = runner.start(command)
        running.cancel()
        result = await running.wait()
    assert result.outcome == "cancelled" and not marker.exists()


async def test_a_rollback_kamal_exits_0_from_is_a_failure_on_the_record(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lib/kamal/cli/main.rb#rollback: a version with no container is a message, exit 0."""
    stack = demo_stack_factory()
    driver = drive(stack)
    rollback = step("service-down", "rollback").commands[1]
    async with runner_for(stack, monkeypatch) as runner:
        result = await runner.run(rollback, {"version": "0123abcd"})
    assert result.exit_code == 0 and result.outcome == "failed" and not result.ok
    assert "nothing was rolled back" in result.detail and "0123abcd" in result.detail
    assert "not available as a container" in result.excerpt
    assert driver.state()["current_version"] == driver.state()["versions"][-1]


@pytest.mark.slow
async def test_deploy_lock_drill_cured_through_the_service_down_runbook(
    demo_stack_factory: Callable[..., DemoProcess], drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lib/kamal/cli/base.rb#with_lock and cli/lock.rb: boot is refused while a stale lock
    is held; the runbook's lock step releases it, and boot then cures the outage."""
    stack = demo_stack_factory(drills=["deploy-lock"])
    driver = drive(stack)
    lock = step("service-down", "deploy-lock")
    boot = step("service-down", "boot")
    async with runner_for(stack, monkeypatch) as runner:
        refused = await runner.run(boot.commands[0])
        assert refused.outcome == "failed" and refused.exit_code == 1
        assert refused.detail.startswith("refused: the deploy lock is held (Locked by: Deploy Bot")
        status = await runner.run(lock.commands[0])
        assert status.ok and "Message: Automatic deploy lock" in status.excerpt
        released = await runner.run(lock.commands[1])
        assert released.ok and "Released the deploy lock" in released.excerpt
        assert driver.state()["drills"]["active"] == ["deploy-lock"]  # still down: boot it
        booted = await runner.run(boot.commands[0])
        assert booted.ok, booted.excerpt
        assert (await runner.verify(boot.verify)).passed  # type: ignore[arg-type]
    assert driver.state()["drills"]["active"] == []


async def test_unresolvable_secrets_fail_clearly_and_no_internal_path_is_shown(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """lib/kamal/secrets.rb#[]: a secret that .kamal/secrets does not resolve on the
    machine running kamal.  What the operator sees is `bundle exec kamal …`."""
    stack = demo_stack_factory()
    (stack.endpoints.state_dir / ".kamal" / "secrets").unlink()
    boot = step("service-down", "boot").commands[0]
    internal = str(stack.endpoints.state_dir)
    async with runner_for(stack, monkeypatch) as runner:
        assert runner.preview(boot) == "bundle exec kamal app boot"
        result = await runner.run(boot)
    assert result.outcome == "failed"
    assert result.detail.startswith(".kamal/secrets could not be resolved on this machine: "
                                    "Secret 'RAILS_MASTER_KEY' not found, no secret files")
    for text in (result.excerpt, result.detail):
        assert internal not in text and "rainbow_tui.demo" not in text
