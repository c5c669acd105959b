"""``python -m bench NAME…``: only the named benches run, and an unknown name is an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench(*names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unknown_bench_is_named_in_one_line_and_exits_2() -> None:
    result = _bench("incident_record", "no_such_bench")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert "unknown bench: no_such_bench" in last_line
    assert "startup" in last_line and "incident_record" in last_line  # what there is
    assert "[]" not in result.stderr
    assert result.stdout == ""  # nothing ran


def test_only_the_named_bench_runs() -> None:
    result = _bench("incident_record")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.strip().splitlines()
    assert header.split()[:4] == ["name", "value", "baseline", "ratio"]
    assert rows
    assert all(row.startswith("incident ") for row in rows), rows
