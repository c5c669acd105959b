"""New exception classes: those of check's window of logs that the history did not
see in the last 7 days, marked in the exceptions finding, check's --json and the
daily routine's recent_logs; the history keeps the classes by hour, bounded."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.check import check_round, print_findings, record_round
from rainbow_tui.config import Config, HistoryConfig, IncidentsConfig, ServiceConfig
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.findings import log_window_findings
from rainbow_tui.history import MAX_CLASSES_PER_ROUND, History, open_history
from rainbow_tui.logs.new_exceptions import new_in_history, record_window
from rainbow_tui.logs.request_stats import RequestStats
from rainbow_tui.logs.window import ExceptionCount, LogWindow
from rainbow_tui.text import language
from tests.conftest import DemoStackFactory

DAY_S = 86400.0
OLD_CLASSES = {"ActiveRecord::RecordNotFound": 4, "Net::ReadTimeout": 1}


def _config(tmp_path: Path) -> Config:
    return Config(service=ServiceConfig(kamal_service="s"),
                  incidents=IncidentsConfig(state_dir=str(tmp_path / "incidents")),
                  history=HistoryConfig(path=str(tmp_path / "history.sqlite3")))


def _window(classes: dict[str, int]) -> LogWindow:
    ordered = sorted(classes.items(), key=lambda item: (-item[1], item[0]))
    return LogWindow(300, RequestStats(windows=[300]).snapshot(time.time()),
                     tuple(ExceptionCount(name, count) for name, count in ordered),
                     ("app-1/web",), ())


def test_only_the_class_the_last_seven_days_did_not_see_is_new(tmp_path: Path) -> None:
    config = _config(tmp_path)
    now = time.time()
    with open_history(config) as history:
        history.record_exceptions(OLD_CLASSES, at=now - 3 * DAY_S)
        # Seen, but eight days ago: past the 7 days, so new again.
        history.record_exceptions({"Redis::TimeoutError": 2}, at=now - 8 * DAY_S)
    window = _window({"ActiveRecord::RecordNotFound": 7, "NoMethodError": 2,
                      "Redis::TimeoutError": 1})
    assert new_in_history(config, window, now) == ("NoMethodError", "Redis::TimeoutError")


def test_without_any_window_in_the_history_nothing_is_called_new(tmp_path: Path) -> None:
    config = _config(tmp_path)
    window = _window({"NoMethodError": 2})
    assert new_in_history(config, window, time.time()) is None
    # A window read with no exceptions still counts as looked at.
    with open_history(config) as history:
        record_window(history, _window({}), at=time.time() - DAY_S)
    assert new_in_history(config, window, time.time()) == ("NoMethodError",)
    # A window that was not read at all tells nothing.
    unread = LogWindow(300, None, (), (), ())
    assert new_in_history(config, unread, time.time()) is None


def test_the_finding_and_the_json_mark_the_new_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    window = _window({"ActiveRecord::RecordNotFound": 7, "NoMethodError": 2})
    findings = log_window_findings(window, new=("NoMethodError",))
    exceptions = next(f for f in findings if f.key == "logs:exceptions")
    assert exceptions.display_phrase.text(language("en")) == (
        "ActiveRecord::RecordNotFound ×7, NoMethodError ×2 (new)")
    assert exceptions.display_phrase.text(language("ja")).endswith("NoMethodError ×2 (新規)")
    print_findings(config, findings, True, window, ("NoMethodError",))
    logs = json.loads(capsys.readouterr().out)["logs"]
    assert logs["exceptions"] == [
        {"class": "ActiveRecord::RecordNotFound", "count": 7, "new": False},
        {"class": "NoMethodError", "count": 2, "new": True},
    ]
    assert logs["new_exceptions"] == ["NoMethodError"] and logs["new_after_days"] == 7
    print_findings(config, findings, True, window, None)
    logs = json.loads(capsys.readouterr().out)["logs"]
    assert logs["new_exceptions"] is None and logs["exceptions"][0]["new"] is None


def test_a_new_class_past_the_top_five_is_still_listed() -> None:
    classes = {f"Error{n}": 100 - n for n in range(6)} | {"Rare::NewError": 1}
    findings = log_window_findings(_window(classes), new=("Rare::NewError",))
    shown = next(f for f in findings if f.key == "logs:exceptions").display_phrase.text(
        language("en"))
    assert "Rare::NewError ×1 (new)" in shown and "Error5" not in shown
    assert "(new)" not in shown.replace("Rare::NewError ×1 (new)", "")


def test_the_classes_kept_are_bounded_and_pruned_with_the_history(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    now = time.time()
    with History(path, retention_days=10, clock=lambda: now) as history:
        many = {f"Error{n:03d}": n + 1 for n in range(MAX_CLASSES_PER_ROUND + 50)}
        history.record_exceptions(many | {"X" * 500: 1000}, at=now)
        seen = history.exception_classes_seen(now - DAY_S, now)
        assert seen is not None and len(seen) == MAX_CLASSES_PER_ROUND
        assert "X" * 200 in seen and "Error000" not in seen  # the most frequent kept
        history.record_exceptions({"Old": 1}, at=now - 11 * DAY_S)
        history.prune(now)
        assert history.exception_classes_seen(now - 30 * DAY_S, now - 9 * DAY_S) is None


@pytest.mark.slow
async def test_check_on_the_demo_marks_only_what_its_history_had_not_seen(
    demo_stack_factory: DemoStackFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real logs: the db-connections drill makes the app raise
    ActiveRecord::ConnectionTimeoutError; the history has seen every other class of
    the window (two days ago), so that one alone is new, and once this round is
    recorded it is new no more."""
    stack = demo_stack_factory(drills=["db-connections"])
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, incidents_dir=tmp_path / "incidents")
    config = msgspec.structs.replace(
        config, history=msgspec.structs.replace(config.history,
                                                path=str(tmp_path / "history.sqlite3")))
    wanted = "ActiveRecord::ConnectionTimeoutError"
    for _ in range(10):
        first = await check_round(config)
        classes = {entry.exception_class: entry.count for entry in first.logs.exceptions}
        if wanted in classes:
            break
        await asyncio.sleep(2)
    assert wanted in classes
    assert first.new_exceptions is None  # an empty history: nothing to compare with
    with open_history(config) as history:
        history.record_exceptions({name: n for name, n in classes.items() if name != wanted}
                                  | {"Old::Error": 1}, at=time.time() - 2 * DAY_S)
    second = await check_round(config)
    now_seen = {entry.exception_class for entry in second.logs.exceptions}
    assert second.new_exceptions is not None and wanted in second.new_exceptions
    # New is exactly what the history had not seen.
    assert set(second.new_exceptions) == now_seen - (set(classes) - {wanted})
    shown = next(f for f in second.findings if f.key == "logs:exceptions").display
    assert f"{wanted} ×" in shown and "(new)" in shown
    assert record_round(config, second) is None
    third = await check_round(config)
    assert third.new_exceptions is not None and wanted not in third.new_exceptions
