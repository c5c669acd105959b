"""parse_line: every log format of the stack, and arbitrary text, to a LogLine."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.logs.parse import (
    LOG_LINE_FIELDS,
    LogKind,
    LogLevel,
    LogLine,
    docker_stamp_heads,
    parse_docker_timestamp,
    parse_line,
    parse_lines,
    rails_completed_samples,
)

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
RID = "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"
STAMP = "2026-11-28T03:00:00.123456789Z"


# -- known values -------------------------------------------------------------------


def test_docker_timestamp_prefix_is_split_off_and_kept_exactly() -> None:
    line = parse_line(f"{STAMP} hello", host="app1", container="web")
    assert line.timestamp == datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=UTC)
    assert line.timestamp_text == STAMP
    assert line.raw == "hello"
    assert (line.host, line.container) == ("app1", "web")
    assert (line.kind, line.level) == (LogKind.RAW, LogLevel.UNKNOWN)


def test_line_without_timestamp_keeps_everything_in_raw() -> None:
    line = parse_line("2026-13-45T99:00:00Z not a stamp")
    assert line.timestamp is None
    assert line.timestamp_text == ""
    assert line.raw == "2026-13-45T99:00:00Z not a stamp"


def test_rails_started() -> None:
    line = parse_line(
        f'{STAMP} [{RID}] Started GET "/api/v1/rainbows" for 203.0.113.5 '
        "at 2026-11-28 12:00:00 +0900"
    )
    assert line.kind is LogKind.RAILS_STARTED
    assert (line.request_id, line.method, line.path) == (RID, "GET", "/api/v1/rainbows")
    assert line.level is LogLevel.INFO
    assert line.message.startswith("Started GET")


def test_rails_processing() -> None:
    line = parse_line(f"[{RID}] Processing by Api::V1::RainbowsController#index as JSON")
    assert (line.kind, line.request_id, line.level) == (
        LogKind.RAILS_PROCESSING,
        RID,
        LogLevel.INFO,
    )


def test_rails_completed() -> None:
    line = parse_line(
        f"[{RID}] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms "
        "(3 queries, 0 cached) | GC: 0.4ms)"
    )
    assert line.kind is LogKind.RAILS_COMPLETED
    assert (line.status, line.duration_ms, line.level) == (200, 45.0, LogLevel.INFO)


def test_completed_status_sets_level() -> None:
    server_error = parse_line(f"[{RID}] Completed 503 Service Unavailable in 4.5ms")
    not_found = parse_line(f"[{RID}] Completed 404 Not Found in 2ms")
    assert (server_error.level, server_error.duration_ms) == (LogLevel.ERROR, 4.5)
    assert not_found.level is LogLevel.WARN


def test_several_tags_keep_the_first_as_request_id() -> None:
    line = parse_line(f"[{RID}] [user 5] Completed 201 Created in 12ms")
    assert (line.kind, line.request_id, line.status) == (LogKind.RAILS_COMPLETED, RID, 201)


def test_rails_exception() -> None:
    line = parse_line(
        f"[{RID}] ActiveRecord::ConnectionTimeoutError (could not obtain a connection "
        "from the pool within 5.000 seconds (waited 5.001 seconds)):"
    )
    assert line.kind is LogKind.RAILS_EXCEPTION
    assert line.exception_class == "ActiveRecord::ConnectionTimeoutError"
    assert (line.level, line.request_id) == (LogLevel.ERROR, RID)


def test_plain_words_before_parentheses_are_not_an_exception() -> None:
    line = parse_line(f"[{RID}] Rendered rainbows (3 items)")
    assert (line.kind, line.exception_class) == (LogKind.RAILS_OTHER, None)


def test_logger_formatter_with_rails_message() -> None:
    line = parse_line(
        f"I, [2026-11-28T12:00:00.123456 #1]  INFO -- : [{RID}] Completed 500 "
        "Internal Server Error in 9ms"
    )
    assert line.kind is LogKind.RAILS_COMPLETED
    assert (line.status, line.level, line.request_id) == (500, LogLevel.ERROR, RID)


def test_logger_formatter_levels_and_progname() -> None:
    expected = {"D": "DEBUG", "I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL", "A": "ANY"}
    for letter, label in expected.items():
        line = parse_line(f"{letter}, [2026-11-28T12:00:00.123456 #7] {label:>5} -- puma: hello")
        assert line.kind is LogKind.LOGGER
        assert line.message == "hello"
    assert parse_line("W, [2026-11-28T12:00:00.123456 #7]  WARN -- : x").level is LogLevel.WARN
    assert parse_line("A, [2026-11-28T12:00:00.123456 #7]   ANY -- : x").level is (LogLevel.UNKNOWN)
    assert parse_line("F, [2026-11-28T12:00:00.123456 #7] FATAL -- :").message == ""


def test_proxy_ecs_request() -> None:
    line = parse_line(
        '{"@timestamp":"2026-11-28T03:00:00Z","log.level":"info","message":"Request",'
        '"http.request.method":"GET","url.path":"/up","http.response.status_code":200,'
        '"event.duration":1234567,"client.ip":"203.0.113.5"}'
    )
    assert line.kind is LogKind.PROXY_REQUEST
    assert (line.method, line.path, line.status) == ("GET", "/up", 200)
    assert line.duration_ms == 1.234567
    assert line.level is LogLevel.INFO


def test_proxy_ecs_nested_request_with_server_error() -> None:
    document = {
        "log": {"level": "info"},
        "message": "Request",
        "http": {"request": {"method": "POST"}, "response": {"status_code": 502}},
        "url": {"path": "/api/v1/sightings"},
        "event": {"duration": 30_000_000},
    }
    line = parse_line(json.dumps(document))
    assert (line.method, line.path, line.status, line.duration_ms) == (
        "POST",
        "/api/v1/sightings",
        502,
        30.0,
    )
    assert line.level is LogLevel.ERROR


def test_proxy_slog_request() -> None:
    line = parse_line(
        '{"time":"2026-11-28T03:00:00Z","level":"INFO","msg":"Request","method":"GET",'
        '"path":"/up","status":200,"dur":12,"req_content_length":0,'
        '"remote_addr":"203.0.113.5","request_id":"abc-1"}'
    )
    assert line.kind is LogKind.PROXY_REQUEST
    assert (line.method, line.path, line.status, line.duration_ms) == ("GET", "/up", 200, 12.0)
    assert line.request_id == "abc-1"


def test_non_request_json_keeps_its_level() -> None:
    line = parse_line('{"level":"WARN","msg":"Target failed to become healthy"}')
    assert (line.kind, line.level) == (LogKind.LOGGER, LogLevel.WARN)
    assert line.message == "Target failed to become healthy"
    assert parse_line('{"unrelated": 1}').kind is LogKind.RAW
    assert parse_line("{not json").kind is LogKind.RAW


def test_numbers_beyond_float_range_are_ignored() -> None:
    huge = "1" + "0" * 400
    line = parse_line(f'{{"msg":"Request","method":"GET","status":{huge},"dur":{huge}}}')
    assert line.kind is LogKind.PROXY_REQUEST
    assert (line.status, line.duration_ms) == (None, None)
    assert parse_line(f"[r] Completed 200 OK in {'9' * 5000}ms").duration_ms is None


def test_json_escapes_cannot_smuggle_control_characters() -> None:
    line = parse_line('{"level":"info","msg":"\\u001b]0;owned\\u0007"}')
    assert line.message == "␛]0;owned␇"


def test_job_performed() -> None:
    line = parse_line(
        "Performed RainbowSightingNotifyJob (Job ID: 3b6a9c1e-0001) "
        "from SolidQueue(default) in 123.4ms"
    )
    assert line.kind is LogKind.JOB_PERFORMED
    assert (line.job_class, line.job_id, line.queue, line.duration_ms) == (
        "RainbowSightingNotifyJob",
        "3b6a9c1e-0001",
        "default",
        123.4,
    )


def test_job_error_with_tags() -> None:
    line = parse_line(
        "[ActiveJob] [ImageVariantJob] [jid-9] Error performing ImageVariantJob "
        "(Job ID: jid-9) from SolidQueue(images) in 5.1ms: "
        "Aws::S3::Errors::ServiceUnavailable (Service Unavailable (503)):"
    )
    assert line.kind is LogKind.JOB_ERROR
    assert (line.job_class, line.job_id, line.queue) == ("ImageVariantJob", "jid-9", "images")
    assert line.exception_class == "Aws::S3::Errors::ServiceUnavailable"
    assert (line.level, line.request_id, line.duration_ms) == (LogLevel.ERROR, None, 5.1)


def test_unknown_lines_are_raw_with_a_guessed_level() -> None:
    assert parse_line("* Listening on http://0.0.0.0:3000").level is LogLevel.UNKNOWN
    assert parse_line("ERROR: relation does not exist").level is LogLevel.ERROR
    assert parse_line("WARN low disk").level is LogLevel.WARN
    assert parse_line("FATAL:  the database system is starting up").level is LogLevel.FATAL
    assert parse_line("ERRORS are fine here").level is LogLevel.UNKNOWN
    assert parse_line("").kind is LogKind.RAW


def test_terminal_escapes_in_a_line_are_made_inert() -> None:
    line = parse_line(f"{STAMP} \x1b[2J\x1b]52;c;cGF3bmVk\x07 hi")
    assert line.raw == "␛[2J␛]52;c;cGF3bmVk␇ hi"
    assert line.timestamp_text == STAMP


def test_docker_timestamp_function() -> None:
    assert parse_docker_timestamp("2026-11-28T12:00:00+09:00") == datetime(
        2026, 11, 28, 3, tzinfo=UTC
    )
    assert parse_docker_timestamp("yesterday") is None


# -- properties ---------------------------------------------------------------------


def assert_displayable(line: LogLine) -> None:
    for name in LOG_LINE_FIELDS:
        value = getattr(line, name)
        if isinstance(value, str):
            assert CONTROL_CHARACTERS.search(value) is None, name
    if line.timestamp is not None:
        assert line.timestamp.utcoffset() == timedelta(0)


text_with_log_shapes = st.one_of(
    st.text(),
    st.builds(
        "".join,
        st.lists(
            st.sampled_from(
                [
                    "[",
                    "]",
                    "{",
                    "}",
                    '"',
                    " ",
                    "(",
                    ")",
                    ":",
                    "::",
                    ",",
                    "ms",
                    "Completed ",
                    "Started ",
                    "Error performing ",
                    "Performed ",
                    "(Job ID: ",
                    "from ",
                    "SolidQueue(",
                    "I, [",
                    " #1] ",
                    " INFO -- ",
                    "E",
                    "ERROR",
                    "Foo::Bar",
                    STAMP + " ",
                    '"msg":',
                    '"status":',
                    "200",
                    "-",
                    "9" * 30,
                    "\x1b",
                    "\x00",
                ]
            )
            | st.text(max_size=5)
        ),
    ),
)


@given(text_with_log_shapes, st.text(max_size=5), st.text(max_size=5))
def test_any_text_parses_without_error_to_displayable_fields(
    raw: str, host: str, container: str
) -> None:
    assert_displayable(parse_line(raw, host, container))


@given(st.binary())
def test_any_decoded_bytes_parse(data: bytes) -> None:
    assert_displayable(parse_line(data.decode("utf-8", "replace")))


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["http", "request", "method", "status", "url", "path", "message"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)
proxy_keys = st.sampled_from(
    [
        "message",
        "msg",
        "level",
        "log.level",
        "http.request.method",
        "method",
        "url.path",
        "path",
        "http.response.status_code",
        "status",
        "event.duration",
        "dur",
        "duration",
        "request_id",
        "http",
        "event",
        "url",
    ]
)


@given(st.dictionaries(proxy_keys, json_values, max_size=8))
def test_any_json_object_parses(document: dict[str, object]) -> None:
    assert_displayable(parse_line(json.dumps(document)))


# -- round trips ----------------------------------------------------------------------

request_ids = st.uuids().map(str) | st.from_regex(r"[A-Za-z0-9-]{1,40}", fullmatch=True)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
paths = st.from_regex(r"/[A-Za-z0-9_/.?=&%-]{0,40}", fullmatch=True)
statuses = st.integers(min_value=100, max_value=599)
milliseconds = st.decimals(min_value=0, max_value=100_000, places=1).map(str)
class_names = st.from_regex(r"[A-Z][a-z]{1,8}(::[A-Z][A-Za-z]{1,8}){0,2}Job", fullmatch=True)
queues = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
logger_prefixes = st.sampled_from(["", "I, [2026-11-28T12:00:00.123456 #1]  INFO -- : "])


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=999),
)
def test_docker_timestamp_round_trip(moment: datetime, nanoseconds: int) -> None:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}{nanoseconds:03d}Z"
    line = parse_line(f"{stamp} body")
    assert line.timestamp_text == stamp
    assert line.timestamp == moment
    assert line.raw == "body"


@given(logger_prefixes, request_ids, methods, paths)
def test_started_round_trip(prefix: str, request_id: str, method: str, path: str) -> None:
    line = parse_line(
        f'{prefix}[{request_id}] Started {method} "{path}" for 203.0.113.5 '
        "at 2026-11-28 12:00:00 +0900"
    )
    assert line.kind is LogKind.RAILS_STARTED
    assert (line.request_id, line.method, line.path) == (request_id, method, path)


@given(logger_prefixes, request_ids, statuses, milliseconds)
def test_completed_round_trip(prefix: str, request_id: str, status: int, duration: str) -> None:
    line = parse_line(f"{prefix}[{request_id}] Completed {status} Some Reason in {duration}ms")
    assert line.kind is LogKind.RAILS_COMPLETED
    assert (line.request_id, line.status, line.duration_ms) == (
        request_id,
        status,
        float(duration),
    )
    if status >= 500:
        assert line.level is LogLevel.ERROR
    elif status >= 400:
        assert line.level is LogLevel.WARN
    else:
        assert line.level is LogLevel.INFO


@given(logger_prefixes, class_names, request_ids, queues, milliseconds, st.booleans())
def test_job_round_trip(
    prefix: str, job_class: str, job_id: str, queue: str, duration: str, failed: bool
) -> None:
    tags = f"[ActiveJob] [{job_class}] [{job_id}] "
    reference = f"{job_class} (Job ID: {job_id}) from SolidQueue({queue}) in {duration}ms"
    if failed:
        line = parse_line(f"{prefix}{tags}Error performing {reference}: Net::ReadTimeout (x):")
        assert (line.kind, line.level) == (LogKind.JOB_ERROR, LogLevel.ERROR)
        assert line.exception_class == "Net::ReadTimeout"
    else:
        line = parse_line(f"{prefix}{tags}Performed {reference}")
        assert (line.kind, line.level) == (LogKind.JOB_PERFORMED, LogLevel.INFO)
    assert (line.job_class, line.job_id, line.queue, line.duration_ms) == (
        job_class,
        job_id,
        queue,
        float(duration),
    )


def nest(flat: dict[str, object]) -> dict[str, object]:
    nested: dict[str, object] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        target = nested
        for parent in parents:
            child = target.setdefault(parent, {})
            assert isinstance(child, dict)
            target = child
        target[leaf] = value
    return nested


@given(
    methods,
    paths,
    statuses,
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["ecs-flat", "ecs-nested", "slog"]),
)
def test_proxy_round_trip(method: str, path: str, status: int, duration: int, shape: str) -> None:
    if shape == "slog":
        document: dict[str, object] = {
            "time": "2026-11-28T03:00:00Z",
            "level": "INFO",
            "msg": "Request",
            "method": method,
            "path": path,
            "status": status,
            "dur": duration,
        }
        expected_ms = float(duration)
    else:
        document = {
            "@timestamp": "2026-11-28T03:00:00Z",
            "log.level": "info",
            "message": "Request",
            "http.request.method": method,
            "url.path": path,
            "http.response.status_code": status,
            "event.duration": duration,
        }
        expected_ms = duration / 1e6
        if shape == "ecs-nested":
            document = nest(document)
    line = parse_line(json.dumps(document))
    assert line.kind is LogKind.PROXY_REQUEST
    assert (line.method, line.path, line.status, line.duration_ms) == (
        method,
        path,
        status,
        expected_ms,
    )
    assert line.level is (LogLevel.ERROR if status >= 500 else LogLevel.INFO)


# -- speed --------------------------------------------------------------------------

REALISTIC_MIX = [
    f'[{RID}] Started GET "/api/v1/rainbows?lat=36.1" for 203.0.113.5 at 2026-11-28 12:00:00 +0900',
    f"[{RID}] Processing by Api::V1::RainbowsController#index as JSON",
    f"[{RID}] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms (3 queries, 0 cached))",
    '{"time":"2026-11-28T03:00:00Z","level":"INFO","msg":"Request","path":"/api/v1/rainbows",'
    '"status":200,"dur":45,"method":"GET","remote_addr":"203.0.113.5","request_id":"abc"}',
    "Performed RainbowSightingNotifyJob (Job ID: 3b6a) from SolidQueue(default) in 123.4ms",
    f"I, [2026-11-28T12:00:00.123456 #1]  INFO -- : [{RID}]   Rendered index.json (3.1ms)",
    "* Listening on http://0.0.0.0:3000",
    f"[{RID}] ActiveRecord::ConnectionTimeoutError (could not obtain a connection):",
]


# -- lines parsed on first use, and batches ---------------------------------------------

STAMP_NS = int(datetime(2026, 11, 28, 3, tzinfo=UTC).timestamp()) * 10**9 + 123_456_789


def fields_of(line: LogLine) -> tuple[object, ...]:
    return (line.text, line.stamp_ns, *(getattr(line, name) for name in LOG_LINE_FIELDS))


def test_a_line_is_parsed_only_when_a_field_of_its_format_is_read() -> None:
    line = parse_line(f"{STAMP} [{RID}] Completed 503 Service Unavailable in 4.5ms", "app-1")
    assert (line.raw, line.timestamp_text, line.host) == (
        f"[{RID}] Completed 503 Service Unavailable in 4.5ms",
        STAMP,
        "app-1",
    )
    assert line.raw_length == len(line.raw)
    assert line.stamp_ns == STAMP_NS
    assert line.timestamp == datetime(2026, 11, 28, 3, 0, 0, 123456, tzinfo=UTC)
    assert line.could_be(LogKind.RAILS_COMPLETED)
    assert not line.could_be(LogKind.PROXY_REQUEST)
    assert not line.is_parsed
    assert (line.status, line.level) == (503, LogLevel.ERROR)
    assert line.is_parsed
    assert line.message == "Completed 503 Service Unavailable in 4.5ms"


def test_stamps_in_other_forms_keep_their_nanoseconds() -> None:
    line = parse_line("2026-11-28T12:00:00.123456789+09:00 x")
    assert (line.stamp_ns, line.timestamp_text, line.raw) == (
        STAMP_NS,
        "2026-11-28T12:00:00.123456789+09:00",
        "x",
    )
    assert parse_line("2026-11-28T03:00:00Z x").stamp_ns == STAMP_NS - 123_456_789
    assert parse_line("2026-11-28T03:00:00.5Z x").stamp_ns == STAMP_NS - 123_456_789 + 5 * 10**8
    assert parse_line("2026-02-30T03:00:00.000000000Z x").stamp_ns is None


def test_a_line_made_from_its_fields_says_what_it_was_given() -> None:
    moment = datetime(2026, 11, 28, 3, 0, 0, 250000, tzinfo=UTC)
    line = LogLine(
        raw="hello",
        host="app-1",
        container="web",
        timestamp=moment,
        timestamp_text="",
        kind=LogKind.RAILS_OTHER,
        level=LogLevel.WARN,
        message="hello",
        status=404,
    )
    assert (line.text, line.raw, line.timestamp_text, line.timestamp) == (
        "hello",
        "hello",
        "",
        moment,
    )
    assert (line.kind, line.level, line.status, line.request_id) == (
        LogKind.RAILS_OTHER,
        LogLevel.WARN,
        404,
        None,
    )
    assert line.could_be(LogKind.RAILS_OTHER) and not line.could_be(LogKind.RAILS_COMPLETED)


def docker_stamp(moment: datetime, nanoseconds: int) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}{nanoseconds:03d}Z"


def test_stamp_heads_of_a_docker_batch() -> None:
    texts = [f"{STAMP} one", f"{STAMP} two", "2026-11-28T03:00:01.000000000Z three"]
    assert docker_stamp_heads(texts) == [text[:31] for text in texts]
    assert docker_stamp_heads(texts[::-1]) is None  # back in time
    assert docker_stamp_heads([*texts, "no stamp"]) is None
    assert docker_stamp_heads(["2026-02-30T03:00:00.000000000Z impossible"]) is None
    assert docker_stamp_heads(["2026-11-28T03:00:00.123+09:00 other form"]) is None
    assert docker_stamp_heads([STAMP]) is None  # no space after the stamp
    assert docker_stamp_heads([]) is None


moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
docker_stamps = st.builds(docker_stamp, moments, st.integers(min_value=0, max_value=999))
odd_stamps = st.sampled_from(
    [
        "2026-11-28T03:00:00Z",
        "2026-11-28T12:00:00.5+09:00",
        "2026-02-30T03:00:00.000000000Z",
        "2026-11-28T24:00:00.000000000Z",
        "0000-01-01T00:00:00.000000000Z",
        "2026-11-28T03:00:00.000000000Z",
    ]
)
stamped_lines = st.builds(
    lambda stamp, body: f"{stamp} {body}", docker_stamps | odd_stamps, text_with_log_shapes
)
batches = st.lists(stamped_lines | text_with_log_shapes, max_size=12) | st.lists(
    docker_stamps, min_size=1, max_size=12
).map(sorted).flatmap(
    lambda stamps: st.lists(text_with_log_shapes, min_size=len(stamps), max_size=len(stamps)).map(
        lambda bodies: [f"{s} {b}" for s, b in zip(stamps, bodies, strict=True)]
    )
)


@given(batches, st.text(max_size=5))
def test_a_batch_parses_as_its_lines_one_by_one(texts: list[str], host: str) -> None:
    batch = parse_lines(texts, host, "web")
    assert [fields_of(line) for line in batch] == [
        fields_of(parse_line(text, host, "web")) for text in texts
    ]
    for line in batch:
        assert_displayable(line)


@given(batches)
def test_stamp_heads_mean_docker_stamps_in_time_order(texts: list[str]) -> None:
    heads = docker_stamp_heads(texts)
    if heads is None:
        return
    lines = [parse_line(text) for text in texts]
    assert [line.timestamp_text for line in lines] == [head[:30] for head in heads]
    stamps = [line.stamp_ns for line in lines]
    assert None not in stamps and stamps == sorted(stamps)  # type: ignore[type-var]


@given(text_with_log_shapes)
def test_could_be_never_rules_out_the_kind_a_line_has(raw: str) -> None:
    kind = parse_line(raw).kind
    assert parse_line(raw).could_be(kind)


@given(st.dictionaries(proxy_keys, json_values, max_size=8), st.booleans())
def test_could_be_never_rules_out_a_proxy_request(
    document: dict[str, object], stamped: bool
) -> None:
    raw = (f"{STAMP} " if stamped else "") + json.dumps(document)
    kind = parse_line(raw).kind
    assert parse_line(raw).could_be(kind)


completed_like = st.builds(
    lambda prefix, tags, status, reason, duration, rest: (
        f"{prefix}{tags}Completed {status}{reason} in {duration}ms{rest}"
    ),
    st.sampled_from(["", f"{STAMP} ", "I, [2026-11-28T12:00:00.123456 #1]  INFO -- : ", "x"]),
    st.lists(st.sampled_from([f"[{RID}] ", "[user 5]", "[", "] ", "[ActiveJob] ", "[a]  "])).map(
        "".join
    ),
    st.sampled_from(["200", "503", "2000", "20", "٥٠٠"]),
    st.sampled_from(["", " OK", "OK", " Service Unavailable"]),
    st.sampled_from(["45", "4.5", "9" * 20, "", "1.", "x"]),
    st.sampled_from(["", " (Views: 1.2ms)", " in 3ms", "\x1b[0m"]),
)


@given(completed_like | text_with_log_shapes)
def test_rails_completed_reads_what_the_parse_reads(raw: str) -> None:
    parsed = parse_line(raw)
    expected = None
    if parsed.kind is LogKind.RAILS_COMPLETED:
        assert parsed.status is not None and parsed.duration_ms is not None
        expected = (parsed.duration_ms, parsed.status)
    assert parse_line(raw).rails_completed() == expected
    assert parsed.rails_completed() == expected


@given(
    st.lists(
        st.builds(lambda stamp, raw: f"{stamp} {raw}", docker_stamps | odd_stamps, completed_like)
        | completed_like,
        max_size=6,
    )
)
def test_completed_samples_are_what_each_line_says(texts: list[str]) -> None:
    expected = []
    for text in texts:
        line = parse_line(text)
        sample, stamp_ns = line.rails_completed(), line.stamp_ns
        if sample is not None and stamp_ns is not None:
            expected.append((stamp_ns, *sample))
    lines: list[object] = [*parse_lines(texts), "not a line"]
    assert rails_completed_samples(lines) == expected
    for line in lines[:-1]:
        assert isinstance(line, LogLine)
        assert line.level is not None  # parsed now: the other way
    assert rails_completed_samples(lines) == expected


def test_could_reach_rules_out_plain_info_lines_unparsed() -> None:
    started = parse_line(
        f'{STAMP} [{RID}] Started GET "/" for 203.0.113.5 at 2026-11-28 12:00:00 +0900'
    )
    assert not started.could_reach(LogLevel.WARN) and not started.is_parsed
    assert started.could_reach(LogLevel.INFO)
    assert parse_line(f"{STAMP} W, [2026-11-28T12:00:00.1 #1]  WARN -- : x").could_reach(
        LogLevel.WARN
    )
    assert not parse_line(f"{STAMP} W, [2026-11-28T12:00:00.1 #1]  WARN -- : x").could_reach(
        LogLevel.ERROR
    )
    assert parse_line(f"{STAMP} [r] Foo::Bar (boom):").could_reach(LogLevel.ERROR)
    assert not parse_line(f"{STAMP} [{RID}] Completed 200 OK in 3ms").could_have_request_id("other")
    assert parse_line(f"{STAMP} [{RID}] Completed 200 OK in 3ms").could_have_request_id(RID)
    assert parse_line('{"request_id":"\\u0061bc"}').could_have_request_id("abc")


exception_like = st.builds(
    lambda prefix, name, rest: f"{prefix}{name}{rest}",
    st.sampled_from(
        ["", f"{STAMP} ", f"[{RID}] ", "E, [x #1] ERROR -- : ", "[ActiveJob] [J] [j1] "]
    ),
    st.sampled_from(
        ["Foo::Bar", "NetError", "ReadTimeout", "Plain", "A::B::CInvalid", "Интерфейс"]
    ),
    st.sampled_from([" (boom):", " (x", "(y)", " ", ""]),
)


@given(completed_like | exception_like | text_with_log_shapes)
def test_could_reach_never_rules_out_a_line_that_gets_there(raw: str) -> None:
    parsed = parse_line(raw)
    severity, status = parsed.level.severity, parsed.status
    for level in (LogLevel.WARN, LogLevel.ERROR, LogLevel.FATAL):
        server_error = level is LogLevel.ERROR and (status or 0) >= 500
        if severity >= level.severity or server_error:
            assert parse_line(raw).could_reach(level), level


@given(
    st.dictionaries(proxy_keys, json_values, max_size=8) | st.none(),
    completed_like | text_with_log_shapes,
)
def test_could_reach_and_request_ids_for_json_and_text(
    document: dict[str, object] | None, raw: str
) -> None:
    if document is not None:
        raw = json.dumps(document)
    parsed = parse_line(raw)
    if parsed.level.severity >= LogLevel.WARN.severity or (parsed.status or 0) >= 400:
        assert parse_line(raw).could_reach(LogLevel.WARN)
    if parsed.request_id is not None:
        assert parse_line(raw).could_have_request_id(parsed.request_id)
