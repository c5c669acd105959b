"""Host command outputs: known samples, round trips, and no crash on junk."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.sources.host_parsing import (
    CpuTimes,
    DiskUsage,
    HostParseError,
    cpu_percent,
    parse_df,
    parse_docker_ps_json,
    parse_free_m,
    parse_labels,
    parse_loadavg,
    parse_meminfo,
    parse_proc_stat,
)

MEMINFO = """\
MemTotal:       16318480 kB
MemFree:         1234560 kB
MemAvailable:   11560000 kB
Buffers:          345600 kB
Cached:          9876540 kB
SwapCached:            0 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

FREE_M = """\
               total        used        free      shared  buff/cache   available
Mem:           15936        4021        1234         345       10680       11560
Swap:           2047           0        2047
"""

FREE_M_OLD = """\
             total       used       free     shared    buffers     cached
Mem:          7983       7543        440          0        186       5321
-/+ buffers/cache:       2035       5948
Swap:         2047          0       2047
"""

PROC_STAT = """\
cpu  4705 150 1120 16250 520 0 35 12 0 0
cpu0 2352 75 560 8125 260 0 17 6 0 0
cpu1 2353 75 560 8125 260 0 18 6 0 0
intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]
ctxt 1990473
btime 1062191376
"""

DF_H = """\
Filesystem      Size  Used Avail Use% Mounted on
/dev/sda1        20G  5.2G   14G  28% /
tmpfs           3.9G     0  3.9G   0% /dev/shm
/dev/mapper/vg0-very-long-logical-volume-name-for-postgresql
                 98G   81G   12G  88% /var/lib/docker
/dev/sdb1       916G  100G  770G  12% /media/backup disk
"""

DF_P = """\
Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1         20509264   5420000  14024000      28% /
overlay           20509264   5420000  14024000      28% /var/lib/docker/overlay2/abc/merged
"""

KAMAL_WEB = {
    "Command": '"/rails/bin/docker-entrypoint ./bin/thrust ./bin/rails server"',
    "CreatedAt": "2026-11-28 11:58:01 +0900 JST",
    "ID": "3f2a1b0c9d8e",
    "Image": "ghcr.io/shiojiri/rainbow-seeker:8f3c2d1e",
    "Labels": "service=shiojiri-rainbow-seeker,role=web,destination=production,"
    "org.opencontainers.image.source=https://example.test/x?a=b",
    "Names": "shiojiri-rainbow-seeker-web-production-8f3c2d1e",
    "State": "running",
    "Status": "Up 2 hours (healthy)",
}


# -- memory ---------------------------------------------------------------------------


def test_meminfo_uses_mem_available() -> None:
    memory = parse_meminfo(MEMINFO)
    assert (memory.total_kb, memory.available_kb) == (16318480, 11560000)
    assert memory.used_percent == pytest.approx(100 * (16318480 - 11560000) / 16318480)


def test_meminfo_before_mem_available_falls_back_to_free_buffers_cached() -> None:
    old_kernel = "\n".join(line for line in MEMINFO.splitlines() if "MemAvailable" not in line)
    assert parse_meminfo(old_kernel).available_kb == 1234560 + 345600 + 9876540


def test_free_m_new_and_old_procps() -> None:
    assert parse_free_m(FREE_M).available_kb == 11560 * 1024
    assert parse_free_m(FREE_M).total_kb == 15936 * 1024
    assert parse_free_m(FREE_M_OLD).available_kb == (440 + 186 + 5321) * 1024


@pytest.mark.parametrize(
    ("parser", "text", "complaint"),
    [
        (parse_meminfo, "MemFree: 10 kB\n", "MemTotal"),
        (parse_meminfo, "MemTotal: 0 kB\nMemAvailable: 0 kB\n", "total"),
        (parse_meminfo, "MemTotal: 10 kB\nMemAvailable: 20 kB\n", "exceeds"),
        (parse_free_m, "Mem: 1 2 3\n", "header"),
        (parse_free_m, "bash: free: command not found\n", "Mem:"),
        (parse_free_m, "  total used free\nMem: 1 2\n", "2 values"),
        (parse_proc_stat, "cpu 1 2 3\n", "need 4"),
        (parse_proc_stat, "cpu0 1 2 3 4\n", "aggregate"),
        (parse_proc_stat, "cpu 1 2 x 4\n", "integer"),
        (parse_loadavg, "", "loadavg"),
        (parse_df, "", "empty"),
        (parse_df, "Permission denied\n", "header"),
        (parse_df, "Filesystem Size\n/dev/sda1 big\n", "line 2"),
        (parse_df, "Filesystem Size\n/dev/a-very-long-name\n", "no sizes"),
        (parse_docker_ps_json, "Cannot connect to the Docker daemon\n", "no container"),
        # int() refuses over 4300 digits with a ValueError of its own.
        (parse_meminfo, "MemTotal: " + "9" * 5000 + " kB\n", "MemTotal"),
        (parse_proc_stat, "cpu " + "9" * 5000 + " 1 1 1\n", "integer"),
        (parse_free_m, "total free\nMem: " + "9" * 5000 + " 1\n", "integer"),
        (parse_loadavg, "1 1 1 " + "9" * 5000 + "/1\n", "loadavg"),
    ],
)
def test_unreadable_output_raises_a_clear_host_parse_error(
    parser: Callable[[str], object], text: str, complaint: str
) -> None:
    with pytest.raises(HostParseError, match=complaint):
        parser(text)


# -- CPU and load -----------------------------------------------------------------------


def test_proc_stat_aggregate_line() -> None:
    assert parse_proc_stat(PROC_STAT) == CpuTimes(4705, 150, 1120, 16250, 520, 0, 35, 12)
    assert parse_proc_stat("cpu 1 2 3 4\n") == CpuTimes(1, 2, 3, 4)


def test_cpu_percent_between_samples() -> None:
    before = CpuTimes(100, 0, 100, 700, 100, 0, 0, 0)
    after = CpuTimes(150, 0, 150, 750, 150, 0, 0, 0)
    assert cpu_percent(before, after) == pytest.approx(50.0)
    assert cpu_percent(after, after) is None
    rebooted = CpuTimes(5, 0, 5, 10, 0, 0, 0, 0)
    assert cpu_percent(after, rebooted) is None


def test_loadavg() -> None:
    load = parse_loadavg("0.52 0.58 0.59 1/389 12345\n")
    assert (load.one, load.five, load.fifteen) == (0.52, 0.58, 0.59)
    assert (load.runnable, load.total_tasks) == (1, 389)


# -- df -------------------------------------------------------------------------------


def test_df_human_with_wrapped_name_and_spaces_in_mount() -> None:
    disks = parse_df(DF_H)
    assert [disk.mount for disk in disks] == [
        "/",
        "/dev/shm",
        "/var/lib/docker",
        "/media/backup disk",
    ]
    assert disks[0] == DiskUsage("/dev/sda1", "20G", "5.2G", "14G", 28.0, "/")
    wrapped = disks[2]
    assert wrapped.filesystem == "/dev/mapper/vg0-very-long-logical-volume-name-for-postgresql"
    assert (wrapped.size, wrapped.use_percent) == ("98G", 88.0)


def test_df_posix_blocks() -> None:
    disks = parse_df(DF_P)
    assert disks[0] == DiskUsage("/dev/sda1", "20509264", "5420000", "14024000", 28.0, "/")
    assert disks[1].mount == "/var/lib/docker/overlay2/abc/merged"


def test_df_skips_capacityless_rows_and_stderr_warnings() -> None:
    text = (
        "Filesystem Size Used Avail Use% Mounted on\n"
        "df: /run/user/1000/doc: Operation not permitted\n"
        "proc 0 0 0 - /proc\n"
        "/dev/sda1 20G 5G 15G 25% /\n"
    )
    assert [disk.mount for disk in parse_df(text)] == ["/"]


# -- docker ps ----------------------------------------------------------------------------


def test_docker_ps_kamal_container() -> None:
    [web] = parse_docker_ps_json(json.dumps(KAMAL_WEB) + "\n")
    assert (web.service, web.role, web.destination) == (
        "shiojiri-rainbow-seeker",
        "web",
        "production",
    )
    assert web.version == "8f3c2d1e"
    assert web.labels["org.opencontainers.image.source"] == "https://example.test/x?a=b"
    assert (web.id, web.state, web.name) == ("3f2a1b0c9d8e", "running", web.names)


def test_docker_ps_accessory_and_proxy_take_the_image_tag() -> None:
    proxy = {"ID": "aa", "Image": "basecamp/kamal-proxy:v0.8.4", "Names": "kamal-proxy",
             "Labels": "", "State": "running", "Status": "Up 3 days"}
    db = {"ID": "bb", "Image": "postgis/postgis:16-3.4", "Names": "shiojiri-rainbow-seeker-db",
          "Labels": "service=shiojiri-rainbow-seeker-db", "State": "running", "Status": "Up"}
    digest = {"ID": "cc", "Image": "registry:5000/app@sha256:abcd", "Names": "x"}
    text = "\n".join(json.dumps(item) for item in (proxy, db, digest))
    containers = parse_docker_ps_json(text)
    assert [c.version for c in containers] == ["v0.8.4", "16-3.4", None]
    assert containers[1].service == "shiojiri-rainbow-seeker-db"
    assert containers[1].role is None


def test_docker_ps_bad_lines_are_skipped_and_counted() -> None:
    text = "\n".join(["{not json", json.dumps(KAMAL_WEB), "[1, 2]", '{"ID": 5}', ""])
    containers = parse_docker_ps_json(text)
    assert len(containers) == 1
    assert containers.skipped_lines == 3
    assert parse_docker_ps_json("").skipped_lines == 0
    assert parse_docker_ps_json("") == []


def test_labels_with_equals_and_commas_in_values() -> None:
    assert parse_labels("a=1,b=x=y,c=p,q,d=") == {"a": "1", "b": "x=y", "c": "p,q", "d": ""}
    assert parse_labels("") == {}


# -- never anything but HostParseError ------------------------------------------------

parsers = [
    parse_meminfo,
    parse_free_m,
    parse_proc_stat,
    parse_loadavg,
    parse_df,
    parse_docker_ps_json,
]
host_text = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(
            [
                "MemTotal:", "MemAvailable:", "MemFree:", " kB", "Mem:", "total", "free",
                "available", "cpu", "cpu ", "Filesystem", "\n", " ", "  ", "%", "-", "/",
                "{", "}", '"ID"', ":", ",", '"Labels"', "=", "1", "0", "99", "1.5G",
                "99999999999999999999", "٣", "\u3000", "9" * 4400,
            ]
        )
        | st.text(max_size=4)
    ).map("".join),
)


@pytest.mark.parametrize("parser", parsers, ids=lambda parser: parser.__name__)
@given(text=host_text)
def test_arbitrary_text_raises_nothing_but_host_parse_error(
    parser: Callable[[str], object], text: str
) -> None:
    with contextlib.suppress(HostParseError):
        parser(text)


# -- round trips ------------------------------------------------------------------------

kilobytes = st.integers(min_value=1, max_value=2**40)


@given(kilobytes, st.data(), st.booleans())
def test_meminfo_round_trip(total: int, data: st.DataObject, modern: bool) -> None:
    available = data.draw(st.integers(min_value=0, max_value=total))
    if modern:
        text = f"MemTotal: {total:>15} kB\nMemFree: 1 kB\nMemAvailable: {available:>11} kB\n"
    else:
        free = data.draw(st.integers(min_value=0, max_value=available))
        cached = data.draw(st.integers(min_value=0, max_value=available - free))
        buffers = available - free - cached
        text = (
            f"MemTotal: {total} kB\nMemFree: {free} kB\n"
            f"Buffers: {buffers} kB\nCached: {cached} kB\n"
        )
    memory = parse_meminfo(text)
    assert (memory.total_kb, memory.available_kb) == (total, available)
    assert 0.0 <= memory.used_percent <= 100.0


@given(st.integers(min_value=1, max_value=2**30), st.data())
def test_free_m_round_trip(total: int, data: st.DataObject) -> None:
    available = data.draw(st.integers(min_value=0, max_value=total))
    text = (
        "               total        used        free      shared  buff/cache   available\n"
        f"Mem:    {total:>11} {total - available:>11} {available // 2:>11} 0 "
        f"{available - available // 2:>11} {available:>11}\n"
        "Swap:              0           0           0\n"
    )
    memory = parse_free_m(text)
    assert (memory.total_kb, memory.available_kb) == (total * 1024, available * 1024)


counters = st.integers(min_value=0, max_value=2**63)


@given(st.lists(counters, min_size=8, max_size=8), st.lists(counters, min_size=8, max_size=8))
def test_proc_stat_round_trip_and_cpu_percent_range(
    first: list[int], increments: list[int]
) -> None:
    text = "cpu  " + " ".join(map(str, first)) + " 0 0\ncpu0 1 2 3 4\n"
    before = parse_proc_stat(text)
    assert before == CpuTimes(*first)
    after = CpuTimes(*(a + b for a, b in zip(first, increments, strict=True)))
    share = cpu_percent(before, after)
    if sum(increments) == 0:
        assert share is None
    else:
        assert share is not None and 0.0 <= share <= 100.0


loads = st.decimals(min_value=0, max_value=9999, places=2).map(str)


@given(loads, loads, loads, st.integers(0, 10**5), st.integers(0, 10**6))
def test_loadavg_round_trip(one: str, five: str, fifteen: str, running: int, total: int) -> None:
    load = parse_loadavg(f"{one} {five} {fifteen} {running}/{total} 4242\n")
    assert (load.one, load.five, load.fifteen) == (float(one), float(five), float(fifteen))
    assert (load.runnable, load.total_tasks) == (running, total)


filesystems = st.from_regex(r"/dev/[a-z0-9/_.-]{1,60}|tmpfs|overlay|//nas/share", fullmatch=True)
mounts = st.from_regex(r"/([A-Za-z0-9_.-]+( [A-Za-z0-9_.-]+)?/?){0,4}", fullmatch=True)
human_sizes = st.from_regex(r"0|[1-9][0-9]{0,3}(\.[0-9])?[KMGTP]", fullmatch=True)
block_sizes = st.integers(min_value=0, max_value=10**15).map(str)
percents = st.integers(min_value=0, max_value=100)


@given(
    st.lists(
        st.tuples(filesystems, human_sizes | block_sizes, human_sizes | block_sizes,
                  human_sizes | block_sizes, percents, mounts),
        max_size=8,
    ),
    st.booleans(),
)
def test_df_round_trip(
    rows: list[tuple[str, str, str, str, int, str]], wrap_long_names: bool
) -> None:
    lines = ["Filesystem      Size  Used Avail Use% Mounted on"]
    for filesystem, size, used, avail, percent, mount in rows:
        cells = f"{size:>6} {used:>6} {avail:>6} {percent:>3}% {mount}"
        if wrap_long_names and len(filesystem) > 15:
            lines += [filesystem, " " * 16 + cells]
        else:
            lines.append(f"{filesystem:<15} {cells}")
    disks = parse_df("\n".join(lines) + "\n")
    assert disks == [
        DiskUsage(filesystem, size, used, avail, float(percent), mount)
        for filesystem, size, used, avail, percent, mount in rows
    ]


label_keys = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
label_values = st.from_regex(r"[A-Za-z0-9=:/._-]{0,16}", fullmatch=True)
slugs = st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)
versions = st.from_regex(r"[0-9a-f]{7,40}(_uncommitted_[0-9a-f]{16})?", fullmatch=True)


@given(
    st.lists(
        st.tuples(
            slugs,
            st.sampled_from(["web", "job", "worker"]),
            st.none() | st.sampled_from(["production", "staging"]),
            versions,
            st.dictionaries(label_keys, label_values, max_size=4),
        ),
        max_size=6,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_docker_ps_round_trip(
    containers: list[tuple[str, str, str | None, str, dict[str, str]]], bad_lines: int
) -> None:
    lines = ["garbage {"] * bad_lines
    expected = []
    for index, (service, role, destination, version, extra) in enumerate(containers):
        labels = {**extra, "service": service, "role": role}
        if destination:
            labels["destination"] = destination
        name = "-".join(part for part in (service, role, destination, version) if part)
        lines.append(
            json.dumps(
                {
                    "ID": f"{index:012x}",
                    "Image": f"ghcr.io/shiojiri/{service}:{version}",
                    "Names": name,
                    "Labels": ",".join(f"{key}={value}" for key, value in labels.items()),
                    "State": "running",
                    "Status": "Up 5 minutes",
                }
            )
        )
        expected.append((service, role, destination, version, labels))
    if bad_lines and not containers:
        with pytest.raises(HostParseError):
            parse_docker_ps_json("\n".join(lines))
        return
    parsed = parse_docker_ps_json("\n".join(lines))
    assert parsed.skipped_lines == bad_lines
    assert [
        (c.service, c.role, c.destination, c.version, dict(c.labels)) for c in parsed
    ] == expected
