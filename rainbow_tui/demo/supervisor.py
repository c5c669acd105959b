"""The demo stack's supervisor: starts every part, serves until told to stop.

Order of start-up: simulated hosts and containers, PostgreSQL (from the cached
template) together with the SSH listeners and the HTTP server, then the workload,
then the drills asked for on the command line.  Only when all of that answers is
``stack.json`` written (atomically, last), so a reader never sees a half-started
stack.  SIGTERM, SIGINT and SIGHUP stop every part; PostgreSQL gets a fast shutdown
and is killed if it lingers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import random
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rainbow_tui.demo.backups import BACKUP_DIRECTORY, BackupScheduler, DumpMaker
from rainbow_tui.demo.containers import SERVICE, Container, Deployment, HostSpec
from rainbow_tui.demo.deploy_files import write_deploy_files
from rainbow_tui.demo.drills import DrillController, DrillError, StackParts
from rainbow_tui.demo.endpoints import DB_DATA_MOUNT, STACK_FILE, DemoEndpoints, DemoHost
from rainbow_tui.demo.faults import FaultState
from rainbow_tui.demo.github_standin import DEMO_TOKEN as GITHUB_TOKEN
from rainbow_tui.demo.github_standin import GithubStandIn
from rainbow_tui.demo.host_shell import HostShell
from rainbow_tui.demo.hosts_sim import SimHost
from rainbow_tui.demo.kamal_actions import KamalStandIn, KamalTargets
from rainbow_tui.demo.loggen import DEFAULT_LOG_RATE, LogContext, LogHub, docker_timestamp
from rainbow_tui.demo.postgres import (
    PostgresServer,
    bring_seed_times_to_now,
    grant_monitor,
    prepare_server,
)
from rainbow_tui.demo.s3_standin import ACCESS_KEY_ID, PROBE_KEY, S3StandIn, demo_bucket
from rainbow_tui.demo.schema import (
    APP_DATABASE,
    APP_ROLE,
    MONITOR_ROLE,
    QUEUE_DATABASE,
    SUPERUSER,
)
from rainbow_tui.demo.security_scanners import write_gemfile_lock
from rainbow_tui.demo.sentry_standin import DEMO_TOKEN, SentryStandIn, seed_history
from rainbow_tui.demo.sshd import SSH_USER, SshFleet, generate_keys, write_known_hosts
from rainbow_tui.demo.web import ControlError, DemoWebServer
from rainbow_tui.demo.workload import Workload

log = logging.getLogger("rainbow_tui.demo.supervisor")

SUPERVISOR_LOG = "supervisor.log"
MAX_LOG_RATE = 100_000.0
# History the containers that were "already running" start with (at the default rate).
BACKFILL_SECONDS = 120.0


@dataclass(frozen=True)
class ServeOptions:
    state_dir: Path
    drills: tuple[str, ...] = ()
    log_rate: float = DEFAULT_LOG_RATE
    app_hosts: int = 2
    # False: the console's role gets no pg_monitor / pg_signal_backend, to show
    # what a monitoring role without them sees.
    monitor_grants: bool = True


def host_specs(app_hosts: int) -> tuple[HostSpec, ...]:
    """app-1 runs the web and job roles, app-2… the web role, db-1 the database."""
    apps = [HostSpec("app-1", ("web", "job"))]
    apps += [HostSpec(f"app-{n}", ("web",)) for n in range(2, app_hosts + 1)]
    return (*apps, HostSpec("db-1", ("db",)))


class DemoStack:
    """Every part of the stand-in system, and the control API's implementation."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.state_dir = options.state_dir
        self.rng = random.Random()
        self.faults = FaultState()
        self.specs = host_specs(options.app_hosts)
        self.deployment = Deployment.initial(self.specs, self.rng)
        self.hosts = {
            spec.name: SimHost.create(spec.name, spec.roles, self.rng.getrandbits(32))
            for spec in self.specs
        }
        # SaaS stand-ins: the app reports its exceptions to Sentry from its first line.
        self.sentry = SentryStandIn()
        seed_history(self.sentry, time.time())
        self.s3: S3StandIn = demo_bucket()
        self.github = GithubStandIn()
        self.hub = LogHub(
            LogContext(self.faults, lambda: self.deployment.app_running,
                       lambda: self.deployment.current_version,
                       report_exception=self._report_exception),
            random.Random(self.rng.getrandbits(64)),
            default_rate=options.log_rate,
        )
        self.deployment.started.append(self.hub.container_started)
        self.deployment.stopped.append(self.hub.container_stopped)
        self.deployment.announce_running()
        self.hub.backfill(BACKFILL_SECONDS)
        self.shells = {
            name: HostShell(host, self.deployment, self.hub, SSH_USER)
            for name, host in self.hosts.items()
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._temporary_socket_dir: Path | None = None
        self.postgres: PostgresServer | None = None
        self.workload: Workload | None = None
        self.drills: DrillController | None = None
        self.kamal_stand_in: KamalStandIn | None = None
        self.fleet: SshFleet | None = None
        self.web: DemoWebServer | None = None
        self.endpoints: DemoEndpoints | None = None
        self.backups: BackupScheduler | None = None

    # -- start and stop -------------------------------------------------------------

    async def start(self) -> DemoEndpoints:
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / STACK_FILE).unlink(missing_ok=True)
        self._spawn(self.hub.run(), "log-hub")
        self._spawn(self._advance_hosts(), "hosts")

        postgres, _ = await asyncio.gather(self._start_postgres(), self._start_ssh())
        self._spawn(self._forward_postgres_log(postgres), "postgres-log")
        job_host = self.specs[0].name
        self.workload = Workload(
            dsn=postgres.dsn(APP_ROLE, APP_DATABASE),
            queue_dsn=postgres.dsn(APP_ROLE, QUEUE_DATABASE),
            faults=self.faults,
            job_container_running=lambda: self.deployment.running_container(job_host, "job")
            is not None,
            web_running=lambda: self.deployment.app_running,
            job_hostname=f"{job_host}-{self.rng.getrandbits(48):012x}",
            rng=random.Random(self.rng.getrandbits(64)),
        )
        await self.workload.start()
        self.backups = await self._start_backups(postgres)
        self.drills = DrillController(
            StackParts(faults=self.faults, workload=self.workload, postgres=postgres,
                       hosts=self.hosts, deployment=self.deployment, backups=self.backups,
                       sentry=self.sentry, github=self.github)
        )
        assert self.fleet is not None
        self.kamal_stand_in = KamalStandIn(
            KamalTargets(deployment=self.deployment, shells=self.shells, drills=self.drills,
                         postgres=postgres, workload=self.workload, ssh_ports=self.fleet.ports,
                         checkout=self.state_dir)
        )
        self.web = DemoWebServer(self, asyncio.get_running_loop())
        self.web.start()
        self.sentry.start()
        self.s3.start()
        self.github.start()
        for name in self.options.drills:
            await self.drills.start(name, at_startup=True)
        # Some faults need a moment to pass their thresholds (a query's age).
        wait = self.drills.observable_from() - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.endpoints = self._endpoints(postgres)
        await self._verify_parts_answer(self.endpoints)
        # The checkout's Kamal configuration, before stack.json says the stack is up.
        write_deploy_files(self.state_dir, SERVICE, self.endpoints.hosts, SSH_USER)
        write_gemfile_lock(self.state_dir)
        self._write_stack_file(self.endpoints)
        log.info("stack ready in %.2fs: %s", time.monotonic() - started, self.endpoints.control_url)
        return self.endpoints

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _start_postgres(self) -> PostgresServer:
        postgres, temporary_socket_dir = await prepare_server(self.state_dir)
        self._temporary_socket_dir = temporary_socket_dir
        self.postgres = postgres
        await postgres.start()
        await grant_monitor(postgres, with_role_grants=self.options.monitor_grants)
        await bring_seed_times_to_now(postgres)
        return postgres

    async def _start_backups(self, postgres: PostgresServer) -> BackupScheduler:
        """db-1's /backup, a real directory of the stack, and its nightly job."""
        db_host = self.deployment.db_host.name
        directory = self.state_dir / "hosts" / db_host / "backup"
        maker = DumpMaker(postgres.binaries.tool("pg_dump"), postgres.dsn(SUPERUSER, APP_DATABASE))
        shell = self.shells[db_host]
        shell.files.mounts[BACKUP_DIRECTORY] = directory
        shell.dump_maker = maker
        scheduler = BackupScheduler(directory, maker)
        await scheduler.start()
        return scheduler

    async def _start_ssh(self) -> None:
        client_key, host_keys, client_path = await asyncio.to_thread(
            generate_keys, self.state_dir / "ssh", list(self.hosts)
        )
        self.fleet = SshFleet(shells=self.shells, host_keys=host_keys, authorized=client_key)
        await self.fleet.start()
        write_known_hosts(
            self.state_dir / "ssh" / "known_hosts",
            [(self.fleet.ports[name], host_keys[name]) for name in self.hosts],
        )
        self._client_key_path = client_path

    def _endpoints(self, postgres: PostgresServer) -> DemoEndpoints:
        assert self.fleet is not None and self.web is not None
        base = f"http://127.0.0.1:{self.web.port}"
        return DemoEndpoints(
            state_dir=self.state_dir,
            service=SERVICE,
            pg_dsn=postgres.dsn(MONITOR_ROLE, APP_DATABASE),
            pg_queue_dsn=postgres.dsn(MONITOR_ROLE, QUEUE_DATABASE),
            pg_admin_dsn=postgres.dsn(SUPERUSER, APP_DATABASE),
            pg_admin_queue_dsn=postgres.dsn(SUPERUSER, QUEUE_DATABASE),
            pg_owner_dsn=postgres.dsn(APP_ROLE, APP_DATABASE),
            pg_owner_queue_dsn=postgres.dsn(APP_ROLE, QUEUE_DATABASE),
            health_url=f"{base}/up",
            control_url=f"{base}/_demo",
            ssh_user=SSH_USER,
            client_key=self._client_key_path,
            known_hosts=self.state_dir / "ssh" / "known_hosts",
            hosts=tuple(
                DemoHost(spec.name, spec.roles, "127.0.0.1", self.fleet.ports[spec.name])
                for spec in self.specs
            ),
            kamal_command=(sys.executable, "-m", "rainbow_tui.demo.kamal", "--state-dir",
                           str(self.state_dir)),
            supervisor_pid=os.getpid(),
            db_data_mount=DB_DATA_MOUNT,
            pg_bin_dir=str(postgres.binaries.bin_dir),
            sentry_url=self.sentry.base_url(),
            sentry_token=DEMO_TOKEN,
            sentry_organization=self.sentry.organization,
            sentry_project=self.sentry.project,
            s3_endpoint_url=self.s3.endpoint_url(),
            s3_bucket=next(iter(self.s3.buckets)),
            s3_region=self.s3.region,
            s3_probe_key=PROBE_KEY,
            s3_access_key_id=ACCESS_KEY_ID,
            s3_secret_access_key=self.s3.keys[ACCESS_KEY_ID],
            github_api_url=self.github.base_url(),
            github_token=GITHUB_TOKEN,
            github_repository=self.github.repository,
        )

    async def _verify_parts_answer(self, endpoints: DemoEndpoints) -> None:
        """Knock on every door stack.json will name before naming it."""
        for host in endpoints.hosts:
            reader, writer = await asyncio.open_connection(host.address, host.port)
            banner = await asyncio.wait_for(reader.readline(), 5)
            writer.close()
            if not banner.startswith(b"SSH-2.0-"):
                raise RuntimeError(f"ssh on {host.name} answered {banner!r}")

        def fetch_health() -> int:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(endpoints.health_url, timeout=5) as response:
                    status: int = response.status
            except urllib.error.HTTPError as exc:  # a drill may make /up answer 500
                status = exc.code
            return status

        await asyncio.to_thread(fetch_health)

    def _write_stack_file(self, endpoints: DemoEndpoints) -> None:
        target = self.state_dir / STACK_FILE
        temporary = target.with_name(f".{STACK_FILE}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(endpoints.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(target)

    async def stop(self) -> None:
        log.info("stopping the stack")
        (self.state_dir / STACK_FILE).unlink(missing_ok=True)
        if self.drills is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drills.stop_all(), 3.0)
        if self.backups is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.backups.stop(), 3.0)
        if self.workload is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.workload.stop(), 3.0)
        if self.fleet is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.fleet.stop(), 3.0)
        if self.web is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self.web.stop), 3.0)
        for stand_in in (self.sentry, self.s3, self.github):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(stand_in.stop), 3.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.postgres is not None:
            await self.postgres.stop(grace_seconds=4.0)
            if not self.postgres.running:
                # A stopped demo database is worth nothing and weighs ~40 MB; its log stays.
                shutil.rmtree(self.postgres.data_dir, ignore_errors=True)
        if self._temporary_socket_dir is not None:
            shutil.rmtree(self._temporary_socket_dir, ignore_errors=True)
        log.info("stack stopped")

    def _report_exception(self, exception_class: str, message: str, culprit: str,
                          at: float) -> None:
        # sentry-ruby tags each event with the user; the demo's are anonymous devices.
        self.sentry.capture(exception_class, message, culprit, at=at,
                            user=f"device-{self.rng.randrange(400)}")

    # -- background chores ----------------------------------------------------------

    async def _advance_hosts(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for host in self.hosts.values():
                host.advance()

    async def _forward_postgres_log(self, postgres: PostgresServer) -> None:
        """The real server's own log lines join the db container's log stream."""
        offset = postgres.log_path.stat().st_size if postgres.log_path.exists() else 0
        partial = b""
        db_host = self.deployment.db_host.name
        while True:
            await asyncio.sleep(0.5)
            try:
                with postgres.log_path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except OSError:
                continue
            offset += len(chunk)
            data = partial + chunk
            *complete, partial = data.split(b"\n")
            container = self.deployment.running_container(db_host, "db")
            if complete and container is not None:
                self.hub.append_lines(
                    container.id, [line.decode("utf-8", "replace") for line in complete]
                )

    # -- the control API (runs on the event loop) -----------------------------------

    def app_healthy(self) -> bool:
        return self.up_status() == 200

    def up_status(self) -> int:
        """What ``GET /up`` answers: 500 from Rails when broken or stopped, 502 from
        the proxy while the web containers crash-loop (no healthy target)."""
        if self.faults.web_crash_loop:
            return 502
        return 200 if self.deployment.app_running and not self.faults.service_broken else 500

    async def state(self) -> dict[str, Any]:
        assert self.drills is not None and self.fleet is not None and self.postgres is not None
        assert self.workload is not None
        hosts = []
        for spec in self.specs:
            sim = self.hosts[spec.name]
            containers = [
                {"name": c.name, "id": c.id, "state": c.state, "kind": c.kind,
                 "version": c.version, "destination": c.destination,
                 "restart_count": c.restart_count, "exit_code": c.exit_code,
                 "log_rate": self.hub.rate_of(c.id) if c.running else 0.0}
                for c in self.deployment.containers[spec.name]
            ]
            entry: dict[str, Any] = {
                "name": spec.name,
                "roles": list(spec.roles),
                "memory_percent": round(sim.memory_percent(), 2),
                "cpu_percent": round(sim.cpu_percent(), 2),
                "disk_percent": sim.disk_percent("/"),
                "containers": containers,
            }
            if "db" in spec.roles:
                entry["data_disk_percent"] = sim.disk_percent(DB_DATA_MOUNT)
            hosts.append(entry)
        return {
            "service": SERVICE,
            "app_state": "running" if self.deployment.app_running else "stopped",
            "health": self.up_status(),
            "current_version": self.deployment.current_version,
            "versions": list(self.deployment.versions),
            "drills": self.drills.describe(),
            "faults": self.faults.as_dict(),
            "hosts": hosts,
            "log_rate": self.hub.default_rate,
            # kamal commands waiting for the deploy lock (--lock-wait), for the tests.
            "lock_waiters": self.kamal_stand_in.lock_waiters if self.kamal_stand_in else 0,
            "ssh": {"listening": self.fleet.listening, "ports": dict(self.fleet.ports),
                    "connections": len(self.fleet.connections)},
            "postgres": {"port": self.postgres.port, "pid": self.postgres.pid,
                         "running": self.postgres.running, "restarts": self.postgres.restarts},
            "workload": asdict(self.workload.stats),
            "sentry_issues": [
                {"title": issue.title, "culprit": issue.culprit, "count": issue.count,
                 "status": issue.status, "substatus": issue.substatus(time.time())}
                for issue in self.sentry.issues()
            ],
            "db_data_mount": DB_DATA_MOUNT,
            "supervisor_pid": os.getpid(),
        }

    async def start_drill(self, name: str) -> dict[str, Any]:
        assert self.drills is not None
        try:
            await self.drills.start(name)
        except DrillError as exc:
            raise ControlError(404, str(exc)) from exc
        return {"ok": True, "drills": self.drills.describe()}

    async def stop_drill(self, name: str) -> dict[str, Any]:
        assert self.drills is not None
        try:
            was_active = await self.drills.stop(name)
        except DrillError as exc:
            raise ControlError(404, str(exc)) from exc
        return {"ok": True, "was_active": was_active, "drills": self.drills.describe()}

    async def kamal(self, argv: list[str]) -> dict[str, Any]:
        assert self.kamal_stand_in is not None
        result = await self.kamal_stand_in.run(argv)
        return {"exit_code": result.exit_code, "output": result.output}

    def _container(self, host: object, container: object) -> Container:
        if not isinstance(host, str) or host not in self.hosts:
            raise ControlError(404, f"unknown host {host!r}; hosts: {', '.join(self.hosts)}")
        if not isinstance(container, str):
            raise ControlError(400, "container must be a name or an id")
        found = self.deployment.find(host, container)
        if found is None:
            raise ControlError(404, f"no container {container!r} on {host}")
        return found

    async def inject_log(self, body: dict[str, Any]) -> dict[str, Any]:
        container = self._container(body.get("host"), body.get("container"))
        try:
            data = base64.b64decode(str(body.get("data_b64", "")), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ControlError(400, f"data_b64 is not base64: {exc}") from exc
        stream = self.hub.stream_for(container.id)
        if stream is None or stream.closed:
            raise ControlError(409, f"{container.name} is not running")
        ts = stream.append_raw(data)
        return {"ok": True, "container_id": container.id, "bytes": len(data),
                "timestamp": docker_timestamp(ts)}

    async def set_log_rate(self, body: dict[str, Any]) -> dict[str, Any]:
        rate = body.get("lines_per_s")
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not (
            0 <= rate <= MAX_LOG_RATE
        ):
            raise ControlError(400, f"lines_per_s must be a number in [0, {MAX_LOG_RATE:g}]")
        host, container = body.get("host"), body.get("container")
        if container is not None:
            targets = [self._container(host, container).id]
        elif host is not None:
            if host not in self.hosts:
                raise ControlError(404, f"unknown host {host!r}")
            targets = [c.id for c in self.deployment.containers[str(host)] if c.running]
        else:
            self.hub.set_rate(float(rate))
            return {"ok": True, "default_rate": float(rate)}
        self.hub.set_rate(float(rate), targets)
        return {"ok": True, "containers": targets, "lines_per_s": float(rate)}

    async def ssh_stop(self) -> dict[str, Any]:
        assert self.fleet is not None
        await self.fleet.stop()
        return {"ok": True, "listening": False}

    async def ssh_start(self) -> dict[str, Any]:
        assert self.fleet is not None
        await self.fleet.start()
        return {"ok": True, "listening": True, "ports": dict(self.fleet.ports)}


async def serve(options: ServeOptions) -> int:
    """Run the stack until SIGTERM/SIGINT/SIGHUP; the exit status of ``serve``."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop_requested.set)
    stack = DemoStack(options)
    try:
        start = asyncio.ensure_future(stack.start())
        waiter = asyncio.ensure_future(stop_requested.wait())
        await asyncio.wait({start, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():
            log.info("stop requested during start-up")
            start.cancel()
            with contextlib.suppress(BaseException):
                await start
            return 0
        start.result()
        await waiter
        return 0
    except Exception:
        log.exception("the demo stack failed")
        return 1
    finally:
        await stack.stop()
