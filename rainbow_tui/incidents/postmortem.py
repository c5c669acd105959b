"""The postmortem draft: an incident record as Markdown, structured like the manual.

Headings and fixed phrases come from the text catalogue: in both languages
("概要 / Summary", the default: a postmortem is a shared record) or in one.
The response is told in the manual's phases (検知 → 封じ込め → 根絶 → 復旧 → 教訓),
each step with the commands run, their exit codes and output excerpts, and the
verifications.  Text is redacted once more on the way out.  Table cells escape
``|``, backslashes and Markdown punctuation, and turn newlines into ``<br>``; code
fences are longer than any run of backticks inside them, so pasted log lines cannot
close a fence early.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from rainbow_tui.incidents.model import (
    ActionItemType,
    CommandFinished,
    CommandStarted,
    Escalated,
    Event,
    Incident,
    IncidentStatus,
    Role,
    StepCompleted,
    StepSkipped,
    StepStarted,
    VerificationRecorded,
)
from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.runbooks import PHASE_LABELS, PHASES, Phase, Runbook, RunbookCatalog
from rainbow_tui.incidents.timeline import (
    describe_event,
    evidence_word,
    outcome_words,
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

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|#~])")
_BACKTICKS = re.compile(r"`+")

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
    N_("pm.causes"),
    N_("pm.command"),
    N_("pm.destructive"),
    N_("pm.detail"),
    N_("pm.detection"),
    N_("pm.done"),
    N_("pm.escalation"),
    N_("pm.first_seen"),
    N_("pm.in_time"),
    N_("pm.late"),
    N_("pm.lessons"),
    N_("pm.level"),
    N_("pm.lucky"),
    N_("pm.no_alert"),
    N_("pm.no_steps"),
    N_("pm.none"),
    N_("pm.off_runbook"),
    N_("pm.respond_by"),
    N_("pm.response"),
    N_("pm.root_cause"),
    N_("pm.skipped"),
    N_("pm.started"),
    N_("pm.supporting"),
    N_("pm.time"),
    N_("pm.timeline"),
    N_("pm.title"),
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

    def pick(self, ja: str, en: str) -> str:
        """Text the data holds in both languages (runbook titles, phases)."""
        return " / ".join(ja if code == "ja" else en for code in self.codes)

    def not_written(self) -> str:
        return f"_({self('pm.not_written')})_"


# -- escaping -----------------------------------------------------------------------------


def escape_text(text: str) -> str:
    """Plain text that Markdown shows as written (one paragraph per line kept)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", redact(text))


def escape_cell(text: str) -> str:
    """Text for one table cell: escaped, ``|`` included, newlines as ``<br>``."""
    lines = escape_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(line.strip() for line in lines) or " "


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """Inline code that survives backticks in ``text`` (one line)."""
    text = redact(text).replace("\n", " ")
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def code_fence(text: str, info: str = "text") -> str:
    """A fenced block longer than any backtick run inside, so it always closes."""
    text = redact(text).rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _table(headings: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(headings) + " |",
        "|" + "|".join(" --- " for _ in headings) + "|",
    ]
    lines += ["| " + " | ".join(escape_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


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


# -- sections -----------------------------------------------------------------------------


def _section(pm_text: _Words, title: str, body: str) -> str:
    return f"## {title}\n\n{redact(body).strip() or pm_text.not_written()}\n"


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
    return _table([pm_text("pm.field"), pm_text("pm.value")], rows)


def _timeline(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    times = incident.effective_times()
    ordered = sorted(incident.events, key=lambda e: (times[e.id], e.id))
    rows = [
        [_time(times[e.id], tz), e.author, describe_event(incident, e, tz, language=pm_text.single)]
        for e in ordered
    ]
    zone = _offset(incident.opened_at, tz)
    return _table([f"{pm_text('pm.time')} ({zone})", pm_text("pm.who"), pm_text("pm.what")], rows)


def _detection(pm_text: _Words, incident: Incident, config: Config, tz: tzinfo | None) -> str:
    times = incident.status_times()
    lines: list[str] = []
    alert = incident.alert
    if alert is not None:
        lines += [
            f"- {pm_text('pm.alert')}: {code_span(alert.key)} — {escape_text(alert.title)}",
            f"- {pm_text('pm.level')}: {alert.level}, {pm_text('pm.alert_severity')}: "
            f"{alert.severity}",
            f"- {pm_text('pm.first_seen')}: {_time(alert.first_seen, tz)}",
            f"- {pm_text('pm.respond_by')}: {_time(alert.respond_by, tz)}",
        ]
        if alert.detail:
            lines.append(f"- {pm_text('pm.detail')}: {escape_text(alert.detail)}")
    else:
        lines.append(f"- {pm_text('pm.no_alert')}")
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
    return "\n".join(lines)


class _StepRecord:
    def __init__(self, index: int) -> None:
        self.index = index
        self.events: list[Event] = []


def _step_title(pm_text: _Words, incident: Incident, runbook: Runbook | None, index: int) -> str:
    step = runbook.step(index) if runbook else None
    if step is not None:
        return pm_text.pick(step.title_ja, step.title_en)
    for event in incident.events:
        if isinstance(event, StepStarted) and event.step == index:
            return event.title
    return pm_text("pm.step", number=index + 1)


def _step_phase(runbook: Runbook | None, index: int) -> Phase | None:
    step = runbook.step(index) if runbook else None
    return step.phase if step is not None else None


def _render_step(
    pm_text: _Words,
    incident: Incident,
    runbook: Runbook | None,
    record: _StepRecord,
    tz: tzinfo | None,
) -> str:
    times = incident.effective_times()
    title = _step_title(pm_text, incident, runbook, record.index)
    parts = [f"#### {record.index + 1}. {escape_text(title)}"]
    finished = {e.started: e for e in incident.events if isinstance(e, CommandFinished)}
    for event in record.events:
        when = _time(times[event.id], tz)
        who = escape_text(event.author)
        if isinstance(event, StepStarted):
            parts.append(f"{pm_text('pm.started')} {when} — {who}")
        elif isinstance(event, StepCompleted):
            parts.append(f"{pm_text('pm.done')} {when} — {who}")
        elif isinstance(event, StepSkipped):
            parts.append(f"{pm_text('pm.skipped')} {when} — {who}: {escape_text(event.reason)}")
        elif isinstance(event, CommandStarted):
            result = finished.get(event.id)
            flag = f" ({pm_text('pm.destructive')})" if event.destructive else ""
            if result is None:
                outcome = pm_text("pm.no_result")
            else:
                outcome = (
                    f"{result.outcome} — {outcome_words(result, pm_text.single)}, "
                    f"{_time(times[result.id], tz)}"
                )
            parts.append(
                f"**{pm_text('pm.command')}** {event.command_kind}{flag}, {when} — {who}: {outcome}"
            )
            info = "sql" if event.command_kind == "sql" else "shell"
            parts.append(code_fence(event.command, info))
            if result is not None and result.excerpt:
                parts.append(code_fence(result.excerpt))
        elif isinstance(event, VerificationRecorded):
            verdict = pm_text("pm.passed") if event.passed else pm_text("pm.failed")
            detail = f": {escape_text(event.detail)}" if event.detail else ""
            check = code_span(event.check)
            parts.append(f"**{pm_text('pm.verification')}** {check} {verdict}, {when}{detail}")
    return "\n\n".join(parts)


def _response(
    pm_text: _Words, incident: Incident, runbook: Runbook | None, tz: tzinfo | None
) -> str:
    steps: dict[int, _StepRecord] = {}
    for event in incident.events:
        index = getattr(event, "step", None)
        if isinstance(index, int) and not isinstance(event, CommandFinished):
            steps.setdefault(index, _StepRecord(index)).events.append(event)
    by_phase: dict[Phase | None, list[_StepRecord]] = {}
    for index in sorted(steps):
        by_phase.setdefault(_step_phase(runbook, index), []).append(steps[index])
    blocks: list[str] = []
    for phase in PHASES:
        ja, en = PHASE_LABELS[phase]
        records = by_phase.get(phase, [])
        body = "\n\n".join(_render_step(pm_text, incident, runbook, r, tz) for r in records)
        body = body or f"_({pm_text('pm.no_steps')})_"
        blocks.append(f"### {pm_text.pick(ja, en)}\n\n{body}")
    if None in by_phase:
        body = "\n\n".join(
            _render_step(pm_text, incident, runbook, r, tz) for r in by_phase[None]
        )
        blocks.append(f"### {pm_text('pm.off_runbook')}\n\n{body}")
    escalations = [e for e in incident.events if isinstance(e, Escalated)]
    if escalations:
        times = incident.effective_times()
        lines = [
            f"- {_time(times[e.id], tz)} L{e.level} {escape_text(e.role)}"
            + (f" ({escape_text(e.contact)})" if e.contact else "")
            + f" — {escape_text(e.author)}"
            + (f": {escape_text(e.note)}" if e.note else "")
            for e in escalations
        ]
        blocks.append(f"### {pm_text('pm.escalation')}\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def _action_items(pm_text: _Words, incident: Incident) -> str:
    if not incident.action_items:
        return pm_text.not_written()
    rows = [
        [
            item.owner,
            pm_text(ACTION_TYPE_KEYS[item.type]),
            item.due.isoformat() if item.due else "—",
            item.text,
            pm_text("pm.item_done") if item.done else pm_text("pm.item_open"),
        ]
        for item in incident.action_items
    ]
    headings = [N_("pm.owner"), N_("pm.type"), N_("pm.due"), N_("pm.item"), N_("pm.state")]
    return _table([pm_text(key) for key in headings], rows)


def _supporting(pm_text: _Words, incident: Incident, tz: tzinfo | None) -> str:
    evidence = incident.pinned_evidence()
    if not evidence:
        return f"_({pm_text('pm.none')})_"
    blocks = []
    for item in evidence:
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

    def written(value: str) -> str:
        return redact(value).strip() or pm_text.not_written()

    causes = (
        f"### {pm_text('pm.root_cause')}\n\n{written(text.root_cause)}\n\n"
        f"### {pm_text('pm.trigger')}\n\n{written(text.trigger)}"
    )
    lessons = (
        f"### {pm_text('pm.went_well')}\n\n{written(text.went_well)}\n\n"
        f"### {pm_text('pm.went_wrong')}\n\n{written(text.went_wrong)}\n\n"
        f"### {pm_text('pm.lucky')}\n\n{written(text.lucky)}"
    )
    sections = [
        f"# {pm_text('pm.title')}: {escape_text(incident.title)}\n",
        _facts(pm_text, incident, config, runbook, tz) + "\n",
        _section(pm_text, pm_text("pm.summary"), text.summary),
        _section(pm_text, pm_text("pm.impact"), text.impact),
        f"## {pm_text('pm.timeline')}\n\n{_timeline(pm_text, incident, tz)}\n",
        f"## {pm_text('pm.detection')}\n\n{_detection(pm_text, incident, config, tz)}\n",
        f"## {pm_text('pm.response')}\n\n{_response(pm_text, incident, runbook, tz)}\n",
        f"## {pm_text('pm.causes')}\n\n{causes}\n",
        _section(pm_text, pm_text("pm.resolution"), text.resolution),
        f"## {pm_text('pm.lessons')}\n\n{lessons}\n",
        f"## {pm_text('pm.action_items')}\n\n{_action_items(pm_text, incident)}\n",
        f"## {pm_text('pm.supporting')}\n\n{_supporting(pm_text, incident, tz)}\n",
    ]
    # A last pass: nothing secret leaves, whatever path it took into the text.
    return redact("\n".join(sections))
