"""Incident drills: faults injected into the demo stack, each cured by its runbook.

* ``service-down``: /up and every request answer 500.
  Cured by ``app boot`` or ``rollback``.
* ``db-connections``: ~85 real idle sessions held as ``rainbow``; pool timeouts in the
  web log.  Cured by ``accessory reboot db`` (the sessions die), then ``app boot``.
* ``memory-leak``: app hosts' memory climbs past 80 %, then 90 %.  Cured by ``app boot``.
* ``job-backlog``: > 500, then > 1000 ready jobs; workers claim none.  Cured by
  ``app boot`` (the workers drain it).
* ``failed-jobs``: > 50 failed executions of one class, more failing.  ``app boot``
  stops new failures; the recorded ones wait to be retried or discarded.
* ``slow-queries``: app sessions running 30 s queries; slow requests in the web log.
  Cured by ``app boot`` (their backends are terminated).
* ``crash-loop``: every production web container fails at boot (exit code 1) and
  docker restarts it again and again (state ``restarting``, ``RestartCount`` growing,
  the boot failure in its log); /up answers 502 from the proxy.  Cured by ``app boot``
  (fresh containers replace the looping ones).
* ``backup-stale``: the nightly full dump has stopped: the latest full in db-1's
  /backup is 30 hours old and no new one comes.  Cured by a manual backup (the
  ``backup`` runbook's ``pg_dump -Fc``), which is a full dump too.
* ``sentry-new-errors``: the weather provider times out; the forecast endpoint
  serves its cache and reports each timeout to Sentry, a new issue
  (``Faraday::TimeoutError``).  Requests still succeed; ended directly (the
  provider recovers), the issue stays new in Sentry for the day.
* ``vulnerable-gem``: the deployed image's Gemfile.lock pins rack 3.1.10, which two
  high advisories cover (CVE-2025-27610, CVE-2025-46727): bundler-audit in the app
  container reports them (and Dependabot, where the GitHub stand-in runs, alerts).
  ``app boot`` boots the same image and cures nothing; ended directly (a deploy
  of the fixed lockfile).
* ``deploy-lock``: a deploy died halfway (its SSH session dropped): the app answers
  500 and Kamal's deploy lock is still held, so ``app boot`` is refused ("Deploy lock
  found") until ``kamal lock release``.  Cured by ``lock release``, then ``app boot``.

A drill started with ``--drill`` (``at_startup``) is already past its thresholds when
the stack announces itself, so the console's first check sees the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from rainbow_tui.demo.backups import BackupScheduler
from rainbow_tui.demo.containers import Container, Deployment
from rainbow_tui.demo.endpoints import DRILLS
from rainbow_tui.demo.faults import FaultState
from rainbow_tui.demo.github_standin import GithubStandIn, StandInAlert
from rainbow_tui.demo.hosts_sim import SimHost
from rainbow_tui.demo.kamal_checkout import AUTOMATIC_DEPLOY_LOCK_MESSAGE, DeployLock
from rainbow_tui.demo.loggen import FORECAST_TIMEOUT
from rainbow_tui.demo.postgres import PostgresServer
from rainbow_tui.demo.schema import SUPERUSER
from rainbow_tui.demo.security_scanners import ADVISORIES, VULNERABLE_GEM_PINS
from rainbow_tui.demo.sentry_standin import SentryStandIn, StandInIssue
from rainbow_tui.demo.workload import Workload

log = logging.getLogger("rainbow_tui.demo.drills")

HELD_CONNECTIONS = 85  # with the workload's 7 this passes the 80-connection warning
SLOW_SESSIONS = 3
SLOW_QUERY = (
    "/*application='ShiojiriRainbowSeeker',controller='rainbows',action='heatmap'*/ "
    "WITH heatmap_tiles AS MATERIALIZED (SELECT pg_sleep(30) AS tile) "
    "SELECT s.id, s.latitude, s.longitude, s.intensity "
    "FROM rainbow_sightings s CROSS JOIN heatmap_tiles "
    "ORDER BY s.observed_at DESC LIMIT 500"
)
BACKLOG_CEILING = 3000  # stop growing the backlog here; it has made its point
STALE_LOCK_AGE_S = 40 * 60  # when the dead deploy took the lock


class DrillError(Exception):
    pass


@dataclass
class StackParts:
    """What drills act on."""

    faults: FaultState
    workload: Workload
    postgres: PostgresServer
    hosts: dict[str, SimHost]
    deployment: Deployment | None = None
    # Kamal's deploy lock on the primary host (held by the deploy-lock drill).
    deploy_lock: DeployLock = field(default_factory=DeployLock)
    # db-1's backup job (the backup-stale drill stops its fulls).
    backups: BackupScheduler | None = None
    # The Sentry the app reports to.
    sentry: SentryStandIn | None = None
    # GitHub's Dependabot alerts of the app's repository (a drill adds a source of
    # alerts with add_source and takes it away with remove_source).
    github: GithubStandIn | None = None


@dataclass
class Drill:
    name: str
    parts: StackParts
    phase: str = "active"
    started_at: float = field(default_factory=time.time)
    # Monotonic time from which the fault is visible to a first check.
    observable_from: float = field(default_factory=time.monotonic)

    async def begin(self, at_startup: bool) -> None:
        raise NotImplementedError

    async def end(self) -> None:
        """Remove the fault directly (tests, ``DELETE /_demo/drill/<name>``)."""
        raise NotImplementedError

    async def after_app_boot(self) -> bool:
        """The app containers were replaced; True when that cured the drill."""
        await self.end()
        return True

    async def after_db_reboot(self) -> bool:
        """PostgreSQL was restarted; True when that cured the drill."""
        return False


class ServiceDown(Drill):
    async def begin(self, at_startup: bool) -> None:
        self.parts.faults.service_broken = True

    async def end(self) -> None:
        self.parts.faults.service_broken = False


class DbConnections(Drill):
    connections: list[Any]

    async def begin(self, at_startup: bool) -> None:
        self.connections = []
        gate = asyncio.Semaphore(10)

        async def open_one() -> None:
            async with gate:
                conn = await self.parts.workload.connect("puma", "primary")
                self.connections.append(conn)

        results = await asyncio.gather(
            *(open_one() for _ in range(HELD_CONNECTIONS)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        if refused:
            log.warning("db-connections: %d of %d connections refused (%r)", len(refused),
                        HELD_CONNECTIONS, refused[0])
        self.parts.faults.db_pool_exhausted = True

    def _drop_connections(self) -> None:
        for conn in self.connections:
            conn.terminate()
        self.connections = []

    async def end(self) -> None:
        self._drop_connections()
        self.parts.faults.db_pool_exhausted = False
        self.parts.faults.db_pool_stale = False

    async def after_db_reboot(self) -> bool:
        # The restart killed the held sessions; nobody opens them again.  The app's
        # pool still holds dead connections until the app is rebooted.
        self._drop_connections()
        self.parts.faults.db_pool_exhausted = False
        self.parts.faults.db_pool_stale = True
        self.phase = "db-rebooted: app boot pending"
        return False

    async def after_app_boot(self) -> bool:
        if self.connections:
            return False  # the sessions are still held: rebooting the app alone won't do
        await self.end()
        return True


class MemoryLeak(Drill):
    def _app_hosts(self) -> list[SimHost]:
        return [h for h in self.parts.hosts.values() if "web" in h.roles or "job" in h.roles]

    async def begin(self, at_startup: bool) -> None:
        for host in self._app_hosts():
            if at_startup:
                # Already past the warning level, critical within about 25 seconds.
                host.start_memory_leak(81.5, 0.4)
            else:
                host.start_memory_leak(host.memory_percent(), 1.2)

    async def end(self) -> None:
        for host in self._app_hosts():
            host.stop_memory_leak()


class JobBacklog(Drill):
    _grower: asyncio.Task[None] | None = None

    async def begin(self, at_startup: bool) -> None:
        self.parts.faults.workers_stalled = True
        await self.parts.workload.bulk_enqueue_ready(1150 if at_startup else 450)
        self._grower = asyncio.create_task(self._keep_growing())

    async def _keep_growing(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                conn = await self.parts.workload.connect("puma")
                try:
                    ready = await conn.fetchval("SELECT count(*) FROM solid_queue_ready_executions")
                finally:
                    await conn.close(timeout=2)
                if ready < BACKLOG_CEILING:
                    await self.parts.workload.bulk_enqueue_ready(30)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the DB is restarting: try again next second
                log.info("job-backlog could not enqueue: %r", exc)

    async def end(self) -> None:
        if self._grower is not None:
            self._grower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._grower
            self._grower = None
        self.parts.faults.workers_stalled = False


class FailedJobs(Drill):
    async def begin(self, at_startup: bool) -> None:
        await self.parts.workload.bulk_fail(60)
        self.parts.faults.failing_job_class = "ImageVariantJob"

    async def end(self) -> None:
        # Failures already recorded stay until someone retries or discards them.
        self.parts.faults.failing_job_class = None


class SlowQueries(Drill):
    _sessions: list[asyncio.Task[None]]
    _backend_pids: set[int]

    async def begin(self, at_startup: bool) -> None:
        self._sessions = []
        self._backend_pids = set()
        self.parts.faults.slow_requests = True
        for _ in range(SLOW_SESSIONS):
            self._sessions.append(asyncio.create_task(self._run_slow_queries()))
        # The longest query passes one second this long after it started.
        self.observable_from = time.monotonic() + 1.3

    async def _run_slow_queries(self) -> None:
        while True:
            conn = None
            try:
                conn = await self.parts.workload.connect("puma", "primary")
                pid = conn.get_server_pid()
                self._backend_pids.add(pid)
                try:
                    while True:
                        await conn.fetch(SLOW_QUERY, timeout=60)
                finally:
                    self._backend_pids.discard(pid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("slow query session ended (%r); starting another", exc)
                await asyncio.sleep(0.5)
            finally:
                if conn is not None:
                    conn.terminate()

    async def end(self) -> None:
        pids = list(self._backend_pids)
        for task in self._sessions:
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        self._sessions = []
        self.parts.faults.slow_requests = False
        # Closing the client does not stop pg_sleep on the server: terminate the backends.
        if pids and self.parts.postgres.running:
            import asyncpg

            try:
                admin = await asyncpg.connect(self.parts.postgres.dsn(SUPERUSER), timeout=5)
                try:
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids
                    )
                finally:
                    await admin.close()
            except Exception as exc:
                log.warning("could not terminate slow sessions %s: %r", pids, exc)


# Docker's restart policy waits 100 ms, doubling after each failed start; capped here
# at a few seconds so RestartCount keeps moving in a demo.
FIRST_RESTART_DELAY_S = 0.1
LONGEST_RESTART_DELAY_S = 3.0
# How long a doomed boot runs before it exits.
FAILED_BOOT_S = 0.4


class CrashLoop(Drill):
    _looping: list[Container]
    _cycle: asyncio.Task[None] | None = None

    def _deployment(self) -> Deployment:
        if self.parts.deployment is None:
            raise DrillError("crash-loop needs the deployment")
        return self.parts.deployment

    async def begin(self, at_startup: bool) -> None:
        deployment = self._deployment()
        self._looping = [
            c for c in deployment.all_containers()
            if c.kind == "web" and not c.destination and c.running
        ]
        self.parts.faults.web_crash_loop = True
        for container in self._looping:
            container.crash_looping = True
            deployment.crash(container, exit_code=1)
        self._cycle = asyncio.create_task(self._restart_loop())

    async def _restart_loop(self) -> None:
        deployment = self._deployment()
        delay = FIRST_RESTART_DELAY_S
        while True:
            await asyncio.sleep(delay)
            for container in self._looping:
                deployment.restart(container)  # its log gets the failing boot
            await asyncio.sleep(FAILED_BOOT_S)
            for container in self._looping:
                if container.crash_looping:
                    deployment.crash(container, exit_code=1)
            delay = min(delay * 2, LONGEST_RESTART_DELAY_S)

    async def end(self) -> None:
        if self._cycle is not None:
            self._cycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cycle
            self._cycle = None
        self.parts.faults.web_crash_loop = False
        deployment = self._deployment()
        for container in self._looping:
            container.crash_looping = False
            # Still looping (not replaced by a boot): its next start succeeds.
            deployment.restart(container)
        self._looping = []


class StaleDeployLock(Drill):
    """The lock a dead deploy left behind: ``Automatic deploy lock``, forty minutes old."""

    async def begin(self, at_startup: bool) -> None:
        version = self.parts.deployment.current_version if self.parts.deployment else ""
        self.parts.deploy_lock.acquire(
            "", AUTOMATIC_DEPLOY_LOCK_MESSAGE, version, locked_by="Deploy Bot",
            at=time.time() - STALE_LOCK_AGE_S,
        )
        self.parts.faults.service_broken = True

    async def end(self) -> None:
        self.parts.deploy_lock.release("")
        self.parts.faults.service_broken = False


STALE_FULL_AGE_H = 30.0  # past the policy's 26 hours


class BackupStale(Drill):
    """The nightly full dump stopped a day and a quarter ago."""

    def _scheduler(self) -> BackupScheduler:
        if self.parts.backups is None:
            raise DrillError("backup-stale needs the stack's backup job")
        return self.parts.backups

    async def begin(self, at_startup: bool) -> None:
        scheduler = self._scheduler()
        scheduler.hold_full()
        scheduler.age_latest_full(STALE_FULL_AGE_H)

    async def end(self) -> None:
        scheduler = self._scheduler()
        scheduler.release_full()
        await scheduler.make_full()

    async def after_app_boot(self) -> bool:
        return False  # a new app container makes no dump


# How long a drill waits for the first timeout to reach Sentry (a forecast request
# comes every few seconds at the default log rate).
FIRST_EVENT_WAIT_S = 20.0


class SentryNewErrors(Drill):
    """The weather provider times out: a new issue in Sentry, no failed request."""

    async def begin(self, at_startup: bool) -> None:
        self.parts.faults.forecast_timeouts = True
        sentry = self.parts.sentry
        if sentry is None:
            return
        # The issue appears with the next forecast request: wait for it, so that a
        # first check after the drill started sees it.
        reported = asyncio.Event()

        def heard(issue: StandInIssue) -> None:
            if issue.exception_class == FORECAST_TIMEOUT[0]:
                reported.set()

        sentry.new_issue_listeners.append(heard)
        try:
            if not sentry.seen(FORECAST_TIMEOUT[0]):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reported.wait(), FIRST_EVENT_WAIT_S)
        finally:
            sentry.new_issue_listeners.remove(heard)

    async def end(self) -> None:
        self.parts.faults.forecast_timeouts = False

    async def after_app_boot(self) -> bool:
        return False  # the provider's timeouts are not the app's to cure


class VulnerableGem(Drill):
    """A deploy of an image whose Gemfile.lock pins a rack that advisories cover."""

    def _alerts(self) -> list[StandInAlert]:
        """Dependabot's view of the same lockfile: one alert per advisory."""
        alerts = []
        for number, advisory in enumerate(ADVISORIES, start=60):
            if advisory["gem"] not in VULNERABLE_GEM_PINS:
                continue
            patched = advisory["patched_versions"][-1].removeprefix(">= ")
            alerts.append(StandInAlert(
                number=number, ecosystem="rubygems", package=advisory["gem"],
                manifest_path="Gemfile.lock", ghsa_id=f"GHSA-{advisory['ghsa']}",
                cve_id=f"CVE-{advisory['cve']}", summary=advisory["title"], severity="high",
                vulnerable_version_range=f"< {patched}", first_patched_version=patched,
                created_at=self.started_at))
        return alerts

    async def begin(self, at_startup: bool) -> None:
        self.parts.faults.pinned_gems.update(VULNERABLE_GEM_PINS)
        if self.parts.github is not None:
            self.parts.github.add_source(self._alerts)

    async def end(self) -> None:
        for gem in VULNERABLE_GEM_PINS:
            self.parts.faults.pinned_gems.pop(gem, None)
        if self.parts.github is not None:
            self.parts.github.remove_source(self._alerts)

    async def after_app_boot(self) -> bool:
        return False  # the same image, the same Gemfile.lock


_DRILL_CLASSES: dict[str, type[Drill]] = {
    "service-down": ServiceDown,
    "db-connections": DbConnections,
    "memory-leak": MemoryLeak,
    "job-backlog": JobBacklog,
    "failed-jobs": FailedJobs,
    "slow-queries": SlowQueries,
    "crash-loop": CrashLoop,
    "deploy-lock": StaleDeployLock,
    "backup-stale": BackupStale,
    "sentry-new-errors": SentryNewErrors,
    "vulnerable-gem": VulnerableGem,
}
assert set(_DRILL_CLASSES) == set(DRILLS)


class DrillController:
    def __init__(self, parts: StackParts) -> None:
        self.parts = parts
        self.active: dict[str, Drill] = {}
        self._lock = asyncio.Lock()

    async def start(self, name: str, at_startup: bool = False) -> Drill:
        drill_class = _DRILL_CLASSES.get(name)
        if drill_class is None:
            raise DrillError(f"unknown drill {name!r}; known: {', '.join(DRILLS)}")
        async with self._lock:
            existing = self.active.get(name)
            if existing is not None:
                return existing
            drill = drill_class(name=name, parts=self.parts)
            await drill.begin(at_startup)
            self.active[name] = drill
            log.info("drill %s started%s", name, " (at start-up)" if at_startup else "")
            return drill

    async def stop(self, name: str) -> bool:
        if name not in _DRILL_CLASSES:
            raise DrillError(f"unknown drill {name!r}; known: {', '.join(DRILLS)}")
        async with self._lock:
            drill = self.active.pop(name, None)
            if drill is None:
                return False
            await drill.end()
            log.info("drill %s stopped directly", name)
            return True

    async def stop_all(self) -> None:
        for name in list(self.active):
            with contextlib.suppress(Exception):
                await self.stop(name)

    async def after_app_boot(self) -> list[str]:
        return await self._notify("after_app_boot")

    async def after_db_reboot(self) -> list[str]:
        return await self._notify("after_db_reboot")

    async def _notify(self, hook: str) -> list[str]:
        cured: list[str] = []
        async with self._lock:
            for name, drill in list(self.active.items()):
                if await getattr(drill, hook)():
                    del self.active[name]
                    cured.append(name)
                    log.info("drill %s cured by %s", name, hook.removeprefix("after_"))
        return cured

    def observable_from(self) -> float:
        return max((d.observable_from for d in self.active.values()), default=0.0)

    def describe(self) -> dict[str, object]:
        return {
            "active": sorted(self.active),
            "phases": {name: drill.phase for name, drill in self.active.items()},
            "started_at": {name: drill.started_at for name, drill in self.active.items()},
            "available": list(DRILLS),
        }
