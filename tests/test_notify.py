"""Notifications through PagerDuty and Slack, against local stand-ins on 127.0.0.1
that check each request as the services document it (tests/helpers/saas.py).

A real session, store and wizard: an incident declared, escalated, acknowledged and
resolved pages and posts in order, under one dedup key, and every send is on the
timeline; a rate limit or a server error is tried again; a refusal is recorded
with its reason; ``notify test`` reports each channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.cli import main
from rainbow_tui.config import Config, ConfigError, parse_config
from rainbow_tui.incidents.model import NotificationSent, new_incident
from rainbow_tui.incidents.timeline import describe_event
from rainbow_tui.levels import Alert, Level, Severity
from rainbow_tui.notify.messages import news_of, pagerduty_alert, slack_message
from rainbow_tui.notify.notifier import plan
from rainbow_tui.notify.pagerduty import event_body
from rainbow_tui.session import Session
from rainbow_tui.text import language
from tests.helpers.incidents import POSTMORTEM_T0, RUNBOOKS
from tests.helpers.saas import ROUTING_KEY, StandIn, pagerduty_errors, serving

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
CHANNELS = ("#rainbow-dev", "#rainbow-infra")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAINBOW_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("RAINBOW_TUI_AUTHOR", "tanaka")
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("TEST_SLACK_TOKEN", SLACK_TOKEN)


@pytest.fixture
def pagerduty() -> Iterator[StandIn]:
    with serving(StandIn("pagerduty"), "/v2/enqueue") as stand_in:
        yield stand_in


@pytest.fixture
def slack() -> Iterator[StandIn]:
    with serving(StandIn("slack-api", token=SLACK_TOKEN, channels=CHANNELS),
                 "/api/chat.postMessage") as stand_in:
        yield stand_in


def config_text(state_dir: Path, pagerduty: StandIn | None, slack: StandIn | None,
                extra: str = "") -> str:
    text = f'''
[service]
kamal_service = "shiojiri-rainbow-seeker"
health_url = "https://api.shiojiri-rainbow.app/up"
[kamal]
workdir = "{state_dir}/no-app"
[incidents]
state_dir = "{state_dir}"
[poll]
health = 3600
database = 3600
queue = 3600
hosts = 3600
[notify]
language = "en"
timeline_url = "https://wiki.example/incidents/{{incident_id}}"
retry_first_s = 0.01
retry_max_s = 0.05
attempts = 4
{extra}
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
    return text


def make_config(tmp_path: Path, pagerduty: StandIn | None, slack: StandIn | None,
                extra: str = "") -> Config:
    return parse_config(config_text(tmp_path / "incidents", pagerduty, slack, extra),
                        tmp_path / "config.toml")


@pytest.fixture
async def session_factory() -> AsyncIterator[list[Session]]:
    started: list[Session] = []
    yield started
    for session in started:
        await session.close()


def start(config: Config, started: list[Session]) -> Session:
    session = Session(config)
    started.append(session)
    session.start()
    return session


async def settled(session: Session) -> None:
    assert session.notifier is not None
    await session.notifier.drain()


def notifications(session: Session, incident_id: str) -> list[NotificationSent]:
    return [e for e in session.store.incident(incident_id).events
            if isinstance(e, NotificationSent)]


# -- a whole incident -----------------------------------------------------------------


async def test_declared_escalated_acknowledged_resolved_reach_pagerduty_and_slack(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, session_factory: list[Session]
) -> None:
    session = start(make_config(tmp_path, pagerduty, slack), session_factory)
    incident_id = session.start_incident()
    await settled(session)
    # Declared: rung 1 (the manual's on-call, PagerDuty) only.
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger"]
    assert slack.received == []
    trigger = pagerduty.bodies()[0]
    assert trigger["routing_key"] == ROUTING_KEY, "the key comes from the environment"
    payload = trigger["payload"]
    incident = session.store.incident(incident_id)
    # The general runbook is Medium (当日対応): a PagerDuty warning.
    assert payload["severity"] == "warning"
    assert payload["source"] == "api.shiojiri-rainbow.app"
    assert incident.title in payload["summary"] and len(payload["summary"]) <= 1024
    assert payload["custom_details"]["Incident"] == incident_id
    assert payload["group"] == "general"
    assert {"href": f"https://wiki.example/incidents/{incident_id}",
            "text": f"Timeline of {incident_id}"} in trigger["links"]

    wizard = session.wizard(incident_id)
    for note in ("paged again", "no on-call answer"):  # L1, then L2
        escalating = wizard.escalate(note)
        assert escalating is not None
        await escalating
        await settled(session)
    # L1 once more: PagerDuty folds the trigger into the incident's one alert.
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger", "trigger"]
    assert pagerduty.bodies()[1]["payload"]["summary"].startswith("[MEDIUM] Escalated to L1")
    # L2: the development lead on Slack #rainbow-dev.
    (posted,) = slack.bodies()
    assert slack.received[0].headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert posted["channel"] == "#rainbow-dev"
    assert "Escalated to L2" in posted["text"]
    assert [block["type"] for block in posted["blocks"]] == ["header", "section", "context"]
    assert "no on-call answer" in posted["blocks"][1]["text"]["text"]

    for status in ("acknowledged", "mitigated", "resolved"):
        await wizard.advance(status)
        await settled(session)
    actions = [b["event_action"] for b in pagerduty.bodies()]
    assert actions == ["trigger", "trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in pagerduty.bodies()} == {f"rainbow-tui/{incident_id}"}
    title = session.store.incident(incident_id).title
    assert [b["text"] for b in slack.bodies()] == [
        f"[MEDIUM] Escalated to L2 開発リード / Development lead: {title}",
        f"[MEDIUM] acknowledged: {title}",
        f"[MEDIUM] mitigated: {title}",
        f"[MEDIUM] resolved: {title}",
    ]

    sent = notifications(session, incident_id)
    # Each channel's sends are recorded in order; the two channels' may interleave.
    assert sorted((n.channel, n.action) for n in sent) == sorted([
        ("pagerduty", "trigger"), ("pagerduty", "trigger"), ("slack #rainbow-dev", "message"),
        ("pagerduty", "acknowledge"), ("slack #rainbow-dev", "message"),
        ("slack #rainbow-dev", "message"), ("pagerduty", "resolve"),
        ("slack #rainbow-dev", "message"),
    ])
    assert all(n.ok and n.attempts == 1 for n in sent)
    # Its own records are not news: eight sends, eight requests, nothing more.
    assert len(pagerduty.received) + len(slack.received) == 8
    # Nothing secret on the timeline or in the file.
    record = session.store.path(incident_id).read_bytes().decode()
    lines = [describe_event(incident, e, language=language("en"))
             for e in session.store.incident(incident_id).events]
    for secret in (ROUTING_KEY, SLACK_TOKEN):
        assert secret not in record
        assert not any(secret in line for line in lines)
    assert any(line.startswith("notified pagerduty: trigger") for line in lines)


# -- retries and failures ---------------------------------------------------------------


async def test_a_rate_limit_and_a_server_error_are_tried_again(
    tmp_path: Path, pagerduty: StandIn, session_factory: list[Session]
) -> None:
    pagerduty.queue(429, "", Retry_After="0")
    pagerduty.queue(500, "")
    session = start(make_config(tmp_path, pagerduty, None), session_factory)
    incident_id = session.start_incident()
    await settled(session)
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger"] * 3
    (sent,) = notifications(session, incident_id)
    assert (sent.ok, sent.attempts, sent.about) == (True, 3, 1)
    assert "Event processed" in sent.detail


async def test_a_send_given_up_is_on_the_timeline_with_its_reason(
    tmp_path: Path, pagerduty: StandIn, session_factory: list[Session]
) -> None:
    for _ in range(4):
        pagerduty.queue(503, "")
    session = start(make_config(tmp_path, pagerduty, None), session_factory)
    incident_id = session.start_incident()
    await settled(session)
    assert len(pagerduty.received) == 4, "attempts = 4, then no more"
    (sent,) = notifications(session, incident_id)
    assert (sent.ok, sent.attempts) == (False, 4)
    incident = session.store.incident(incident_id)
    assert describe_event(incident, sent, language=language("en")) == (
        "notification pagerduty trigger failed (tries: 4): "
        "HTTP 503: the service failed, try later"
    )
    assert describe_event(incident, sent, language=language("ja")).startswith(
        "通知 pagerduty 呼び出し (trigger) 失敗 (4 回試行)"
    )


async def test_a_refusal_is_not_tried_again_and_says_slacks_error(
    tmp_path: Path, slack: StandIn, session_factory: list[Session]
) -> None:
    rungs = '''
[[escalation]]
level = 1
role = "On-call"
contact = "Slack"
within_minutes = 15
notify = ["slack:#rainbow-gone"]
'''
    session = start(make_config(tmp_path, None, slack, rungs), session_factory)
    incident_id = session.start_incident()
    await settled(session)
    assert len(slack.received) == 1
    assert slack.bodies()[0]["channel"] == "#rainbow-gone"
    (sent,) = notifications(session, incident_id)
    assert (sent.channel, sent.ok, sent.attempts) == ("slack #rainbow-gone", False, 1)
    assert sent.detail == "HTTP 200: channel_not_found"


async def test_an_unset_secret_fails_by_the_variables_name_without_a_request(
    tmp_path: Path, pagerduty: StandIn, monkeypatch: pytest.MonkeyPatch,
    session_factory: list[Session],
) -> None:
    monkeypatch.delenv("TEST_PD_ROUTING_KEY")
    session = start(make_config(tmp_path, pagerduty, None), session_factory)
    incident_id = session.start_incident()
    await settled(session)
    assert pagerduty.received == []
    (sent,) = notifications(session, incident_id)
    assert not sent.ok
    assert sent.detail == "TEST_PD_ROUTING_KEY is not set in the environment"


async def test_a_restarted_console_does_not_send_again(
    tmp_path: Path, pagerduty: StandIn, session_factory: list[Session]
) -> None:
    config = make_config(tmp_path, pagerduty, None)
    first = start(config, session_factory)
    incident_id = first.start_incident()
    await settled(first)
    await first.close()
    second = start(config, session_factory)
    assert second.current_incident_id == incident_id, "resumed"
    await second.wizard(incident_id).advance("acknowledged")
    await settled(second)
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger", "acknowledge"]
    assert len({b["dedup_key"] for b in pagerduty.bodies()}) == 1


# -- who is told --------------------------------------------------------------------------


def test_a_host_alert_also_tells_the_infrastructure_channel(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn
) -> None:
    config = make_config(tmp_path, pagerduty, slack)
    host_alert = Alert(
        key="host app-1:memory_percent", title="app-1 memory 93 %", level=Level.CRITICAL,
        severity="critical", first_seen=POSTMORTEM_T0,
        respond_by=POSTMORTEM_T0 + timedelta(minutes=15),
    )
    runbook = RUNBOOKS.runbooks["memory-growth"]
    from_host = new_incident(runbook=runbook, alert=host_alert, author="tanaka")
    declared = news_of(from_host.events[0])
    assert declared is not None
    assert plan(config, from_host, declared) == [
        ("pagerduty", "trigger"), ("slack:#rainbow-infra", "message"),
    ]
    alert = pagerduty_alert(config, from_host, declared, "trigger")
    # Critical 即時対応 pages as PagerDuty's critical; the host is the component.
    assert (alert.severity, alert.component, alert.class_) == (
        "critical", "host app-1", "memory_percent")
    service_alert = msgspec.structs.replace(host_alert, key="service:health")
    not_host = new_incident(runbook=runbook, alert=service_alert, author="tanaka")
    assert plan(config, not_host, declared) == [("pagerduty", "trigger")]


@pytest.mark.parametrize(("severity", "expected"), [
    ("critical", "critical"), ("high", "error"), ("medium", "warning"), ("low", "info"),
])
def test_the_manuals_levels_map_to_pagerduty_severities(
    tmp_path: Path, pagerduty: StandIn, severity: Severity, expected: str
) -> None:
    config = make_config(tmp_path, pagerduty, None)
    incident = new_incident(runbook=RUNBOOKS.runbooks["general"], severity=severity,
                            author="tanaka")
    news = news_of(incident.events[0])
    assert news is not None
    body = event_body(ROUTING_KEY, pagerduty_alert(config, incident, news, "trigger"))
    assert body["payload"]["severity"] == expected
    assert pagerduty_errors(body) == []


def test_what_leaves_the_machine_is_redacted_and_escaped(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn
) -> None:
    config = make_config(tmp_path, pagerduty, slack)
    incident = new_incident(
        runbook=RUNBOOKS.runbooks["general"], author="tanaka",
        title="<!channel> boot failed: DATABASE_URL=postgresql://app:s3cr3t-pass@db/app",
    )
    news = news_of(incident.events[0])
    assert news is not None
    message = slack_message(config, incident, news).json()
    page = event_body(ROUTING_KEY, pagerduty_alert(config, incident, news, "trigger"))
    for text in (message["text"], str(message["blocks"]), page["payload"]["summary"]):
        assert "s3cr3t-pass" not in text
    # Slack's mrkdwn would ping the whole channel on <!channel>.
    assert "<!channel>" not in message["text"]
    assert message["text"].startswith("[MEDIUM] Incident declared: &lt;!channel&gt; boot")
    assert message["blocks"][0]["text"] == {
        "type": "plain_text", "text": slack_message(config, incident, news).headline}


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('[notify.pagerduty]\nrouting_key_env = "K"\nevents_url = "ftp://events"\n',
     "notify.pagerduty.events_url", "must start with http:// or https://"),
    ('[notify.pagerduty]\nrouting_key_env = "R0123456789ABCDEF0123456789ABCDE-x"\n',
     "notify.pagerduty.routing_key_env", "is not the name of an environment variable"),
    ('[notify.pagerduty]\nrouting_key_env = "K"\nrouting_key = "R0123"\n',
     "notify.pagerduty.routing_key", "unknown key"),
    ('[notify.slack]\nwebhook_env = "W"\ntoken_env = "T"\n',
     "notify.slack", "exactly one of webhook_env or token_env"),
    ('[notify.slack]\ntoken_env = "T"\nchannel = "rainbow dev"\n',
     "notify.slack.channel", "is not a Slack channel"),
    ('[notify.slack]\ntoken_env = "T"\napi_url = "http://[::1/api"\n',
     "notify.slack.api_url", "is not a URL"),
    ('[notify]\ninfrastructure = ["slack:#rainbow-infra"]\n[notify.slack]\nwebhook_env = "W"\n',
     "notify.infrastructure", "a webhook posts only to its own"),
    ('[[escalation]]\nlevel = 1\nrole = "r"\ncontact = "c"\nwithin_minutes = 15\n'
     'notify = ["pagerduty"]\n',
     "escalation[0].notify", "[notify.pagerduty] is not configured"),
    ('[[escalation]]\nlevel = 1\nrole = "r"\ncontact = "c"\nwithin_minutes = 15\n'
     'notify = ["email"]\n',
     "escalation[0].notify", "is not a notification target"),
    ('[notify]\nlanguage = "fr"\n', "notify.language", "'fr' is not one of: ja, en"),
    ('[notify]\nretry_first_s = 30\nretry_max_s = 5\n', "notify.retry_max_s",
     "is shorter than the first"),
    ('[notify]\ntimeline_url = "https://wiki/{incident}"\n', "notify.timeline_url",
     "only {incident_id} can be filled in"),
])
def test_a_notify_mistake_names_the_file_and_key(extra: str, key: str, words: str) -> None:
    text = ('[service]\nkamal_service = "s"\nhealth_url = "https://example.test/up"\n'
            + extra)
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "team.toml")
    assert raised.value.path == "team.toml"
    assert raised.value.key == key
    assert words in raised.value.problem


def test_unset_rungs_follow_the_manual_where_a_service_is_configured(
    tmp_path: Path, slack: StandIn
) -> None:
    config = make_config(tmp_path, None, slack)
    targets = [config.notify.rung_targets(step) for step in config.escalation]
    # L1 is PagerDuty, which is not configured here; L2 is Slack #rainbow-dev.
    assert targets == [(), ("slack",), ()]
    assert config.notify.infrastructure_targets() == ("slack:#rainbow-infra",)


# -- notify test --------------------------------------------------------------------------------


def test_notify_test_reaches_every_channel(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path / "incidents", pagerduty, slack), encoding="utf-8")
    assert main(["--lang", "en", "notify", "test", "--config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in out] == [
        ["pagerduty", "ok", "accepted"],
        ["slack", "#rainbow-dev", "ok"],
        ["slack", "#rainbow-infra", "ok"],
    ]
    # An info alert, resolved at once, under a key of its own.
    trigger, resolve = pagerduty.bodies()
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["payload"]["severity"] == "info"
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert pagerduty_errors(trigger) == [] and pagerduty_errors(resolve) == []
    assert [b["channel"] for b in slack.bodies()] == ["#rainbow-dev", "#rainbow-infra"]


def test_notify_test_through_a_webhook_in_japanese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(StandIn("webhook"), "/services/T000/B000/XXXX") as webhook:
        monkeypatch.setenv("TEST_SLACK_WEBHOOK", webhook.url)
        path = tmp_path / "config.toml"
        text = config_text(tmp_path / "incidents", None, None)
        path.write_text(text + '[notify.slack]\nwebhook_env = "TEST_SLACK_WEBHOOK"\n',
                        encoding="utf-8")
        assert main(["--lang", "ja", "notify", "test", "--config", str(path)]) == 0
        (body,) = webhook.bodies()
    assert "channel" not in body, "a webhook posts to its own channel"
    # The message speaks the team channel's language ([notify] language = "en"),
    # the command the operator's.
    assert body["text"] == "Shiojiri Rainbow Seeker: notification test"
    assert capsys.readouterr().out.split() == ["slack", "webhook", "成功", "投稿しました"]


def test_notify_test_fails_by_channel_and_names_an_unset_variable(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TEST_PD_ROUTING_KEY")
    slack.channels = ("#rainbow-dev",)  # #rainbow-infra was archived
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path / "incidents", pagerduty, slack), encoding="utf-8")
    assert main(["--lang", "en", "notify", "test", "--config", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [" ".join(line.split()) for line in out] == [
        "pagerduty failed TEST_PD_ROUTING_KEY is not set in the environment",
        "slack #rainbow-dev ok posted to C0RAINBOW (ts 1700000000.000100)",
        "slack #rainbow-infra failed HTTP 200: channel_not_found",
    ]
    assert pagerduty.received == []


def test_notify_test_without_a_channel_is_a_config_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path / "incidents", None, None), encoding="utf-8")
    assert main(["--lang", "en", "notify", "test", "--config", str(path)]) == 2
    assert "no notification channel is configured" in capsys.readouterr().err
    path.write_text(config_text(tmp_path / "incidents", None, None) + "[notify.slack]\n",
                    encoding="utf-8")
    assert main(["--lang", "en", "notify", "test", "--config", str(path)]) == 2
    assert f"{path}: notify.slack:" in capsys.readouterr().err
