"""The demo's kamal stand-in behaves as Kamal 2 does, for every command the console uses.

Each test names the upstream file (basecamp/kamal, v2.x) whose behaviour it transcribes.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

from rainbow_tui.demo.launcher import DemoProcess

LOCK_FOUND = (
    "  ERROR (Kamal::Cli::LockError): Deploy lock found. Run 'kamal lock help' for more "
    "information"
)


def kamal(stack: DemoProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*stack.endpoints.kamal_command, *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_stale_lock_refuses_boot_until_released_then_boot_runs_latest(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """lib/kamal/cli/lock.rb, cli/base.rb#with_lock/raise_if_locked (test/cli/lock_test.rb,
    main_test.rb "deploy when locked"); cli/app.rb#boot + cli/app/boot.rb (app_test.rb
    "boot", "boot will rename if same version is already running")."""
    stack = demo_stack_factory(drills=["deploy-lock"])
    driver = drive(stack)
    status = kamal(stack, "lock", "status")
    assert status.returncode == 0
    assert re.search(r"^Locked by: .+ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", status.stdout, re.M)
    assert "Message: Automatic deploy lock" in status.stdout

    refused = kamal(stack, "app", "boot")
    assert refused.returncode == 1
    assert "Deploy lock already in place!" in refused.stdout
    assert refused.stdout.rstrip().endswith(LOCK_FOUND)
    assert "docker run" not in refused.stdout
    assert driver.health_status() == 500
    assert driver.state()["drills"]["active"] == ["deploy-lock"]

    assert kamal(stack, "lock", "release").stdout.strip() == "Released the deploy lock"
    assert kamal(stack, "lock", "release").stdout.strip() == "There is no deploy lock"
    assert kamal(stack, "lock", "status").stdout.strip() == "There is no deploy lock"

    boot = kamal(stack, "app", "boot")
    assert boot.returncode == 0, boot.stdout
    assert "Get most recent version available as an image..." in boot.stdout
    assert "Start container with version latest (or reboot if already running)..." in boot.stdout
    assert re.search(r"docker run --detach --restart unless-stopped --name "
                     r"shiojiri-rainbow-seeker-web-latest --network kamal", boot.stdout)
    assert "Acquiring the deploy lock..." in boot.stdout
    assert "Releasing the deploy lock..." in boot.stdout
    assert driver.health_status() == 200
    assert driver.state()["drills"]["active"] == []
    assert driver.container("app-1", "web")["name"] == "shiojiri-rainbow-seeker-web-latest"

    again = kamal(stack, "app", "boot")
    assert again.returncode == 0
    assert re.search(r"Renaming container latest to latest_replaced_[0-9a-f]{16} as already "
                     r"deployed on", again.stdout)
    assert re.search(r"docker rename shiojiri-rainbow-seeker-web-latest "
                     r"shiojiri-rainbow-seeker-web-latest_replaced_[0-9a-f]{16}", again.stdout)
    assert kamal(stack, "lock", "status").stdout.strip() == "There is no deploy lock"

    # Held by hand, the lock refuses a rollback too.
    acquired = kamal(stack, "lock", "acquire", "-m", "database migration")
    assert acquired.stdout.strip() == "Acquired the deploy lock"
    previous = driver.state()["versions"][-2]
    blocked = kamal(stack, "rollback", previous)
    assert blocked.returncode == 1 and blocked.stdout.rstrip().endswith(LOCK_FOUND)
    assert "Message: database migration" in blocked.stdout
    kamal(stack, "lock", "release")


def test_rollback_to_a_missing_version_says_so_and_exits_0(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """lib/kamal/cli/main.rb#rollback (test/cli/main_test.rb "rollback bad version")."""
    stack = demo_stack_factory()
    driver = drive(stack)
    before = driver.state()["current_version"]
    result = kamal(stack, "rollback", "nonsense")
    assert result.returncode == 0
    assert "docker container ls --all --filter name=^shiojiri-rainbow-seeker-web-nonsense$ " \
           "--quiet" in result.stdout
    assert ("The app version 'nonsense' is not available as a container (use 'kamal app "
            "containers' for available versions)") in result.stdout
    assert "docker run" not in result.stdout
    assert driver.state()["current_version"] == before

    previous = driver.state()["versions"][-2]
    rolled = kamal(stack, "rollback", previous)
    assert rolled.returncode == 0, rolled.stdout
    assert f"--name shiojiri-rainbow-seeker-web-{previous} " in rolled.stdout
    assert driver.state()["current_version"] == previous


def test_missing_secrets_fail_boot_with_kamals_message_and_leave_no_lock(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """lib/kamal/secrets.rb#[] (Kamal::ConfigurationError), bin/kamal's ERROR line, and
    cli/base.rb#with_lock releasing the lock when the command fails."""
    stack = demo_stack_factory()
    driver = drive(stack)
    secrets = stack.endpoints.state_dir / ".kamal" / "secrets"
    assert "RAILS_MASTER_KEY=" in secrets.read_text()
    secrets.write_text("KAMAL_REGISTRY_PASSWORD=$DEMO_REGISTRY_PASSWORD_NOT_SET\n")
    failed = kamal(stack, "app", "boot")
    assert failed.returncode == 1
    assert ("  ERROR (Kamal::ConfigurationError): Exception while executing on host 127.0.0.1: "
            "Secret 'RAILS_MASTER_KEY' not found in .kamal/secrets") in failed.stdout
    assert "Releasing the deploy lock..." in failed.stdout
    assert kamal(stack, "lock", "status").stdout.strip() == "There is no deploy lock"
    # An empty registry password: docker login cannot ask for one without a terminal.
    login = kamal(stack, "app", "exec", "free -m")
    assert login.returncode == 1
    assert "Cannot perform an interactive login from a non TTY device" in login.stdout
    secrets.unlink()
    none = kamal(stack, "app", "boot")
    assert ("Secret 'RAILS_MASTER_KEY' not found, no secret files (.kamal/secrets-common, "
            ".kamal/secrets) provided") in none.stdout
    assert driver.health_status() == 200  # nothing was replaced


def test_read_only_commands_as_kamal_2_prints_them(demo_stack: DemoProcess) -> None:
    """cli/app.rb#containers (one listing per host), #logs (every role; --grep without a
    --tail; a failed pipeline is "Nothing found"), configuration.rb#load_config_file."""
    containers = kamal(demo_stack, "app", "containers")
    assert containers.returncode == 0
    assert containers.stdout.count("App Host: ") == 2  # app-1 and app-2, once each
    assert "--filter label=role=" not in containers.stdout

    logs = kamal(demo_stack, "app", "logs", "-n", "2")
    assert logs.returncode == 0
    assert "--filter label=role=web" in logs.stdout and "--filter label=role=job" in logs.stdout
    assert logs.stdout.count("App Host: ") == 3  # app-1 web and job, app-2 web

    grep = kamal(demo_stack, "app", "logs", "--grep", "Completed", "-r", "web")
    assert grep.returncode == 0
    assert "| grep Completed" in grep.stdout and "--tail" not in grep.stdout
    nothing = kamal(demo_stack, "app", "logs", "--grep", "no such line anywhere", "-r", "web")
    assert nothing.stdout.count("Nothing found") == 2

    staging = kamal(demo_stack, "app", "containers", "-d", "staging")
    assert "--filter label=destination=staging" in staging.stdout
    assert "shiojiri-rainbow-seeker-web-staging-" in staging.stdout
    missing = kamal(demo_stack, "app", "details", "-d", "production")
    assert missing.returncode == 1
    assert missing.stdout.strip() == (
        "ERROR (RuntimeError): Configuration file not found in config/deploy.production.yml")


def test_accessory_exec_without_reuse_runs_a_fresh_container_with_no_server(
    demo_stack: DemoProcess,
) -> None:
    """lib/kamal/cli/accessory.rb#exec + commands/accessory.rb: without --reuse,
    ``docker run --rm`` of the image (no server in it); with --reuse, ``docker exec``."""
    query = 'psql -U shiojiri_rainbow_seeker -c "SELECT count(*) FROM pg_stat_activity;"'
    fresh = kamal(demo_stack, "accessory", "exec", "db", query)
    assert fresh.returncode == 1
    assert "Launching command from new container..." in fresh.stdout
    assert "docker run --rm --network kamal" in fresh.stdout
    assert 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" ' \
           "failed" in fresh.stdout
    restore = kamal(demo_stack, "accessory", "exec", "db",
                    "pg_restore -U shiojiri_rainbow_seeker -d x --clean /backup/backup.dump")
    assert restore.returncode == 1 and "pg_restore: error: connection to server" in restore.stdout

    reused = kamal(demo_stack, "accessory", "exec", "db", "--reuse", query)
    assert reused.returncode == 0, reused.stdout
    assert "Launching command from existing container..." in reused.stdout
    assert "docker exec shiojiri-rainbow-seeker-db psql" in reused.stdout
    assert re.search(r"^\s*count\s*$", reused.stdout, re.M)
    no_file = kamal(demo_stack, "accessory", "exec", "db", "--reuse",
                    "pg_restore -U shiojiri_rainbow_seeker -d x --clean /backup/backup.dump")
    assert no_file.returncode == 1
    assert 'could not open input file "/backup/backup.dump"' in no_file.stdout


def test_deploy_builds_pushes_and_boots_a_new_version_under_the_lock(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """lib/kamal/cli/main.rb#deploy (test/cli/main_test.rb "deploy", "deploy when
    locked"): build and push, then under the lock ensure kamal-proxy, stale containers,
    app boot of the new version (deploy_options carry KAMAL.config.version), prune."""
    stack = demo_stack_factory()
    driver = drive(stack)
    before = driver.state()["current_version"]
    deployed = kamal(stack, "deploy", "--version", "a1b2c3d4e5")
    assert deployed.returncode == 0, deployed.stdout
    said = deployed.stdout
    order = ["Build and push app image...", "Acquiring the deploy lock...",
             "Ensure kamal-proxy is running...", "Detect stale containers...",
             "Start container with version a1b2c3d4e5", "Prune old containers and images...",
             "Releasing the deploy lock..."]
    positions = [said.index(words) for words in order]
    assert positions == sorted(positions), said
    assert "--name shiojiri-rainbow-seeker-web-a1b2c3d4e5 " in said
    state = driver.state()
    assert state["current_version"] == "a1b2c3d4e5" != before
    assert driver.container("app-1", "web")["name"] == "shiojiri-rainbow-seeker-web-a1b2c3d4e5"
    assert driver.health_status() == 200
    assert kamal(stack, "lock", "status").stdout.strip() == "There is no deploy lock"

    kamal(stack, "lock", "acquire", "-m", "hands off")
    blocked = kamal(stack, "deploy")
    assert blocked.returncode == 1 and blocked.stdout.rstrip().endswith(LOCK_FOUND)
    assert driver.state()["current_version"] == "a1b2c3d4e5"
    kamal(stack, "lock", "release")


def test_every_shipped_kamal_command_is_one_the_stand_in_knows(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """Each kamal command of a shipped runbook, run through the stand-in as the console
    runs it: none is an unknown command (cli/main.rb's subcommands), each ends 0."""
    from rainbow_tui.incidents.runbooks import load_runbooks

    stack = demo_stack_factory()
    driver = drive(stack)
    previous = driver.state()["versions"][-2]
    commands = {
        tuple(part.replace("{version}", previous) for part in command.argv)
        for runbook in load_runbooks().runbooks.values()
        for step in runbook.steps
        for command in step.commands
        if command.kind == "kamal"
    }
    assert ("deploy",) in commands and ("app", "boot") in commands
    # What only looks first; the stop before the boots that undo it.
    ordered = sorted(commands, key=lambda argv: (
        argv[:2] == ("app", "boot") or argv[0] in ("deploy", "rollback") or "reboot" in argv,
        argv[:2] == ("app", "stop"),
        argv,
    ))
    for argv in ordered:
        result = kamal(stack, *argv)
        assert "Could not find command" not in result.stdout, argv
        assert result.returncode == 0, (argv, result.stdout[-2000:])


def test_lock_wait_waits_for_a_deploys_lock_but_not_for_one_taken_by_hand(
    demo_stack_factory: Callable[..., DemoProcess], drive
) -> None:
    """lib/kamal/cli/base.rb#acquire_lock_with_wait (test/cli/main_test.rb "deploy with
    --lock-wait retries and acquires lock when freed", "… times out", "… fails
    immediately when the lock is held manually")."""
    stack = demo_stack_factory(drills=["deploy-lock"])  # a deploy's lock, left behind
    driver = drive(stack)
    timed_out = kamal(stack, "app", "boot", "--lock-wait", "--lock-wait-timeout", "0",
                      "--lock-wait-interval", "0")
    assert timed_out.returncode == 1
    assert "Acquiring the deploy lock (waiting up to 0s)..." in timed_out.stdout
    assert "Deploy lock is held by:" in timed_out.stdout
    assert "Timed out after 0s waiting for the deploy lock" in timed_out.stdout
    assert timed_out.stdout.rstrip().endswith(
        "ERROR (Kamal::Cli::LockError): Timed out waiting for deploy lock")

    waiting = subprocess.Popen(
        [*stack.endpoints.kamal_command, "app", "boot", "--lock-wait", "--lock-wait-timeout",
         "60", "--lock-wait-interval", "1"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while driver.state()["lock_waiters"] == 0:  # the boot is waiting for the lock
            assert time.monotonic() < deadline and waiting.poll() is None
        released = kamal(stack, "lock", "release")  # runs while the boot waits
        assert released.stdout.strip() == "Released the deploy lock"
        out, _ = waiting.communicate(timeout=120)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, out
    assert "Acquiring the deploy lock (waiting up to 60s)..." in out
    assert re.search(r"Retrying in 1s \(\d+s remaining\)\.\.\.", out)
    assert "Start container with version latest" in out

    kamal(stack, "lock", "acquire", "-m", "database migration")
    by_hand = kamal(stack, "deploy", "--lock-wait", "--lock-wait-timeout", "60",
                    "--lock-wait-interval", "0")
    assert by_hand.returncode == 1
    assert "Message: database migration" in by_hand.stdout
    assert "Deploy lock held manually, not waiting" in by_hand.stdout
    assert "Retrying" not in by_hand.stdout
    kamal(stack, "lock", "release")
