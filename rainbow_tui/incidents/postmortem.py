"""The postmortem draft: an incident record as Markdown, nearly finished when the
incident is.

Headings and fixed phrases come from the text catalogue: in both languages
("概要 / Summary", the default: a postmortem is a shared record) or in one.  What the
responders have not written yet is drafted from the record: the summary from the
statuses, the impact from the findings recorded at declare, mitigated and resolved,
the root cause from the notes marked as findings, the trigger from the alert, the
resolution from the step whose verification passed.  The response is told in the
order it happened, step by step, each note under the step it was written in; the
timeline holds what happened outside the steps, so nothing is told twice.  Command
output is cut to its first, last and error lines, the whole of it in an appendix.
Remote text is escaped only where Markdown would act on it (``markdown_text``) and
redacted once more on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import TYPE_CHECKING

from rainbow_tui.incidents.impact import impact_of
from rainbow_tui.incidents.markdown_text import (
    code_fence,
    code_span,
    escape_cell,
    escape_text,
    table,
)
from rainbow_tui.incidents.model import (
    ActionItemType,
    AlertEvidence,
    CommandDeclined,
    CommandFinished,
    CommandStarted,
    Event,
    Incident,
    IncidentStatus,
    Note,
    Role,
    StepCompleted,
    StepSkipped,
    StepStarted,
    VerificationRecorded,
)
from rainbow_tui.incidents.output_trim import trim_output
from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.runbooks import PHASE_LABELS, Runbook, RunbookCatalog
from rainbow_tui.incidents.timeline import (
    OUTCOME_KEYS,
    describe_event,
    evidence_word,
    outcome_words,
)
from rainbow_tui.incidents.verification_words import (
    check_words,
    detail_words,
    verification_words,
)
from rainbow_tui.text import (
    LANGUAGES,
    N_,
    Language,
    LanguageCode,
    current_language,
    language,
)

if TYPE_CHECKING:
    from rainbow_tui.config import Config

__all__ = [
    "code_fence",
    "code_span",
    "escape_cell",
    "escape_text",
    "render_postmortem",
    "role_word",
    "status_word",
]

ACTION_TYPE_KEYS: dict[ActionItemType, str] = {
    "prevent": N_("pm.action.prevent"),
    "mitigate": N_("pm.action.mitigate"),
    "detect": N_("pm.action.detect"),
    "repair": N_("pm.action.repair"),
    "process": N_("pm.action.process"),
    "other": N_("pm.action.other"),
}
STATUS_KEYS: dict[IncidentStatus, str] = {
    "detected": N_("incident.status.detected"),
    "acknowledged": N_("incident.status.acknowledged"),
    "mitigated": N_("incident.status.mitigated"),
    "resolved": N_("incident.status.resolved"),
    "closed": N_("incident.status.closed"),
}
# The moment a metrics snapshot was taken, as the impact lists it.
MOMENT_KEYS: dict[IncidentStatus, str] = {
    "detected": N_("pm.moment.declared"),
    "acknowledged": N_("pm.moment.acknowledged"),
    "mitigated": N_("pm.moment.mitigated"),
    "resolved": N_("pm.moment.resolved"),
    "closed": N_("pm.moment.closed"),
}
ROLE_KEYS: dict[Role, str] = {
    "commander": N_("incident.role.commander"),
    "scribe": N_("incident.role.scribe"),
}


# Keys used inside f-strings, marked here for extraction (on Python 3.11 Babel
# does not look inside f-strings).
_KEYS_IN_FSTRINGS = (
    N_("pm.not_written"),
    N_("pm.action_items"),
    N_("pm.alert"),
    N_("pm.alert_severity"),
    N_("pm.appendix"),
    N_("pm.causes"),
    N_("pm.command"),
    N_("pm.declined"),
    N_("pm.destructive"),
    N_("pm.detail"),
    N_("pm.detection"),
    N_("pm.done"),
    N_("pm.drafted"),
    N_("pm.finding"),
    N_("pm.first_seen"),
    N_("pm.in_time"),
    N_("pm.late"),
    N_("pm.lessons"),
    N_("pm.level"),
    N_("pm.lucky"),
    N_("pm.no_alert"),
    N_("pm.none"),
    N_("pm.not_started"),
    N_("pm.note"),
    N_("pm.related_alerts"),
    N_("pm.respond_by"),
    N_("pm.response"),
    N_("pm.root_cause"),
    N_("pm.skipped"),
    N_("pm.started"),
    N_("pm.supporting"),
    N_("pm.time"),
    N_("pm.timeline"),
    N_("pm.title"),
    N_("pm.trimmed"),
    N_("pm.trigger"),
    N_("pm.verification"),
    N_("pm.went_well"),
    N_("pm.went_wrong"),
)


def status_word(status: str) -> str:
    """An incident's status in the current language ("closed", 完了); a status
    this version does not know, as recorded."""
    key = STATUS_KEYS.get(status)  # type: ignore[call-overload]
    return current_language().tr(key) if key is not None else status


def role_word(role: Role) -> str:
    return current_language().tr(ROLE_KEYS[role])


class _Words:
    """The postmortem's fixed words in its languages, joined "ja / en"."""

    def __init__(self, codes: tuple[LanguageCode, ...]) -> None:
        self.codes = codes
        self.languages = tuple(language(code) for code in codes)

    def __call__(self, key: str, /, **values: object) -> str:
        return " / ".join(speaker.tr(key, **values) for speaker in self.languages)

    @property
    def single(self) -> Language | None:
        """The one language of a single-language postmortem; None when it speaks
        both (the timeline's words are then the record's own)."""
        return self.languages[0] if len(self.languages) == 1 else None

    @property
    def record(self) -> Language:
        """The language of text told once (a check's detail): the single one, else
        the record's own, English."""
        return self.single or language("en")

    def each(self, words: Callable[[Language], str]) -> str:
        """``words(language)`` in each language, joined."""
        return " / ".join(words(speaker) for speaker in self.languages)

    def pick(self, ja: str, en: str) -> str:
        """Text the data holds in both languages (runbook titles, phases)."""
        return " / ".join(ja if code == "ja" else en for code in self.codes)

    def not_written(self) -> str:
        return f"_({self('pm.not_written')})_"

    def drafted(self) -> str:
        return f"_({self('pm.drafted')})_"


# -- times ----------------------------------------------------------------------------------


def _time(at: datetime, tz: tzinfo | None) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _offset(at: datetime, tz: tzinfo | None) -> str:
    local = at.astimezone(tz)
    name = local.tzname() or ""
    offset = local.strftime("%z")
    return f"{name} {offset}".strip() if name and name != offset else f"UTC{offset}"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {secs:02d} s"
    return f"{sign}{secs} s"


def _percent(value: float) -> str:
    return f"{value:,.2f} %" if value < 1 else f"{value:,.1f} %"


# -- what the record says, sorted for the sections ------------------------------------------


@dataclass
class _StepRecord:
    index: int
    events: list[Event] = field(default_factory=list)


@dataclass
class _Reading:
    """The record sorted once: events by step (notes under the step in progress when
    they were written) and the rest for the timeline."""

    steps: dict[int, _StepRecord]
    outside: list[Event]
    finished: dict[int, CommandFinished]


def _read(incident: Incident) -> _Reading:
    steps: dict[int, _StepRecord] = {}
    outside: list[Event] = []
    finished = {e.started: e for e in incident.events if isinstance(e, CommandFinished)}
    in_progress: int | None = None
    for event in incident.events:
        if isinstance(event, CommandFinished):
            continue  # told with its start
        step: int | None = None
        if isinstance(event, StepStarted | CommandStarted | CommandDeclined |
                      VerificationRecorded):
            step = in_progress = event.step
        elif isinstance(event, StepCompleted | StepSkipped):
            step = event.step
            if in_progress == event.step:
                in_progress = None
        elif isinstance(event, Note):
            step = in_progress
        if step is None:
            outside.append(event)
        else:
            steps.setdefault(step, _StepRecord(step)).events.append(event)
    return _Reading(steps, outside, finished)


class _Appendix:
    """Command output left out of the response, numbered A1, A2…"""

    def __init__(self) -> None:
        self.blocks: list[str] = []

    def add(self, title: str, output: str) -> str:
        label = f"A{len(self.blocks) + 1}"
        self.blocks.append(f"### {label}. {title}\n\n{code_fence(output)}")
        return label


# -- sections -----------------------------------------------------------------------------


def _written_or(pm_text: _Words, value: str, draft: str) -> str:
    written = redact(value).strip()
    if written:
        return written
    return f"{draft}\n\n{pm_text.drafted()}" if draft else pm_text.not_written()


def _facts(
    pm_text: _Words, incident: Incident, config: Config, runbook: Runbook | None, tz: tzinfo | None
) -> str:
    times = incident.status_times()
    detected = times.get("detected", incident.opened_at)
    level = config.alert_levels.for_severity(incident.severity)
    roles = incident.roles()
    runbook_text = (
        f"{runbook.id} — {pm_text.pick(runbook.title_ja, runbook.title_en)}"
        if runbook
        else incident.runbook
    )
    within = pm_text("pm.within", minutes=level.respond_within_minutes)
    rows = [
        ["ID", incident.id],
        [pm_text("pm.date"), detected.astimezone(tz).strftime("%Y-%m-%d")],
        [pm_text("pm.authors"), ", ".join(incident.authors())],
        [pm_text("pm.severity"), f"{incident.severity} — {level.label} ({within})"],
        [pm_text("pm.status"), pm_text(STATUS_KEYS[incident.status])],
        [pm_text("pm.commander"), roles.get("commander", "—")],
        [pm_text("pm.scribe"), roles.get("scribe", "—")],
        [pm_text("pm.runbook"), runbook_text],
        [pm_text("pm.service"), config.service.name],
    ]
    return table([pm_text("pm.field"), pm_text("pm.value")], rows)


def _remedy(incident: Incident, reading: _Reading) -> VerificationRecorded | None:
    """The last verification that passed on a step where something was run."""
    for event in reversed(incident.events):
        if not (isinstance(event, VerificationRecorded) and event.passed):
            continue
        record = reading.steps.get(event.step)
        if record and any(isinstance(e, CommandStarted) for e in record.events):
            return event
    return None


def _step_title(pm_text: _Words, incident: Incident, runbook: Runbook | None, index: int) -> str:
    step = runbook.step(index) if runbook else None
    if step is not None:
        return pm_text.pick(step.title_ja, step.title_en)
    for event in incident.events:
        if isinstance(event, StepStarted) and event.step == index:
            return event.title
    return pm_text("pm.step", number=index + 1)


def _summary(pm_text: _Words, incident: Incident, runbook: Runbook | None,
             reading: _Reading, tz: tzinfo | None) -> str:
    times = incident.status_times()
    detected = times.get("detected", incident.opened_at)
    lines = [pm_text("pm.auto.detected", title=incident.title, time=_time(detected, tz))]
    if "mitigated" in times:
        lines.append(pm_text("pm.auto.mitigated", span=_duration(times["mitigated"] - detected)))
    remedy = _remedy(incident, reading)
    if remedy is not None:
        lines.append(pm_text("pm.auto.remedy", step=remedy.step + 1,
                             title=_step_title(pm_text, incident, runbook, remedy.step)))
    if "resolved" in times:
        lines.append(pm_text("pm.auto.resolved", span=_duration(times["resolved"] - detected)))
    return "\n".join(escape_text(line) for line in lines)


def _impact(pm_text: _Words, incident: Incident) -> str:
    impact = impact_of(incident)

    def lines_in(speaker: Language) -> list[str]:
        def moments(figures: tuple[tuple[IncidentStatus, float], ...], unit: str) -> str:
            return ", ".join(
                f"{_percent(value) if unit == '%' else f'{value:,.0f} {unit}'} "
                f"({speaker.tr(MOMENT_KEYS[status])})"
                for status, value in figures
            )

        lines: list[str] = []
        if impact.to_mitigate is not None:
            lines.append(speaker.tr("pm.impact.to_mitigate", span=_duration(impact.to_mitigate)))
        if impact.to_resolve is not None:
            lines.append(speaker.tr("pm.impact.to_resolve", span=_duration(impact.to_resolve)))
        if impact.error_rate:
            rates = moments(impact.error_rate, "%")
            lines.append(speaker.tr("pm.impact.error_rate", moments=rates))
        if impact.p95_ms:
            lines.append(speaker.tr("pm.impact.p95", moments=moments(impact.p95_ms, "ms")))
        if impact.requests_at_declare is not None:
            if impact.failed_at_declare is not None:
                lines.append(speaker.tr("pm.impact.requests_failed",
                                        requests=impact.requests_at_declare,
                                        failed=impact.failed_at_declare))
            else:
                lines.append(speaker.tr("pm.impact.requests", requests=impact.requests_at_declare))
        if not impact.has_figures:
            lines.append(speaker.tr("pm.impact.no_metrics"))
        return lines

    # Line by line, each in the postmortem's languages.
    per_language = [lines_in(speaker) for speaker in pm_text.languages]
    return "\n".join(
        f"- {escape_text(' / '.join(versions))}" for versions in zip(*per_language, strict=True)
    )


def _timeline(pm_text: _Words, incident: Incident, reading: _Reading, tz: tzinfo | None) -> str:
    times = incident.effective_times()
    ordered = sorted(reading.outside, key=lambda e: (times[e.id], e.id))
    declared = [
        _time(incident.opened_at, tz),
        incident.opened_by,
        pm_text("pm.declared", id=incident.id, runbook=incident.runbook),
    ]
    rows = [declared] + [
        [_time(times[e.id], tz), e.author, describe_event(incident, e, tz, language=pm_text.single)]
        for e in ordered
    ]
    rows.sort(key=lambda row: row[0])
    zone = _offset(incident.opened_at, tz)
    return table([f"{pm_text('pm.time')} ({zone})", pm_text("pm.who"), pm_text("pm.what")], rows)


def _alert_lines(pm_text: _Words, alert: AlertEvidence, tz: tzinfo | None) -> list[str]:
    lines = [
        f"- {pm_text('pm.alert')}: {code_span(alert.key)} — {escape_text(alert.title)}",
        f"- {pm_text('pm.level')}: {alert.level}, {pm_text('pm.alert_severity')}: "
        f"{alert.severity}",
        f"- {pm_text('pm.first_seen')}: {_time(alert.first_seen, tz)}",
        f"- {pm_text('pm.respond_by')}: {_time(alert.respond_by, tz)}",
    ]
    if alert.detail:
        lines.append(f"- {pm_text('pm.detail')}: {escape_text(alert.detail)}")
    return lines


def _related_alerts(incident: Incident) -> tuple[AlertEvidence, ...]:
    related: tuple[AlertEvidence, ...] = incident.related_alerts
    return related


def _detection(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    times = incident.status_times()
    alert = incident.alert
    lines = (
        _alert_lines(pm_text, alert, tz) if alert is not None
        else [f"- {pm_text('pm.no_alert')}"]
    )
    detected = times.get("detected")
    milestones: list[tuple[IncidentStatus, str]] = [
        ("acknowledged", pm_text("pm.to_acknowledge")),
        ("mitigated", pm_text("pm.to_mitigate")),
        ("resolved", pm_text("pm.to_resolve")),
    ]
    for status, label in milestones:
        reached = times.get(status)
        if detected is None or reached is None:
            continue
        line = f"- {label}: {_duration(reached - detected)}"
        if status == "acknowledged" and alert is not None:
            in_time = reached <= alert.respond_by
            line += f" ({pm_text('pm.in_time')})" if in_time else f" ({pm_text('pm.late')})"
        lines.append(line)
    related = _related_alerts(incident)
    if related:
        lines += ["", f"{pm_text('pm.related_alerts')}:", ""]
        lines += [
            f"- {code_span(other.key)} — {escape_text(other.title)} ({other.level}, "
            f"{pm_text('pm.first_seen')} {_time(other.first_seen, tz)})"
            for other in related
        ]
    return "\n".join(lines)


def _output(pm_text: _Words, excerpt: str, command: str, appendix: _Appendix) -> list[str]:
    trimmed = trim_output(excerpt)
    if not trimmed.trimmed:
        return [code_fence(excerpt)]
    shown = "\n".join("…" if line is None else line for line in trimmed.lines)
    label = appendix.add(code_span(command), excerpt)
    return [code_fence(shown), f"_({pm_text('pm.trimmed', lines=trimmed.left_out, label=label)})_"]


def _render_step(
    pm_text: _Words,
    incident: Incident,
    runbook: Runbook | None,
    config: Config,
    record: _StepRecord,
    reading: _Reading,
    appendix: _Appendix,
    tz: tzinfo | None,
) -> str:
    times = incident.effective_times()
    title = _step_title(pm_text, incident, runbook, record.index)
    step = runbook.step(record.index) if runbook else None
    phase = f" ({pm_text.pick(*PHASE_LABELS[step.phase])})" if step is not None else ""
    parts = [f"### {record.index + 1}. {escape_text(title)}{phase}"]
    for event in record.events:
        when = _time(times[event.id], tz)
        who = escape_text(event.author)
        if isinstance(event, StepStarted):
            parts.append(f"{pm_text('pm.started')} {when} — {who}")
        elif isinstance(event, StepCompleted):
            parts.append(f"{pm_text('pm.done')} {when} — {who}")
        elif isinstance(event, StepSkipped):
            parts.append(f"{pm_text('pm.skipped')} {when} — {who}: {escape_text(event.reason)}")
        elif isinstance(event, Note):
            label = pm_text("pm.finding") if event.finding else pm_text("pm.note")
            parts.append(f"**{label}** {when} — {who}: {escape_text(event.text)}")
        elif isinstance(event, CommandDeclined):
            parts.append(f"**{pm_text('pm.declined')}** {event.command_kind}, {when} — {who}")
            info = "sql" if event.command_kind == "sql" else "shell"
            parts.append(code_fence(event.command, info))
        elif isinstance(event, CommandStarted):
            result = reading.finished.get(event.id)
            flag = f" ({pm_text('pm.destructive')})" if event.destructive else ""
            if result is None:
                outcome = pm_text("pm.no_result")
            else:
                # The record's own name ("ok") in a shared postmortem; words in one language.
                single = pm_text.single
                said = single.tr(OUTCOME_KEYS[result.outcome]) if single else result.outcome
                outcome = (
                    f"{said} — {outcome_words(result, single)}, {_time(times[result.id], tz)}"
                )
            parts.append(
                f"**{pm_text('pm.command')}** {event.command_kind}{flag}, {when} — {who}: {outcome}"
            )
            info = "sql" if event.command_kind == "sql" else "shell"
            parts.append(code_fence(event.command, info))
            if result is not None and result.excerpt:
                parts += _output(pm_text, result.excerpt, event.command, appendix)
        elif isinstance(event, VerificationRecorded):
            verdict = pm_text("pm.passed") if event.passed else pm_text("pm.failed")
            if step is not None and step.verify is not None and step.verify.kind == event.check:
                what = pm_text.each(
                    partial(verification_words, step.verify, config.service.health_url)
                )
            else:
                what = pm_text.each(partial(check_words, event.check))
            detail = detail_words(event.detail, pm_text.record) if event.detail else ""
            detail_text = f": {escape_text(detail)}" if detail else ""
            parts.append(
                f"**{pm_text('pm.verification')}** {escape_text(what)} — {verdict}, "
                f"{when}{detail_text}"
            )
    return "\n\n".join(parts)


def _response(
    pm_text: _Words,
    incident: Incident,
    runbook: Runbook | None,
    config: Config,
    reading: _Reading,
    appendix: _Appendix,
    tz: tzinfo | None,
) -> str:
    times = incident.effective_times()
    # In the order they happened: a step's place is its first event's time.
    ordered = sorted(
        reading.steps.values(), key=lambda r: min((times[e.id], e.id) for e in r.events)
    )
    blocks = [
        _render_step(pm_text, incident, runbook, config, record, reading, appendix, tz)
        for record in ordered
    ]
    if runbook is not None:
        untouched = [i for i in range(len(runbook.steps)) if i not in reading.steps]
        if untouched:
            lines = [
                f"- {i + 1}. {escape_text(_step_title(pm_text, incident, runbook, i))}"
                for i in untouched
            ]
            blocks.append(f"### {pm_text('pm.not_started')}\n\n" + "\n".join(lines))
    return "\n\n".join(blocks) or f"_({pm_text('pm.none')})_"


def _root_cause_draft(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    times = incident.effective_times()
    return "\n".join(
        f"- {escape_text(n.text).replace(chr(10), ' ')} ({_time(times[n.id], tz)}, "
        f"{escape_text(n.author)})"
        for n in incident.findings_notes()
    )


def _trigger_draft(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    alert = incident.alert
    if alert is None:
        return ""
    detail = f": {escape_text(alert.detail)}" if alert.detail else ""
    return (
        f"- {pm_text('pm.alert')} {code_span(alert.key)} — {escape_text(alert.title)}{detail} "
        f"({pm_text('pm.first_seen')} {_time(alert.first_seen, tz)})"
    )


def _resolution_draft(pm_text: _Words, incident: Incident, runbook: Runbook | None,
                      config: Config, reading: _Reading, tz: tzinfo | None) -> str:
    remedy = _remedy(incident, reading)
    if remedy is None:
        return ""
    record = reading.steps[remedy.step]
    commands = [e.command for e in record.events if isinstance(e, CommandStarted)]
    title = _step_title(pm_text, incident, runbook, remedy.step)
    lines = [f"- {remedy.step + 1}. {escape_text(title)}: "
             + ", ".join(code_span(command) for command in commands)]
    detail = detail_words(remedy.detail, pm_text.record) if remedy.detail else ""
    lines.append(
        f"- {pm_text('pm.verification')} {pm_text('pm.passed')} "
        f"{_time(incident.time_of(remedy), tz)}" + (f": {escape_text(detail)}" if detail else "")
    )
    return "\n".join(lines)


def _action_items(pm_text: _Words, incident: Incident) -> str:
    items = incident.recorded_action_items()
    if not items:
        return pm_text.not_written()
    rows = [
        [
            item.owner or "—",
            pm_text(ACTION_TYPE_KEYS[item.type]),
            item.due.isoformat() if item.due else "—",
            item.text,
            pm_text("pm.item_done") if item.done else pm_text("pm.item_open"),
        ]
        for _event, item in items
    ]
    headings = [N_("pm.owner"), N_("pm.type"), N_("pm.due"), N_("pm.item"), N_("pm.state")]
    return table([pm_text(key) for key in headings], rows)


def _supporting(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    evidence = [*incident.pinned_evidence()]
    evidence += [e for status, e in incident.metrics_snapshots() if status != "detected"]
    if not evidence:
        return f"_({pm_text('pm.none')})_"
    blocks = []
    for item in sorted(evidence, key=lambda e: e.at):
        label = evidence_word(item.kind, pm_text.single)
        blocks.append(
            f"### {escape_text(item.title)} ({label}, {_time(item.at, tz)})\n\n"
            + code_fence(item.content)
        )
    return "\n\n".join(blocks)


def render_postmortem(
    incident: Incident,
    config: Config,
    *,
    runbooks: RunbookCatalog | None = None,
    tz: tzinfo | None = None,
    languages: tuple[LanguageCode, ...] = LANGUAGES,
) -> str:
    """The postmortem draft of ``incident`` as Markdown (times shown in ``tz``, local
    by default; runbooks from the configuration's search path by default), its
    headings in ``languages`` (both by default, "ja / en")."""
    pm_text = _Words(languages)
    if runbooks is None:
        from rainbow_tui.incidents.runbooks import load_runbooks

        runbooks = load_runbooks(config.incidents.runbooks_dir or None)
    runbook = runbooks.get(incident.runbook)
    text = incident.postmortem
    reading = _read(incident)
    appendix = _Appendix()
    # The response first: it fills the appendix, which comes last.
    response = _response(pm_text, incident, runbook, config, reading, appendix, tz)

    def written(value: str) -> str:
        return redact(value).strip() or pm_text.not_written()

    root_cause = _written_or(pm_text, text.root_cause, _root_cause_draft(pm_text, incident, tz))
    trigger = _written_or(pm_text, text.trigger, _trigger_draft(pm_text, incident, tz))
    summary = _written_or(pm_text, text.summary,
                          _summary(pm_text, incident, runbook, reading, tz))
    impact_text = redact(text.impact).strip()
    impact = (impact_text + "\n\n" if impact_text else "") + _impact(pm_text, incident)
    resolution = _written_or(
        pm_text, text.resolution,
        _resolution_draft(pm_text, incident, runbook, config, reading, tz),
    )
    causes = (
        f"### {pm_text('pm.root_cause')}\n\n{root_cause}\n\n"
        f"### {pm_text('pm.trigger')}\n\n{trigger}"
    )
    lessons = (
        f"### {pm_text('pm.went_well')}\n\n{written(text.went_well)}\n\n"
        f"### {pm_text('pm.went_wrong')}\n\n{written(text.went_wrong)}\n\n"
        f"### {pm_text('pm.lucky')}\n\n{written(text.lucky)}"
    )
    sections = [
        f"# {pm_text('pm.title')}: {escape_text(incident.title)}\n",
        _facts(pm_text, incident, config, runbook, tz) + "\n",
        f"## {pm_text('pm.summary')}\n\n{summary}\n",
        f"## {pm_text('pm.impact')}\n\n{impact}\n",
        f"## {pm_text('pm.timeline')}\n\n{_timeline(pm_text, incident, reading, tz)}\n",
        f"## {pm_text('pm.detection')}\n\n{_detection(pm_text, incident, tz)}\n",
        f"## {pm_text('pm.response')}\n\n{response}\n",
        f"## {pm_text('pm.causes')}\n\n{causes}\n",
        f"## {pm_text('pm.resolution')}\n\n{resolution}\n",
        f"## {pm_text('pm.lessons')}\n\n{lessons}\n",
        f"## {pm_text('pm.action_items')}\n\n{_action_items(pm_text, incident)}\n",
        f"## {pm_text('pm.supporting')}\n\n{_supporting(pm_text, incident, tz)}\n",
    ]
    if appendix.blocks:
        sections.append(f"## {pm_text('pm.appendix')}\n\n" + "\n\n".join(appendix.blocks) + "\n")
    # A last pass: nothing secret leaves, whatever path it took into the text.
    return redact("\n".join(sections))
