"""RequestStats: rolling count, p95 and 5xx share per window, in bounded memory."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.logs.parse import parse_line
from rainbow_tui.logs.request_stats import (
    MAX_RELATIVE_ERROR,
    RequestStats,
    request_sample,
)

NOW = 1_796_000_000.5  # 2026-11-28, mid-second on purpose


def exact_p95(durations: list[float]) -> float:
    ordered = sorted(durations)
    return ordered[math.ceil(len(ordered) * 95 / 100) - 1]


def assert_close_to_p95(reported: float | None, durations: list[float]) -> None:
    expected = exact_p95(durations)
    assert reported is not None
    if expected <= 0.001:
        assert reported == 0.0
    else:
        # A hair of slack for floating-point rounding at bin edges.
        assert abs(reported - expected) <= expected * MAX_RELATIVE_ERROR * 1.001 + 1e-9


def test_histogram_resolution_is_about_two_percent() -> None:
    assert MAX_RELATIVE_ERROR <= 0.02


# -- known values -------------------------------------------------------------------


def test_no_requests_is_no_data_not_zero() -> None:
    snapshot = RequestStats().snapshot(NOW)
    for window in snapshot.windows:
        assert window.request_count == 0
        assert window.p95_ms is None
        assert window.error_percent is None
    assert [window.seconds for window in snapshot.windows] == [60, 300]


def test_p95_and_error_share_of_a_known_minute() -> None:
    stats = RequestStats()
    for index in range(100):
        stats.add(NOW - index * 0.5, duration_ms=index + 1.0, status=503 if index < 2 else 200)
    minute = stats.snapshot(NOW).window(60)
    assert minute.request_count == 100
    assert minute.p95_ms == pytest.approx(95.0, rel=MAX_RELATIVE_ERROR)
    assert minute.error_percent == pytest.approx(2.0)


def test_windows_cover_whole_seconds_and_older_requests_leave_the_short_window() -> None:
    stats = RequestStats(windows=(60, 300))
    stats.add(NOW - 30, 10.0, 200)
    stats.add(NOW - 120, 900.0, 500)
    snapshot = stats.snapshot(NOW)
    assert snapshot.window(60).request_count == 1
    assert snapshot.window(60).error_percent == 0.0
    assert snapshot.window(300).request_count == 2
    assert snapshot.window(300).error_percent == 50.0
    # 59 whole seconds back is still inside a 60 s window, 60 is not.
    edge = RequestStats(windows=(60,))
    edge.add(math.floor(NOW) - 59, 1.0, 200)
    edge.add(math.floor(NOW) - 60, 1.0, 200)
    assert edge.snapshot(NOW).window(60).request_count == 1


def test_requests_after_the_snapshot_time_are_not_counted() -> None:
    stats = RequestStats()
    stats.add(NOW + 5, 10.0, 200)
    assert stats.snapshot(NOW).window(60).request_count == 0


def test_out_of_order_requests_within_the_window_count() -> None:
    stats = RequestStats()
    stats.add(NOW, 10.0, 200)
    stats.add(NOW - 200, 10.0, 200)
    stats.add(NOW - 10, 10.0, 500)
    snapshot = stats.snapshot(NOW)
    assert snapshot.window(60).request_count == 2
    assert snapshot.window(300).request_count == 3


def test_old_seconds_expire_and_memory_stays_bounded() -> None:
    stats = RequestStats(windows=(60, 300))
    for second in range(5000):
        for _ in range(3):
            stats.add(NOW + second, 5.0, 200)
        assert stats.retained_seconds <= 300
    stats.add(NOW, 5.0, 200)  # far behind the newest second: dropped
    assert stats.snapshot(NOW + 4999).window(300).request_count == 900
    assert stats.snapshot(NOW).window(300).request_count == 0


def test_huge_zero_and_non_finite_durations() -> None:
    stats = RequestStats()
    stats.add(NOW, 0.0, 200)
    stats.add(NOW, math.nan, 200)
    stats.add(math.inf, 1.0, 200)
    assert stats.snapshot(NOW).window(60).request_count == 1
    assert stats.snapshot(NOW).window(60).p95_ms == 0.0
    stats.add(NOW, 1e12, 200)
    assert stats.snapshot(NOW).window(60).p95_ms is not None


def test_bad_windows_are_rejected() -> None:
    for windows in [(), (0,), (-5,), (1.5,)]:
        with pytest.raises(ValueError):
            RequestStats(windows=windows)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        RequestStats(windows=(60,)).snapshot(NOW).window(300)


def test_request_sample_picks_one_source() -> None:
    completed = parse_line("[abc-1] Completed 502 Bad Gateway in 31.5ms")
    proxy = parse_line('{"msg":"Request","method":"GET","path":"/","status":200,"dur":4}')
    started = parse_line('[abc-1] Started GET "/" for 203.0.113.5 at 2026-11-28 12:00:00 +0900')
    assert request_sample(completed, "rails") == (31.5, 502)
    assert request_sample(completed, "proxy") is None
    assert request_sample(proxy, "proxy") == (4.0, 200)
    assert request_sample(proxy, "rails") is None
    assert request_sample(started, "rails") is None
    no_duration = parse_line('{"msg":"Request","method":"GET","path":"/","status":200}')
    assert request_sample(no_duration, "proxy") is None


# -- against an exact reference ---------------------------------------------------------

requests = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=400, allow_nan=False),  # seconds before the newest
        st.one_of(
            st.floats(min_value=0, max_value=1e6, allow_nan=False),
            st.sampled_from([0.0, 0.001, 1.0, 45.0, 199.9, 1000.0]),
        ),
        st.sampled_from([200, 201, 304, 404, 499, 500, 503, 599]),
    ),
    min_size=1,
    max_size=200,
)


@given(requests, st.floats(min_value=0, max_value=3), st.randoms(use_true_random=False))
def test_windows_match_an_exact_sorted_list(
    samples: list[tuple[float, float, int]], lag: float, shuffler: random.Random
) -> None:
    newest = NOW
    timed = [(newest - ago, duration, status) for ago, duration, status in samples]
    timed.append((newest, 1.0, 200))
    shuffler.shuffle(timed)
    stats = RequestStats(windows=(60, 300))
    for at, duration, status in timed:
        stats.add(at, duration, status)
    now = newest + lag
    snapshot = stats.snapshot(now)
    for window in snapshot.windows:
        first_second = math.floor(now) - window.seconds + 1
        inside = [
            (duration, status)
            for at, duration, status in timed
            if first_second <= math.floor(at) <= math.floor(now)
        ]
        assert window.request_count == len(inside)
        if not inside:
            assert window.p95_ms is None and window.error_percent is None
            continue
        errors = sum(1 for _, status in inside if 500 <= status <= 599)
        assert window.error_percent == pytest.approx(100 * errors / len(inside))
        assert_close_to_p95(window.p95_ms, [duration for duration, _ in inside])


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1))
def test_p95_error_stays_within_the_histogram_bound(durations: list[float]) -> None:
    stats = RequestStats(windows=(60,))
    for duration in durations:
        stats.add(NOW, duration, 200)
    assert_close_to_p95(stats.snapshot(NOW).window(60).p95_ms, durations)
