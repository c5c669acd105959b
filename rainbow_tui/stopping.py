"""Stopping background tasks so that stopping cannot hang.

Python 3.11's ``asyncio.wait_for`` loses a cancellation that arrives in the same turn
of the loop as the result it waits for (CPython gh-86296, fixed in 3.12 where
``wait_for`` is built on ``asyncio.timeout``): it returns the result and the task
goes on as if it had not been cancelled.  ``asyncssh.connect`` is such a
``wait_for``, so a log stream cancelled while its SSH link came up kept streaming,
and a console told to leave by SIGTERM waited for it for ever.  A task that is
still running some time after its cancel is therefore cancelled again; one that
outlives every try is let go and logged, never waited for without end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

# A task that took its cancel ends in a few turns of the loop (its cleanup closes
# links, which does not wait on the far side); one still running after this went on.
RECANCEL_AFTER_S = 0.5
GIVE_UP_AFTER_S = 5.0


async def stop_tasks(
    tasks: Iterable[asyncio.Task[Any]],
    *,
    recancel_after_s: float = RECANCEL_AFTER_S,
    give_up_after_s: float = GIVE_UP_AFTER_S,
) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait until they have ended, cancelling again any that
    go on; returns those still running after ``give_up_after_s`` (logged)."""
    loop = asyncio.get_running_loop()
    given = list(tasks)
    pending = {task for task in given if not task.done()}
    ended: set[asyncio.Task[Any]] = {task for task in given if task.done()}
    deadline = loop.time() + give_up_after_s
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        done, pending = await asyncio.wait(pending, timeout=min(recancel_after_s, left))
        ended |= done
    for task in ended:
        _retrieve(task)
    for task in pending:
        log.warning("task %s did not stop within %.1f s; left running", task.get_name(),
                    give_up_after_s)
    return sorted(pending, key=lambda task: task.get_name())


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Take a finished task's exception, so that asyncio does not report it as never
    retrieved when the task is collected; the stopping caller has no use for it."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.debug("task %s ended with %r while stopping", task.get_name(), error)
