"""A program on this machine, run for a runbook command: output read in large
chunks into a ``CommandOutput``, and the program in a process group of its own so
that a timeout or a cancellation ends whatever it started too (TERM, a grace
period, then KILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rainbow_tui.incidents.command_output import CommandOutput

__all__ = ["KILL_GRACE_S", "READ_CHUNK", "could_not_start", "run_process", "stop_process_group"]

KILL_GRACE_S = 3.0
READ_CHUNK = 65536


def could_not_start(program: str, error: OSError) -> str:
    return f"could not start {program}: {error.strerror or error}"


async def run_process(
    argv: Sequence[str], cwd: str, output: CommandOutput
) -> tuple[int | None, str]:
    """Run ``argv`` in ``cwd`` to its end: its exit code, or None and why it did
    not start.  Cancelled (a timeout, the responder), it is stopped with its group."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own group: a timeout ends its children too
        )
    except OSError as error:
        return None, could_not_start(argv[0], error)
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(READ_CHUNK):
            output.feed(chunk)
        return await process.wait(), ""
    except BaseException:
        await stop_process_group(process)
        raise


async def stop_process_group(process: asyncio.subprocess.Process) -> None:
    """End a command and whatever it started: TERM, a grace period, then KILL."""
    if process.returncode is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), KILL_GRACE_S)
            return
        except TimeoutError:
            continue
