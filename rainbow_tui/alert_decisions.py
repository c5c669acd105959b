"""What the responders decided about the dashboard's alerts: acknowledged, silenced.

An alert is acknowledged by someone at a time (someone is on it), or silenced for a
while — or until it resolves — with a reason typed by whoever silenced it.  A
silenced alert that gets worse than it was when silenced (a higher severity, or
the critical level) breaks through: the silence ends and the views say so.  A
silence ends by itself when its time is up; an alert that resolves takes its
acknowledgement and its silence with it, so the next time it fires it is news.

Every decision is a line of a small append-only log (JSON lines, redacted, 0600
in a 0700 directory, fsynced), replayed at start: decisions outlive a restart.
:class:`AlertDecisions` is the book of what is in force; :class:`DecisionLog` the
file.  Textual-free, and free of the monitor: it judges the alerts it is shown.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from rainbow_tui.incidents.redact import redact
from rainbow_tui.levels import SEVERITIES, Alert, Level, Severity, severity_word
from rainbow_tui.text import tr

if TYPE_CHECKING:
    from rainbow_tui.config import Config
    from rainbow_tui.findings import Finding

__all__ = [
    "SILENCE_SPANS",
    "AlertDecision",
    "AlertDecisions",
    "AlertStanding",
    "DecisionLog",
    "acknowledgement",
    "decision_log_path",
    "decision_news",
    "decision_note",
    "silencing",
    "standings_in_force",
    "worsened",
]

log = logging.getLogger(__name__)

DecisionKind = Literal["acknowledged", "silenced", "silence_ended", "cleared", "notified"]
# Why a silence ended: its time was up, the alert got worse, or it resolved.
SilenceEnd = Literal["expired", "worsened", "resolved"]

# The spans offered when silencing (None: until the alert resolves).
SILENCE_SPANS: tuple[timedelta | None, ...] = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
    None,
)
LOG_NAME = "alert-decisions.jsonl"
# Past this size the log is rewritten at start with only what is still in force
# and the newest lines: small, however long the console runs.
COMPACT_BYTES = 256 * 1024
KEPT_ON_COMPACTION = 200


class AlertDecision(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of the log.  ``severity`` and ``level`` are the alert's when it was
    decided (for an ended silence: when it ended); every text is redacted."""

    kind: DecisionKind
    alert: str  # the alert's key, "service:error_rate_percent"
    at: datetime
    author: str
    title: str = ""
    severity: Severity | None = None
    level: str = ""
    until: datetime | None = None  # silenced: when it ends (None: when it resolves)
    reason: str = ""  # silenced: the reason typed
    ended: SilenceEnd | None = None  # silence_ended: why
    incident: str = ""  # also on this incident's timeline
    ok: bool = True  # notified: delivered or not
    channel: str = ""  # notified: "pagerduty"
    detail: str = ""  # notified: what the service answered


@dataclass(frozen=True, slots=True)
class AlertStanding:
    """What is in force for one alert: who acknowledged it, whether it is silenced,
    and whether its last silence broke through."""

    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    silenced_by: str = ""
    silenced_at: datetime | None = None
    silenced_until: datetime | None = None
    until_resolved: bool = False
    reason: str = ""
    silenced_severity: Severity | None = None
    silenced_level: str = ""
    # The silence ended because the alert got worse: when, and at what severity.
    broke_through_at: datetime | None = None
    broke_through_severity: Severity | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def silenced(self) -> bool:
        return self.silenced_at is not None

    @property
    def empty(self) -> bool:
        return not self.acknowledged and not self.silenced and self.broke_through_at is None


def acknowledgement(
    alert: Alert, author: str, at: datetime, incident: str = ""
) -> AlertDecision:
    """``author`` is on ``alert`` (not applied: the caller applies it once on disk)."""
    return AlertDecision(
        kind="acknowledged", alert=alert.key, at=at, author=redact(author),
        title=redact(alert.title), severity=alert.severity, level=alert.level.value,
        incident=incident,
    )


def silencing(
    alert: Alert, author: str, at: datetime, span: timedelta | None, reason: str,
    incident: str = "",
) -> AlertDecision:
    """``alert`` silenced for ``span`` from ``at`` (None: until it resolves)."""
    return AlertDecision(
        kind="silenced", alert=alert.key, at=at, author=redact(author),
        title=redact(alert.title), severity=alert.severity, level=alert.level.value,
        until=at + span if span is not None else None, reason=redact(reason.strip()),
        incident=incident,
    )


def decision_note(decision: AlertDecision) -> str:
    """The decision as its incident's timeline says it (the values redacted already)."""
    title = decision.title or decision.alert
    if decision.kind == "acknowledged":
        return tr("alert.note.acknowledged", title=title)
    if decision.kind == "silenced":
        if decision.until is None:
            return tr("alert.note.silenced_until_resolved", title=title, reason=decision.reason)
        return tr("alert.note.silenced", title=title, reason=decision.reason,
                  until=f"{decision.until.astimezone():%H:%M}")
    if decision.kind == "silence_ended" and decision.ended == "worsened":
        severity = severity_word(decision.severity) if decision.severity else decision.level
        return tr("alert.note.broke_through", title=title, severity=severity)
    if decision.kind == "silence_ended":
        return tr("alert.note.silence_ended", title=title)
    return tr("alert.note.cleared", title=title)


NewsSeverity = Literal["information", "warning", "error"]


def decision_news(decision: AlertDecision) -> tuple[str, NewsSeverity] | None:
    """What a view says of a decision as it is taken, and how loud (None: nothing)."""
    title = decision.title or decision.alert
    if decision.kind == "acknowledged":
        return tr("alert.news.acknowledged", who=decision.author, title=title), "information"
    if decision.kind == "silenced":
        if decision.until is None:
            said = tr("alert.news.silenced_until_resolved", who=decision.author, title=title,
                      reason=decision.reason)
        else:
            said = tr("alert.news.silenced", who=decision.author, title=title,
                      reason=decision.reason, until=f"{decision.until.astimezone():%H:%M}")
        return said, "information"
    if decision.kind == "silence_ended" and decision.ended == "worsened":
        severity = severity_word(decision.severity) if decision.severity else decision.level
        return tr("alert.news.broke_through", title=title, severity=severity), "warning"
    if decision.kind == "silence_ended" and decision.ended == "expired":
        return tr("alert.news.silence_expired", title=title), "information"
    if decision.kind == "notified" and not decision.ok:
        return tr("alert.news.not_sent", channel=decision.channel,
                  detail=decision.detail), "error"
    return None


def _worse(severity: Severity, than: Severity) -> bool:
    return SEVERITIES.index(severity) < SEVERITIES.index(than)


def worsened(standing: AlertStanding, alert: Alert) -> bool:
    """The silenced alert is worse than when silenced: a higher severity, or the
    critical level reached from below it."""
    if not standing.silenced:
        return False
    if standing.silenced_severity is not None and _worse(alert.severity,
                                                         standing.silenced_severity):
        return True
    return alert.level is Level.CRITICAL and standing.silenced_level != Level.CRITICAL.value


def _apply(standing: AlertStanding, decision: AlertDecision) -> AlertStanding:
    if decision.kind == "acknowledged":
        return replace(standing, acknowledged_by=decision.author,
                       acknowledged_at=decision.at)
    if decision.kind == "silenced":
        return replace(
            standing, silenced_by=decision.author, silenced_at=decision.at,
            silenced_until=decision.until, until_resolved=decision.until is None,
            reason=decision.reason, silenced_severity=decision.severity,
            silenced_level=decision.level, broke_through_at=None,
            broke_through_severity=None,
        )
    if decision.kind == "silence_ended":
        ended = replace(standing, silenced_by="", silenced_at=None, silenced_until=None,
                        until_resolved=False, reason="", silenced_severity=None,
                        silenced_level="")
        if decision.ended == "worsened":
            return replace(ended, broke_through_at=decision.at,
                           broke_through_severity=decision.severity)
        return ended
    if decision.kind == "cleared":
        return AlertStanding()
    return standing  # "notified" changes nothing in force


class AlertDecisions:
    """The decisions in force, by alert key, built from the log's lines."""

    def __init__(self, decisions: Iterable[AlertDecision] = ()) -> None:
        self._standings: dict[str, AlertStanding] = {}
        for decision in decisions:
            self.apply(decision)

    def apply(self, decision: AlertDecision) -> None:
        standing = _apply(self._standings.get(decision.alert, AlertStanding()), decision)
        if standing.empty:
            self._standings.pop(decision.alert, None)
        else:
            self._standings[decision.alert] = standing

    def standing(self, alert_key: str) -> AlertStanding | None:
        return self._standings.get(alert_key)

    @property
    def standings(self) -> Mapping[str, AlertStanding]:
        return dict(self._standings)

    def shown(self, alerts: Sequence[Alert]) -> dict[str, AlertStanding]:
        """The standings of the open ``alerts``, for the views."""
        return {a.key: s for a in alerts if (s := self._standings.get(a.key)) is not None}

    def review(
        self, alerts: Sequence[Alert], findings: Sequence[Finding], at: datetime,
        author: str = "",
    ) -> list[AlertDecision]:
        """Hold what is in force against the alerts open ``at``: a silence whose time
        is up ends, a silenced alert worse than when silenced breaks through, an alert
        resolved (its finding judged and no longer alerting) is cleared.  Returns the
        decisions taken, applied already, for the log."""
        taken: list[AlertDecision] = []
        open_alerts = {alert.key: alert for alert in alerts}
        judged = {f.key: f for f in findings}
        for key, standing in tuple(self._standings.items()):
            alert = open_alerts.get(key)
            if alert is None:
                finding = judged.get(key)
                # Not judged this round (a source still silent), or unknown: no
                # proof it resolved; keep what is in force until there is.
                if (finding is not None and finding.level is not Level.UNKNOWN
                        and not finding.level.alerting):
                    taken.append(AlertDecision(kind="cleared", alert=key, at=at,
                                               author=author, level=finding.level.value))
                continue
            if worsened(standing, alert):
                taken.append(AlertDecision(
                    kind="silence_ended", alert=key, at=at, author=author,
                    title=redact(alert.title), severity=alert.severity,
                    level=alert.level.value, ended="worsened",
                ))
            elif (standing.silenced_until is not None and standing.silenced_until <= at):
                taken.append(AlertDecision(
                    kind="silence_ended", alert=key, at=at, author=author,
                    title=redact(alert.title), severity=alert.severity,
                    level=alert.level.value, ended="expired",
                ))
        for decision in taken:
            self.apply(decision)
        return taken


# -- the file ------------------------------------------------------------------------------


def decision_log_path(config: Config) -> Path:
    """Beside the incidents directory (where the history lives too)."""
    from rainbow_tui.config import expand_path

    return expand_path(config.incidents.state_dir).parent / LOG_NAME


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AlertDecision)


class DecisionLog:
    """The append-only file of decisions: each append on disk (fsync) on return."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Lines that could not be read (a torn last line, a hand edit): skipped.
        self.unreadable = 0

    def read(self) -> list[AlertDecision]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        decisions: list[AlertDecision] = []
        self.unreadable = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                decisions.append(_decoder.decode(line))
            except msgspec.DecodeError:
                self.unreadable += 1
        if self.unreadable:
            log.warning("%s: %d unreadable line(s) skipped", self.path, self.unreadable)
        return decisions

    def _open(self, flags: int, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # a file made by hand or an older console
        return fd

    def append(self, decisions: Sequence[AlertDecision]) -> None:
        """Raises ``OSError`` when the disk refuses."""
        if not decisions:
            return
        data = b"".join(_encoder.encode(d) + b"\n" for d in decisions)
        fd = self._open(os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.path)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self) -> AlertDecisions:
        """The book from the file, compacted first when it has grown large."""
        decisions = self.read()
        book = AlertDecisions(decisions)
        try:
            if self.path.stat().st_size > COMPACT_BYTES:
                self._compact(book, decisions)
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("compacting %s failed; it is kept as it is", self.path)
        return book

    def _compact(self, book: AlertDecisions, decisions: list[AlertDecision]) -> None:
        """Only the newest lines and those behind what is in force, through a temp
        file and a rename: a kill midway leaves the old file whole."""
        in_force = set(book.standings)
        newest = decisions[-KEPT_ON_COMPACTION:]
        kept = [d for d in decisions[:-KEPT_ON_COMPACTION] if d.alert in in_force] + newest
        temp = self.path.with_suffix(".tmp")
        fd = self._open(os.O_WRONLY | os.O_CREAT | os.O_TRUNC, temp)
        try:
            data = b"".join(_encoder.encode(d) + b"\n" for d in kept)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(self.path)


def standings_in_force(
    config: Config, findings: Sequence[Finding], at: datetime
) -> dict[str, AlertStanding]:
    """For a headless check: what the consoles decided about each finding's alert,
    as it would stand ``at`` (a silence past its time or broken through by a worse
    finding is not in force).  Reads the log; writes nothing."""
    book = AlertDecisions(DecisionLog(decision_log_path(config)).read())
    alerts = [_alert_of(f, at) for f in findings if f.level.alerting and f.severity]
    book.review(alerts, findings, at)
    return book.shown(alerts)


def _alert_of(finding: Finding, at: datetime) -> Alert:
    assert finding.severity is not None
    return Alert(key=finding.key, title=finding.label, level=finding.level,
                 severity=finding.severity, first_seen=at, respond_by=at)
