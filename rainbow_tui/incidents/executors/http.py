"""``http`` commands: a GET of a URL (the health URL when the command names none),
its status line and the start of its body as the output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.incidents.executors.base import (
    CommandContext,
    ExecutorResult,
    ResolvedCommand,
    forbid_argv,
    forbid_database,
    forbid_host,
    substitute,
)

if TYPE_CHECKING:
    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["HttpExecutor"]

# The start of a body is enough to tell what answered.
BODY_SHOWN_BYTES = 16384


def describe_http_error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class HttpExecutor:
    @property
    def kind(self) -> Literal["http"]:
        return "http"

    def check_fields(self, command: Command) -> None:
        forbid_argv(command)
        forbid_host(command)
        forbid_database(command)

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        url = substitute(command.text, values, quote=False) or context.config.service.health_url
        return ResolvedCommand(command, text=url, preview=f"GET {url}")

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        import httpx

        timeout = resolved.command.timeout_s
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.get(resolved.text)
        except httpx.HTTPError as error:
            return ExecutorResult(None, describe_http_error(error))
        output.text(f"HTTP {response.status_code} {response.reason_phrase}")
        output.feed(response.content[:BODY_SHOWN_BYTES])
        return ExecutorResult(0 if 200 <= response.status_code < 300 else 1)
