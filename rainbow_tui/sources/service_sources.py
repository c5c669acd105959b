"""Every source of one configured service, built from config, polled together."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from rainbow_tui.config import Config, expand_path
from rainbow_tui.kamal_config import JumpHost
from rainbow_tui.logs.request_stats import RequestStatsSnapshot
from rainbow_tui.sources.backups import BackupsSnapshot, BackupsSource, backups_host
from rainbow_tui.sources.database import DatabaseSnapshot, DatabaseSource
from rainbow_tui.sources.health import HealthSnapshot, HealthSource
from rainbow_tui.sources.hosts import HostProbe, HostSnapshot, HostsSource, SshTarget
from rainbow_tui.sources.kamal_containers import data_path, layout_from_config
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.sources.privileges import QueuePrivilegeCheck, QueuePrivileges
from rainbow_tui.sources.proxy import ProxyDetailsSource, ProxySnapshot
from rainbow_tui.sources.queue import QueueSnapshot, QueueSource
from rainbow_tui.sources.s3_bucket import S3BucketSource, S3Snapshot
from rainbow_tui.sources.sentry import SentrySnapshot, SentrySource


@dataclass(frozen=True, slots=True)
class Readings:
    """The latest snapshot of each source (None: not polled yet)."""

    health: HealthSnapshot | None = None
    database: DatabaseSnapshot | None = None
    queue: QueueSnapshot | None = None
    hosts: tuple[HostSnapshot, ...] = ()
    # Request p95 and 5xx share from the log tail; None while no tail runs.
    requests: RequestStatsSnapshot | None = None
    # Why the database is not watched at all, e.g. the DSN variable is unset.
    database_missing: str | None = None
    # What the console's role may do in Solid Queue's database.
    queue_privileges: QueuePrivileges | None = None
    # The dumps in the DB host's backup directory (None: not listed yet, or no DB host).
    backups: BackupsSnapshot | None = None
    # Sentry's issues, the image bucket's HEAD, ``kamal proxy details`` (None: not
    # configured, or not polled yet).
    sentry: SentrySnapshot | None = None
    s3: S3Snapshot | None = None
    proxy: ProxySnapshot | None = None


class ServiceSources:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.health = HealthSource(config.service.health_url, config.service.health_timeout_s)
        dsn = os.environ.get(config.database.dsn_env, "")
        self.database_missing: str | None = None
        self.link: PostgresLink | None = None
        self.database: DatabaseSource | None = None
        self.queue: QueueSource | None = None
        self.queue_privileges: QueuePrivilegeCheck | None = None
        # Solid Queue's own database (Rails 8's ``queue`` entry); without one its
        # tables are read from the main database over the same connection.
        self.queue_link: PostgresLink | None = None
        if dsn:
            self.link = self._link(dsn)
            queue_dsn = os.environ.get(config.queue.dsn_env, "") if config.queue.dsn_env else ""
            self.queue_link = self._link(queue_dsn) if queue_dsn else self.link
            self.database = DatabaseSource(self.link)
            self.queue = QueueSource(
                self.queue_link,
                process_alive_threshold_s=config.queue.process_alive_threshold_s,
                new_failures_window_s=config.queue.new_failures_window_s,
            )
            self.queue_privileges = QueuePrivilegeCheck(self.queue_link)
        else:
            self.database_missing = (
                f"not configured: set ${config.database.dsn_env} to the database DSN"
            )
        self.targets = {host.name: self._target(host.name) for host in config.hosts}
        self.hosts = HostsSource([self._probe(host.name) for host in config.hosts])
        self.sentry = SentrySource(config.sentry) if config.sentry is not None else None
        self.s3 = S3BucketSource(config.s3) if config.s3 is not None else None
        # Kamal knows the proxy hosts; without hosts there is no deployment to ask.
        self.proxy = (
            ProxyDetailsSource(config) if config.proxy.details and config.hosts else None
        )
        # Only where a host holds the dumps: without hosts there is nothing to list.
        backup_target = backups_host(config, self.targets)
        self.backups: BackupsSource | None = (
            BackupsSource(backup_target, config.backups) if backup_target is not None else None
        )

    def _link(self, dsn: str) -> PostgresLink:
        return PostgresLink(
            dsn,
            statement_timeout_ms=self.config.database.statement_timeout_ms,
            connect_timeout_s=self.config.database.connect_timeout_s,
        )

    def _target(self, name: str) -> SshTarget:
        config = self.config
        host = config.host(name)
        assert host is not None
        jump = JumpHost.parse(host.jump_host) if host.jump_host else None
        return SshTarget(
            name=host.name,
            address=host.address,
            port=host.port or config.ssh.port or 22,
            # Kamal's default user (ssh.rb): deploy.yml's is in the resolved host.
            user=host.user or config.ssh.user or "root",
            # Its accessories too: a runbook's ``role:db`` is the db accessory's host.
            roles=tuple(dict.fromkeys((*host.roles, *host.accessories))),
            known_hosts=str(expand_path(config.ssh.known_hosts)),
            client_keys=tuple(str(expand_path(key)) for key in config.ssh.client_keys),
            connect_timeout_s=config.ssh.connect_timeout_s,
            keepalive_interval_s=config.ssh.keepalive_interval_s,
            jump_host=jump.host if jump else "",
            jump_port=jump.port if jump else 22,
            jump_user=jump.user if jump else "",
            proxy_command="" if jump else host.proxy_command,
        )

    def _probe(self, name: str) -> HostProbe:
        layout = layout_from_config(self.config)
        return HostProbe(self.targets[name], layout, data_path=data_path(self.config, layout, name))

    async def poll_database(self) -> DatabaseSnapshot | None:
        return await self.database.poll() if self.database is not None else None

    async def poll_queue(self) -> tuple[QueueSnapshot | None, QueuePrivileges | None]:
        """The queue and, when due, what the role may do there."""
        if self.queue is None or self.queue_privileges is None:
            return None, None
        privileges = await self.queue_privileges.poll()
        return await self.queue.poll(), privileges

    async def poll_backups(self) -> BackupsSnapshot | None:
        return await self.backups.poll() if self.backups is not None else None

    async def poll_sentry(self) -> SentrySnapshot | None:
        return await self.sentry.poll() if self.sentry is not None else None

    async def poll_s3(self) -> S3Snapshot | None:
        return await self.s3.poll() if self.s3 is not None else None

    async def poll_proxy(self) -> ProxySnapshot | None:
        return await self.proxy.poll() if self.proxy is not None else None

    async def poll_all(self) -> Readings:
        """One round of every source, concurrently."""
        # Started first, so they run beside the others.
        components = asyncio.gather(self.poll_sentry(), self.poll_s3(), self.poll_proxy())
        health, database, (queue, privileges), hosts, backups = await asyncio.gather(
            self.health.poll(), self.poll_database(), self.poll_queue(), self.hosts.poll(),
            self.poll_backups(),
        )
        sentry, s3, proxy = await components
        return Readings(
            health,
            database,
            queue,
            hosts,
            database_missing=self.database_missing,
            queue_privileges=privileges,
            backups=backups,
            sentry=sentry,
            s3=s3,
            proxy=proxy,
        )

    async def close(self) -> None:
        closers = [self.health.close(), self.hosts.close()]
        if self.backups is not None:
            closers.append(self.backups.close())
        for component in (self.sentry, self.s3, self.proxy):
            if component is not None:
                closers.append(component.close())
        if self.link is not None:
            closers.append(self.link.close())
        if self.queue_link is not None and self.queue_link is not self.link:
            closers.append(self.queue_link.close())
        await asyncio.gather(*closers, return_exceptions=True)
