"""Alerts on cue, and the configuration the paging tests share.

``ScriptedMonitor`` stands in for the monitor's polling only: the test says what
the service answered (requests with a share of 5xx, a p95), and the real
judgement (``evaluate``), the real ``AlertBook`` and the session's own listener do
the rest, exactly as after a poll.  ``paging_config`` is a console with the
notify stand-ins configured, a short ladder and nothing else to poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rainbow_tui.config import Config, parse_config
from rainbow_tui.findings import evaluate, overall
from rainbow_tui.logs.request_stats import RequestStats
from rainbow_tui.monitor import AlertBook, MonitorState
from rainbow_tui.session import Session
from rainbow_tui.sources.service_sources import Readings
from tests.helpers.saas import StandIn

T0 = datetime(2026, 11, 28, 3, 12, tzinfo=UTC)
ERRORS = "service:error_rate_percent"
P95 = "service:response_time_p95_ms"
SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_CHANNELS = ("#rainbow-dev", "#rainbow-infra")

LADDER_RUNGS = (
    (1, "オンコール担当 / On-call", "PagerDuty", "pagerduty"),
    (2, "開発リード / Development lead", "Slack #rainbow-dev", "slack:#rainbow-dev"),
    (3, "プロジェクトマネージャー / Project manager", "Slack #rainbow-dev", "slack:#rainbow-dev"),
)


def short_ladder(*, pagerduty: bool, slack: bool) -> str:
    """The manual's ladder a minute a rung: L1 on-call (PagerDuty) at 1 min, L2 the
    development lead (Slack #rainbow-dev) at 2, L3 the project manager (Slack
    #rainbow-dev too) at 3 — each told only where that service is configured."""
    configured = {"pagerduty": pagerduty, "slack": slack}
    text = ""
    for level, role, contact, target in LADDER_RUNGS:
        notify = f'["{target}"]' if configured[target.partition(":")[0]] else "[]"
        text += (f'[[escalation]]\nlevel = {level}\nrole = "{role}"\n'
                 f'contact = "{contact}"\nwithin_minutes = {level}\nnotify = {notify}\n')
    return text


def service_readings(at: datetime, error_every: int | None, p95_ms: float = 80.0) -> Readings:
    """Five minutes of ten requests a second up to ``at``, one in ``error_every`` a
    500 (None: none), each taking ``p95_ms``."""
    stats = RequestStats(windows=(60, 300))
    end = at.timestamp()
    requests = []
    for second in range(300, -1, -1):
        for n in range(10):
            failing = error_every is not None and (second * 10 + n) % error_every == 0
            requests.append((end - second + 0.05 * n, p95_ms, 500 if failing else 200))
    stats.add_many(requests)
    return Readings(requests=stats.snapshot(end))


class ScriptedMonitor:
    """What the monitor would publish after a poll that read ``readings`` at ``at``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.book = AlertBook(session.config)

    def read(self, readings: Readings, at: datetime) -> MonitorState:
        findings = evaluate(self.session.config, readings)
        state = MonitorState(
            readings, tuple(findings), self.book.update(findings, at), overall(findings),
            updated_at=at,
        )
        # The listener the session gives its monitor.
        self.session._on_state(state)
        assert self.session.latest is not None
        return self.session.latest

    def errors(self, at: datetime, every: int | None, p95_ms: float = 80.0) -> MonitorState:
        """1 in 50 a 500 is 2 % (WARNING, High), 1 in 10 is 10 % (CRITICAL)."""
        return self.read(service_readings(at, every, p95_ms), at)


def paging_config(
    tmp_path: Path, pagerduty: StandIn | None = None, slack: StandIn | None = None, *,
    auto_escalate: bool = False,
) -> Config:
    """Nothing to poll (a closed port, no Kamal app), the stand-ins configured, sends
    retried at once."""
    text = f'''
[service]
kamal_service = "shiojiri-rainbow-seeker"
health_url = "http://127.0.0.1:9/up"
[kamal]
workdir = "{tmp_path}/no-app"
[incidents]
state_dir = "{tmp_path}/state/incidents"
auto_escalate = {"true" if auto_escalate else "false"}
[poll]
health = 3600
database = 3600
queue = 3600
hosts = 3600
[notify]
language = "en"
retry_first_s = 0.01
retry_max_s = 0.05
attempts = 3
{short_ladder(pagerduty=pagerduty is not None, slack=slack is not None)}
'''
    if pagerduty is not None:
        text += f'''
[notify.pagerduty]
routing_key_env = "TEST_PD_ROUTING_KEY"
events_url = "{pagerduty.url}"
timeout_s = 5
'''
    if slack is not None:
        text += f'''
[notify.slack]
token_env = "TEST_SLACK_TOKEN"
channel = "#rainbow-dev"
api_url = "{slack.url}"
timeout_s = 5
'''
    return parse_config(text, tmp_path / "config.toml")


async def started_without_polling(session: Session) -> Session:
    """The session started (store, notifier, ladder watch) with its monitor stopped:
    from here on a ``ScriptedMonitor`` says what was read."""
    session.start()
    assert session.monitor is not None
    await session.monitor.stop()
    return session
