"""Simulated Linux hosts: memory, CPU, disks, and the text their tools print.

Every figure derives from a little state that moves with real time, so repeated
reads are consistent: ``/proc/stat`` counters advance by exactly the elapsed
jiffies split by the current CPU use, ``free`` agrees with ``/proc/meminfo``, ``df``
rounds the way coreutils does.  The output formats are those of Ubuntu 24.04
(procps-ng 4, coreutils 9, Linux 6.8).

The database host's data volume is mounted at :data:`DB_DATA_MOUNT` (a separate
disk, ``/dev/sdb``), so ``df -h /var/lib/postgresql/data`` reports the DB disk.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rainbow_tui.demo.endpoints import DB_DATA_MOUNT

USER_HZ = 100
_KIB = 1024


@dataclass
class Filesystem:
    source: str
    mount: str
    size_kib: int
    used_kib: int
    reserved_kib: int = 0

    @property
    def avail_kib(self) -> int:
        return max(0, self.size_kib - self.used_kib - self.reserved_kib)

    @property
    def use_percent(self) -> int:
        """coreutils: used / (used + avail), rounded up."""
        denominator = self.used_kib + self.avail_kib
        return 0 if denominator == 0 else math.ceil(self.used_kib * 100 / denominator)


@dataclass
class MemoryLeak:
    started_at: float
    start_percent: float
    percent_per_second: float
    ceiling_percent: float = 97.0

    def percent(self, now: float) -> float:
        grown = self.start_percent + (now - self.started_at) * self.percent_per_second
        return min(self.ceiling_percent, grown)


# Split of busy time between /proc/stat's columns (user, nice, system, irq, softirq).
_BUSY_SHARES = (0.70, 0.01, 0.23, 0.01, 0.05)


@dataclass
class SimHost:
    name: str
    roles: tuple[str, ...]
    cpus: int
    mem_total_kib: int
    memory_baseline_percent: float
    filesystems: list[Filesystem]
    boot_time: float
    rng: random.Random
    cpu_busy: float = 0.25  # fraction of all CPUs, 0..1
    memory_leak: MemoryLeak | None = None
    # Per-CPU cumulative jiffies: user nice system idle iowait irq softirq steal.
    _cpu_counters: list[list[float]] = field(default_factory=list)
    _counted_until: float = 0.0
    _load: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _memory_noise: float = 0.0
    _last_pid: int = 2000

    @classmethod
    def create(cls, name: str, roles: tuple[str, ...], seed: int) -> SimHost:
        rng = random.Random(f"{seed}:{name}")
        is_db = "db" in roles
        cpus = 4
        mem_total_kib = (16 if is_db else 8) * 1024 * 1024 - 225_000
        root = Filesystem(
            source="/dev/root",
            mount="/",
            size_kib=80 * 1024 * 1024 - 1_750_000,
            used_kib=0,
            reserved_kib=0,
        )
        root.used_kib = int(root.size_kib * rng.uniform(0.40, 0.52))
        filesystems = [
            Filesystem("tmpfs", "/run", 1_620_000, 1_180),
            root,
            Filesystem("tmpfs", "/dev/shm", mem_total_kib // 2, 0),
            Filesystem("tmpfs", "/run/lock", 5120, 0),
            Filesystem("/dev/sda15", "/boot/efi", 126_678, 12_170),
        ]
        if is_db:
            data = Filesystem(source="/dev/sdb", mount=DB_DATA_MOUNT,
                              size_kib=200 * 1024 * 1024 - 3_300_000, used_kib=0)
            data.used_kib = int(data.size_kib * rng.uniform(0.42, 0.55))
            filesystems.append(data)
        now = time.time()
        host = cls(
            name=name,
            roles=roles,
            cpus=cpus,
            mem_total_kib=mem_total_kib,
            memory_baseline_percent=rng.uniform(51.0, 58.0),
            filesystems=filesystems,
            boot_time=now - rng.uniform(3, 40) * 86400,
            rng=rng,
            cpu_busy=rng.uniform(0.18, 0.32),
        )
        uptime_jiffies = (now - host.boot_time) * USER_HZ
        host._cpu_counters = []
        for _ in range(cpus):
            busy = uptime_jiffies * host.cpu_busy
            host._cpu_counters.append(
                [busy * s for s in _BUSY_SHARES[:3]]
                + [uptime_jiffies - busy - uptime_jiffies * 0.004, uptime_jiffies * 0.004]
                + [busy * s for s in _BUSY_SHARES[3:]]
                + [0.0]
            )
        host._counted_until = now
        # Recent minutes a little busier or calmer than the quarter hour, as usual.
        host._load = [host.cpu_busy * cpus * rng.uniform(0.85, 1.15) for _ in range(3)]
        host._last_pid = rng.randint(20_000, 90_000)
        return host

    # -- dynamics -------------------------------------------------------------------

    def advance(self, now: float | None = None) -> None:
        """Account the time since the last call, then let CPU use wander a little."""
        now = time.time() if now is None else now
        elapsed = now - self._counted_until
        if elapsed <= 0:
            return
        jiffies = elapsed * USER_HZ
        for cpu, counters in enumerate(self._cpu_counters):
            # Each CPU a little busier or idler than the mean, as real ones are.
            busy = min(1.0, max(0.0, self.cpu_busy * (1.0 + 0.15 * ((cpu % 2) * 2 - 1))))
            busy_j = jiffies * busy
            iowait_j = (jiffies - busy_j) * 0.004
            counters[0] += busy_j * _BUSY_SHARES[0]
            counters[1] += busy_j * _BUSY_SHARES[1]
            counters[2] += busy_j * _BUSY_SHARES[2]
            counters[3] += jiffies - busy_j - iowait_j
            counters[4] += iowait_j
            counters[5] += busy_j * _BUSY_SHARES[3]
            counters[6] += busy_j * _BUSY_SHARES[4]
        self._counted_until = now
        # Exponentially damped load averages (1, 5, 15 minutes), as the kernel keeps.
        runnable = self.cpu_busy * self.cpus + self.rng.uniform(-0.2, 0.3)
        for index, window in enumerate((60.0, 300.0, 900.0)):
            decay = math.exp(-elapsed / window)
            self._load[index] = self._load[index] * decay + max(0.0, runnable) * (1 - decay)
        if elapsed >= 0.5:
            self.cpu_busy = min(0.38, max(0.16, self.cpu_busy + self.rng.gauss(0, 0.02)))
            self._memory_noise = max(-0.8, min(0.8, self._memory_noise + self.rng.gauss(0, 0.1)))
            self._last_pid += self.rng.randint(0, 12)

    def memory_percent(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if self.memory_leak is not None:
            return self.memory_leak.percent(now)
        return self.memory_baseline_percent + self._memory_noise

    def cpu_percent(self) -> float:
        return self.cpu_busy * 100.0

    def disk_percent(self, mount: str = "/") -> int:
        return self._filesystem_for(mount).use_percent

    def start_memory_leak(self, start_percent: float, percent_per_second: float) -> None:
        self.memory_leak = MemoryLeak(time.time(), start_percent, percent_per_second)

    def stop_memory_leak(self) -> None:
        self.memory_leak = None

    # -- /proc files ----------------------------------------------------------------

    def _memory_kib(self) -> dict[str, int]:
        total = self.mem_total_kib
        available = int(total * (1 - self.memory_percent() / 100))
        cached = int(available * 0.55)
        buffers = int(available * 0.03)
        sreclaimable = int(available * 0.04)
        free = max(0, available - cached - buffers - sreclaimable + int(total * 0.01))
        shmem = int(total * 0.004)
        anon = max(0, total - available - int(total * 0.05))
        return {
            "MemTotal": total, "MemFree": free, "MemAvailable": available,
            "Buffers": buffers, "Cached": cached, "Shmem": shmem,
            "SReclaimable": sreclaimable, "AnonPages": anon,
        }

    def proc_meminfo(self) -> str:
        m = self._memory_kib()
        total = m["MemTotal"]
        slab_unreclaim = int(total * 0.012)
        rows: list[tuple[str, int, bool]] = [
            ("MemTotal", total, True), ("MemFree", m["MemFree"], True),
            ("MemAvailable", m["MemAvailable"], True), ("Buffers", m["Buffers"], True),
            ("Cached", m["Cached"], True), ("SwapCached", 0, True),
            ("Active", int(m["AnonPages"] * 0.6 + m["Cached"] * 0.5), True),
            ("Inactive", int(m["AnonPages"] * 0.4 + m["Cached"] * 0.5), True),
            ("Active(anon)", int(m["AnonPages"] * 0.6), True),
            ("Inactive(anon)", int(m["AnonPages"] * 0.4), True),
            ("Active(file)", int(m["Cached"] * 0.5), True),
            ("Inactive(file)", int(m["Cached"] * 0.5), True),
            ("Unevictable", 0, True), ("Mlocked", 0, True),
            ("SwapTotal", 0, True), ("SwapFree", 0, True),
            ("Zswap", 0, True), ("Zswapped", 0, True),
            ("Dirty", 412, True), ("Writeback", 0, True),
            ("AnonPages", m["AnonPages"], True), ("Mapped", int(total * 0.03), True),
            ("Shmem", m["Shmem"], True), ("KReclaimable", m["SReclaimable"], True),
            ("Slab", m["SReclaimable"] + slab_unreclaim, True),
            ("SReclaimable", m["SReclaimable"], True), ("SUnreclaim", slab_unreclaim, True),
            ("KernelStack", 6_912, True), ("PageTables", int(total * 0.004), True),
            ("SecPageTables", 0, True), ("NFS_Unstable", 0, True), ("Bounce", 0, True),
            ("WritebackTmp", 0, True), ("CommitLimit", total // 2, True),
            ("Committed_AS", int(total * 0.9), True), ("VmallocTotal", 34359738367, True),
            ("VmallocUsed", 28_416, True), ("VmallocChunk", 0, True),
            ("Percpu", 2_880, True), ("HardwareCorrupted", 0, True),
            ("AnonHugePages", 0, True), ("ShmemHugePages", 0, True),
            ("ShmemPmdMapped", 0, True), ("FileHugePages", 0, True),
            ("FilePmdMapped", 0, True), ("HugePages_Total", 0, False),
            ("HugePages_Free", 0, False), ("HugePages_Rsvd", 0, False),
            ("HugePages_Surp", 0, False), ("Hugepagesize", 2048, True),
            ("Hugetlb", 0, True), ("DirectMap4k", 210_764, True),
            ("DirectMap2M", 8_177_664, True), ("DirectMap1G", 2_097_152, True),
        ]
        return "".join(
            f"{name + ':':<16}{value:>8}{' kB' if in_kb else ''}\n" for name, value, in_kb in rows
        )

    def proc_stat(self) -> str:
        self.advance()
        columns = [[int(v) for v in counters] + [0, 0] for counters in self._cpu_counters]
        total = [sum(col[i] for col in columns) for i in range(10)]
        lines = ["cpu  " + " ".join(str(v) for v in total)]
        lines += [f"cpu{n} " + " ".join(str(v) for v in col) for n, col in enumerate(columns)]
        uptime = time.time() - self.boot_time
        interrupts = int(uptime * 850)
        context_switches = int(uptime * 2_100)
        lines += [
            f"intr {interrupts} 0 9 0 0 0 0 0 0 0 0 0 0 156 0 0 0 0 0 0 0 0 0 0 0",
            f"ctxt {context_switches}",
            f"btime {int(self.boot_time)}",
            f"processes {self._last_pid}",
            f"procs_running {max(1, round(self.cpu_busy * self.cpus))}",
            "procs_blocked 0",
            f"softirq {int(uptime * 600)} 0 {int(uptime * 180)} 1 {int(uptime * 40)} "
            f"{int(uptime * 30)} 0 12 {int(uptime * 200)} 0 {int(uptime * 150)}",
        ]
        return "\n".join(lines) + "\n"

    def proc_loadavg(self) -> str:
        self.advance()
        one, five, fifteen = self._load
        running = max(1, round(self.cpu_busy * self.cpus))
        return f"{one:.2f} {five:.2f} {fifteen:.2f} {running}/{312 + running} {self._last_pid}\n"

    def proc_uptime(self) -> str:
        uptime = time.time() - self.boot_time
        idle = uptime * self.cpus * (1 - self.cpu_busy)
        return f"{uptime:.2f} {idle:.2f}\n"

    # -- tools ----------------------------------------------------------------------

    def free(self, unit: str = "k") -> str:
        """procps-ng 4 ``free``; ``used`` is total - available, as that version computes."""
        m = self._memory_kib()
        total = m["MemTotal"]
        buff_cache = m["Buffers"] + m["Cached"] + m["SReclaimable"]
        used = total - m["MemAvailable"]
        values = [total, used, m["MemFree"], m["Shmem"], buff_cache, m["MemAvailable"]]

        def show(kib: int) -> str:
            if unit == "h":
                return _free_human(kib)
            divisor = {"b": 1 / _KIB, "k": 1, "m": _KIB, "g": _KIB * _KIB}[unit]
            return str(int(kib / divisor))

        header = f"{'':8}{'total':>12}{'used':>12}{'free':>12}{'shared':>12}" \
                 f"{'buff/cache':>12}{'available':>12}"
        mem_row = "Mem:".ljust(8) + "".join(f"{show(v):>12}" for v in values)
        swap_row = "Swap:".ljust(8) + "".join(f"{show(0):>12}" for _ in range(3))
        return f"{header}\n{mem_row}\n{swap_row}\n"

    def _filesystem_for(self, path: str) -> Filesystem:
        best = self.filesystems[1]
        for fs in self.filesystems:
            prefix = fs.mount.rstrip("/") + "/"
            if (path == fs.mount or path.startswith(prefix)) and len(fs.mount) >= len(best.mount):
                best = fs
        return best

    def df(self, paths: list[str], human: bool) -> str:
        chosen = [self._filesystem_for(p) for p in paths] if paths else self.filesystems
        size_title = "Size" if human else "1K-blocks"
        rows: list[tuple[str, ...]] = [
            ("Filesystem", size_title, "Used", "Avail" if human else "Available", "Use%",
             "Mounted on")
        ]
        for fs in chosen:
            if human:
                figures = [_df_human(v) for v in (fs.size_kib, fs.used_kib, fs.avail_kib)]
            else:
                figures = [str(v) for v in (fs.size_kib, fs.used_kib, fs.avail_kib)]
            percent = f"{fs.use_percent}%" if fs.size_kib else "-"
            rows.append((fs.source, *figures, percent, fs.mount))
        # coreutils pads each column to its widest cell, with minimum widths.
        minimum_widths = (14, 5, 5, 5, 4) if human else (14, 0, 0, 0, 4)
        widths = [
            max(minimum_widths[column], *(len(r[column]) for r in rows)) for column in range(5)
        ]
        lines = []
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [row[c].rjust(widths[c]) for c in range(1, 5)]
            cells.append(row[5])
            lines.append(" ".join(cells))
        return "\n".join(lines) + "\n"

    def uptime(self) -> str:
        self.advance()
        now = time.time()
        up = int(now - self.boot_time)
        days, remainder = divmod(up, 86400)
        hours, minutes = divmod(remainder // 60, 60)
        # Servers keep UTC; only the Rails app logs in Japan time.
        clock = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S")
        day_part = f"{days} day{'s' if days != 1 else ''}, " if days else ""
        up_part = f"{hours:2d}:{minutes:02d}" if hours else f"{minutes} min"
        one, five, fifteen = self._load
        return (f" {clock} up {day_part}{up_part},  1 user,  "
                f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}\n")


def _df_human(kib: int) -> str:
    """coreutils ``-h``: powers of 1024, rounded up, one decimal below 10."""
    value = float(kib) * _KIB
    for suffix in ("", "K", "M", "G", "T", "P"):
        if value < 1024 or suffix == "P":
            if suffix == "":
                return str(int(value))
            if value < 10:
                rounded = math.ceil(value * 10) / 10
                if rounded < 10:
                    return f"{rounded:.1f}{suffix}"
                return f"{math.ceil(rounded)}{suffix}"
            return f"{math.ceil(value)}{suffix}"
        value /= 1024
    raise AssertionError("unreachable")


def _free_human(kib: int) -> str:
    """procps ``free -h``: "7.6Gi", "512Mi", "0B"."""
    if kib == 0:
        return "0B"
    value = float(kib)
    for suffix in ("Ki", "Mi", "Gi", "Ti"):
        if value < 1024 or suffix == "Ti":
            return f"{value:.1f}{suffix}" if value < 10 else f"{round(value)}{suffix}"
        value /= 1024
    raise AssertionError("unreachable")


def create_fleet(hosts: list[tuple[str, tuple[str, ...]]], seed: int) -> dict[str, SimHost]:
    return {name: SimHost.create(name, roles, seed) for name, roles in hosts}
