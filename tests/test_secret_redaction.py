"""Secrets of every kind this stack meets never reach a record, an export, ``incidents
show`` or a saved log; the demo's ordinary log lines pass untouched.

Each secret is generated in the shape its issuer gives it (detect-secrets' detectors
decide for the library's kinds), planted in realistic surroundings (a Rails log line,
a shell command, a JSON body, a psql result, notes in Japanese and English), and
followed through every writer the console has.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import random
import stat
import string
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rainbow_tui.cli import main
from rainbow_tui.config import (
    Config,
    DatabaseConfig,
    EscalationStep,
    QueueConfig,
    ServiceConfig,
)
from rainbow_tui.demo.faults import FaultState
from rainbow_tui.demo.loggen import (
    DbLogSource,
    JobLogSource,
    LogContext,
    ProxyLogSource,
    WebLogSource,
)
from rainbow_tui.incidents.config_secrets import (
    dsn_passwords,
    env_names,
    register_config_secrets,
    secrets_named_by_config,
)
from rainbow_tui.incidents.model import (
    assign_role,
    command_finished,
    command_started,
    escalate,
    new_incident,
    note,
    pin_evidence,
    skip_step,
    start_step,
    transition,
)
from rainbow_tui.incidents.postmortem import render_postmortem
from rainbow_tui.incidents.redact import (
    REDACTED,
    LineRedactor,
    forget_known_secrets,
    redact,
    register_known_secrets,
)
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.secret_rules import library_detector_names
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.logs.buffer import FilteredView, LogBuffer
from rainbow_tui.logs.parse import LogKind, LogLevel, LogLine
from rainbow_tui.logs.saved_logs import resolve_save_path

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"
DIGITS = string.digits
# Passwords as people pick them: no whitespace, quotes or backslashes, and not
# starting with what ends a value or starts the next flag.
PASSWORD_CHARS = ALNUM + "!#$%()*+-./:<=>?@[]^_{|}~"
URL_PASSWORD_CHARS = ALNUM + "-._~!$()*+=%"
REQUEST_ID = "7fcca0c1-57f2-4509-ae44-4ff51d0e2b1a"


def fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


def sized(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=high)


@dataclass(frozen=True)
class Planted:
    """A secret and the text that carries it (with whatever names it as one)."""

    kind: str
    text: str
    secrets: tuple[str, ...]


def _planted(kind: str, build: Callable[..., tuple[str, tuple[str, ...]]],
             *parts: st.SearchStrategy[str]) -> st.SearchStrategy[Planted]:
    return st.tuples(*parts).map(lambda values: Planted(kind, *build(*values)))


def _bare(kind: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[Planted]:
    """A token that is a secret by its shape alone."""
    return _planted(kind, lambda *values: ("".join(values), ("".join(values),)), *parts)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(subject: str, issued: int, signature: str) -> tuple[str, tuple[str, ...]]:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": subject, "iat": issued}).encode())
    token = f"{header}.{payload}.{signature}"
    return token, (token, signature)


def _mixed_case(text: str) -> bool:
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def _classes(text: str) -> int:
    return sum(
        (any(c.isupper() for c in text), any(c.islower() for c in text),
         any(c.isdigit() for c in text), any(c in "+/" for c in text))
    )


passwords = sized(PASSWORD_CHARS, 8, 40).filter(
    lambda s: not s.startswith(("[", "-", ">")) and not s.endswith(".")
)
secret_names = st.sampled_from(
    ["password", "PASSWORD", "passwd", "pass", "pwd", "secret", "token", "DB_PASSWORD",
     "POSTGRES_PASSWORD", "client_secret", "access_token", "api_key", "MYSQL_PWD"]
)
flag_names = st.sampled_from(["password", "passwd", "pass", "token", "secret", "api-key",
                              "db-password"])

KINDS: dict[str, st.SearchStrategy[Planted]] = {
    # detect-secrets' detectors
    "github": _bare("github", st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
                    fixed(ALNUM, 36)),
    "slack_bot": _bare("slack_bot", st.just("xoxb-"), fixed(DIGITS, 12), st.just("-"),
                       fixed(DIGITS, 13), st.just("-"), fixed(ALNUM, 24)),
    "slack_user": _bare("slack_user", st.just("xoxp-"), fixed(DIGITS, 12), st.just("-"),
                        fixed(DIGITS, 12), st.just("-"), fixed(DIGITS, 13), st.just("-"),
                        fixed(HEX, 32)),
    "aws_key_id": _bare("aws_key_id", st.sampled_from(["AKIA", "ASIA"]), fixed(UPPER_ALNUM, 16)),
    "aws_secret": _planted(
        "aws_secret", lambda sep, key: (f"aws_secret_access_key{sep}{key}", (key,)),
        st.sampled_from([" = ", "=", ": "]), fixed(ALNUM + "+/", 40)),
    "jwt": st.tuples(sized(ALNUM, 1, 12), st.integers(1_600_000_000, 1_900_000_000),
                     fixed(URLSAFE, 43)).map(lambda v: Planted("jwt", *_jwt(v[0], v[1], v[2]))),
    "stripe": _bare("stripe", st.sampled_from(["sk_live_", "rk_live_"]), fixed(ALNUM, 24)),
    "sendgrid": _bare("sendgrid", st.just("SG."), fixed(URLSAFE, 22), st.just("."),
                      fixed(URLSAFE, 43)),
    "twilio": _bare("twilio", st.sampled_from(["AC", "SK"]), fixed(HEX, 32)),
    "npm_in_npmrc": _planted(
        "npm_in_npmrc", lambda token: (f"//registry.npmjs.org/:_authToken={token}", (token,)),
        fixed(ALNUM, 36).map(lambda s: "npm_" + s)),
    "pypi": _bare("pypi", st.just("pypi-AgEIcHlwaS5vcmc"), sized(URLSAFE, 70, 90)),
    "openai": _bare("openai", st.just("sk-"), fixed(ALNUM, 20), st.just("T3BlbkFJ"),
                    fixed(ALNUM, 20)),
    "discord": _bare("discord", st.sampled_from("MNO"), fixed(URLSAFE, 23), st.just("."),
                     fixed(URLSAFE, 6), st.just("."), fixed(URLSAFE, 27)),
    "telegram": _bare("telegram", sized(DIGITS, 8, 10).filter(lambda s: s[0] != "0"),
                      st.just(":"), fixed(URLSAFE, 35)),
    "mailchimp": _bare("mailchimp", fixed(HEX, 32), st.just("-us"), sized(DIGITS, 1, 2)),
    "gitlab": _bare("gitlab", st.just("glpat-"), fixed(URLSAFE, 20)),
    "basic_auth_url": _planted(
        "basic_auth_url",
        lambda user, pw: (f"https://{user}:{pw}@registry.example.com/v2/", (pw,)),
        sized(string.ascii_lowercase, 3, 10), sized(URL_PASSWORD_CHARS, 8, 30)),
    # the kinds the library lacks
    "github_fine_grained": _bare("github_fine_grained", st.just("github_pat_"),
                                 fixed(ALNUM, 22), st.just("_"), fixed(ALNUM, 59)),
    "slack_app": _bare("slack_app", st.just("xapp-1-A"), fixed(UPPER_ALNUM, 10), st.just("-"),
                       fixed(DIGITS, 13), st.just("-"), fixed(HEX, 64)),
    "slack_refresh": _bare("slack_refresh", st.just("xoxe-1-"), fixed(ALNUM, 60)),
    "slack_webhook": _planted(
        "slack_webhook",
        lambda team, bot, key: (f"https://hooks.slack.com/services/T{team}/B{bot}/{key}",
                                (key, f"B{bot}/{key}")),
        fixed(UPPER_ALNUM, 8), fixed(UPPER_ALNUM, 10), fixed(ALNUM, 24)),
    "stripe_test": _bare("stripe_test", st.just("sk_test_"), fixed(ALNUM, 24)),
    "npm_bare": _bare("npm_bare", st.just("npm_"), fixed(ALNUM, 36)),
    "openai_project": _bare("openai_project", st.just("sk-proj-"), sized(URLSAFE, 40, 80)),
    "sentry_dsn": _planted(
        "sentry_dsn",
        lambda key, org, project: (f"https://{key}@o{org}.ingest.sentry.io/{project}", (key,)),
        fixed(HEX, 32), sized(DIGITS, 3, 7), sized(DIGITS, 3, 7)),
    "rails_master_key": _planted(
        "rails_master_key", lambda sep, key: (f"RAILS_MASTER_KEY{sep}{key}", (key,)),
        st.sampled_from(["=", ": ", "='"]), fixed(HEX, 32)),
    "master_key_file": _planted(
        "master_key_file", lambda key: (f"cat config/master.key\n{key}", (key,)), fixed(HEX, 32)),
    "pagerduty_routing": _planted(
        "pagerduty_routing", lambda key: (f'"routing_key": "{key}"', (key,)),
        fixed(ALNUM, 32)),
    "pagerduty_prose": _planted(
        "pagerduty_prose", lambda key: (f"PagerDuty integration key {key}", (key,)),
        fixed(ALNUM, 32).filter(lambda s: any(c.isdigit() for c in s)
                                and any(c.isalpha() for c in s))),
    "password_flag": _planted(
        "password_flag", lambda name, pw: (f"deploy --{name} {pw} --verbose", (pw,)),
        flag_names, passwords),
    "password_flag_equals": _planted(
        "password_flag_equals", lambda name, pw: (f"deploy --{name}={pw}", (pw,)),
        flag_names, passwords),
    "mysql_p": _planted(
        "mysql_p", lambda pw: (f"mysql -u root -p{pw} shiojiri_production", (pw,)), passwords),
    "key_colon_value": _planted(
        "key_colon_value", lambda name, pw: (f"{name}: {pw}", (pw,)), secret_names, passwords),
    "key_equals_value": _planted(
        "key_equals_value", lambda name, pw: (f"{name}={pw}", (pw,)), secret_names, passwords),
    "json_pair": _planted(
        "json_pair", lambda name, pw: (json.dumps({name: pw, "user": "rainbow"}), (pw,)),
        secret_names, passwords),
    "dsn_password": _planted(
        "dsn_password",
        lambda pw: (f"postgresql://rainbow:{pw}@db-1:5432/shiojiri_rainbow_seeker_production",
                    (pw,)),
        sized(URL_PASSWORD_CHARS, 8, 30)),
    "bearer": _planted("bearer", lambda t: (f"Authorization: Bearer {t}", (t,)),
                       sized(URLSAFE + ".~+/", 16, 60)),
    "key_material_note": st.lists(
        st.binary(min_size=9, max_size=48).map(lambda b: base64.b64encode(b).decode()),
        min_size=1, max_size=4,
    ).filter(lambda lines: all(_classes(line) >= 2 for line in lines)).map(
        lambda lines: Planted("key_material_note",
                              "秘密鍵 (id_ed25519) の一部:\n" + "\n".join(lines), tuple(lines))
    ),
}

SURROUNDINGS: dict[str, Callable[[str], str]] = {
    "rails_log": lambda s: f"I, [2026-11-28T12:00:00.123456 #1]  INFO -- : [{REQUEST_ID}] {s}",
    "shell": lambda s: f"$ bundle exec kamal app exec --reuse -- {s}",
    "json_body": lambda s: json.dumps({"request_id": REQUEST_ID, "message": s, "status": 500}),
    "sql_row": lambda s: f" id |  value\n----+---------\n  1 | {s}\n(1 row)",
    "note_ja": lambda s: f"本番の設定を確認した。 {s} \n要ローテーション、開発リードに連絡済み",
    "note_en": lambda s: f"Found in the deploy output:\n{s}\nRotated at 12:40 JST.",
}

planted = st.sampled_from(sorted(KINDS)).flatmap(lambda kind: KINDS[kind])
surroundings = st.sampled_from(sorted(SURROUNDINGS))


def _carrier(secret: Planted, where: str) -> str:
    return SURROUNDINGS[where](secret.text)


def _survivors(secret: Planted, *outputs: str) -> list[str]:
    return [s for s in secret.secrets for output in outputs if s in output]


# -- the rules -------------------------------------------------------------------------


def test_the_library_detectors_are_in_use() -> None:
    used = set(library_detector_names())
    for name in ("GitHubTokenDetector", "SlackDetector", "AWSKeyDetector", "JwtTokenDetector",
                 "StripeDetector", "SendGridDetector", "TwilioKeyDetector", "NpmDetector",
                 "PypiTokenDetector", "OpenAIDetector", "DiscordBotTokenDetector",
                 "TelegramBotTokenDetector", "MailchimpDetector", "BasicAuthDetector"):
        assert name in used
    # Entropy guesses would blank every SHA and request id.
    assert not used & {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}


@settings(max_examples=400)
@given(planted, surroundings)
def test_no_secret_survives_redact_or_the_line_redactor(secret: Planted, where: str) -> None:
    text = _carrier(secret, where)
    # Each secret once, so a generated name or user that happens to equal it is no leak.
    assume(all(text.count(s) == 1 for s in secret.secrets))
    redactor = LineRedactor()
    streamed = "\n".join(redactor.line(line) for line in text.split("\n"))
    assert _survivors(secret, redact(text), streamed) == []
    assert redact(redact(text)) == redact(text)


@given(st.binary(min_size=48, max_size=48), st.sampled_from(sorted(SURROUNDINGS)))
def test_a_key_body_line_alone_is_hidden_by_its_shape(raw: bytes, where: str) -> None:
    """A 64-character PEM line pinned or noted without its BEGIN line."""
    body = base64.b64encode(raw).decode()
    assume(_mixed_case(body))  # random key bytes; a one-case line is no key's
    text = f"{body}" if where == "json_body" else f"see below\n{body}\n"
    assert body not in redact(text)
    assert body not in LineRedactor().line(body)


def test_examples_keep_the_name_of_what_was_hidden() -> None:
    cases = {
        "mysql -u root -pS3cr3tPw app": "mysql -u root -p[REDACTED] app",
        "ssh -p2222 app-1 && mkdir -p /var/log": "ssh -p2222 app-1 && mkdir -p /var/log",
        "docker login --password hunter22 ghcr.io": "docker login --password [REDACTED] ghcr.io",
        "docker login --password-stdin ghcr.io": "docker login --password-stdin ghcr.io",
        "pass: hunter2": "pass: [REDACTED]",
        "compass: north, bypass: on": "compass: north, bypass: on",
        "パスワード：hunter2 です": "パスワード：[REDACTED] です",
        '{"routing_key": "R0123456789abcdefABCDEF012345678"}': '{"routing_key": "[REDACTED]"}',
        "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXX":
            "https://hooks.slack.com/services/[REDACTED]",
        "https://0123456789abcdef0123456789abcdef@o42.ingest.sentry.io/7":
            "https://[REDACTED]@o42.ingest.sentry.io/7",
        'Parameters: {"password"=>"[FILTERED]", "token"=>"abc123"}':
            'Parameters: {"password"=>"[FILTERED]", "token"=>"[REDACTED]"}',
        "RAILS_MASTER_KEY=0123456789abcdef0123456789abcdef": "RAILS_MASTER_KEY=[REDACTED]",
    }
    for text, expected in cases.items():
        assert redact(text) == expected


def test_a_stream_primed_with_its_command_hides_the_master_key() -> None:
    key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    redactor = LineRedactor(context="bundle exec kamal app exec 'cat config/master.key'")
    assert redactor.line(key) == REDACTED
    assert LineRedactor().line(key) == key  # 32 hex digits alone are a trace id as often


def test_a_key_context_ends_with_the_key_material() -> None:
    body = base64.b64encode(bytes(range(40, 70))).decode()
    redactor = LineRedactor()
    shown = [redactor.line(line) for line in
             ["秘密鍵:", body, "", "Completed 200 OK in 45ms", "ActiveRecordQueryCache1"]]
    assert shown == ["秘密鍵:", REDACTED, "", "Completed 200 OK in 45ms",
                     "ActiveRecordQueryCache1"]


# -- ordinary lines stay as they are -----------------------------------------------------------


def _demo_lines(seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    version = f"{rng.getrandbits(160):040x}"
    faults = FaultState()
    faults.failing_job_class = "ImageVariantJob"
    faults.slow_requests = True
    faults.db_pool_stale = True
    context = LogContext(faults, lambda: True, lambda: version)
    sources: list[WebLogSource | ProxyLogSource | JobLogSource | DbLogSource] = [
        WebLogSource(rng, context), ProxyLogSource(rng, context, ecs=True),
        ProxyLogSource(rng, context, ecs=False), JobLogSource(rng, context),
        DbLogSource(rng, context),
    ]
    ts_ns = 1_800_000_000 * 10**9
    for _ in range(150):
        for source in sources:
            ts_ns += rng.randint(1, 10**9)
            yield from source.next_lines(ts_ns)
    yield f"shiojiri-rainbow-seeker-web-{version}  ghcr.io/shiojiri/rainbow-seeker:{version}"


@pytest.mark.parametrize("seed", range(6))
def test_the_demos_log_lines_pass_unchanged(seed: int) -> None:
    lines = list(_demo_lines(seed))
    assert len(lines) > 500
    changed = [(line, redact(line)) for line in lines if redact(line) != line]
    assert changed == []
    redactor = LineRedactor()
    assert [redactor.line(line) for line in lines] == lines


@given(st.uuids(), st.integers(0, 2**160 - 1), st.integers(0, 2**256 - 1),
       st.datetimes(timezones=st.just(UTC)))
def test_request_ids_image_shas_digests_and_times_pass_unchanged(
    request_id: object, sha: int, digest: int, moment: datetime
) -> None:
    lines = [
        f"[{request_id}] Completed 200 OK in 12ms",
        f"Pulling image ghcr.io/shiojiri/rainbow-seeker:{sha:040x}",
        f"sha256:{digest:064x}",
        f"{digest:064x}",  # docker ps --no-trunc -q
        f"{moment.isoformat()} app-1 {sha:040x}"[:200],
        f"X-Request-Id: {request_id}; trace {digest:064x}"[:120],
    ]
    for line in lines:
        assert redact(line) == line


# -- every writer --------------------------------------------------------------------------


def _log_line(raw: str) -> LogLine:
    return LogLine(raw=raw, host="app-1", container="web", timestamp=T0,
                   timestamp_text="2026-11-28T03:00:00.000000000Z", kind=LogKind.RAW,
                   level=LogLevel.INFO, message=raw)


def _config_file(directory: Path) -> Path:
    path = directory / "config.toml"
    path.write_text(
        "[service]\n"
        'kamal_service = "shiojiri-rainbow-seeker"\n'
        'health_url = "https://api.shiojiri-rainbow.app/up"\n'
        "[incidents]\n"
        f'state_dir = "{directory / "incidents"}"\n',
        encoding="utf-8",
    )
    return path


def _record_everywhere(store: IncidentStore, text: str) -> str:
    """An incident with ``text`` in every field a responder or a command can fill."""
    runbook = pick_runbook("service:health")
    incident = store.create(new_incident(runbook=runbook, title=f"outage {text}", at=T0,
                                         author="tanaka"))
    incident_id = incident.id

    def record(build: Callable[..., object], *args: object, **kwargs: object) -> None:
        nonlocal incident
        incident = store.record(incident_id, build(incident, *args, **kwargs))  # type: ignore[arg-type]

    record(transition, "acknowledged", author="tanaka")
    record(start_step, runbook, 0, author="tanaka")
    record(note, text, author="tanaka")
    record(pin_evidence, "log_lines", f"log lines {text}", text, author="tanaka")
    record(pin_evidence, "table", "pg_stat_activity", f" pid | query\n-----+------\n 42 | {text}",
           author="tanaka")
    record(command_started, 0, f"bundle exec kamal app exec -- {text}", "kamal", author="tanaka")
    started = incident.events[-1]
    record(command_finished, started, "ok", exit_code=0, excerpt=text, author="tanaka")
    record(assign_role, "scribe", f"suzuki {text}", author="tanaka")
    step = EscalationStep(level=2, role="開発リード", contact=f"Slack #rainbow-dev {text}",
                          within_minutes=30)
    record(escalate, step, text, author="tanaka")
    record(skip_step, runbook, 1, f"skipped: {text}", author="tanaka")
    store.update(incident_id, lambda i: i.with_postmortem(summary=text, root_cause=text))
    return incident_id


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _outputs(text: str) -> list[str]:
    """Everything the console writes or prints of an incident and a log holding ``text``."""
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        config_path = _config_file(directory)
        store = IncidentStore(directory / "incidents")
        incident_id = _record_everywhere(store, text)
        store.close()

        record_file = store.path(incident_id).read_text(encoding="utf-8")
        loaded = IncidentStore(directory / "incidents").load(incident_id)
        stored = "\n".join(_strings(msgspec.to_builtins(loaded)))
        assert "tanaka" in stored  # the record is there, not blanked
        export = render_postmortem(loaded, Config(service=ServiceConfig(
            kamal_service="shiojiri-rainbow-seeker",
            health_url="https://api.shiojiri-rainbow.app/up")))

        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            assert main(["--config", str(config_path), "incidents", "show", incident_id]) == 0
        assert incident_id in shown.getvalue()

        buffer = LogBuffer(100)
        buffer.append_many(_log_line(line) for line in text.split("\n"))
        saved_path = directory / "saved.log"
        assert FilteredView(buffer).save(saved_path) == len(text.split("\n"))
        saved = saved_path.read_text(encoding="utf-8")
        assert stat.S_IMODE(saved_path.stat().st_mode) == 0o600
        return [record_file, stored, export, shown.getvalue(), saved]


@functools.cache
def _background() -> str:
    """What those outputs hold whatever the secret (ids, times, names): a generated
    secret found in it would be found there without any leak."""
    return "\n".join(
        output for where in SURROUNDINGS for output in _outputs(SURROUNDINGS[where]("PLANTED"))
    )


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=planted, where=surroundings)
def test_no_secret_reaches_a_record_an_export_incidents_show_or_a_saved_log(
    secret: Planted, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAINBOW_TUI_CONFIG", raising=False)
    text = _carrier(secret, where)
    assume(all(text.count(s) == 1 and s not in _background() for s in secret.secrets))
    assert _survivors(secret, *_outputs(text)) == []


# -- known secrets from the configuration ----------------------------------------------------


@pytest.fixture
def no_known_secrets() -> Iterator[None]:
    forget_known_secrets()
    yield
    forget_known_secrets()


def _db_config() -> Config:
    return Config(
        service=ServiceConfig(kamal_service="shiojiri-rainbow-seeker",
                              health_url="https://api.shiojiri-rainbow.app/up"),
        database=DatabaseConfig(dsn_env="APP_DSN"),
        queue=QueueConfig(dsn_env="QUEUE_DSN"),
    )


def test_the_configs_dsn_passwords_are_hidden_wherever_they_appear(
    no_known_secrets: None, tmp_path: Path
) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("db-1:5432:*:rainbow_monitor:from\\:pgpass9\n"
                      "other:5432:*:someone_else:not-ours-123\n", encoding="utf-8")
    environ = {
        "APP_DSN": "postgresql://rainbow_monitor:p%40ss%2Fword7@db-1/shiojiri_production",
        "QUEUE_DSN": "host=db-1 dbname=queue user=rainbow_monitor password='q ueue\\'pw'",
        "PGPASSFILE": str(pgpass),
        "PGPASSWORD": "env-pgpassword-1",
    }
    config = _db_config()
    assert env_names(config) == ["APP_DSN", "QUEUE_DSN"]
    found = secrets_named_by_config(config, environ)
    assert sorted(found) == sorted(["p@ss/word7", "q ueue'pw", "env-pgpassword-1", "from:pgpass9"])
    assert register_config_secrets(config, environ) > 0
    for secret in found:
        text = f"FATAL: connection failed ({secret}) after 3 tries"
        assert secret not in redact(text) and REDACTED in redact(text)
    assert redact("dsn postgresql://rainbow_monitor:p%40ss%2Fword7@db-1/x") == (
        "dsn postgresql://rainbow_monitor:[REDACTED]@db-1/x"
    )
    assert "not-ours-123" not in found


def test_a_dsn_without_a_password_is_no_secret_but_another_named_value_is(
    no_known_secrets: None, tmp_path: Path
) -> None:
    environ = {"APP_DSN": "postgresql://rainbow_monitor@db-1/shiojiri_production",
               "QUEUE_DSN": "opaque-token-value-42", "PGPASSFILE": str(tmp_path / "none")}
    assert secrets_named_by_config(_db_config(), environ) == ["opaque-token-value-42"]
    assert dsn_passwords("postgresql://u@h/db?password=qs-pw-1") == ["qs-pw-1"]
    register_known_secrets(["abc"])  # too short to hide everywhere
    assert redact("abc def") == "abc def"


def test_the_cli_registers_the_configs_secrets_at_start(
    no_known_secrets: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = _config_file(tmp_path)
    monkeypatch.setenv("RAINBOW_TUI_DATABASE_URL",
                       "postgresql://rainbow_monitor:cli-hook-pw-77@db-1/shiojiri_production")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    assert "cli-hook-pw-77" in redact("the password was cli-hook-pw-77")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--config", str(config_path), "incidents", "list"]) == 0
    assert redact("the password was cli-hook-pw-77") == "the password was [REDACTED]"


# -- the saved log's place ------------------------------------------------------------------


def test_a_bare_name_is_saved_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    path = resolve_save_path("rainbow-tui-logs-20261128-120000.log")
    logs_dir = tmp_path / "state" / "rainbow-tui" / "logs"
    assert path == logs_dir / "rainbow-tui-logs-20261128-120000.log"
    assert stat.S_IMODE(logs_dir.stat().st_mode) == 0o700
    assert resolve_save_path("./here.log") == tmp_path / "here.log"
    assert resolve_save_path("~/x.log") == Path("~/x.log").expanduser()


async def test_the_log_screen_saves_redacted_into_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.app import App

    from screens.logs import LogScreen

    class ScreenApp(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.log_screen = LogScreen("app-1 · production", 50)

        def on_mount(self) -> None:
            self.push_screen(self.log_screen)

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    token = "ghp_" + "Ab1" * 12
    app = ScreenApp()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.log_screen.log_view.add_entries(
            [_log_line("Completed 200 OK in 4ms"), _log_line(f"GITHUB_TOKEN={token}"),
             _log_line("-----BEGIN OPENSSH PRIVATE KEY-----"), _log_line("b3BlbnNzaC1rZXktdjE"),
             _log_line("-----END OPENSSH PRIVATE KEY-----")]
        )
        app.log_screen.log_view.flush()
        await pilot.press("s", "enter")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
    _check_saved_log(tmp_path, messages, token)


def _check_saved_log(tmp_path: Path, messages: list[str], token: str) -> None:
    saved = list((tmp_path / "state" / "rainbow-tui" / "logs").glob("rainbow-tui-logs-*.log"))
    assert len(saved) == 1 and list(tmp_path.glob("*.log")) == []  # not the start directory
    assert messages == [f"Saved 5 lines to {saved[0]}"]
    assert stat.S_IMODE(saved[0].stat().st_mode) == 0o600
    content = saved[0].read_text(encoding="utf-8")
    assert token not in content and "b3BlbnNzaC1rZXktdjE" not in content
    assert "Completed 200 OK in 4ms" in content and "GITHUB_TOKEN=[REDACTED]" in content


def test_saved_logs_refuse_to_overwrite(tmp_path: Path) -> None:
    buffer = LogBuffer(10)
    buffer.append_many([_log_line("one")])
    target = tmp_path / "x.log"
    target.write_text("keep\n", encoding="utf-8")
    with pytest.raises(FileExistsError):
        FilteredView(buffer).save(target)
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_a_context_kept_apart_opens_for_the_text() -> None:
    key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert redact(key, context="bundle exec kamal app exec 'cat config/master.key'") == REDACTED
    body = base64.b64encode(bytes(range(7, 37))).decode()
    assert redact(f"{body}\n{body[:20]}", context="秘密鍵の一部") == f"{REDACTED}\n{REDACTED}"
    assert redact(key) == key
