"""The shipped runbooks follow the manual; a team directory adds, replaces, and a broken
file is reported with its file and key while every other runbook still loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainbow_tui.incidents.runbooks import (
    PHASES,
    RunbookError,
    load_runbooks,
    parse_runbook,
    pick_runbook,
    shipped_runbooks_dir,
)

SHIPPED = {
    "service-down", "db-connections", "memory-growth", "restore-backup", "security-incident",
    "general", "job-backlog", "failed-jobs", "slow-queries", "db-memory-growth", "backup",
}


def test_every_shipped_runbook_loads_cleanly() -> None:
    catalog = load_runbooks()
    assert catalog.problems == ()
    assert set(catalog.runbooks) == SHIPPED
    for runbook in catalog.runbooks.values():
        assert runbook.title_ja and runbook.title_en
        assert Path(runbook.path).parent == shipped_runbooks_dir()
        for step in runbook.steps:
            assert step.phase in PHASES
            assert step.title_ja and step.title_en
            assert step.commands or step.checklist_ja or step.verify, f"{runbook.id}/{step.id}"


def _argvs(runbook_id: str) -> list[tuple[str, ...]]:
    runbook = load_runbooks().runbooks[runbook_id]
    return [c.argv for s in runbook.steps for c in s.commands if c.kind == "kamal"]


def test_the_manuals_procedures_are_there() -> None:
    catalog = load_runbooks()
    service_down = catalog.runbooks["service-down"]
    assert service_down.severity == "critical"
    assert ("app", "details") in _argvs("service-down")
    assert ("app", "logs", "--since", "5m") in _argvs("service-down")
    boot = next(s for s in service_down.steps if s.id == "boot")
    assert boot.commands[0].argv == ("app", "boot") and boot.commands[0].destructive
    assert boot.verify is not None and boot.verify.kind == "http_ok"
    rollback = next(c for s in service_down.steps for c in s.commands if c.argv[:1] == ("rollback",))
    assert rollback.destructive and rollback.argv == ("rollback", "{version}")
    assert rollback.parameters[0].choices_from == "kamal app containers"

    db = catalog.runbooks["db-connections"]
    assert db.severity == "high"
    assert ("accessory", "details", "db") in _argvs("db-connections")
    sql = [c.text for s in db.steps for c in s.commands if c.kind == "sql"]
    assert "SELECT count(*) FROM pg_stat_activity" in sql
    reboot = next(c for s in db.steps for c in s.commands if c.argv == ("accessory", "reboot", "db"))
    assert reboot.destructive

    assert catalog.runbooks["memory-growth"].severity == "medium"
    assert ("app", "exec", "free -m") in _argvs("memory-growth")

    restore = catalog.runbooks["restore-backup"]
    destructive = [c for s in restore.steps for c in s.commands if c.destructive]
    assert [c.argv[:2] or (c.kind,) for c in destructive] == [
        ("app", "stop"), ("ssh",), ("app", "boot")
    ]
    pg_restore = destructive[1]
    # The manual's accessory exec reads /backup inside a container that has no /backup
    # (lib/kamal/commands/accessory.rb#execute_in_*_container): the dump goes on stdin.
    assert pg_restore.host == "role:db"
    assert pg_restore.text.startswith("docker exec -i shiojiri-rainbow-seeker-db pg_restore ")
    assert pg_restore.text.endswith("--clean < /backup/{backup_file}")
    assert pg_restore.parameters[0].name == "backup_file"
    assert "--reuse" in pg_restore.note_en and "--reuse" in pg_restore.note_ja


def test_runbook_commands_work_on_kamal_2() -> None:
    """Every shipped kamal command is one Kamal 2 has, in the form that works there:
    lib/kamal/cli/accessory.rb#exec (a client needs --reuse, or -h to the accessory),
    cli/main.rb (no `logs` command), cli/lock.rb (status, release)."""
    catalog = load_runbooks()
    kamal_commands = [c for r in catalog.runbooks.values() for s in r.steps for c in s.commands
                      if c.kind == "kamal"]
    namespaces = {"app", "accessory", "rollback", "lock", "details", "deploy", "proxy"}
    for command in kamal_commands:
        assert command.argv[0] in namespaces, command.argv
        if command.argv[:2] == ("accessory", "exec"):
            client = command.argv[-1].split()[0]
            if client in ("psql", "pg_dump", "pg_restore"):
                assert "--reuse" in command.argv or " -h " in command.argv[-1], command.argv
                assert "--reuse" in command.note_en and "--reuse" in command.note_ja
    lock = next(s for s in catalog.runbooks["service-down"].steps if s.id == "deploy-lock")
    assert [c.argv for c in lock.commands] == [("lock", "status"), ("lock", "release")]
    assert lock.commands[1].destructive and not lock.commands[0].destructive
    steps = [s.id for s in catalog.runbooks["service-down"].steps]
    assert steps.index("deploy-lock") < steps.index("boot")

    security = catalog.runbooks["security-incident"]
    assert [s.phase for s in security.steps] == [
        "detect", "contain", "contain", "eradicate", "recover", "lessons"
    ]


@pytest.mark.parametrize(
    ("alert_key", "runbook_id"),
    [
        ("service:health", "service-down"),
        ("host app-1:container:web", "service-down"),
        ("database:db_connections", "db-connections"),
        ("host app-2:memory_percent", "memory-growth"),
        ("queue:waiting_jobs", "job-backlog"),
        ("queue:failed_jobs", "failed-jobs"),
        ("database:db_query_time_ms", "slow-queries"),
        ("host db-1:cpu_percent", "general"),
        ("something:new", "general"),
    ],
)
def test_pick_runbook(alert_key: str, runbook_id: str) -> None:
    assert pick_runbook(alert_key).id == runbook_id


TEAM_RUNBOOK = """
id = "cdn-purge"
title_ja = "CDNキャッシュ削除"
title_en = "Purge the CDN cache"
severity = "low"
matches = ["service:response_time_p95_ms"]

[[steps]]
id = "purge"
phase = "recover"
title_ja = "キャッシュ削除"
title_en = "Purge"

[[steps.commands]]
kind = "local"
argv = ["./bin/purge-cdn"]
"""

REPLACEMENT = """
id = "memory-growth"
title_ja = "メモリ (チーム版)"
title_en = "Memory (team version)"
severity = "high"
matches = ["host *:memory_percent"]

[[steps]]
id = "restart"
phase = "contain"
title_ja = "再起動"
title_en = "Restart"

[[steps.commands]]
kind = "kamal"
argv = ["app", "boot"]
destructive = true
"""

BROKEN = {
    "syntax.toml": ('id = "x"\ntitle_ja = ', "", "not valid TOML"),
    "wrong-type.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "wrong-type"').replace(
            'kind = "kamal"', "kind = 3"
        ),
        "steps[0].commands[0].kind",
        "expected str",
    ),
    "unknown-key.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "unknown-key"').replace(
            "destructive = true", "destructive = true\ndestrutcive = true"
        ),
        "steps[0].commands[0].destrutcive",
        "unknown key",
    ),
    "missing.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "missing"').replace(
            'title_en = "Restart"', ""
        ),
        "steps[0].title_en",
        "required key is missing",
    ),
    "bad-phase.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "bad-phase"').replace(
            'phase = "contain"', 'phase = "fix"'
        ),
        "steps[0].phase",
        "invalid enum value",
    ),
    "placeholder.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "placeholder"').replace(
            '["app", "boot"]', '["rollback", "{version}"]'
        ),
        "steps[0].commands[0]",
        "{version} is used but no parameter",
    ),
    "ssh-no-host.toml": (
        REPLACEMENT.replace('id = "memory-growth"', 'id = "ssh-no-host"').replace(
            'kind = "kamal"\nargv = ["app", "boot"]', 'kind = "ssh"\ntext = "uptime"'
        ),
        "steps[0].commands[0].host",
        "needs a host",
    ),
}


def test_a_team_directory_adds_replaces_and_reports_broken_files(tmp_path: Path) -> None:
    (tmp_path / "cdn-purge.toml").write_text(TEAM_RUNBOOK, encoding="utf-8")
    (tmp_path / "memory.toml").write_text(REPLACEMENT, encoding="utf-8")
    for name, (text, _, _) in BROKEN.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    catalog = load_runbooks(tmp_path)
    assert set(catalog.runbooks) == SHIPPED | {"cdn-purge"}
    assert catalog.runbooks["memory-growth"].title_en == "Memory (team version)"
    assert catalog.replaced == {"memory-growth"}
    assert catalog.pick("host app-1:memory_percent").severity == "high"
    assert catalog.pick("service:response_time_p95_ms").id == "cdn-purge"

    problems = {Path(p.path).name: p for p in catalog.problems}
    assert set(problems) == set(BROKEN)
    for name, (_, key, words) in BROKEN.items():
        problem = problems[name]
        assert problem.key == key, (name, problem)
        assert words.lower() in problem.problem.lower(), (name, problem)
        assert str(problem).startswith(f"{tmp_path / name}: ")


def test_a_broken_team_file_does_not_hide_the_shipped_runbook_it_meant_to_replace(
    tmp_path: Path,
) -> None:
    (tmp_path / "service-down.toml").write_text(
        REPLACEMENT.replace('id = "memory-growth"', 'id = "service-down"').replace(
            'severity = "high"', 'severity = "urgent"'
        ),
        encoding="utf-8",
    )
    catalog = load_runbooks(tmp_path)
    assert catalog.runbooks["service-down"].path.startswith(str(shipped_runbooks_dir()))
    assert [(p.key, p.problem) for p in catalog.problems] == [
        ("severity", "invalid enum value 'urgent'")
    ]


def test_duplicate_ids_and_a_missing_directory_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(TEAM_RUNBOOK, encoding="utf-8")
    (tmp_path / "b.toml").write_text(TEAM_RUNBOOK, encoding="utf-8")
    catalog = load_runbooks(tmp_path)
    assert [(Path(p.path).name, p.key) for p in catalog.problems] == [("b.toml", "id")]
    missing = load_runbooks(tmp_path / "nope")
    assert set(missing.runbooks) == SHIPPED
    assert "not a directory" in missing.problems[0].problem


def test_runbooks_are_frozen() -> None:
    runbook = parse_runbook(TEAM_RUNBOOK, "team.toml")
    with pytest.raises(AttributeError):
        runbook.id = "other"  # type: ignore[misc]
    with pytest.raises(RunbookError, match=r"team\.toml: path: unknown key"):
        parse_runbook('path = "x"\n' + TEAM_RUNBOOK, "team.toml")


def test_sql_on_solid_queue_tables_runs_in_the_queue_database() -> None:
    # Rails 8 keeps Solid Queue in its own database (railties'
    # lib/rails/generators/rails/app/templates/config/databases/postgresql.yml.tt,
    # production `queue:` → <app>_production_queue), so
    # every shipped statement on its tables names that database, and a runbook that
    # forgets is refused with its file and key rather than failing mid-incident.
    for runbook in load_runbooks().runbooks.values():
        for step in runbook.steps:
            for command in step.commands:
                if command.kind == "sql":
                    expected = "queue" if "solid_queue_" in command.text else "primary"
                    assert command.database == expected, f"{runbook.id}/{step.id}"
    text = """
id = "team-jobs"
title_ja = "ジョブ"
title_en = "Jobs"
severity = "medium"
[[steps]]
id = "count"
phase = "detect"
title_ja = "数える"
title_en = "Count"
[[steps.commands]]
kind = "sql"
text = "SELECT count(*) FROM solid_queue_failed_executions"
"""
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "team/jobs.toml")
    assert str(caught.value) == (
        'team/jobs.toml: steps[0].commands[0].database: reads Solid Queue tables, '
        'so it needs database = "queue"'
    )
    fixed = text.replace('kind = "sql"\n', 'kind = "sql"\ndatabase = "queue"\n')
    assert parse_runbook(fixed, "team/jobs.toml").steps[0].commands[0].database == "queue"


def test_memory_growth_acts_on_what_grows() -> None:
    # kamal app boot replaces the app roles' containers only (basecamp/kamal
    # lib/kamal/cli/app.rb); the database accessory is rebooted on its own
    # (lib/kamal/cli/accessory.rb `reboot`).
    assert pick_runbook("host app-1:memory_percent").id == "memory-growth"
    assert pick_runbook("host app-1:container_memory:web").id == "memory-growth"
    assert pick_runbook("host app-1:container_memory:job").id == "memory-growth"
    db = pick_runbook("host db-1:container_memory:db")
    assert db.id == "db-memory-growth"
    argvs = [c.argv for s in db.steps for c in s.commands if c.kind == "kamal"]
    assert ("accessory", "reboot", "db") in argvs and ("app", "boot") not in argvs
