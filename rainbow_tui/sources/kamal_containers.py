"""Which containers are the service's, picked the way Kamal 2 picks them.

Transcribed from basecamp/kamal v2.12.0:

* ``lib/kamal/commands/app.rb``: ``container_filters`` are ``label=service=S``,
  ``label=destination=D`` (``D`` empty when there is no destination) and
  ``label=role=R``; ``current_running_container`` adds ``status=running`` *and*
  ``status=restarting`` and prefers the newest container of the image tagged
  ``latest`` (``latest-<destination>``, ``configuration.rb#latest_tag``) before
  the newest of any image;
* ``lib/kamal/configuration/role.rb``: ``container_prefix`` is
  ``<service>-<role>[-<destination>]``, labels ``service``, ``role``, ``destination``;
* ``lib/kamal/configuration/accessory.rb``: an accessory's container is named
  ``<service>-<name>`` unless its ``service:`` key says otherwise, and a relative
  host path of ``directories`` lives under ``$PWD/<container name>/``;
* railties' ``config/deploy.yml.tt`` and ``puma.rb.tt`` (Rails 8):
  ``SOLID_QUEUE_IN_PUMA`` runs Solid Queue inside the web role's Puma, so there is
  no job role to look for.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rainbow_tui.config import Config
from rainbow_tui.sources.host_parsing import ContainerInfo, DiskUsage
from rainbow_tui.ssh import shell_word

ACTIVE_STATUSES = ("running", "restarting")
PROXY_NAMES = ("kamal-proxy", "traefik")
JOB_ROLE = "job"
# Where PostgreSQL images keep their data: the directory that is the DB data disk.
POSTGRES_DATA_PREFIX = "/var/lib/postgresql"


@dataclass(frozen=True, slots=True)
class AccessoryLayout:
    """One accessory of ``config/deploy.yml``."""

    name: str  # "db"
    container: str  # ``service:`` override, else "<service>-<name>"
    hosts: tuple[str, ...] = ()
    # As written in deploy.yml: "data:/var/lib/postgresql/data[:options]".
    directories: tuple[str, ...] = ()
    # False when only guessed from a host role: then a missing container is no finding.
    expected: bool = True

    def host_directories(self) -> tuple[HostPath, ...]:
        """Each directory's host side; relative ones under ``$PWD/<container>``."""
        paths: list[HostPath] = []
        for spec in self.directories:
            local, _, rest = spec.partition(":")
            remote = rest.split(":", 1)[0]
            if not local:
                continue
            if posixpath.isabs(local):
                paths.append(HostPath(local, remote))
            else:
                paths.append(HostPath(posixpath.join(self.container, local), remote, True))
        return tuple(paths)

    def data_directory(self) -> HostPath | None:
        """The directory holding PostgreSQL's data, else the first one."""
        paths = self.host_directories()
        for path in paths:
            if path.container_path.startswith(POSTGRES_DATA_PREFIX):
                return path
        return paths[0] if paths else None


@dataclass(frozen=True, slots=True)
class HostPath:
    """A path on a host; ``under_pwd`` ones are relative to the SSH login's $PWD."""

    path: str
    container_path: str = ""
    under_pwd: bool = False

    def shell_word(self) -> str:
        """The path for a remote shell, quoted, ``$PWD`` left for the shell to expand."""
        if self.under_pwd:
            return '"$PWD"/' + shell_word(self.path)
        return shell_word(self.path)

    def absolute(self, pwd: str) -> str:
        return posixpath.join(pwd or "/", self.path) if self.under_pwd else self.path


def accessory(service: str, name: str, service_override: str = "", hosts: Sequence[str] = (),
              directories: Sequence[str] = (), expected: bool = True) -> AccessoryLayout:
    return AccessoryLayout(name, service_override or f"{service}-{name}", tuple(hosts),
                           tuple(directories), expected)


@dataclass(frozen=True, slots=True)
class KamalLayout:
    """What Kamal's configuration says about the containers to expect."""

    service: str
    destination: str = ""
    accessories: tuple[AccessoryLayout, ...] = ()
    # Rails 8's SOLID_QUEUE_IN_PUMA: the jobs run in the web containers.
    jobs_in_puma: bool = False

    @property
    def latest_tag(self) -> str:
        return "-".join(["latest", *([self.destination] if self.destination else [])])

    def container_prefix(self, role: str) -> str:
        return "-".join([self.service, role, *([self.destination] if self.destination else [])])

    def accessory(self, name: str) -> AccessoryLayout | None:
        return next((a for a in self.accessories if a.name == name), None)

    def app_roles(self, host_roles: Iterable[str]) -> tuple[str, ...]:
        """The Kamal roles among a host's roles: accessories and the proxy are not
        roles, and with SOLID_QUEUE_IN_PUMA no job role is expected."""
        return tuple(
            role for role in host_roles
            if self.accessory(role) is None and role != "proxy"
            and not (self.jobs_in_puma and role == JOB_ROLE)
        )

    def container_filters(self, role: str, statuses: Sequence[str] = ACTIVE_STATUSES) -> list[str]:
        """``container_filters(statuses:)`` of app.rb, in its order."""
        return [
            f"label=service={self.service}",
            f"label=destination={self.destination}",
            f"label=role={role}",
            *(f"status={status}" for status in statuses),
        ]

    def filter_args(self, role: str) -> str:
        # Service, destination and role come from deploy.yml: quoted for the remote shell.
        return " ".join(f"--filter {shell_word(f)}" for f in self.container_filters(role))


def layout_for(service: str, destination: str = "", host_roles: Iterable[str] = (),
               db_host: str = "") -> KamalLayout:
    """A layout from what config.toml knows: a host role ``db`` is the database
    accessory (``<service>-db``), as deploy.yml names it."""
    roles = set(host_roles)
    guessed = accessory(service, "db", hosts=(db_host,) if db_host else (), expected=False)
    return KamalLayout(service, destination, (guessed,) if "db" in roles or db_host else ())


def layout_from_config(config: Config, more_roles: Iterable[str] = ()) -> KamalLayout:
    """The layout the console works with: service, destination and accessories as
    deploy.yml resolved them; without one, accessories guessed from the hosts' roles."""
    if config.kamal.accessories:
        return KamalLayout(
            config.service.kamal_service,
            config.kamal.destination,
            tuple(
                AccessoryLayout(a.name, a.container, a.hosts, a.directories)
                for a in config.kamal.accessories
            ),
        )
    return layout_for(
        config.service.kamal_service,
        config.kamal.destination,
        [*(role for host in config.hosts for role in host.roles), *more_roles],
        config.database.host,
    )


def data_path(config: Config, layout: KamalLayout, host: str) -> HostPath | None:
    """Where the database keeps its data on ``host``: ``[database] data_volume`` when
    set (an override), else the db accessory's data directory, else ``/``."""
    database = config.database
    db = layout.accessory("db")
    on_host = host == database.host or (db is not None and host in db.hosts)
    if not on_host:
        return None
    if database.data_volume and database.data_volume != "/":
        return HostPath(database.data_volume)
    directory = db.data_directory() if db is not None else None
    return directory or HostPath("/")


def matches(container: ContainerInfo, filters: Sequence[str]) -> bool:
    """Docker's reading of ``--filter``: every label filter must hold (a ``k=`` one
    needs the label present and empty), any one status filter suffices."""
    statuses: list[str] = []
    for spec in filters:
        kind, _, value = spec.partition("=")
        if kind == "label":
            key, has_value, wanted = value.partition("=")
            if key not in container.labels:
                return False
            if has_value and container.labels[key] != wanted:
                return False
        elif kind == "status":
            statuses.append(value)
        elif kind == "name" and value not in container.name:
            return False
    return not statuses or container.state in statuses


def _newest_first(containers: Iterable[ContainerInfo]) -> list[ContainerInfo]:
    # Stable: containers without a creation time keep docker's order (newest first).
    return sorted(containers, key=lambda c: c.created or "", reverse=True)


def role_containers(containers: Sequence[ContainerInfo], layout: KamalLayout,
                    role: str) -> list[ContainerInfo]:
    """Every active container of ``role`` in this destination, newest first."""
    filters = layout.container_filters(role)
    return _newest_first(c for c in containers if matches(c, filters))


def current_container(containers: Sequence[ContainerInfo], layout: KamalLayout, role: str,
                      latest_image_ids: Sequence[str] = ()) -> ContainerInfo | None:
    """``current_running_container``: the newest active container of the image
    tagged ``latest[-destination]``, else the newest active one."""
    candidates = role_containers(containers, layout, role)
    for container in candidates:
        if container.image_id and any(
            same_image(container.image_id, image) for image in latest_image_ids
        ):
            return container
    return candidates[0] if candidates else None


def same_image(full_id: str, listed_id: str) -> bool:
    """``docker inspect``'s ``sha256:<64 hex>`` against ``docker image ls``'s short ID."""
    full = full_id.removeprefix("sha256:")
    listed = listed_id.removeprefix("sha256:")
    return bool(listed) and full.startswith(listed)


def accessory_container(containers: Sequence[ContainerInfo],
                        accessory_layout: AccessoryLayout) -> ContainerInfo | None:
    """The accessory's container, by the exact name Kamal runs it under."""
    found = [c for c in containers if c.name == accessory_layout.container
             and c.state in ACTIVE_STATUSES]
    return found[0] if found else None


def proxy_container(containers: Sequence[ContainerInfo]) -> ContainerInfo | None:
    found = [c for c in containers if c.name in PROXY_NAMES and c.state in ACTIVE_STATUSES]
    return found[0] if found else None


def pick(containers: Sequence[ContainerInfo], layout: KamalLayout, role: str,
         latest_image_ids: Sequence[str] = ()) -> ContainerInfo | None:
    """The container playing ``role``: the proxy, an accessory, or an app role."""
    if role == "proxy":
        return proxy_container(containers)
    accessory_layout = layout.accessory(role)
    if accessory_layout is not None:
        return accessory_container(containers, accessory_layout)
    return current_container(containers, layout, role, latest_image_ids)


def data_disk(disks: Sequence[DiskUsage], host_path: str) -> DiskUsage | None:
    """The filesystem holding ``host_path``: the longest mount point that is a
    prefix of it (path components, not characters: /data is not under /d)."""
    best: DiskUsage | None = None
    for disk in disks:
        mount = disk.mount.rstrip("/") or "/"
        inside = host_path == mount or mount == "/" or host_path.startswith(mount + "/")
        if inside and (best is None or len(mount) > len(best.mount.rstrip("/") or "/")):
            best = disk
    return best
