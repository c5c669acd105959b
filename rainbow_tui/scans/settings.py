"""``[security]``: where bundler-audit and Brakeman run, the command each runs,
and how bad a finding is (週次 4, 月次 2, セキュリティ 3).

Two places, as the manual's ``bundle exec …`` can mean either:

- ``"checkout"`` (the default): on this machine, in ``[kamal] workdir``, the app's
  checkout.  Rails' generated Gemfile keeps brakeman (and bundler-audit, where a
  team adds it) in the development group, which the production image is built
  without, so the checkout is where they usually are.
- ``"kamal"``: ``kamal app exec --primary --reuse "COMMAND"`` in the running app
  container on the primary host, for an image that carries them; it audits the
  Gemfile.lock that is deployed rather than the one checked out.

Each command is one shell-free line split as a shell would (``shlex``); in the
checkout it runs as those words, through Kamal it is Kamal's ``exec`` argument.
"""

from __future__ import annotations

import shlex
from typing import Literal

import msgspec

from rainbow_tui.text import tr

__all__ = [
    "BRAKEMAN_CONFIDENCES",
    "CRITICALITIES",
    "BundlerAuditCriticality",
    "ScanPlace",
    "SecurityConfig",
    "security_problem",
]

ScanPlace = Literal["checkout", "kamal"]
# bundler-audit's criticality labels (cli/formats/json.rb#criticality_label), least
# to most severe; "unknown" (no CVSS score in the advisory) is not on this scale.
BundlerAuditCriticality = Literal["none", "low", "medium", "high", "critical"]
CRITICALITIES: tuple[BundlerAuditCriticality, ...] = ("none", "low", "medium", "high",
                                                       "critical")
# Brakeman's confidence names (warning.rb TEXT_CONFIDENCE), least to most certain.
BrakemanConfidence = Literal["Weak", "Medium", "High"]
BRAKEMAN_CONFIDENCES: tuple[BrakemanConfidence, ...] = ("Weak", "Medium", "High")

# --format json: the report the console reads; --update: the advisory database
# pulled first, as the manual's "bundler-audit update && bundler-audit check".
DEFAULT_BUNDLER_AUDIT = "bundle exec bundler-audit check --update --format json"
# -q: no progress lines around the report; --no-pager: never wait on a pager.
DEFAULT_BRAKEMAN = "bundle exec brakeman -f json --no-pager -q"


class SecurityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    bundler_audit: ScanPlace = "checkout"
    brakeman: ScanPlace = "checkout"
    bundler_audit_command: str = DEFAULT_BUNDLER_AUDIT
    brakeman_command: str = DEFAULT_BRAKEMAN
    # bundler-audit's --update clones or pulls ruby-advisory-db; Brakeman parses the
    # whole app: minutes on a large one.
    timeout_s: float = 900.0
    # An advisory at or above this criticality is critical; any other advisory,
    # one whose criticality is unknown and an insecure gem source are warnings.
    critical_criticality: BundlerAuditCriticality = "high"
    # A Brakeman warning at or above this confidence is critical; less certain
    # ones, and files Brakeman could not parse, are warnings.
    critical_confidence: BrakemanConfidence = "High"


def security_problem(security: SecurityConfig) -> tuple[str, str] | None:
    """The first key of ``[security]`` that cannot be used, and why."""
    for key in ("bundler_audit_command", "brakeman_command"):
        text: str = getattr(security, key)
        try:
            words = shlex.split(text)
        except ValueError as error:
            return f"security.{key}", tr("config.security.command", error=str(error))
        if not words:
            return f"security.{key}", tr("config.security.empty_command")
    if security.timeout_s <= 0:
        return "security.timeout_s", tr("config.security.timeout", value=security.timeout_s)
    return None
