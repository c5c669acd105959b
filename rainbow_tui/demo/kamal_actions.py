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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rainbow_tui.demo.containers import (
    DB_ACCESSORY,
    DB_IMAGE,
    IMAGE_REPOSITORY,
    SERVICE,
    Container,
    Deployment,
)
from rainbow_tui.demo.drills import DrillController
from rainbow_tui.demo.host_shell import BufferSink, HostShell
from rainbow_tui.demo.kamal_checkout import (
    AUTOMATIC_DEPLOY_LOCK_MESSAGE,
    MASTER_KEY,
    POSTGRES_PASSWORD,
    REGISTRY_PASSWORD,
    DeployLock,
    SecretMissing,
    Secrets,
    write_demo_secrets,
)
from rainbow_tui.demo.kamal_commands import (
    HOST_ADDRESS,
    KamalOptions,
    KamalUsageError,
    accessory_logs_command,
    app_logs_command,
    container_filters,
    current_container_command,
    parse_options,
)
from rainbow_tui.demo.postgres import PostgresServer
from rainbow_tui.demo.process_guard import child_dies_with_parent
from rainbow_tui.demo.schema import ACCESSORY_SUPERUSER, APP_DATABASE, APP_ROLE, SUPERUSER
from rainbow_tui.demo.security_scanners import scanner_output
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
    # The checkout kamal runs from (.kamal/secrets); None: secrets are not checked.
    checkout: Path | None = None
    # Destinations with a config/deploy.<destination>.yml; "" is the base file alone.
    destinations: tuple[str, ...] = ("", "staging")


class KamalFailure(Exception):
    """What bin/kamal prints for an exception: ``  ERROR (Class): message``, exit 1."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


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
        self._lock = asyncio.Lock()  # one command at a time, as SSH sessions would serialise
        self.lock_waiters = 0  # commands sleeping in --lock-wait
        if targets.checkout is not None:
            write_demo_secrets(targets.checkout)

    @property
    def deploy_lock(self) -> DeployLock:
        return self.t.drills.parts.deploy_lock

    def _host_label(self, name: str) -> str:
        return f"{name} ({HOST_ADDRESS}:{self.t.ssh_ports.get(name, 0)})"

    async def run(self, argv: list[str]) -> KamalResult:
        transcript = _Transcript()
        try:
            async with self._lock:
                code = await self._dispatch(list(argv), transcript)
        except KamalUsageError as exc:
            transcript.say(str(exc))
            code = 1
        except KamalFailure as exc:
            transcript.say(f"  ERROR ({exc.error_class}): {exc.message}")
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
        if options.destination not in self.t.destinations:
            # configuration.rb#load_config_file
            raise KamalFailure("RuntimeError", "Configuration file not found in "
                               f"config/deploy.{options.destination}.yml")
        command, rest = words[0], words[1:]
        if command == "version":
            out.say(KAMAL_VERSION)
            return 0
        if command == "logs":  # not a Kamal command: an alias some deploy.yml files define
            command, rest = "app", ["logs", *rest]
        if command == "app" and rest:
            return await self._app(rest[0], rest[1:], options, out)
        if command == "rollback":
            if not rest:
                raise KamalUsageError('"kamal rollback" was called with no arguments\n'
                                      "Usage: \"kamal rollback [VERSION]\"")
            return await self._rollback(rest[0], options, out)
        if command == "lock" and rest:
            return self._lock_command(rest[0], options, out)
        if command == "deploy" and not rest:
            return await self._deploy(options, out)
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

    # -- secrets and the deploy lock -----------------------------------------------

    def _secret(self, key: str, options: KamalOptions, host: str = HOST_ADDRESS) -> str:
        """A secret as a command on ``host`` reads it (SSHKit wraps the error)."""
        if self.t.checkout is None:
            return "demo"
        try:
            return Secrets(self.t.checkout, options.destination)[key]
        except SecretMissing as exc:
            raise KamalFailure("Kamal::ConfigurationError",
                               f"Exception while executing on host {host}: {exc}") from None

    def _registry_login(self, options: KamalOptions, out: _Transcript) -> None:
        password = self._secret(REGISTRY_PASSWORD, options)
        login = "docker login registry.example -u [REDACTED] -p [REDACTED]"
        if not password:
            out.running(login, 1)
            raise KamalFailure(
                "SSHKit::Command::Failed",
                f"Exception while executing on host {HOST_ADDRESS}: docker exit status: 1\n"
                "docker stdout: Nothing written\n"
                "docker stderr: Error: Cannot perform an interactive login from a non TTY device",
            )
        out.running(login)

    def _lock_command(self, sub: str, options: KamalOptions, out: _Transcript) -> int:
        """cli/lock.rb: status, acquire -m, release."""
        destination = options.destination
        held = self.deploy_lock.status(destination)
        if sub == "status":
            out.say(held if held is not None else "There is no deploy lock")
            return 0
        if sub == "release":
            if self.deploy_lock.release(destination):
                out.say("Released the deploy lock")
            else:
                out.say("There is no deploy lock")
            return 0
        if sub == "acquire":
            if not options.message:
                raise KamalUsageError("No value provided for required options '--message'")
            if held is not None:
                return self._lock_found(held, out)
            self.deploy_lock.acquire(destination, options.message,
                                     self.t.deployment.current_version)
            out.say("Acquired the deploy lock")
            return 0
        out.say(f'Could not find command "{sub}" in "lock" namespace.')
        return 1

    @staticmethod
    def _lock_found(held: str, out: _Transcript) -> int:
        out.say("Deploy lock already in place!")
        out.say(held)
        raise KamalFailure("Kamal::Cli::LockError",
                           "Deploy lock found. Run 'kamal lock help' for more information")

    async def _wait_for_lock(self, options: KamalOptions, out: _Transcript) -> None:
        """cli/base.rb#acquire_lock_with_wait (--lock-wait): a lock some deploy took
        automatically is waited for, polled every interval until the timeout; a lock
        taken by hand (kamal lock acquire -m) is not waited for."""
        timeout, interval = options.lock_wait_timeout, options.lock_wait_interval
        deadline = time.monotonic() + timeout
        out.say(f"Acquiring the deploy lock (waiting up to {_seconds(timeout)}s)...")
        shown = False
        while (held := self.deploy_lock.status(options.destination)) is not None:
            if not shown:
                out.say("Deploy lock is held by:")
                out.say(held)
                if AUTOMATIC_DEPLOY_LOCK_MESSAGE not in held:
                    raise KamalFailure("Kamal::Cli::LockError", "Deploy lock held manually, not "
                                       "waiting. Run 'kamal lock help' for more information")
                shown = True
            remaining = int(deadline - time.monotonic())
            if remaining <= 0:
                out.say(f"Timed out after {_seconds(timeout)}s waiting for the deploy lock")
                raise KamalFailure("Kamal::Cli::LockError", "Timed out waiting for deploy lock")
            out.say(f"Retrying in {_seconds(interval)}s ({remaining}s remaining)...")
            # Other kamal commands (the `lock release` this waits for) run meanwhile.
            self._lock.release()
            self.lock_waiters += 1
            try:
                await asyncio.sleep(min(interval, remaining))
            finally:
                self.lock_waiters -= 1
                await self._lock.acquire()

    async def _with_lock(self, options: KamalOptions, out: _Transcript,
                         body: Callable[[], Awaitable[int]]) -> int:
        """cli/base.rb#with_lock: take the lock, run, release it even when the run fails."""
        destination = options.destination
        for _host in self._app_hosts(options):
            out.running("mkdir -p .kamal")
        if options.lock_wait:
            await self._wait_for_lock(options, out)
        else:
            out.say("Acquiring the deploy lock...")
            held = self.deploy_lock.status(destination)
            if held is not None:
                return self._lock_found(held, out)
        self.deploy_lock.acquire(destination, AUTOMATIC_DEPLOY_LOCK_MESSAGE,
                                 self.t.deployment.current_version)
        try:
            code = await body()
        finally:
            out.say("Releasing the deploy lock...")
            self.deploy_lock.release(destination)
        return code

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

    def _puts_by_host(self, out: _Transcript, host: str, text: str, kind: str = "App") -> None:
        """sshkit_with_ext.rb#puts_by_host."""
        out.say(f"{kind} Host: {self._host_label(host)}")
        out.say(f"{text.rstrip(chr(10))}\n\n")

    async def _app(self, sub: str, args: list[str], options: KamalOptions, out: _Transcript) -> int:
        destination = options.destination
        if sub == "details":
            await self._app_details(options, out)
            return 0
        if sub == "containers":
            # One listing per host, every role (cli/app.rb#containers, list_containers).
            for host in self._app_hosts(options):
                command = f"docker container ls --all {container_filters(None, destination)}"
                code, text = await self._on_host(host, command)
                out.running(command, code)
                self._puts_by_host(out, host, text)
            return 0
        if sub == "version":
            for host in self._app_hosts(options):
                first = self._roles_on(host, options)[:1]
                if not first:
                    continue
                command = (current_container_command(first[0], destination)
                           .replace("--quiet", "--format '{{.Names}}'"))
                code, text = await self._on_host(host, command)
                out.running(command, code)
                prefix = "-".join([SERVICE, first[0], *([destination] if destination else [])])
                self._puts_by_host(out, host, text.strip().removeprefix(prefix + "-"))
            return 0
        if sub == "logs":
            if options.follow:
                out.say("  ERROR (demo): following logs runs over SSH from the kamal command "
                        "line itself")
                return 2
            # Every role on every host; a failed pipeline is "Nothing found".
            for host in self._app_hosts(options):
                for role in self._roles_on(host, options):
                    command = app_logs_command(options, role, destination)
                    code, text = await self._on_host(host, command)
                    out.running(command, code)
                    self._puts_by_host(out, host, text if code == 0 else "Nothing found")
            return 0
        if sub in ("boot", "start", "stop") and destination:
            raise KamalFailure("demo", f"the demo stack boots and stops only its production "
                               f"containers, not {destination}'s")
        if sub == "boot":
            return await self._with_lock(options, out,
                                         lambda: self._boot(options.version, options, out))
        if sub == "start":
            if self.t.deployment.app_running:
                async def start() -> int:
                    for _host in self._app_hosts(options):
                        out.running(f"docker start {SERVICE}-web-"
                                    f"{self.t.deployment.current_version}")
                    return 0
                return await self._with_lock(options, out, start)
            return await self._with_lock(options, out,
                                         lambda: self._boot(options.version, options, out))
        if sub == "stop":
            async def stop() -> int:
                return self._stop(options, out)
            return await self._with_lock(options, out, stop)
        if sub == "exec":
            if not args:
                raise KamalFailure("ArgumentError",
                                   "No command provided. You must specify a command to execute.")
            if options.interactive:
                out.say("  ERROR (demo): interactive commands run from the kamal command line "
                        "itself, on a terminal")
                return 2
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
                command = f"docker ps {container_filters(role, options.destination)}"
                code, text = await self._on_host(host, command)
                out.running(command, code)
                self._puts_by_host(out, host, text)

    async def _proxy_details(self, out: _Transcript) -> None:
        for host in self._app_hosts(KamalOptions()):
            command = "docker ps --filter name=^kamal-proxy$"
            code, text = await self._on_host(host, command)
            out.running(command, code)
            self._puts_by_host(out, host, text, "Proxy")

    def _named(self, host: str, name: str) -> Container | None:
        return next((c for c in self.t.deployment.containers.get(host, []) if c.name == name),
                    None)

    async def _boot(self, version: str | None, options: KamalOptions, out: _Transcript) -> int:
        """cli/app.rb#boot and cli/app/boot.rb: without a version, the image tagged latest."""
        deployment = self.t.deployment
        started = time.monotonic()
        if version == "latest":
            version = None
        tag = version or "latest"
        if version is None:
            out.say("Get most recent version available as an image...")
        out.say(f"Start container with version {tag} (or reboot if already running)...")
        hosts = self._app_hosts(KamalOptions())
        clashes: dict[str, Container] = {}
        old_versions: dict[str, Container] = {}
        for host in hosts:
            for role in self._roles_on(host, KamalOptions()):
                name = f"{SERVICE}-{role}-{tag}"
                out.running(f"docker container ls --all --filter name=^{name}$ --quiet")
                clash = self._named(host, name)
                if clash is not None:
                    clashes[clash.id] = clash
                running = deployment.running_container(host, role)
                if running is not None:
                    old_versions[f"{host}/{role}"] = running  # read after the rename
        self._secret(MASTER_KEY, options)  # the role's env file is uploaded with it
        new_containers = deployment.boot(version)
        for clash in clashes.values():
            renamed = clash.name.rsplit("-", 1)[-1]
            out.say(f"  INFO Renaming container {tag} to {renamed} as already deployed on "
                    f"{HOST_ADDRESS}")
            out.running(f"docker rename {SERVICE}-{clash.kind}-{tag} {clash.name}")
        for container in new_containers:
            out.running(f"mkdir -p .kamal/apps/{SERVICE}/env/roles")
            out.say(f"  INFO Uploading .kamal/apps/{SERVICE}/env/roles/{container.kind}.env "
                    "100.0%")
            out.running(
                f"docker run --detach --restart unless-stopped --name {container.name} "
                f"--network kamal --hostname {container.host}-{container.short_id} "
                f"--env KAMAL_CONTAINER_NAME=\"{container.name}\" "
                f"--env KAMAL_VERSION=\"{tag}\" --env KAMAL_HOST=\"{container.host}\" "
                f"--env-file .kamal/apps/{SERVICE}/env/roles/"
                f"{container.kind}.env --log-opt max-size=\"10m\" --label service=\"{SERVICE}\" "
                f"--label role=\"{container.kind}\" --label destination "
                f"{IMAGE_REPOSITORY}:{tag}"
            )
            if container.kind == "web":
                out.running(
                    f"docker exec kamal-proxy kamal-proxy deploy {SERVICE}-web "
                    f"--target=\"{container.short_id}:80\" --deploy-timeout=\"30s\" "
                    "--drain-timeout=\"30s\" --buffer-requests --buffer-responses "
                    "--log-request-header=\"Cache-Control\" --log-request-header=\"Last-Modified\""
                    " --log-request-header=\"User-Agent\""
                )
            old = old_versions.get(f"{container.host}/{container.kind}")
            if old is not None:
                out.running(f"docker container ls --all --filter name=^{old.name}$ --quiet "
                            "| xargs docker stop")
        for _host in hosts:
            out.running(f"docker tag {IMAGE_REPOSITORY}:{tag} {IMAGE_REPOSITORY}:latest")
        self.t.workload.restart_processes()
        cured = await self.t.drills.after_app_boot()
        if cured:
            log.info("app boot cured %s", ", ".join(cured))
        log.info("app boot of %s took %.1f s", tag, time.monotonic() - started)
        return 0

    async def _deploy(self, options: KamalOptions, out: _Transcript) -> int:
        """cli/main.rb#deploy: build and push the checkout's version, then under the
        deploy lock make sure kamal-proxy runs, stop stale containers, boot the new
        version and prune.  The demo has no builder: the image of a new version simply
        exists once "pushed"; its version stands for the checkout's new commit."""
        if options.destination:
            raise KamalFailure("demo", "the demo stack deploys only its production "
                               f"containers, not {options.destination}'s")
        started = time.monotonic()
        version = options.version or secrets.token_hex(20)
        out.say("Build and push app image...")
        self._registry_login(options, out)
        out.running(f"docker buildx build --push --platform linux/amd64 --builder "
                    f"kamal-local-docker-container -t {IMAGE_REPOSITORY}:{version} -t "
                    f"{IMAGE_REPOSITORY}:latest --label service=\"{SERVICE}\" --file "
                    "Dockerfile .")

        async def body() -> int:
            out.say("Ensure kamal-proxy is running...")
            for _host in self._app_hosts(KamalOptions(), role="web"):
                out.running("docker container start kamal-proxy || docker run --name "
                            "kamal-proxy --network kamal --detach --restart unless-stopped "
                            "basecamp/kamal-proxy")
            out.say("Detect stale containers...")
            code = await self._boot(version, options, out)
            out.say("Prune old containers and images...")
            for _host in self._app_hosts(KamalOptions()):
                out.running(f"docker ps -q -a --filter label=service={SERVICE} --filter "
                            "status=created --filter status=exited --filter status=dead "
                            "| tail -n +6 | while read container_id; do docker rm "
                            "$container_id; done")
            return code

        code = await self._with_lock(options, out, body)
        out.say(f"  Finished all in {time.monotonic() - started:.1f} seconds")
        return code

    def _stop(self, options: KamalOptions, out: _Transcript) -> int:
        for host in self._app_hosts(options):
            if "web" in self.t.deployment.host(host).roles:
                out.running(f"docker exec kamal-proxy kamal-proxy remove {SERVICE}-web")
            for role in self._roles_on(host, options):
                out.running(f"{current_container_command(role)} | xargs docker stop")
        self.t.deployment.stop_app()
        return 0

    async def _rollback(self, version: str, options: KamalOptions, out: _Transcript) -> int:
        """cli/main.rb#rollback: a version with no container is a message, exit 0."""
        if options.destination:
            raise KamalFailure("demo", "the demo stack rolls back only its production "
                               f"containers, not {options.destination}'s")
        started = time.monotonic()

        async def body() -> int:
            missing: str | None = None
            for host in self._app_hosts(KamalOptions()):
                for role in self._roles_on(host, KamalOptions()):
                    name = f"{SERVICE}-{role}-{version}"
                    out.running(f"docker container ls --all --filter name=^{name}$ --quiet")
                    if missing is None and self._named(host, name) is None:
                        missing = host
            if missing is not None:
                out.say(f"Error looking for container version {version}: Exception while "
                        f"executing on host {HOST_ADDRESS}: Container not found")
                out.say(f"The app version '{version}' is not available as a container "
                        "(use 'kamal app containers' for available versions)")
                return 0
            out.say(f"Rolling back to version {version}...")
            return await self._boot(version, options, out)

        code = await self._with_lock(options, out, body)
        out.say(f"  Finished all in {time.monotonic() - started:.1f} seconds")
        return code

    async def _app_exec(self, command: str, options: KamalOptions, out: _Transcript) -> int:
        """cli/app.rb#exec: a new container of the latest image, or --reuse the running one."""
        version = self.t.deployment.current_version
        if options.reuse:
            out.say("Get current version of running container...")
            out.say(f"Launching command with version {version} from existing container...")
        else:
            out.say("Get most recent version available as an image...")
            out.say("Launching command with version latest from new container...")
            self._registry_login(options, out)
        status = 0
        for host in self._app_hosts(options):
            for role in self._roles_on(host, options):
                # The scanners read the deployed image's Gemfile.lock (a drill pins it).
                ran = (scanner_output(command, self.t.drills.parts.faults.pinned_gems)
                       or _rails_command(command))
                if ran is not None:
                    code, text = ran
                else:
                    code, text = await self._on_host(host, command)
                runner = (f"docker exec {SERVICE}-{role}-{version}" if options.reuse else
                          f"docker run --rm --name {SERVICE}-{role}-exec-latest-"
                          f"{secrets.token_hex(3)} --network kamal --env-file .kamal/apps/"
                          f"{SERVICE}/env/roles/{role}.env {IMAGE_REPOSITORY}:latest")
                out.running(f"{runner} {command}", code)
                if code != 0:
                    raise KamalFailure(
                        "SSHKit::Command::Failed",
                        f"Exception while executing on host {HOST_ADDRESS}: docker exit status: "
                        f"{code}\ndocker stdout: {text.strip() or 'Nothing written'}",
                    )
                self._puts_by_host(out, host, text)
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
            return await self._with_lock(options, out, lambda: self._reboot_db(options, out))
        if sub == "exec":
            if not args:
                raise KamalUsageError('"kamal accessory exec" was called with no arguments')
            if options.interactive:
                out.say("  ERROR (demo): interactive commands run from the kamal command line "
                        "itself, on a terminal")
                return 2
            return await self._accessory_exec(args[0] if len(args) == 1 else shlex.join(args),
                                              options, out)
        if sub == "logs":
            if options.follow:
                out.say("  ERROR (demo): following logs runs over SSH from the kamal command "
                        "line itself")
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
        self._puts_by_host(out, db_host, text, "Accessory db")

    async def _reboot_db(self, options: KamalOptions, out: _Transcript) -> int:
        started = time.monotonic()
        self._registry_login(options, out)
        out.running(f"docker container stop {DB_ACCESSORY}")
        self._secret(POSTGRES_PASSWORD, options)  # its env file is uploaded again
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
        """cli/accessory.rb#exec: ``docker exec`` into the accessory with ``--reuse``,
        else ``docker run --rm`` of its image (commands/accessory.rb): a fresh container
        with no server in it, where a client reaches PostgreSQL only over the network."""
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise KamalUsageError(f"cannot parse command: {exc}") from exc
        program = argv[0] if argv else ""
        if options.reuse:
            out.say("Launching command from existing container...")
            runner = f"docker exec {DB_ACCESSORY}"
        else:
            out.say("Launching command from new container...")
            self._registry_login(options, out)
            runner = (f"docker run --rm --network kamal --env "
                      f"POSTGRES_USER=\"{ACCESSORY_SUPERUSER}\" "
                      f"--env POSTGRES_DB=\"{APP_DATABASE}\" --env-file .kamal/apps/{SERVICE}/env/"
                      f"accessories/db.env --volume $PWD/{DB_ACCESSORY}/data:/var/lib/postgresql/"
                      f"data {DB_IMAGE}")
        if program not in _PG_CLIENTS:
            out.running(f"{runner} {command}", 127)
            raise KamalFailure(
                "SSHKit::Command::Failed",
                f"Exception while executing on host {HOST_ADDRESS}: docker exit status: 127\n"
                "docker stdout: Nothing written\ndocker stderr: /usr/local/bin/"
                f"docker-entrypoint.sh: exec: line 11: {program}: not found",
            )
        if options.reuse:
            code, text = await self._pg_client(program, argv[1:])
        else:
            code, text = _unreachable_server(program, argv[1:])
        out.running(f"{runner} {command}", code)
        if code != 0:
            raise KamalFailure(
                "SSHKit::Command::Failed",
                f"Exception while executing on host {HOST_ADDRESS}: docker exit status: {code}\n"
                f"docker stdout: Nothing written\ndocker stderr: {text.strip()}",
            )
        self._puts_by_host(out, self.t.deployment.db_host.name, text, "Accessory db")
        return 0

    async def _pg_client(self, program: str, args: list[str]) -> tuple[int, str]:
        if program == "pg_isready":
            return 0, f"{_SOCKET.rsplit('/', 1)[0]}:5432 - accepting connections\n"
        if program == "pg_restore":
            files = [a for a in args if not a.startswith("-") and a != _option(
                args, "-d", "--dbname", "-U", "--username", "-j", "--jobs", "-n", "-t")]
            # The container sees its own filesystem: the data volume, no /backup.
            if files and not files[-1].startswith("/var/lib/postgresql/data/"):
                return 1, (f"pg_restore: error: could not open input file \"{files[-1]}\": "
                           "No such file or directory\n")
        if program != "psql":
            return 1, f"{program}: not available in the demo's database container\n"
        return await self._psql(args)

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


_PG_CLIENTS = ("psql", "pg_dump", "pg_restore", "pg_isready")
_SOCKET = "/var/run/postgresql/.s.PGSQL.5432"


def _seconds(value: float) -> str:
    """A number of seconds as Ruby prints Thor's numeric option (60, 0.5)."""
    return str(int(value)) if value == int(value) else str(value)


def _option(args: list[str], *names: str) -> str | None:
    for index, token in enumerate(args):
        for name in names:
            if token == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _unreachable_server(program: str, args: list[str]) -> tuple[int, str]:
    """A PostgreSQL client in a fresh ``postgres`` image container: no server behind
    the socket; over the network, the server asks for a password none was given."""
    host = _option(args, "-h", "--host")
    code = 2 if program == "psql" else 1
    if program == "pg_isready":
        where = host or _SOCKET.rsplit("/", 1)[0]
        return (0, f"{where}:5432 - accepting connections\n") if host else (
            2, f"{where}:5432 - no response\n")
    if host:
        return code, (f"{program}: error: connection to server at \"{host}\" (172.18.0.3), "
                      "port 5432 failed: fe_sendauth: no password supplied\n")
    return code, (f"{program}: error: connection to server on socket \"{_SOCKET}\" failed: "
                  "No such file or directory\n\tIs the server running locally and accepting "
                  "connections on that socket?\n")
