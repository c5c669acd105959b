"""The postmortem draft: previewed as Markdown, its free-text sections edited here,
exported to a file.

It reads the store's record through the wizard and saves through it: no copy of
the incident lives here.  Names and paths are shown as ``Text`` or with
``markup=False``, never as markup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Select, Static, TextArea

from rainbow_tui.incidents.model import IncidentRuleError, PostmortemText
from rainbow_tui.incidents.store import StoreError, StoreWriteError
from rainbow_tui.text import N_, current_language, tr
from screens.prompt import PromptScreen

if TYPE_CHECKING:
    from rainbow_tui.wizard import IncidentWizard

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


def _write(name: str, markdown: str) -> Path:
    from rainbow_tui.incidents.export_files import write_private_text

    return write_private_text(Path(name), markdown)


class PostmortemScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_section", tr("screen.postmortem.key.save")),
        Binding("ctrl+o", "export", tr("screen.postmortem.key.export")),
        Binding("escape", "back", tr("screen.postmortem.key.back")),
    ]

    def __init__(self, wizard: IncidentWizard) -> None:
        super().__init__()
        self.wizard = wizard

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
        yield Footer()

    def on_mount(self) -> None:
        self._load_section("summary")
        self._preview()
        self._unsubscribe = self.wizard.subscribe(lambda _incident: self._show_unsaved())

    def on_unmount(self) -> None:
        self._unsubscribe()

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
        text: str = getattr(self.wizard.incident.postmortem, name)
        self.query_one(TextArea).load_text(text)

    @on(Select.Changed, "#postmortem-section")
    def _section_changed(self, event: Select.Changed) -> None:
        self._load_section(str(event.value))

    @work(group="postmortem-save", exit_on_error=False)
    async def action_save_section(self) -> None:
        name = str(self.query_one(Select).value)
        if name not in PostmortemText.__struct_fields__:
            return
        text = self.query_one(TextArea).text
        try:
            saving = self.wizard.save_postmortem(name, text)
        except (StoreError, IncidentRuleError) as error:
            self.notify(str(error), severity="error", markup=False)
            return
        try:
            await saving
        except StoreWriteError as error:
            # Kept in memory and retried: the preview shows it, the notice says so.
            self._preview()
            self.notify(str(error), severity="error", markup=False)
            return
        self._preview()
        self.notify(tr("screen.postmortem.saved"), markup=False)

    @work(exit_on_error=False)
    async def action_export(self) -> None:
        default = f"postmortem-{self.wizard.incident_id}.md"
        answer = await self.app.push_screen_wait(
            PromptScreen(tr("screen.postmortem.export_to"), placeholder=default,
                         allow_empty=True)
        )
        if answer is None:
            return
        markdown = self._markdown()
        try:
            path = await asyncio.to_thread(_write, answer or default, markdown)
        except OSError as error:
            path = Path(answer or default)
            self.notify(tr("screen.postmortem.not_written", path=path, error=error.strerror),
                        severity="error", markup=False)
            return
        self.notify(tr("screen.postmortem.exported", path=path), markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()
