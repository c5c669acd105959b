"""The incident store against real kills, a really full disk and a second process.

Nothing here fakes the file system: children are real interpreters killed with
SIGKILL at random moments, the full disk is a 64 KiB tmpfs (when this machine lets
us mount one), the lock is contended by another process.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import textwrap
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from rainbow_tui.incidents.model import (
    ActionItem,
    IncidentRuleError,
    Note,
    command_finished,
    command_started,
    edit_time,
    new_incident,
    note,
    pin_evidence,
    skip_step,
    start_step,
    transition,
)
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.store import (
    PAGE_SIZE,
    IncidentStore,
    ReadOnlyIncident,
    StoreWriteError,
    decode_incident,
)
from tests.helpers.disks import TinyDisk
from tests.helpers.incidents import T0, make_alert

REPO = Path(__file__).resolve().parent.parent
KILLS = 120


def _create(state_dir: Path) -> tuple[IncidentStore, str]:
    store = IncidentStore(state_dir)
    incident = store.create(
        new_incident(
            runbook=pick_runbook("service:health"), alert=make_alert(), at=T0 + timedelta(minutes=2),
            author="tanaka",
        )
    )
    return store, incident.id


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, cwd=REPO,
    )


# A recorder that never stops: notes of random sizes (some larger than a page, so
# the whole-file rewrite is killed too), now and then a header change.  Each event
# id is printed only after record() returned.
RECORDER = """
    import random, sys
    from rainbow_tui.incidents.model import note
    from rainbow_tui.incidents.store import IncidentStore

    state_dir, incident_id, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    store = IncidentStore(state_dir)
    opened = store.open(incident_id, wait_s=30)
    assert opened.writable, opened.held_by
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        incident = store.incident(incident_id)
        size = rng.choice([10, 200, 1500, 3000, 4500, 9000]) if n % 7 else rng.randint(1, 4000)
        text = (f"seed {seed} note {n} " + "雨" * size)[: size + 20]
        if n % 23 == 0:
            store.update(incident_id, lambda i: i.with_postmortem(summary=f"revision {n}"))
        incident = store.record(incident_id, note(incident, text, author="child"))
        print(incident.events[-1].id, len(text), flush=True)
"""


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_or_tears_a_recorded_event(tmp_path: Path) -> None:
    creator, incident_id = _create(tmp_path)
    creator.close()
    path = tmp_path / f"{incident_id}.toml"
    rng = random.Random(20261128)
    acknowledged: dict[int, int] = {}
    for attempt in range(KILLS):
        child = _child(RECORDER, str(tmp_path), incident_id, str(attempt))
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(rng.uniform(0.0, 0.15))
        child.send_signal(signal.SIGKILL)
        output = child.stdout.read()
        child.wait()
        # Only a whole line was heard: the kill can land while the child is still
        # writing its last one, and a torn tail acknowledges nothing.
        *heard, _torn_tail = output.split("\n")
        for line in heard:
            event_id, length = line.split()
            acknowledged[int(event_id)] = int(length)

        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))  # the file itself always parses
        loaded = decode_incident(data, path)
        # Linux may cut a multi-page write() short when SIGKILL arrives mid-call
        # (mm/filemap.c generic_perform_write checks fatal_signal_pending per page),
        # so a tail torn by the kill is possible; the repair may only ever drop an
        # event nobody was told of, which the acknowledged checks below prove.
        assert loaded.recovered == "" or loaded.recovered.startswith("dropped ")
        texts = {e.id: e.text for e in loaded.incident.events if isinstance(e, Note)}
        missing = [i for i in acknowledged if i not in texts]
        assert missing == [], f"kill {attempt}: acknowledged events lost"
        assert all(len(texts[i]) == n for i, n in acknowledged.items())
        assert [e["id"] for e in raw["events"]] == list(range(1, len(raw["events"]) + 1))
    assert len(acknowledged) > KILLS  # the children really got to record between kills


RESUMER = """
    import sys
    from rainbow_tui.incidents.model import command_finished, command_started, note, start_step, transition
    from rainbow_tui.incidents.runbooks import pick_runbook
    from rainbow_tui.incidents.store import IncidentStore

    store = IncidentStore(sys.argv[1])
    incident_id = sys.argv[2]
    store.open(incident_id)
    runbook = pick_runbook("service:health")
    record = lambda event: store.record(incident_id, event)
    incident = record(transition(store.incident(incident_id), "acknowledged", author="sato"))
    incident = record(start_step(incident, runbook, 0, author="sato"))
    incident = record(command_started(incident, 0, "kamal app details", "kamal", author="sato"))
    started = incident.events[-1]
    incident = record(command_finished(incident, started, "ok", exit_code=0, duration_s=1.5,
                                       excerpt="App Host: app-1", author="sato"))
    incident = record(start_step(incident, runbook, 1, author="sato"))
    incident = record(command_started(incident, 1, "kamal app boot", "kamal", destructive=True,
                                      author="sato"))
    print("recorded", len(incident.events), flush=True)
    sys.stdin.read()  # the session drops here: killed while booting
"""


def test_resume_after_a_kill_gives_the_exact_step_and_everything_recorded(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    store.close()
    child = _child(RESUMER, str(tmp_path), incident_id)
    assert child.stdout is not None
    assert child.stdout.readline().split() == ["recorded", "7"]
    child.kill()
    child.wait()

    resumed = IncidentStore(tmp_path).open(incident_id)
    assert resumed.writable  # the dead console's lock went with it
    incident = resumed.incident
    assert incident.status == "acknowledged"
    assert incident.current_step == 1
    assert incident.step_state(0) == "in_progress" and incident.step_state(1) == "in_progress"
    kinds = [event.__struct_config__.tag for event in incident.events]
    assert kinds == [
        "status", "status", "step_started", "command_started", "command_finished",
        "step_started", "command_started",
    ]
    assert incident.events[4].excerpt == "App Host: app-1"  # type: ignore[union-attr]
    assert incident.events[-1].command == "kamal app boot"  # type: ignore[union-attr]


HOLDER = """
    import sys
    from rainbow_tui.incidents.store import IncidentStore

    store = IncidentStore(sys.argv[1])
    opened = store.open(sys.argv[2])
    print(opened.access, flush=True)
    sys.stdin.readline()
    store.close()
    print("released", flush=True)
    sys.stdin.readline()
"""


def test_a_second_console_gets_the_incident_read_only_then_waits_for_the_lock(
    tmp_path: Path,
) -> None:
    store, incident_id = _create(tmp_path)
    store.close()
    holder = _child(HOLDER, str(tmp_path), incident_id)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "write"

        second = IncidentStore(tmp_path)
        opened = second.open(incident_id)
        assert opened.access == "read-only"
        assert f"pid {holder.pid}" in opened.held_by
        with pytest.raises(ReadOnlyIncident) as refused:
            second.record(incident_id, note(opened.incident, "from the second console"))
        assert f"pid {holder.pid}" in str(refused.value)
        assert second.load(incident_id) == opened.incident  # nothing was written

        # Waiting for the lock with a timeout that runs out still gives read-only.
        assert second.open(incident_id, wait_s=0.2).access == "read-only"

        holder.stdin.write("release\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        taken = second.refresh(incident_id)
        assert taken.access == "write"
        incident = second.record(incident_id, note(taken.incident, "taken over", author="b"))
        assert second.load(incident_id) == incident
    finally:
        holder.kill()
        holder.wait()


def test_waiting_for_the_lock_gets_it_when_the_holder_leaves(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    store.close()
    holder = _child(HOLDER, str(tmp_path), incident_id)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "write"
        holder.stdin.write("release\n")
        holder.stdin.flush()
        # Whether the holder has let go yet or not, a long enough wait gets the lock.
        assert IncidentStore(tmp_path).open(incident_id, wait_s=60).access == "write"
    finally:
        holder.kill()
        holder.wait()


# -- a full disk ------------------------------------------------------------------------


def test_a_full_disk_keeps_the_event_in_memory_and_writes_it_when_space_is_back(
    tiny_disk: TinyDisk,
) -> None:
    store, incident_id = _create(tiny_disk.root)
    path = store.path(incident_id)
    incident = store.record(incident_id, note(store.incident(incident_id), "before", author="a"))
    on_disk_before = path.read_bytes()

    tiny_disk.fill()
    # Small notes may still fit in the file's last page; a page's worth cannot.
    big = "ディスク満杯 " * 300
    with pytest.raises(StoreWriteError) as failure:
        store.record(incident_id, note(incident, big, author="a"))
    error = failure.value
    assert error.disk_full and "No space left on device" in str(error)
    assert isinstance(error.incident.events[-1], Note) and error.incident.events[-1].text == big
    assert store.pending(incident_id) == 1
    assert store.incident(incident_id) == error.incident  # the in-memory record kept it
    assert path.read_bytes() == on_disk_before  # the file is as it was, and valid
    assert store.load(incident_id) == incident

    # Later changes queue behind it, in order; a header change too.
    with pytest.raises(StoreWriteError):
        store.record(incident_id, note(error.incident, "while full", author="a"))
    with pytest.raises(StoreWriteError):
        store.update(incident_id, lambda i: i.with_postmortem(summary="written when full"))
    assert store.pending(incident_id) == 3
    with pytest.raises(StoreWriteError):
        store.retry_pending(incident_id)
    assert store.load(incident_id) == incident
    assert [p.name for p in tiny_disk.root.iterdir() if p.name.endswith(".tmp")] == []

    tiny_disk.free()
    assert store.retry_pending(incident_id) == 3
    assert store.pending(incident_id) == 0
    saved = store.load(incident_id)
    assert saved == store.incident(incident_id)
    assert [e.text for e in saved.events if isinstance(e, Note)] == ["before", big, "while full"]
    assert saved.postmortem.summary == "written when full"
    # And recording goes on as usual.
    store.record(incident_id, note(saved, "after", author="a"))
    assert store.load(incident_id).events[-1].text == "after"  # type: ignore[union-attr]
    store.close()


def test_a_failed_append_is_cut_back_so_the_file_stays_valid(tiny_disk: TinyDisk) -> None:
    store, incident_id = _create(tiny_disk.root)
    for n in range(5):
        store.record(incident_id, note(store.incident(incident_id), f"note {n}", author="a"))
    tiny_disk.fill()
    for _ in range(3):
        with contextlib.suppress(StoreWriteError):
            store.record(
                incident_id, note(store.incident(incident_id), "x" * 3000, author="a")
            )
    data = store.path(incident_id).read_bytes()
    tomllib.loads(data.decode())
    assert decode_incident(data, store.path(incident_id)).recovered == ""
    tiny_disk.free()
    store.close()


# -- the record's rules and layout ------------------------------------------------------


def test_events_are_appended_without_crossing_a_page(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    path = store.path(incident_id)
    rng = random.Random(7)
    for _ in range(60):
        store.record(incident_id, note(store.incident(incident_id), "z" * rng.randint(1, 3500)))
        data = path.read_bytes()
        block_start = data.rindex(b"\n[[events]]\n")
        assert block_start // PAGE_SIZE == (len(data) - 1) // PAGE_SIZE
    assert store.load(incident_id) == store.incident(incident_id)


def test_a_torn_tail_from_a_power_loss_is_cut_back_and_reported(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    incident = store.record(incident_id, note(store.incident(incident_id), "kept", author="a"))
    store.close()
    path = store.path(incident_id)
    with path.open("ab") as file:
        file.write(b'\n[[events]]\nid = 3\nkind = "note"\nat = 2026-11-28 03:20:00+00:00\ntext = "to')
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(path.read_text())
    loaded = IncidentStore(tmp_path).read(incident_id)
    assert loaded.incident == incident
    assert "dropped" in loaded.recovered
    reopened = IncidentStore(tmp_path).open(incident_id)
    assert reopened.writable and reopened.recovered
    tomllib.loads(path.read_text())  # the writer rewrote it whole


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    secret = "hunter2-ZXCV-0987"
    incident = store.record(
        incident_id, note(store.incident(incident_id), f"DB: postgresql://app:{secret}@db/x")
    )
    incident = store.record(
        incident_id,
        pin_evidence(incident, "log_lines", "env", f"POSTGRES_PASSWORD={secret}\nok"),
    )
    store.update(incident_id, lambda i: i.with_postmortem(root_cause=f"token={secret} leaked"))
    assert secret not in store.path(incident_id).read_text()
    assert secret not in repr(store.incident(incident_id))


def test_a_secret_known_only_by_its_context_never_reaches_the_file(tmp_path: Path) -> None:
    """A master key is 32 hex digits, harmless alone: the command that printed it, or
    the title it was pinned under, says what it is."""
    store, incident_id = _create(tmp_path)
    runbook = pick_runbook("service:health")
    master_key = "3f1c9a0be27d4c58a6e1f0b9d2c7e4a1"
    shown = "kamal app exec 'cat config/master.key'"
    incident = store.record(incident_id, start_step(store.incident(incident_id), runbook, 0))
    started = command_started(incident, 0, shown, "kamal")
    incident = store.record(incident_id, started)
    incident = store.record(incident_id, command_finished(incident, started, "ok",
                                                          excerpt=master_key))
    store.record(incident_id, pin_evidence(incident, "table", "config/master.key", master_key))
    assert master_key not in store.path(incident_id).read_text()
    assert master_key not in repr(store.incident(incident_id))


def test_an_event_the_file_could_not_read_back_is_refused_and_nothing_changes(
    tmp_path: Path,
) -> None:
    store, incident_id = _create(tmp_path)
    before = store.path(incident_id).read_bytes()
    wrong = pin_evidence(store.incident(incident_id), "log", "a line", "text")  # type: ignore[arg-type]
    with pytest.raises(IncidentRuleError, match="evidence_kind"):
        store.record(incident_id, wrong)
    assert store.path(incident_id).read_bytes() == before
    assert store.incident(incident_id).events[-1].id == wrong.id - 1


def test_status_order_skip_reason_and_time_edits(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    runbook = pick_runbook("service:health")
    incident = store.incident(incident_id)
    with pytest.raises(IncidentRuleError, match="next comes acknowledged"):
        transition(incident, "resolved")
    at = T0 + timedelta(minutes=5)
    incident = store.record(incident_id, transition(incident, "acknowledged", at=at, author="a"))
    with pytest.raises(IncidentRuleError, match="reason"):
        skip_step(incident, runbook, 0, "  ")
    incident = store.record(incident_id, start_step(incident, runbook, 0, author="a"))
    incident = store.record(
        incident_id, skip_step(incident, runbook, 0, "already known from Sentry", author="a")
    )
    assert incident.current_step == 1 and incident.step_state(0) == "skipped"

    acknowledged = next(e for e in incident.events if getattr(e, "status", "") == "acknowledged")
    with pytest.raises(IncidentRuleError, match="reason"):
        edit_time(incident, acknowledged.id, at - timedelta(minutes=1), "")
    with pytest.raises(IncidentRuleError, match="status order"):
        edit_time(incident, acknowledged.id, T0 - timedelta(minutes=1), "typo")
    corrected = at - timedelta(minutes=2)
    incident = store.record(
        incident_id,
        edit_time(incident, acknowledged.id, corrected, "paged at 03:15, noted late", author="b"),
    )
    assert incident.status_times()["acknowledged"] == corrected
    assert acknowledged.at == at  # the original stays in the record
    assert store.load(incident_id) == incident


def test_header_changes_rewrite_the_file_and_ids_do_not_collide(tmp_path: Path) -> None:
    store, first = _create(tmp_path)
    second = store.create(
        new_incident(runbook=pick_runbook("service:health"), alert=make_alert(),
                     at=T0 + timedelta(minutes=2), author="x")
    )
    assert second.id == f"{first}-2"
    items = (ActionItem(owner="suzuki", type="prevent", text="Alert on boot loops"),)
    changed = store.update(first, lambda i: i.with_action_items(items).with_postmortem(
        summary="Service down | 12 min"))
    assert store.load(first) == changed
    with pytest.raises(IncidentRuleError):
        store.update(first, lambda i: i.with_event(note(i, "not like this", author="a")))
    assert [s.id for s in store.list()] == [second.id, first]
    assert store.list()[1].status == "detected"


def test_staged_changes_stay_in_memory_until_flushed(tmp_path: Path) -> None:
    store, incident_id = _create(tmp_path)
    on_disk = store.load(incident_id)
    store.stage(incident_id, note(store.incident(incident_id), "staged", author="a"))
    store.stage_update(incident_id, lambda i: i.with_postmortem(summary="staged too"))
    unsaved = store.unsaved(incident_id)
    assert (unsaved.events, unsaved.header, unsaved.changes) == (1, True, 2)
    assert store.load(incident_id) == on_disk  # nothing written yet
    with pytest.raises(IncidentRuleError):  # the rules are checked when staged
        store.stage(incident_id, note(on_disk, "an id already taken", author="a"))
    assert store.flush(incident_id) == 2
    assert not store.unsaved(incident_id)
    assert store.load(incident_id) == store.incident(incident_id)
    store.close()


def test_a_writer_thread_flushing_while_changes_are_staged_keeps_their_order(
    tmp_path: Path,
) -> None:
    import functools
    import threading

    from rainbow_tui.incidents.model import Incident

    store, incident_id = _create(tmp_path)
    staging_done = threading.Event()
    failures: list[BaseException] = []

    def keep_flushing() -> None:
        try:
            while not staging_done.is_set():
                store.flush(incident_id)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    writer = threading.Thread(target=keep_flushing)
    writer.start()
    try:
        for n in range(300):
            text = f"note {n} " + ("y" * 5000 if n % 50 == 0 else "")
            store.stage(incident_id, note(store.incident(incident_id), text, author="a"))
            if n % 100 == 7:
                revision = functools.partial(Incident.with_postmortem, summary=str(n))
                store.stage_update(incident_id, revision)
    finally:
        staging_done.set()
        writer.join()
    assert failures == []
    store.flush(incident_id)
    saved = store.load(incident_id)
    assert saved == store.incident(incident_id)
    assert [e.id for e in saved.events] == list(range(1, len(saved.events) + 1))
    texts = [e.text.split(" ")[1] for e in saved.events if isinstance(e, Note)]
    assert texts == [str(n) for n in range(300)]
    assert saved.postmortem.summary == "207"
    store.close()
