"""The Routine screen: one routine's checklist (毎日・週次・月次・四半期・セキュリティ),
each item's result as it runs, a note per item, and run / skip / done keys like
the incident screen's.  The run is the session's: every change is on disk before
the screen shows it.

The table gives each item one line, what it found cut to the width left (never a
sideways scroll); the selected item's whole result, its lines and its note are in
the detail under the table, then where the item comes from and what to check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, RichLog, Static
from textual.widgets.data_table import ColumnKey

from rainbow_tui.incidents.store import StoreError
from rainbow_tui.levels import Level
from rainbow_tui.text import Phrase, current_language, tr
from rainbow_tui.upkeep.report import outcome_word
from screens.confirm import ConfirmScreen
from screens.prompt import PromptScreen
from screens.stylesheets import stylesheet
from widgets.fitted_footer import FittedFooter
from widgets.level_style import LEVEL_COMPONENT_CLASSES, inert, level_css, level_style

if TYPE_CHECKING:
    from rainbow_tui.session import Session
    from rainbow_tui.upkeep.record import ItemRecord
    from rainbow_tui.upkeep.run import RoutineRun

__all__ = ["RoutineChecklist", "RoutineScreen"]

OUTCOME_LEVELS = {
    "ok": Level.NORMAL,
    "warning": Level.WARNING,
    "critical": Level.CRITICAL,
    "unknown": Level.UNKNOWN,
    "skipped": Level.UNKNOWN,
    "pending": Level.UNKNOWN,
}
RESULT_COLUMN = "result"
SAID_COLUMN = "said"
# Below this the column shows too little to tell items apart; the table scrolls instead.
MIN_SAID_WIDTH = 12
DETAIL_LINES = 8


class RoutineChecklist(DataTable[Text]):
    """The items, one row each, keyed by item id; results styled by the theme.

    What each item found is kept whole and shown cut (with …) to the width the
    other columns leave, again at every resize: the whole text is the detail's.
    The result and found columns have set widths, never measured from their cells:
    a width the table measures when idle is not redrawn in rows it drew before
    (Textual 8 keeps their lines), so a longer text showed cut at the old width."""

    COMPONENT_CLASSES: ClassVar[set[str]] = set(LEVEL_COMPONENT_CLASSES)
    DEFAULT_CSS = level_css("RoutineChecklist")
    # The table's own Enter (choose the row: run its item) named in the footer; the
    # screen's Enter binding is behind it while the table has focus.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", tr("screen.routine.key.run")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._said: dict[str, Text] = {}

    def add_checklist_columns(self, item: str, result: str, said: str) -> None:
        self.add_column(item, key="item")
        words = [outcome_word(outcome) for outcome in OUTCOME_LEVELS]
        self.add_column(result, key=RESULT_COLUMN,
                        width=max(cell_len(text) for text in (*words, result)))
        self.add_column(said, key=SAID_COLUMN, width=max(MIN_SAID_WIDTH, cell_len(said)))

    def add_item(self, item_id: str, title: Text, result: Text, said: Text) -> None:
        self._said[item_id] = said
        self.add_row(title, result, self._fitted(said), key=item_id)

    def show_item(self, item_id: str, result: Text, said: Text) -> None:
        self._said[item_id] = said
        self.update_cell(item_id, RESULT_COLUMN, result)
        self.update_cell(item_id, SAID_COLUMN, self._fitted(said))

    def _fitted(self, said: Text) -> Text:
        lines = said.split("\n", allow_blank=True)
        line = lines[0] if lines else Text()
        line.truncate(self.columns[ColumnKey(SAID_COLUMN)].width, overflow="ellipsis")
        return line

    def on_resize(self, _event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        """The found column takes the width the others leave (at least its floor)."""
        column = self.columns.get(ColumnKey(SAID_COLUMN))
        if column is None:
            return
        others = sum(other.get_render_width(self) for key, other in self.columns.items()
                     if key != SAID_COLUMN)
        width = max(MIN_SAID_WIDTH, cell_len(str(column.label)),
                    self.scrollable_content_region.width - others - 2 * self.cell_padding)
        if width == column.width:
            return
        column.width = width
        # Each update is a new version of the table: its rows are drawn again.
        for item_id, said in self._said.items():
            self.update_cell(item_id, SAID_COLUMN, self._fitted(said), update_width=True)


class RoutineScreen(Screen[None]):
    CSS_PATH = stylesheet("routine")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run_item", tr("screen.routine.key.run")),
        Binding("a", "run_all", tr("screen.routine.key.run_all")),
        Binding("d", "done", tr("screen.routine.key.done")),
        Binding("s", "skip", tr("screen.routine.key.skip")),
        Binding("n", "note", tr("screen.routine.key.note")),
        Binding("f", "finish", tr("screen.routine.key.finish")),
        Binding("question_mark", "app.help", tr("app.key.help"), key_display="?"),
        Binding("escape", "back", tr("screen.routine.key.back")),
    ]

    def __init__(self, session: Session, routine_id: str) -> None:
        super().__init__()
        self.session = session
        self.routine_id = routine_id
        self.run: RoutineRun | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="routine-body"):
            yield Static(id="routine-title")
            yield RoutineChecklist(id="routine-items", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="routine-detail-scroll"):
                yield Static(id="routine-detail")
            yield RichLog(id="routine-output", max_lines=2000, wrap=True, markup=False)
        yield FittedFooter()

    def on_mount(self) -> None:
        try:
            self.run = self.session.start_routine(self.routine_id, self._confirm, self._progress)
        except (KeyError, StoreError) as error:
            self.query_one("#routine-title", Static).update(
                inert(tr("screen.routine.cannot_start", routine=self.routine_id, error=error)))
            return
        code = current_language().code
        table = self.query_one(RoutineChecklist)
        table.add_checklist_columns(tr("screen.routine.column.item"),
                                    tr("screen.routine.column.result"),
                                    tr("screen.routine.column.said"))
        for item in self.run.routine.items:
            record = self.run.item_record(item.id)
            table.add_item(item.id, Text(item.title(code)), *self._cells(record))
        self._show_title()
        self._show_detail()
        table.focus()
        # The table may have had its size before it had columns: fit once laid out.
        self.call_after_refresh(table.fit)

    # -- what is shown -----------------------------------------------------------------------

    def _cells(self, record: ItemRecord) -> tuple[Text, Text]:
        table = self.query_one(RoutineChecklist)
        level = OUTCOME_LEVELS[record.outcome]
        result = Text(outcome_word(record.outcome), style=level_style(level, table))
        said = inert(record.said(current_language().code))
        if record.note:
            said.append(("  " if said else "") + "✎ " + record.note.splitlines()[-1])
        return result, said

    def _show_title(self) -> None:
        if self.run is None:
            return
        code = current_language().code
        state = (tr("screen.routine.finished") if self.run.finished
                 else tr("screen.routine.running"))
        self.query_one("#routine-title", Static).update(inert(tr(
            "screen.routine.title", routine=self.run.routine.title(code), id=self.run.record.id,
            state=state)))

    def _selected(self) -> str | None:
        table = self.query_one(RoutineChecklist)
        if self.run is None or table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_detail(self) -> None:
        item_id = self._selected()
        if self.run is None or item_id is None:
            return
        item = self.run.routine.item(item_id)
        if item is None:
            return
        code = current_language().code
        why = item.why_ja if code == "ja" else item.why_en
        checklist = item.checklist_ja if code == "ja" else item.checklist_en
        record = self.run.item_record(item_id)
        # What it found first, whole: the table's column shows only its start.
        detail = Text(tr("screen.routine.result") + " ")
        detail.append_text(self._cells(record)[0])
        detail.append("  ")
        detail.append_text(inert(record.said(code), keep_newlines=True))
        for line in record.lines[:DETAIL_LINES]:
            detail.append("\n  ")
            detail.append_text(inert(line))
        if record.note:
            detail.append_text(inert("\n" + tr("screen.routine.note", note=record.note),
                                     keep_newlines=True))
        detail.append("\n\n" + tr("screen.routine.source", source=item.source))
        if why:
            detail.append("\n" + why)
        for line in checklist:
            detail.append(f"\n  □ {line}")
        detail.append("\n" + tr("screen.routine.what", what=record.shown))
        self.query_one("#routine-detail", Static).update(detail)

    def _refresh_item(self, record: ItemRecord) -> None:
        self.query_one(RoutineChecklist).show_item(record.item, *self._cells(record))
        self._show_detail()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The checklist takes Enter for itself: its row chosen is the item to run.
        event.stop()
        self._run_items([str(event.row_key.value)])

    # -- talking to the items ---------------------------------------------------------------

    async def _confirm(self, question: Phrase) -> bool:
        routine = self.run.routine.title(current_language().code) if self.run else ""
        answer = await self.app.push_screen_wait(ConfirmScreen(question.text(), routine))
        return bool(answer)

    def _progress(self, line: Phrase) -> None:
        self.query_one("#routine-output", RichLog).write(inert(line.text()))

    def _output(self, line: str) -> None:
        self.query_one("#routine-output", RichLog).write(inert(line))

    # -- keys ---------------------------------------------------------------------------------

    def action_run_item(self) -> None:
        item_id = self._selected()
        if item_id is not None:
            self._run_items([item_id])

    def action_run_all(self) -> None:
        if self.run is not None:
            self._run_items([record.item for record in self.run.record.items
                             if record.outcome == "pending"])

    @work(exclusive=True, group="routine-run", exit_on_error=False)
    async def _run_items(self, item_ids: list[str]) -> None:
        if self.run is None:
            return
        log = self.query_one("#routine-output", RichLog)
        code = current_language().code
        for item_id in item_ids:
            item = self.run.routine.item(item_id)
            if item is None:
                continue
            log.write(inert(tr("screen.routine.running_item", item=item.title(code))))
            try:
                record = await self.run.run_item(item_id, on_line=self._output)
            except StoreError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            self._refresh_item(record)

    def _guarded_mark(self, mark: str) -> None:
        item_id = self._selected()
        if self.run is None or item_id is None:
            return
        try:
            record = self.run.mark_done(item_id) if mark == "done" else self.run.skip(item_id)
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._refresh_item(record)

    def action_done(self) -> None:
        self._guarded_mark("done")

    def action_skip(self) -> None:
        self._guarded_mark("skip")

    @work(exclusive=True, group="routine-note", exit_on_error=False)
    async def action_note(self) -> None:
        item_id = self._selected()
        if self.run is None or item_id is None:
            return
        text = await self.app.push_screen_wait(PromptScreen(tr("screen.routine.note_prompt")))
        if not text or not text.strip():
            return
        try:
            record = self.run.note(item_id, text)
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._refresh_item(record)

    def action_finish(self) -> None:
        if self.run is None:
            return
        try:
            self.run.finish()
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._show_title()
        self.notify(tr("screen.routine.recorded", id=self.run.record.id), markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()
