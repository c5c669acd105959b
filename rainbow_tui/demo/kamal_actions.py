"""What ``kamal …`` does to the demo stack, and what it prints while doing it.

Runs inside the supervisor (reached through ``POST /_demo/kamal``); the
:mod:`rainbow_tui.demo.kamal` command line posts its arguments here.  Commands act
for real: ``app boot`` replaces containers and cures what a restart cures,
``accessory reboot db`` restarts PostgreSQL, ``accessory exec db "psql …"`` runs the
real ``psql``.  Output imitates Kamal 2 (SSHKit's ``  INFO [id] Running … on host``).
Following logs (``-f``) is done by the command line itself over SSH, as Kamal does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field

from rainbow_tui.demo.containers import (
    DB_ACCESSORY,
    DB_IMAGE,
    IMAGE_REPOSITORY,
    SERVICE,
    Deployment,
)
from rainbow_tui.demo.drills import DrillController
from rainbow_tui.demo.host_shell import BufferSink, HostShell
from rainbow_tui.demo.kamal_commands import (
    HOST_ADDRESS,
    KamalOptions,
    KamalUsageError,
    accessory_logs_command,
    app_logs_command,
    parse_options,
)
from rainbow_tui.demo.postgres import PostgresServer
from rainbow_tui.demo.process_guard import child_dies_with_parent
from rainbow_tui.demo.schema import ACCESSORY_SUPERUSER, APP_DATABASE, APP_ROLE, SUPERUSER
from rainbow_tui.demo.workload import Workload

log = logging.getLogger("rainbow_tui.demo.kamal")

KAMAL_VERSION = "2.4.0"
PSQL_TIMEOUT_SECONDS = 60.0
_KNOWN_DB_USERS = {SUPERUSER, APP_ROLE, ACCESSORY_SUPERUSER}
_PSQL_OPTIONS_WITH_VALUE = {"-c", "--command", "-v", "--set", "-P", "--pset", "-F",
                            "--field-separator", "-R", "--record-separator"}


@dataclass
class KamalResult:
    exit_code: int
    output: str


@dataclass
class KamalTargets:
    """The parts of the stack Kamal commands act on."""

    deployment: Deployment
    shells: dict[str, HostShell]
    drills: DrillController
    postgres: PostgresServer
    workload: Workload
    ssh_ports: dict[str, int]


@dataclass
class _Transcript:
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        self.lines.append(text)

    def running(self, command: str, exit_code: int = 0, seconds: float | None = None) -> None:
        tag = secrets.token_hex(4)
        self.lines.append(f"  INFO [{tag}] Running {command} on {HOST_ADDRESS}")
        # Steps only acted out (docker login, docker run …) report an SSH round trip's
        # worth of time; steps really carried out pass their own duration.
        took = seconds if seconds is not None else 0.05 + secrets.randbelow(200) / 1000
        outcome = "successful" if exit_code == 0 else "failed"
        self.lines.append(
            f"  INFO [{tag}] Finished in {took:.3f} seconds with exit status {exit_code} "
            f"({outcome})."
        )

    def text(self) -> str:
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.lines)


class KamalStandIn:
    def __init__(self, targets: KamalTargets) -> None:
        self.t = targets
        self._lock = asyncio.Lock()

    def _host_label(self, name: str) -> str:
        return f"{name} ({HOST_ADDRESS}:{self.t.ssh_ports.get(name, 0)})"

    async def run(self, argv: list[str]) -> KamalResult:
        transcript = _Transcript()
        try:
            async with self._lock:  # Kamal's deploy lock: one command at a time
                code = await self._dispatch(list(argv), transcript)
        except KamalUsageError as exc:
            transcript.say(str(exc))
            code = 1
        except Exception as exc:
            log.exception("kamal %s failed", shlex.join(argv))
            transcript.say(f"  ERROR ({exc.__class__.__name__}): {exc}")
            code = 1
        return KamalResult(code, transcript.text())

    async def _dispatch(self, argv: list[str], out: _Transcript) -> int:
        options = parse_options(argv)
        words = options.positional
        if not words:
            out.say(_HELP)
            return 0
        command, rest = words[0], words[1:]
        if command == "version":
            out.say(KAMAL_VERSION)
            return 0
        if command == "logs":  # the operations manual's shorthand for "app logs"
            command, rest = "app", ["logs", *rest]
        if command == "app" and rest:
            return await self._app(rest[0], rest[1:], options, out)
        if command == "rollback":
            if not rest:
                raise KamalUsageError('"kamal rollback" was called with no arguments\n'
                                      "Usage: \"kamal rollback [VERSION]\"")
            return await self._rollback(rest[0], out)
        if command == "accessory" and len(rest) >= 2:
            return await self._accessory(rest[0], rest[1], rest[2:], options, out)
        if command == "details":
            await self._proxy_details(out)
            await self._app_details(options, out)
            await self._accessory_details(out)
            return 0
        if command == "proxy" and rest[:1] == ["details"]:
            await self._proxy_details(out)
            return 0
        out.say(f'Could not find command "{" ".join(words[:2])}".')
        return 1

    # -- app ------------------------------------------------------------------------

    def _app_hosts(self, options: KamalOptions, role: str | None = None) -> list[str]:
        hosts = [h for h in self.t.deployment.app_hosts if role is None or role in h.roles]
        if options.roles:
            hosts = [h for h in hosts if any(r in h.roles for r in options.roles)]
        names = [h.name for h in hosts]
        if options.hosts:
            names = [n for n in names if n in options.hosts]
        if options.primary:
            names = names[:1]
        return names

    async def _on_host(self, host: str, command: str) -> tuple[int, str]:
        sink = BufferSink()
        code = await self.t.shells[host].run(command, sink)
        return code, (bytes(sink.stdout) + bytes(sink.stderr)).decode("utf-8", "replace")

    async def _app(self, sub: str, args: list[str], options: KamalOptions, out: _Transcript) -> int:
        if sub == "details":
            await self._app_details(options, out)
            return 0
        if sub == "containers":
            for host in self._app_hosts(options):
                for role in self._roles_on(host, options):
                    command = (f"docker container ls --all --filter label=service={SERVICE} "
                               f"--filter label=destination= --filter label=role={role}")
                    code, text = await self._on_host(host, command)
                    out.running(command, code)
                    out.say(f"App Host: {self._host_label(host)}")
                    out.say(text)
            return 0
        if sub == "version":
            for host in self._app_hosts(options, "web"):
                out.running(f"docker ps --latest --format '{{{{.Names}}}}' --filter "
                            f"label=service={SERVICE} --filter label=role=web")
                out.say(f"App Host: {self._host_label(host)}")
                out.say(self.t.deployment.current_version)
            return 0
        if sub == "logs":
            if options.follow:
                out.say("Following logs needs a terminal: run "
                        "`python -m rainbow_tui.demo.kamal --state-dir DIR app logs -f`")
                return 2
            role = options.roles[0] if options.roles else "web"
            status = 0
            for host in self._app_hosts(options, role):
                command = app_logs_command(options, role)
                code, text = await self._on_host(host, command)
                out.running(command, code)
                out.say(f"App Host: {self._host_label(host)}")
                out.say(text)
                status = status or code
            return status
        if sub == "boot":
            return await self._boot(None, out)
        if sub == "start":
            if self.t.deployment.app_running:
                for _host in self._app_hosts(options):
                    out.running(f"docker start {SERVICE}-web-{self.t.deployment.current_version}")
                return 0
            return await self._boot(None, out)
        if sub == "stop":
            return self._stop(options, out)
        if sub == "exec":
            if not args:
                raise KamalUsageError('"kamal app exec" was called with no arguments\n'
                                      'Usage: "kamal app exec [CMD...]"')
            return await self._app_exec(shlex.join(args) if len(args) > 1 else args[0],
                                        options, out)
        out.say(f'Could not find command "{sub}" in "app" namespace.')
        return 1

    def _roles_on(self, host: str, options: KamalOptions) -> list[str]:
        roles = [r for r in ("web", "job") if r in self.t.deployment.host(host).roles]
        return [r for r in roles if not options.roles or r in options.roles]

    async def _app_details(self, options: KamalOptions, out: _Transcript) -> None:
        for host in self._app_hosts(options):
            for role in self._roles_on(host, options):
                command = (f"docker ps --filter label=service={SERVICE} "
                           f"--filter label=destination= --filter label=role={role}")
                code, text = await self._on_host(host, command)
                out.running(command, code)
                out.say(f"App Host: {self._host_label(host)}")
                out.say(text)

    async def _proxy_details(self, out: _Transcript) -> None:
        for host in self._app_hosts(KamalOptions()):
            command = "docker ps --filter name=^kamal-proxy$"
            code, text = await self._on_host(host, command)
            out.running(command, code)
            out.say(f"Proxy Host: {self._host_label(host)}")
            out.say(text)

    async def _boot(self, version: str | None, out: _Transcript) -> int:
        deployment = self.t.deployment
        started = time.monotonic()
        target = version or deployment.current_version
        out.running("docker login registry.example -u [REDACTED] -p [REDACTED]")
        out.say(f"Start container with version {target} (or reboot if already running)...")
        new_containers = deployment.boot(target)
        for container in new_containers:
            out.running(f"docker container ls --all --filter name=^{container.name}$ --quiet")
            out.running(
                f"docker run --detach --restart unless-stopped --name {container.name} "
                f"--network kamal --hostname {container.host}-{container.short_id} "
                f"--env KAMAL_CONTAINER_NAME=\"{container.name}\" "
                f"--env KAMAL_VERSION=\"{target}\" --env-file .kamal/apps/{SERVICE}/env/roles/"
                f"{container.kind}.env --log-opt max-size=\"10m\" --label service=\"{SERVICE}\" "
                f"--label role=\"{container.kind}\" --label destination "
                f"{IMAGE_REPOSITORY}:{target}"
            )
            if container.kind == "web":
                out.running(
                    f"docker exec kamal-proxy kamal-proxy deploy {SERVICE}-web "
                    f"--target=\"{container.short_id}:80\" --deploy-timeout=\"30s\" "
                    "--drain-timeout=\"30s\" --buffer-requests --buffer-responses "
                    "--log-request-header=\"Cache-Control\" --log-request-header=\"Last-Modified\""
                    " --log-request-header=\"User-Agent\""
                )
        self.t.workload.restart_processes()
        cured = await self.t.drills.after_app_boot()
        if cured:
            log.info("app boot cured %s", ", ".join(cured))
        out.say("Releasing the deploy lock...")
        out.say(f"Finished all in {time.monotonic() - started:.1f} seconds")
        return 0

    def _stop(self, options: KamalOptions, out: _Transcript) -> int:
        for host in self._app_hosts(options):
            if "web" in self.t.deployment.host(host).roles:
                out.running(f"docker exec kamal-proxy kamal-proxy remove {SERVICE}-web")
            for role in self._roles_on(host, options):
                out.running(f"docker ps --quiet --filter label=service={SERVICE} "
                            f"--filter label=destination= --filter label=role={role} "
                            "| xargs docker stop")
        self.t.deployment.stop_app()
        return 0

    async def _rollback(self, version: str, out: _Transcript) -> int:
        deployment = self.t.deployment
        if not deployment.has_version(version):
            out.say(f"  ERROR (RuntimeError): The app version '{version}' is not available as a "
                    "container (use 'kamal app containers' for available versions)")
            return 1
        out.say(f"Rolling back to version {version}...")
        return await self._boot(version, out)

    async def _app_exec(self, command: str, options: KamalOptions, out: _Transcript) -> int:
        version = self.t.deployment.current_version
        how = "existing" if options.reuse else "new"
        out.say(f"Launching command with version {version} from {how} container...")
        status = 0
        for host in self._app_hosts(options):
            rails = _rails_command(command)
            if rails is not None:
                code, text = rails
            else:
                code, text = await self._on_host(host, command)
            runner = (f"docker exec {SERVICE}-web-{version}" if options.reuse else
                      f"docker run --rm --network kamal --env-file .kamal/apps/{SERVICE}/env/"
                      f"roles/web.env {IMAGE_REPOSITORY}:{version}")
            out.running(f"{runner} {command}", code)
            if code != 0:
                out.say(f"  ERROR (SSHKit::Command::Failed): Exception while executing on host "
                        f"{HOST_ADDRESS}: docker exit status: {code}")
                out.say(f"docker stdout: {text.strip() or 'Nothing written'}")
                return code
            out.say(f"App Host: {self._host_label(host)}")
            out.say(text)
            status = status or code
        return status

    # -- accessories ----------------------------------------------------------------

    async def _accessory(self, sub: str, name: str, args: list[str], options: KamalOptions,
                         out: _Transcript) -> int:
        if name != "db":
            out.say(f"  ERROR (ArgumentError): No accessory by the name of '{name}'")
            return 1
        if sub == "details":
            await self._accessory_details(out)
            return 0
        if sub == "reboot":
            return await self._reboot_db(out)
        if sub == "exec":
            if not args:
                raise KamalUsageError('"kamal accessory exec" was called with no arguments')
            return await self._accessory_exec(args[0] if len(args) == 1 else shlex.join(args),
                                              options, out)
        if sub == "logs":
            if options.follow:
                out.say("Following logs needs a terminal: run "
                        "`python -m rainbow_tui.demo.kamal --state-dir DIR accessory logs db -f`")
                return 2
            command = accessory_logs_command(options)
            db_host = self.t.deployment.db_host.name
            code, text = await self._on_host(db_host, command)
            out.running(command, code)
            out.say(text)
            return code
        out.say(f'Could not find command "{sub}" in "accessory" namespace.')
        return 1

    async def _accessory_details(self, out: _Transcript) -> None:
        db_host = self.t.deployment.db_host.name
        command = f"docker ps --filter label=service={DB_ACCESSORY}"
        code, text = await self._on_host(db_host, command)
        out.running(command, code)
        out.say(f"Accessory db Host: {self._host_label(db_host)}")
        out.say(text)

    async def _reboot_db(self, out: _Transcript) -> int:
        started = time.monotonic()
        out.running(f"docker container stop {DB_ACCESSORY}")
        self.t.deployment.reboot_accessory()
        await self.t.postgres.restart()
        out.running(f"docker container prune --force --filter label=service={DB_ACCESSORY}")
        out.running(
            f"docker run --name {DB_ACCESSORY} --detach --restart unless-stopped --network kamal "
            f"--log-opt max-size=\"10m\" --publish 127.0.0.1:5432:5432 "
            f"--env POSTGRES_USER=\"{ACCESSORY_SUPERUSER}\" --env POSTGRES_DB=\"{APP_DATABASE}\" "
            f"--env-file .kamal/apps/{SERVICE}/env/accessories/db.env "
            f"--volume $PWD/{DB_ACCESSORY}/data:/var/lib/postgresql/data "
            f"--label service=\"{DB_ACCESSORY}\" {DB_IMAGE}",
            seconds=time.monotonic() - started,
        )
        await self.t.drills.after_db_reboot()
        return 0

    async def _accessory_exec(self, command: str, options: KamalOptions, out: _Transcript) -> int:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise KamalUsageError(f"cannot parse command: {exc}") from exc
        how = "existing" if options.reuse else "new"
        out.say(f"Launching command from {how} container...")
        if not argv or argv[0] != "psql":
            program = argv[0] if argv else ""
            out.running(f"docker run --rm --network kamal {DB_IMAGE} {command}", 127)
            out.say(f"  ERROR (SSHKit::Command::Failed): Exception while executing on host "
                    f"{HOST_ADDRESS}: docker exit status: 127\ndocker stdout: Nothing written\n"
                    f"docker stderr: /usr/local/bin/docker-entrypoint.sh: exec: line 11: "
                    f"{program}: not found")
            return 127
        code, text = await self._psql(argv[1:])
        out.running(f"docker run --rm --network kamal {DB_IMAGE} {command}", code)
        if code != 0:
            out.say(f"  ERROR (SSHKit::Command::Failed): Exception while executing on host "
                    f"{HOST_ADDRESS}: docker exit status: {code}")
            out.say(f"docker stdout: Nothing written\ndocker stderr: {text.strip()}")
            return code
        out.say(text)
        return 0

    async def _psql(self, args: list[str]) -> tuple[int, str]:
        """The real psql, pointed at the demo server whatever host/port were given."""
        user = ACCESSORY_SUPERUSER
        database = APP_DATABASE
        passed: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            following = args[index + 1] if index + 1 < len(args) else ""
            if token in ("-U", "--username"):
                # Unknown roles fall back to the accessory's superuser, as in the manual.
                user = following if following in _KNOWN_DB_USERS else ACCESSORY_SUPERUSER
                index += 2
            elif token in ("-d", "--dbname"):
                database = following
                index += 2
            elif token in ("-h", "--host", "-p", "--port"):
                index += 2  # host and port are the demo server's, whatever was given
            elif token in _PSQL_OPTIONS_WITH_VALUE:
                passed += [token, following]
                index += 2
            elif token.startswith("-"):
                passed.append(token)
                index += 1
            else:
                database = token
                index += 1
        if not any(p in ("-c", "--command", "-l", "--list") for p in passed):
            return 1, "psql: interactive sessions are not available here; pass -c 'SQL'"
        pg = self.t.postgres
        process = await asyncio.create_subprocess_exec(
            str(pg.binaries.tool("psql")), "-X", "-h", HOST_ADDRESS, "-p", str(pg.port),
            "-U", user, "-d", database, *passed,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={"PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            preexec_fn=child_dies_with_parent(signal.SIGTERM),
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), PSQL_TIMEOUT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return 124, "psql: timed out"
        return process.returncode or 0, output.decode("utf-8", "replace")


def _rails_command(command: str) -> tuple[int, str] | None:
    """``bin/rails …`` inside the app container: the tasks the manual mentions."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv or argv[0] not in ("bin/rails", "./bin/rails", "rails", "bundle"):
        return None
    if argv[0] == "bundle":
        argv = argv[2:] if argv[1:2] == ["exec"] else argv[1:]
    task = argv[1] if len(argv) > 1 else ""
    if task == "tmp:cache:clear":
        return 0, ""
    if task == "monitoring:status":
        return 0, ("database: ok\ncache: ok\nstorage (s3): ok\nsolid_queue: ok\n")
    if task in ("-v", "--version", "version"):
        return 0, "Rails 8.0.1\n"
    if task == "about":
        return 0, ("About your application's environment\nRails version             8.0.1\n"
                   "Ruby version              ruby 3.3.6 (2024-11-05 revision 75015d4c1f) +YJIT "
                   "[x86_64-linux]\nEnvironment               production\n"
                   "Database adapter          postgresql\n")
    return 1, f"Unrecognized command \"{task}\" (Rails::Command::UnrecognizedCommandError)\n"


_HELP = """\
Commands:
  kamal accessory           # Manage accessories (db)
  kamal app                 # Manage application
  kamal details             # Show details about all containers
  kamal proxy               # Manage kamal-proxy
  kamal rollback [VERSION]  # Rollback app to VERSION
  kamal version             # Show Kamal version
"""
