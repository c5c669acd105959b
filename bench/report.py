"""The one output format of every benchmark: name, value, baseline, ratio."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    baseline: float
    unit: str
    goal: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def print_rows(rows: list[Row], header: bool = False) -> None:
    if header:
        print(f"{'name':44} {'value':>12} {'baseline':>12} {'ratio':>7}  goal")
    for row in rows:
        print(
            f"{row.name:44} {row.value:>10.3f}{row.unit:<2} {row.baseline:>10.3f}{row.unit:<2}"
            f" {row.ratio:>6.2f}x  {row.goal}",
            flush=True,
        )
