"""Recovering, not red: a windowed alert (5xx share, p95 over five minutes) still
above its line after the fix says it is on its way back, with its trend, in a
calmer colour — and keeps its level until its own window clears it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rainbow_tui.app import make_app
from rainbow_tui.check import print_findings
from rainbow_tui.findings import Finding, evaluate, overall, trend_of
from rainbow_tui.levels import Alert, Level
from rainbow_tui.logs.request_stats import RequestStats
from rainbow_tui.monitor import AlertBook, MonitorState
from rainbow_tui.sources.service_sources import Readings
from tests.helpers.incidents import POSTMORTEM_CONFIG
from widgets.alerts_bar import AlertsBar

CONFIG = POSTMORTEM_CONFIG
NOW = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)
ERRORS = "service:error_rate_percent"
P95 = "service:response_time_p95_ms"


def _readings(last_minute_error_every: int | None, last_minute_ms: float = 80.0) -> Readings:
    """Four minutes of an outage (every fifth request a 500, each 1.5 s), then a last
    minute with one 500 in ``last_minute_error_every`` requests (None: none)."""
    stats = RequestStats(windows=(60, 300))
    end = NOW.timestamp()
    requests = []
    for second in range(300, 60, -1):
        for n in range(5):
            requests.append((end - second + 0.1 * n, 1500.0, 500 if n == 0 else 200))
    for second in range(59, -1, -1):
        for n in range(5):
            failing = last_minute_error_every is not None and n % last_minute_error_every == 0
            requests.append((end - second + 0.1 * n, last_minute_ms, 500 if failing else 200))
    stats.add_many(requests)
    return Readings(requests=stats.snapshot(end))


def _finding(readings: Readings, key: str) -> Finding:
    return next(f for f in evaluate(CONFIG, readings) if f.key == key)


def _alerts(readings: Readings, remedy_at: datetime | None = None) -> dict[str, Alert]:
    book = AlertBook(CONFIG)
    findings = evaluate(CONFIG, readings)
    book.update(findings, NOW - timedelta(minutes=4))
    return {alert.key: alert for alert in book.update(findings, NOW, remedy_at)}


def test_trend_is_the_last_minute_against_the_whole_window() -> None:
    assert trend_of(0.0, 8.2) == "falling"
    assert trend_of(8.0, 8.2) == "steady"
    assert trend_of(12.0, 8.2) == "rising"
    assert trend_of(None, 8.2) is None
    assert trend_of(1.0, None) is None


def test_a_fixed_outage_is_still_critical_and_recovering_while_its_window_clears() -> None:
    readings = _readings(last_minute_error_every=None)
    errors = _finding(readings, ERRORS)
    # 240 of 1 500 requests failed in five minutes: 16 %, above the 5 % critical line.
    assert errors.level is Level.CRITICAL and errors.trend == "falling"
    assert _finding(readings, P95).trend == "falling"
    alert = _alerts(readings)[ERRORS]
    assert alert.level is Level.CRITICAL and alert.severity == "critical"
    assert alert.recovering and alert.trend == "falling"


def test_an_outage_going_on_is_not_recovering_even_after_a_remedy_passed() -> None:
    worse = _readings(last_minute_error_every=2, last_minute_ms=3000.0)  # more 500s of late
    alert = _alerts(worse, remedy_at=NOW - timedelta(minutes=1))[ERRORS]
    assert alert.trend == "rising" and not alert.recovering


def test_a_passed_remedy_makes_a_steady_window_recovering_but_only_after_the_alert() -> None:
    steady = _readings(last_minute_error_every=5, last_minute_ms=1500.0)  # as bad as before
    assert _finding(steady, ERRORS).trend == "steady"
    assert not _alerts(steady)[ERRORS].recovering
    after = _alerts(steady, remedy_at=NOW - timedelta(minutes=1))[ERRORS]
    assert after.recovering
    # A verification from before the alert was first seen is no remedy of it.
    before = _alerts(steady, remedy_at=NOW - timedelta(minutes=10))[ERRORS]
    assert not before.recovering


def test_only_windowed_alerts_recover_this_way() -> None:
    book = AlertBook(CONFIG)
    memory = Finding("host app-1", "memory_percent", "Memory", "93.0 %", Level.CRITICAL,
                     "medium", 93.0, trend="falling")
    (alert,) = book.update([memory], NOW, NOW)
    assert not alert.recovering and alert.trend is None


def test_check_json_keeps_the_level_and_adds_the_trend(capsys: pytest.CaptureFixture[str]) -> None:
    findings = evaluate(CONFIG, _readings(last_minute_error_every=None))
    assert print_findings(CONFIG, findings, as_json=True) == 2
    document = json.loads(capsys.readouterr().out)
    errors = next(f for f in document["findings"] if f["metric"] == "error_rate_percent")
    assert errors["level"] == "critical" and errors["trend"] == "falling"
    assert document["overall"] == "critical"
    health = next(f for f in document["findings"] if f["metric"] == "health")
    assert "trend" not in health


async def test_the_alerts_bar_says_recovering_in_a_calmer_colour() -> None:
    app = make_app(CONFIG, autostart=False)
    async with app.run_test(size=(120, 35)) as pilot:
        for readings, recovering in ((_readings(2, 3000.0), False), (_readings(None), True)):
            findings = evaluate(CONFIG, readings)
            book = AlertBook(CONFIG)
            alerts = book.update(findings, NOW)
            app.dashboard.show_state(
                MonitorState(readings, tuple(findings), alerts, overall(findings),
                             updated_at=NOW)
            )
            await pilot.pause()
            bar = app.dashboard.query_one(AlertsBar)
            shown = str(bar.render())
            assert "5xx" in shown or "error" in shown.lower(), shown
            if recovering:
                assert "↓ recovering" in shown, shown
                assert bar.has_class("-recovering") and not bar.has_class("-alerting")
                # Still the level's word: the level stays honest.
                assert "CRITICAL" in shown
            else:
                assert "recovering" not in shown and "↑" in shown, shown
                assert bar.has_class("-alerting") and not bar.has_class("-recovering")
