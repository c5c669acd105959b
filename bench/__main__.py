"""``python -m bench``: every benchmark, each beside a baseline measured in the same run.

Absolute times on shared machines are noise; the ratio to a baseline taken moments
apart on the same machine is the figure to read.
"""

from __future__ import annotations

import argparse

from bench.report import Row, print_rows
from bench.startup import bench_startup

BENCHES = {"startup": bench_startup}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], help="run only these")
    args = parser.parse_args()
    rows: list[Row] = []
    print_rows([], header=True)
    for name, bench in BENCHES.items():
        if args.names and name not in args.names:
            continue
        for row in bench():
            print_rows([row])
            rows.append(row)


if __name__ == "__main__":
    main()
