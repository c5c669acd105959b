"""Configuration: the shipped profile is valid, and every kind of broken file is
reported on one line naming the file, the key and the problem, with exit status 2."""

from __future__ import annotations

import os
import re
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
    # The choices come from the field's own Literal, in the order it is written.
    "bad scan place": (
        SHIPPED.read_text(encoding="utf-8") + '\n[security]\nbundler_audit = "somewhere"\n',
        "security.bundler_audit: 'somewhere' is not one of: checkout, kamal",
    ),
    "bad frequency in a table": (
        SHIPPED.read_text(encoding="utf-8") + '\n[routines.frequency]\ndaily = "often"\n',
        "'often' is not one of: daily, weekly, monthly, quarterly",
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


def _service_with(**values: str) -> str:
    service = {"kamal_service": '"s"', "health_url": '"https://example.test/up"', **values}
    return "[service]\n" + "".join(f"{key} = {value}\n" for key, value in service.items())


# Each bad value → (the file's text, the one line naming key and problem).
OUT_OF_RANGE = {
    "broken bracket": (
        _service_with(health_url='"http://[::1/up"'),
        "service.health_url: 'http://[::1/up' is not a URL (Invalid IPv6 URL)",
    ),
    "stray bracket": (
        _service_with(health_url='"http://::1]/up"'),
        "service.health_url: 'http://::1]/up' is not a URL (Invalid IPv6 URL)",
    ),
    "not http": (
        _service_with(health_url='"ftp://example.test/up"'),
        "service.health_url: 'ftp://example.test/up' must start with http:// or https://",
    ),
    "no host": (
        _service_with(health_url='"http:///up"'),
        "service.health_url: 'http:///up' has no host",
    ),
    "url port too big": (
        _service_with(health_url='"http://example.test:99999/up"'),
        "service.health_url: 'http://example.test:99999/up': port '99999' is not a TCP port",
    ),
    "url port zero": (
        _service_with(health_url='"http://example.test:0/up"'),
        "service.health_url: 'http://example.test:0/up': port '0' is not a TCP port",
    ),
    "url with a space": (
        _service_with(health_url='"http://example.test/ up"'),
        "service.health_url: 'http://example.test/ up' holds spaces or control characters",
    ),
    "nan interval": (
        MINIMAL + "[poll]\nhealth = nan\n",
        "poll.health: nan is out of range: must be above 0 to 86400 seconds",
    ),
    "infinite interval": (
        MINIMAL + "[poll]\ndatabase = inf\n",
        "poll.database: inf is out of range: must be above 0 to 86400 seconds",
    ),
    "zero interval": (
        MINIMAL + "[poll]\nhosts = 0\n",
        "poll.hosts: 0 is out of range: must be above 0 to 86400 seconds",
    ),
    "negative health timeout": (
        _service_with(health_timeout_s="-1"),
        "service.health_timeout_s: -1 is out of range: must be above 0 to 600 seconds",
    ),
    "nan connect timeout": (
        MINIMAL + "[database]\nconnect_timeout_s = nan\n",
        "database.connect_timeout_s: nan is out of range: must be above 0 to 600 seconds",
    ),
    "zero statement timeout": (
        MINIMAL + "[database]\nstatement_timeout_ms = 0\n",
        "database.statement_timeout_ms: 0 is out of range: must be from 1 to 600000 ms",
    ),
    "ssh port": (
        MINIMAL + "[ssh]\nport = 99999\n",
        "ssh.port: 99999 is out of range: must be from 1 to 65535",
    ),
    "negative ssh timeout": (
        MINIMAL + "[ssh]\nconnect_timeout_s = -2.5\n",
        "ssh.connect_timeout_s: -2.5 is out of range: must be above 0 to 600 seconds",
    ),
    "host port": (
        MINIMAL + '[[hosts]]\nname = "app-1"\naddress = "10.0.0.1"\nport = 0\n',
        "hosts[0].port: 0 is out of range: must be from 1 to 65535",
    ),
    "jump host port": (
        MINIMAL + '[[hosts]]\nname = "app-1"\naddress = "10.0.0.1"\n'
        'jump_host = "deploy@bastion:70000"\n',
        "hosts[0].jump_host: port '70000' is not a TCP port (1-65535)",
    ),
    "percent above 100": (
        MINIMAL + '[thresholds.cpu_percent]\nunit = "%"\nnormal = 60\nwarn = 80\ncritical = 150\n',
        "thresholds.cpu_percent.critical: 150 is out of range: must be from 0 to 100 %",
    ),
    "nan threshold": (
        MINIMAL + '[thresholds.waiting_jobs]\nunit = "jobs"\nnormal = nan\nwarn = 5\n'
        "critical = 10\n",
        "thresholds.waiting_jobs.normal: nan is out of range: must be from 0 to 1e+12 jobs",
    ),
    "zero response time": (
        MINIMAL + '[alert_levels.high]\nlabel = "High"\nrespond_within_minutes = 0\n',
        "alert_levels.high.respond_within_minutes: 0 is out of range: must be from 1 to",
    ),
    "negative escalation": (
        MINIMAL + '[[escalation]]\nlevel = 1\nrole = "On-call"\ncontact = "x"\n'
        "within_minutes = -5\n",
        "escalation[0].within_minutes: -5 is out of range: must be from 1 to",
    ),
    "zero concurrency": (
        MINIMAL + "[queue.concurrency.ImageVariantJob]\nto = 0\n",
        "queue.concurrency.ImageVariantJob.to: 0 is out of range: must be from 1 to 1e+06",
    ),
    "nan window": (
        MINIMAL + "[queue]\nnew_failures_window_s = nan\n",
        "queue.new_failures_window_s: nan is out of range: must be above 0 to 2.592e+06 seconds",
    ),
    "no log buffer": (
        MINIMAL + "[logs]\nbuffer_lines = 0\n",
        "logs.buffer_lines: 0 is out of range: must be from 1 to 1e+07 lines",
    ),
    "tls lines crossed": (
        _service_with(tls_warn_days="5", tls_critical_days="10"),
        "service.tls_critical_days: critical (10) is above warn (5)",
    ),
}


@pytest.mark.parametrize("kind", sorted(OUT_OF_RANGE))
def test_bad_value_named_exit_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = OUT_OF_RANGE[kind]
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"rainbow-tui: config error: {path}: {expected}" in err
    # check reads the same file the same way, before anything is polled.
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/up", "https://[::1]:8443/up", "https://example.test/up"]
)
def test_good_urls_pass(url: str) -> None:
    assert parse_config(_service_with(health_url=f'"{url}"'), "c.toml").service.health_url == url


def test_a_config_problem_is_said_in_japanese_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """msgspec's own words (Expected `float`, got `str`; an unknown key; a value
    outside its choices) reach a Japanese reader in Japanese."""
    cases = {
        re.sub(r"(?m)^health = .*$", 'health = "soon"', SHIPPED.read_text(encoding="utf-8"),
               count=1): "poll.health: float の値が必要です (str が書かれています)",
        SHIPPED.read_text(encoding="utf-8") + '\n[github]\ncolour = "x"\n': "github.colour: 不明なキー",
        SHIPPED.read_text(encoding="utf-8") + '\n[security]\nbrakeman = "x"\n':
            "'x' は次のどれでもありません: checkout, kamal",
    }
    for text, expected in cases.items():
        path = tmp_path / "broken.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["--lang", "ja", "config", "validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert expected in err and "設定エラー" in err, err
