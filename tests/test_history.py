"""The history: measurements that survive a restart, one row per metric per minute,
kept 35 days under a size ceiling, the weekly figures made from them, a damaged or
locked file said plainly, and the console's sparklines starting from it."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.app import make_app
from rainbow_tui.cli import main
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.history import (
    DATABASE_SIZE,
    DAY_S,
    ERROR_RATE,
    MINUTE_S,
    P95,
    REQUESTS_PER_MINUTE,
    History,
    HistoryError,
    HistoryWriter,
    history_path,
    weekly_figures,
)
from tests.helpers.console import until
from widgets.trend import BLOCKS, LABEL_WIDTH, Trend

# A fixed "now" on a minute's boundary, so each point's minute is known.
NOW = 1_760_000_040.0
assert NOW % MINUTE_S == 0


def test_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.sqlite3"
    with History(path, clock=lambda: NOW) as history:
        history.record({P95: 120.0, "host app-1:memory_percent": 61.5}, at=NOW - 120)
        history.record({P95: 480.0}, at=NOW - 60)
    with History(path, clock=lambda: NOW) as reopened:
        assert reopened.recent([P95, "host app-1:memory_percent"], 10) == {
            P95: (120.0, 480.0),
            "host app-1:memory_percent": (61.5,),
        }
    # Written 0600 in a 0700 directory, as every file the console keeps.
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_minute_holds_one_row_per_metric_whatever_the_poll_rate(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3", clock=lambda: NOW) as history:
        for second, value in ((0, 100.0), (20, 400.0), (40, 250.0)):
            history.record({P95: value}, at=NOW + second)
        history.record({P95: 90.0}, at=NOW + MINUTE_S)
        rows = history.rows(P95, NOW, NOW + 2 * MINUTE_S)
        held = history.span()[0]
    assert [(row.mean, row.maximum, row.last, row.samples) for row in rows] == [
        (250.0, 400.0, 250.0, 3),
        (90.0, 90.0, 90.0, 1),
    ]
    assert held == 2


def test_rows_past_the_retention_are_deleted(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with History(path, retention_days=35, clock=lambda: NOW) as history:
        history.record({P95: 1.0}, at=NOW - 40 * DAY_S)
        history.record({P95: 2.0}, at=NOW - 34 * DAY_S)
        history.record({P95: 3.0}, at=NOW)
        assert history.prune(NOW) == 1
        assert [row.mean for row in history.rows(P95, NOW - 50 * DAY_S, NOW + 60)] == [2.0, 3.0]


def test_the_size_ceiling_lets_the_oldest_minutes_go_first(tmp_path: Path) -> None:
    ceiling = 256 * 1024
    with History(tmp_path / "h.sqlite3", max_bytes=ceiling, clock=lambda: NOW) as history:
        metrics = [f"host app-{n}:disk:/mnt/volume-{n}" for n in range(40)]
        for minute in range(400):
            history.record({name: float(minute) for name in metrics},
                           at=NOW - (400 - minute) * MINUTE_S)
        assert history.size_bytes() > ceiling
        history.prune(NOW)
        assert history.size_bytes() <= ceiling
        kept = history.rows(metrics[0], NOW - 400 * MINUTE_S, NOW)
        assert kept and kept[-1].mean == 399.0  # the newest minute stays
        assert kept[0].mean > 0.0  # the oldest went


def test_weekly_figures_from_known_rows(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3", clock=lambda: NOW) as history:
        # Two minutes of traffic: 100 req/min at 200 ms and 1 % errors, 300 req/min
        # at 600 ms and 5 % errors.
        history.record({P95: 200.0, ERROR_RATE: 1.0, REQUESTS_PER_MINUTE: 100.0},
                       at=NOW - 2 * DAY_S)
        history.record({P95: 600.0, ERROR_RATE: 5.0, REQUESTS_PER_MINUTE: 300.0},
                       at=NOW - DAY_S)
        # Older than a week: not counted.
        history.record({P95: 9000.0, ERROR_RATE: 90.0, REQUESTS_PER_MINUTE: 1.0},
                       at=NOW - 8 * DAY_S)
        # The database grows 10 MiB a day, the data disk a point a day.
        for day in range(7):
            history.record({DATABASE_SIZE: 100 * 2**20 + day * 10 * 2**20,
                            "host db-1:disk:/var/lib/postgresql/data": 40.0 + day},
                           at=NOW - (6.5 - day) * DAY_S)
        figures = weekly_figures(history, NOW)
    assert figures.p95_ms == pytest.approx((200 * 100 + 600 * 300) / 400)
    assert figures.p95_worst_ms == 600.0
    assert figures.error_rate_percent == pytest.approx((1 * 100 + 5 * 300) / 400)
    # 200 requests a minute on average, over the week's 10 080 minutes.
    assert figures.request_count == 200 * 7 * 24 * 60
    assert figures.coverage_percent == pytest.approx(100 * 2 / (7 * 24 * 60))
    assert figures.database_size is not None
    assert figures.database_size.latest == 160 * 2**20
    assert figures.database_size.growth_per_week == pytest.approx(70 * 2**20)
    (disk,) = figures.disks
    assert disk.metric == "host db-1:disk:/var/lib/postgresql/data"
    assert disk.growth_per_week == pytest.approx(7.0)


def test_an_empty_history_has_no_figures_rather_than_zeros(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        figures = weekly_figures(history, NOW)
    assert (figures.p95_ms, figures.error_rate_percent, figures.request_count) == (
        None, None, None)
    assert figures.database_size is None and figures.disks == ()


def test_a_damaged_file_is_named_and_nothing_else_breaks(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is no database at all\n" * 200)
    with pytest.raises(HistoryError) as raised:
        History(path)
    assert str(path) in str(raised.value)
    assert "damaged" in str(raised.value)


async def test_a_locked_file_turns_history_off_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    History(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    writer = HistoryWriter(lambda: History(path))
    try:
        writer.submit({P95: 100.0}, at=NOW)
        await writer.close()
    finally:
        holder.close()
    assert writer.failure is not None
    assert "locked" in writer.failure and str(path) in writer.failure
    # Off for the rest of the run: later points are dropped without another try.
    writer.submit({P95: 200.0}, at=NOW)
    assert writer.writes == 1


def _history_config(tmp_path: Path, history_file: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nname = "Shiojiri Rainbow Seeker"\nkamal_service = "rainbow"\n'
        'health_url = "http://127.0.0.1:9/up"\n'
        f'[history]\npath = "{history_file}"\n',
        encoding="utf-8",
    )
    return config


def test_history_week_prints_the_figures_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history_file = tmp_path / "history.sqlite3"
    with History(history_file) as history:
        now = time.time()
        history.record({P95: 300.0, ERROR_RATE: 2.0, REQUESTS_PER_MINUTE: 50.0}, at=now - 3600)
    assert main(["history", "--week", "--json",
                 "--config", str(_history_config(tmp_path, history_file))]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["p95_ms"] == 300.0
    assert figures["error_rate_percent"] == 2.0
    assert figures["request_count"] == 50 * 7 * 24 * 60


def test_history_on_a_damaged_file_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history_file = tmp_path / "history.sqlite3"
    history_file.write_bytes(b"\x00garbage" * 500)
    assert main(["history", "--config", str(_history_config(tmp_path, history_file))]) == 1
    assert str(history_file) in capsys.readouterr().err


async def test_the_sparklines_start_from_the_history_after_a_restart(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(demo_stack.endpoints, poll_s=3600.0)
    config = msgspec.structs.replace(
        config,
        incidents=msgspec.structs.replace(config.incidents, state_dir=str(tmp_path / "incidents")),
    )
    now = time.time()
    # What an earlier run kept: five minutes of p95 climbing.
    before = (110.0, 220.0, 330.0, 440.0, 550.0)
    with History(history_path(config)) as history:
        for minutes_ago, p95 in zip(range(10, 5, -1), before, strict=True):
            history.record({P95: p95}, at=now - minutes_ago * MINUTE_S)
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        # The pane's trends come with its first answer: the history's, at start.
        await until(pilot, lambda: any(t.key == P95 and t.content_size.width
                                       for t in app.dashboard.query(Trend)), within=30)
        trend = next(t for t in app.dashboard.query(Trend) if t.key == P95)
        await until(pilot, lambda: trend._values[:5] == before, within=30)
        # Drawn: the climb shows as rising blocks at the start of the pane's line.
        drawn = trend.render().plain[LABEL_WIDTH:LABEL_WIDTH + len(before)]
        heights = [BLOCKS.index(block) for block in drawn]
        assert heights == sorted(heights) and heights[0] < heights[-1]
