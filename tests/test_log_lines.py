"""LineSplitter and make_inert: remote bytes become complete, safe lines."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.logs.lines import LineSplitter, make_inert, make_inert_all, truncation_marker

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def split_all(chunks: list[bytes], max_line_bytes: int = 64 * 1024) -> list[str]:
    splitter = LineSplitter(max_line_bytes)
    lines: list[str] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
    lines.extend(splitter.flush())
    return lines


def reference_lines(data: bytes) -> list[str]:
    """The obvious whole-buffer split, for streams without over-long lines."""
    pieces = re.split(rb"\r\n|\r|\n", data)
    if pieces[-1] == b"":
        pieces.pop()
    return [piece.decode("utf-8", "replace") for piece in pieces]


def cut_into_chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = []
    start = 0
    for point in points:
        chunks.append(data[start:point])
        start = point
    chunks.append(data[start:])
    return chunks


# Bytes rich in line endings and in pieces of multi-byte characters.
stream_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"\n", b"\r", b"\r\n", b"\xe8\x99\xb9", b"\xf0\x9f\x8c\x88", b"\xff"]),
        st.binary(max_size=12),
    ),
    max_size=40,
).map(b"".join)


# -- known values -------------------------------------------------------------------


def test_lines_spanning_chunks_are_joined() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"Started GET") == []
    assert splitter.feed(b' "/up"\nCompleted') == ['Started GET "/up"']
    assert splitter.feed(b" 200 OK\n") == ["Completed 200 OK"]
    assert splitter.flush() == []


def test_crlf_split_across_chunks_ends_one_line() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"first\r") == ["first"]
    assert splitter.feed(b"\nsecond\r\n") == ["second"]
    assert splitter.feed(b"\r") == [""]


def test_lone_cr_and_blank_lines_are_kept() -> None:
    assert split_all([b"a\rb\n\nc\r\r\nd"]) == ["a", "b", "", "c", "", "d"]


def test_multibyte_character_split_across_chunks_decodes() -> None:
    data = "虹が見えた 🌈\n".encode()
    for cut in range(1, len(data)):
        assert split_all([data[:cut], data[cut:]]) == ["虹が見えた 🌈"]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert split_all([b"bad \xff\xfe byte\n"]) == ["bad \ufffd\ufffd byte"]


def test_unterminated_last_line_comes_with_flush() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntwo") == ["one"]
    assert splitter.flush() == ["two"]
    assert splitter.flush() == []


def test_over_long_line_is_cut_with_visible_marker() -> None:
    lines = split_all([b"x" * 100 + b"\nshort\n"], max_line_bytes=10)
    assert lines == ["x" * 10 + truncation_marker(90), "short"]
    assert truncation_marker(1048576) == " … [truncated 1048576 bytes]"


def test_megabyte_line_without_newline_does_not_grow_the_buffer() -> None:
    splitter = LineSplitter(max_line_bytes=64 * 1024)
    for _ in range(16):
        assert splitter.feed(b"y" * 65536) == []
        assert splitter.pending_bytes <= 64 * 1024
    [line] = splitter.feed(b"tail\nnext\n")[:1]
    assert line == "y" * 65536 + truncation_marker(16 * 65536 + 4 - 65536)
    assert splitter.flush() == []


def test_truncation_does_not_split_a_character() -> None:
    # "虹" is three bytes; a 4-byte cap keeps one whole character, not 1⅓.
    [line] = split_all(["虹虹虹".encode() + b"\n"], max_line_bytes=4)
    assert line == "虹" + truncation_marker(6)


def test_non_positive_cap_is_rejected() -> None:
    try:
        LineSplitter(0)
    except ValueError as error:
        assert "positive" in str(error)
    else:
        raise AssertionError("LineSplitter(0) was accepted")


# -- properties ---------------------------------------------------------------------


@given(data=stream_bytes, cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8))
def test_any_chunking_gives_the_whole_buffer_split(data: bytes, cuts: list[int]) -> None:
    assert split_all(cut_into_chunks(data, cuts)) == reference_lines(data)


@given(
    data=stream_bytes,
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    cap=st.integers(min_value=1, max_value=24),
)
def test_capped_lines_keep_a_prefix_and_count_what_was_dropped(
    data: bytes, cuts: list[int], cap: int
) -> None:
    splitter = LineSplitter(cap)
    lines: list[str] = []
    for chunk in cut_into_chunks(data, cuts):
        lines.extend(splitter.feed(chunk))
        assert splitter.pending_bytes <= cap
    lines.extend(splitter.flush())

    expected = reference_lines(data)
    originals = re.split(rb"\r\n|\r|\n", data)
    assert len(lines) == len(expected)
    for line, original in zip(lines, originals, strict=False):
        if len(original) <= cap:
            assert line == original.decode("utf-8", "replace")
            continue
        match = re.fullmatch(r"(.*) … \[truncated (\d+) bytes\]", line, re.DOTALL)
        assert match is not None, line
        kept = len(original) - int(match.group(2))
        # At most three bytes of a cut character are given back.
        assert cap - 3 <= kept <= cap
        assert match.group(1) == original[:kept].decode("utf-8", "replace")


@given(st.text())
def test_inert_text_has_no_control_characters_but_tab(text: str) -> None:
    inert = make_inert(text)
    assert CONTROL_CHARACTERS.search(inert) is None
    assert inert.count("\t") == text.count("\t")


@given(st.text(alphabet=st.characters(blacklist_categories=["Cc"])))
def test_text_without_controls_is_returned_unchanged(text: str) -> None:
    assert make_inert(text) is text


def test_inert_scheme_known_values() -> None:
    assert make_inert("\x1b[31mred\x1b[0m") == "␛[31mred␛[0m"
    assert make_inert("\x1b]0;pwned\x07") == "␛]0;pwned␇"
    assert make_inert("nul\x00 del\x7f") == "nul␀ del␡"
    assert make_inert("csi\x9b2J") == "csi\\x9b2J"
    assert make_inert("a\tb\r\n") == "a\tb␍␊"
    assert make_inert("[bold]not markup[/bold]") == "[bold]not markup[/bold]"


control_rich_text = st.text(
    alphabet=st.sampled_from(
        [
            "a",
            " ",
            "\t",
            "\n",
            "\r",
            "\x00",
            "\x1b",
            "\x7f",
            "\x85",
            "\x9b",
            "\x9f",
            "\xa0",
            "é",
            "虹",
        ]
    )
    | st.characters(),
    max_size=12,
)


@given(st.lists(control_rich_text, max_size=8))
def test_inert_all_is_inert_of_each(texts: list[str]) -> None:
    assert make_inert_all(texts) == [make_inert(text) for text in texts]


def test_inert_all_returns_a_clean_batch_itself() -> None:
    texts = ["plain", "tab\there", "虹 ¡ é"]
    assert make_inert_all(texts) is texts
    assert make_inert_all(["a", "b\x85"]) == ["a", "b\\x85"]
    assert make_inert_all(["a", "b\n"]) == ["a", "b␊"]


@given(
    data=stream_bytes
    | st.lists(st.sampled_from([b"\x1b[31m", b"\xc2\x85", b"\xc2", b"\x85", b"\x00", b"ok"])).map(
        b"".join
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    cap=st.sampled_from([3, 8, 64 * 1024]),
)
def test_an_inert_splitter_gives_each_line_inert(data: bytes, cuts: list[int], cap: int) -> None:
    plain, inert = LineSplitter(cap), LineSplitter(cap, inert=True)
    for chunk in cut_into_chunks(data, cuts):
        assert inert.feed(chunk) == [make_inert(line) for line in plain.feed(chunk)]
    assert inert.flush() == [make_inert(line) for line in plain.flush()]
