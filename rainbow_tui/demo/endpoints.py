"""Where the running demo stack can be reached.

The demo stack runs in a process of its own (``python -m rainbow_tui.demo serve``)
and, once every part answers, writes these endpoints as JSON to
``<state_dir>/stack.json``.  The console, the ``kamal`` stand-in, the tests and the
benchmarks read that file instead of guessing ports.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

STACK_FILE = "stack.json"
DRILLS = (
    "service-down",
    "db-connections",
    "memory-leak",
    "job-backlog",
    "failed-jobs",
    "slow-queries",
    "crash-loop",
    "deploy-lock",
    "backup-stale",
    "sentry-new-errors",
    "vulnerable-gem",
)
# Where db-1 mounts the database's data volume (a disk of its own, /dev/sdb).
DB_DATA_MOUNT = "/var/lib/postgresql/data"


@dataclass(frozen=True)
class DemoHost:
    """One stand-in host: its own SSH listener on 127.0.0.1."""

    name: str  # e.g. "app-1"
    roles: tuple[str, ...]  # e.g. ("web", "job") or ("db",)
    address: str  # always "127.0.0.1"
    port: int


SAAS_FIELDS = (
    "sentry_url", "sentry_token", "sentry_organization", "sentry_project", "s3_endpoint_url",
    "s3_bucket", "s3_region", "s3_probe_key", "s3_access_key_id", "s3_secret_access_key",
    "github_api_url", "github_token", "github_repository",
)


@dataclass(frozen=True)
class DemoEndpoints:
    state_dir: Path
    service: str  # Kamal service name, "shiojiri-rainbow-seeker"
    pg_dsn: str  # the app's database as the console's role, no password (loopback trust)
    pg_queue_dsn: str  # Solid Queue's own database (Rails 8), the console's role
    pg_admin_dsn: str  # superuser "postgres", the app's database
    pg_admin_queue_dsn: str  # superuser "postgres", Solid Queue's database
    health_url: str  # http://127.0.0.1:PORT/up
    control_url: str  # http://127.0.0.1:PORT/_demo (drills and kamal stand-in)
    ssh_user: str
    client_key: Path  # private key the console logs in with
    known_hosts: Path  # lists each host's [127.0.0.1]:PORT key
    hosts: tuple[DemoHost, ...]
    kamal_command: tuple[str, ...]  # argv prefix; append e.g. ("app", "boot")
    supervisor_pid: int
    # Where db-1 mounts the database volume: ``df -h`` of this path is the DB disk.
    db_data_mount: str = DB_DATA_MOUNT
    # The PostgreSQL client tools (psql, pg_dump…) matching the demo server.
    pg_bin_dir: str = ""
    # Both databases as the app's role, which owns them and their tables (the role the
    # manual's monthly ``psql -U … -c "VACUUM ANALYZE;"`` runs as).
    pg_owner_dsn: str = ""
    pg_owner_queue_dsn: str = ""
    # The stand-ins of SaaS: Sentry's API (its base URL, a read token, the
    # project) and the image bucket's S3 (endpoint, bucket, probe object, keys).
    sentry_url: str = ""
    sentry_token: str = ""
    sentry_organization: str = ""
    sentry_project: str = ""
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = ""
    s3_probe_key: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # GitHub's REST API for the repository's Dependabot alerts: base URL, token, owner/name.
    github_api_url: str = ""
    github_token: str = ""
    github_repository: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["client_key"] = str(self.client_key)
        data["known_hosts"] = str(self.known_hosts)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> DemoEndpoints:
        data = json.loads(text)
        return cls(
            state_dir=Path(data["state_dir"]),
            service=data["service"],
            pg_dsn=data["pg_dsn"],
            pg_queue_dsn=data["pg_queue_dsn"],
            pg_admin_dsn=data["pg_admin_dsn"],
            pg_admin_queue_dsn=data["pg_admin_queue_dsn"],
            health_url=data["health_url"],
            control_url=data["control_url"],
            ssh_user=data["ssh_user"],
            client_key=Path(data["client_key"]),
            known_hosts=Path(data["known_hosts"]),
            hosts=tuple(
                DemoHost(h["name"], tuple(h["roles"]), h["address"], int(h["port"]))
                for h in data["hosts"]
            ),
            kamal_command=tuple(data["kamal_command"]),
            supervisor_pid=int(data["supervisor_pid"]),
            db_data_mount=data.get("db_data_mount", DB_DATA_MOUNT),
            pg_bin_dir=data.get("pg_bin_dir", ""),
            pg_owner_dsn=data.get("pg_owner_dsn", ""),
            pg_owner_queue_dsn=data.get("pg_owner_queue_dsn", ""),
            **{name: str(data.get(name, "")) for name in SAAS_FIELDS},
        )

    @classmethod
    def load(cls, state_dir: Path) -> DemoEndpoints:
        return cls.from_json((state_dir / STACK_FILE).read_text(encoding="utf-8"))
