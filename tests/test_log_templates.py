"""Fidelity: every line the upstream log subscribers write parses to what it says.

The message templates below are transcribed from upstream, each with the file and
the tags it was read at (newest patch of each minor):

* rails/rails v7.1.6, v7.2.3.2, v8.0.5.1, v8.1.3.1 —
  railties/lib/rails/rack/logger.rb, actionpack/lib/action_controller/log_subscriber.rb,
  actionpack/lib/action_dispatch/middleware/debug_exceptions.rb,
  activerecord/lib/active_record/log_subscriber.rb,
  activejob/lib/active_job/log_subscriber.rb (+ logging.rb for the tags);
* rails/solid_queue v1.0.0 and v1.5.0 — lib/solid_queue/log_subscriber.rb (the same
  actions and levels in both; app_executor.rb instruments ``thread_error``).

How the lines reach the log (activesupport/lib/active_support/tagged_logging.rb and
the production.rb template): 7.1/7.2 put ``Logger::Formatter``'s
``I, [2026-11-28T12:00:00.123456 #1]  INFO -- : `` in front; 8.0/8.1
(``TaggedLogging.logger(STDOUT)``) write no severity at all, so the level must come
from the template, i.e. the subscriber's ``info``/``error``/… call.  Tags are
``[a] [b] `` in ``config.log_tags`` order (``[ :request_id ]`` by default); a job
being performed adds ``[ActiveJob] [JobClass] [job-id]``, an enqueue ``[ActiveJob]``.
``docker logs --timestamps`` prefixes an RFC 3339 stamp with nine digits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.config import Config, LogsConfig, ServiceConfig
from rainbow_tui.logs.buffer import is_error
from rainbow_tui.logs.parse import (
    LogKind,
    LogLevel,
    LogLine,
    exception_stamps,
    log_tags_key,
    parse_line,
    parse_lines,
)
from rainbow_tui.logs.request_stats import POOL_TIMEOUT_EXCEPTION, RequestStats
from rainbow_tui.logs.streams import LogEntry
from rainbow_tui.logs.tail import LogTail

RAILS = ("v7.1.6", "v7.2.3.2", "v8.0.5.1", "v8.1.3.1")
RAILS_72_UP = RAILS[1:]
RAILS_80_UP = RAILS[2:]
RAILS_81 = RAILS[3:]
SOLID_QUEUE = ("v1.0.0", "v1.5.0")

RACK_LOGGER = "railties/lib/rails/rack/logger.rb"
CONTROLLER = "actionpack/lib/action_controller/log_subscriber.rb"
DEBUG_EXCEPTIONS = "actionpack/lib/action_dispatch/middleware/debug_exceptions.rb"
RECORD = "activerecord/lib/active_record/log_subscriber.rb"
JOB = "activejob/lib/active_job/log_subscriber.rb"
QUEUE = "lib/solid_queue/log_subscriber.rb"

DEBUG, INFO, WARN, ERROR = LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR


@dataclass(frozen=True)
class Values:
    """What one generated line is made of."""

    request_id: str
    remote_ip: str
    job_class: str
    job_id: str
    queue: str
    adapter: str
    duration: str  # Ruby's Float#to_s of event.duration.round(1 or 2)
    whole_ms: int  # event.duration.round
    exception: str
    exception_message: str
    method: str
    path: str
    status: int
    version: str  # SolidQueue::VERSION
    process_kind: str


@dataclass(frozen=True)
class Template:
    """One message of an upstream subscriber.

    ``context``: "request" (tagged with config.log_tags), "job" (performing:
    [ActiveJob] [class] [id]), "enqueue" ([ActiveJob]) or "bare" (Solid Queue).
    ``expect`` gives the fields the line must parse to, beyond kind and level.
    """

    name: str
    source: str
    tags: tuple[str, ...]
    level: LogLevel
    kind: LogKind
    context: str
    render: Callable[[Values], str]
    expect: Callable[[Values], dict[str, Any]] = field(default=lambda v: {})


def job_fields(v: Values, queue: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {"job_class": v.job_class, "job_id": v.job_id}
    if queue:
        fields["queue"] = v.queue
    return fields


def reference(v: Values, direction: str = "from") -> str:
    return f"{v.job_class} (Job ID: {v.job_id}) {direction} {v.adapter}({v.queue})"


def failure(v: Values) -> str:
    return f"{v.exception} ({v.exception_message})"


REASONS = {200: "OK", 201: "Created", 302: "Found", 404: "Not Found", 422: "Unprocessable Content",
           500: "Internal Server Error", 503: "Service Unavailable"}

TEMPLATES: tuple[Template, ...] = (
    # -- Rails::Rack::Logger#started_request_message (info) --
    Template(
        "started", RACK_LOGGER, RAILS, INFO, LogKind.RAILS_STARTED, "request",
        lambda v: f'Started {v.method} "{v.path}" for {v.remote_ip} at 2026-11-28 12:00:00 +0900',
        lambda v: {"method": v.method, "path": v.path},
    ),
    # -- ActionController::LogSubscriber --
    Template(
        "start_processing", CONTROLLER, RAILS, INFO, LogKind.RAILS_PROCESSING, "request",
        lambda v: "Processing by Api::V1::RainbowsController#index as JSON",
    ),
    Template(
        "start_processing parameters", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: '  Parameters: {"lat" => "36.1", "lng" => "137.9"}',
    ),
    Template(  # 7.1: "Allocations: N"
        "process_action", CONTROLLER, RAILS[:1], INFO, LogKind.RAILS_COMPLETED, "request",
        lambda v: f"Completed {v.status} {REASONS[v.status]} in {v.whole_ms}ms "
        f"(Views: {v.duration}ms | ActiveRecord: 1.2ms (3 queries, 0 cached) | Allocations: 4711)",
        lambda v: {"status": v.status, "duration_ms": float(v.whole_ms)},
    ),
    Template(  # 7.2+: "GC: Nms"
        "process_action", CONTROLLER, RAILS_72_UP, INFO, LogKind.RAILS_COMPLETED, "request",
        lambda v: f"Completed {v.status} {REASONS[v.status]} in {v.whole_ms}ms "
        f"(Views: {v.duration}ms | ActiveRecord: 1.2ms (3 queries, 0 cached) | GC: 0.4ms)",
        lambda v: {"status": v.status, "duration_ms": float(v.whole_ms)},
    ),
    Template(
        "halted_callback", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: "Filter chain halted as :authenticate rendered or redirected",
    ),
    Template(
        "rescue_from_callback", CONTROLLER, RAILS_81, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: f"rescue_from handled {failure(v)} - app/controllers/rainbows_controller.rb:9",
        lambda v: {"exception_class": v.exception},
    ),
    Template(
        "send_file", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: f"Sent file /rails/storage/report.pdf ({v.duration}ms)",
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "redirect_to", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: "Redirected to https://api.shiojiri-rainbow.app/session/new",
    ),
    Template(
        "send_data", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: f"Sent data rainbows.csv ({v.duration}ms)",
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "unpermitted_parameters", CONTROLLER, RAILS, DEBUG, LogKind.RAILS_OTHER, "request",
        lambda v: "Unpermitted parameters: :admin, :role. Context: { controller: "
        "Api::V1::UsersController, action: update, request: #<ActionDispatch::Request>, "
        "params: {} }",
    ),
    Template(
        "write_fragment", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: f"Write fragment views/rainbows/index ({v.duration}ms)",
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "exist_fragment?", CONTROLLER, RAILS, INFO, LogKind.RAILS_OTHER, "request",
        lambda v: f"Exist fragment? views/rainbows/index ({v.duration}ms)",
        lambda v: {"duration_ms": float(v.duration)},
    ),
    # -- ActionDispatch::DebugExceptions#log_error (debug_exception_log_level :error
    #    with 7.1+ defaults); the first line of the exception, tagged --
    Template(
        "log_error", DEBUG_EXCEPTIONS, RAILS, ERROR, LogKind.RAILS_EXCEPTION, "request",
        lambda v: f"{failure(v)}:",
        lambda v: {"exception_class": v.exception},
    ),
    Template(  # 8.0+: an exception with causes ends without ":"
        "log_error with causes", DEBUG_EXCEPTIONS, RAILS_80_UP, ERROR, LogKind.RAILS_EXCEPTION,
        "request", failure, lambda v: {"exception_class": v.exception},
    ),
    Template(
        "log_error cause", DEBUG_EXCEPTIONS, RAILS_80_UP, ERROR, LogKind.RAILS_OTHER, "request",
        lambda v: f"Caused by: {failure(v)}",
        lambda v: {"exception_class": v.exception},
    ),
    # -- ActiveRecord::LogSubscriber#sql (debug) --
    Template(
        "sql", RECORD, RAILS, DEBUG, LogKind.RAILS_OTHER, "request",
        lambda v: f'  Rainbow Load ({v.duration}ms)  SELECT "rainbows".* FROM "rainbows" '
        'WHERE "rainbows"."id" = $1 LIMIT $2  [["id", 5], ["LIMIT", 1]]',
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "sql cached", RECORD, RAILS, DEBUG, LogKind.RAILS_OTHER, "request",
        lambda v: f'  CACHE User Exists? ({v.duration}ms)  SELECT 1 AS one FROM "users" LIMIT $1',
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "sql async", RECORD, RAILS, DEBUG, LogKind.RAILS_OTHER, "request",
        lambda v: f"  ASYNC Rainbow Count (0.1ms) (db time {v.duration}ms)  "
        'SELECT COUNT(*) FROM "rainbows"',
        lambda v: {"duration_ms": float(v.duration)},
    ),
    Template(
        "sql transaction", RECORD, RAILS, DEBUG, LogKind.RAILS_OTHER, "request",
        lambda v: f"  TRANSACTION ({v.duration}ms)  BEGIN",
        lambda v: {"duration_ms": float(v.duration)},
    ),
    # -- ActiveJob::LogSubscriber --
    Template(
        "enqueue", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "enqueue",
        lambda v: f"Enqueued {reference(v, 'to')} with arguments: 42",
        job_fields,
    ),
    Template(
        "enqueue_at", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "enqueue",
        lambda v: f"Enqueued {reference(v, 'to')} at 2026-11-28 03:05:00 UTC",
        job_fields,
    ),
    Template(
        "enqueue failed", JOB, RAILS, ERROR, LogKind.RAILS_OTHER, "enqueue",
        lambda v: f"Failed enqueuing {v.job_class} to {v.adapter}({v.queue}): {failure(v)}",
        lambda v: {"job_class": v.job_class, "queue": v.queue, "exception_class": v.exception},
    ),
    Template(
        "enqueue aborted", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "enqueue",
        lambda v: f"Failed enqueuing {v.job_class} to {v.adapter}({v.queue}), a before_enqueue "
        "callback halted the enqueuing execution.",
        lambda v: {"job_class": v.job_class, "queue": v.queue},
    ),
    Template(
        "enqueue_all", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "bare",
        lambda v: f"Enqueued 3 jobs to {v.adapter} (2 {v.job_class}, 1 OtherJob)",
    ),
    Template(
        "enqueue_all failed", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "bare",
        lambda v: f"Failed enqueuing 2 jobs to {v.adapter}",
    ),
    Template(
        "perform_start", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Performing {reference(v)} enqueued at 2026-11-28T02:59:59.123456789Z "
        'with arguments: "abc", 5',
        job_fields,
    ),
    Template(
        "perform", JOB, RAILS, INFO, LogKind.JOB_PERFORMED, "job",
        lambda v: f"Performed {reference(v)} in {v.duration}ms",
        lambda v: job_fields(v) | {"duration_ms": float(v.duration)},
    ),
    Template(
        "perform error", JOB, RAILS, ERROR, LogKind.JOB_ERROR, "job",
        lambda v: f"Error performing {reference(v)} in {v.duration}ms: {failure(v)}:",
        lambda v: job_fields(v)
        | {"duration_ms": float(v.duration), "exception_class": v.exception},
    ),
    Template(
        "perform aborted", JOB, RAILS, ERROR, LogKind.JOB_ERROR, "job",
        lambda v: f"Error performing {reference(v)} in {v.duration}ms: a before_perform "
        "callback halted the job execution",
        lambda v: job_fields(v) | {"duration_ms": float(v.duration)},
    ),
    Template(
        "enqueue_retry", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Retrying {v.job_class} (Job ID: {v.job_id}) after 3 attempts in 18 "
        f"seconds, due to a {failure(v)}.",
        lambda v: job_fields(v, queue=False) | {"exception_class": v.exception},
    ),
    Template(
        "enqueue_retry without error", JOB, RAILS, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Retrying {v.job_class} (Job ID: {v.job_id}) after 1 attempts in 3 seconds.",
        lambda v: job_fields(v, queue=False),
    ),
    Template(
        "retry_stopped", JOB, RAILS, ERROR, LogKind.RAILS_OTHER, "job",
        lambda v: f"Stopped retrying {v.job_class} (Job ID: {v.job_id}) due to a {failure(v)}, "
        "which reoccurred on 5 attempts.",
        lambda v: job_fields(v, queue=False) | {"exception_class": v.exception},
    ),
    Template(
        "discard", JOB, RAILS, ERROR, LogKind.RAILS_OTHER, "job",
        lambda v: f"Discarded {v.job_class} (Job ID: {v.job_id}) due to a {failure(v)}.",
        lambda v: job_fields(v, queue=False) | {"exception_class": v.exception},
    ),
    Template(
        "interrupt", JOB, RAILS_81, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Interrupted {v.job_class} (Job ID: {v.job_id}) after 'process' (stopping)",
        lambda v: job_fields(v, queue=False),
    ),
    Template(
        "resume", JOB, RAILS_81, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Resuming {v.job_class} (Job ID: {v.job_id}) after 'process'",
        lambda v: job_fields(v, queue=False),
    ),
    Template(
        "step_started", JOB, RAILS_81, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Step 'process' resumed from cursor '40' for {v.job_class} (Job ID: {v.job_id})",
        lambda v: job_fields(v, queue=False),
    ),
    Template(
        "step", JOB, RAILS_81, INFO, LogKind.RAILS_OTHER, "job",
        lambda v: f"Step 'process' completed for {v.job_class} (Job ID: {v.job_id}) "
        f"in {v.duration}ms",
        lambda v: job_fields(v, queue=False) | {"duration_ms": float(v.duration)},
    ),
    Template(
        "step error", JOB, RAILS_81, ERROR, LogKind.RAILS_OTHER, "job",
        lambda v: f"Error during step 'process' at cursor '40' for {v.job_class} "
        f"(Job ID: {v.job_id}) in {v.duration}ms: {failure(v)}",
        lambda v: job_fields(v, queue=False)
        | {"duration_ms": float(v.duration), "exception_class": v.exception},
    ),
)


def solid_queue(action: str, level: LogLevel, attributes: str, **expect: Any) -> Template:
    def render(v: Values) -> str:
        text = action.replace("{kind}", v.process_kind)
        return (
            f"SolidQueue-{v.version} {text} ({v.duration}ms)  "
            + attributes.replace("{job_id}", v.job_id).replace("{error}", failure(v))
        )

    def fields(v: Values) -> dict[str, Any]:
        found: dict[str, Any] = {"duration_ms": float(v.duration)}
        if expect.get("job_id"):
            found["job_id"] = v.job_id
        if expect.get("exception"):
            found["exception_class"] = v.exception
        return found

    return Template(
        f"solid_queue {action}", QUEUE, SOLID_QUEUE, level, LogKind.RAILS_OTHER, "bare",
        render, fields,
    )


PROCESS = 'pid: 1, hostname: "app-2", process_id: 7, name: "worker-3f1a2b"'
TEMPLATES += (
    solid_queue("Dispatch scheduled jobs", DEBUG, "batch_size: 500, size: 3"),
    solid_queue("Claim jobs", DEBUG, "process_id: 7, job_ids: [1, 2], claimed_job_ids: [1], size: 1"),
    solid_queue("Release claimed jobs", INFO, "size: 2"),
    solid_queue("Fail claimed jobs", WARN, "job_ids: [5], process_ids: [7]"),
    solid_queue("Release claimed job", INFO, "job_id: 5, process_id: 7"),
    solid_queue("Retry failed jobs", DEBUG, "jobs_size: 3, size: 3"),
    solid_queue("Retry failed job", DEBUG, "job_id: 5"),
    solid_queue("Discard jobs", DEBUG, 'jobs_size: 3, size: 3, status: "failed"'),
    solid_queue("Discard job", DEBUG, 'job_id: 5, status: "failed"'),
    solid_queue("Unblock jobs", DEBUG, "limit: 500, size: 1"),
    solid_queue("Release blocked job", DEBUG, 'job_id: 5, concurrency_key: "Sync/1", released: true'),
    solid_queue(
        "Error enqueuing recurring task", ERROR,
        'task: "cleanup", active_job_id: nil, enqueue_error: "PG::ConnectionBad", '
        'at: "2026-11-28T03:00:00Z"',
    ),
    solid_queue(
        "Enqueued recurring task outside Solid Queue", DEBUG,
        'task: "cleanup", active_job_id: "{job_id}", at: "2026-11-28T03:00:00Z"', job_id=True,
    ),
    solid_queue(
        "Skipped recurring task – already dispatched", DEBUG,
        'task: "cleanup", active_job_id: nil, at: "2026-11-28T03:00:00Z"',
    ),
    solid_queue(
        "Enqueued recurring task", DEBUG,
        'task: "cleanup", active_job_id: "{job_id}", at: "2026-11-28T03:00:00Z"', job_id=True,
    ),
    solid_queue("Started {kind}", INFO, PROCESS + ', polling_interval: 0.1, queues: "*"'),
    solid_queue("Shutdown {kind}", INFO, PROCESS),
    solid_queue("Register {kind}", DEBUG, PROCESS),
    solid_queue(
        "Error registering {kind}", WARN, PROCESS + ', error: "{error}"', exception=True
    ),
    solid_queue(
        "Deregister {kind}", DEBUG,
        PROCESS + ', last_heartbeat_at: "2026-11-28T03:00:00Z", claimed_size: 0, pruned: false',
    ),
    solid_queue(
        "Error deregistering {kind}", WARN,
        PROCESS + ', last_heartbeat_at: "2026-11-28T03:00:00Z", claimed_size: 0, pruned: true, '
        'error: "{error}"',
        exception=True,
    ),
    solid_queue("Prune dead processes", DEBUG, "size: 1"),
    solid_queue("Error in thread", ERROR, 'error: "{error}"', exception=True),
    solid_queue(
        "Supervisor wasn't terminated gracefully - shutdown timeout exceeded", WARN,
        'process_id: 1, supervisor_pid: 1, supervised_processes: ["worker-3f1a2b"]',
    ),
    solid_queue(
        "Supervisor terminated gracefully", INFO,
        'process_id: 1, supervisor_pid: 1, supervised_processes: ["worker-3f1a2b"]',
    ),
    solid_queue(
        "Supervisor terminated immediately", INFO,
        'process_id: 1, supervisor_pid: 1, supervised_processes: ["worker-3f1a2b"]',
    ),
    solid_queue("Received unhandled signal", ERROR, "signal: :USR2"),
    solid_queue(
        "Replaced terminated {kind}", INFO,
        'pid: 12, status: 1, pid_from_status: 12, signaled: false, stopsig: nil, termsig: nil, '
        'hostname: "app-2", name: "worker-3f1a2b"',
    ),
    solid_queue(
        "Tried to replace forked process but it had already died", WARN,
        'pid: 12, status: "no exit status set", pid_from_status: 12, signaled: true, '
        "stopsig: nil, termsig: 9",
    ),
)

# -- generated values -------------------------------------------------------------------

MESSAGE_ALPHABET = st.characters(
    codec="ascii", categories=("L", "N", "Zs", "P"), exclude_characters="\"\\[]"
)
values = st.builds(
    Values,
    # ActionDispatch::RequestId: a UUID, or X-Request-Id with only [\w\-@] kept.
    request_id=st.uuids().map(str) | st.from_regex(r"[A-Za-z0-9_@-]{1,40}", fullmatch=True),
    remote_ip=st.ip_addresses().map(str),
    job_class=st.from_regex(r"[A-Z][a-z]{1,8}(::[A-Z][A-Za-z]{1,8}){0,2}Job", fullmatch=True),
    job_id=st.uuids().map(str),
    queue=st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True),
    adapter=st.sampled_from(["SolidQueue", "Async", "Inline", "Sidekiq"]),
    duration=st.integers(min_value=0, max_value=10**7).map(lambda n: repr(n / 100)),
    whole_ms=st.integers(min_value=0, max_value=10**6),
    exception=st.sampled_from(
        [
            "ActiveRecord::ConnectionTimeoutError",
            "ActiveRecord::RecordNotFound",
            "Aws::S3::Errors::ServiceUnavailable",
            "Net::ReadTimeout",
            "NoMethodError",
            "PG::ConnectionBad",
        ]
    )
    | st.from_regex(r"[A-Z][a-z]{1,8}::[A-Z][A-Za-z]{1,8}Error", fullmatch=True),
    exception_message=st.text(MESSAGE_ALPHABET, max_size=40),
    method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]),
    path=st.from_regex(r"/[A-Za-z0-9_/.?=&%-]{0,40}", fullmatch=True),
    status=st.sampled_from(sorted(REASONS)),
    version=st.sampled_from(["1.0.0", "1.1.5", "1.2.4", "1.5.0"]),
    process_kind=st.sampled_from(["Supervisor", "Worker", "Dispatcher", "Scheduler"]),
)
TAG_ORDERS = (("request_id",), ("remote_ip", "request_id"))
LOGGER_LETTERS = {DEBUG: "D", INFO: "I", WARN: "W", ERROR: "E", LogLevel.FATAL: "F"}


def status_level(status: int) -> LogLevel:
    # Logged at info; the console reads a 5xx as an error and a 4xx as a warning.
    return ERROR if status >= 500 else WARN if status >= 400 else INFO


@dataclass(frozen=True)
class Rendered:
    text: str
    template: Template
    values: Values
    tag_order: tuple[str, ...]
    stamp: str
    level: LogLevel


def render(
    template: Template, v: Values, tag_order: tuple[str, ...], prefixed: bool, stamped: bool
) -> Rendered:
    message = template.render(v)
    if template.context == "request":
        request_tags = {"request_id": v.request_id, "remote_ip": v.remote_ip}
        tags = "".join(f"[{request_tags[name]}] " for name in tag_order)
    elif template.context == "job":
        tags = f"[ActiveJob] [{v.job_class}] [{v.job_id}] "
    elif template.context == "enqueue":
        tags = "[ActiveJob] "
    else:
        tags = ""
    # TaggedLogging#format_message: "[a] [b] message".
    line = tags + message
    level = template.level
    if template.kind is LogKind.RAILS_COMPLETED:
        level = max(level, status_level(v.status), key=lambda lv: lv.severity)
    if prefixed:  # 7.1/7.2: Logger::Formatter, "%.1s, [%s #%d] %5s -- %s: %s\n"
        label = template.level.name
        line = (
            f"{LOGGER_LETTERS[template.level]}, [2026-11-28T12:00:00.123456 #1] "
            f"{label:>5} -- : {line}"
        )
    stamp = "2026-11-28T03:00:00.123456789Z" if stamped else ""
    if stamped:
        line = f"{stamp} {line}"
    return Rendered(line, template, v, tag_order, stamp, level)


def check(line: LogLine, rendered: Rendered, tags_known: bool) -> None:
    template, v = rendered.template, rendered.values
    where = f"{template.name} ({template.source} at {', '.join(template.tags)}): {rendered.text!r}"
    assert line.kind is template.kind, where
    assert line.level is rendered.level, where
    expected = {
        "request_id": None,
        "job_class": None,
        "job_id": None,
        "queue": None,
        "duration_ms": None,
        "exception_class": None,
    }
    if template.context == "request" and (tags_known or rendered.tag_order == ("request_id",)):
        expected["request_id"] = v.request_id
    if template.context == "job":
        expected |= {"job_class": v.job_class, "job_id": v.job_id}
    expected |= template.expect(v)
    for name, value in expected.items():
        assert getattr(line, name) == value, (name, where)
    if rendered.stamp:
        assert line.timestamp_text == rendered.stamp, where
    # What a level filter or the "next error" key looks at before parsing.
    for level in (WARN, ERROR, LogLevel.FATAL):
        if rendered.level.severity >= level.severity:
            assert parse_line(rendered.text).could_reach(level), (level, where)
    assert is_error(line) is (rendered.level.severity >= ERROR.severity), where


templates = st.sampled_from(TEMPLATES)


@given(templates, values, st.sampled_from(TAG_ORDERS), st.booleans(), st.booleans())
def test_every_template_parses_with_the_configured_tags(
    template: Template, v: Values, tag_order: tuple[str, ...], prefixed: bool, stamped: bool
) -> None:
    rendered = render(template, v, tag_order, prefixed, stamped)
    key = log_tags_key(tag_order)
    check(parse_line(rendered.text, "app-1", "web", tags_key=key), rendered, tags_known=True)
    [batched] = parse_lines([rendered.text], "app-1", "web", tags_key=key)
    check(batched, rendered, tags_known=True)


@given(templates, values, st.sampled_from(TAG_ORDERS), st.booleans(), st.booleans())
def test_every_template_parses_with_the_default_tags(
    template: Template, v: Values, tag_order: tuple[str, ...], prefixed: bool, stamped: bool
) -> None:
    # Unconfigured, a first tag that is not a request id (an IP) is not taken for one.
    rendered = render(template, v, tag_order, prefixed, stamped)
    check(parse_line(rendered.text), rendered, tags_known=False)


def test_the_reported_rails_8_job_failures_are_errors() -> None:
    job_tags = "[ActiveJob] [ImageVariantJob] [3b6a9c1e-0001-4d5e-8f90-123456789abc] "
    for text in (
        f"{job_tags}Stopped retrying ImageVariantJob (Job ID: 3b6a9c1e-0001-4d5e-8f90-"
        "123456789abc) due to a Aws::S3::Errors::ServiceUnavailable (Service Unavailable), "
        "which reoccurred on 5 attempts.",
        f"{job_tags}Discarded ImageVariantJob (Job ID: 3b6a9c1e-0001-4d5e-8f90-123456789abc) "
        "due to a ActiveJob::DeserializationError (Error while trying to deserialize).",
        "[ActiveJob] Failed enqueuing ImageVariantJob to SolidQueue(images): "
        "ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool)",
        'SolidQueue-1.2.0 Error in thread (0.0ms)  error: "ActiveRecord::StatementInvalid '
        'PG::ConnectionBad: PQsocket() can\'t get socket descriptor"',
        'SolidQueue-1.5.0 Error enqueuing recurring task (1.2ms)  task: "cleanup", '
        'active_job_id: nil, enqueue_error: "boom", at: "2026-11-28T03:00:00Z"',
    ):
        line = parse_line(f"2026-11-28T03:00:00.123456789Z {text}")
        assert line.level is LogLevel.ERROR, text
        assert is_error(line), text


def test_an_ip_tag_is_not_the_request_id() -> None:
    text = "[203.0.113.5] [4f1c2a9e-1b2c-4d5e-8f90-123456789abc] Completed 200 OK in 3ms"
    assert parse_line(text).request_id is None
    key = log_tags_key(("remote_ip", "request_id"))
    assert parse_line(text, tags_key=key).request_id == "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"
    # [:subdomain, :request_id] with a blank subdomain: TaggedLogging drops the tag.
    key = log_tags_key(("subdomain", "request_id"))
    line = parse_line("[4f1c2a9e-1b2c-4d5e-8f90-123456789abc] Completed 200 OK in 3ms", tags_key=key)
    assert line.request_id == "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"
    # A job performed inside a request: the request's tags, then the job's.
    line = parse_line(
        "[203.0.113.5] [req-1] [ActiveJob] [SyncJob] [jid-1] Performed SyncJob (Job ID: jid-1) "
        "from Inline(default) in 1.5ms",
        tags_key=log_tags_key(("remote_ip", "request_id")),
    )
    assert (line.request_id, line.job_id, line.job_class) == ("req-1", "jid-1", "SyncJob")
    assert log_tags_key(("request_id",)) is None


# -- connection-pool timeouts -------------------------------------------------------------

POOL_TIMEOUT = (
    "[4f1c2a9e-1b2c-4d5e-8f90-123456789abc] ActiveRecord::ConnectionTimeoutError (could not "
    "obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled "
    "connections were in use):"
)


def docker_stamp(at: float) -> str:
    whole = int(at)
    nanos = int((at - whole) * 1e9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{nanos:09d}Z"


def test_pool_timeouts_of_the_last_minute_are_counted() -> None:
    now = 1_800_000_000.0
    texts = [
        f"{docker_stamp(now - 5)} {POOL_TIMEOUT}",
        f"{docker_stamp(now - 4)} [ActiveJob] [SyncJob] [jid-1] Error performing SyncJob "
        "(Job ID: jid-1) from SolidQueue(default) in 5001.2ms: "
        "ActiveRecord::ConnectionTimeoutError (could not obtain a connection):",
        f"{docker_stamp(now - 90)} {POOL_TIMEOUT}",  # too old for the minute
        f"{docker_stamp(now - 3)} [r] Started GET \"/ActiveRecord::ConnectionTimeoutError\" "
        "for 203.0.113.5 at 2026-11-28 12:00:00 +0900",  # names it, but no exception
        f"{docker_stamp(now - 2)} [r] Completed 200 OK in 3ms",
    ]
    lines = parse_lines(texts)
    stamps = exception_stamps(lines, POOL_TIMEOUT_EXCEPTION)
    assert len(stamps) == 3
    stats = RequestStats()
    stats.add_pool_timeouts(stamp / 1e9 for stamp in stamps)
    assert stats.snapshot(now).pool_timeouts_last_minute == 2
    assert stats.snapshot(now + 120).pool_timeouts_last_minute == 0
    assert RequestStats().snapshot(now).pool_timeouts_last_minute == 0


def test_the_log_tail_counts_pool_timeouts_and_reads_the_configured_tags(tmp_path: Path) -> None:
    now = time.time()
    request_id = "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"
    saved = tmp_path / "web.log"
    saved.write_text(
        f"{docker_stamp(now - 2)} [203.0.113.5] [{request_id}] Completed 500 Internal Server "
        "Error in 5003ms\n"
        f"{docker_stamp(now - 1)} [203.0.113.5] [{request_id}] "
        + POOL_TIMEOUT.split("] ", 1)[1]
        + "\n"
    )
    config = Config(
        service=ServiceConfig(kamal_service="shiojiri-rainbow", health_url="https://x.test/up"),
        logs=LogsConfig(tags=("remote_ip", "request_id")),
    )
    received: list[LogEntry] = []
    tail = LogTail(config, {}, received.extend, files=(saved,))

    async def follow() -> None:
        tail.start()
        try:
            for _ in range(200):
                if tail.states.get(saved.name) and tail.states[saved.name].state == "ended":
                    break
                await asyncio.sleep(0.01)
        finally:
            await tail.stop()

    asyncio.run(follow())
    lines = [entry for entry in received if isinstance(entry, LogLine)]
    assert [line.request_id for line in lines] == [request_id, request_id]
    assert lines[1].exception_class == POOL_TIMEOUT_EXCEPTION
    snapshot = tail.request_snapshot()
    assert snapshot.pool_timeouts_last_minute == 1
    assert snapshot.window(60).request_count == 1


# -- the demo is held to the same templates ------------------------------------------------


def test_the_demos_failing_jobs_log_rails_8_failure_lines() -> None:
    import random

    from rainbow_tui.demo.faults import FaultState
    from rainbow_tui.demo.loggen import JobLogSource, LogContext

    faults = FaultState()
    faults.failing_job_class = "ImageVariantJob"
    source = JobLogSource(random.Random(7), LogContext(faults, lambda: True, lambda: "abc123"))
    seen: dict[str, LogLine] = {}
    for _ in range(300):
        for text in source.next_lines(1_800_000_000 * 10**9):
            line = parse_line(f"2026-11-28T03:00:00.123456789Z {text}")
            for word in ("Stopped retrying ", "Discarded ", "Error performing "):
                if line.message.startswith(word):
                    seen[word] = line
    assert sorted(seen) == ["Discarded ", "Error performing ", "Stopped retrying "]
    for line in seen.values():
        assert line.level is LogLevel.ERROR and is_error(line), line.text
        assert not line.text.split(" ", 1)[1].startswith(("E, ", "I, "))  # no severity prefix
        assert line.job_class == "ImageVariantJob" and line.exception_class, line.text
