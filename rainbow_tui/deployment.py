"""The deployment the console watches: Kamal's configuration, with config.toml's
names and overrides, and where each value came from.

``[[hosts]]`` in config.toml is an optional override.  An entry whose address is one
of deploy.yml's hosts restates it: its name is the console's name for it, and its
roles, user, port and jump host replace deploy.yml's.  A difference between the two
is no error (at 3 a.m. the console must start) but a warning line that
``config validate`` and ``config show`` print, naming both files.  An entry Kamal
does not know (a bastion, a monitoring box) is added as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from rainbow_tui.config import (
    PLACEHOLDER,
    AccessoryConfig,
    Config,
    ConfigError,
    HostConfig,
    expand_path,
)
from rainbow_tui.kamal_config import (
    DEFAULT,
    DEPLOY_FILE,
    JumpHost,
    KamalDeployment,
    read_kamal_config,
    ssh_config_entry,
)

CONFIG_TOML = "config.toml"


@dataclass(frozen=True, slots=True)
class Resolution:
    """``config`` holds the resolved hosts; ``kamal`` is None without a deploy.yml."""

    config: Config
    kamal: KamalDeployment | None = None
    # Field of a host ("app-1.roles") → where its value came from.
    origins: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # Why Kamal's configuration was not read (e.g. the workdir is a placeholder).
    skipped: str = ""
    names: dict[str, str] = field(default_factory=dict)  # deploy.yml's host → console name


def _label(config: Config) -> str:
    return Path(config.source).name if config.source else CONFIG_TOML


def resolve_deployment(config: Config, destination: str | None = None) -> Resolution:
    """Read ``[kamal] workdir``'s Kamal configuration (``destination`` overrides
    ``[kamal] destination``) into ``config``'s hosts; raises ``ConfigError``."""
    if destination is not None:
        config = msgspec.structs.replace(
            config, kamal=msgspec.structs.replace(config.kamal, destination=destination)
        )
    kamal_settings = config.kamal
    if PLACEHOLDER in kamal_settings.workdir:
        _require_health_url(config, "[kamal] workdir is still to fill in")
        return Resolution(config, skipped="[kamal] workdir is still to fill in")
    workdir = expand_path(kamal_settings.workdir)
    if not (workdir / DEPLOY_FILE).is_file():
        if config.hosts:
            _require_health_url(config, f"there is no {workdir / DEPLOY_FILE}")
            return Resolution(config, skipped=f"no {workdir / DEPLOY_FILE}: [[hosts]] only")
        raise ConfigError(
            workdir / DEPLOY_FILE, "", "file not found: [kamal] workdir must be the app's "
            "checkout holding Kamal's configuration (or list the hosts in [[hosts]])"
        )
    try:
        kamal = read_kamal_config(workdir, kamal_settings.destination, kamal_settings.command)
    except ConfigError as error:
        # Paths relative to the workdir read best in full in a one-line error.
        raise ConfigError(_in_workdir(workdir, error.path), error.key, error.problem) from None
    return _merge(config, kamal, workdir)


def _require_health_url(config: Config, why: str) -> None:
    if not config.service.health_url:
        raise ConfigError(config.source or CONFIG_TOML, "service.health_url",
                          f"required: {why}, so there is no proxy.host to check /up on")


def _health_url(config: Config, kamal: KamalDeployment, toml: str,
                origins: dict[str, str], warnings: list[str]) -> str:
    """config.toml's URL, else the one kamal-proxy answers: the app's first domain
    (proxy.host), https when the proxy terminates TLS (proxy.ssl), and the path
    kamal-proxy checks (proxy.healthcheck.path, /up by default)."""
    given = config.service.health_url
    if given:
        origins["service.health_url"] = toml
        path = urlsplit(given).path or "/"
        if path != kamal.healthcheck_path:
            warnings.append(
                f"{toml}: service.health_url checks {path!r} but "
                f"{kamal.origin('proxy.healthcheck.path')}: proxy.healthcheck.path is "
                f"{kamal.healthcheck_path!r}, what kamal-proxy checks before it sends traffic"
            )
        return given
    if not kamal.proxy_hosts:
        raise ConfigError(config.source or toml, "service.health_url",
                          f"required: {kamal.origin('proxy.host')} has no proxy.host to "
                          "derive it from")
    scheme = "https" if kamal.proxy_ssl else "http"
    origins["service.health_url"] = (
        f"{kamal.origin('proxy.host')} (proxy.host, proxy.ssl, proxy.healthcheck.path)"
    )
    return f"{scheme}://{kamal.proxy_hosts[0]}{kamal.healthcheck_path}"


def _in_workdir(workdir: Path, path: str) -> str:
    name, colon, line = path.partition(":")
    return str(workdir / name) + colon + line if not Path(name).is_absolute() else path


def _merge(config: Config, kamal: KamalDeployment, workdir: Path) -> Resolution:
    toml = _label(config)
    names = config.kamal.host_names
    overrides = {host.address: (index, host) for index, host in enumerate(config.hosts)}
    origins: dict[str, str] = {}
    warnings: list[str] = []
    hosts: list[HostConfig] = []
    jump = kamal.ssh.proxy
    ssh_files = kamal.ssh.config_files

    kamal_file = kamal.origin
    console_names: dict[str, str] = {}  # deploy.yml's host → the console's name
    if config.service.kamal_service != kamal.service:
        warnings.append(
            f"{toml}: service.kamal_service = {config.service.kamal_service!r} but "
            f"{kamal.origin('service')}: service = {kamal.service!r}; the containers are "
            f"named by {kamal.service!r}"
        )
    for address in kamal.all_hosts():
        entry = ssh_config_entry(ssh_files, address)
        roles = kamal.host_roles(address)
        user = config.ssh.user or kamal.ssh.user
        user_origin = toml if config.ssh.user else kamal_file("ssh.user")
        port = kamal.ssh.port or entry.port or 22
        port_origin = (kamal_file("ssh.port") if kamal.ssh.port
                       else "ssh config" if entry.port else DEFAULT)
        if config.ssh.port:
            port, port_origin = config.ssh.port, toml
        name, name_origin = names.get(address, address), (toml if address in names else
                                                          kamal_file("servers"))
        jump_text = str(jump) if jump else ""
        roles_origin = kamal_file("servers") if roles else DEFAULT
        override = overrides.pop(address, None)
        if override is not None:
            index, host = override
            key = f"{toml}: hosts[{index}]"
            where = kamal.origin("servers")
            for field_name, mine, theirs in (
                ("roles", host.roles, roles), ("user", host.user, user),
                ("port", host.port, port),
            ):
                if mine and mine != theirs:
                    warnings.append(
                        f"{key}.{field_name} = {_show(mine)} but {where} gives host {address} "
                        f"{field_name} {_show(theirs)}; config.toml's is used"
                    )
            name, name_origin = host.name, toml
            if host.roles:
                roles, roles_origin = host.roles, toml
            if host.user:
                user, user_origin = host.user, toml
            if host.port:
                port, port_origin = host.port, toml
            if host.jump_host:
                jump_text = host.jump_host
        resolved_address = entry.hostname or address
        console_names[address] = name
        hosts.append(HostConfig(
            name=name, address=resolved_address, roles=tuple(roles), user=user, port=port,
            jump_host=jump_text, accessories=kamal.host_accessories(address),
            # ssh.rb#proxy: a jump host (deploy.yml's or config.toml's) wins.
            proxy_command="" if jump_text else kamal.ssh.proxy_command,
        ))
        origins.update({
            f"{name}.name": name_origin,
            f"{name}.address": "ssh config" if entry.hostname else kamal_file("servers"),
            f"{name}.roles": roles_origin,
            f"{name}.user": user_origin,
            f"{name}.port": port_origin,
            f"{name}.jump_host": (toml if override and override[1].jump_host
                                  else kamal_file("ssh.proxy")),
            f"{name}.accessories": kamal_file("accessories"),
        })
    for index, host in sorted(overrides.values(), key=lambda item: item[0]):
        hosts.append(host)
        for field_name in ("name", "address", "roles", "user", "port", "jump_host"):
            origins[f"{host.name}.{field_name}"] = toml
        warnings.append(
            f"{toml}: hosts[{index}] ({host.address}) is not in {kamal.origin('servers')}: "
            "watched, though Kamal does not deploy to it"
        )
    accessories = tuple(
        AccessoryConfig(
            name=accessory.name, container=accessory.container,
            hosts=tuple(console_names.get(h, h) for h in accessory.hosts),
            directories=accessory.directories, port=accessory.port,
        )
        for accessory in kamal.accessories
    )
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise ConfigError(config.source or toml, "kamal.host_names",
                              f"two hosts would both be named {host.name!r}")
        seen.add(host.name)
    database_host = config.database.host
    if database_host and database_host not in seen:
        raise ConfigError(config.source or toml, "database.host",
                          f"no host named {database_host!r} in {kamal.files[0]} or [[hosts]] "
                          f"(hosts: {', '.join(h.name for h in hosts)})")
    if not database_host:
        db = next((a for a in accessories if a.name == "db" and a.hosts), None)
        database_host = db.hosts[0] if db is not None else ""
    health_url = _health_url(config, kamal, toml, origins, warnings)
    resolved = msgspec.structs.replace(
        config,
        service=msgspec.structs.replace(config.service, kamal_service=kamal.service,
                                        health_url=health_url),
        kamal=msgspec.structs.replace(config.kamal, accessories=accessories),
        hosts=tuple(hosts),
        database=msgspec.structs.replace(config.database, host=database_host),
    )
    return Resolution(resolved, kamal, origins, tuple(warnings), names=console_names)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def show_document(resolution: Resolution) -> dict[str, Any]:
    """The resolved configuration as a TOML document for ``config show``."""
    config = resolution.config
    kamal = resolution.kamal
    document: dict[str, Any] = {
        "config": config.source or CONFIG_TOML,
        "workdir": str(expand_path(config.kamal.workdir)),
        "destination": config.kamal.destination,
    }
    if resolution.skipped:
        document["kamal_config"] = resolution.skipped
    document["health_url"] = {
        "url": config.service.health_url,
        "from": resolution.origins.get("service.health_url", _label(config)),
    }
    if kamal is not None:
        document["kamal_files"] = list(kamal.files)
        if kamal.resolved_by:
            document["resolved_by"] = kamal.resolved_by
        document["service"] = {"name": kamal.service, "from": kamal.origin("service")}
        document["roles"] = {
            role: {"hosts": [resolution.names.get(h, h) for h in hosts],
                   "proxy": role in kamal.proxy_roles,
                   "primary": role == kamal.primary_role}
            for role, hosts in kamal.role_hosts.items()
        }
        document["proxy"] = {
            "healthcheck_path": kamal.healthcheck_path,
            "healthcheck_path_from": kamal.origin("proxy.healthcheck.path"),
            "hosts": list(kamal.proxy_hosts),
        }
        ssh: dict[str, Any] = {"user": kamal.ssh.user, "user_from": kamal.origin("ssh.user")}
        if kamal.ssh.port is not None:
            ssh["port"] = kamal.ssh.port
        ssh["port_from"] = kamal.origin("ssh.port")
        if kamal.ssh.proxy is not None:
            ssh["jump_host"] = str(kamal.ssh.proxy)
            ssh["jump_host_from"] = kamal.origin("ssh.proxy")
        elif kamal.ssh.proxy_command:
            ssh["proxy_command"] = kamal.ssh.proxy_command
            ssh["proxy_command_from"] = kamal.origin("ssh.proxy_command")
        if kamal.ssh.config_files:
            ssh["config_files"] = list(kamal.ssh.config_files)
        document["ssh"] = ssh
    origins = resolution.origins
    hosts: list[dict[str, Any]] = []
    for host in config.hosts:
        user = host.user or config.ssh.user or "root"
        port = host.port or config.ssh.port or 22
        row: dict[str, Any] = {
            "name": host.name,
            "address": host.address,
            "roles": list(host.roles),
            "accessories": list(host.accessories),
            "ssh": f"{user}@{host.address}:{port}",
        }
        if host.jump_host:
            row["jump_host"] = host.jump_host
        elif host.proxy_command:
            row["proxy_command"] = host.proxy_command
        row["from"] = {
            key: origins.get(f"{host.name}.{key}", CONFIG_TOML)
            for key in ("name", "address", "roles", "user", "port", "jump_host", "accessories")
            if key != "jump_host" or host.jump_host
        }
        hosts.append(row)
    document["hosts"] = hosts
    if config.kamal.accessories:
        document["accessories"] = {
            accessory.name: {
                "container": accessory.container,
                "hosts": list(accessory.hosts),
                "directories": list(accessory.directories),
                "port": accessory.port,
                "from": kamal.origin(f"accessories.{accessory.name}") if kamal else CONFIG_TOML,
            }
            for accessory in config.kamal.accessories
        }
    if config.database.host:
        document["database_host"] = config.database.host
    if resolution.warnings:
        document["warnings"] = list(resolution.warnings)
    return document


def jump_host(text: str) -> JumpHost | None:
    """A host's ``jump_host`` ("user@host[:port]"), parsed."""
    return JumpHost.parse(text) if text else None
