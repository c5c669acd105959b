"""The incident wizard: the runbook step by step, the clock, the timeline.

Every key here records something through the session's wizard of the incident,
which builds the event; the screen, told by the session (``IncidentChanged``, and a
command's start, output and end), shows the store's record (``wizard.incident``) once
the write has ended, and marks what a failed write keeps in memory only ("not yet on
disk — retrying"), so a killed console comes back (``rainbow-tui incidents resume
ID``) at the exact step with everything the screen showed as recorded.  Remote text
(titles, command output, errors, names) reaches the screen as ``Text`` or with
``markup=False``, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import RichLog, Static

from rainbow_tui.incidents.confirmation import asks_first, confirmation_word
from rainbow_tui.incidents.model import (
    STATUSES,
    IncidentRuleError,
    current_author,
    findings_table,
)
from rainbow_tui.incidents.runbooks import PHASE_LABELS
from rainbow_tui.incidents.runner import ParameterError
from rainbow_tui.incidents.store import StoreError, StoreWriteError
from rainbow_tui.incidents.timeline import OUTCOME_KEYS, ROLE_KEYS, describe_event, status_word
from rainbow_tui.incidents.verification_words import verification_words
from rainbow_tui.levels import severity_word
from rainbow_tui.session import (
    CommandOutput,
    CommandRunEnded,
    CommandRunStarted,
    IncidentChanged,
    PresenceChanged,
    SessionEvent,
)
from rainbow_tui.text import current_language, tr
from rainbow_tui.wizard import CommandInProgress, Saving, describe_clock, not_on_disk_mark
from screens.confirm import ConfirmScreen
from screens.prompt import PromptScreen
from screens.stylesheets import stylesheet
from widgets.fitted_footer import FittedFooter
from widgets.level_style import component_style, inert

if TYPE_CHECKING:
    from rainbow_tui.incidents.model import IncidentStatus, Role
    from rainbow_tui.incidents.runbooks import Command
    from rainbow_tui.incidents.runner import CommandResult
    from rainbow_tui.session import Session

STATE_MARK = {"pending": "  ", "in_progress": "▶ ", "done": "✔ ", "skipped": "↷ "}
TIMELINE_LINES = 12
# Below this many columns the steps' list is hidden and the step says where it stands.
NARROW_BELOW = 100


def command_running_text(claim: CommandRunStarted | None = None) -> str:
    """Why a command cannot start now: someone else's is running (named), or one's own."""
    if claim is not None and claim.by and claim.by != current_author():
        return tr("screen.incident.command_running_by", name=claim.by, step=claim.step + 1)
    return tr("screen.incident.command_running")


def _team_role_word(role: str) -> str:
    """A responder's role from their key: an incident's role's word, or a viewer's."""
    if role in ("commander", "scribe"):
        return tr(ROLE_KEYS["commander" if role == "commander" else "scribe"])
    return tr("screen.incident.role_viewer")


def presence_text(session: Session, incident_id: str) -> str:
    """``Here: tanaka, sato (viewer) · commander: tanaka · step 2 claimed by tanaka: …``"""
    parts: list[str] = []
    viewers = session.presence.viewers(incident_id)
    if viewers:
        names = ", ".join(
            tr("screen.incident.viewer_role", name=v.name, role=_team_role_word(v.role))
            if v.role != "responder" else v.name
            for v in viewers
        )
        parts.append(tr("screen.incident.here", names=names))
        roles = session.wizard(incident_id).incident.roles()
        for role in ("commander", "scribe"):
            parts.append(tr("screen.incident.role_holder", role=tr(ROLE_KEYS[role]),
                            name=roles.get(role, "—")))
    claim = session.command_claim(incident_id)
    if claim is not None:
        parts.append(tr("screen.incident.claimed", step=claim.step + 1,
                        name=claim.by or "—", command=claim.preview))
    return " · ".join(parts)


def no_command_running_text() -> str:
    return tr("screen.incident.no_command_running")


def verifying_already_text() -> str:
    return tr("screen.incident.verifying_already")


def result_text(result: CommandResult) -> str:
    outcome = tr(OUTCOME_KEYS[result.outcome])
    if result.exit_code is not None:
        words = tr("timeline.exit_code", code=result.exit_code)
    else:
        words = outcome
    line = tr("screen.incident.result", outcome=outcome, words=words, seconds=result.duration_s)
    return tr("timeline.with_detail", what=line, detail=result.detail) if result.detail else line


def in_language(japanese: str, english: str) -> str:
    """A runbook's text in the chosen language (the other one if it has none)."""
    if current_language().code == "ja":
        return japanese or english
    return english or japanese


# What a role is called when assigned by hand: its id or its word in the language.
def role_named(word: str) -> Role | None:
    for role in ("commander", "scribe"):
        if word in (role, tr(ROLE_KEYS[role])):
            return role
    return None


def _lines(text: Text) -> list[Text]:
    """``text`` as a part of a Group: none when empty, without the newline that ends
    it (a Group starts each part on a line of its own)."""
    if text.plain.endswith("\n"):
        text.right_crop(1)
    return [text] if text.plain else []


class IncidentScreen(Screen[None]):
    CSS_PATH = stylesheet("incident")
    # Coloured by the theme in app.tcss.
    # Below 100 columns the steps' list gives its width to the current step.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]  # noqa: RUF012
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "incident--severity",
        "incident--ok",
        "incident--failed",
        "incident--destructive",
        "incident--overdue",
    }
    # In the order of what comes next, so the footer's first keys at 80 columns are
    # the sensible ones: the step's (run, verify, done, note), the incident's next
    # status, help.  A key offered only at some moments (check_action) has a hidden
    # twin, "anytime(...)", that answers it the rest of the time: an out-of-turn status
    # still says what comes next, and P opens the draft at any time.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run_next", tr("screen.incident.key.run_next"),
                tooltip=tr("screen.incident.key.run_next_tooltip")),
        Binding("enter", "anytime('run_next')", tr("screen.incident.key.run_next"),
                show=False, tooltip=tr("screen.incident.key.run_next_tooltip")),
        Binding("v", "verify", tr("screen.incident.key.verify")),
        Binding("v", "anytime('verify')", tr("screen.incident.key.verify"), show=False),
        Binding("d", "done", tr("screen.incident.key.done")),
        Binding("d", "anytime('done')", tr("screen.incident.key.done"), show=False),
        Binding("n", "note", tr("screen.incident.key.note")),
        *(
            binding
            for key, status, words in (
                ("a", "acknowledged", tr("screen.incident.key.acknowledged")),
                ("m", "mitigated", tr("screen.incident.key.mitigated")),
                ("R", "resolved", tr("screen.incident.key.resolved")),
            )
            for binding in (
                Binding(key, f"status('{status}')", words),
                Binding(key, f"anytime('status', '{status}')", words, show=False),
            )
        ),
        Binding("P", "postmortem", tr("screen.incident.key.postmortem")),
        Binding("P", "anytime('postmortem')", tr("screen.incident.key.postmortem"), show=False),
        Binding("C", "status('closed')", tr("screen.incident.key.closed")),
        Binding("C", "anytime('status', 'closed')", tr("screen.incident.key.closed"),
                show=False),
        Binding("question_mark", "app.help", tr("app.key.help"), key_display="?"),
        Binding("e", "escalate", tr("screen.incident.key.escalate")),
        Binding("s", "skip", tr("screen.incident.key.skip")),
        Binding("p", "pin_metrics", tr("screen.incident.key.pin_metrics")),
        Binding("b", "pin_table('database')", tr("screen.incident.key.pin_db"), show=False),
        Binding("j", "pin_table('queue')", tr("screen.incident.key.pin_jobs"), show=False),
        Binding("o", "assign_role", tr("screen.incident.key.roles"), show=False),
        Binding("r", "switch_runbook", tr("screen.incident.key.switch_runbook"), show=False),
        Binding("T", "edit_time", tr("screen.incident.key.edit_time"), show=False),
        Binding("x", "cancel_command", tr("screen.incident.key.cancel"), show=False),
        Binding("escape", "back", tr("screen.incident.key.back")),
    ]

    def __init__(self, session: Session, incident_id: str, *, read_only: bool = False) -> None:
        super().__init__()
        self.session = session
        self.incident_id = incident_id
        # The session's wizard for this incident: every view of it shares the one.
        self.wizard = session.wizard(incident_id)
        # This view changes nothing (a served viewer), or the whole session does not.
        self.read_only = read_only or session.read_only
        # From Enter (or 1–9) until the run ends, prompts included: one at a time.
        self._command_asked = False
        self._verifying = False

    def compose(self) -> ComposeResult:
        yield Static(id="incident-header")
        yield Static(id="incident-clock")
        yield Static(id="incident-presence")
        with Horizontal(id="incident-body"):
            yield Static(id="incident-steps")
            with Vertical(id="incident-main"):
                with VerticalScroll(id="incident-step-scroll"):
                    yield Static(id="incident-step")
                yield RichLog(id="incident-output", max_lines=2000, markup=False, wrap=True)
        yield Static(id="incident-unsaved")
        yield Static(id="incident-timeline")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._show_clock)
        self.session.subscribe(self._on_session_event)
        self._show_all()

    def on_unmount(self) -> None:
        self.session.unsubscribe(self._on_session_event)

    # -- showing -----------------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, PresenceChanged):
            if self.is_mounted:
                self._show_presence()
            return
        incident_events = (IncidentChanged, CommandRunStarted, CommandOutput, CommandRunEnded)
        if not isinstance(event, incident_events) or event.incident_id != self.incident_id:
            return  # another incident's news, or none of this screen's
        if not self.is_mounted:
            return
        if isinstance(event, IncidentChanged):
            self._show_all()
        elif isinstance(event, CommandRunStarted):
            # The output pane takes room from the step only once there is output.
            self.add_class("-output")
            self._output().write(Text(f"$ {event.preview}", style="bold"))
            self._show_presence()
        elif isinstance(event, CommandOutput):
            # The runner made the line inert; Text keeps it from being read as markup.
            self._output().write(Text(event.line))
        elif isinstance(event, CommandRunEnded):
            self._output().write(
                Text(
                    result_text(event.result),
                    style=component_style(
                        self, "incident--ok" if event.result.ok else "incident--failed"
                    ),
                )
            )
            self._show_presence()

    def _output(self) -> RichLog:
        return self.query_one("#incident-output", RichLog)

    def _show_all(self) -> None:
        incident = self.wizard.incident
        runbook = self.wizard.runbook
        # The status first: at 80 columns the line ends somewhere in the title.
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f" {severity_word(incident.severity)} ",
                      style=component_style(self, "incident--severity"))
        header.append(f" {status_word(incident.status, current_language()).upper()}",
                      style="bold")
        header.append(f" · {incident.id} · ")
        header.append_text(inert(incident.title))
        header.append(tr("screen.incident.runbook",
                         title=in_language(runbook.title_ja, runbook.title_en)))
        if self.read_only:
            header.append(tr("screen.incident.read_only"))
        self.query_one("#incident-header", Static).update(header)
        steps = Text()
        for index, step in enumerate(runbook.steps):
            state = incident.step_state(index)
            style = (
                "bold" if index == self.wizard.step_index else ("dim" if state != "pending" else "")
            )
            title = in_language(step.title_ja, step.title_en)
            steps.append(f"{STATE_MARK[state]}{index + 1}. {title}\n", style=style)
            phase = in_language(*PHASE_LABELS[step.phase])
            steps.append(f"     [{phase}]\n", style="dim")
        if self.wizard.finished:
            steps.append(tr("screen.incident.all_done"), style="bold")
        self.query_one("#incident-steps", Static).update(steps)
        self.query_one("#incident-step", Static).update(self._step_text())
        self._show_timeline()
        notice = self.wizard.describe_unsaved()
        unsaved = self.query_one("#incident-unsaved", Static)
        # Coloured by the theme (#incident-unsaved in app.tcss).
        unsaved.update(Text(notice) if notice else Text())
        unsaved.display = bool(notice)
        self._show_clock()
        self._show_presence()
        # The footer offers what comes next (check_action): a new status changes it.
        self.refresh_bindings()

    def _show_timeline(self) -> None:
        """The newest entries, as many as the pane holds, one line each (the pane
        follows the record: a new entry pushes the oldest shown out)."""
        incident = self.wizard.incident
        pane = self.query_one("#incident-timeline", Static)
        room = pane.content_size.height or TIMELINE_LINES
        times = incident.effective_times()
        # The last events the store still holds in memory only.
        first_unsaved = len(incident.events) - self.wizard.unsaved.events
        timeline = Text(no_wrap=True, overflow="ellipsis")
        shown = incident.events[-room:]
        for position, event in enumerate(shown, start=len(incident.events) - len(shown)):
            if timeline:
                timeline.append("\n")
            timeline.append_text(
                inert(
                    f"#{event.id:<3} {times[event.id].astimezone():%H:%M:%S} {event.author}: "
                    f"{describe_event(incident, event, language=current_language())}"
                )
            )
            if position >= first_unsaved:
                timeline.append(f"  {not_on_disk_mark()}", style="bold")
        pane.update(timeline)

    def on_resize(self) -> None:
        if self.is_mounted:
            self.call_after_refresh(self._show_timeline)
            self.query_one("#incident-step", Static).update(self._step_text())

    def _step_text(self) -> Group:
        """The step: its title, why, checklist and commands; a command and its note
        keep their margin when they wrap (Padding wraps them at the pane's width)."""
        step = self.wizard.step
        if step is None:
            return Group(Text(tr("screen.incident.no_step_left")))
        parts: list[RenderableType] = []
        text = Text()
        if self.app.size.width < NARROW_BELOW:
            # The steps' list is hidden below 100 columns: where the step stands, in a line.
            marks = "".join(
                STATE_MARK[self.wizard.incident.step_state(index)].strip() or "·"
                for index in range(len(self.wizard.runbook.steps))
            )
            text.append(tr("screen.incident.step_of", number=self.wizard.step_index + 1,
                           total=len(self.wizard.runbook.steps), marks=marks) + "\n",
                        style="dim")
        text.append(
            f"{self.wizard.step_index + 1}. {in_language(step.title_ja, step.title_en)}\n",
            style="bold",
        )
        if step.why_ja or step.why_en:
            text.append(f"{in_language(step.why_ja, step.why_en)}\n", style="italic")
        for item_ja, item_en in zip(step.checklist_ja, step.checklist_en, strict=False):
            parts += [*_lines(text), Padding(Text(f"☐ {in_language(item_ja, item_en)}"),
                                             (0, 0, 0, 2))]
            text = Text()
        done = self.wizard.commands_started()
        for number, command in enumerate(step.commands, start=1):
            try:
                preview = self.wizard.preview(command, self._defaults(command))
            except ParameterError:
                preview = " ".join(command.argv) or command.text
            mark = "✔" if number <= done else " "
            danger = tr("screen.incident.destructive") if command.destructive else ""
            text.append(
                f"\n[{mark}] {number}  {command.kind}{danger}\n",
                style=component_style(self, "incident--destructive")
                if command.destructive
                else "bold",
            )
            parts += [*_lines(text), Padding(inert(preview), (0, 0, 0, 4))]
            text = Text()
            if command.note_en or command.note_ja:
                note = Text(in_language(command.note_ja, command.note_en), style="dim")
                parts.append(Padding(note, (0, 0, 0, 4)))
        if step.verify is not None:
            text.append(
                "\n" + verification_words(step.verify, self.wizard.config.service.health_url)
                + "\n",
                style="bold",
            )
        text.append(
            tr("screen.incident.step_keys"),
            style="dim",
        )
        parts += _lines(text)
        return Group(*parts)

    def _show_clock(self) -> None:
        # The session's clock: the one the ladder's announcements go by.
        clock = self.wizard.clock(self.session.clock())
        line = Text(
            describe_clock(clock),
            style=component_style(self, "incident--overdue") if clock.overdue else "",
        )
        ladder = "  ".join(
            tr("screen.incident.rung", level=rung.level, role=rung.role,
               minutes=rung.within_minutes, contact=rung.contact or "—")
            for rung in sorted(self.wizard.config.escalation, key=lambda r: r.level)
        )
        line.append(f"\n{ladder}", style="dim")
        self.query_one("#incident-clock", Static).update(line)

    def _show_presence(self) -> None:
        """Who has this incident in front, its commander and scribe, and the step a
        running command has claimed (and by whom); nothing while nobody else shares
        the session and nothing runs."""
        line = presence_text(self.session, self.incident_id)
        widget = self.query_one("#incident-presence", Static)
        widget.update(inert(line) if line else Text())
        widget.display = bool(line)

    @staticmethod
    def _defaults(command: Command) -> dict[str, str]:
        return {p.name: p.default or f"<{p.name}>" for p in command.parameters}

    def _fail(self, error: Exception) -> None:
        self.notify(str(error), severity="error", timeout=8, markup=False)

    # -- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """What the footer offers now: the step's keys until the incident is resolved,
        the one status that comes next, the postmortem once resolved.  Each has a
        hidden twin (``anytime``) that answers its key at other moments."""
        status = self.wizard.incident.status
        settled = status in ("resolved", "closed")
        if action in ("run_next", "verify", "done"):
            return not settled and self.wizard.step is not None
        if action == "status":
            position = STATUSES.index(status)
            following = STATUSES[position + 1] if position + 1 < len(STATUSES) else None
            return parameters == (following,)
        if action == "postmortem":
            return settled
        return True

    async def action_anytime(self, action: str, *parameters: str) -> None:
        """A key's hidden twin: its action whether or not the footer offers it now."""
        import inspect

        result = getattr(self, f"action_{action}")(*parameters)
        if inspect.isawaitable(result):
            await result

    def _command_busy(self) -> bool:
        return self._command_asked or self.wizard.command_in_progress

    def action_run_next(self) -> None:
        step = self.wizard.step
        if step is None:
            self.notify(tr("screen.incident.write_postmortem"), markup=False)
            return
        done = self.wizard.commands_started()
        if done >= len(step.commands):
            self.notify(tr("screen.incident.all_commands_run"), markup=False)
            return
        self._ask_to_run(step.commands[done])

    def on_key(self, event: events.Key) -> None:
        """1–9 run that command of the step, in any order."""
        step = self.wizard.step
        if step is not None and event.key.isdigit() and 1 <= int(event.key) <= len(step.commands):
            event.stop()
            self._ask_to_run(step.commands[int(event.key) - 1])

    def _ask_to_run(self, command: Command) -> None:
        """Run ``command`` unless one is under way: a running command is never cut short
        by another key, only by x."""
        if self._command_busy():
            self.notify(command_running_text(self.session.command_claim(self.incident_id)),
                        severity="warning", markup=False)
            return
        if command.destructive and self.read_only and not self.session.read_only:
            # A viewer's console on a session that could: the runner would run it.
            self.notify(tr("screen.incident.viewer_cannot_run"), severity="warning",
                        markup=False)
            return
        self._command_asked = True
        self._run(command)

    @work(group="incident-command", exit_on_error=False)
    async def _run(self, command: Command) -> None:
        try:
            await self._ask_and_run(command)
        finally:
            self._command_asked = False

    async def _ask_and_run(self, command: Command) -> None:
        params: dict[str, str] = {}
        for parameter in command.parameters:
            choices = await self.wizard.runner.choices(parameter)
            listed = "\n".join(f"  {c.value}  {c.label}" for c in choices)
            default = choices[0].value if choices else parameter.default
            answer = await self.app.push_screen_wait(
                PromptScreen(
                    in_language(parameter.prompt_ja, parameter.prompt_en),
                    tr("screen.incident.choices", choices=listed) if listed else "",
                    placeholder=default,
                    allow_empty=bool(default),
                )
            )
            if answer is None:
                self._declined(command, self._shown(command, params))
                return
            params[parameter.name] = answer or default
        try:
            preview = self.wizard.preview(command, params)
        except ParameterError as error:
            self._fail(error)
            return
        # A command that changes nothing runs on Enter; a destructive one asks for its
        # action typed out (under --read-only the runner records that it was not run).
        if asks_first(command) and not self.read_only:
            word = confirmation_word(command)
            typed = await self.app.push_screen_wait(
                PromptScreen(
                    tr("screen.incident.type_target", target=repr(word)),
                    preview,
                    must_equal=word,
                )
            )
            if typed is None:
                self._declined(command, preview)
                return
        try:
            # Its start, output and end reach this screen (and any other view of the
            # incident) as the session's events.
            await self.session.run_command(self.incident_id, command, params)
        except CommandInProgress:
            self.notify(command_running_text(self.session.command_claim(self.incident_id)),
                        severity="warning", markup=False)
        except (StoreError, IncidentRuleError, ParameterError) as error:
            self._fail(error)

    def _shown(self, command: Command, params: dict[str, str]) -> str:
        """The command as it stood when declined: the values chosen so far, the rest
        as placeholders."""
        try:
            return self.wizard.preview(command, {**self._defaults(command), **params})
        except ParameterError:
            return " ".join(command.argv) or command.text

    def _declined(self, command: Command, preview: str) -> None:
        """Answering No is a decision: the record keeps it."""
        self._guarded(lambda: self.wizard.record_declined(command, preview))

    def action_verify(self) -> None:
        if self._verifying:
            self.notify(verifying_already_text(), severity="warning", markup=False)
            return
        self._verifying = True
        self._verify()

    @work(group="incident-verify", exit_on_error=False)
    async def _verify(self) -> None:
        self.notify(tr("screen.incident.verifying"), timeout=2, markup=False)
        try:
            passed = await self.wizard.verify_step()
        except StoreError as error:
            self._fail(error)
            return
        finally:
            self._verifying = False
        if passed is None:
            self.notify(tr("screen.incident.no_verification"), markup=False)
        else:
            self.notify(
                tr("screen.incident.verified") if passed else tr("screen.incident.verify_failed"),
                severity="information" if passed else "error",
                markup=False,
            )

    def action_done(self) -> None:
        if self._verifying:
            self.notify(verifying_already_text(), severity="warning", markup=False)
            return
        self._verifying = True
        self._mark_done()

    @work(group="incident-verify", exit_on_error=False)
    async def _mark_done(self) -> None:
        try:
            await self._verify_then_complete()
        finally:
            self._verifying = False

    async def _verify_then_complete(self) -> None:
        step = self.wizard.step
        if step is None:
            return
        try:
            if step.verify is not None:
                passed = await self.wizard.verify_step()
                if not passed and not await self.app.push_screen_wait(
                    ConfirmScreen(
                        tr("screen.incident.done_anyway"), in_language(step.title_ja, step.title_en)
                    )
                ):
                    return
            saving = self.wizard.complete_step()
        except (StoreError, IncidentRuleError) as error:
            self._fail(error)
            return
        await self._confirm_saved(saving)

    @work(exit_on_error=False)
    async def action_skip(self) -> None:
        step = self.wizard.step
        if step is None:
            return
        reason = await self.app.push_screen_wait(
            PromptScreen(tr("screen.incident.why_skip",
                            title=in_language(step.title_ja, step.title_en)))
        )
        if reason:
            self._guarded(lambda: self.wizard.skip_step(reason))

    @work(exit_on_error=False)
    async def action_note(self) -> None:
        text = await self.app.push_screen_wait(PromptScreen(tr("screen.incident.note")))
        if text:
            self._guarded(lambda: self.wizard.add_note(text))

    def action_status(self, to: str) -> None:
        status: IncidentStatus = next(s for s in STATUSES if s == to)
        self._guarded(lambda: self.wizard.advance(status))

    @work(exit_on_error=False)
    async def action_escalate(self) -> None:
        rung = self.wizard.next_escalation()
        if rung is None:
            self.notify(tr("screen.incident.top_of_ladder"), markup=False)
            return
        if await self.app.push_screen_wait(
            ConfirmScreen(tr("screen.incident.confirm_escalate", level=rung.level),
                          f"{rung.role} — {rung.contact}")
        ):
            self._guarded(self.wizard.escalate)

    def action_pin_metrics(self) -> None:
        latest = self.session.latest
        if latest is None:
            self.notify(tr("screen.incident.no_metrics"), severity="warning", markup=False)
            return
        self._guarded(
            lambda: self.wizard.pin(
                "metrics", tr("screen.incident.metrics_title"),
                findings_table(list(latest.findings)),
            )
        )

    def action_pin_table(self, which: str) -> None:
        """The database's longest queries or the queue's failures, as a pinned table."""
        latest = self.session.latest
        readings = latest.readings if latest is not None else None
        if which == "database" and readings is not None and readings.database is not None:
            rows = [
                f"{q.pid}\t{q.duration_ms / 1000:.1f}s\t{q.user}\t{q.application}\t{q.state}"
                f"\t{' '.join(q.query.split())[:200]}"
                for q in readings.database.longest
            ]
            title = tr("screen.incident.longest_queries")
        elif which == "queue" and readings is not None and readings.queue is not None:
            rows = [
                f"{g.exception_class}\t{g.count}\t{g.latest_at}\t{g.latest_message[:200]}"
                for g in readings.queue.failed_by_class
            ]
            title = tr("screen.incident.failed_jobs")
        else:
            self.notify(tr("screen.incident.no_table_data"), severity="warning", markup=False)
            return
        content = "\n".join(rows) or tr("screen.incident.empty_table")
        self._guarded(lambda: self.wizard.pin("table", title, content))

    @work(exit_on_error=False)
    async def action_assign_role(self) -> None:
        answer = await self.app.push_screen_wait(
            PromptScreen(
                tr("screen.incident.assign_role", commander=tr(ROLE_KEYS["commander"]),
                   scribe=tr(ROLE_KEYS["scribe"])),
                placeholder=tr("screen.incident.assign_role_example",
                               commander=tr(ROLE_KEYS["commander"])),
            )
        )
        word, _, person = (answer or "").partition(" ")
        chosen = role_named(word)
        if chosen is None or not person.strip():
            if answer:
                self.notify(tr("screen.incident.assign_role_how",
                               commander=tr(ROLE_KEYS["commander"]),
                               scribe=tr(ROLE_KEYS["scribe"])), severity="warning", markup=False)
            return
        self._guarded(lambda: self.wizard.assign_role(chosen, person.strip()))

    @work(exit_on_error=False)
    async def action_edit_time(self) -> None:
        """Correct when something happened (e.g. detection before the console saw it)."""
        answer = await self.app.push_screen_wait(
            PromptScreen(
                tr("screen.incident.edit_time"),
                tr("screen.incident.edit_time_detail"),
                placeholder=tr("screen.incident.edit_time_example"),
            )
        )
        parts = (answer or "").split(maxsplit=2)
        if len(parts) < 3 or not parts[0].isdigit():
            if answer:
                self.notify(tr("screen.incident.edit_time_how"), severity="warning", markup=False)
            return
        try:
            hour, minute = (int(x) for x in parts[1].split(":"))
            local = (
                datetime.now()
                .astimezone()
                .replace(hour=hour, minute=minute, second=0, microsecond=0)
            )
        except ValueError:
            self.notify(tr("screen.incident.not_a_time", text=parts[1]), severity="warning",
                        markup=False)
            return
        self._guarded(
            lambda: self.wizard.correct_time(int(parts[0]), local.astimezone(UTC), parts[2])
        )

    @work(group="incident-cancel", exit_on_error=False)
    async def action_cancel_command(self) -> None:
        """x: the running command is cancelled once the operator says so."""
        if not self.wizard.command_in_progress:
            self.notify(no_command_running_text(), markup=False)
            return
        if await self.app.push_screen_wait(
            ConfirmScreen(tr("screen.incident.confirm_cancel"), self.incident_id)
        ):
            self.wizard.cancel()

    @work(exit_on_error=False)
    async def action_switch_runbook(self) -> None:
        """r: the runbook picker; the incident follows the one chosen from its first
        step not done, what was done before kept on the timeline."""
        from screens.runbook_picker import RunbookPickerScreen

        alert = self.wizard.incident.alert
        choices = self.session.runbook_choices(alert.key if alert is not None else None)
        current = self.wizard.runbook.id
        choice = await self.app.push_screen_wait(
            RunbookPickerScreen(tr("screen.incident.switch_runbook", incident=self.incident_id),
                                choices, current=current)
        )
        if choice is None or choice.runbook.id == current:
            return
        self._guarded(lambda: self.session.switch_runbook(self.incident_id, choice.runbook.id))

    def action_postmortem(self) -> None:
        from screens.postmortem import PostmortemScreen

        self.app.push_screen(PostmortemScreen(self.wizard))

    def action_back(self) -> None:
        self.app.pop_screen()

    def _guarded(self, change: Callable[[], Saving | None]) -> None:
        """Make a change; a broken rule is said at once, a failed write once it fails."""
        try:
            saving = change()
        except (StoreError, IncidentRuleError) as error:
            self._fail(error)
            return
        if saving is not None:
            self.run_worker(self._confirm_saved(saving), group="incident-save", exit_on_error=False)

    async def _confirm_saved(self, saving: Saving) -> None:
        try:
            await saving
        except StoreWriteError as error:
            self._fail(error)
