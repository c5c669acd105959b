"""``rainbow-tui incidents list | show | export | resume`` on real record files."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from rainbow_tui.cli import main
from rainbow_tui.config import ENV_CONFIG
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.incidents.model import new_incident, note, start_step, transition
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.store import IncidentStore
from tests.helpers.incidents import full_incident

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "incidents"
    path = tmp_path / "config.toml"
    path.write_text(
        "[service]\n"
        'kamal_service = "shiojiri-rainbow-seeker"\n'
        'health_url = "https://api.shiojiri-rainbow.app/up"\n'
        "[incidents]\n"
        f'state_dir = "{state}"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv(ENV_CONFIG, raising=False)
    monkeypatch.chdir(tmp_path)  # the search order's ./config.toml is this one
    store = IncidentStore(state)
    first = store.create(full_incident())
    runbook = pick_runbook("database:db_connections")
    second = store.create(
        new_incident(runbook=runbook, at=T0 + timedelta(days=3), author="kobayashi")
    )
    incident = store.record(second.id, transition(second, "acknowledged", author="kobayashi"))
    incident = store.record(second.id, start_step(incident, runbook, 0, author="kobayashi"))
    store.record(second.id, note(incident, "pool | exhausted, DSN postgresql://app:pw123456@db/x"))
    store.close()
    assert first.id != second.id
    return path


def test_list_shows_every_incident_newest_first(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATUS", "SEVERITY", "TITLE"]
    assert "db-connections" in lines[1] and "acknowledged" in lines[1] and "high" in lines[1]
    assert "service-down" in lines[2] and "closed" in lines[2] and "critical" in lines[2]
    assert "note: pool | exhausted" in lines[1]
    assert "pw123456" not in "\n".join(lines)


def test_show_prints_the_timeline(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    incident_id = IncidentStore(config_file.parent / "incidents").ids()[0]
    assert main(["incidents", "show", incident_id]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(incident_id)
    assert "commander: tanaka" in out
    # In the chosen language (English here), not the record's bilingual words.
    assert "status → acknowledged" in out and "確認 / acknowledged" not in out
    assert "escalated to L2 開発リード / Development lead (Slack #rainbow-dev)" in out
    assert "time of event 2 (acknowledged) corrected" in out
    assert main(["--lang", "ja", "incidents", "show", incident_id]) == 0
    out = capsys.readouterr().out
    assert "状態 → 確認" in out and "acknowledged" not in out.split("状態 → 確認")[1][:20]


def test_export_writes_the_postmortem(
    config_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    incident_id = IncidentStore(config_file.parent / "incidents").ids()[0]
    assert main(["incidents", "export", incident_id]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# ポストモーテム / Postmortem: service: /up HTTP 500")
    assert "Sup3rS3cret-pw" not in markdown
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    assert sum(1 for t in tokens if t.type == "table_open") == 3

    target = tmp_path / "pm.md"
    target.write_text("an older draft\n", encoding="utf-8")
    target.chmod(0o644)
    assert main(["incidents", "export", incident_id, "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == markdown
    # An export is the team's business: owner-only, like the records, replaced whole.
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pm.md")] == []


def test_unknown_or_broken_incidents_fail_with_a_message(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "show", "2026-01-01-0000-nothing"]) == 1
    assert "no incident 2026-01-01-0000-nothing" in capsys.readouterr().err
    broken = config_file.parent / "incidents" / "2026-01-02-0000-broken.toml"
    broken.write_text("format = 1\nid = [\n", encoding="utf-8")
    assert main(["incidents", "export", "2026-01-02-0000-broken"]) == 1
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["incidents", "resume", "2026-01-01-0000-nothing"]) == 1


def test_the_config_search_order_applies(config_file: Path, tmp_path: Path) -> None:
    """Through the installed entry point, with $RAINBOW_TUI_CONFIG from elsewhere."""
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "incidents", "list"],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
        env={"PATH": "/usr/bin:/bin", ENV_CONFIG: str(config_file), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    missing = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "--config", str(tmp_path / "nope.toml"),
         "incidents", "list"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_a_demo_rehearsal_is_listed_and_marked(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rainbow-tui demo` keeps its records where `incidents list` looks, marked demo."""
    from rainbow_tui import cli

    state = config_file.parent / "incidents"
    assert cli._user_incidents_dir() == state  # the configuration found from here
    store = IncidentStore(state)
    store.create(
        new_incident(runbook=pick_runbook("service:health"), at=T0 + timedelta(days=5),
                     author="sato", demo=True)
    )
    store.close()
    assert main(["incidents", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "[demo]" in lines[1] and "service-down" in lines[1]
    assert all("[demo]" not in line for line in lines[2:])
    assert main(["--lang", "ja", "incidents", "list"]) == 0
    assert "[デモ]" in capsys.readouterr().out.splitlines()[1]


def test_the_demo_marks_its_records_and_keeps_them_where_asked(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    from rainbow_tui.demo.profile import demo_config

    kept = demo_config(demo_stack.endpoints, incidents_dir=tmp_path / "mine").incidents
    assert kept.demo and kept.state_dir == str(tmp_path / "mine")
    # Without a place asked for (the tests), the stack's own directory.
    default = demo_config(demo_stack.endpoints).incidents
    assert default.demo and default.state_dir.startswith(str(demo_stack.endpoints.state_dir))
