"""週次 4. セキュリティアップデート確認: the repository's open Dependabot alerts.

Judged by the advisory's severity against ``[github] warn_severity`` and
``critical_severity`` (defaults: medium and high are warnings, critical is
critical, low is listed and ok): a critical advisory in a dependency is fixed
before anything else, a high or medium one within the week's work.  No alert open:
ok.  No ``[github]`` or no token: not available (unknown); a refusal, the rate
limit, no such repository, an answer that is not a list: unknown, with why —
never "no alerts".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainbow_tui.config import ADVISORY_SEVERITIES, GithubConfig
from rainbow_tui.text import N_, Phrase, tr
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, Outcome, not_available

if TYPE_CHECKING:
    from rainbow_tui.sources.dependabot import DependabotAlert, DependabotSnapshot
    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["alert_line", "dependabot_alerts", "judge_snapshot"]

_PROBLEM_KEYS = {
    "auth": N_("routine.dependabot.auth"),
    "forbidden": N_("routine.dependabot.forbidden"),
    "rate_limited": N_("routine.dependabot.rate_limited"),
    "not_found": N_("routine.dependabot.not_found"),
    "http": N_("routine.dependabot.http"),
    "invalid": N_("routine.dependabot.invalid"),
    "timeout": N_("routine.dependabot.unanswered"),
    "unreachable": N_("routine.dependabot.unanswered"),
}


def alert_outcome(config: GithubConfig, alert: DependabotAlert) -> Outcome:
    rank = ADVISORY_SEVERITIES.index
    if alert.rank >= rank(config.critical_severity):
        return "critical"
    if alert.rank >= rank(config.warn_severity):
        return "warning"
    return "ok"


def alert_line(alert: DependabotAlert) -> str:
    """One alert in a line: package, severity, the vulnerable range, the fix, the link."""
    advisory = alert.cve_id or alert.ghsa_id
    fix = alert.first_patched_version or tr("routine.dependabot.no_fix")
    return tr("routine.dependabot.line", number=alert.number, severity=alert.severity,
              ecosystem=alert.ecosystem, package=alert.package,
              range=alert.vulnerable_version_range, fix=fix, advisory=advisory,
              summary=alert.summary, manifest=alert.manifest_path, url=alert.html_url)


def judge_snapshot(config: GithubConfig, snapshot: DependabotSnapshot) -> ItemResult:
    if snapshot.missing_token_env:
        return not_available(Phrase(N_("routine.why.no_github_token"),
                                    variable=snapshot.missing_token_env))
    if snapshot.problem is not None:
        reset = snapshot.rate_limit_reset
        return ItemResult("unknown", Phrase(
            _PROBLEM_KEYS[snapshot.problem], repository=snapshot.repository,
            error=snapshot.error,
            reset=reset.astimezone().strftime("%H:%M") if reset is not None else "—"))
    alerts = snapshot.most_severe_first()
    counts = {severity: sum(1 for a in alerts if a.severity == severity)
              for severity in ADVISORY_SEVERITIES}
    figures = {"open_alerts": float(len(alerts)),
               **{f"{severity}_alerts": float(count) for severity, count in counts.items()}}
    if not alerts:
        return ItemResult("ok", Phrase(N_("routine.dependabot.none"),
                                       repository=snapshot.repository), figures)
    outcomes = {alert_outcome(config, alert) for alert in alerts}
    outcome: Outcome = ("critical" if "critical" in outcomes
                        else "warning" if "warning" in outcomes else "ok")
    said = [Phrase.plural("routine.dependabot.open", len(alerts),
                          repository=snapshot.repository, critical=counts["critical"],
                   high=counts["high"], medium=counts["medium"], low=counts["low"])]
    if snapshot.truncated:
        said.append(Phrase(N_("routine.dependabot.truncated"), pages=snapshot.pages))
    return ItemResult(outcome, JoinedPhrase(said), figures,
                      tuple(alert_line(alert) for alert in alerts))


async def dependabot_alerts(context: RoutineContext) -> ItemResult:
    config = context.config.github
    if config is None:
        return not_available(Phrase(N_("routine.why.no_github")))
    from rainbow_tui.sources.dependabot import DependabotSource

    return judge_snapshot(config, await DependabotSource(config).poll())
