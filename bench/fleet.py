"""One poll of 50 SSH hosts over a network delay, beside one host, in one run.

The console's own ``HostsSource``/``HostProbe`` poll 50 stand-in hosts (the demo's
host shells behind real asyncssh servers, host keys verified against a
``known_hosts``) and, alternately, one further host, 25 ms each way between the
console and every host.  The delay comes from one of two places, whichever this
machine allows (the row's label says which ran):

- ``netem``: the servers listen inside a network namespace of their own, reached over
  a veth pair with ``tc … netem delay 25ms`` on both ends; the console stays in the
  root namespace.  Needs root, iproute2 and the kernel's ``sch_netem``.
- ``delayed``: the servers listen on 127.0.0.1 and their own process holds every
  chunk 25 ms each way, in order, both directions (``bench/delayed_link.py``); the
  TCP handshake itself is not delayed, which only the (unmeasured) connect sees.
  A delaying proxy in between cost a second loopback hop per chunk on the servers'
  CPU: about 40 ms per fleet poll beside the servers' 70.

What the wall row means.  A host poll is two round trips on its kept connection
(a session channel opened, then the exec answered with its output, exit status
and close in one flight), so one host takes 2 × 50 ms plus its processing.  The
fleet's 50 polls go out at once; what 50 cost beyond one is CPU: the console's
(taking 50 answers apart) and the stand-ins' (50 sshds and shells answering),
which on a real fleet run on 50 other machines.  So the servers run in a process
of their own, pinned, when two or more CPUs are allowed, to CPUs the console (the
first allowed CPU) does not have: the goal column says which.  They still answer
the fleet's 50 commands one after another in their one process, so the row is an
upper bound on the console's own scaling; the servers' CPU per fleet poll is printed
beside the console's to show how much of the fleet's extra time can be theirs.

The console's process CPU time (``time.process_time`` around the polls) is its
own: printed per host poll.  The first poll of each source connects and is left
out; the two sources' polls alternate so drift hits both.  Every server counts the
connections it accepted: one per host, reused by every later poll, is the expected
count.

Measured on the 2-core machine (load 0.8-0.9), three runs, each beside the
committed bench of before run right after it: 50 hosts 156-163 ms beside one host
107 ms (1.46-1.53x; the goal <= 2x); the console 0.9-1.0 ms CPU per host poll; the
servers 62-68 ms CPU per fleet poll beside the console's 44-49 ms.  The bench of
before (servers and a delaying proxy on both cores with the console, each line of
output an SSH packet, a timer per chunk): 278-296 ms beside 109 ms (2.56-2.70x),
console 1.8-1.9 ms per host poll, servers and proxy 221-250 ms per fleet poll.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bench.delayed_link import DelayingListener
from bench.report import Row, median
from bench.ssh_hosts import first_polls

if TYPE_CHECKING:
    import asyncssh

REPO = Path(__file__).resolve().parent.parent
FLEET_HOSTS = 50
DELAY_S = 0.025
ROUNDS = 12
TIME_CAP_S = 90.0
READY_TIMEOUT_S = 60.0
NS_PREFIX = "rtuibench"


class Skip(Exception):
    """The bench cannot run here; the message says why."""


# -- the servers' process ------------------------------------------------------------


class _Sink:
    """Command output onto one SSH channel, gathered until the command ends or drains.

    The host shell writes each line (each ``echo``) on its own; an SSH packet and a
    ``send`` apiece (and a delayed chunk) made most of the servers' CPU.  OpenSSH's
    sshd reads whatever the command has written so far, up to 16 KiB a read
    (``CHAN_RBUF`` in channels.h), so a poll's 8 KiB, written within a millisecond,
    leaves a real host in a packet or a few as well.
    """

    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self._process = process
        self._out = bytearray()
        self._err = bytearray()

    def write(self, data: bytes) -> None:
        if not self.is_closed():
            self._out += data

    def write_err(self, data: bytes) -> None:
        if not self.is_closed():
            self._err += data

    def flush(self) -> None:
        """What was gathered onto the channel (an ended client discards it)."""
        out, self._out = self._out, bytearray()
        err, self._err = self._err, bytearray()
        if self.is_closed():
            return
        with contextlib.suppress(BrokenPipeError, ConnectionError):
            if out:
                self._process.stdout.write(bytes(out))
            if err:
                self._process.stderr.write(bytes(err))

    async def drain(self) -> None:
        self.flush()
        if not self.is_closed():
            with contextlib.suppress(BrokenPipeError, ConnectionError):
                await self._process.stdout.drain()

    def is_closed(self) -> bool:
        return self._process.is_closing()


async def _control_loop(answer: Callable[[], dict[str, Any]]) -> None:
    """Answer each line on stdin with one JSON line; stop at end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.readline():
        print(json.dumps(answer()), flush=True)


async def _serve(bind: str, state_dir: Path, delay: float) -> None:
    import asyncssh

    from rainbow_tui.demo.containers import SERVICE
    from rainbow_tui.demo.profile import DEMO_DATA_VOLUME
    from rainbow_tui.demo.sshd import SSH_USER, generate_keys
    from rainbow_tui.demo.supervisor import DemoStack, ServeOptions

    # app-1 … app-50 and db-1: the fleet takes 50 of them, the single host the last.
    stack = DemoStack(ServeOptions(state_dir, log_rate=0.0, app_hosts=FLEET_HOSTS))
    names = [spec.name for spec in stack.specs]
    client_key, host_keys, client_path = generate_keys(state_dir / "ssh", names)
    accepted = dict.fromkeys(names, 0)

    class Server(asyncssh.SSHServer):
        def __init__(self, name: str) -> None:
            self.name = name

        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            accepted[self.name] += 1

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return False

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == SSH_USER and key.public_data == client_key.public_data

    def session(name: str) -> Callable[[asyncssh.SSHServerProcess[bytes]], Awaitable[None]]:
        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            sink = _Sink(process)
            try:
                status = await stack.shells[name].run(process.command or "true", sink)
            except Exception as error:  # a broken shell shows as a failed poll
                sink.write_err(f"internal error: {error}\n".encode())
                status = 1
            sink.flush()
            if not process.is_closing():
                with contextlib.suppress(BrokenPipeError, ConnectionError, asyncssh.Error):
                    process.exit(status)

        return handle

    acceptors: list[asyncssh.SSHAcceptor] = []
    hosts: list[dict[str, Any]] = []
    for spec in stack.specs:
        acceptor = await asyncssh.create_server(
            lambda name=spec.name: Server(name), bind, 0,
            server_host_keys=[host_keys[spec.name]], process_factory=session(spec.name),
            encoding=None, keepalive_interval=15, login_timeout=30, allow_scp=False,
            agent_forwarding=False, x11_forwarding=False, line_editor=False,
            **({"tunnel": DelayingListener(delay)} if delay > 0 else {}),
        )
        acceptors.append(acceptor)
        hosts.append({
            "name": spec.name, "roles": list(spec.roles), "port": acceptor.get_port(),
            "host_key": host_keys[spec.name].export_public_key().decode("ascii").strip(),
        })
    print(json.dumps({
        "hosts": hosts, "user": SSH_USER, "client_key": str(client_path), "service": SERVICE,
        "data_volume": DEMO_DATA_VOLUME,
    }), flush=True)
    try:
        await _control_loop(lambda: {"accepted": accepted})
    finally:
        for acceptor in acceptors:
            acceptor.close()


# -- the console's side --------------------------------------------------------------


class _Child:
    """A subprocess speaking JSON lines; it ends when its stdin closes."""

    def __init__(self, argv: list[str], log_path: Path,
                 cpus: frozenset[int] | None = None) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process: asyncio.subprocess.Process | None = None
        self.argv = argv
        self.cpus = cpus

    async def start(self) -> dict[str, Any]:
        cpus = self.cpus

        def pin() -> None:  # in the child, before exec: its every thread inherits it
            if cpus is not None:
                os.sched_setaffinity(0, cpus)

        self.process = await asyncio.create_subprocess_exec(
            *self.argv, cwd=REPO, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=self._log, start_new_session=True,
            preexec_fn=pin if cpus is not None else None,
        )
        return await self._answer(READY_TIMEOUT_S)

    async def ask(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(b"?\n")
        await self.process.stdin.drain()
        return await self._answer(10.0)

    async def _answer(self, wait_s: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), wait_s)
        except TimeoutError:
            line = b""
        if not line:
            self._log.flush()
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise Skip(f"{self.argv[-1]!s} process did not answer: {' | '.join(tail)}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                await process.wait()
        self._log.close()


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)


@dataclass
class _Namespace:
    """A network namespace joined to the root one by a veth pair, netem on both ends."""

    name: str
    outer: str
    inner: str
    outer_address: str
    inner_address: str

    @classmethod
    def create(cls, delay: float) -> _Namespace:
        """The namespace, or ``Skip`` with why (it is then gone again)."""
        if os.geteuid() != 0:
            raise Skip("not root")
        if shutil.which("ip") is None or shutil.which("tc") is None:
            raise Skip("iproute2 missing (ip/tc)")
        _remove_stale_namespaces()
        pid = os.getpid()
        subnet = f"10.213.{pid % 250}"
        ns = cls(f"{NS_PREFIX}-{pid}", f"rtb{pid}a", f"rtb{pid}b", f"{subnet}.1", f"{subnet}.2")
        try:
            ns._setup(delay)
        except Skip:
            ns.remove()
            raise
        return ns

    def _setup(self, delay: float) -> None:
        delay_ms = f"{delay * 1000:g}ms"
        steps = [
            ("netns", "add", self.name),
            ("link", "add", self.outer, "type", "veth", "peer", "name", self.inner),
            ("link", "set", self.inner, "netns", self.name),
            ("addr", "add", f"{self.outer_address}/24", "dev", self.outer),
            ("link", "set", self.outer, "up"),
            ("-n", self.name, "addr", "add", f"{self.inner_address}/24", "dev", self.inner),
            ("-n", self.name, "link", "set", self.inner, "up"),
            ("-n", self.name, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                raise Skip(f"`ip {' '.join(step)}` failed: {done.stderr.strip()}")
        for prefix, device in (([], self.outer), (["ip", "netns", "exec", self.name], self.inner)):
            argv = [*prefix, "tc", "qdisc", "add", "dev", device, "root", "netem", "delay",
                    delay_ms]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            if done.returncode != 0:
                raise Skip(f"netem unavailable ({done.stderr.strip() or done.returncode})")

    def remove(self) -> None:
        _ip("link", "del", self.outer)
        _ip("netns", "del", self.name)


def _remove_stale_namespaces() -> None:
    """Namespaces a killed earlier run of this bench left behind (its pid is gone)."""
    listing = _ip("netns", "list").stdout
    for match in re.finditer(rf"^{NS_PREFIX}-(\d+)\b", listing, re.MULTILINE):
        pid = int(match[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _ip("link", "del", f"rtb{pid}a")
            _ip("netns", "del", match[0])
        except PermissionError:
            pass


def _probes(ready: dict[str, Any], address: str, ports: list[int],
            state_dir: Path) -> list[Any]:
    from rainbow_tui.sources.hosts import HostProbe, SshTarget

    known_hosts = state_dir / "known_hosts"
    lines = []
    for host, port in zip(ready["hosts"], ports, strict=True):
        kind, blob = host["host_key"].split()[:2]
        lines.append(f"[{address}]:{port} {kind} {blob}\n")
    known_hosts.write_text("".join(lines), encoding="ascii")
    probes = []
    for host, port in zip(ready["hosts"], ports, strict=True):
        roles = tuple(host["roles"])
        target = SshTarget(
            name=host["name"], address=address, port=port, user=ready["user"], roles=roles,
            known_hosts=str(known_hosts), client_keys=(ready["client_key"],),
        )
        volume = ready["data_volume"] if "db" in roles else ""
        probes.append(HostProbe(target, ready["service"], volume))
    return probes


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes so far (Linux ``/proc``)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def _measure(probes: list[Any], method: str, placement: str, stand_ins: list[int],
                   accepted: Callable[[], Awaitable[dict[str, int]]]) -> list[Row]:
    from rainbow_tui.sources.hosts import HostsSource

    single_probe = next(p for p in probes if p.target.name == f"app-{FLEET_HOSTS}")
    fleet = HostsSource([p for p in probes if p is not single_probe])
    single = HostsSource([single_probe])
    polls = 0
    try:
        await first_polls(fleet, single)
        polls = 1
        many: list[float] = []
        one: list[float] = []
        cpu = {id(fleet): 0.0, id(single): 0.0}
        stand_in_cpu = 0.0
        deadline = time.monotonic() + TIME_CAP_S
        while len(many) < ROUNDS and time.monotonic() < deadline:
            for source, samples in ((fleet, many), (single, one)):
                stand_in_started = _cpu_seconds(stand_ins)
                cpu_started = time.process_time()
                started = time.perf_counter()
                snapshots = await source.poll()
                samples.append(time.perf_counter() - started)
                cpu[id(source)] += time.process_time() - cpu_started
                if source is fleet:
                    stand_in_cpu += _cpu_seconds(stand_ins) - stand_in_started
                if any(s.error or s.cpu_percent is None for s in snapshots):
                    raise RuntimeError(f"host poll failed: {snapshots}")
            polls += 1
        counts = await accepted()
    finally:
        await asyncio.gather(fleet.close(), single.close())
    hosts = len(fleet.probes) + len(single.probes)
    reconnected = {name: n for name, n in counts.items() if n != 1}
    if not reconnected:
        verdict = f"1 per host, reused over {polls} polls: yes"
    else:
        shown = ", ".join(f"{name}:{n}" for name, n in sorted(reconnected.items())[:4])
        verdict = f"NOT reused over {polls} polls ({shown})"
    label = f"fleet {len(fleet.probes)} hosts, {method}"
    return [
        Row(f"{label}: wall", median(many) * 1000, median(one) * 1000, "ms",
            f"<= 2x one host ({placement})"),
        Row(f"{label}: CPU/host", cpu[id(fleet)] / (len(fleet.probes) * len(many)) * 1000,
            cpu[id(single)] / len(one) * 1000, "ms",
            "for reading: console CPU per host poll (baseline: 1 host)"),
        Row(f"{label}: servers CPU", stand_in_cpu / len(many) * 1000,
            cpu[id(fleet)] / len(many) * 1000, "ms",
            "for reading: stand-in servers per fleet poll (baseline: console)"),
        Row(f"fleet {hosts} hosts: SSH connections accepted", float(sum(counts.values())),
            float(hosts), "", verdict),
    ]


@dataclass(frozen=True)
class _Cpus:
    """Which CPUs the console has, and which the stand-in servers have."""

    console: frozenset[int]
    stand_ins: frozenset[int]

    @classmethod
    def split(cls) -> _Cpus | None:
        """The first allowed CPU for the console, the rest for the stand-ins; None
        with fewer than two (or no affinity calls on this system)."""
        if not hasattr(os, "sched_getaffinity"):
            return None
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return None
        return cls(frozenset(allowed[:1]), frozenset(allowed[1:]))

    def describe(self) -> str:
        def cpus(which: frozenset[int]) -> str:
            return ",".join(str(cpu) for cpu in sorted(which))

        return f"console on CPU {cpus(self.console)}, stand-ins on {cpus(self.stand_ins)}"


async def _run(state_dir: Path, cpus: _Cpus | None) -> list[Row]:
    python = [sys.executable, "-m", "bench.fleet"]
    stand_in_cpus = cpus.stand_ins if cpus is not None else None
    placement = cpus.describe() if cpus is not None else "stand-ins share the console's CPUs"
    children: list[_Child] = []
    namespace: _Namespace | None = None
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:  # a plain kill cleans up too
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        try:
            namespace = _Namespace.create(DELAY_S)
        except Skip as why:
            print(f"fleet poll: no netem namespace ({why}); delayed in the servers instead",
                  flush=True)
        if namespace is not None:
            server = _Child(["ip", "netns", "exec", namespace.name, *python, "--bind",
                             namespace.inner_address, "--state", str(state_dir), "--delay", "0",
                             "serve"],
                            state_dir / "serve.log", stand_in_cpus)
            children.append(server)
            ready = await server.start()
            address = namespace.inner_address
            ports = [host["port"] for host in ready["hosts"]]
            method = f"netem {DELAY_S * 1000:g}ms/way"
        else:
            server = _Child([*python, "--bind", "127.0.0.1", "--state", str(state_dir),
                             "--delay", str(DELAY_S), "serve"], state_dir / "serve.log",
                             stand_in_cpus)
            children.append(server)
            ready = await server.start()
            ports = [host["port"] for host in ready["hosts"]]
            address = "127.0.0.1"
            method = f"delayed {DELAY_S * 1000:g}ms/way"

        async def accepted() -> dict[str, int]:
            answer: dict[str, int] = (await server.ask())["accepted"]
            return answer

        pids = [child.process.pid for child in children if child.process is not None]
        return await _measure(_probes(ready, address, ports, state_dir), method, placement,
                              pids, accepted)
    finally:
        for child in reversed(children):
            await child.stop()
        if namespace is not None:
            namespace.remove()
        loop.remove_signal_handler(signal.SIGTERM)


def bench_fleet() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="rtui-bench-fleet-"))
    cpus = _Cpus.split()
    allowed = os.sched_getaffinity(0) if cpus is not None else None
    try:
        if cpus is not None:
            # Before asyncio.run: the loop's executor threads start pinned too.
            os.sched_setaffinity(0, cpus.console)
        return asyncio.run(_run(state_dir, cpus))
    except Skip as why:
        print(f"fleet poll: skipped: {why}", flush=True)
        return []
    finally:
        if allowed is not None:  # the benches after this one get every CPU again
            os.sched_setaffinity(0, allowed)
        shutil.rmtree(state_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--state", type=Path)
    parser.add_argument("--delay", type=float, default=DELAY_S)
    parser.add_argument("role", nargs="?", choices=["serve", "bench"], default="bench")
    args = parser.parse_args()
    if args.role == "serve":
        asyncio.run(_serve(args.bind, args.state, args.delay))
    else:
        from bench.report import print_rows

        print_rows(bench_fleet(), header=True)


if __name__ == "__main__":
    main()
