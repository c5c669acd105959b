"""``python -m bench``: every benchmark, each beside a baseline measured in the same run.

Absolute times on shared machines are noise; the ratio to a baseline taken moments
apart on the same machine is the figure to read.
"""

from __future__ import annotations

import argparse

from bench.db_refresh import bench_db_refresh
from bench.event_loop_lag import bench_event_loop_lag
from bench.fleet import bench_fleet
from bench.history_write import bench_history_write
from bench.incident_record import bench_incident_record
from bench.log_memory import bench_log_memory
from bench.log_throughput import bench_log_throughput
from bench.report import Row, print_rows
from bench.ssh_hosts import bench_ssh_hosts
from bench.startup import bench_startup
from bench.terminal_bytes import bench_terminal_bytes
from bench.walkthrough import bench_walkthrough

BENCHES = {
    "startup": bench_startup,
    "db_refresh": bench_db_refresh,
    "ssh_hosts": bench_ssh_hosts,
    "fleet": bench_fleet,
    "log_throughput": bench_log_throughput,
    "event_loop_lag": bench_event_loop_lag,
    "log_memory": bench_log_memory,
    "incident_record": bench_incident_record,
    "history_write": bench_history_write,
    "walkthrough": bench_walkthrough,
    "terminal_bytes": bench_terminal_bytes,
}


def unknown_bench_text(names: list[str]) -> str:
    return f"unknown bench: {', '.join(names)} (the benches: {', '.join(BENCHES)})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    # No argparse choices: with nargs="*" they reject the empty default on some
    # Pythons, and their message lists the workaround's "[]" among the benches.
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"run only these: {', '.join(BENCHES)}"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(unknown_bench_text(unknown))
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
