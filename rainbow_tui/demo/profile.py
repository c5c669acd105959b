"""The configuration the console uses against a running demo stack."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from rainbow_tui.config import (
    BackupsConfig,
    Config,
    DatabaseConfig,
    GithubConfig,
    IncidentsConfig,
    KamalConfig,
    PollConfig,
    QueueConfig,
    S3Config,
    SentryConfig,
    ServiceConfig,
    SshConfig,
)
from rainbow_tui.demo.endpoints import DemoEndpoints
from rainbow_tui.deployment import resolve_deployment
from rainbow_tui.scans.settings import SecurityConfig
from rainbow_tui.upkeep.cleanup_config import CleanupEntry

DEMO_DSN_ENV = "RAINBOW_TUI_DEMO_DATABASE_URL"
DEMO_QUEUE_DSN_ENV = "RAINBOW_TUI_DEMO_QUEUE_DATABASE_URL"
# The app's role, owner of the tables: the monthly VACUUM runs as it, as the manual's.
DEMO_OWNER_DSN_ENV = "RAINBOW_TUI_DEMO_OWNER_DATABASE_URL"
DEMO_OWNER_QUEUE_DSN_ENV = "RAINBOW_TUI_DEMO_OWNER_QUEUE_DATABASE_URL"
DEMO_DATA_VOLUME = "/var/lib/postgresql/data"
DEMO_KAMAL_DISPLAY = ("bundle", "exec", "kamal")
DEMO_SENTRY_TOKEN_ENV = "RAINBOW_TUI_DEMO_SENTRY_TOKEN"
DEMO_GITHUB_TOKEN_ENV = "RAINBOW_TUI_DEMO_GITHUB_TOKEN"
# SaaS and kamal runs poll on their own, slower clocks, as in production.
DEMO_SENTRY_POLL_S = 5.0
DEMO_S3_POLL_S = 10.0
DEMO_PROXY_POLL_S = 15.0
# The monthly routine's old sessions, as activerecord-session_store's
# db:sessions:trim judges them (not updated for 30 days), 500 at a time.
DEMO_SESSIONS_CLEANUP = CleanupEntry(
    name="sessions",
    title_ja="30 日以上更新のないセッション",
    title_en="sessions not updated for 30 days",
    database="primary",
    count="SELECT count(*) FROM sessions WHERE updated_at < (now() AT TIME ZONE 'UTC')"
          " - interval '30 days'",
    delete="DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
           " WHERE updated_at < (now() AT TIME ZONE 'UTC') - interval '30 days' LIMIT $1)",
    batch_size=500,
)


def demo_config(
    endpoints: DemoEndpoints, poll_s: float = 2.0, incidents_dir: Path | None = None
) -> Config:
    """The demo profile with the deployment resolved from the checkout's
    config/deploy.yml (hosts, roles, SSH, accessories), as for any app.

    Its incidents are marked as the demo's; they go to ``incidents_dir`` (the
    user's own state directory for ``rainbow-tui demo``, so that ``incidents list``
    finds a rehearsal afterwards) or, by default, into the stack's directory.
    """
    config = resolve_deployment(demo_profile(endpoints, poll_s)).config
    where = incidents_dir if incidents_dir is not None else endpoints.state_dir / "incidents"
    incidents = msgspec.structs.replace(config.incidents, state_dir=str(where), demo=True)
    config = msgspec.structs.replace(config, incidents=incidents)
    if incidents_dir is not None:
        # A rehearsal's measurements stay with the stack, out of the team's history.
        history = msgspec.structs.replace(
            config.history, path=str(endpoints.state_dir / "history.sqlite3")
        )
        config = msgspec.structs.replace(config, history=history)
    return config


def demo_profile(endpoints: DemoEndpoints, poll_s: float = 2.0) -> Config:
    """A profile for the demo as its config.toml would hold it: the manual's
    thresholds, the stand-in's checkout, no [[hosts]].

    The DSNs travel like production's, through environment variables, which
    ``export_demo_dsn`` sets for this process: the app's database and, as Rails 8
    has it, Solid Queue's own.
    """
    return Config(
        service=ServiceConfig(
            name="Shiojiri Rainbow Seeker (demo)",
            kamal_service=endpoints.service,
            health_url=endpoints.health_url,
            health_timeout_s=2.0,
        ),
        # The stand-in runs as a Python module; the operator knows it as Kamal.
        kamal=KamalConfig(command=endpoints.kamal_command, display=DEMO_KAMAL_DISPLAY,
                          workdir=str(endpoints.state_dir)),
        ssh=SshConfig(
            known_hosts=str(endpoints.known_hosts),
            client_keys=(str(endpoints.client_key),),
            connect_timeout_s=5.0,
            keepalive_interval_s=5.0,
        ),
        database=DatabaseConfig(
            dsn_env=DEMO_DSN_ENV,
            data_volume=DEMO_DATA_VOLUME,
            statement_timeout_ms=int(poll_s * 1000 * 0.8),
            connect_timeout_s=2.0,
            owner_dsn_env=DEMO_OWNER_DSN_ENV if endpoints.pg_owner_dsn else "",
        ),
        queue=QueueConfig(
            dsn_env=DEMO_QUEUE_DSN_ENV,
            owner_dsn_env=DEMO_OWNER_QUEUE_DSN_ENV if endpoints.pg_owner_queue_dsn else "",
        ),
        poll=PollConfig(health=poll_s, database=poll_s, queue=poll_s, hosts=poll_s,
                        sentry=max(poll_s, DEMO_SENTRY_POLL_S), s3=max(poll_s, DEMO_S3_POLL_S),
                        proxy=max(poll_s, DEMO_PROXY_POLL_S)),
        sentry=SentryConfig(
            organization=endpoints.sentry_organization, project=endpoints.sentry_project,
            token_env=DEMO_SENTRY_TOKEN_ENV, base_url=endpoints.sentry_url, timeout_s=5.0,
        ) if endpoints.sentry_url else None,
        # Credentials as production's: the standard AWS variables (demo_dsn_variables).
        s3=S3Config(
            bucket=endpoints.s3_bucket, region=endpoints.s3_region,
            endpoint_url=endpoints.s3_endpoint_url, probe_key=endpoints.s3_probe_key,
            timeout_s=5.0,
        ) if endpoints.s3_endpoint_url else None,
        github=GithubConfig(
            repository=endpoints.github_repository, token_env=DEMO_GITHUB_TOKEN_ENV,
            api_url=endpoints.github_api_url, timeout_s=5.0,
        ) if endpoints.github_api_url else None,
        # The demo's app image carries bundler-audit and Brakeman; the stand-in
        # audits the deployed Gemfile.lock (the vulnerable-gem drill pins it).
        security=SecurityConfig(bundler_audit="kamal", brakeman="kamal"),
        incidents=IncidentsConfig(state_dir=str(endpoints.state_dir / "incidents")),
        cleanup=(DEMO_SESSIONS_CLEANUP,),
        # The backup runbook's copy off the db host lands in the stack, not the cwd.
        backups=BackupsConfig(copy_to=str(endpoints.state_dir / "copied-backups")),
        source=f"demo stack in {endpoints.state_dir}",
    )


def demo_dsn_variables(endpoints: DemoEndpoints) -> dict[str, str]:
    """The variables ``demo_config`` names, with the stack's DSNs, and the stand-ins'
    credentials: Sentry's token, S3's keys (AWS's own variable names)."""
    variables = {DEMO_DSN_ENV: endpoints.pg_dsn, DEMO_QUEUE_DSN_ENV: endpoints.pg_queue_dsn}
    if endpoints.pg_owner_dsn:
        variables[DEMO_OWNER_DSN_ENV] = endpoints.pg_owner_dsn
        variables[DEMO_OWNER_QUEUE_DSN_ENV] = endpoints.pg_owner_queue_dsn
    if endpoints.sentry_token:
        variables[DEMO_SENTRY_TOKEN_ENV] = endpoints.sentry_token
    if endpoints.github_token:
        variables[DEMO_GITHUB_TOKEN_ENV] = endpoints.github_token
    if endpoints.s3_access_key_id:
        variables["AWS_ACCESS_KEY_ID"] = endpoints.s3_access_key_id
        variables["AWS_SECRET_ACCESS_KEY"] = endpoints.s3_secret_access_key
    return variables


def export_demo_dsn(endpoints: DemoEndpoints) -> None:
    os.environ.update(demo_dsn_variables(endpoints))
