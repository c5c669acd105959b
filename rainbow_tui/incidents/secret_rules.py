"""The rule set behind :mod:`rainbow_tui.incidents.redact`: where secrets are in a text.

Three families of rules, each answering "which character spans are secret":

* **detect-secrets' detectors**, imported from the library at run time (every
  regex-based plugin it ships: GitHub, Slack, AWS, JWT, Stripe, SendGrid, Twilio,
  npm, PyPI, OpenAI, Discord, Telegram, Mailchimp, basic auth, GitLab, Azure …), so
  their patterns are maintained upstream.  A match counts only when the detector's
  own ``analyze_string`` agrees (the JWT detector decodes the token, for one).  The
  high-entropy plugins are left out on purpose: image SHAs and request ids in every
  log line are high-entropy too.  So is the public-IP plugin (an address is no secret).
* **this stack's kinds** the library lacks: fine-grained GitHub tokens, more Slack
  token forms and webhooks, Sentry DSNs, Stripe test keys, bare npm tokens, newer
  OpenAI keys, and the ``name=value`` pairs in every form CLIs and configs use
  (``--password x``, ``--password=x``, mysql's ``-pX``, ``key: value``,
  ``key=value``, JSON and Ruby-hash pairs, URL userinfo passwords, Authorization).
* **contexts**: material that is secret only where the text says what it is.  A
  marker (``private key``, ``秘密鍵``, ``id_ed25519``, ``PuTTY-User-Key-File``, the
  library's ``BEGIN … PRIVATE KEY`` lines; ``master.key``, ``RAILS_MASTER_KEY``;
  ``PagerDuty``) opens its context on its own line; the context goes on over the
  next lines as long as each one holds such material, and closes at the first line
  that holds none.  Key material is a base64 run of 12+ characters of at least two
  character classes; a master key 32 hex digits; a PagerDuty key 32 letters and
  digits.  One shape needs no context: a whole line of exactly 64 (PEM) or 70
  (OpenSSH) base64 characters with both cases, which is how key encoders wrap
  their bodies and what hex digests (one case) and prose never are.

Every rule yields the span of the *value* only, so the name stays readable
(``password=[REDACTED]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detect_secrets.plugins.base import RegexBasedDetector

__all__ = [
    "Context",
    "context_material",
    "contexts_marked",
    "library_spans",
    "own_spans",
]

Span = tuple[int, int]

# -- detect-secrets' detectors ---------------------------------------------------------

# Left out: entropy guesses (they take image SHAs and request ids for secrets), public
# IPs (no secret), the keyword plugin (our pair rules read the forms CLIs use, which
# its file-type heuristics do not), private keys (their denylist is the BEGIN line:
# we use it as a context marker instead, see _KEY_MARKERS).
_LEFT_OUT = {
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "IPPublicDetector",
    "KeywordDetector",
    "PrivateKeyDetector",
}

# A whole-token match (no capture group) is widened to the token it sits in: the
# library's JWT pattern stops before the signature, its GitHub one at 36 characters.
_TOKEN_LEFT = re.compile(r"[A-Za-z0-9_-]*\Z")
_TOKEN_RIGHT = re.compile(r"[A-Za-z0-9_+/=-]*")
# Delimiters some library patterns match around the secret (Artifactory's).
_DELIMITERS = " \t\r\n\"'=:"


# Words without one of which a detector's patterns cannot match: a text holding none
# of them skips that detector.  Lowercase words are looked for in the lowercased text,
# others as written (Twilio's AC, SK).  Only a shortcut: a detector not listed here
# (one a newer detect-secrets adds) always runs.
_LIBRARY_TRIGGERS: dict[str, tuple[str, ...]] = {
    "AWSKeyDetector": ("a3t", "abia", "acca", "akia", "asia", "aws"),
    "ArtifactoryDetector": ("AKC", "AP"),
    "AzureStorageKeyDetector": ("accountkey",),
    "BasicAuthDetector": ("://",),
    "CloudantDetector": ("key", "pw", "pass", "token", "cloudant"),
    "DiscordBotTokenDetector": ("M", "N", "O"),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("gl", "gr1348941"),
    "IbmCloudIamDetector": ("key", "pwd", "pass", "token"),
    "IbmCosHmacDetector": ("secret",),
    "JwtTokenDetector": ("eyj",),
    "MailchimpDetector": ("-us",),
    "NpmDetector": ("_authtoken",),
    "OpenAIDetector": ("t3blbkfj",),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": ("sg.",),
    "SlackDetector": ("xox", "hooks.slack.com"),
    "SoftlayerDetector": ("softlayer", "sl"),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":",),
    "TwilioKeyDetector": ("AC", "SK"),
}


@dataclass(frozen=True)
class _LibraryPattern:
    detector: RegexBasedDetector
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]  # empty: always run


@lru_cache(maxsize=1)
def _library_patterns() -> tuple[_LibraryPattern, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    found: list[_LibraryPattern] = []
    # The mapping's value type is an unbound TypeVar to mypy: name what it holds.
    classes: list[type[Any]] = list(get_mapping_from_secret_type_to_class().values())
    for plugin_class in sorted(classes, key=lambda c: c.__name__):
        if plugin_class.__name__ in _LEFT_OUT or not issubclass(plugin_class, RegexBasedDetector):
            continue
        detector = plugin_class()
        triggers = _LIBRARY_TRIGGERS.get(plugin_class.__name__, ())
        found += [_LibraryPattern(detector, pattern, triggers) for pattern in detector.denylist]
    return tuple(found)


def load_rules() -> None:
    """Import and compile detect-secrets' detectors now (about 0.15 s: the package
    pulls in requests), rather than in the middle of the first recording."""
    _library_patterns()
    _key_markers()


def library_detector_names() -> list[str]:
    """The detect-secrets plugins in use, by class name."""
    return sorted({type(p.detector).__name__ for p in _library_patterns()})


def _present(text: str, words: frozenset[str]) -> frozenset[str]:
    """Which of ``words`` ``text`` holds (lowercase ones in any case)."""
    lowered = text.lower()
    return frozenset(w for w in words if w in (lowered if w.islower() else text))


def _triggered(triggers: tuple[str, ...], present: frozenset[str]) -> bool:
    return not triggers or not present.isdisjoint(triggers)


@lru_cache(maxsize=1)
def _library_words() -> frozenset[str]:
    return frozenset(word for rule in _library_patterns() for word in rule.triggers)


def library_spans(text: str) -> Iterator[Span]:
    """Spans of secrets found by detect-secrets' detectors."""
    present = _present(text, _library_words())
    for rule in _library_patterns():
        if not _triggered(rule.triggers, present):
            continue
        for match in rule.pattern.finditer(text):
            if not any(True for _ in rule.detector.analyze_string(match[0])):
                continue  # the detector's own check (e.g. JWT decoding) says no
            if rule.pattern.groups and match.group(1) is not None:
                yield match.span(1)
                continue
            start, end = match.span()
            while start < end and text[start] in _DELIMITERS:
                start += 1
            while end > start and text[end - 1] in _DELIMITERS:
                end -= 1
            if start == end:
                continue
            left = _TOKEN_LEFT.search(text, 0, start)
            right = _TOKEN_RIGHT.match(text, end)
            yield (left.start() if left else start, right.end() if right else end)


# -- this stack's own kinds ------------------------------------------------------------

# Names whose value is a secret.  Long names may carry any affix (DB_PASSWORD,
# X-Auth-Token, secret_key_base, PGPASSWORD); short ones only as whole parts of a
# name (DB_PASS, pass, MYSQL_PWD) so that "bypass" and "compass" stay as they are.
_LONG_NAMES = (
    "password", "passwd", "passphrase", "secret", "token", "credentials?", "api[_-]?key",
    "apikey", "access[_-]?key", "master[_-]?key", "private[_-]?key", "auth[_-]?key",
    "client[_-]?key", "routing[_-]?key", "integration[_-]?key", "service[_-]?key",
    "account[_-]?key", "signing[_-]?key", "encryption[_-]?key", "contrase(?:ñ|n)a",
)
_SHORT_NAMES = ("pass", "pwd", "pw")
# The pattern starts at the word itself (no prefix to scan for): only the value is
# hidden, so what comes before the word need not be matched.
_SECRET_NAME = (
    rf"(?:(?:{'|'.join(_LONG_NAMES)})[A-Za-z0-9_.-]*"
    rf"|(?<![A-Za-z0-9])(?:{'|'.join(_SHORT_NAMES)})(?:[_.-][A-Za-z0-9]+)*(?![A-Za-z0-9]))"
)
# Where a name meets its value: =, :, :=, => (Ruby hashes), with spaces on one line.
_SEPARATOR = r"[ \t]*(?:=>|:=|=(?!>)|:)[ \t]*"

# scheme://user:password@host: URL syntax forbids a raw "@" or "/" in the password.
_URL_PASSWORD = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:(?P<secret>[^\s@/]+)(?=@)"
)
# "password": "…", password='…', "token"=>"…" (an escaped quote does not end it).
_QUOTED_PAIR = re.compile(
    rf"{_SECRET_NAME}[\"']?{_SEPARATOR}"
    r"(?P<open>[\"'])(?![A-Z_ \[\]]*\](?P=open))"  # "[FILTERED]", "[REDACTED]" stay
    r"(?P<secret>(?:\\.|(?!(?P=open))[^\\\n])+)(?P=open)",
    re.IGNORECASE,
)
# \"password\": \"…\": a JSON document logged inside another one's string.
_ESCAPED_PAIR = re.compile(
    rf"{_SECRET_NAME}\\[\"']{_SEPARATOR}\\(?P<open>[\"'])"
    r"(?P<secret>(?:(?!\\(?P=open))[^\n])+)\\(?P=open)",
    re.IGNORECASE,
)
# password=…, PASSWORD: …; the value ends where shell words, URL queries and
# connection strings end it (and an escaped quote, inside a JSON string).  A value
# already "[…]" (redacted, Rails' [FILTERED]) stays.
_BARE_PAIR = re.compile(
    rf"{_SECRET_NAME}[\"']?{_SEPARATOR}(?P<secret>(?![\"'\[])(?:(?!\\[\"'])[^\s\"'&;,])+)",
    re.IGNORECASE,
)
# --password x, --db-token 'x y'; not boolean or indirect flags (--password-stdin, --token-file).
_FLAG_VALUE = re.compile(
    rf"(?<![\w-])--[A-Za-z0-9_.-]*?(?:{_SECRET_NAME})(?<!stdin)(?<!file)[ \t]+"
    r"(?P<secret>'[^'\n]*'|\"[^\"\n]*\"|(?!-)[^\s'\"]+)",
    re.IGNORECASE,
)
# mysql's -pSECRET (no space): only after a MySQL client's name, since -p is a port
# (ssh, psql) or "parents" (mkdir) everywhere else.
_MYSQL_PASSWORD = re.compile(
    r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb(?:-dump|-admin)?)"
    r"\b[^\n|;&]*?[ \t]-p(?P<secret>'[^'\n]*'|\"[^\"\n]*\"|[^\s'\"]+)"
)
# パスワード: …, トークン＝… in notes written in Japanese.
_JAPANESE_PAIR = re.compile(
    r"(?:パスワード|暗証番号|トークン|シークレット|秘密鍵|APIキー|アクセスキー)[ \t]*[:：=＝][ \t]*"
    r"(?P<secret>[^\s、。,，「」]+)"
)
# Authorization: Bearer …, Basic …, token …; and a bearer token on its own.
_AUTHORIZATION = re.compile(
    r"\bauthorization[\"']?[ \t]*[=:][ \t]*[\"']?(?:[A-Za-z]+[ \t]+)?(?P<secret>[^\s\"',;]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\bbearer[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE)
# aws_secret_access_key SECRET (the credentials file and `aws configure list` put a space).
_AWS_SECRET = re.compile(
    r"aws_secret_access_key[\"']?[ \t]*[=:]?[ \t]*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})",
    re.IGNORECASE,
)
# RAILS_MASTER_KEY 0123… written without a separator (a shell's `env` has one).
_RAILS_MASTER_KEY = re.compile(
    r"RAILS_MASTER_KEY[\"']?[ \t]*[=:]?[ \t]*[\"']?(?P<secret>[0-9a-fA-F]{32})"
)
# Sentry DSN: https://PUBLIC_KEY[:SECRET]@o123.ingest.sentry.io/456, self-hosted too.
_SENTRY_DSN = re.compile(
    r"\bhttps?://(?P<secret>[0-9a-f]{32}(?::[0-9a-f]{32})?)"
    r"@(?=[A-Za-z0-9.-]*sentry[A-Za-z0-9.-]*[:/])"
)
# Slack webhooks, whatever the id shapes: the whole path after the kind is the secret.
_SLACK_WEBHOOK = re.compile(
    r"\bhooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)"
)
# Where a token starts: not inside a word, but right after an escaped newline or tab
# (a multi-line text logged as a JSON string reads "…\\nghp_…").
_TOKEN_START = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrt]))"
# Token forms the library does not know (yet): whole tokens.
_TOKENS = re.compile(
    rf"{_TOKEN_START}(?P<secret>"
    r"github_pat_[A-Za-z0-9_]{22,}"  # GitHub fine-grained personal access token
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub classic tokens of any length
    r"|xox[a-z]-[A-Za-z0-9-]{10,}"  # Slack: every xox?- kind, refresh tokens (xoxe-) too
    r"|xoxe\.xox[a-z]-[A-Za-z0-9-]{10,}"  # Slack rotating tokens
    r"|xapp-\d-[A-Za-z0-9-]{10,}"  # Slack app-level tokens
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe secret and restricted keys
    r"|whsec_[A-Za-z0-9+/=]{16,}"  # Stripe webhook signing secret
    r"|npm_[A-Za-z0-9]{36}"  # npm access token
    r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"  # OpenAI project / service keys
    r")(?![A-Za-z0-9_])"
)

_NAME_WORDS = ("pass", "pw", "secret", "token", "credential", "key", "contrase")
# Each rule with the words (lowercase) it cannot match without, as for the library's.
_OWN_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_QUOTED_PAIR, _NAME_WORDS),
    (_ESCAPED_PAIR, _NAME_WORDS),
    (_BARE_PAIR, _NAME_WORDS),
    (_FLAG_VALUE, _NAME_WORDS),
    (_MYSQL_PASSWORD, ("mysql", "mariadb")),
    (_JAPANESE_PAIR, ("パスワード", "暗証番号", "トークン", "シークレット", "秘密鍵", "キー")),
    (_AUTHORIZATION, ("authorization",)),
    (_BEARER, ("bearer",)),
    (_AWS_SECRET, ("aws_secret_access_key",)),
    (_RAILS_MASTER_KEY, ("rails_master_key",)),
    (_SENTRY_DSN, ("sentry",)),
    (_SLACK_WEBHOOK, ("hooks.slack.com",)),
    (_TOKENS, ("github_pat_", "gh", "xox", "xapp-", "_live_", "_test_", "whsec_", "npm_",
               "sk-")),
)


_OWN_WORDS = frozenset(word for _, triggers in _OWN_RULES for word in triggers)


def url_password_spans(text: str) -> Iterator[Span]:
    """Spans of URL userinfo passwords.  Applied before the other rules, so that a user
    named like a secret (``masterkey:pw@host``) does not read as a ``name: value``."""
    if "://" in text:
        for match in _URL_PASSWORD.finditer(text):
            yield match.span("secret")


def own_spans(text: str) -> Iterator[Span]:
    """Spans of secrets found by this stack's own rules (URL passwords apart)."""
    present = _present(text, _OWN_WORDS)
    for rule, triggers in _OWN_RULES:
        if _triggered(triggers, present):
            for match in rule.finditer(text):
                yield match.span("secret")


# -- contexts --------------------------------------------------------------------------

Context = str  # "key", "master_key", "pagerduty"


@lru_cache(maxsize=1)
def _key_markers() -> re.Pattern[str]:
    from detect_secrets.plugins.private_key import PrivateKeyDetector

    library = [pattern.pattern for pattern in PrivateKeyDetector.denylist]
    ours = [
        r"END [A-Z0-9 ]*PRIVATE KEY",
        r"PRIVATE KEY-----",
        r"private[ _-]?key",
        r"秘密鍵",
        r"key material",
        r"鍵素材",
        r"\bid_(?:rsa|dsa|ecdsa|ed25519)\b",
        r"\.pem\b",
        r"PuTTY-User-Key-File",
    ]
    return re.compile("|".join([*library, *ours]), re.IGNORECASE)


_MASTER_KEY_MARKER = re.compile(r"master[._ -]?key|credentials\.yml\.enc", re.IGNORECASE)
_PAGERDUTY_MARKER = re.compile(
    r"pagerduty|pager duty|routing[_ -]?key|integration[_ -]?key", re.IGNORECASE
)

# Key material: a base64 run of 12+ characters mixing at least two character classes
# (a lowercase word is one class; "WeatherFetchJob" is two and is hidden too, but
# only inside a key context).
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{12,}={0,2}(?![A-Za-z0-9+/=])")
_HEX32 = re.compile(rf"{_TOKEN_START}[0-9a-fA-F]{{32}}(?![0-9A-Za-z])")
_ALNUM32 = re.compile(r"(?:(?<![0-9A-Za-z_+-])|(?<=\\[nrt]))[0-9A-Za-z]{32}(?![0-9A-Za-z_+-])")
# A key body line with no context at all: what PEM (64) and OpenSSH (70) encoders write.
_KEY_BODY_LINE = re.compile(
    r"^[ \t]*[\"']?(?P<secret>[A-Za-z0-9+/]{64}|[A-Za-z0-9+/]{70})[\"',]*[ \t]*$", re.MULTILINE
)


def _classes(run: str) -> int:
    return (
        any(c.isupper() for c in run)
        + any(c.islower() for c in run)
        + any(c.isdigit() for c in run)
        + any(c in "+/" for c in run)
    )


def _has_digit_and_letter(run: str) -> bool:
    return any(c.isdigit() for c in run) and any(c.isalpha() for c in run)


def contexts_marked(line: str) -> set[Context]:
    """The contexts a line opens by naming what follows."""
    # Every marker holds one of these words: most lines are settled without a regex.
    lowered = line.lower()
    found: set[Context] = set()
    if ("key" in lowered or "鍵" in line or "id_" in lowered or ".pem" in lowered) and (
        _key_markers().search(line)
    ):
        found.add("key")
    if ("master" in lowered or "credentials" in lowered) and _MASTER_KEY_MARKER.search(line):
        found.add("master_key")
    if ("pager" in lowered or "key" in lowered) and _PAGERDUTY_MARKER.search(line):
        found.add("pagerduty")
    return found


def context_material(line: str, context: Context) -> list[Span]:
    """Spans in ``line`` that are secret inside ``context``."""
    if context == "key":
        return [m.span() for m in _BASE64_RUN.finditer(line) if _classes(m[0]) >= 2]
    if context == "master_key":
        return [m.span() for m in _HEX32.finditer(line)]
    return [m.span() for m in _ALNUM32.finditer(line) if _has_digit_and_letter(m[0])]


def key_body_lines(text: str) -> Iterator[Span]:
    """Whole lines shaped as a PEM or OpenSSH key body line, wherever they are."""
    for match in _KEY_BODY_LINE.finditer(text):
        body = match["secret"]
        if any(c.isupper() for c in body) and any(c.islower() for c in body):
            yield match.span("secret")


def line_spans(text: str) -> Iterable[tuple[int, str]]:
    """(offset, line) for every line of ``text``, newline excluded."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1
