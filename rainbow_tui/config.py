"""The console's configuration: loaded from TOML, validated strictly, frozen.

Every problem a user can make in the file (a TOML syntax error, an unknown key, a
wrong type, a missing value, thresholds out of order) becomes one ``ConfigError``
whose message names the file, the key and the problem.  The CLI prints it on one
line and exits with status 2.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from rainbow_tui.levels import Level, Severity, judge
from rainbow_tui.scans.settings import SecurityConfig, security_problem
from rainbow_tui.ssh_proxy_command import proxy_command_problem
from rainbow_tui.text import tr
from rainbow_tui.upkeep.cleanup_config import CleanupEntry, cleanup_problem

ENV_CONFIG = "RAINBOW_TUI_CONFIG"
PLACEHOLDER = "FILL-IN"


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is the whole message."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every table: immutable, and unknown keys are errors, not ignored."""


class ServiceConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str = "Shiojiri Rainbow Seeker"
    kamal_service: str
    # Empty: https://<proxy.host><proxy.healthcheck.path> from Kamal's configuration.
    health_url: str = ""
    health_timeout_s: float = 5.0
    # The TLS certificate of the health URL's host is checked when it is https.
    tls_warn_days: int = 21
    tls_critical_days: int = 7


class AccessoryConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One accessory of deploy.yml, as resolved (hosts by the console's names)."""

    name: str
    container: str
    hosts: tuple[str, ...] = ()
    directories: tuple[str, ...] = ()
    port: str = ""


class KamalConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    command: tuple[str, ...] = ("bundle", "exec", "kamal")
    # What timelines, screens and exports show for ``command`` (empty: ``command``
    # itself): a wrapper's internal paths never reach a record.
    display: tuple[str, ...] = ()
    # The app's checkout: config/deploy.yml (+ deploy.<destination>.yml) there gives
    # the hosts, roles, SSH and accessories (see rainbow_tui/kamal_config.py).
    workdir: str = "."
    destination: str = ""
    # Kamal knows addresses only: the names the console shows, by address.
    host_names: dict[str, str] = msgspec.field(default_factory=dict)
    # deploy.yml's accessories once resolved; not a config.toml key.
    accessories: tuple[AccessoryConfig, ...] = ()

    @property
    def shown_command(self) -> tuple[str, ...]:
        return self.display or self.command


class SshConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Overrides of deploy.yml's ssh.user / ssh.port (Kamal: root, 22).
    user: str | None = None
    port: int | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    # Empty: the SSH agent and the default ~/.ssh/id_* keys.
    client_keys: tuple[str, ...] = ()
    connect_timeout_s: float = 10.0
    keepalive_interval_s: float = 15.0


class HostConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A host: resolved from deploy.yml, or in [[hosts]] an override of one (matched
    by address) or a host Kamal does not deploy to; empty roles: deploy.yml's."""

    name: str
    address: str
    roles: tuple[str, ...] = ()
    user: str | None = None
    port: int | None = None
    # The SSH jump host, "user@host[:port]" (deploy.yml's ssh.proxy).
    jump_host: str = ""
    # Or the command whose stdin/stdout carry SSH (deploy.yml's ssh.proxy_command).
    proxy_command: str = ""
    # deploy.yml's accessories on this host.
    accessories: tuple[str, ...] = ()


class DatabaseConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # The DSN holds a password, so the file names the variable, never the value.
    dsn_env: str = "RAINBOW_TUI_DATABASE_URL"
    # Host (by name in [[hosts]]) and mount whose disk use is "DB disk use".
    host: str = ""
    data_volume: str = "/"
    statement_timeout_ms: int = 2000
    connect_timeout_s: float = 5.0
    # The variable holding a DSN of the role that owns the app's tables (the app's own
    # DATABASE_URL, as the manual's ``psql -U <app> -c "VACUUM ANALYZE;"``): before
    # PostgreSQL 17 only a table's owner, or the database's, may vacuum it.  Used for
    # the monthly VACUUM only; empty: the console's own role.
    owner_dsn_env: str = ""


class ConcurrencyLimit(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One job class's ``limits_concurrency``: it lives in Ruby, not in the tables,
    so a retry that dispatches as Solid Queue does must be told.  The defaults are
    Solid Queue's own (``to: 1``, ``SolidQueue.default_concurrency_control_period``
    3 minutes, ``on_conflict: :block``)."""

    to: int = 1
    duration_s: float = 180.0
    on_conflict: str = "block"  # or "discard"


class QueueConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Solid Queue's database.  Rails 8 keeps it apart (``<app>_production_queue``,
    the ``queue`` entry of config/database.yml); empty ``dsn_env`` means the tables
    live in the main database, as with Rails 7 apps."""

    dsn_env: str = ""
    # As [database] owner_dsn_env, for Solid Queue's database (the monthly VACUUM).
    owner_dsn_env: str = ""
    # Solid Queue's ``process_alive_threshold``: a process silent this long is dead.
    process_alive_threshold_s: float = 300.0
    # Failed executions are never cleared by Solid Queue, so the backlog alone
    # says little: failures newer than this window are judged as well.
    new_failures_window_s: float = 3600.0
    # ``limits_concurrency`` of the job classes that declare it, by class name; a
    # job with a concurrency key whose class is not listed gets the defaults.
    concurrency: dict[str, ConcurrencyLimit] = msgspec.field(default_factory=dict)


DEFAULT_CONCURRENCY = ConcurrencyLimit()


class PollConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Seconds between the end of one poll and the start of the next."""

    health: float = 10.0
    database: float = 5.0
    queue: float = 5.0
    hosts: float = 15.0
    # The dumps change a few times a day: a listing every few minutes is plenty.
    backups: float = 300.0
    # SaaS and the proxy's details: each poll is a remote API call or a kamal run.
    sentry: float = 60.0
    s3: float = 60.0
    proxy: float = 30.0


class Threshold(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The manual's three lines for one metric, and who must respond when crossed."""

    unit: str
    normal: float
    warn: float
    critical: float
    warn_severity: Severity = "medium"
    critical_severity: Severity = "high"

    def level(self, value: float | None) -> Level:
        return judge(value, self.normal, self.warn, self.critical)

    def severity(self, level: Level) -> Severity | None:
        if level is Level.CRITICAL:
            return self.critical_severity
        if level is Level.WARNING:
            return self.warn_severity
        return None


def _threshold(
    unit: str, normal: float, warn: float, critical: float, warn_sev: Severity, crit_sev: Severity
) -> Threshold:
    return Threshold(
        unit=unit,
        normal=normal,
        warn=warn,
        critical=critical,
        warn_severity=warn_sev,
        critical_severity=crit_sev,
    )


class ThresholdsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The manual's 監視項目 tables are the defaults; each table may be restated."""

    response_time_p95_ms: Threshold = _threshold("ms", 200, 500, 1000, "medium", "high")
    error_rate_percent: Threshold = _threshold("%", 0.1, 1, 5, "high", "critical")
    memory_percent: Threshold = _threshold("%", 70, 80, 90, "medium", "medium")
    cpu_percent: Threshold = _threshold("%", 60, 80, 95, "medium", "high")
    db_connections: Threshold = _threshold("connections", 50, 80, 95, "high", "high")
    db_query_time_ms: Threshold = _threshold("ms", 100, 500, 1000, "medium", "high")
    db_disk_percent: Threshold = _threshold("%", 70, 80, 90, "medium", "high")
    waiting_jobs: Threshold = _threshold("jobs", 100, 500, 1000, "medium", "high")
    # The manual's normal is 0 failed jobs: "below 1".
    failed_jobs: Threshold = _threshold("jobs", 1, 10, 50, "medium", "high")
    job_processing_time_s: Threshold = _threshold("s", 30, 60, 120, "medium", "high")

    def items(self) -> list[tuple[str, Threshold]]:
        return [(name, getattr(self, name)) for name in self.__struct_fields__]


class AlertLevel(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    label: str
    respond_within_minutes: int

    @property
    def respond_within(self) -> timedelta:
        return timedelta(minutes=self.respond_within_minutes)


class AlertLevelsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """アラート対応 — エラーレベル and their response times."""

    critical: AlertLevel = AlertLevel(label="Critical 即時対応", respond_within_minutes=15)
    high: AlertLevel = AlertLevel(label="High 緊急対応", respond_within_minutes=60)
    medium: AlertLevel = AlertLevel(label="Medium 当日対応", respond_within_minutes=480)
    low: AlertLevel = AlertLevel(label="Low 計画対応", respond_within_minutes=10080)

    def for_severity(self, severity: Severity) -> AlertLevel:
        level: AlertLevel = getattr(self, severity)
        return level


class EscalationStep(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    level: int
    role: str
    contact: str
    within_minutes: int
    # Who is told when the incident reaches this rung: "pagerduty", "slack" (the
    # channel of [notify.slack]) or "slack:#channel"; unset, the manual's contacts
    # (see NotifyConfig.rung_targets).
    notify: tuple[str, ...] | None = None


# エスカレーション — the manual's ladder; contacts belong in the team's config.
DEFAULT_ESCALATION = (
    EscalationStep(
        level=1, role="オンコール担当 / On-call", contact="PagerDuty", within_minutes=15
    ),
    EscalationStep(
        level=2,
        role="開発リード / Development lead",
        contact="Slack #rainbow-dev",
        within_minutes=30,
    ),
    EscalationStep(
        level=3, role="プロジェクトマネージャー / Project manager", contact="", within_minutes=60
    ),
)


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SLACK_POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"
NOTIFY_SERVICES = ("pagerduty", "slack")


class PagerDutyConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """PagerDuty's Events API v2; the routing (integration) key only from the environment."""

    routing_key_env: str
    events_url: str = PAGERDUTY_EVENTS_URL
    timeout_s: float = 10.0


class SlackConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An incoming webhook (posts to its own channel) or a bot token for chat.postMessage."""

    webhook_env: str = ""
    token_env: str = ""
    channel: str = "#rainbow-dev"
    api_url: str = SLACK_POST_MESSAGE_URL
    timeout_s: float = 10.0

    @property
    def through_webhook(self) -> bool:
        return bool(self.webhook_env)


class NotifyConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who hears of an incident, and how hard a send is tried."""

    pagerduty: PagerDutyConfig | None = None
    slack: SlackConfig | None = None
    # Also told when an incident opened from a host's alert is declared (サーバー問題,
    # インフラ担当); unset: Slack #rainbow-infra when chat.postMessage is used.
    infrastructure: tuple[str, ...] | None = None
    # The language of what is sent (the team's channel reads one).
    language: Literal["ja", "en"] = "ja"
    # A page the team keeps per incident, "{incident_id}" filled in; linked from each send.
    timeline_url: str = ""
    retry_first_s: float = 1.0
    retry_max_s: float = 60.0
    attempts: int = 8

    def configured(self, service: str) -> bool:
        return getattr(self, service, None) is not None

    def rung_targets(self, step: EscalationStep) -> tuple[str, ...]:
        """Where reaching ``step`` is sent: its ``notify``, else the manual's contact
        for its level (L1 PagerDuty, L2 Slack) where that service is configured."""
        if step.notify is not None:
            return step.notify
        default = {1: ("pagerduty",), 2: ("slack",)}.get(step.level, ())
        return tuple(target for target in default if self.configured(target))

    def infrastructure_targets(self) -> tuple[str, ...]:
        if self.infrastructure is not None:
            return self.infrastructure
        if self.slack is not None and not self.slack.through_webhook:
            return ("slack:#rainbow-infra",)
        return ()


def target_service(target: str) -> str:
    """"slack:#rainbow-infra" → "slack"."""
    return target.partition(":")[0]


def target_channel(target: str) -> str:
    """The channel a target names ("" for the service's own)."""
    return target.partition(":")[2]


class IncidentsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    state_dir: str = "~/.local/state/rainbow-tui/incidents"
    runbooks_dir: str = ""
    # Records are marked as rehearsals on the demo stack (set by `rainbow-tui demo`).
    demo: bool = False
    # Escalate (and so page) on its own when a rung's time passes on an open
    # incident; off, the console announces the rung and a responder escalates.
    auto_escalate: bool = False


class BackupsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The database dumps on the DB host (バックアップ戦略): where, how they are named
    (shell globs), and the manual's policy for each kind."""

    directory: str = "/backup"
    full_pattern: str = "full_*.dump"
    differential_pattern: str = "diff_*.dump"
    manual_pattern: str = "manual_*.dump"
    # Daily full kept 30 days, differential every 6 h kept 7 days; each may be this
    # old before it is late (a day and two hours; six hours and one).
    full_max_age_h: float = 26.0
    full_keep_days: int = 30
    differential_max_age_h: float = 7.0
    differential_keep_days: int = 7
    # The host holding the dumps (empty: the db accessory's host, else role db).
    host: str = ""
    # The DR drill's row counts: the app's main tables (empty: every table restored).
    verify_tables: tuple[str, ...] = ()
    # Where a manual backup is copied off the host (the manual: ./backups/).
    copy_to: str = "./backups"


class LogsConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    tail_lines: int = 200
    buffer_lines: int = 100_000
    count_requests_from: Literal["rails", "proxy"] = "rails"
    # Kamal roles whose containers are followed on each host that has the role.
    roles: tuple[str, ...] = ("web", "job")
    # Also follow kamal-proxy / traefik on the web hosts.
    include_proxy: bool = False
    # Local commands to follow, e.g. [["bundle", "exec", "kamal", "app", "logs", "-f"]].
    commands: tuple[tuple[str, ...], ...] = ()
    # The app's ``config.log_tags``, in order, so each leading tag of a Rails line
    # is read as what it is (e.g. ["remote_ip", "request_id"]).
    tags: tuple[str, ...] = ("request_id",)
    # How far back ``check`` reads each app container's logs for its request
    # figures and exceptions (``docker logs --since``), in seconds.
    check_window_s: int = 300


class ServeConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``rainbow-tui serve``: the console over SSH for the team's responders."""

    # Where it listens, and the OpenSSH authorized_keys file of the responders (the
    # command line's --listen and --authorized-keys win).
    listen: str = "127.0.0.1:2222"
    authorized_keys: str = ""
    # The server's own key; "" keeps it beside the incidents directory.
    host_key: str = ""
    # Name (the first word of a key's comment) → role: commander, scribe,
    # responder, or viewer (a read-only console).  Wins over the key's role=.
    responders: dict[str, Literal["commander", "scribe", "responder", "viewer"]] = {}


class RoutinesConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The manual's routine work (毎日・週次・月次・四半期・セキュリティ)."""

    # A team directory of routine TOML files, added to the shipped ones (by id).
    dir: str = ""
    # A routine's rhythm other than its file's (routine id → daily/weekly/…).
    frequency: dict[str, Literal["daily", "weekly", "monthly", "quarterly"]] = {}
    # Solid Queue's clear_finished_jobs_after (1 day) and its batch of 500.
    clear_finished_jobs_after_s: float = 86400.0
    clear_batch_size: int = 500
    # VACUUM ANALYZE of the whole database may take long on a large one.
    vacuum_timeout_s: float = 3600.0


class DisplayConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How often views repaint: over a slow SSH link every repaint is bytes."""

    # Log views catch up with new lines at most this often (the pane and the screen).
    log_frames_per_s: float = 4.0


class HistoryConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # The measurements kept for trends and the weekly figures (SQLite); "" puts
    # the file beside the incidents directory (history.sqlite3 in its parent).
    path: str = ""
    retention_days: int = 35
    # The file's ceiling: past it the oldest minutes go first.
    max_mb: float = 128.0


SENTRY_BASE_URL = "https://sentry.io"


class SentryConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Sentry's web API: the project whose new and regressed issues are judged.

    The token (an auth token with ``event:read``) only from the environment."""

    organization: str
    project: str
    token_env: str = "SENTRY_AUTH_TOKEN"
    base_url: str = SENTRY_BASE_URL
    timeout_s: float = 10.0
    # "New" and "regressed" within this many hours: the daily check's day.
    window_h: int = 24
    # Events of one issue in the window.  The manual's lines speak of an error
    # rate, which Sentry does not know; these are the team's own counts.
    events: Threshold = Threshold(unit="events", normal=10, warn=100, critical=1000,
                                  warn_severity="medium", critical_severity="high")
    # A new issue asks for a look the same day (Medium 当日対応); a regression
    # of something once fixed, within the hour (High 緊急対応).
    new_issue_severity: Severity = "medium"
    regressed_severity: Severity = "high"
    # Pages of 100 issues read at most per poll.
    max_pages: int = 5


class S3Config(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The image bucket (画像ストレージ): a HEAD of ``probe_key`` or of the bucket.
    Credentials from the standard AWS variables (AWS_ACCESS_KEY_ID, AWS_PROFILE…)."""

    bucket: str
    region: str = "ap-northeast-1"
    # An S3-compatible endpoint (MinIO, the demo's stand-in); empty: AWS's own.
    endpoint_url: str = ""
    probe_key: str = ""
    timeout_s: float = 10.0


class ProxyConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """kamal-proxy: ``kamal proxy details`` through the Kamal command."""

    details: bool = True
    timeout_s: float = 60.0


GITHUB_API_URL = "https://api.github.com"
# GitHub's advisory severities, least to most severe (security_advisory.severity).
AdvisorySeverity = Literal["low", "medium", "high", "critical"]
ADVISORY_SEVERITIES: tuple[AdvisorySeverity, ...] = ("low", "medium", "high", "critical")


class GithubConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """GitHub's REST API: the app repository's open Dependabot alerts.

    The token (fine-grained: "Dependabot alerts" read; classic: ``security_events``
    or ``repo``) only from the environment."""

    repository: str  # "owner/name"
    token_env: str = "GITHUB_TOKEN"
    # GitHub Enterprise Server: https://HOST/api/v3.
    api_url: str = GITHUB_API_URL
    timeout_s: float = 10.0
    # Pages of 100 alerts read at most.
    max_pages: int = 10
    # An open alert at or above ``warn_severity`` is a warning, at or above
    # ``critical_severity`` critical; below both it is listed, and the item ok.
    warn_severity: AdvisorySeverity = "medium"
    critical_severity: AdvisorySeverity = "critical"


# Paths scanners knock on and a Rails API never serves (matched as prefixes,
# case-insensitively, query strings left out).
DEFAULT_PROBE_PATHS: tuple[str, ...] = (
    "/wp-login.php", "/wp-admin", "/wp-content", "/wp-includes", "/xmlrpc.php",
    "/.env", "/.git", "/.aws", "/.ssh", "/phpmyadmin", "/pma", "/myadmin", "/admin.php",
    "/phpinfo.php", "/cgi-bin", "/vendor/phpunit", "/server-status", "/actuator",
    "/boaform", "/HNAP1", "/config.json", "/.DS_Store",
)


class AccessAuditConfig(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """アクセスログ監査 (月次): failed authentication and suspicious clients in a
    window of the request logs (the proxy's or Rails', as ``[logs]
    count_requests_from`` says)."""

    # How far back the containers' logs are read (``docker logs --since``); the
    # logs go back to the container's start at most.
    window_s: int = 86400
    # The whole read, every host, ends by then.
    timeout_s: float = 120.0
    # One client with this many 401/403 answers in the window: suspicious
    # (guessed passwords or tokens).
    failed_auth_per_client: int = 20
    # One client with this many requests for probe paths: suspicious (a scanner).
    probes_per_client: int = 3
    # One client with this many 404 answers anywhere: suspicious (a path scan).
    not_found_per_client: int = 50
    probe_paths: tuple[str, ...] = DEFAULT_PROBE_PATHS
    # How many clients and (client, path) rows the report lists.
    top: int = 10


class Config(_Section, frozen=True, forbid_unknown_fields=True, kw_only=True):
    service: ServiceConfig
    kamal: KamalConfig = KamalConfig()
    ssh: SshConfig = SshConfig()
    hosts: tuple[HostConfig, ...] = ()
    database: DatabaseConfig = DatabaseConfig()
    queue: QueueConfig = QueueConfig()
    poll: PollConfig = PollConfig()
    thresholds: ThresholdsConfig = ThresholdsConfig()
    alert_levels: AlertLevelsConfig = AlertLevelsConfig()
    escalation: tuple[EscalationStep, ...] = DEFAULT_ESCALATION
    notify: NotifyConfig = NotifyConfig()
    sentry: SentryConfig | None = None
    s3: S3Config | None = None
    github: GithubConfig | None = None
    access_audit: AccessAuditConfig = AccessAuditConfig()
    proxy: ProxyConfig = ProxyConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    logs: LogsConfig = LogsConfig()
    history: HistoryConfig = HistoryConfig()
    backups: BackupsConfig = BackupsConfig()
    routines: RoutinesConfig = RoutinesConfig()
    # Where bundler-audit and Brakeman run, and how bad their findings are.
    security: SecurityConfig = SecurityConfig()
    # The app's old data the monthly routine deletes ([[cleanup]]).
    cleanup: tuple[CleanupEntry, ...] = ()
    display: DisplayConfig = DisplayConfig()
    serve: ServeConfig = ServeConfig()
    # Where this configuration came from; not a TOML key.
    source: str = ""

    def placeholders(self) -> list[str]:
        """Keys whose value still holds the FILL-IN marker."""
        return sorted(_find_placeholders(msgspec.to_builtins(self), ""))

    def host(self, name: str) -> HostConfig | None:
        return next((host for host in self.hosts if host.name == name), None)


def _find_placeholders(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [key] if PLACEHOLDER in value else []
    if isinstance(value, dict):
        return [
            found
            for name, item in value.items()
            for found in _find_placeholders(item, f"{key}.{name}" if key else name)
        ]
    if isinstance(value, list | tuple):
        return [
            found
            for index, item in enumerate(value)
            for found in _find_placeholders(item, f"{key}[{index}]")
        ]
    return []


# msgspec says e.g. "Expected `int`, got `str` - at `$.poll.health`"; we keep the
# problem and turn the JSON path into the TOML key the user wrote.
_MSGSPEC_PATH = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_WRONG_TYPE = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`$")


def _allowed_values(root: type, path: str) -> tuple[str, ...]:
    """The values the key at ``path`` ("security.bundler_audit", "cleanup[0].database")
    may take, read off its type: what the struct says, so no list here can drift."""
    import msgspec.inspect as types

    node: types.Type = types.type_info(root)
    hint: object = None  # the last field's annotation: its Literal keeps the written order
    # A name is a struct's field; "[0]" an item of a list, "[...]" a value of a table.
    for part in re.findall(r"\[[^\]]*\]|[^.\[\]]+", path):
        while isinstance(node, types.UnionType):  # "X | None": the X
            node = next((t for t in node.types if not isinstance(t, types.NoneType)),
                        types.AnyType())
        if part.startswith("[") and isinstance(node, types.DictType):
            node = node.value_type
        elif isinstance(node, types.StructType):
            field = next((f for f in node.fields if f.encode_name == part), None)
            if field is None:
                return ()
            hint = typing.get_type_hints(node.cls).get(field.name)
            node = field.type
        elif isinstance(node, types.ListType | types.TupleType | types.VarTupleType):
            node = node.item_type if not isinstance(node, types.TupleType) else types.AnyType()
        else:
            return ()
    if not isinstance(node, types.LiteralType):
        return ()
    return tuple(str(value) for value in _literal_in(hint) or node.values)


def _literal_in(hint: object) -> tuple[object, ...]:
    """The values of the first Literal inside ``hint``, in the order written."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    for argument in typing.get_args(hint):
        if found := _literal_in(argument):
            return found
    return ()


def _join_key(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def explain_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's message as (the TOML key, the problem in words); shared by every
    TOML file the console reads."""
    match = _MSGSPEC_PATH.match(str(error))
    assert match is not None  # the pattern matches any text
    problem = match["problem"]
    path = (match["path"] or "").lstrip(".")
    if unknown := _UNKNOWN_FIELD.match(problem):
        return _join_key(path, unknown["field"]), tr("config.problem.unknown_key")
    if missing := _MISSING_FIELD.match(problem):
        return _join_key(path, missing["field"]), tr("config.problem.missing_key")
    if wrong := _WRONG_TYPE.match(problem):
        return path, tr("config.problem.wrong_type", expected=wrong["expected"], got=wrong["got"])
    problem = problem.replace("`", "")
    return path, problem[:1].lower() + problem[1:]


def _explain(error: msgspec.ValidationError) -> tuple[str, str]:
    path, problem = explain_validation_error(error)
    if problem.startswith("invalid enum value"):
        allowed = _allowed_values(Config, path)
        if allowed:
            value = problem.removeprefix("invalid enum value").strip()
            return path, tr("config.problem.not_one_of", value=value, allowed=", ".join(allowed))
    return path, problem


def parse_config(text: str, path: Path | str) -> Config:
    """Validate TOML text into a ``Config``; raises ``ConfigError``."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "", tr("config.not_toml", error=error)) from None
    try:
        config = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as error:
        key, problem = _explain(error)
        raise ConfigError(path, key, problem) from None
    _check_consistency(config, path)
    return msgspec.structs.replace(config, source=str(path))


def url_problem(text: str) -> str | None:
    """What is wrong with a health URL, or None: http(s), a host, a port in range,
    brackets that close.  One sentence per problem, here only."""
    if any(char.isspace() or ord(char) < 32 for char in text):
        return f"{text!r} holds spaces or control characters"
    try:
        parts = urlsplit(text)
    except ValueError as error:  # "Invalid IPv6 URL": a bracket that does not close
        return f"{text!r} is not a URL ({error})"
    if parts.scheme not in ("http", "https"):
        return f"{text!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{text!r} has no host"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        port_text = parts.netloc.rpartition(":")[2]
        return f"{text!r}: port {port_text!r} is not a TCP port (1-65535)"
    return None


class _Range(msgspec.Struct, frozen=True):
    """The values a number may take: finite, above (or from) ``low``, at most ``high``."""

    low: float
    high: float
    unit: str = ""
    low_allowed: bool = True

    def problem(self, value: float) -> str | None:
        inside = math.isfinite(value) and self.low <= value <= self.high
        if inside and (self.low_allowed or value > self.low):
            return None
        unit = f" {self.unit}" if self.unit else ""
        start = f"from {self.low:g}" if self.low_allowed else f"above {self.low:g}"
        return f"{value:g} is out of range: must be {start} to {self.high:g}{unit}"


DAY_S = 86400.0
_SECONDS = _Range(0, DAY_S, "seconds", low_allowed=False)
_TIMEOUT_S = _Range(0, 600, "seconds", low_allowed=False)
_PORT = _Range(1, 65535)
_MINUTES = _Range(1, 366 * 24 * 60, "minutes")

# Every number of the file with the values it may take (dynamic tables below).
_RANGES: dict[str, _Range] = {
    "service.health_timeout_s": _TIMEOUT_S,
    "service.tls_warn_days": _Range(0, 3650, "days"),
    "service.tls_critical_days": _Range(0, 3650, "days"),
    "ssh.port": _PORT,
    "ssh.connect_timeout_s": _TIMEOUT_S,
    "ssh.keepalive_interval_s": _Range(0, 3600, "seconds", low_allowed=False),
    "database.statement_timeout_ms": _Range(1, 600_000, "ms"),
    "database.connect_timeout_s": _TIMEOUT_S,
    "queue.process_alive_threshold_s": _Range(0, 7 * DAY_S, "seconds", low_allowed=False),
    "queue.new_failures_window_s": _Range(0, 30 * DAY_S, "seconds", low_allowed=False),
    "logs.tail_lines": _Range(0, 1_000_000, "lines"),
    "display.log_frames_per_s": _Range(0.5, 60, "frames per second"),
    "logs.buffer_lines": _Range(1, 10_000_000, "lines"),
    # From one minute (the trend's recent part) to a day; all of it is read by
    # check's deadline.
    "logs.check_window_s": _Range(60, DAY_S, "seconds"),
    "history.retention_days": _Range(1, 3660, "days"),
    "history.max_mb": _Range(1, 100_000, "MB"),
    **{f"poll.{name}": _SECONDS for name in PollConfig.__struct_fields__},
    "notify.retry_first_s": _Range(0, 3600, "seconds", low_allowed=False),
    "notify.retry_max_s": _Range(0, 3600, "seconds", low_allowed=False),
    "notify.attempts": _Range(1, 100, "tries"),
    "proxy.timeout_s": _TIMEOUT_S,
    "backups.full_max_age_h": _Range(0, 24 * 365, "hours", low_allowed=False),
    "backups.differential_max_age_h": _Range(0, 24 * 365, "hours", low_allowed=False),
    "backups.full_keep_days": _Range(1, 3650, "days"),
    "backups.differential_keep_days": _Range(1, 3650, "days"),
    "routines.clear_finished_jobs_after_s": _Range(0, 3660 * DAY_S, "seconds"),
    "routines.clear_batch_size": _Range(1, 100_000, "jobs"),
    "routines.vacuum_timeout_s": _Range(0, 7 * DAY_S, "seconds", low_allowed=False),
}


def _value_at(config: Config, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _numbers(config: Config) -> list[tuple[str, float, _Range]]:
    """(key, value, range) of every number in ``config`` that has a range."""
    found = [(key, _value_at(config, key), rule) for key, rule in _RANGES.items()]
    for name, threshold in config.thresholds.items():
        high = 100.0 if threshold.unit == "%" else 1e12
        for line in ("normal", "warn", "critical"):
            found.append((f"thresholds.{name}.{line}", getattr(threshold, line),
                          _Range(0, high, threshold.unit)))
    for name in AlertLevelsConfig.__struct_fields__:
        level = getattr(config.alert_levels, name)
        found.append((f"alert_levels.{name}.respond_within_minutes",
                      level.respond_within_minutes, _MINUTES))
    for index, step in enumerate(config.escalation):
        found.append((f"escalation[{index}].level", step.level, _Range(1, 99)))
        found.append((f"escalation[{index}].within_minutes", step.within_minutes, _MINUTES))
    for class_name, limit in config.queue.concurrency.items():
        key = f"queue.concurrency.{class_name}"
        found.append((f"{key}.to", limit.to, _Range(1, 1_000_000)))
        found.append((f"{key}.duration_s", limit.duration_s,
                      _Range(0, 30 * DAY_S, "seconds", low_allowed=False)))
    for index, host in enumerate(config.hosts):
        found.append((f"hosts[{index}].port", host.port, _PORT))
    for index, entry in enumerate(config.cleanup):
        found.append((f"cleanup[{index}].batch_size", entry.batch_size,
                      _Range(1, 100_000, "rows")))
        found.append((f"cleanup[{index}].timeout_s", entry.timeout_s,
                      _Range(0, 7 * DAY_S, "seconds", low_allowed=False)))
    for service in NOTIFY_SERVICES:
        section = getattr(config.notify, service)
        if section is not None:
            found.append((f"notify.{service}.timeout_s", section.timeout_s, _TIMEOUT_S))
    found += _component_numbers(config)
    return found


def _component_numbers(config: Config) -> list[tuple[str, float, _Range]]:
    found: list[tuple[str, float, _Range]] = []
    if config.sentry is not None:
        sentry = config.sentry
        found.append(("sentry.timeout_s", sentry.timeout_s, _TIMEOUT_S))
        found.append(("sentry.window_h", sentry.window_h, _Range(1, 14 * 24, "hours")))
        found.append(("sentry.max_pages", sentry.max_pages, _Range(1, 100, "pages")))
        for line in ("normal", "warn", "critical"):
            found.append((f"sentry.events.{line}", getattr(sentry.events, line),
                          _Range(0, 1e12, "events")))
    if config.s3 is not None:
        found.append(("s3.timeout_s", config.s3.timeout_s, _TIMEOUT_S))
    if config.github is not None:
        found.append(("github.timeout_s", config.github.timeout_s, _TIMEOUT_S))
        found.append(("github.max_pages", config.github.max_pages, _Range(1, 100, "pages")))
    audit = config.access_audit
    found += [
        ("access_audit.window_s", audit.window_s, _Range(60, 31 * DAY_S, "seconds")),
        ("access_audit.timeout_s", audit.timeout_s, _Range(0, 3600, "seconds",
                                                           low_allowed=False)),
        ("access_audit.failed_auth_per_client", audit.failed_auth_per_client,
         _Range(1, 1e9, "answers")),
        ("access_audit.probes_per_client", audit.probes_per_client, _Range(1, 1e9, "requests")),
        ("access_audit.not_found_per_client", audit.not_found_per_client,
         _Range(1, 1e9, "answers")),
        ("access_audit.top", audit.top, _Range(1, 1000, "rows")),
    ]
    return found


def _jump_host_problem(text: str) -> str | None:
    user, at, rest = text.rpartition("@")
    if not at or not user or not rest:
        return "must be user@host[:port]"
    if rest.count(":") == 1:  # host:port (an IPv6 address has more colons)
        host, _, port = rest.partition(":")
        if not host:
            return "must be user@host[:port]"
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            return f"port {port!r} is not a TCP port (1-65535)"
    return None


def _check_consistency(config: Config, path: Path | str) -> None:
    """Rules that types cannot express."""
    for key, value, rule in _numbers(config):
        if value is not None and (problem := rule.problem(float(value))) is not None:
            raise ConfigError(path, key, problem)
    if config.service.health_url and (problem := url_problem(config.service.health_url)):
        raise ConfigError(path, "service.health_url", problem)
    if config.service.tls_critical_days > config.service.tls_warn_days:
        raise ConfigError(
            path,
            "service.tls_critical_days",
            tr("config.critical_above_warn", critical=config.service.tls_critical_days,
               warn=config.service.tls_warn_days),
        )
    for name, threshold in config.thresholds.items():
        key = f"thresholds.{name}"
        if threshold.warn > threshold.critical:
            raise ConfigError(
                path,
                f"{key}.warn",
                tr("config.warn_above_critical", warn=threshold.warn,
                   critical=threshold.critical),
            )
        if threshold.normal > threshold.warn:
            raise ConfigError(
                path,
                f"{key}.normal",
                tr("config.normal_above_warn", normal=threshold.normal, warn=threshold.warn),
            )
    for class_name, limit in config.queue.concurrency.items():
        key = f"queue.concurrency.{class_name}"
        if limit.on_conflict not in ("block", "discard"):
            raise ConfigError(
                path, f"{key}.on_conflict",
                tr("config.not_one_of", value=limit.on_conflict, choices="block, discard"),
            )
    seen: set[str] = set()
    for index, host in enumerate(config.hosts):
        if host.name in seen:
            raise ConfigError(path, f"hosts[{index}].name",
                              tr("config.duplicate_host", name=host.name))
        seen.add(host.name)
    if config.kamal.accessories:
        raise ConfigError(
            path, "kamal.accessories", tr("config.accessories_from_deploy")
        )
    for index, host in enumerate(config.hosts):
        if host.jump_host and (problem := _jump_host_problem(host.jump_host)) is not None:
            raise ConfigError(path, f"hosts[{index}].jump_host", problem)
        if host.proxy_command and (problem := proxy_command_problem(host.proxy_command)):
            raise ConfigError(path, f"hosts[{index}].proxy_command", problem)
    # Without [[hosts]] the names come from deploy.yml: checked once it is read.
    if config.hosts and config.database.host and config.database.host not in seen:
        raise ConfigError(
            path, "database.host", tr("config.no_such_host", name=config.database.host)
        )
    levels = [step.level for step in config.escalation]
    if levels != sorted(levels):
        raise ConfigError(path, "escalation", tr("config.escalation_order"))
    _check_notify(config, path)
    _check_components(config, path)
    if (security := security_problem(config.security)) is not None:
        raise ConfigError(path, *security)
    if (cleanup := cleanup_problem(config.cleanup)) is not None:
        raise ConfigError(path, *cleanup)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A channel by name (#rainbow-dev) or by Slack's id (C0123ABCD).
_SLACK_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{6,})$")


def _check_notify(config: Config, path: Path | str) -> None:
    """[notify]: variables' names (never values), URLs, channels and the targets named."""
    notify = config.notify
    for service in NOTIFY_SERVICES:
        section = getattr(notify, service)
        if section is None:
            continue
        for field in section.__struct_fields__:
            value = getattr(section, field)
            required = field == "routing_key_env"
            if field.endswith("_env") and (value or required) and not _ENV_NAME.match(value):
                raise ConfigError(path, f"notify.{service}.{field}",
                                  tr("config.notify.env_name", value=value))
            if field.endswith("_url") and (problem := url_problem(value)) is not None:
                raise ConfigError(path, f"notify.{service}.{field}", problem)
    slack = notify.slack
    if slack is not None:
        if bool(slack.webhook_env) == bool(slack.token_env):
            raise ConfigError(path, "notify.slack", tr("config.notify.slack_one_way"))
        if not _SLACK_CHANNEL.match(slack.channel):
            raise ConfigError(path, "notify.slack.channel",
                              tr("config.notify.channel", value=slack.channel))
    if notify.retry_max_s < notify.retry_first_s:
        raise ConfigError(path, "notify.retry_max_s", tr(
            "config.notify.retry_order", first=notify.retry_first_s, most=notify.retry_max_s))
    if notify.timeline_url:
        try:
            example = notify.timeline_url.format(incident_id="2026-01-01-0000-incident")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(path, "notify.timeline_url",
                              tr("config.notify.timeline_url", field="{incident_id}")) from None
        if (problem := url_problem(example)) is not None:
            raise ConfigError(path, "notify.timeline_url", problem)
    named = [(f"escalation[{index}].notify", step.notify or ())
             for index, step in enumerate(config.escalation)]
    named.append(("notify.infrastructure", notify.infrastructure or ()))
    for key, targets in named:
        for target in targets:
            if (problem := _target_problem(notify, target)) is not None:
                raise ConfigError(path, key, problem)


def _target_problem(notify: NotifyConfig, target: str) -> str | None:
    service, colon, channel = target.partition(":")
    if service not in NOTIFY_SERVICES or (colon and service != "slack"):
        return tr("config.notify.target", value=target)
    if not notify.configured(service):
        return tr("config.notify.not_configured", value=target, service=service)
    if colon:
        if not _SLACK_CHANNEL.match(channel):
            return tr("config.notify.channel", value=channel)
        if notify.slack is not None and notify.slack.through_webhook:
            return tr("config.notify.webhook_channel", value=target)
    return None


# Sentry's organisation and project slugs; S3's bucket names (virtual-host safe).
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def _check_components(config: Config, path: Path | str) -> None:
    """[sentry] and [s3]: names of variables, slugs, URLs and lines in order."""
    sentry = config.sentry
    if sentry is not None:
        for key in ("organization", "project"):
            value = getattr(sentry, key)
            if not _SLUG.match(value) and PLACEHOLDER not in value:
                raise ConfigError(path, f"sentry.{key}", tr("config.sentry.slug", value=value))
        if not _ENV_NAME.match(sentry.token_env):
            raise ConfigError(path, "sentry.token_env",
                              tr("config.notify.env_name", value=sentry.token_env))
        if (problem := url_problem(sentry.base_url)) is not None:
            raise ConfigError(path, "sentry.base_url", problem)
        events = sentry.events
        if not events.normal <= events.warn <= events.critical:
            raise ConfigError(path, "sentry.events", tr(
                "config.sentry.events_order", normal=events.normal, warn=events.warn,
                critical=events.critical))
    s3 = config.s3
    if s3 is not None:
        if (not _BUCKET.match(s3.bucket) or ".." in s3.bucket) and PLACEHOLDER not in s3.bucket:
            raise ConfigError(path, "s3.bucket", tr("config.s3.bucket", value=s3.bucket))
        if not _REGION.match(s3.region):
            raise ConfigError(path, "s3.region", tr("config.s3.region", value=s3.region))
        if s3.endpoint_url and (problem := url_problem(s3.endpoint_url)) is not None:
            raise ConfigError(path, "s3.endpoint_url", problem)
        if s3.probe_key.startswith("/"):
            raise ConfigError(path, "s3.probe_key",
                              tr("config.s3.probe_key", value=s3.probe_key))
    _check_github(config, path)


# GitHub's owner (user or organisation) and repository names.
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def _check_github(config: Config, path: Path | str) -> None:
    """[github] and [access_audit]: the repository's name, the variable's, the URL,
    severities in order, probe paths that are paths."""
    github = config.github
    if github is not None:
        repository = github.repository
        if PLACEHOLDER not in repository and (
            not _REPOSITORY.match(repository) or repository.endswith((".git", "/.", "/.."))
        ):
            raise ConfigError(path, "github.repository",
                              tr("config.github.repository", value=repository))
        if not _ENV_NAME.match(github.token_env):
            raise ConfigError(path, "github.token_env",
                              tr("config.notify.env_name", value=github.token_env))
        if (problem := url_problem(github.api_url)) is not None:
            raise ConfigError(path, "github.api_url", problem)
        order = ADVISORY_SEVERITIES.index
        if order(github.warn_severity) > order(github.critical_severity):
            raise ConfigError(path, "github.warn_severity", tr(
                "config.github.severity_order", warn=github.warn_severity,
                critical=github.critical_severity))
    for index, probe in enumerate(config.access_audit.probe_paths):
        if not probe.startswith("/") or any(char.isspace() for char in probe):
            raise ConfigError(path, f"access_audit.probe_paths[{index}]",
                              tr("config.access_audit.probe_path", value=probe))


def load_config(path: Path) -> Config:
    """Read and validate one file; raises ``ConfigError`` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", tr("config.file_not_found")) from None
    except IsADirectoryError:
        raise ConfigError(path, "", tr("config.is_directory")) from None
    except PermissionError:
        raise ConfigError(path, "", tr("config.permission_denied")) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            path, "", tr("config.not_utf8", reason=error.reason, byte=error.start)
        ) from None
    except OSError as error:
        raise ConfigError(path, "", tr("config.unreadable", error=error.strerror)) from None
    return parse_config(text, path)


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("rainbow-tui")) / "config.toml"


def config_candidates(explicit: Path | None) -> list[Path]:
    """Where the configuration is looked for, in order."""
    if explicit is not None:
        return [explicit]
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return [Path(from_env)]
    return [Path("config.toml"), user_config_path()]


def find_config(explicit: Path | None) -> Config:
    """Load the first configuration of the search order.

    An explicit ``--config`` or ``$RAINBOW_TUI_CONFIG`` must exist; the implicit
    places are tried in turn.
    """
    candidates = config_candidates(explicit)
    if len(candidates) == 1:
        return load_config(candidates[0])
    for candidate in candidates:
        if candidate.is_file():
            return load_config(candidate)
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise ConfigError(
        "config",
        "",
        tr("config.not_found", looked=looked, variable=ENV_CONFIG),
    )


def expand_path(text: str) -> Path:
    return Path(os.path.expandvars(text)).expanduser()
