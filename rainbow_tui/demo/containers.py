"""The Kamal deployment as Docker would show it: versions and containers per host.

Names and labels follow Kamal 2: app containers are
``<service>-<role>-<version>`` labelled ``service``, ``role`` and ``destination``; the
accessory is ``<service>-db``; each app host runs ``kamal-proxy``.  Booting a version
replaces the running app containers (the old ones are renamed ``…_replaced_<hex>``
and stop), so ``docker ps -a`` keeps older versions around as rollback targets.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

SERVICE = "shiojiri-rainbow-seeker"
IMAGE_REPOSITORY = f"registry.example/{SERVICE}"
DB_ACCESSORY = f"{SERVICE}-db"
STAGING = "staging"
PROXY_CONTAINER = "kamal-proxy"
PROXY_IMAGE = "basecamp/kamal-proxy:v0.8.7"
DB_IMAGE = "postgis/postgis:16-3.4"

WEB_COMMAND = "/rails/bin/docker-entrypoint ./bin/thrust ./bin/rails server"
JOB_COMMAND = "/rails/bin/docker-entrypoint bin/jobs"
PROXY_COMMAND = "kamal-proxy run"
DB_COMMAND = "docker-entrypoint.sh postgres"


@dataclass(frozen=True)
class HostSpec:
    name: str
    roles: tuple[str, ...]

    @property
    def is_app_host(self) -> bool:
        return "web" in self.roles or "job" in self.roles


@dataclass
class Container:
    id: str  # 64 hex digits, as docker keeps it
    name: str
    image: str
    command: str
    kind: str  # "web", "job", "proxy" or "db": which log generator it gets
    host: str
    labels: dict[str, str]
    ports: str
    created_at: float
    version: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    # Docker's restart policy is between two runs (moby's State.Restarting).
    restarting: bool = False
    restart_count: int = 0
    oom_killed: bool = False
    # Set by the crash-loop drill: every start fails at boot.
    crash_looping: bool = False

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.finished_at is None

    @property
    def active(self) -> bool:
        """What ``docker ps`` lists without ``--all``: running or restarting."""
        return self.running or self.restarting

    @property
    def destination(self) -> str:
        """Kamal's ``destination`` label: empty for production, "staging" …"""
        return self.labels.get("destination", "")

    @property
    def memory_limit(self) -> int:
        """``HostConfig.Memory`` in bytes: the app roles run with ``options: memory: 2g``."""
        return 2 * 1024**3 if self.kind in ("web", "job") else 0

    @property
    def state(self) -> str:
        if self.restarting:
            return "restarting"
        return "running" if self.running else "exited"

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def status(self, now: float) -> str:
        if self.restarting:
            finished = self.finished_at if self.finished_at is not None else now
            return f"Restarting ({self.exit_code}) {human_duration(now - finished)} ago"
        if self.running:
            assert self.started_at is not None
            return f"Up {human_duration(now - self.started_at)}"
        finished = self.finished_at if self.finished_at is not None else self.created_at
        return f"Exited ({self.exit_code}) {human_duration(now - finished)} ago"

    def ps_fields(self, now: float, truncate: bool = True) -> dict[str, str]:
        """The fields ``docker ps --format '{{json .}}'`` prints, with docker's key names."""
        command = f'"{ellipsize(self.command, 20) if truncate else self.command}"'
        created = datetime.fromtimestamp(self.created_at, UTC)
        return {
            "Command": command,
            "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
            "ID": self.short_id if truncate else self.id,
            "Image": self.image,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(self.labels.items())),
            "LocalVolumes": "1" if self.kind == "db" else "0",
            "Mounts": "shiojiri-rai…" if self.kind == "db" else "",
            "Names": self.name,
            "Networks": "kamal",
            "Ports": self.ports if self.running else "",
            "RunningFor": f"{human_duration(now - self.created_at)} ago",
            "Size": "0B",
            "State": self.state,
            "Status": self.status(now),
        }


def ellipsize(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def human_duration(seconds: float) -> str:
    """Docker's ``units.HumanDuration`` wording ("About a minute", "3 hours", …)."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


ContainerListener = Callable[[Container], None]


@dataclass
class Deployment:
    """Every host's containers, the app's versions, and what booting/stopping does."""

    hosts: tuple[HostSpec, ...]
    rng: random.Random
    versions: list[str] = field(default_factory=list)  # oldest first; last is newest
    current_version: str = ""
    containers: dict[str, list[Container]] = field(default_factory=dict)
    started: list[ContainerListener] = field(default_factory=list)
    stopped: list[ContainerListener] = field(default_factory=list)
    # The staging destination's version, run beside production on the same hosts.
    staging_version: str = ""

    @classmethod
    def initial(cls, hosts: tuple[HostSpec, ...], rng: random.Random) -> Deployment:
        deployment = cls(hosts=hosts, rng=rng)
        deployment.versions = [deployment._hex(40) for _ in range(3)]
        deployment.current_version = deployment.versions[-1]
        now = time.time()
        for host in hosts:
            deployment.containers[host.name] = []
            if host.is_app_host:
                deployment._add(host, "proxy", None, created=now - 12 * 86400, running=True)
                # Two earlier deploys, stopped: what ``kamal rollback`` can go back to.
                for age_days, version in ((9.0, deployment.versions[0]),
                                          (3.0, deployment.versions[1])):
                    for role in deployment._app_roles(host):
                        deployment._add(host, role, version, created=now - age_days * 86400,
                                        running=False, finished=now - (age_days - 2.9) * 86400)
                for role in deployment._app_roles(host):
                    deployment._add(host, role, deployment.current_version,
                                    created=now - 2.2 * 3600, running=True)
            if "db" in host.roles:
                deployment._add(host, "db", None, created=now - 31 * 86400, running=True)
        deployment.staging_version = deployment._hex(40)
        for host in hosts:
            for role in deployment._app_roles(host):
                deployment._add_staging(host, role, created=now - 5.5 * 3600)
        return deployment

    def _add_staging(self, host: HostSpec, kind: str, created: float) -> Container:
        """``kamal deploy -d staging`` on the same hosts: ``<service>-<role>-staging-<v>``,
        labelled ``destination=staging`` (role.rb#container_prefix, #default_labels)."""
        version = self.staging_version
        container = self._app_container(
            host, kind, f"{SERVICE}-{kind}-{STAGING}-{version}", version, STAGING, created
        )
        self.containers[host.name].append(container)
        container.started_at = created + 1.5
        for listener in self.started:
            listener(container)
        return container

    def _app_container(
        self, host: HostSpec, kind: str, name: str, tag: str, destination: str, created: float
    ) -> Container:
        """A web or job container of the app image ``tag``, labelled as Kamal labels
        it (role.rb#default_labels: service, role, destination)."""
        return Container(
            id=self._hex(64),
            name=name,
            image=f"{IMAGE_REPOSITORY}:{tag}",
            command=WEB_COMMAND if kind == "web" else JOB_COMMAND,
            kind=kind,
            host=host.name,
            labels={"service": SERVICE, "role": kind, "destination": destination},
            ports="80/tcp" if kind == "web" else "",
            created_at=created,
            version=tag,
        )

    def _hex(self, digits: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(digits))

    @staticmethod
    def _app_roles(host: HostSpec) -> list[str]:
        return [role for role in ("web", "job") if role in host.roles]

    def _add(
        self,
        host: HostSpec,
        kind: str,
        version: str | None,
        created: float,
        running: bool,
        finished: float | None = None,
        tag: str | None = None,
    ) -> Container:
        if kind in ("web", "job"):
            assert version is not None
            # Run as ``tag`` (``latest``): Docker names and lists it so; Kamal reads
            # the version from the name.
            tag = tag or version
            container = self._app_container(host, kind, f"{SERVICE}-{kind}-{tag}", tag, "", created)
        elif kind == "proxy":
            container = Container(
                id=self._hex(64), name=PROXY_CONTAINER, image=PROXY_IMAGE,
                command=PROXY_COMMAND, kind="proxy", host=host.name, labels={},
                ports="0.0.0.0:80->80/tcp, [::]:80->80/tcp, 0.0.0.0:443->443/tcp, "
                      "[::]:443->443/tcp",
                created_at=created,
            )
        else:
            container = Container(
                id=self._hex(64), name=DB_ACCESSORY, image=DB_IMAGE, command=DB_COMMAND,
                kind="db", host=host.name, labels={"service": DB_ACCESSORY},
                ports="127.0.0.1:5432->5432/tcp", created_at=created,
            )
        self.containers[host.name].append(container)
        if running:
            container.started_at = created + 1.5
            for listener in self.started:
                listener(container)
        else:
            container.started_at = created + 1.5
            container.finished_at = finished if finished is not None else created + 60
        return container

    def announce_running(self) -> None:
        """Tell listeners registered after creation about the containers already up."""
        for container in self.all_containers():
            if container.running:
                for listener in self.started:
                    listener(container)

    def all_containers(self) -> list[Container]:
        return [c for containers in self.containers.values() for c in containers]

    def host(self, name: str) -> HostSpec:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    @property
    def app_hosts(self) -> tuple[HostSpec, ...]:
        return tuple(h for h in self.hosts if h.is_app_host)

    @property
    def db_host(self) -> HostSpec:
        return next(h for h in self.hosts if "db" in h.roles)

    @property
    def app_running(self) -> bool:
        return any(
            c.running for c in self.all_containers()
            if c.kind in ("web", "job") and not c.destination
        )

    def find(self, host: str, name_or_id: str) -> Container | None:
        """Docker's lookup: exact name, full id, or a unique id prefix."""
        candidates = self.containers.get(host, [])
        for container in candidates:
            if name_or_id in (container.name, container.id):
                return container
        if len(name_or_id) >= 1:
            matches = [c for c in candidates if c.id.startswith(name_or_id)]
            if len(matches) == 1:
                return matches[0]
        return None

    def running_container(self, host: str, kind: str) -> Container | None:
        for container in reversed(self.containers.get(host, [])):
            if container.kind == kind and container.running and not container.destination:
                return container
        return None

    def _stop(self, container: Container, exit_code: int = 0) -> None:
        if not container.active:
            return
        if container.restarting:  # docker stop of a restarting container: it stays down
            container.restarting = False
            return
        container.finished_at = time.time()
        container.exit_code = exit_code
        for listener in self.stopped:
            listener(container)

    def has_version(self, version: str) -> bool:
        return any(c.version == version for c in self.all_containers())

    def boot(self, version: str | None = None) -> list[Container]:
        """Start fresh app containers of ``version``; None is ``kamal app boot``
        without ``--version``: the image tagged ``latest`` (the version booted last),
        in containers named ``<service>-<role>-latest`` (cli/app.rb#version_or_latest).

        As Kamal 2 does, a container already holding the name is renamed
        ``<name>_replaced_<hex>`` and stopped once the new one is up.
        """
        tag = version or "latest"
        version = version or self.current_version
        if version not in self.versions:
            self.versions.append(version)
        now = time.time()
        new_containers: list[Container] = []
        for host in self.app_hosts:
            for role in self._app_roles(host):
                name = f"{SERVICE}-{role}-{tag}"
                previous_same_name = [c for c in self.containers[host.name] if c.name == name]
                running_old = [
                    c for c in self.containers[host.name]
                    if c.kind == role and c.active and not c.destination
                ]
                for old in previous_same_name:
                    old.name = f"{name}_replaced_{self._hex(16)}"
                new_containers.append(self._add(host, role, version, created=now - 1.5,
                                                running=True, tag=tag))
                for old in running_old:
                    self._stop(old)
        self.current_version = version
        return new_containers

    def stop_app(self) -> list[Container]:
        stopped = [
            c for c in self.all_containers()
            if c.kind in ("web", "job") and c.active and not c.destination
        ]
        for container in stopped:
            self._stop(container)
        return stopped

    def crash(self, container: Container, exit_code: int = 1) -> None:
        """The container's process exited; its restart policy will start it again."""
        if not container.running:
            return
        container.finished_at = time.time()
        container.exit_code = exit_code
        container.restarting = True
        for listener in self.stopped:
            listener(container)

    def restart(self, container: Container) -> None:
        """Docker's restart policy starts it again (``RestartCount`` + 1)."""
        if not container.restarting:
            return
        container.restarting = False
        container.restart_count += 1
        container.started_at = time.time()
        container.finished_at = None
        container.exit_code = 0
        container.oom_killed = False
        for listener in self.started:
            listener(container)

    def reboot_accessory(self) -> Container:
        """``kamal accessory reboot db``: stop and remove the container, run a new one."""
        host = self.db_host
        for container in list(self.containers[host.name]):
            if container.kind == "db":
                self._stop(container)
                self.containers[host.name].remove(container)
        return self._add(host, "db", None, created=time.time() - 0.5, running=True)
