"""Properties of the demo hosts' text handling that a console relies on."""

from __future__ import annotations

import shlex

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.demo.host_shell import parse_command_line, parse_docker_time
from rainbow_tui.demo.loggen import LogStream, docker_timestamp

# 2001-09-09 .. 2100-01-01, in nanoseconds
moments = st.integers(min_value=1_000_000_000 * 10**9, max_value=4_102_444_800 * 10**9)


@given(moments)
def test_a_docker_timestamp_reads_back_exactly_as_an_exclusive_since(ts_ns: int) -> None:
    # A reader resuming with --since <last stamp seen> must get only newer lines.
    assert parse_docker_time(docker_timestamp(ts_ns)) == (ts_ns, True)


@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=60),
       st.integers(min_value=0, max_value=70), st.data())
def test_since_and_tail_select_exactly(gaps: list[int], tail: int, data: st.DataObject) -> None:
    stream = LogStream("c" * 64, capacity=1000)
    ts = 1_800_000_000 * 10**9
    entries = []
    for gap in gaps:
        ts += gap
        entries.append((ts, f"line {ts}\n".encode()))
    stream.append_many(entries)
    pivot = data.draw(st.sampled_from(entries))[0]
    after, _ = stream.select(since_ns=pivot, since_inclusive=False)
    assert after == [e for e in entries if e[0] > pivot]
    last, next_seq = stream.select(tail=tail)
    assert last == (entries[-tail:] if tail else [])
    assert next_seq == len(entries)


# A quoted word made only of operator characters ('|') is read as the operator: shlex
# does not say what was quoted.  Commands never need such an argument.
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1, max_size=12,
).filter(lambda word: not all(char in "();<>|&" for char in word))


@given(st.lists(words, min_size=1, max_size=6))
def test_quoted_words_reach_the_command_unchanged(argv: list[str]) -> None:
    assert parse_command_line(shlex.join(argv)) == [(";", [argv])]
