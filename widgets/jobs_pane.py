"""Pane 4: Solid Queue — counts, latency, failures by class, queues, processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from widgets.action_request import ActionRequest
from widgets.finding_table import findings_in, waiting_line
from widgets.keyed_rows import KeyedTable, table_in
from widgets.level_style import inert, stale_note
from widgets.trend import Trend

if TYPE_CHECKING:
    from rainbow_tui.monitor import MonitorState
    from rainbow_tui.sources.queue import FailureGroup, QueueSnapshot

FAILURE_COLUMNS = ("exception", "count", "latest", "message")
QUEUE_COLUMNS = ("queue", "ready", "state")
FAILURE_ACTIONS = ("retry_job", "retry_class", "discard_job", "discard_class")


class JobsPane(VerticalScroll):
    BORDER_TITLE = "4 Jobs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "failure('retry_job')", "Retry job"),
        Binding("T", "failure('retry_class')", "Retry class"),
        Binding("x", "failure('discard_job')", "Discard job"),
        Binding("X", "failure('discard_class')", "Discard class"),
        Binding("P", "toggle_queue_pause", "Pause/resume queue"),
    ]

    def __init__(
        self, *, read_only: bool = False, id: str | None = None, classes: str = ""
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.read_only = read_only
        self._latest: QueueSnapshot | None = None
        self._queues_seen: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Trend("waiting jobs", "queue:waiting_jobs")
        yield waiting_line()
        yield Static(id="jobs-summary", classes="pane-summary")
        yield Static(id="jobs-action", classes="action-result")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under --read-only the actions are not merely refused: they are not offered.
        return not (self.read_only and action in ("failure", "toggle_queue_pause"))

    def show(self, state: MonitorState) -> None:
        self.query_one(Trend).show(state.history)
        findings_in(self, "jobs-table").show(f for f in state.findings if f.component == "queue")
        queue = state.readings.queue
        summary = self.query_one("#jobs-summary", Static)
        if queue is not None and queue.error is None:
            self._latest = queue
            summary.update(self._summary(queue))
            self._show_failures(queue)
            self._show_queues(queue)
        elif self._latest is not None:
            summary.update(stale_note(self._latest.taken_at) + self._summary(self._latest))
        self.set_class("queue" in state.stale, "-stale")

    @staticmethod
    def _summary(queue: QueueSnapshot) -> Text:
        latency = f"{queue.oldest_ready_s:,.1f} s" if queue.oldest_ready_s is not None else "—"
        alive = sum(1 for p in queue.processes if not p.dead)
        return Text(
            f"ready {queue.ready} · scheduled {queue.scheduled} · claimed {queue.claimed} · "
            f"blocked {queue.blocked} · failed {queue.failed} · latency {latency} · "
            f"processes {alive}/{len(queue.processes)} alive"
        )

    def _show_failures(self, queue: QueueSnapshot) -> None:
        if not queue.failed_by_class and not self.query("#failures-table"):
            return
        table_in(self, "failures-table", FAILURE_COLUMNS, before="#jobs-action").sync(
            {
                group.exception_class: (
                    inert(group.exception_class),
                    Text(str(group.count)),
                    inert(group.latest_at[:19]),
                    inert(" ".join(group.latest_message.split())[:200]),
                )
                for group in queue.failed_by_class
            },
        )

    def _show_queues(self, queue: QueueSnapshot) -> None:
        # Every queue seen this session stays listed, so one can be paused while
        # it happens to be empty.
        self._queues_seen |= set(queue.ready_by_queue) | set(queue.paused)
        self._queues_seen |= {job.queue_name for job in queue.longest_claimed}
        names = sorted(self._queues_seen)
        if not names and not self.query("#queues-table"):
            return
        table_in(self, "queues-table", QUEUE_COLUMNS, before="#jobs-action").sync(
            {
                name: (
                    inert(name),
                    Text(f"{queue.ready_by_queue.get(name, 0):,}"),
                    Text("PAUSED", style="bold") if name in queue.paused else Text("running"),
                )
                for name in names
            },
        )

    def _selected(self, table_id: str) -> str | None:
        tables = self.query(table_id)
        return tables.first(KeyedTable).selected_key() if tables else None

    def _selected_group(self) -> FailureGroup | None:
        key = self._selected("#failures-table")
        if self._latest is None or key is None:
            return None
        return next((g for g in self._latest.failed_by_class if g.exception_class == key), None)

    def action_failure(self, verb: str) -> None:
        group = self._selected_group()
        if group is None:
            self.notify("Select a failure class in the failed table first", severity="warning")
            return
        message = " ".join(group.latest_message.split())[:200]
        if verb in ("retry_job", "discard_job"):
            job = group.latest_job_id
            what = "Retry" if verb == "retry_job" else "Discard"
            title = f"{what} failed job {job}?"
            target = f"job {job} · {group.exception_class}: {message}"
            self.post_message(ActionRequest(f"{verb.split('_')[0]}_failed_job", job, title, target))
        else:
            # The pane's count is of a recent sample only: the screen counts the
            # class in full and asks with that number.
            what = "Retry" if verb == "retry_class" else "Discard"
            title = f"{what} all failed jobs of {group.exception_class}?"
            target = f"{group.exception_class} · latest: {message}"
            self.post_message(
                ActionRequest(
                    f"{verb.split('_')[0]}_failed_class", group.exception_class, title, target
                )
            )

    def action_toggle_queue_pause(self) -> None:
        name = self._selected("#queues-table")
        if self._latest is None or name is None:
            self.notify("Select a queue in the queues table first", severity="warning")
            return
        if name in self._latest.paused:
            self.post_message(
                ActionRequest("resume_queue", name, f"Resume queue {name}?", f"queue {name}")
            )
        else:
            ready = self._latest.ready_by_queue.get(name, 0)
            self.post_message(
                ActionRequest(
                    "pause_queue",
                    name,
                    f"Pause queue {name}?",
                    f"queue {name} · {ready} ready jobs stop being picked up",
                )
            )

    def show_action_result(self, ok: bool, message: str, *, partial: bool = False) -> None:
        mark = "✘ " if not ok else "◐ " if partial else "✔ "
        self.query_one("#jobs-action", Static).update(inert(mark + message))

    def show_progress(self, text: str) -> None:
        """A running bulk action's progress (or a count under way)."""
        self.query_one("#jobs-action", Static).update(inert(text))
