"""Which containers are ours, as Kamal 2 picks them; docker's inspect and stats output;
crash loops and container memory judged; the DB data disk from the accessory's
directories.  Pure logic: the expectations are transcribed from basecamp/kamal v2.12.0
(test/commands/app_test.rb, test/commands/accessory_test.rb,
test/configuration/accessory_test.rb) and docker's own output formats."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.config import parse_config
from rainbow_tui.findings import evaluate
from rainbow_tui.levels import Level
from rainbow_tui.sources.host_parsing import (
    INSPECT_FORMAT,
    ContainerInfo,
    DiskUsage,
    HostParseError,
    parse_byte_size,
    parse_docker_inspect,
    parse_docker_stats_json,
)
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.kamal_containers import (
    KamalLayout,
    accessory,
    current_container,
    data_disk,
    data_path,
    layout_from_config,
    pick,
)
from rainbow_tui.sources.service_sources import Readings

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
CONFIG = parse_config(
    '[service]\nkamal_service = "app"\nhealth_url = "http://127.0.0.1/up"\n'
    '[[hosts]]\nname = "app-1"\naddress = "127.0.0.1"\nroles = ["web", "workers"]\n',
    "test.toml",
)


def _inspect_line(
    name: str,
    labels: dict[str, str] | None,
    status: str = "running",
    image_id: str = "sha256:" + "a" * 64,
    created: str = "2026-11-28T01:00:00.000000000Z",
    restarts: int = 0,
    exit_code: int = 0,
    oom: bool = False,
    started: str = "2026-11-28T01:00:01.5Z",
    memory: int = 0,
) -> str:
    """One line as ``docker inspect --format INSPECT_FORMAT`` prints it."""
    state = {
        "Status": status, "Running": status in ("running", "restarting"), "Paused": False,
        "Restarting": status == "restarting", "OOMKilled": oom, "Dead": False, "Pid": 0,
        "ExitCode": exit_code, "Error": "", "StartedAt": started,
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    return json.dumps({
        "Id": (name.encode().hex() * 8)[:64], "Name": "/" + name, "Created": created,
        "Image": image_id, "ConfigImage": f"dhh/app:{name.rsplit('-', 1)[-1]}",
        "Labels": labels, "State": state, "RestartCount": restarts, "Memory": memory,
    })


def _app(role: str, version: str, destination: str = "", **kwargs: object) -> str:
    prefix = "-".join(["app", role, *([destination] if destination else [])])
    labels = {"service": "app", "role": role, "destination": destination}
    return _inspect_line(f"{prefix}-{version}", labels, **kwargs)  # type: ignore[arg-type]


def test_container_filters_are_kamals() -> None:
    # app_test.rb "current_running_container_id" and "... with destination".
    assert KamalLayout("app").filter_args("web") == (
        "--filter label=service=app --filter label=destination= --filter label=role=web "
        "--filter status=running --filter status=restarting"
    )
    staging = KamalLayout("app", "staging")
    assert staging.filter_args("web") == (
        "--filter label=service=app --filter label=destination=staging "
        "--filter label=role=web --filter status=running --filter status=restarting"
    )
    assert (KamalLayout("app").latest_tag, staging.latest_tag) == ("latest", "latest-staging")
    assert staging.container_prefix("web") == "app-web-staging"  # "app-web-staging-999"


def test_current_container_prefers_the_latest_image_and_never_mixes_destinations() -> None:
    containers = parse_docker_inspect("\n".join([
        _app("web", "new", created="2026-11-28T02:00:00Z", image_id="sha256:" + "b" * 64),
        _app("web", "old", created="2026-11-28T01:00:00Z", image_id="sha256:" + "a" * 64),
        _app("web", "stg", "staging", created="2026-11-28T03:00:00Z",
             image_id="sha256:" + "c" * 64),
        _app("web", "gone", status="exited", created="2026-11-28T04:00:00Z"),
    ]))
    production = KamalLayout("app")
    # The image tagged latest (docker image ls prints its short ID) wins over newer ones.
    chosen = current_container(containers, production, "web", ["aaaaaaaaaaaa"])
    assert chosen is not None and chosen.name == "app-web-old"
    # Without a latest-tagged image, the newest active container of this destination.
    chosen = current_container(containers, production, "web")
    assert chosen is not None and chosen.name == "app-web-new"
    chosen = current_container(containers, KamalLayout("app", "staging"), "web")
    assert chosen is not None and chosen.name == "app-web-staging-stg"


def test_a_restarting_container_is_kamals_current_one() -> None:
    containers = parse_docker_inspect(_app("web", "v1", status="restarting", restarts=7,
                                           exit_code=1))
    chosen = current_container(containers, KamalLayout("app"), "web")
    assert chosen is not None and chosen.state == "restarting"
    assert (chosen.restart_count, chosen.exit_code) == (7, 1)


def test_accessories_by_their_container_name() -> None:
    # accessory_test.rb: "app-mysql", and "custom-busybox" through the service: key.
    layout = KamalLayout("app", accessories=(
        accessory("app", "mysql"), accessory("app", "busybox", service_override="custom-busybox"),
    ))
    containers = parse_docker_inspect("\n".join([
        _inspect_line("app-mysql", {"service": "app-mysql"}),
        _inspect_line("custom-busybox", {"service": "custom-busybox"}),
        _inspect_line("kamal-proxy", None),
    ]))
    assert [pick(containers, layout, role).name for role in ("mysql", "busybox", "proxy")] == [  # type: ignore[union-attr]
        "app-mysql", "custom-busybox", "kamal-proxy"]


def test_accessory_directories_expand_as_kamal_does() -> None:
    # configuration/accessory_test.rb: "data:/var/lib/mysql" is "$PWD/app-mysql/data".
    relative = accessory("app", "mysql", directories=["data:/var/lib/mysql:z"]).host_directories()
    assert relative[0].path == "app-mysql/data" and relative[0].container_path == "/var/lib/mysql"
    assert relative[0].shell_word() == '"$PWD"/app-mysql/data'
    assert relative[0].absolute("/home/deploy") == "/home/deploy/app-mysql/data"
    absolute = accessory("app", "mysql", directories=["/var/data/mysql:/var/lib/mysql"])
    assert absolute.host_directories()[0].absolute("/root") == "/var/data/mysql"


def test_data_disk_is_the_longest_mount_prefix_of_the_host_path() -> None:
    def disk(mount: str) -> DiskUsage:
        return DiskUsage("/dev/x", "10G", "5G", "5G", 50.0, mount)

    disks = [disk("/"), disk("/home"), disk("/home/deploy/app-db"), disk("/home/deploy/app-d")]
    found = data_disk(disks, "/home/deploy/app-db/data")
    assert found is not None and found.mount == "/home/deploy/app-db"
    found = data_disk(disks, "/srv/pg")
    assert found is not None and found.mount == "/"


def test_data_path_from_the_db_accessory_with_data_volume_as_override() -> None:
    db = accessory("app", "db", hosts=["db-1"],
                   directories=["config:/etc/postgresql", "data:/var/lib/postgresql/data"])
    layout = KamalLayout("app", accessories=(db,))
    config = parse_config(
        '[service]\nkamal_service = "app"\nhealth_url = "http://x/up"\n'
        '[[hosts]]\nname = "db-1"\naddress = "h"\nroles = ["db"]\n', "t.toml")
    path = data_path(config, layout, "db-1")
    assert path is not None and path.absolute("/root") == "/root/app-db/data"
    assert data_path(config, layout, "app-1") is None
    overridden = parse_config(
        '[service]\nkamal_service = "app"\nhealth_url = "http://x/up"\n'
        '[[hosts]]\nname = "db-1"\naddress = "h"\nroles = ["db"]\n'
        '[database]\nhost = "db-1"\ndata_volume = "/mnt/pg"\n', "t.toml")
    path = data_path(overridden, layout, "db-1")
    assert path is not None and path.absolute("/root") == "/mnt/pg"


def _host(*lines: str, stats: str = "", roles: tuple[str, ...] = ("web", "workers"),
          layout: KamalLayout | None = None) -> HostSnapshot:
    containers = tuple(parse_docker_inspect("\n".join(lines))) if lines else ()
    rows = {row.id[:12]: row for row in parse_docker_stats_json(stats)} if stats else {}
    return HostSnapshot(T0, "app-1", roles, memory_percent=50.0, cpu_percent=10.0,
                        containers=containers, stats=rows, layout=layout)


def _findings(host: HostSnapshot) -> dict[str, tuple[Level, str, str | None, str]]:
    return {
        f.key: (f.level, f.display, f.severity, f.reason)
        for f in evaluate(CONFIG, Readings(hosts=(host,)))
    }


def test_crash_loop_is_critical_with_restart_count_and_exit_code() -> None:
    host = _host(_app("web", "v1", status="restarting", restarts=12, exit_code=1, oom=True),
                 _app("workers", "v1", restarts=1, started=(T0 - timedelta(seconds=20))
                      .strftime("%Y-%m-%dT%H:%M:%S.123456789Z")))
    found = _findings(host)
    level, display, severity, reason = found["host app-1:container:web"]
    assert (level, severity) == (Level.CRITICAL, "critical")
    assert display == "restarting ×12, exit 1, OOMKilled"
    assert "restarted 12 times" in reason and "exit code 1" in reason
    # Any role name; running but restarted seconds ago: a warning the first time.
    level, display, severity, _ = found["host app-1:container:workers"]
    assert (level, severity) == (Level.WARNING, "high") and "restarted ×1" in display
    # Up again for a moment between two of many crashes: still the loop, no flapping.
    between = _host(_app("web", "v1", restarts=5, started=(T0 - timedelta(seconds=1))
                         .strftime("%Y-%m-%dT%H:%M:%S.5Z")))
    level, display, severity, _ = _findings(between)["host app-1:container:web"]
    assert (level, severity) == (Level.CRITICAL, "critical")
    assert display.startswith("crash-looping ×5")


def test_staging_containers_do_not_stand_in_for_production() -> None:
    found = _findings(_host(_app("web", "stg", "staging"), _app("workers", "v1")))
    assert found["host app-1:container:web"][:2] == (Level.CRITICAL, "not running")
    assert found["host app-1:container:workers"][:2] == (Level.NORMAL, "running v1")


def test_solid_queue_in_puma_expects_no_job_container() -> None:
    layout = KamalLayout("app", jobs_in_puma=True)
    found = _findings(_host(_app("web", "v1"), roles=("web", "job"), layout=layout))
    assert "host app-1:container:job" not in found
    assert found["host app-1:container:web"][:2] == (Level.NORMAL, "running v1 + jobs (Puma)")


def test_container_near_its_memory_limit_alerts() -> None:
    web = _app("web", "v1", memory=2 * 1024**3)
    container_id = parse_docker_inspect(web)[0].id
    stats = json.dumps({
        "BlockIO": "0B / 0B", "CPUPerc": "143.20%", "Container": container_id[:12],
        "ID": container_id[:12], "MemPerc": "92.31%", "MemUsage": "1.846GiB / 2GiB",
        "Name": "app-web-v1", "NetIO": "1.2MB / 3.4MB", "PIDs": "14",
    })
    found = _findings(_host(web, stats=stats, roles=("web",)))
    level, display, severity, reason = found["host app-1:container_memory:web"]
    assert (level, severity) == (Level.CRITICAL, "medium")
    assert display == "92.3 %, CPU 143 %"
    assert "memory limit" in reason and "(1.8 GiB of 2.0 GiB)" in reason


def test_layout_from_config_takes_roles_from_the_hosts() -> None:
    assert layout_from_config(CONFIG).app_roles(("web", "workers")) == ("web", "workers")
    # A host role "db" is the database accessory (<service>-db), not a Kamal role.
    with_db = layout_from_config(CONFIG, ["db"])
    assert with_db.app_roles(("web", "db")) == ("web",)
    assert with_db.accessory("db") is not None and with_db.accessory("db").container == "app-db"  # type: ignore[union-attr]


# -- docker stats: property tests ---------------------------------------------------------


def _bytes_size(value: float) -> str:
    """docker's units.BytesSize ("%.4g" in powers of 1024)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.4g}{unit}"
        value /= 1024
    raise AssertionError


@given(
    used=st.integers(0, 2**42), limit=st.integers(1, 2**42),
    cpu=st.floats(0, 6400, allow_nan=False), running=st.booleans(),
    name=st.text(min_size=1, max_size=40),
)
def test_docker_stats_round_trip(used: int, limit: int, cpu: float, running: bool,
                                 name: str) -> None:
    row: dict[str, str] = {"ID": "0123456789ab", "Name": name, "Container": "0123456789ab"}
    if running:
        row |= {"CPUPerc": f"{cpu:.2f}%", "MemPerc": f"{used / limit * 100:.2f}%",
                "MemUsage": f"{_bytes_size(used)} / {_bytes_size(limit)}", "PIDs": "7",
                "NetIO": "0B / 0B", "BlockIO": "0B / 0B"}
    else:  # the docker CLI's placeholders for a container that is not running
        row |= {"CPUPerc": "--", "MemPerc": "--", "MemUsage": "-- / --", "PIDs": "--",
                "NetIO": "-- / --", "BlockIO": "-- / --"}
    (parsed,) = parse_docker_stats_json(json.dumps(row))
    assert parsed.name == name and parsed.id == "0123456789ab"
    if running:
        assert parsed.cpu_percent is not None and abs(parsed.cpu_percent - cpu) <= 0.005
        assert parsed.memory_used is not None and parsed.memory_limit is not None
        assert abs(parsed.memory_used - used) <= max(1, used * 1e-3)
        assert abs(parsed.memory_limit - limit) <= max(1, limit * 1e-3)
        assert parsed.pids == 7
    else:
        assert (parsed.cpu_percent, parsed.memory_percent, parsed.memory_used) == (None,) * 3


@given(st.text(max_size=300))
def test_arbitrary_text_raises_nothing_but_host_parse_error(text: str) -> None:
    for parse in (parse_docker_stats_json, parse_docker_inspect, parse_byte_size):
        with contextlib.suppress(HostParseError):
            parse(text)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
))
def test_any_json_line_is_read_or_skipped(document: object) -> None:
    line = json.dumps(document)
    for parse in (parse_docker_stats_json, parse_docker_inspect):
        with contextlib.suppress(HostParseError):
            parse(line)


def test_inspect_format_asks_for_the_crash_loop_evidence() -> None:
    for field in (".RestartCount", ".State", ".Config.Labels", ".Image", ".HostConfig.Memory"):
        assert field in INSPECT_FORMAT
    info: ContainerInfo = parse_docker_inspect(_app("web", "v1"))[0]
    assert info.version == "v1" and info.destination is None and info.labels["destination"] == ""
