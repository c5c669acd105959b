"""``check``'s table: each component named once, the severity column only when an
alert has one."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainbow_tui.check import print_findings
from rainbow_tui.findings import evaluate
from tests.helpers.alerts import T0, paging_config, service_readings


def _table(tmp_path: Path, capsys: pytest.CaptureFixture[str], error_every: int | None) -> str:
    config = paging_config(tmp_path)
    findings = evaluate(config, service_readings(T0, error_every=error_every))
    assert len({f.component_name() for f in findings}) > 1
    print_findings(config, findings, as_json=False)
    return capsys.readouterr().out


def _first_cells(table: str) -> list[str]:
    return [line.split("│")[1].strip() for line in table.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()]


def test_each_component_is_named_once_and_an_all_clear_has_no_severity_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    table = _table(tmp_path, capsys, error_every=None)
    named = _first_cells(table)
    assert len(named) == len(set(named)) and "service" in named, named
    header = next(line for line in table.splitlines() if "component" in line)
    assert "severity" not in header and "reason" in header


def test_an_alert_brings_the_severity_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    table = _table(tmp_path, capsys, error_every=10)
    header = next(line for line in table.splitlines() if "component" in line)
    assert "severity" in header
    assert "CRITICAL" in table
