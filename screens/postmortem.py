"""The postmortem draft: previewed as Markdown, its free-text sections edited here,
action items added, exported to a file.

Nothing typed is lost: the draft goes into the record as it is typed (a second
after the last key, and whenever the section changes), through the wizard's
``save_postmortem`` like every change; ``ctrl+o`` saves first and exports the text
as it stands on screen; Esc saves, then leaves.  The editor has the focus from the
start, so a word typed at once goes into the text, never to the app's keys.

It reads the store's record through the wizard and saves through it: no copy of
the incident lives here.  Names and paths are shown as ``Text`` or with
``markup=False``, never as markup.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Markdown, Select, Static, TextArea

from rainbow_tui.incidents.model import ActionItemType, IncidentRuleError, PostmortemText
from rainbow_tui.incidents.store import StoreError, StoreWriteError
from rainbow_tui.text import N_, current_language, tr
from screens.prompt import PromptScreen
from screens.stylesheets import stylesheet
from widgets.fitted_footer import FittedFooter

if TYPE_CHECKING:
    from rainbow_tui.wizard import IncidentWizard, Saving

# How long after the last key the draft is saved.
AUTOSAVE_S = 1.0
ACTION_TYPES: tuple[ActionItemType, ...] = (
    "prevent", "detect", "mitigate", "repair", "process", "other",
)

# The free-text sections, named by the postmortem's own headings.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", N_("pm.summary")),
    ("impact", N_("pm.impact")),
    ("root_cause", N_("pm.root_cause")),
    ("trigger", N_("pm.trigger")),
    ("resolution", N_("pm.resolution")),
    ("went_well", N_("pm.went_well")),
    ("went_wrong", N_("pm.went_wrong")),
    ("lucky", N_("pm.lucky")),
)


def _write(name: str, markdown: str) -> tuple[Path, str]:
    """Write the export (in a thread); its full path, and why not when it failed."""
    from rainbow_tui.incidents.export_files import write_private_text

    path = Path(name).expanduser().absolute()
    try:
        return write_private_text(path, markdown).absolute(), ""
    except OSError as error:
        return path, error.strerror or str(error)


class PostmortemScreen(Screen[None]):
    CSS_PATH = stylesheet("postmortem")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_section", tr("screen.postmortem.key.save")),
        Binding("ctrl+o", "export", tr("screen.postmortem.key.export")),
        Binding("ctrl+n", "add_action_item", tr("screen.postmortem.key.action_item")),
        Binding("escape", "back", tr("screen.postmortem.key.back")),
    ]

    def __init__(self, wizard: IncidentWizard) -> None:
        super().__init__()
        self.wizard = wizard
        # The section whose text the editor holds (the selector may have moved on).
        self._section = "summary"
        self._autosave: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Text(tr("screen.postmortem.title", incident=self.wizard.incident_id)),
            id="postmortem-header",
        )
        yield Static(id="postmortem-unsaved")
        with Horizontal(id="postmortem-body"):
            with Vertical(id="postmortem-editor"):
                yield Select(
                    [(tr(label), name) for name, label in SECTIONS],
                    value="summary",
                    allow_blank=False,
                    id="postmortem-section",
                )
                yield TextArea(id="postmortem-text")
                yield Static(tr("screen.postmortem.hint"), classes="hint")
            yield Markdown(id="postmortem-preview")
        yield FittedFooter()

    def on_mount(self) -> None:
        self._load_section("summary")
        # Focus at once: a word typed before anything else goes into the text.
        self.query_one(TextArea).focus()
        self._preview()
        self._unsubscribe = self.wizard.subscribe(lambda _incident: self._show_unsaved())

    def on_unmount(self) -> None:
        self._unsubscribe()
        if self._autosave is not None:
            self._autosave.stop()

    def has_unsaved_text(self) -> bool:
        """Text on screen not in the record yet, or in the record but not on disk."""
        return self._text_changed() or self.wizard.unsaved.header

    def _show_unsaved(self) -> None:
        notice = self.wizard.describe_unsaved()
        unsaved = self.query_one("#postmortem-unsaved", Static)
        # Coloured by the theme (#postmortem-unsaved in app.tcss).
        unsaved.update(Text(notice) if notice else Text())
        unsaved.display = bool(notice)

    def _markdown(self, *, shared: bool = True) -> str:
        """The postmortem as exported, a shared record in both languages; or, not
        ``shared``, as the operator reads it here, in the console's language."""
        from rainbow_tui.incidents.postmortem import render_postmortem

        if shared:
            return render_postmortem(self.wizard.incident, self.wizard.config)
        return render_postmortem(self.wizard.incident, self.wizard.config,
                                 languages=(current_language().code,))

    def _preview(self) -> None:
        self.query_one(Markdown).update(self._markdown(shared=False))
        self._show_unsaved()

    def _load_section(self, name: str) -> None:
        self._section = name
        text: str = getattr(self.wizard.incident.postmortem, name)
        self.query_one(TextArea).load_text(text)

    # -- saving as it is typed ---------------------------------------------------------

    def _text_changed(self) -> bool:
        recorded: str = getattr(self.wizard.incident.postmortem, self._section)
        return self.query_one(TextArea).text != recorded

    def _save_now(self) -> Saving | None:
        """The editor's text into the record, when it differs; the write to await.
        A refused save is said and None returned."""
        if self._autosave is not None:
            self._autosave.stop()
            self._autosave = None
        if self._section not in PostmortemText.__struct_fields__ or not self._text_changed():
            return None
        try:
            return self.wizard.save_postmortem(self._section, self.query_one(TextArea).text)
        except (StoreError, IncidentRuleError) as error:
            self.notify(str(error), severity="error", markup=False)
            return None

    async def _save_and_wait(self) -> bool:
        """Save and wait for the disk; False when the write failed (the text stays
        in the record, retried, and the notice says so)."""
        saving = self._save_now()
        if saving is None:
            return True
        try:
            await saving
        except StoreWriteError as error:
            self._preview()
            self.notify(str(error), severity="error", markup=False)
            return False
        return True

    @on(TextArea.Changed, "#postmortem-text")
    def _typed(self) -> None:
        if self._autosave is not None:
            self._autosave.stop()
        self._autosave = self.set_timer(AUTOSAVE_S, self._autosave_now)

    @work(group="postmortem-save", exit_on_error=False)
    async def _autosave_now(self) -> None:
        if await self._save_and_wait():
            self._preview()

    @on(Select.Changed, "#postmortem-section")
    async def _section_changed(self, event: Select.Changed) -> None:
        # The text on screen belongs to the section left: it goes into the record first.
        saving = self._save_now()
        self._load_section(str(event.value))
        if saving is not None:
            try:
                await saving
            except StoreWriteError as error:
                self.notify(str(error), severity="error", markup=False)
        self._preview()

    @work(group="postmortem-save", exit_on_error=False)
    async def action_save_section(self) -> None:
        if await self._save_and_wait():
            self._preview()
            self.notify(tr("screen.postmortem.saved"), markup=False)

    # -- exporting and leaving ---------------------------------------------------------

    @work(exit_on_error=False)
    async def action_export(self) -> None:
        # What is on screen is what is exported: saved into the record first.
        await self._save_and_wait()
        self._preview()
        default = f"postmortem-{self.wizard.incident_id}.md"
        answer = await self.app.push_screen_wait(
            PromptScreen(tr("screen.postmortem.export_to"), placeholder=default,
                         allow_empty=True)
        )
        if answer is None:
            return
        markdown = self._markdown()
        path, problem = await asyncio.to_thread(_write, answer or default, markdown)
        if problem:
            self.notify(tr("screen.postmortem.not_written", path=path, error=problem),
                        severity="error", markup=False)
            return
        # The full path: the file is found where the notice says, whatever the cwd.
        self.notify(tr("screen.postmortem.exported", path=path), markup=False)

    @work(exclusive=True, group="postmortem-leave", exit_on_error=False)
    async def action_back(self) -> None:
        # Never discards: the text goes into the record (in memory at once, kept and
        # retried if the disk refuses), then the editor closes.
        await self._save_and_wait()
        self.app.pop_screen()

    # -- action items -------------------------------------------------------------------

    @work(exclusive=True, group="postmortem-action-item", exit_on_error=False)
    async def action_add_action_item(self) -> None:
        """Owner, type, due date and text, asked one after the other; Esc at any of
        them adds nothing."""
        text = await self.app.push_screen_wait(
            PromptScreen(tr("screen.postmortem.item.text"))
        )
        if text is None:
            return
        owner = await self.app.push_screen_wait(
            PromptScreen(tr("screen.postmortem.item.owner"), allow_empty=True)
        )
        if owner is None:
            return
        item_type = await self._ask_type()
        if item_type is None:
            return
        answered, due = await self._ask_due()
        if not answered:
            return
        try:
            saving = self.wizard.add_action_item(owner, item_type, text, due)
            await saving
        except (StoreError, IncidentRuleError, StoreWriteError) as error:
            self.notify(str(error), severity="error", markup=False)
            self._preview()
            return
        self._preview()
        self.notify(tr("screen.postmortem.item.added", text=text), markup=False)

    async def _ask_type(self) -> ActionItemType | None:
        choices = " / ".join(ACTION_TYPES)
        hint = ""
        while True:
            answer = await self.app.push_screen_wait(
                PromptScreen(tr("screen.postmortem.item.type", choices=choices), hint,
                             placeholder=ACTION_TYPES[0], allow_empty=True)
            )
            if answer is None:
                return None
            chosen = answer.strip().lower() or ACTION_TYPES[0]
            matches = [kind for kind in ACTION_TYPES if kind.startswith(chosen)]
            if len(matches) == 1:
                return matches[0]
            hint = tr("screen.postmortem.item.type_unknown", answer=answer)

    async def _ask_due(self) -> tuple[bool, date | None]:
        """Whether the responder answered, and the due date (None for none)."""
        hint = ""
        while True:
            answer = await self.app.push_screen_wait(
                PromptScreen(tr("screen.postmortem.item.due"), hint, placeholder="YYYY-MM-DD",
                             allow_empty=True)
            )
            if answer is None:
                return False, None
            if not answer.strip():
                return True, None
            try:
                return True, date.fromisoformat(answer.strip())
            except ValueError:
                hint = tr("screen.postmortem.item.due_invalid", answer=answer)
