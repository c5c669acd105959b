"""Configuration: the shipped profile is valid, and every kind of broken file is
reported on one line naming the file, the key and the problem, with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rainbow_tui.cli import main
from rainbow_tui.config import ConfigError, find_config, load_config, parse_config
from rainbow_tui.levels import Level

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config.toml"
MINIMAL = '[service]\nkamal_service = "s"\nhealth_url = "https://example.test/up"\n'


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's own config or environment may change a result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAINBOW_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_shipped_profile_holds_the_manual() -> None:
    config = load_config(SHIPPED)
    assert config.service.health_url == "https://api.shiojiri-rainbow.app/up"
    assert config.database.dsn_env == "RAINBOW_TUI_DATABASE_URL"
    t = config.thresholds
    assert (
        t.response_time_p95_ms.normal,
        t.response_time_p95_ms.warn,
        t.response_time_p95_ms.critical,
    ) == (200, 500, 1000)
    assert (t.error_rate_percent.warn, t.error_rate_percent.critical) == (1, 5)
    assert (t.memory_percent.warn, t.memory_percent.critical) == (80, 90)
    assert (t.cpu_percent.warn, t.cpu_percent.critical) == (80, 95)
    assert (t.db_connections.warn, t.db_connections.critical) == (80, 95)
    assert (t.waiting_jobs.warn, t.waiting_jobs.critical) == (500, 1000)
    assert (t.failed_jobs.normal, t.failed_jobs.warn, t.failed_jobs.critical) == (1, 10, 50)
    assert (t.job_processing_time_s.warn, t.job_processing_time_s.critical) == (60, 120)
    levels = config.alert_levels
    assert [
        levels.critical.respond_within_minutes,
        levels.high.respond_within_minutes,
        levels.medium.respond_within_minutes,
        levels.low.respond_within_minutes,
    ] == [15, 60, 480, 10080]
    assert [(s.level, s.within_minutes) for s in config.escalation] == [(1, 15), (2, 30), (3, 60)]
    # No hosts: they come from the checkout's deploy.yml, whose path is to fill in.
    assert config.hosts == ()
    assert "kamal.workdir" in config.placeholders()
    assert "password" not in SHIPPED.read_text().lower().replace("password in", "")


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (None, Level.UNKNOWN),
        (10, Level.NORMAL),
        (199.9, Level.NORMAL),
        (200, Level.ELEVATED),
        (500, Level.ELEVATED),
        (500.1, Level.WARNING),
        (1000, Level.WARNING),
        (1001, Level.CRITICAL),
    ],
)
def test_levels_follow_the_manual(value: float | None, level: Level) -> None:
    p95 = load_config(SHIPPED).thresholds.response_time_p95_ms
    assert p95.level(value) is level


def test_failed_jobs_normal_is_zero() -> None:
    failed = load_config(SHIPPED).thresholds.failed_jobs
    assert failed.level(0) is Level.NORMAL
    assert failed.level(1) is Level.ELEVATED
    assert failed.level(11) is Level.WARNING
    assert failed.severity(failed.level(51)) == "high"


def _shipped_with(old: str, new: str) -> str:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


BROKEN = {
    "unknown key": (
        _shipped_with("[poll]", "[poll]\nheatlh = 3"),
        "poll.heatlh: unknown key",
    ),
    "wrong type": (
        _shipped_with("health = 10.0", 'health = "ten"'),
        "poll.health: expected float, got str",
    ),
    "missing value": (
        _shipped_with('kamal_service = "shiojiri-rainbow-seeker"', ""),
        "service.kamal_service: required key is missing",
    ),
    "warn above critical": (
        _shipped_with(
            "normal = 70\nwarn = 80\ncritical = 90", "normal = 70\nwarn = 95\ncritical = 90"
        ),
        "thresholds.memory_percent.warn: warn (95) is above critical (90)",
    ),
    "bad severity": (
        _shipped_with('warn_severity = "high"', 'warn_severity = "urgent"'),
        "thresholds.error_rate_percent.warn_severity: 'urgent' is not one of: critical, high",
    ),
    "not TOML": ("[service\nname = 1", "not valid TOML"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_config_one_line_exit_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BROKEN[kind]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert str(path) in err
    assert expected in err
    assert "Traceback" not in err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    path.chmod(0)
    if os.geteuid() == 0:
        # root reads anything; a directory stands in for an unreadable file.
        path = tmp_path / "a-directory.toml"
        path.mkdir()
    assert main(["--config", str(path), "config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and ("permission denied" in err or "is a directory" in err)


def test_missing_file_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["check", "--config", str(missing)]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "xdg" / "rainbow-tui" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text(MINIMAL.replace('"s"', '"from-user-dir"'), encoding="utf-8")
    assert find_config(None).service.kamal_service == "from-user-dir"
    (tmp_path / "config.toml").write_text(MINIMAL.replace('"s"', '"from-cwd"'), encoding="utf-8")
    assert find_config(None).service.kamal_service == "from-cwd"
    env = tmp_path / "env.toml"
    env.write_text(MINIMAL.replace('"s"', '"from-env"'), encoding="utf-8")
    monkeypatch.setenv("RAINBOW_TUI_CONFIG", str(env))
    assert find_config(None).service.kamal_service == "from-env"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text(MINIMAL.replace('"s"', '"explicit"'), encoding="utf-8")
    assert find_config(explicit).service.kamal_service == "explicit"


def test_no_config_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate"]) == 2
    err = capsys.readouterr().err
    assert "no configuration found" in err and "--config" in err


def test_minimal_config_takes_the_manuals_defaults() -> None:
    config = parse_config(MINIMAL, "minimal.toml")
    assert config.thresholds == load_config(SHIPPED).thresholds
    assert config.alert_levels.critical.respond_within_minutes == 15


def test_validate_lists_placeholders(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "kamal.workdir" in out


def test_cli_process_has_no_traceback(tmp_path: Path) -> None:
    """The real entry point, as a user runs it."""
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN["warn above critical"][0], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("rainbow-tui: config error:")
    assert "Traceback" not in result.stderr
