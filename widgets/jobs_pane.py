"""Pane 4: Solid Queue — counts, latency, failures by class, queues, processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from rainbow_tui.text import N_, tr
from widgets.action_request import ActionRequest
from widgets.level_style import inert, stale_note
from widgets.steady_static import SteadyStatic
from widgets.table_slots import findings_in, selected_key_in, table_in, waiting_line
from widgets.trend import trends_in

if TYPE_CHECKING:
    from rainbow_tui.monitor import MonitorState
    from rainbow_tui.sources.queue import FailureGroup, QueueSnapshot

FAILURE_COLUMNS = ("exception", "count", "latest", "message")
QUEUE_COLUMNS = ("queue", "ready", "state")
FAILURE_ACTIONS = ("retry_job", "retry_class", "discard_job", "discard_class")
COLUMN_KEYS = {
    "exception": N_("widget.jobs.column.exception"),
    "count": N_("widget.jobs.column.count"),
    "latest": N_("widget.jobs.column.latest"),
    "message": N_("widget.jobs.column.message"),
    "queue": N_("widget.jobs.column.queue"),
    "ready": N_("widget.jobs.column.ready"),
    "state": N_("widget.jobs.column.state"),
}


def _labels(columns: tuple[str, ...]) -> dict[str, str]:
    return {name: tr(COLUMN_KEYS[name]) for name in columns}


class JobsPane(VerticalScroll):
    # Looked up when the module loads, which the console does after the command
    # line has chosen the language.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "failure('retry_job')", tr("widget.jobs.key.retry_job")),
        Binding("T", "failure('retry_class')", tr("widget.jobs.key.retry_class")),
        Binding("x", "failure('discard_job')", tr("widget.jobs.key.discard_job")),
        Binding("X", "failure('discard_class')", tr("widget.jobs.key.discard_class")),
        Binding("P", "toggle_queue_pause", tr("widget.jobs.key.pause")),
    ]

    def __init__(
        self, *, read_only: bool = False, id: str | None = None, classes: str = ""
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.read_only = read_only
        self._latest: QueueSnapshot | None = None
        self._queues_seen: set[str] = set()
        self.border_title = tr("widget.jobs.title")

    def compose(self) -> ComposeResult:
        # The trend comes with the first answer (trends_in).
        yield waiting_line()

    def _mount_lines(self) -> None:
        """The summary and action lines, mounted with the first answer: empty until
        then, they would only add to the first frame's work."""
        if not self.query("#jobs-summary"):
            self.mount(
                SteadyStatic(id="jobs-summary", classes="pane-summary"),
                Static(id="jobs-action", classes="action-result"),
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under --read-only the actions are not merely refused: they are not offered.
        return not (self.read_only and action in ("failure", "toggle_queue_pause"))

    def show(self, state: MonitorState) -> None:
        self._mount_lines()
        for trend in trends_in(self, (tr("widget.trend.waiting_jobs"), "queue:waiting_jobs")):
            trend.show(state.history)
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
        latency = (
            tr("value.seconds", value=queue.oldest_ready_s)
            if queue.oldest_ready_s is not None
            else "—"
        )
        alive = sum(1 for p in queue.processes if not p.dead)
        return Text(
            tr(
                "widget.jobs.summary",
                ready=queue.ready,
                scheduled=queue.scheduled,
                claimed=queue.claimed,
                blocked=queue.blocked,
                failed=queue.failed,
                latency=latency,
                alive=alive,
                processes=len(queue.processes),
            )
        )

    def _show_failures(self, queue: QueueSnapshot) -> None:
        if not queue.failed_by_class and not self.query("#failures-table"):
            return
        table_in(self, "failures-table", FAILURE_COLUMNS, before="#jobs-action",
                 labels=_labels(FAILURE_COLUMNS)).sync(
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
        table_in(self, "queues-table", QUEUE_COLUMNS, before="#jobs-action",
                 labels=_labels(QUEUE_COLUMNS)).sync(
            {
                name: (
                    inert(name),
                    Text(f"{queue.ready_by_queue.get(name, 0):,}"),
                    Text(tr("widget.jobs.paused"), style="bold")
                    if name in queue.paused
                    else Text(tr("widget.jobs.running")),
                )
                for name in names
            },
        )

    def _selected(self, table_id: str) -> str | None:
        return selected_key_in(self, table_id)

    def _selected_group(self) -> FailureGroup | None:
        key = self._selected("#failures-table")
        if self._latest is None or key is None:
            return None
        return next((g for g in self._latest.failed_by_class if g.exception_class == key), None)

    def action_failure(self, verb: str) -> None:
        group = self._selected_group()
        if group is None:
            self.notify(tr("widget.jobs.select_failure"), severity="warning", markup=False)
            return
        message = " ".join(group.latest_message.split())[:200]
        if verb in ("retry_job", "discard_job"):
            job = group.latest_job_id
            title = (
                tr("widget.jobs.confirm_retry_job", job=job)
                if verb == "retry_job"
                else tr("widget.jobs.confirm_discard_job", job=job)
            )
            target = tr("widget.jobs.job_target", job=job, exception=group.exception_class,
                        message=message)
            self.post_message(ActionRequest(f"{verb.split('_')[0]}_failed_job", job, title, target))
        else:
            # The pane's count is of a recent sample only: the screen counts the
            # class in full and asks with that number.
            exception = group.exception_class
            title = (
                tr("widget.jobs.confirm_retry_class", exception=exception)
                if verb == "retry_class"
                else tr("widget.jobs.confirm_discard_class", exception=exception)
            )
            target = tr("widget.jobs.class_target", exception=exception, message=message)
            self.post_message(
                ActionRequest(
                    f"{verb.split('_')[0]}_failed_class", group.exception_class, title, target
                )
            )

    def action_toggle_queue_pause(self) -> None:
        name = self._selected("#queues-table")
        if self._latest is None or name is None:
            self.notify(tr("widget.jobs.select_queue"), severity="warning", markup=False)
            return
        if name in self._latest.paused:
            self.post_message(
                ActionRequest("resume_queue", name, tr("widget.jobs.confirm_resume", queue=name),
                              tr("widget.jobs.queue_target", queue=name))
            )
        else:
            ready = self._latest.ready_by_queue.get(name, 0)
            self.post_message(
                ActionRequest(
                    "pause_queue",
                    name,
                    tr("widget.jobs.confirm_pause", queue=name),
                    tr("widget.jobs.pause_target", queue=name, ready=ready),
                )
            )

    def show_action_result(self, ok: bool, message: str, *, partial: bool = False) -> None:
        mark = "✘ " if not ok else "◐ " if partial else "✔ "
        self._mount_lines()
        self.query_one("#jobs-action", Static).update(inert(mark + message))

    def show_progress(self, text: str) -> None:
        """A running bulk action's progress (or a count under way)."""
        self._mount_lines()
        self.query_one("#jobs-action", Static).update(inert(text))
