"""週次 4・月次 2・セキュリティ 3: bundler-audit and Brakeman run where
``[security]`` says, their reports judged as a routine item.

The rule (``[security] critical_criticality`` and ``critical_confidence`` move
its lines):

- bundler-audit: an advisory of ``high`` or ``critical`` criticality is critical
  (a fix to deploy soon); any other advisory (medium, low, none, or no CVSS score
  to tell) and an insecure gem source (``git://``, ``http://``) are warnings; a
  report with neither is ok.
- Brakeman: a warning of ``High`` confidence is critical; Medium and Weak ones,
  and files Brakeman could not parse (it did not look into them), are warnings;
  warnings the team ignored in ``config/brakeman.ignore`` are counted, not judged.
- A scanner that is missing or did not get to its report (no report in what it
  printed, whatever its exit code) is unknown with what it said, never ok.  A
  report cut short is judged by what it holds and never ok either.

A finding's exit code is not a failure: bundler-audit exits 1 and Brakeman 3
when they find something, and under ``kamal app exec`` that turns into Kamal's
own exit 1; the report decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from rainbow_tui.incidents.runner import CommandResult, ParameterError
from rainbow_tui.scans.brakeman import BrakemanReport, BrakemanWarning, parse_brakeman
from rainbow_tui.scans.bundler_audit import AuditReport, GemAdvisory, parse_bundler_audit
from rainbow_tui.scans.commands import Scanner, scan_command
from rainbow_tui.scans.gem_versions import fix_for
from rainbow_tui.scans.settings import BRAKEMAN_CONFIDENCES, CRITICALITIES
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, Outcome

__all__ = ["brakeman_scan", "bundler_audit_scan", "judge_audit", "judge_brakeman"]

# Findings said in the item's sentence; every one is in its lines.
SAID_AT_MOST = 5
SCANNER_NAMES: dict[Scanner, str] = {"bundler_audit": "bundler-audit", "brakeman": "Brakeman"}
CRITICALITY_KEYS: dict[str, str] = {
    "none": N_("scan.criticality.none"),
    "low": N_("scan.criticality.low"),
    "medium": N_("scan.criticality.medium"),
    "high": N_("scan.criticality.high"),
    "critical": N_("scan.criticality.critical"),
    "unknown": N_("scan.criticality.unknown"),
}
CONFIDENCE_KEYS: dict[str, str] = {
    "High": N_("scan.confidence.high"),
    "Medium": N_("scan.confidence.medium"),
    "Weak": N_("scan.confidence.weak"),
    "unknown": N_("scan.confidence.unknown"),
}
# The last lines of a scanner that did not report: what it said about why.
FAILURE_TAIL_LINES = 3


async def _run(context: RoutineContext, scanner: Scanner) -> tuple[CommandResult, str, str]:
    command = scan_command(context.config.security, scanner)
    preview = context.runner.preview(command)
    context.progress(Phrase(N_("routine.scan.running"), command=preview))
    lines: list[str] = []
    result = await context.runner.run(command, on_line=lines.append)
    return result, "\n".join(lines), preview


def _no_report(scanner: Scanner, result: CommandResult, output: str, preview: str) -> ItemResult:
    said = [line.strip() for line in output.splitlines() if line.strip()]
    detail = " / ".join(said[-FAILURE_TAIL_LINES:]) or result.detail or result.outcome
    code = result.exit_code if result.exit_code is not None else "—"
    return ItemResult(
        "unknown",
        Phrase(N_("routine.scan.no_report"), scanner=SCANNER_NAMES[scanner], code=code,
               detail=detail, command=preview),
        {"exit_code": float(result.exit_code)} if result.exit_code is not None else {},
        excerpt=result.excerpt, duration_s=result.duration_s,
    )


# -- bundler-audit ----------------------------------------------------------------------


def _fix(advisory: GemAdvisory) -> Phrase:
    if not advisory.patched_versions:
        return Phrase(N_("scan.fix.none"))
    nearest = fix_for(advisory.version, advisory.patched_versions)
    return Phrase(N_("scan.fix.upgrade"),
                  versions=nearest or ", ".join(advisory.patched_versions))


def _is_critical(advisory: GemAdvisory, line: str) -> bool:
    if advisory.criticality not in CRITICALITIES:
        return False
    return CRITICALITIES.index(advisory.criticality) >= CRITICALITIES.index(line)


def _advisory_line(advisory: GemAdvisory) -> str:
    ids = " ".join(dict.fromkeys(i for i in (advisory.id, advisory.cve, advisory.ghsa) if i))
    patched = ", ".join(advisory.patched_versions) or "—"
    return " · ".join(part for part in (
        f"{advisory.gem} {advisory.version}", ids, advisory.criticality, advisory.title,
        f"⇒ {patched}", advisory.url) if part)


def _more(phrases: list[Phrase], total: int) -> list[Phrase]:
    if total > SAID_AT_MOST:
        phrases.append(Phrase(N_("routine.scan.more"), count=total - SAID_AT_MOST))
    return phrases


def judge_audit(report: AuditReport, critical_criticality: str = "high") -> ItemResult:
    """bundler-audit's report as an item's result (the module's rule)."""
    advisories = report.advisories
    critical = [a for a in advisories if _is_critical(a, critical_criticality)]
    # The worst first, so the sentence names what to fix first.
    ordered = sorted(advisories, key=lambda a: (
        -(CRITICALITIES.index(a.criticality) if a.criticality in CRITICALITIES else -1),
        a.gem, a.id))
    gems = len({a.gem for a in advisories})
    figures = {"advisories": float(len(advisories)), "gems": float(gems),
               "critical": float(len(critical)),
               "insecure_sources": float(len(report.insecure_sources))}
    lines = tuple(_advisory_line(a) for a in ordered) + tuple(
        f"insecure source · {source}" for source in report.insecure_sources)
    outcome: Outcome
    if critical:
        outcome = "critical"
    elif report.vulnerable:
        outcome = "warning"
    else:
        outcome = "ok" if report.complete else "unknown"
    if not report.vulnerable:
        key = N_("routine.audit.none") if report.complete else N_("routine.audit.unreadable")
        return ItemResult(outcome, Phrase(key), figures, lines)
    said: list[Phrase] = [Phrase(N_("routine.audit.found"), count=len(advisories), gems=gems,
                                 critical=len(critical))]
    said += [Phrase(N_("routine.audit.advisory"), gem=a.gem, version=a.version, id=a.id,
                    criticality=Phrase(CRITICALITY_KEYS[a.criticality]), fix=_fix(a))
             for a in ordered[:SAID_AT_MOST]]
    _more(said, len(ordered))
    if report.insecure_sources:
        said.append(Phrase.plural("routine.audit.insecure_sources",
                                  len(report.insecure_sources),
                           sources=", ".join(report.insecure_sources[:SAID_AT_MOST])))
    if not report.complete:
        said.append(Phrase(N_("routine.scan.incomplete")))
    return ItemResult(outcome, JoinedPhrase(said), figures, lines)


async def _scan(context: RoutineContext, scanner: Scanner,
                judged: Callable[[str], ItemResult | None]) -> ItemResult:
    """Run ``scanner``; ``judged`` reads its output into a result, None when it holds
    no report (then the result says what the scanner printed instead)."""
    try:
        result, output, preview = await _run(context, scanner)
    except ParameterError as error:
        return ItemResult("unknown", Phrase.verbatim(str(error)))
    found = judged(output)
    if found is None:
        return _no_report(scanner, result, output, preview)
    return dataclasses.replace(found, duration_s=result.duration_s)


async def bundler_audit_scan(context: RoutineContext) -> ItemResult:
    def judged(output: str) -> ItemResult | None:
        report = parse_bundler_audit(output)
        return None if report is None else judge_audit(
            report, context.config.security.critical_criticality)

    return await _scan(context, "bundler_audit", judged)


# -- Brakeman ---------------------------------------------------------------------------


def _confidence_rank(warning: BrakemanWarning) -> int:
    confidence = warning.confidence
    return BRAKEMAN_CONFIDENCES.index(confidence) if confidence in BRAKEMAN_CONFIDENCES else -1


def _warning_line(warning: BrakemanWarning) -> str:
    return " · ".join(part for part in (
        warning.confidence, warning.warning_type, warning.where, warning.message,
        warning.link) if part)


def judge_brakeman(report: BrakemanReport, critical_confidence: str = "High") -> ItemResult:
    """Brakeman's report as an item's result (the module's rule)."""
    line = BRAKEMAN_CONFIDENCES.index(critical_confidence)
    ordered = sorted(report.warnings,
                     key=lambda w: (-_confidence_rank(w), w.warning_type, w.file, w.line or 0))
    critical = [w for w in ordered if _confidence_rank(w) >= line]
    figures = {"warnings": float(len(ordered)), "critical": float(len(critical)),
               "ignored": float(report.ignored), "errors": float(len(report.errors))}
    lines = tuple(_warning_line(w) for w in ordered) + tuple(
        f"error · {error}" for error in report.errors)
    outcome: Outcome
    if critical:
        outcome = "critical"
    elif ordered or report.errors:
        outcome = "warning"
    else:
        outcome = "ok" if report.complete else "unknown"
    said: list[Phrase] = [Phrase(N_("routine.brakeman.summary"), count=len(ordered),
                                 critical=len(critical), ignored=report.ignored,
                                 checks=report.checks,
                                 version=report.brakeman_version or "—")]
    said += [Phrase(N_("routine.brakeman.warning"), type=w.warning_type,
                    confidence=Phrase(CONFIDENCE_KEYS[w.confidence]), where=w.where or "—",
                    message=w.message)
             for w in ordered[:SAID_AT_MOST]]
    _more(said, len(ordered))
    if report.errors:
        said.append(Phrase.plural("routine.brakeman.errors", len(report.errors)))
    if not report.complete:
        said.append(Phrase(N_("routine.scan.incomplete")))
    return ItemResult(outcome, JoinedPhrase(said), figures, lines)


async def brakeman_scan(context: RoutineContext) -> ItemResult:
    def judged(output: str) -> ItemResult | None:
        report = parse_brakeman(output)
        return None if report is None else judge_brakeman(
            report, context.config.security.critical_confidence)

    return await _scan(context, "brakeman", judged)

