"""Which open alerts share a cause, and which runbooks answer it.

A pool of exhausted database connections raises its own alert, and with it the 5xx
rate and the p95 of every request that waited for a connection; the 5xx alert is
the most urgent of the three, but its remedy is the database's.  So open alerts are
grouped by :data:`CAUSE_RULES`, a table read top to bottom: the first rule whose
cause pattern fits an open alert makes it a cause and takes the rule's symptoms
that are open as its related alerts.  An alert no rule claims is a cause of its
own.  The runbook proposed for a group answers its cause, not its loudest symptom.

Patterns are alert keys (``component:metric``) with ``*`` wildcards; ``{host}`` in
a symptom stands for the cause's host (``host db-1:memory_percent`` → ``db-1``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rainbow_tui.config import Config
    from rainbow_tui.incidents.runbooks import Runbook, RunbookCatalog
    from rainbow_tui.levels import Alert

__all__ = [
    "CAUSE_RULES",
    "AlertGroup",
    "CauseRule",
    "ChoiceKind",
    "RunbookChoice",
    "db_hosts_of",
    "group_alerts",
    "group_of",
    "host_of",
    "proposed_runbook",
    "runbook_choices",
]

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}

# The request-level symptoms: what every request that could not be served shows.
REQUEST_SYMPTOMS = ("service:error_rate_percent", "service:response_time_p95_ms")
DB_CONNECTION_ALERTS = (
    "database:db_connections",
    "database:reachable",
    "database:pool_timeouts",
)


@dataclass(frozen=True, slots=True)
class CauseRule:
    """One kind of fault: the alerts that are it, the alerts it brings with it."""

    name: str
    causes: tuple[str, ...]
    symptoms: tuple[str, ...] = ()
    # The runbook for the cause ("" : the catalogue's best match for the cause's key).
    runbook: str = ""
    # The runbook instead when the cause is on a database host (by its role).
    db_host_runbook: str = ""


# Top to bottom: a host or container failing explains what the service then shows,
# so infrastructure comes before the service's own signals.
CAUSE_RULES: tuple[CauseRule, ...] = (
    CauseRule("host-unreachable", causes=("host *:reachable",), symptoms=("host {host}:*",)),
    CauseRule(
        "web-containers",
        causes=("host *:container:web",),
        symptoms=("host *:container:web", "service:health", *REQUEST_SYMPTOMS),
        runbook="service-down",
    ),
    CauseRule(
        "job-workers",
        causes=("host *:container:job", "queue:processes"),
        symptoms=("host *:container:job", "queue:processes", "queue:waiting_jobs",
                  "queue:job_processing_time_s", "queue:latency:*"),
        runbook="job-backlog",
    ),
    CauseRule(
        "database-connections",
        causes=DB_CONNECTION_ALERTS,
        symptoms=(*DB_CONNECTION_ALERTS, *REQUEST_SYMPTOMS),
        runbook="db-connections",
    ),
    CauseRule("service-down", causes=("service:health",), symptoms=REQUEST_SYMPTOMS,
              runbook="service-down"),
    CauseRule("slow-queries", causes=("database:db_query_time_ms",),
              symptoms=("service:response_time_p95_ms",), runbook="slow-queries"),
    # A container's memory says which process grows; the host's memory follows it.
    CauseRule(
        "container-memory",
        causes=("host *:container_memory:*",),
        symptoms=("host {host}:container_memory:*", "host {host}:memory_percent"),
    ),
    CauseRule("host-memory", causes=("host *:memory_percent",),
              runbook="memory-growth", db_host_runbook="db-memory-growth"),
    CauseRule("job-backlog", causes=("queue:waiting_jobs",),
              symptoms=("queue:job_processing_time_s", "queue:latency:*"),
              runbook="job-backlog"),
    CauseRule("failed-jobs", causes=("queue:failed_jobs",), symptoms=("queue:failed_backlog",),
              runbook="failed-jobs"),
    CauseRule("service-errors", causes=("service:error_rate_percent",),
              symptoms=("service:response_time_p95_ms",)),
)


def host_of(alert_key: str) -> str:
    """The host an alert is about (``host db-1:memory_percent`` → ``db-1``), else ""."""
    if not alert_key.startswith("host "):
        return ""
    return alert_key[len("host "):].split(":", 1)[0]


def db_hosts_of(config: Config) -> frozenset[str]:
    """The hosts that run the database: the one config.toml or the db accessory
    names, and any whose Kamal roles or accessories say db."""
    names = {config.database.host} if config.database.host else set()
    for host in config.hosts:
        if "db" in host.roles or "db" in host.accessories:
            names.add(host.name)
    for accessory in config.kamal.accessories:
        if accessory.name == "db":
            names.update(accessory.hosts)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """A cause and the open alerts that ride along with it."""

    cause: Alert
    related: tuple[Alert, ...] = ()
    rule: CauseRule | None = None

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return (self.cause, *self.related)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(alert.key for alert in self.alerts)

    @property
    def urgency(self) -> tuple[int, float]:
        """Most urgent first: the worst severity among its alerts, then the oldest."""
        rank = min(SEVERITY_ORDER.get(alert.severity, 9) for alert in self.alerts)
        return rank, min(alert.first_seen.timestamp() for alert in self.alerts)


def _fits(key: str, patterns: Iterable[str], host: str = "") -> bool:
    return any(fnmatch.fnmatchcase(key, pattern.replace("{host}", host)) for pattern in patterns)


def group_alerts(
    alerts: Sequence[Alert], rules: Sequence[CauseRule] = CAUSE_RULES
) -> tuple[AlertGroup, ...]:
    """The open alerts grouped by cause, the most urgent group first."""
    claimed: set[str] = set()
    groups: list[AlertGroup] = []
    for rule in rules:
        for alert in alerts:
            if alert.key in claimed or not _fits(alert.key, rule.causes):
                continue
            claimed.add(alert.key)
            host = host_of(alert.key)
            related = tuple(
                other
                for other in alerts
                if other.key not in claimed and _fits(other.key, rule.symptoms, host)
            )
            claimed.update(other.key for other in related)
            groups.append(AlertGroup(alert, related, rule))
    groups += [AlertGroup(alert) for alert in alerts if alert.key not in claimed]
    # Stable: among equally urgent groups, the table's order (the cause first).
    return tuple(sorted(groups, key=lambda group: group.urgency))


def group_of(groups: Sequence[AlertGroup], alert_key: str) -> AlertGroup | None:
    """The group an alert belongs to, as its cause or as a symptom."""
    return next((group for group in groups if alert_key in group.keys), None)


def proposed_runbook(
    group: AlertGroup, catalog: RunbookCatalog, db_hosts: frozenset[str] = frozenset()
) -> Runbook:
    """The runbook for the group's cause (``general`` when nothing answers it)."""
    rule = group.rule
    if rule is not None:
        wanted = rule.runbook
        if rule.db_host_runbook and host_of(group.cause.key) in db_hosts:
            wanted = rule.db_host_runbook
        found = catalog.get(wanted) if wanted else None
        if found is not None:
            return found
    return catalog.pick(group.cause.key)


ChoiceKind = Literal["proposed", "matching", "other"]


@dataclass(frozen=True, slots=True)
class RunbookChoice:
    """One line of the runbook picker."""

    runbook: Runbook
    kind: ChoiceKind
    # The cause the incident is opened for and the alerts riding along (none for a
    # runbook chosen without an alert: restore, security, maintenance).
    cause: Alert | None = None
    related: tuple[Alert, ...] = ()
    # The open incident this choice goes back to instead of opening another.
    open_incident: str = ""


def runbook_choices(
    groups: Sequence[AlertGroup],
    catalog: RunbookCatalog,
    *,
    db_hosts: frozenset[str] = frozenset(),
    alert_key: str | None = None,
) -> list[RunbookChoice]:
    """The picker's list: first the runbook for the cause (of ``alert_key``'s group,
    else of the most urgent group), then each other runbook that answers an open
    alert (with that alert's group), then every other runbook."""
    chosen = group_of(groups, alert_key) if alert_key else None
    if chosen is None and groups:
        chosen = groups[0]
    choices: list[RunbookChoice] = []
    if chosen is not None:
        runbook = proposed_runbook(chosen, catalog, db_hosts)
        choices.append(RunbookChoice(runbook, "proposed", chosen.cause, chosen.related))
    elif (general := catalog.get("general")) is not None:
        choices.append(RunbookChoice(general, "proposed"))
    listed = {choice.runbook.id for choice in choices}
    for group in groups:
        for runbook in catalog.runbooks.values():
            if runbook.id in listed:
                continue
            own = proposed_runbook(group, catalog, db_hosts).id == runbook.id
            if own or any(runbook.match_rank(alert.key) for alert in group.alerts):
                choices.append(RunbookChoice(runbook, "matching", group.cause, group.related))
                listed.add(runbook.id)
    choices += [
        RunbookChoice(runbook, "other")
        for runbook in catalog.runbooks.values()
        if runbook.id not in listed
    ]
    return choices
