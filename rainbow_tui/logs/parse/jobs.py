"""Active Job and Solid Queue log subscriber messages.

Templates of the log subscribers (tests/test_log_templates.py transcribes them from
Rails 7.1-8.1 and Solid Queue 1.x).  Rails 8 writes no severity prefix, so each
template gives the level its subscriber logs it at.  Rails' message dispatch
(``rails.parse_body``) calls these parses by the message's first words; each
returns False when the message is not of its template.
"""

from __future__ import annotations

import re
from typing import Final

from rainbow_tui.logs.parse.fields import (
    CLASS_NAME,
    MILLISECONDS,
    LogKind,
    LogLevel,
    ScratchFields,
    split_exception,
)
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

_JOB_ID = r"\(Job ID: ([^)]*)\)"
_ADAPTER = r"[A-Za-z0-9_:]+\(([^)]*)\)"
_JOB_REFERENCE = r"(" + CLASS_NAME + r") " + _JOB_ID + r" (?:from|to) " + _ADAPTER
_PERFORMED = LazyPattern(r"Performed " + _JOB_REFERENCE + r"(?: in " + MILLISECONDS + ")?")
_ERROR_PERFORMING = LazyPattern(
    r"Error performing " + _JOB_REFERENCE + r"(?: in " + MILLISECONDS + ")?(?:: (.*))?"
)
# Performing/Enqueued name their adapter and queue; the other events only the job.
_JOB_WITH_QUEUE = LazyPattern(r"(?:Performing|Enqueued) " + _JOB_REFERENCE)
_JOB_ONLY = LazyPattern(
    r"(?:Retrying|Discarded|Stopped retrying|Interrupted|Resuming) (" + CLASS_NAME + r") "
    + _JOB_ID
)
_DUE_TO = LazyPattern(r" due to a (" + CLASS_NAME + r") \(")
_FAILED_ENQUEUING = LazyPattern(
    r"Failed enqueuing (" + CLASS_NAME + r") to " + _ADAPTER + r"(: (" + CLASS_NAME + r") \()?"
)
# Active Job continuations (Rails 8.1): "Step 'name' ... for SomeJob (Job ID: id) in 1.2ms".
_STEP = LazyPattern(
    r"(Error during step|Step) '.*' (?:skipped (" + CLASS_NAME + r")$|.*?for ("
    + CLASS_NAME + r") " + _JOB_ID + r"(?: in " + MILLISECONDS + r")?(?:: ("
    + CLASS_NAME + r") \()?)"
)
_SOLID_QUEUE = LazyPattern(
    r"SolidQueue-\d[0-9A-Za-z.]* (.+?) \(" + MILLISECONDS + r"\) *(.*)"
)
_SOLID_QUEUE_ERROR = LazyPattern(r'(?:^|, )error: "(' + CLASS_NAME + r')[ "]')
_SOLID_QUEUE_JOB_ID = LazyPattern(r'(?:^|, )active_job_id: "([^"]*)"')
# Solid Queue's actions (lib/solid_queue/log_subscriber.rb, the same in 1.0-1.5), and
# those that end in a process kind ("Started Worker") without it.
_SOLID_QUEUE_LEVELS: Final = {
    "Dispatch scheduled jobs": LogLevel.DEBUG,
    "Claim jobs": LogLevel.DEBUG,
    "Release claimed jobs": LogLevel.INFO,
    "Fail claimed jobs": LogLevel.WARN,
    "Release claimed job": LogLevel.INFO,
    "Retry failed jobs": LogLevel.DEBUG,
    "Retry failed job": LogLevel.DEBUG,
    "Discard jobs": LogLevel.DEBUG,
    "Discard job": LogLevel.DEBUG,
    "Unblock jobs": LogLevel.DEBUG,
    "Release blocked job": LogLevel.DEBUG,
    "Error enqueuing recurring task": LogLevel.ERROR,
    "Enqueued recurring task outside Solid Queue": LogLevel.DEBUG,
    "Skipped recurring task – already dispatched": LogLevel.DEBUG,
    "Enqueued recurring task": LogLevel.DEBUG,
    "Prune dead processes": LogLevel.DEBUG,
    "Error in thread": LogLevel.ERROR,
    "Supervisor wasn't terminated gracefully - shutdown timeout exceeded": LogLevel.WARN,
    "Supervisor terminated gracefully": LogLevel.INFO,
    "Supervisor terminated immediately": LogLevel.INFO,
    "Received unhandled signal": LogLevel.ERROR,
    "Tried to replace forked process but it had already died": LogLevel.WARN,
}
_SOLID_QUEUE_PROCESS_LEVELS: Final = {
    "Started": LogLevel.INFO,
    "Shutdown": LogLevel.INFO,
    "Register": LogLevel.DEBUG,
    "Error registering": LogLevel.WARN,
    "Deregister": LogLevel.DEBUG,
    "Error deregistering": LogLevel.WARN,
    "Replaced terminated": LogLevel.INFO,
}

# Pre-filter for a level filter (``LogLine.could_reach``): every message above that
# these parses give ERROR has one of these words in it, and every one they give WARN
# one of these or of MAY_WARN_WORDS ("Error " stands for Error performing, Error
# during step and Solid Queue's Error in thread, enqueuing, (de)registering).  A
# line with none of them cannot reach WARN here, so a filter need not parse it.
MAY_ERROR_WORDS: Final = (
    "Error ",
    "Failed enqueuing ",
    "Discarded ",
    "Stopped retrying ",
    "Received unhandled signal",
)
MAY_WARN_WORDS: Final = (
    "Fail claimed jobs",
    "terminated gracefully - shutdown",
    "Tried to replace forked",
)


def _set_job(fields: ScratchFields, match: re.Match[str]) -> None:
    fields.job_class = match.group(1)
    fields.job_id = match.group(2)
    fields.queue = match.group(3)


def parse_performed(body: str, fields: ScratchFields) -> bool:
    """``Performed SomeJob (Job ID: id) from SolidQueue(queue) in 1.2ms``."""
    match = _PERFORMED.match(body)
    if match is None:
        return False
    fields.kind = LogKind.JOB_PERFORMED
    _set_job(fields, match)
    if match.group(4) is not None:
        fields.duration_ms = float(match.group(4))
    fields.raise_level(LogLevel.INFO)
    return True


def parse_error_performing(body: str, fields: ScratchFields) -> bool:
    """``Error performing SomeJob (Job ID: id) from …(queue) in 1.2ms: Some::Error (…)``."""
    match = _ERROR_PERFORMING.fullmatch(body)
    if match is None:
        return False
    fields.kind = LogKind.JOB_ERROR
    _set_job(fields, match)
    if match.group(4) is not None:
        fields.duration_ms = float(match.group(4))
    error = match.group(5)
    if error:
        split = split_exception(error)
        if split is not None:
            fields.exception_class = split[0]
    fields.raise_level(LogLevel.ERROR)
    return True


def parse_job_with_queue(body: str, fields: ScratchFields) -> bool:
    """``Performing``/``Enqueued`` a job, or ``Enqueued 3 jobs to SolidQueue (…)``."""
    match = _JOB_WITH_QUEUE.match(body)
    if match is not None:
        _set_job(fields, match)
    elif body.startswith("Enqueued ") and body[9:10].isdigit():
        # enqueue_all names no job: from inside a job, the tags are that job's.
        fields.job_class = fields.job_id = None
    else:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.raise_level(LogLevel.INFO)
    return True


def parse_job_event(body: str, fields: ScratchFields, level: LogLevel) -> bool:
    """Retrying/Discarded/Stopped retrying/Interrupted/Resuming: no adapter part."""
    match = _JOB_ONLY.match(body)
    if match is None:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.job_class = match.group(1)
    fields.job_id = match.group(2)
    due = _DUE_TO.search(body, match.end())
    if due is not None:
        fields.exception_class = due.group(1)
    fields.raise_level(level)
    return True


def parse_failed_enqueuing(body: str, fields: ScratchFields) -> bool:
    match = _FAILED_ENQUEUING.match(body)
    if match is None:
        # "Failed enqueuing 2 jobs to SolidQueue" (enqueue_all, at info).
        if not body[17:18].isdigit():
            return False
        fields.kind = LogKind.RAILS_OTHER
        fields.job_class = fields.job_id = None
        fields.raise_level(LogLevel.INFO)
        return True
    fields.kind = LogKind.RAILS_OTHER
    fields.job_class = match.group(1)
    fields.job_id = None
    fields.queue = match.group(2)
    if match.group(3) is None:
        fields.raise_level(LogLevel.INFO)  # a before_enqueue callback halted it
    else:
        fields.exception_class = match.group(4)
        fields.raise_level(LogLevel.ERROR)
    return True


def parse_step(body: str, fields: ScratchFields) -> bool:
    match = _STEP.match(body)
    if match is None:
        return False
    failed, skipped_class, job_class, job_id, duration, error = match.groups()
    fields.kind = LogKind.RAILS_OTHER
    if skipped_class is not None:
        fields.job_class = skipped_class
    else:
        fields.job_class, fields.job_id = job_class, job_id
        if duration is not None:
            fields.duration_ms = float(duration)
    if failed == "Error during step":
        fields.exception_class = error
        fields.raise_level(LogLevel.ERROR)
    else:
        fields.raise_level(LogLevel.INFO)
    return True


def parse_solid_queue(body: str, fields: ScratchFields) -> bool:
    """``SolidQueue-1.2.0 Claim jobs (1.2ms)  process_id: 1, job_ids: [1]``."""
    match = _SOLID_QUEUE.fullmatch(body)
    if match is None:
        return False
    action, duration, attributes = match.groups()
    level = _SOLID_QUEUE_LEVELS.get(action)
    if level is None:
        level = _SOLID_QUEUE_PROCESS_LEVELS.get(action.rpartition(" ")[0])
        if level is None:
            return False
    fields.kind = LogKind.RAILS_OTHER
    fields.duration_ms = float(duration)
    fields.raise_level(level)
    if "error: " in attributes:
        error = _SOLID_QUEUE_ERROR.search(attributes)
        if error is not None:
            fields.exception_class = error.group(1)
    if "active_job_id: " in attributes:
        job_id = _SOLID_QUEUE_JOB_ID.search(attributes)
        if job_id is not None:
            fields.job_id = job_id.group(1)
    return True
