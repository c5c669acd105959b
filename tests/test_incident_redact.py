"""Secrets seeded into arbitrary text never survive redaction; ordinary text is untouched."""

from __future__ import annotations

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rainbow_tui.incidents.redact import REDACTED, LineRedactor, redact

# A password as people pick them: anything but whitespace, quotes and the characters
# that end a value in shell words, URL queries and connection strings.
PASSWORD_CHARS = string.ascii_letters + string.digits + "!#$%()*+-./:<=>?@[]^_{|}~"
URL_PASSWORD_CHARS = string.ascii_letters + string.digits + "-._~!$()*+=%"
BASE64 = string.ascii_letters + string.digits + "+/"

passwords = st.text(PASSWORD_CHARS, min_size=8, max_size=40).filter(
    lambda s: not s.startswith(("[", "'", '"'))
)
words = st.text(string.ascii_letters + string.digits + " .,;:-_/()\n", max_size=60)
names = st.sampled_from(
    ["password", "PASSWORD", "DB_PASSWORD", "passwd", "token", "api_key", "API_KEY",
     "secret", "client_secret", "access_token", "POSTGRES_PASSWORD", "aws_secret_access_key"]
)
separators = st.sampled_from(["=", ": ", " = ", ":"])

# Words that name a secret or open a context (key material, master key, PagerDuty),
# and the prefixes of tokens: text with none of them is ordinary.
TRIGGERS = (
    "pass", "pw", "secret", "token", "key", "credential", "contrase", "bearer",
    "authorization", "://", "akia", "asia", "aws", "master", "pager", "routing",
    "integration", "id_", ".pem", "putty", "鍵", "パスワード", "暗証番号", "トークン",
    "シークレット", "キー", "mysql", "mariadb", "sentry", "hooks.slack", "gh", "xox",
    "xapp", "_live_", "_test_", "whsec_", "npm_", "sk-", "eyj", "sg.", "pypi-", "glpat",
)


def _ordinary(text: str) -> bool:
    lowered = text.lower()
    return not any(trigger in lowered for trigger in TRIGGERS)


def _survives(secret: str, text: str) -> bool:
    return secret in redact(text)


@given(words, names, separators, passwords, words)
def test_name_value_pairs(before: str, name: str, sep: str, secret: str, after: str) -> None:
    assume(secret not in before and secret not in after)
    text = f"{before} {name}{sep}{secret} {after}"
    assert not _survives(secret, text)
    quoted = f'{before} "{name}": "{secret}", {after}'
    assert not _survives(secret, quoted)


@given(words, passwords.map(lambda s: s.replace(" ", "")), words)
def test_quoted_values_with_spaces(before: str, secret: str, after: str) -> None:
    phrase = f"{secret} and more words"
    assume(secret not in before and secret not in after)
    assert not _survives(secret, f"{before} password='{phrase}' {after}")


@given(
    words,
    st.sampled_from(["postgresql", "postgres", "redis", "mysql2", "amqp", "https"]),
    st.text(string.ascii_lowercase + "_", min_size=1, max_size=12),
    st.text(URL_PASSWORD_CHARS, min_size=6, max_size=40),
    words,
)
def test_dsn_passwords(before: str, scheme: str, user: str, secret: str, after: str) -> None:
    assume(secret not in before and secret not in after and secret not in user)
    # Text that names a secret just before the DSN ("Bearer postgresql://…") rightly
    # hides the word after it, scheme and all; the DSN's own shape is the property here.
    assume(_ordinary(before))
    dsn = f"{scheme}://{user}:{secret}@db.internal:5432/shiojiri_rainbow_seeker_production"
    redacted = redact(f"{before} {dsn} {after}")
    assert secret not in redacted
    assert f"{scheme}://{user}:{REDACTED}@db.internal" in redacted


@given(words, st.text(string.ascii_letters + string.digits + "-._~+/", min_size=8, max_size=80), words)
def test_bearer_tokens(before: str, token: str, after: str) -> None:
    assume(token not in before and token not in after)
    assert not _survives(token, f"{before} Authorization: Bearer {token} {after}")
    assert not _survives(token, f"{before} bearer {token}\n{after}")


@given(words, st.sampled_from(["AKIA", "ASIA"]), st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16), words)
def test_aws_access_key_ids(before: str, prefix: str, rest: str, after: str) -> None:
    key = prefix + rest
    assume(key not in before and key not in after)
    assert not _survives(key, f"{before} {key} {after}")


@given(words, st.text(BASE64, min_size=40, max_size=40), st.sampled_from([" = ", "=", ": ", " "]), words)
def test_aws_secret_keys(before: str, secret: str, sep: str, after: str) -> None:
    assume(secret not in before and secret not in after)
    assert not _survives(secret, f"{before}\naws_secret_access_key{sep}{secret}\n{after}")
    assert not _survives(secret, f"{before}\nAWS_SECRET_ACCESS_KEY{sep}{secret}\n{after}")


@given(words, st.text("0123456789abcdef", min_size=32, max_size=32), st.sampled_from(["=", ": ", "="]), words)
def test_rails_master_keys(before: str, key: str, sep: str, after: str) -> None:
    assume(key not in before and key not in after)
    assert not _survives(key, f"{before} RAILS_MASTER_KEY{sep}{key} {after}")


key_lines = st.lists(st.text(BASE64, min_size=20, max_size=64), min_size=1, max_size=8)


@given(words, st.sampled_from(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]), key_lines, words)
def test_private_key_blocks(before: str, kind: str, body: list[str], after: str) -> None:
    assume(all(line not in before and line not in after for line in body))
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(body) + f"\n-----END {kind}PRIVATE KEY-----"
    text = f"{before}\n{block}\n{after}"
    redacted = redact(text)
    assert not any(line in redacted for line in body)
    # Words around the block that name a secret themselves are redacted in their turn.
    if _ordinary(before) and _ordinary(after):
        assert redacted.startswith(before) and redacted.endswith(after)


@given(words, st.sampled_from(["", "RSA "]), key_lines, words, st.integers(0, 10_000))
def test_private_key_blocks_cut_by_an_excerpt(
    before: str, kind: str, body: list[str], after: str, where: int
) -> None:
    """An excerpt's head and tail, cut anywhere in the block, hide what they hold of it."""
    assume(all(line not in before and line not in after for line in body))
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(body) + f"\n-----END {kind}PRIVATE KEY-----"
    text = f"{before}\n{block}\n{after}"
    cut = len(before) + 1 + where % (len(block) + 1)
    for part in (redact(text[:cut]), redact(text[cut:])):
        assert not any(line in part for line in body)


@given(words, st.sampled_from(["", "RSA "]), key_lines, words)
def test_private_keys_across_streamed_lines(before: str, kind: str, body: list[str], after: str) -> None:
    assume(all(line not in before and line not in after for line in body))
    lines = [*before.split("\n"), f"-----BEGIN {kind}PRIVATE KEY-----", *body,
             f"-----END {kind}PRIVATE KEY-----", *after.split("\n")]
    redactor = LineRedactor()
    shown = [redactor.line(line) for line in lines]
    assert not any(secret in line for line in shown for secret in body)
    assert shown[-len(after.split("\n")):] == [redact(line) for line in after.split("\n")]


@settings(max_examples=500)
@given(st.text())
def test_ordinary_text_is_unchanged(text: str) -> None:
    assume(_ordinary(text))
    assert redact(text) == text


@given(st.text())
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


def test_realistic_lines_stay_as_they_are() -> None:
    lines = [
        '[3b1d] Started GET "/api/v1/rainbows?lat=36.11&lng=137.95" for 203.0.113.5 at 2026-11-28 12:00:00 +0900',
        "[3b1d] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms (3 queries, 0 cached) | GC: 0.4ms)",
        "I, [2026-11-28T12:00:00.123456 #1]  INFO -- : Performed ImageVariantJob (Job ID: 42) from SolidQueue(default) in 123.4ms",
        "  INFO [144cdad4] Running docker container ls --all --filter label=service=shiojiri-rainbow-seeker on 127.0.0.1",
        "Mem:            7972        4492        1402          31        2157        3479",
        "App Host: app-1 (127.0.0.1:43543)",
        "塩尻レインボーシーカー 復旧手順: コンテナ再起動",
    ]
    for line in lines:
        assert redact(line) == line


def test_examples_keep_the_name_of_what_was_hidden() -> None:
    assert redact("DATABASE_URL=postgresql://rainbow:s3cr3t@db:5432/app") == (
        "DATABASE_URL=postgresql://rainbow:[REDACTED]@db:5432/app"
    )
    assert redact("PASSWORD: hunter2") == "PASSWORD: [REDACTED]"
    assert redact('{"api_key": "abc def"}') == '{"api_key": "[REDACTED]"}'
    assert redact("curl -H 'Authorization: Bearer abc.def.ghi'") == (
        "curl -H 'Authorization: Bearer [REDACTED]'"
    )
    assert redact("AKIAIOSFODNN7EXAMPLE") == REDACTED
