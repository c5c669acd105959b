"""Remote text is never markup: names and messages full of brackets and escape
sequences reach every pane, dialog, subtitle, toast and palette entry of the real
console literally, and nothing crashes.

The failed job, its queue and the running query come from the demo's real
databases; the hostile host is a real entry of the configuration whose SSH port is
closed, so its finding, alert and log stream state are the console's own.  Log lines
and container names are fed through the log view's public ``add_entries``."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from rich.text import Text
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.config import HostConfig
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import LogKind, LogLevel, LogLine
from screens.confirm import ConfirmScreen
from tests.helpers.console import POLL_S, select_row, until
from widgets.keyed_rows import KeyedTable

# Each would change what is shown (or crash, or act) if it were read as markup;
# the escape sequence would recolour the terminal if it reached it raw.
HOSTILE = (
    "[/]<[bold]x[/bold]>[link=file:///etc/passwd]x[/]\x1b[31m[@click=app.quit]q[/]"
)
HOSTILE_CLASS = f"Hostile{HOSTILE}Error"
HOSTILE_QUEUE = f"queue{HOSTILE}"
HOSTILE_MESSAGE = f"message {HOSTILE}"
HOSTILE_HOST = f"ghost{HOSTILE}"
HOSTILE_CONTAINER = f"web-{HOSTILE}"
HOSTILE_LOG = f"Started GET {HOSTILE}"


def shown(text: str) -> str:
    """What the console must show for remote ``text``: every character as it is,
    control characters made visible."""
    return make_inert(text)


def class_as_read(name: str) -> str:
    """The class name as Solid Queue's JSON error column spells it (control
    characters \\u-escaped), which is what the queue source reads."""
    return json.dumps(name)[1:-1]


async def add_hostile_failure(stack: DemoProcess) -> None:
    """A failed job of a hostile class, in a hostile queue that is paused (so the
    demo's workers leave its ready job alone and the queue stays listed)."""
    error = json.dumps(
        {"exception_class": HOSTILE_CLASS, "message": HOSTILE_MESSAGE, "backtrace": []}
    )
    now = "(now() AT TIME ZONE 'UTC')"
    connection = await asyncpg.connect(
        stack.endpoints.pg_admin_queue_dsn, server_settings={"timezone": "UTC"}
    )
    try:
        await connection.execute(
            f"""
            WITH pause AS (
                INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, {now})
            ), failed_job AS (
                INSERT INTO solid_queue_jobs
                    (queue_name, class_name, arguments, priority, active_job_id,
                     scheduled_at, created_at, updated_at)
                VALUES ($1, $2, '{{"arguments":[],"executions":1}}', 0,
                        gen_random_uuid()::text, {now}, {now}, {now})
                RETURNING id
            ), ready_job AS (
                INSERT INTO solid_queue_jobs
                    (queue_name, class_name, arguments, priority, active_job_id,
                     scheduled_at, created_at, updated_at)
                VALUES ($1, $2, '{{"arguments":[],"executions":0}}', 0,
                        gen_random_uuid()::text, {now}, {now}, {now})
                RETURNING id
            ), ready AS (
                INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
                SELECT id, $1, 0, {now} FROM ready_job
            )
            INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
            SELECT id, $3, {now} FROM failed_job
            """,
            HOSTILE_QUEUE, HOSTILE_CLASS, error,
        )
    finally:
        await connection.close()


def static_text(app: RainbowApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def toasts(app: RainbowApp) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def subtitle(widget: Widget) -> str:
    """The border subtitle as shown: the attribute reads back as markup, escaped
    (Rich's parser undoes the escaping exactly)."""
    return Text.from_markup(widget.border_subtitle or "").plain


def cells(app: RainbowApp, table_id: str, key: str) -> list[str]:
    table = app.dashboard.query_one(f"#{table_id}", KeyedTable)
    return [cell.plain for cell in table.get_row(key)]


async def ask_and_decline(
    app: RainbowApp, pilot: Pilot[int], key: str, expect_in_title: str
) -> str:
    """Press ``key``, check the confirmation's title shows the text, answer no;
    return what the confirmation showed as its target."""
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=15)
    assert expect_in_title in static_text(app, "#confirm-title")
    target = static_text(app, "#confirm-target")
    await pilot.press("n")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), within=5)
    return target


@pytest.mark.slow
async def test_hostile_remote_text_is_shown_literally_everywhere(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory()
    await add_hostile_failure(stack)
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    ghost = HostConfig(name=HOSTILE_HOST, address="127.0.0.1", port=closed_port, roles=("web",))
    config = demo_config(stack.endpoints, poll_s=POLL_S)
    config = msgspec.structs.replace(config, hosts=(*config.hosts, ghost))

    # A statement that runs long enough to be listed, its text hostile.
    query_connection = await asyncpg.connect(stack.endpoints.pg_admin_dsn)
    slow_query = asyncio.create_task(
        query_connection.execute(f"SELECT pg_sleep(600) /* {HOSTILE} */")
    )
    app = make_app(config)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            # Jobs pane: the failed class, its message and the queue, from the database.
            hostile_class = class_as_read(HOSTILE_CLASS)
            await select_row(app, pilot, "failures-table", hostile_class)
            failure = cells(app, "failures-table", hostile_class)
            assert failure[0] == shown(hostile_class)
            assert failure[3] == shown(HOSTILE_MESSAGE)
            await select_row(app, pilot, "queues-table", HOSTILE_QUEUE)
            assert cells(app, "queues-table", HOSTILE_QUEUE)[0] == shown(HOSTILE_QUEUE)

            # Every confirmation that names them shows them as they are.
            await select_row(app, pilot, "failures-table", hostile_class)
            target = await ask_and_decline(app, pilot, "t", "Retry failed job")
            assert shown(hostile_class) in target
            target = await ask_and_decline(app, pilot, "T", shown(hostile_class))
            assert shown(hostile_class) in target
            await select_row(app, pilot, "queues-table", HOSTILE_QUEUE)
            await ask_and_decline(app, pilot, "P", f"Resume queue {shown(HOSTILE_QUEUE)}?")

            # Database pane: the running query's text.
            await until(
                pilot,
                lambda: app.session.latest is not None
                and app.session.latest.readings.database is not None
                and any("pg_sleep(600)" in q.query for q in app.session.latest.readings.database.longest),
            )
            assert app.session.latest is not None and app.session.latest.readings.database is not None
            pid = next(
                q.pid for q in app.session.latest.readings.database.longest if "pg_sleep(600)" in q.query
            )
            await select_row(app, pilot, "queries-table", str(pid))
            assert shown(HOSTILE) in cells(app, "queries-table", str(pid))[-1]
            target = await ask_and_decline(app, pilot, "c", f"backend {pid}")
            assert shown(HOSTILE) in target

            # The unreachable host: its finding, its alert, its log stream's trouble.
            ghost_key = f"host {HOSTILE_HOST}:reachable"
            await until(pilot, lambda: bool(app.dashboard.query("#components-table")))
            components = app.dashboard.query_one("#components-table", KeyedTable)
            await until(pilot, lambda: ghost_key in components.rows)
            assert shown(HOSTILE_HOST) in cells(app, "components-table", ghost_key)[1]
            await until(pilot, lambda: shown(HOSTILE_HOST) in static_text(app, "#alerts-bar"))
            log_pane = app.dashboard.log_pane
            await until(pilot, lambda: shown(HOSTILE_HOST) in subtitle(log_pane))

            # Log lines and container names, through the views' public method.
            line = LogLine(
                HOSTILE_LOG, HOSTILE_HOST, HOSTILE_CONTAINER, datetime.now(UTC), "",
                LogKind.RAILS_OTHER, LogLevel.INFO, HOSTILE_LOG,
            )
            app.log_screen.log_view.add_entries([line])
            await pilot.press("L")
            await until(pilot, lambda: app.screen is app.log_screen)
            view = app.log_screen.log_view
            view.show_host = True
            view.flush()
            await pilot.pause()
            rows = [view.line_text(row) for row in range(view.size.height)]
            assert any(shown(HOSTILE_LOG) in row for row in rows)
            assert any(shown(HOSTILE_HOST)[:10] in row for row in rows)
            assert shown(HOSTILE_HOST) in static_text(app, "#log-header")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.dashboard)

            # The palette offers an incident for the hostile alert, literally.
            app.action_command_palette()
            await until(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"Start incident")
            await until(
                pilot,
                lambda: any(
                    shown(HOSTILE_HOST) in str(option.prompt)
                    for option in app.screen.query("CommandList").first().options
                ),
            )
            await pilot.press("escape")
            assert app.is_running
    finally:
        slow_query.cancel()
        query_connection.terminate()
