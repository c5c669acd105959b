"""The table of command executors: one per kind the runbook schema allows, each
saying at load which fields its kind takes, and an unknown kind refused at load."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config
from rainbow_tui.incidents.executors import EXECUTORS, ExecutorResult, executor_for
from rainbow_tui.incidents.runbooks import (
    CommandKind,
    RunbookError,
    Verification,
    VerificationKind,
    load_runbooks,
    parse_runbook,
)
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.incidents.step_checks import StepChecks

RUNBOOK = """
id = "cdn"
title_ja = "CDN"
title_en = "CDN"
severity = "low"

[[steps]]
id = "purge"
phase = "recover"
title_ja = "キャッシュ削除"
title_en = "Purge"

[[steps.commands]]
{command}
"""


def test_every_kind_of_the_schema_has_its_executor() -> None:
    kinds = set(get_args(CommandKind))
    assert kinds == {"kamal", "ssh", "sql", "http", "local", "copy"}
    assert set(EXECUTORS) == kinds
    for kind in kinds:
        assert executor_for(kind).kind == kind


async def test_every_kind_of_verification_has_its_check(demo_stack: DemoProcess) -> None:
    config = demo_config(demo_stack.endpoints)
    runner = CommandRunner(config)
    try:
        checks = StepChecks(runner.context, metric_probe=None)
        assert set(checks.by_kind) == set(get_args(VerificationKind))
        # Each answers in words; without a metric source, metric_below cannot pass.
        nothing = await checks.check(Verification(kind="none"))
        assert nothing == (True, "nothing to check automatically")
        metric = await checks.check(Verification(kind="metric_below", key="host *:cpu"))
        assert metric == (False, "no metric source to check against")
    finally:
        await runner.close()


def test_an_unknown_kind_is_refused_at_load_naming_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "cdn.toml"
    path.write_text(RUNBOOK.format(command='kind = "docker"\nargv = ["ps"]'), encoding="utf-8")
    with pytest.raises(RunbookError) as refused:
        parse_runbook(path.read_text(encoding="utf-8"), path)
    problem = refused.value.problem
    assert (problem.path, problem.key) == (str(path), "steps[0].commands[0].kind")
    assert "'docker'" in problem.problem
    assert str(refused.value).startswith(f"{path}: steps[0].commands[0].kind: ")

    # In a team directory: reported, and every shipped runbook still loads.
    catalog = load_runbooks(tmp_path)
    assert [(p.path, p.key) for p in catalog.problems] == [
        (str(path), "steps[0].commands[0].kind")
    ]
    assert "cdn" not in catalog.runbooks and "general" in catalog.runbooks
    with pytest.raises(LookupError, match="'docker'"):
        executor_for("docker")


@pytest.mark.parametrize(
    ("command", "key", "problem"),
    [
        ('kind = "kamal"', "argv", "a kamal command needs argv"),
        ('kind = "kamal"\nargv = ["app", "boot"]\ntext = "boot"', "text", "takes argv, not text"),
        ('kind = "local"\nargv = ["./bin/purge"]\nhost = "app-1"', "host",
         "only ssh commands run on a host"),
        ('kind = "local"\nargv = ["./bin/purge"]\ndatabase = "queue"', "database",
         "only sql commands run in a database"),
        ('kind = "ssh"\ntext = "uptime"', "host", "needs a host"),
        ('kind = "ssh"\nhost = "app-1"\nargv = ["uptime"]', "argv", "takes text, not argv"),
        ('kind = "sql"\ntext = "  "', "text", "a sql command needs text"),
        ('kind = "sql"\ntext = "SELECT count(*) FROM solid_queue_jobs"', "database",
         'needs database = "queue"'),
        ('kind = "http"\nargv = ["GET", "/up"]', "argv", "takes text, not argv"),
        ('kind = "http"\nhost = "app-1"', "host", "only ssh commands run on a host"),
    ],
)
def test_each_kind_refuses_the_fields_it_does_not_take(
    command: str, key: str, problem: str
) -> None:
    with pytest.raises(RunbookError) as refused:
        parse_runbook(RUNBOOK.format(command=command), "team/cdn.toml")
    assert refused.value.problem.key == f"steps[0].commands[0].{key}"
    assert problem in refused.value.problem.problem


@pytest.mark.parametrize(
    "command",
    [
        'kind = "kamal"\nargv = ["app", "details"]',
        'kind = "local"\nargv = ["./bin/purge"]',
        'kind = "ssh"\nhost = "role:web"\ntext = "uptime"',
        'kind = "sql"\ntext = "SELECT count(*) FROM solid_queue_jobs"\ndatabase = "queue"',
        'kind = "http"',
    ],
)
def test_each_kind_loads_with_the_fields_it_takes(command: str) -> None:
    runbook = parse_runbook(RUNBOOK.format(command=command), "team/cdn.toml")
    assert runbook.steps[0].commands[0].kind in EXECUTORS


def test_an_executors_result_is_judged_by_its_exit_and_its_output() -> None:
    assert ExecutorResult(0).outcome == "ok"
    assert ExecutorResult(3).outcome == "failed"
    assert ExecutorResult(None, "could not start kamal").outcome == "error"
    # Kamal's rollback to a missing version exits 0 and did nothing.
    assert ExecutorResult(0, "nothing was rolled back", failed_by_output=True).outcome == "failed"
