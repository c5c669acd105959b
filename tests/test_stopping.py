"""Stopping background tasks ends them even when a cancellation is lost.

Python 3.11's ``asyncio.wait_for`` returns its result, and drops the cancellation,
when the cancel comes in the same turn of the loop as the result (CPython gh-86296;
Lib/asyncio/tasks.py, ``wait_for``: ``except CancelledError: if fut.done(): return
fut.result()``).  ``asyncssh.connect`` waits that way for its link, so a log stream
cancelled as its link came up streamed on and the console's exit waited for it."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from rainbow_tui.config import Config, LogsConfig, ServiceConfig
from rainbow_tui.logs.streams import FollowedStream, Reader
from rainbow_tui.logs.tail import LogTail
from rainbow_tui.stopping import stop_tasks


async def _ignores_first_cancel(started: asyncio.Event) -> str:
    """A task that goes on after its first cancel, as one inside 3.11's wait_for can."""
    started.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)
    return "never"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for keeps the cancel from 3.12")
async def test_python_311_wait_for_loses_a_cancel_that_meets_its_result() -> None:
    """The upstream behaviour this module guards against, as the interpreter has it."""
    result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(asyncio.wait_for(result, 3600))
    await asyncio.sleep(0)  # the task is inside wait_for, waiting
    result.set_result("linked")
    waiting.cancel()
    assert await waiting == "linked"
    assert not waiting.cancelled()


async def test_a_task_that_ignored_its_cancel_is_cancelled_again() -> None:
    started = asyncio.Event()
    task = asyncio.create_task(_ignores_first_cancel(started))
    await started.wait()
    left = await stop_tasks([task], recancel_after_s=0.05)
    assert left == []
    assert task.cancelled()


async def test_a_task_that_will_not_stop_is_let_go_and_named() -> None:
    released = False

    async def stubborn() -> None:
        while not released:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    left = await stop_tasks([task], recancel_after_s=0.01, give_up_after_s=0.05)
    assert [t.get_name() for t in left] == ["stubborn"]
    assert not task.done()
    released = True  # the test's own clean-up
    task.cancel()
    await task


async def test_finished_and_failed_tasks_are_taken_without_complaint() -> None:
    async def fails() -> None:
        raise RuntimeError("poll went wrong")

    failed = asyncio.create_task(fails())
    finished = asyncio.create_task(asyncio.sleep(0))
    await asyncio.wait([failed, finished])
    assert await stop_tasks([failed, finished]) == []
    # Retrieved: asyncio will not log "exception was never retrieved" for it.
    assert failed._log_traceback is False  # type: ignore[attr-defined]


class _EndlessReader(Reader):
    async def read(self, size: int) -> bytes:
        await asyncio.sleep(0.01)
        return b"Started GET \"/up\" for 127.0.0.1\n"


class _LinkingStream(FollowedStream):
    """A stream whose link comes up through wait_for, as asyncssh.connect's does."""

    def __init__(self, tail: LogTail) -> None:
        super().__init__("app-1/web", "app-1", "web", tail.sink)
        self.link: asyncio.Future[Reader] | None = None
        self.linking = asyncio.Event()
        self.readers_opened = 0

    async def open_reader(self, since: str | None) -> Reader:
        self.link = asyncio.get_running_loop().create_future()
        self.linking.set()
        reader = await asyncio.wait_for(self.link, 3600)
        self.readers_opened += 1
        return reader


async def test_tail_stops_a_stream_cancelled_as_its_link_came_up() -> None:
    config = Config(
        service=ServiceConfig(kamal_service="shiojiri-rainbow", health_url="https://x.test/up"),
        logs=LogsConfig(),
    )
    received: list[object] = []
    tail = LogTail(config, {}, received.extend)
    stream = _LinkingStream(tail)
    tail.streams.append(stream)
    tail.start()
    tasks = list(tail._tasks)
    await stream.linking.wait()
    await asyncio.sleep(0)  # the stream is inside wait_for, waiting for its link
    assert stream.link is not None
    stream.link.set_result(_EndlessReader())
    await tail.stop()  # its cancel meets the link in the same turn of the loop
    assert tasks and all(task.done() for task in tasks)
    assert stream.readers_opened == 1  # the link did come up: the cancel was lost in it
    received_at_stop = len(received)
    await asyncio.sleep(0.05)
    assert len(received) == received_at_stop, "the stream went on after the tail stopped"
