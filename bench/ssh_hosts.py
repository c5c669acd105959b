"""Polling 51 SSH hosts with ``HostsSource``, beside polling one host the same way.

The demo stack runs 50 app hosts plus db-1, each an SSH server of its own on
127.0.0.1.  Both sources keep their connections open (the first poll of each,
which connects, is left out), and their polls alternate so drift hits both.
Each poll runs the console's five commands per host (meminfo, stat, loadavg, df,
docker ps) as concurrent channels.  The console's CPU time per poll is printed
too: the demo's SSH servers share the machine's two cores with it, real hosts
would not.  The stack's generated logs are turned off:
they are not polled here and would only take CPU from both sides.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import Row, median

if TYPE_CHECKING:
    from rainbow_tui.sources.hosts import HostsSource

APP_HOSTS = 50
ROUNDS = 15
TIME_CAP_S = 75.0


async def first_polls(*sources: HostsSource) -> None:
    """Poll each host source once: the connections open and the first CPU reading
    is taken, outside what is timed.  A host that fails stops the bench."""
    for source in sources:
        snapshots = await source.poll()
        broken = [s for s in snapshots if s.error or s.problems]
        if broken:
            raise RuntimeError(f"host poll failed: {broken[0]}")


async def _run(state_dir: Path) -> list[Row]:
    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import DEMO_DATA_VOLUME
    from rainbow_tui.sources.hosts import HostProbe, HostsSource, SshTarget

    stack = await asyncio.to_thread(start_demo_stack, state_dir, (), 0.0, APP_HOSTS)
    try:
        endpoints = stack.endpoints

        def probe(index: int) -> HostProbe:
            host = endpoints.hosts[index]
            target = SshTarget(
                name=host.name, address=host.address, port=host.port, user=endpoints.ssh_user,
                roles=host.roles, known_hosts=str(endpoints.known_hosts),
                client_keys=(str(endpoints.client_key),),
            )
            volume = DEMO_DATA_VOLUME if "db" in host.roles else ""
            return HostProbe(target, endpoints.service, volume)

        fleet = HostsSource([probe(i) for i in range(len(endpoints.hosts))])
        single = HostsSource([probe(0)])
        try:
            await first_polls(fleet, single)
            many: list[float] = []
            one: list[float] = []
            many_cpu: list[float] = []
            one_cpu: list[float] = []
            deadline = time.monotonic() + TIME_CAP_S
            while len(many) < ROUNDS and time.monotonic() < deadline:
                for source, samples, cpu in ((fleet, many, many_cpu), (single, one, one_cpu)):
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    snapshots = await source.poll()
                    samples.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                    if any(s.error or s.cpu_percent is None for s in snapshots):
                        raise RuntimeError(f"host poll failed: {snapshots}")
        finally:
            await asyncio.gather(fleet.close(), single.close())
    finally:
        await asyncio.to_thread(stack.stop)
    return [
        Row(f"{len(fleet.probes)} SSH hosts: warm poll wall (median)",
            median(many) * 1000, median(one) * 1000, "ms", "<= 2x one host"),
        Row(f"{len(fleet.probes)} SSH hosts: console CPU per poll (median)",
            median(many_cpu) * 1000, median(one_cpu) * 1000, "ms",
            "for reading: the console's own share of the wall time above"),
    ]


def bench_ssh_hosts() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="rtui-bench-ssh-"))
    try:
        return asyncio.run(_run(state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_ssh_hosts(), header=True)
