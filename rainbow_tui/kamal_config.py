"""Kamal's own configuration, read and resolved the way Kamal 2 resolves it.

Transcribed from basecamp/kamal v2.12.0:

* ``lib/kamal/configuration.rb``: ``config/deploy.yml`` deep-merged with
  ``config/deploy.<destination>.yml`` (hashes merged key by key, anything else
  replaced); a missing destination file is "Configuration file not found";
  ``service`` is required and alphanumeric with ``-``/``_``; without ``servers`` there
  must be accessories; ``primary_role`` defaults to ``web`` and must have hosts, as
  must every role unless ``allow_empty_roles``; ``require_destination``.
* ``configuration/servers.rb`` and ``role.rb``: a list of servers is the ``web`` role;
  a hash gives roles (sorted by name), each a list of hosts or a hash with ``hosts:``;
  a host may carry tags (``- 1.1.1.1: tag``).  The primary role runs the proxy unless
  its ``proxy:`` is false; another role only when its ``proxy:`` is set.
* ``configuration/ssh.rb``: ``user`` defaults to ``root``, ``port`` to 22, ``proxy`` is
  a jump host ``[user@]host`` (``root@`` when no user is given).
* ``configuration/proxy.rb``: ``healthcheck.path`` (kamal-proxy checks ``/up`` when
  none is set), ``host``/``hosts`` the app's domains, ``ssl`` (``true`` or a custom
  certificate's hash: the proxy serves TLS, ``ssl?``).
* ``configuration/accessory.rb``: hosts from ``host``, ``hosts``, ``role``/``roles``
  or ``tag``/``tags`` (the first present); the container is ``service:`` or
  ``<service>-<name>``; ``port`` ``"N"`` means ``N:N``.

Kamal renders each file through ERB before YAML.  That Ruby is not evaluated here:
when a file holds ERB and ``kamal config`` runs in the checkout, its resolved output
(``Kamal::Configuration#to_h``: roles, hosts, ssh_options, accessories) stands in for
what it covers; an ERB value it does not cover is reported by file and line.

One deliberate difference: the SSH port.  Kamal always passes ``ssh.port`` (22 by
default), so an OpenSSH config's ``Port`` never applies under Kamal; here, when
deploy.yml sets no port, the ``Port`` of the files named by ``ssh.config`` applies
(the demo's stand-in hosts share 127.0.0.1, a port each).
"""

from __future__ import annotations

import getpass
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rainbow_tui.config import ConfigError
from rainbow_tui.ssh_proxy_command import proxy_command_problem

DEPLOY_FILE = Path("config") / "deploy.yml"
DEFAULT_HEALTHCHECK_PATH = "/up"  # kamal-proxy's default health check
SERVICE_NAME = re.compile(r"^[a-z0-9_-]+$", re.IGNORECASE)  # ensure_valid_service_name
KAMAL_CONFIG_TIMEOUT_S = 60.0
DEFAULT = "default"


class ErbText(str):
    """A YAML string holding ERB, with where it was written."""

    file: str
    line: int


def _erb_text(value: str, file: str, line: int) -> ErbText:
    text = ErbText(value)
    text.file, text.line = file, line
    return text


class _DeployLoader(yaml.SafeLoader):
    """PyYAML's safe loader; strings with ERB remember their file and line."""

    def construct_yaml_str(self, node: yaml.Node) -> Any:
        value = super().construct_yaml_str(node)
        if "<%" in value:
            return _erb_text(value, self.name, node.start_mark.line + 1)
        return value


_DeployLoader.add_constructor("tag:yaml.org,2002:str", _DeployLoader.construct_yaml_str)


class _KamalOutputLoader(yaml.SafeLoader):
    """``kamal config`` prints Ruby's YAML: symbols (``:roles:``) and Ruby objects
    (``!ruby/object:Net::SSH::Proxy::Jump``) are read as plain values."""


def _ruby_object(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_KamalOutputLoader.add_multi_constructor("!ruby/", _ruby_object)


def is_tcp_port(number: int) -> bool:
    return 1 <= number <= 65535


def accessory_port_problem(text: str) -> str | None:
    """What is wrong with an accessory's ``port`` (Kamal: "N", "H:C" or "IP:H:C"),
    or None."""
    parts = text.split(":")
    numbers = parts[-2:] if len(parts) <= 3 else parts
    if len(parts) > 3:
        return f"{text!r} is not PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT"
    for number in numbers:
        if not number.isdigit() or not is_tcp_port(int(number)):
            return f"{text!r}: {number!r} is not a TCP port (1-65535)"
    return None


@dataclass(frozen=True, slots=True)
class JumpHost:
    """``ssh.proxy``: the host every SSH connection goes through."""

    user: str
    host: str
    port: int = 22

    @classmethod
    def parse(cls, text: str) -> JumpHost:
        user, _, rest = text.rpartition("@")
        host, port = rest, 22
        if rest.count(":") == 1:  # host:port (an IPv6 address has more colons)
            host, _, port_text = rest.partition(":")
            if not port_text.isdigit():
                raise ValueError(f"port {port_text!r} is not a number")
            port = int(port_text)
            if not is_tcp_port(port):
                raise ValueError(f"port {port} is not a TCP port (1-65535)")
        if not host:
            raise ValueError("no host")
        return cls(user or "root", host, port)

    def __str__(self) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port != 22 else "")


@dataclass(frozen=True, slots=True)
class KamalAccessory:
    name: str
    container: str  # ``service:``, else "<service>-<name>"
    hosts: tuple[str, ...]  # as deploy.yml writes them
    directories: tuple[str, ...] = ()  # "local:remote[:options]"
    port: str = ""  # "host:container"


@dataclass(frozen=True, slots=True)
class KamalSsh:
    user: str = "root"
    port: int | None = None  # None: not set (22, or the ssh config's Port)
    proxy: JumpHost | None = None
    config_files: tuple[str, ...] = ()  # ``ssh.config`` files, when it names any
    keys: tuple[str, ...] = ()
    # ``ssh.proxy_command`` (Net::SSH::Proxy::Command): %h, %p, %r filled in.
    proxy_command: str = ""


@dataclass(frozen=True, slots=True)
class KamalDeployment:
    """What Kamal's configuration says, with where each value came from."""

    service: str
    destination: str
    role_hosts: Mapping[str, tuple[str, ...]]  # roles in Kamal's order (sorted)
    primary_role: str
    proxy_roles: tuple[str, ...]
    accessories: tuple[KamalAccessory, ...]
    ssh: KamalSsh
    healthcheck_path: str
    proxy_hosts: tuple[str, ...]  # the app's domains (proxy.host / proxy.hosts)
    files: tuple[str, ...]  # as read, relative to the workdir
    proxy_ssl: bool = False  # the proxy terminates TLS for proxy_hosts
    # Dotted deploy.yml key → the file that gave it (or "kamal config …").
    origins: Mapping[str, str] = field(default_factory=dict)
    resolved_by: str = ""  # "kamal config …" when its output was used

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.role_hosts)

    def all_hosts(self) -> tuple[str, ...]:
        """configuration.rb#all_hosts: the roles' hosts, then the accessories'."""
        hosts = [h for hosts in self.role_hosts.values() for h in hosts]
        hosts += [h for accessory in self.accessories for h in accessory.hosts]
        return tuple(dict.fromkeys(hosts))

    def host_roles(self, host: str) -> tuple[str, ...]:
        return tuple(role for role, hosts in self.role_hosts.items() if host in hosts)

    def host_accessories(self, host: str) -> tuple[str, ...]:
        return tuple(a.name for a in self.accessories if host in a.hosts)

    def origin(self, key: str) -> str:
        return self.origins.get(key, DEFAULT)


# -- reading --------------------------------------------------------------------------


def _load_yaml_file(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(shown, "", f"cannot be read: {error}") from None
    try:
        data = yaml.load(text, Loader=_loader_for(shown))  # a SafeLoader: no Ruby or Python objects
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark is not None else shown
        problem = getattr(error, "problem", None) or str(error)
        erb = _first_erb_line(text)
        if erb is not None:
            raise ConfigError(
                f"{shown}:{erb}", "", "ERB (<% … %>) makes this file no YAML until Kamal "
                "renders it; make `kamal config` runnable in [kamal] workdir"
            ) from None
        raise ConfigError(where, "", f"not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(shown, "", "must be a YAML mapping of Kamal settings")
    return data


def _loader_for(name: str) -> type[_DeployLoader]:
    class Loader(_DeployLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.name = name

    return Loader


def _first_erb_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if "<%" in line:
            return number
    return None


def deep_merge(base: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """ActiveSupport's ``Hash#deep_merge``: hashes merged, anything else replaced."""
    merged = dict(base)
    for key, value in other.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _has_erb(value: Any) -> bool:
    if isinstance(value, ErbText):
        return True
    if isinstance(value, dict):
        return any(_has_erb(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_erb(v) for v in value)
    return False


def _find_erb(value: Any, key: str) -> tuple[str, ErbText] | None:
    """The first ERB string in ``value``, with its dotted key."""
    if isinstance(value, ErbText):
        return key, value
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(f"{key}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    else:
        items = []
    for item_key, item in items:
        found = _find_erb(item, item_key)
        if found is not None:
            return found
    return None


def run_kamal_config(
    command: Sequence[str], workdir: Path, destination: str
) -> dict[str, Any] | None:
    """``kamal config [-d DEST]`` in the checkout, read; None when it cannot run."""
    argv = [*command, "config", *(["-d", destination] if destination else [])]
    try:
        result = subprocess.run(
            argv, cwd=workdir, capture_output=True, text=True, timeout=KAMAL_CONFIG_TIMEOUT_S,
            check=False, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    try:
        data = yaml.load(result.stdout, Loader=_KamalOutputLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(key).lstrip(":"): value for key, value in data.items()}


def _symbol_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _symbol_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_symbol_keys(v) for v in value]
    return value


def _apply_kamal_output(merged: dict[str, Any], output: Mapping[str, Any]) -> dict[str, Any]:
    """What ``Configuration#to_h`` shows, in place of the files' ERB: ssh options
    and the accessories (role hosts it does not show)."""
    resolved = dict(merged)
    ssh_options = _symbol_keys(output.get("ssh_options") or {})
    ssh: dict[str, Any] = {}
    for key in ("user", "port", "config", "keys"):
        if key in ssh_options:
            ssh[key] = ssh_options[key]
    proxy = ssh_options.get("proxy")
    if isinstance(proxy, dict) and "jump_proxies" in proxy:
        ssh["proxy"] = str(proxy["jump_proxies"])
    elif isinstance(proxy, str):
        ssh["proxy"] = proxy
    if ssh:
        resolved["ssh"] = ssh
    if isinstance(output.get("accessories"), dict):
        resolved["accessories"] = output["accessories"]
    return resolved


# -- resolving ------------------------------------------------------------------------


class _Reader:
    """Typed access to the merged configuration, errors naming file and key."""

    def __init__(self, merged: Mapping[str, Any], layers: Sequence[tuple[str, Mapping[str, Any]]],
                 replaced: Mapping[str, str]) -> None:
        self.merged = merged
        self.layers = layers
        self.replaced = replaced  # top-level key → "kamal config …"

    def origin(self, key: str) -> str:
        parts = key.split(".")
        if parts[0] in self.replaced:
            return str(self.replaced[parts[0]])
        for name, layer in reversed(self.layers):
            node: Any = layer
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    break
                node = node[part]
            else:
                return str(name)
        return DEFAULT

    def fail(self, key: str, problem: str) -> ConfigError:
        origin = self.origin(key)
        return ConfigError(origin if origin != DEFAULT else self.layers[0][0], key, problem)

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.merged
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        found = _find_erb(node, key)
        if found is not None:
            erb_key, erb = found
            raise ConfigError(
                f"{erb.file}:{erb.line}", erb_key,
                f"ERB {str(erb).strip()!r} is evaluated only by Kamal, and `kamal config` "
                "(run in [kamal] workdir) did not resolve it: write the value, or make "
                "[kamal] command runnable there",
            )
        return node

    def text(self, key: str, default: str = "") -> str:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        return str(value)

    def strings(self, key: str, value: Any = None) -> tuple[str, ...]:
        value = self.get(key) if value is None else value
        if value is None:
            return ()
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return (str(value),)
        if not isinstance(value, list) or not all(
            isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
        ):
            raise self.fail(key, "must be a string or a list of strings")
        return tuple(str(item) for item in value)


def _proxy_ssl(value: Any) -> bool:
    """proxy.rb#ssl?: ``ssl: true``, or a hash naming a custom certificate."""
    return value is True or isinstance(value, dict)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "empty"}.get(
        type(value), type(value).__name__
    )


def _host_entries(reader: _Reader, key: str, entries: Any) -> tuple[str, ...]:
    """role.rb#tagged_hosts: strings, or ``{host: tags}``."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise reader.fail(key, f"must be a list of hosts, not {_kind(entries)}")
    hosts: list[str] = []
    for entry in entries:
        if isinstance(entry, dict) and len(entry) >= 1:
            entry = next(iter(entry))
        if not isinstance(entry, str) or not entry:
            raise reader.fail(key, f"a host must be an address or name, not {_kind(entry)}")
        hosts.append(entry)
    return tuple(hosts)


def _tagged(servers: Any, tag: str) -> list[str]:
    """accessory.rb#extract_hosts_from_config_with_tag."""
    if not isinstance(servers, dict):
        return []
    found: list[str] = []
    for role_config in servers.values():
        entries = role_config.get("hosts", []) if isinstance(role_config, dict) else role_config
        for entry in entries or []:
            if isinstance(entry, dict) and entry:
                host, tags = next(iter(entry.items()))
                if tag in (tags if isinstance(tags, list) else [tags]):
                    found.append(str(host))
    return found


def _roles(reader: _Reader) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    servers = reader.get("servers")
    role_hosts: dict[str, tuple[str, ...]] = {}
    proxy_roles: list[str] = []
    primary = reader.text("primary_role", "web")
    if servers is None:
        return role_hosts, ()
    if isinstance(servers, list):
        role_hosts["web"] = _host_entries(reader, "servers", servers)
        specializations: dict[str, Any] = {"web": {}}
    elif isinstance(servers, dict):
        specializations = {}
        for name in sorted(servers, key=str):
            role_config = servers[name]
            key = f"servers.{name}"
            if isinstance(role_config, dict):
                role_hosts[str(name)] = _host_entries(reader, f"{key}.hosts",
                                                      role_config.get("hosts"))
                specializations[str(name)] = role_config
            else:
                role_hosts[str(name)] = _host_entries(reader, key, role_config)
                specializations[str(name)] = {}
    else:
        raise reader.fail("servers", f"must be a list of hosts or a mapping of roles, not "
                                     f"{_kind(servers)}")
    for name, spec in specializations.items():
        proxy = spec.get("proxy")
        if (name == primary and proxy is not False) or (name != primary and proxy):
            proxy_roles.append(name)
    return role_hosts, tuple(proxy_roles)


def _ssh(reader: _Reader, workdir: Path) -> KamalSsh:
    user = reader.text("ssh.user", "root")
    port_value = reader.get("ssh.port")
    port: int | None = None
    if port_value is not None:
        if isinstance(port_value, bool) or not str(port_value).isdigit():
            raise reader.fail("ssh.port", f"must be a port number, not {port_value!r}")
        port = int(port_value)
        if not is_tcp_port(port):
            raise reader.fail("ssh.port", f"{port} is not a TCP port (1-65535)")
    proxy: JumpHost | None = None
    if reader.get("ssh.proxy") is not None:
        text = reader.text("ssh.proxy")
        if "," in text:
            raise reader.fail("ssh.proxy", "more than one jump host is not supported")
        try:
            proxy = JumpHost.parse(text)
        except ValueError as error:
            raise reader.fail("ssh.proxy", f"{text!r} is not [user@]host[:port]: {error}") from None
    proxy_command = ""
    # ssh.rb#proxy: a jump host wins over a proxy command when both are given.
    if reader.get("ssh.proxy_command") is not None and proxy is None:
        proxy_command = reader.text("ssh.proxy_command")
        problem = proxy_command_problem(proxy_command)
        if problem is not None:
            raise reader.fail("ssh.proxy_command", problem)
    config = reader.get("ssh.config")
    files: tuple[str, ...] = ()
    if config is not None and not isinstance(config, bool):
        files = tuple(
            str((workdir / Path(path).expanduser()).resolve())
            for path in reader.strings("ssh.config", config)
        )
    keys = tuple(str(Path(key).expanduser()) for key in reader.strings("ssh.keys"))
    return KamalSsh(user, port, proxy, files, keys, proxy_command)


def _accessories(reader: _Reader, service: str,
                 role_hosts: Mapping[str, tuple[str, ...]]) -> tuple[KamalAccessory, ...]:
    raw = reader.get("accessories")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise reader.fail("accessories", f"must be a mapping of accessories, not {_kind(raw)}")
    found: list[KamalAccessory] = []
    for name, spec in raw.items():
        key = f"accessories.{name}"
        if not isinstance(spec, dict):
            raise reader.fail(key, f"must be a mapping, not {_kind(spec)}")
        hosts: tuple[str, ...] | None = None
        if "host" in spec:
            hosts = reader.strings(f"{key}.host")
        elif "hosts" in spec:
            hosts = reader.strings(f"{key}.hosts")
        elif "role" in spec or "roles" in spec:
            which = "role" if "role" in spec else "roles"
            wanted = reader.strings(f"{key}.{which}")
            missing = [role for role in wanted if role not in role_hosts]
            if missing:
                word = "role" if len(missing) == 1 else "roles"
                raise reader.fail(f"{key}.{which}", f"unknown {word} {', '.join(missing)}")
            hosts = tuple(h for role in wanted for h in role_hosts[role])
        elif "tag" in spec or "tags" in spec:
            which = "tag" if "tag" in spec else "tags"
            servers = reader.get("servers")
            hosts = tuple(h for tag in reader.strings(f"{key}.{which}")
                          for h in _tagged(servers, tag))
        directories: list[str] = []
        for entry in reader.get(f"{key}.directories") or []:
            if isinstance(entry, dict):
                local, remote = str(entry.get("local", "")), str(entry.get("remote", ""))
                options = entry.get("options")
                directories.append(":".join([local, remote, *([str(options)] if options else [])]))
            else:
                directories.append(str(entry))
        port = reader.get(f"{key}.port")
        if isinstance(port, bool) or not isinstance(port, str | int | None):
            raise reader.fail(f"{key}.port", f"must be a port or a port mapping, not {_kind(port)}")
        port_text = "" if port is None else str(port)
        if port_text and (problem := accessory_port_problem(port_text)) is not None:
            raise reader.fail(f"{key}.port", problem)
        if port_text and ":" not in port_text:
            port_text = f"{port_text}:{port_text}"
        container = reader.text(f"{key}.service", "") or f"{service}-{name}"
        found.append(KamalAccessory(str(name), container, tuple(dict.fromkeys(hosts or ())),
                                    tuple(directories), port_text))
    return tuple(found)


def read_kamal_config(
    workdir: Path, destination: str = "", command: Sequence[str] = ()
) -> KamalDeployment:
    """Kamal's configuration in ``workdir``; raises ``ConfigError`` naming file and key.

    ``command`` is how kamal runs there: used only when a file holds ERB.
    """
    base = DEPLOY_FILE
    names = [str(base)]
    if destination:
        names.append(str(base.with_name(f"deploy.{destination}.yml")))
    layers: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        path = workdir / name
        if not path.is_file() and name != names[0]:
            raise ConfigError(
                name, "", f"destination {destination!r}: file not found (Kamal: "
                f"\"Configuration file not found in {name}\")"
            )
        layers.append((name, _load_yaml_file(path, name)))
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = deep_merge(merged, layer)
    replaced: dict[str, str] = {}
    resolved_by = ""
    if command and _has_erb(merged):
        output = run_kamal_config(command, workdir, destination)
        if output is not None:
            resolved_by = " ".join(["kamal config", *(["-d", destination] if destination else [])])
            merged = _apply_kamal_output(merged, output)
            replaced = {key: resolved_by for key in ("ssh", "accessories")
                        if key in merged and not _has_erb(merged[key])}
    reader = _Reader(merged, layers, replaced)
    return _resolve(reader, workdir, destination, tuple(names), resolved_by)


def _resolve(reader: _Reader, workdir: Path, destination: str, files: tuple[str, ...],
             resolved_by: str) -> KamalDeployment:
    if reader.get("require_destination") and not destination:
        raise reader.fail("require_destination", "this app needs a destination: pass "
                                                 "--destination NAME or set [kamal] destination")
    service = reader.get("service")
    if service is None or service == "":
        raise reader.fail("service", "required key is missing (Kamal: \"Missing required "
                                     "configuration for service\")")
    service = reader.text("service")
    if not SERVICE_NAME.match(service):
        raise reader.fail("service", f"{service!r}: a service name can only include "
                                     "alphanumeric characters, hyphens, and underscores")
    role_hosts, proxy_roles = _roles(reader)
    accessories = _accessories(reader, service, role_hosts)
    if reader.get("servers") is None:
        if not accessories:
            raise reader.fail("servers", "required key is missing (Kamal: \"No servers or "
                                         "accessories specified\")")
    else:
        primary = reader.text("primary_role", "web")
        if primary not in role_hosts:
            raise reader.fail("primary_role", f"the primary_role {primary} isn't defined "
                                              "in servers")
        if not role_hosts[primary]:
            raise reader.fail("servers", f"no servers specified for the {primary} primary_role")
        if not reader.get("allow_empty_roles"):
            for role, hosts in role_hosts.items():
                if not hosts:
                    raise reader.fail(f"servers.{role}", f"no servers specified for the {role} "
                                                         "role (or set allow_empty_roles: true)")
    proxy_hosts_value = reader.get("proxy.hosts")
    if proxy_hosts_value is not None:
        proxy_hosts = reader.strings("proxy.hosts")
    else:
        host = reader.text("proxy.host", "")
        proxy_hosts = tuple(h.strip() for h in host.split(",") if h.strip())
    origins = {
        key: reader.origin(key)
        for key in ("service", "servers", "primary_role", "ssh.user", "ssh.port", "ssh.proxy",
                    "ssh.proxy_command", "ssh.config", "proxy.healthcheck.path", "proxy.host",
                    "proxy.hosts", "proxy.ssl", "accessories")
    }
    for accessory in accessories:
        origins[f"accessories.{accessory.name}"] = reader.origin(f"accessories.{accessory.name}")
    return KamalDeployment(
        service=service,
        destination=destination,
        role_hosts=role_hosts,
        primary_role=reader.text("primary_role", "web"),
        proxy_roles=proxy_roles,
        accessories=accessories,
        ssh=_ssh(reader, workdir),
        healthcheck_path=reader.text("proxy.healthcheck.path", DEFAULT_HEALTHCHECK_PATH),
        proxy_hosts=proxy_hosts,
        proxy_ssl=_proxy_ssl(reader.get("proxy.ssl", False)),
        files=files,
        origins=origins,
        resolved_by=resolved_by,
    )


# -- OpenSSH config (``ssh.config``) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SshConfigEntry:
    hostname: str | None = None
    port: int | None = None
    user: str | None = None


def ssh_config_entry(files: Sequence[str], host: str) -> SshConfigEntry:
    """What the OpenSSH config files say for ``host`` (HostName, Port, User)."""
    if not files:
        return SshConfigEntry()
    from asyncssh.config import SSHClientConfig

    existing = [path for path in files if Path(path).is_file()]
    if len(existing) != len(files):
        missing = next(path for path in files if path not in existing)
        raise ConfigError(missing, "", "file not found (named by ssh.config in deploy.yml)")
    try:
        config = SSHClientConfig.load(None, existing, False, False, False,
                                      getpass.getuser(), (), host, ())
    except Exception as error:  # asyncssh raises its own ConfigParseError
        raise ConfigError(existing[0], "", f"not a valid OpenSSH config: {error}") from None
    hostname = config.get("Hostname")
    port = config.get("Port")
    user = config.get("User")
    port_number: int | None = None
    if port:
        if not str(port).isdigit() or not is_tcp_port(int(str(port))):
            raise ConfigError(existing[0], f"Host {host}: Port",
                              f"{port!r} is not a TCP port (1-65535)")
        port_number = int(str(port))
    return SshConfigEntry(
        str(hostname) if hostname else None,
        port_number,
        str(user) if user else None,
    )
