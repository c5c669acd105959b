"""The kinds of runbook command, one executor each, in one table keyed by kind.

The runner resolves, previews and runs a command through ``EXECUTORS[kind]``, and
the runbook loader asks the same executor whether a command's fields fit its kind;
every kind the runbook schema allows (``CommandKind``) has its executor here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rainbow_tui.incidents.executors.base import (
    CommandContext,
    CommandExecutor,
    CommandFieldError,
    ExecutorResult,
    ParameterError,
    ResolvedCommand,
)
from rainbow_tui.incidents.executors.copy import CopyExecutor
from rainbow_tui.incidents.executors.http import HttpExecutor
from rainbow_tui.incidents.executors.kamal import KamalExecutor
from rainbow_tui.incidents.executors.local import LocalExecutor
from rainbow_tui.incidents.executors.sql import SqlExecutor
from rainbow_tui.incidents.executors.ssh import SshExecutor

if TYPE_CHECKING:
    from rainbow_tui.incidents.runbooks import CommandKind

__all__ = [
    "EXECUTORS",
    "CommandContext",
    "CommandExecutor",
    "CommandFieldError",
    "ExecutorResult",
    "ParameterError",
    "ResolvedCommand",
    "executor_for",
]


def _table(*executors: CommandExecutor) -> Mapping[str, CommandExecutor]:
    return {executor.kind: executor for executor in executors}


EXECUTORS: Mapping[str, CommandExecutor] = _table(
    KamalExecutor(), SshExecutor(), SqlExecutor(), HttpExecutor(), LocalExecutor(),
    CopyExecutor(),
)


def executor_for(kind: CommandKind | str) -> CommandExecutor:
    """The executor of ``kind``; a kind without one is a programming error (the
    loader refuses unknown kinds before anything asks)."""
    try:
        return EXECUTORS[kind]
    except KeyError:
        raise LookupError(f"no executor for command kind {kind!r}") from None
