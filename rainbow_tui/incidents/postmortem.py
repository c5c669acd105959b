"""The postmortem draft: an incident record as Markdown, structured like the manual.

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
    CommandFinished,
    CommandStarted,
    Escalated,
    Event,
    Incident,
    IncidentStatus,
    StepCompleted,
    StepSkipped,
    StepStarted,
    VerificationRecorded,
)
from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.runbooks import PHASE_LABELS, PHASES, Phase, Runbook, RunbookCatalog
from rainbow_tui.incidents.timeline import (
    EVIDENCE_LABELS,
    STATUS_LABELS,
    describe_event,
    outcome_words,
)

if TYPE_CHECKING:
    from rainbow_tui.config import Config

__all__ = ["code_fence", "code_span", "escape_cell", "escape_text", "render_postmortem"]

NOT_WRITTEN = "_(未記入 / not written yet)_"
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|#~])")
_BACKTICKS = re.compile(r"`+")

ACTION_TYPES = {
    "prevent": "予防 / prevent",
    "mitigate": "緩和 / mitigate",
    "detect": "検知 / detect",
    "repair": "修復 / repair",
    "process": "プロセス / process",
    "other": "その他 / other",
}


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


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{redact(body).strip() or NOT_WRITTEN}\n"


def _facts(incident: Incident, config: Config, runbook: Runbook | None, tz: tzinfo | None) -> str:
    times = incident.status_times()
    detected = times.get("detected", incident.opened_at)
    level = config.alert_levels.for_severity(incident.severity)
    roles = incident.roles()
    runbook_text = (
        f"{runbook.id} — {runbook.title_ja} / {runbook.title_en}" if runbook else incident.runbook
    )
    rows = [
        ["ID", incident.id],
        ["日付 / Date", detected.astimezone(tz).strftime("%Y-%m-%d")],
        ["作成者 / Authors", ", ".join(incident.authors())],
        [
            "重大度 / Severity",
            f"{incident.severity} — {level.label} "
            f"({level.respond_within_minutes} 分以内 / within {level.respond_within_minutes} min)",
        ],
        ["状態 / Status", STATUS_LABELS[incident.status]],
        ["指揮 / Commander", roles.get("commander", "—")],
        ["記録 / Scribe", roles.get("scribe", "—")],
        ["手順書 / Runbook", runbook_text],
        ["サービス / Service", config.service.name],
    ]
    return _table(["項目 / Field", "内容 / Value"], rows)


def _timeline(incident: Incident, tz: tzinfo | None) -> str:
    times = incident.effective_times()
    ordered = sorted(incident.events, key=lambda e: (times[e.id], e.id))
    rows = [[_time(times[e.id], tz), e.author, describe_event(incident, e, tz)] for e in ordered]
    zone = _offset(incident.opened_at, tz)
    return _table([f"時刻 / Time ({zone})", "担当 / Who", "内容 / What"], rows)


def _detection(incident: Incident, config: Config, tz: tzinfo | None) -> str:
    times = incident.status_times()
    lines: list[str] = []
    alert = incident.alert
    if alert is not None:
        lines += [
            f"- アラート / Alert: {code_span(alert.key)} — {escape_text(alert.title)}",
            f"- レベル / Level: {alert.level}, 重大度 / severity: {alert.severity}",
            f"- 初回検知 / First seen: {_time(alert.first_seen, tz)}",
            f"- 対応期限 / Respond by: {_time(alert.respond_by, tz)}",
        ]
        if alert.detail:
            lines.append(f"- 詳細 / Detail: {escape_text(alert.detail)}")
    else:
        lines.append("- アラートなし (手動で起票) / Opened by hand, not from an alert")
    detected = times.get("detected")
    milestones: list[tuple[IncidentStatus, str]] = [
        ("acknowledged", "確認まで / Time to acknowledge"),
        ("mitigated", "緩和まで / Time to mitigate"),
        ("resolved", "解決まで / Time to resolve"),
    ]
    for status, label in milestones:
        reached = times.get(status)
        if detected is None or reached is None:
            continue
        line = f"- {label}: {_duration(reached - detected)}"
        if status == "acknowledged" and alert is not None:
            in_time = reached <= alert.respond_by
            line += " (期限内 / in time)" if in_time else " (期限超過 / late)"
        lines.append(line)
    return "\n".join(lines)


class _StepRecord:
    def __init__(self, index: int) -> None:
        self.index = index
        self.events: list[Event] = []


def _step_title(incident: Incident, runbook: Runbook | None, index: int) -> str:
    step = runbook.step(index) if runbook else None
    if step is not None:
        return f"{step.title_ja} / {step.title_en}"
    for event in incident.events:
        if isinstance(event, StepStarted) and event.step == index:
            return event.title
    return f"step {index + 1}"


def _step_phase(runbook: Runbook | None, index: int) -> Phase | None:
    step = runbook.step(index) if runbook else None
    return step.phase if step is not None else None


def _render_step(
    incident: Incident, runbook: Runbook | None, record: _StepRecord, tz: tzinfo | None
) -> str:
    times = incident.effective_times()
    parts = [
        f"#### {record.index + 1}. {escape_text(_step_title(incident, runbook, record.index))}"
    ]
    finished = {e.started: e for e in incident.events if isinstance(e, CommandFinished)}
    for event in record.events:
        when = _time(times[event.id], tz)
        who = escape_text(event.author)
        if isinstance(event, StepStarted):
            parts.append(f"開始 / Started {when} — {who}")
        elif isinstance(event, StepCompleted):
            parts.append(f"完了 / Done {when} — {who}")
        elif isinstance(event, StepSkipped):
            parts.append(f"スキップ / Skipped {when} — {who}: {escape_text(event.reason)}")
        elif isinstance(event, CommandStarted):
            result = finished.get(event.id)
            flag = " (破壊的 / destructive)" if event.destructive else ""
            if result is None:
                outcome = "結果の記録なし (中断) / no result recorded (interrupted)"
            else:
                outcome = (
                    f"{result.outcome} — {outcome_words(result)}, {_time(times[result.id], tz)}"
                )
            parts.append(
                f"**コマンド / Command** {event.command_kind}{flag}, {when} — {who}: {outcome}"
            )
            info = "sql" if event.command_kind == "sql" else "shell"
            parts.append(code_fence(event.command, info))
            if result is not None and result.excerpt:
                parts.append(code_fence(result.excerpt))
        elif isinstance(event, VerificationRecorded):
            verdict = "合格 / passed" if event.passed else "不合格 / FAILED"
            detail = f": {escape_text(event.detail)}" if event.detail else ""
            parts.append(
                f"**検証 / Verification** {code_span(event.check)} {verdict}, {when}{detail}"
            )
    return "\n\n".join(parts)


def _response(incident: Incident, runbook: Runbook | None, tz: tzinfo | None) -> str:
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
        body = "\n\n".join(_render_step(incident, runbook, r, tz) for r in records)
        blocks.append(
            f"### {ja} / {en}\n\n{body or '_(この段階の手順なし / no steps in this phase)_'}"
        )
    if None in by_phase:
        body = "\n\n".join(_render_step(incident, runbook, r, tz) for r in by_phase[None])
        blocks.append(f"### 手順書にない手順 / Steps not in the runbook\n\n{body}")
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
        blocks.append("### エスカレーション / Escalation\n\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def _action_items(incident: Incident) -> str:
    if not incident.action_items:
        return NOT_WRITTEN
    rows = [
        [
            item.owner,
            ACTION_TYPES[item.type],
            item.due.isoformat() if item.due else "—",
            item.text,
            "済 / done" if item.done else "未 / open",
        ]
        for item in incident.action_items
    ]
    return _table(
        ["担当 / Owner", "種別 / Type", "期限 / Due", "内容 / Item", "状態 / State"], rows
    )


def _supporting(incident: Incident, tz: tzinfo | None) -> str:
    evidence = incident.pinned_evidence()
    if not evidence:
        return "_(なし / none)_"
    blocks = []
    for item in evidence:
        label = EVIDENCE_LABELS[item.kind]
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
) -> str:
    """The postmortem draft of ``incident`` as Markdown (times shown in ``tz``, local
    by default; runbooks from the configuration's search path by default)."""
    if runbooks is None:
        from rainbow_tui.incidents.runbooks import load_runbooks

        runbooks = load_runbooks(config.incidents.runbooks_dir or None)
    runbook = runbooks.get(incident.runbook)
    text = incident.postmortem

    def written(value: str) -> str:
        return redact(value).strip() or NOT_WRITTEN

    causes = (
        f"### 根本原因 / Root cause\n\n{written(text.root_cause)}\n\n"
        f"### トリガー / Trigger\n\n{written(text.trigger)}"
    )
    lessons = (
        f"### うまくいったこと / What went well\n\n{written(text.went_well)}\n\n"
        f"### うまくいかなかったこと / What went wrong\n\n{written(text.went_wrong)}\n\n"
        f"### 幸運だったこと / Where we got lucky\n\n{written(text.lucky)}"
    )
    sections = [
        f"# ポストモーテム / Postmortem: {escape_text(incident.title)}\n",
        _facts(incident, config, runbook, tz) + "\n",
        _section("概要 / Summary", text.summary),
        _section("影響 / Impact", text.impact),
        f"## タイムライン / Timeline\n\n{_timeline(incident, tz)}\n",
        f"## 検知 / Detection\n\n{_detection(incident, config, tz)}\n",
        f"## 対応 / Response\n\n{_response(incident, runbook, tz)}\n",
        f"## 根本原因とトリガー / Root cause and trigger\n\n{causes}\n",
        _section("解決 / Resolution", text.resolution),
        f"## 教訓 / Lessons learned\n\n{lessons}\n",
        f"## アクションアイテム / Action items\n\n{_action_items(incident)}\n",
        f"## 補足情報 / Supporting information\n\n{_supporting(incident, tz)}\n",
    ]
    # A last pass: nothing secret leaves, whatever path it took into the text.
    return redact("\n".join(sections))
