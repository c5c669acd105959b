"""``rainbow-tui serve``: responders' keys, the host key, and the whole server with
the real OpenSSH client — two responders in tmux on one incident, a stranger refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.model import record_as
from rainbow_tui.incidents.runbooks import Command
from rainbow_tui.serve.host_key import fingerprint, load_or_create_host_key
from rainbow_tui.serve.responders import ResponderKeysError, load_responder_keys
from rainbow_tui.serve_console import serve
from rainbow_tui.session import Session
from rainbow_tui.wizard import CommandInProgress
from screens.incident import presence_text
from tests.helpers.console import POLL_S

needs_openssh = pytest.mark.skipif(
    not (shutil.which("ssh") and shutil.which("ssh-keygen") and shutil.which("tmux")),
    reason="needs the OpenSSH client, ssh-keygen and tmux",
)


def _key(directory: Path, name: str) -> Path:
    """A fresh ed25519 key pair made by ssh-keygen; returns the private key's path."""
    path = directory / f"id_{name}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                   check=True, timeout=30)
    return path


def _public(path: Path) -> str:
    """The key type and base64 of a public key, without ssh-keygen's comment."""
    kind, blob = Path(f"{path}.pub").read_text().split()[:2]
    return f"{kind} {blob}"


# -- who a key belongs to ------------------------------------------------------------------


@needs_openssh
def test_the_comment_names_the_responder_and_config_or_restrict_gives_the_role(
    tmp_path: Path,
) -> None:
    tanaka, sato, suzuki, kato = (_key(tmp_path, n) for n in ("tanaka", "sato", "suzuki", "kato"))
    keys_file = tmp_path / "authorized_keys"
    keys_file.write_text(
        "# the on-call team\n"
        f"{_public(tanaka)} tanaka role=commander\n"
        f"{_public(sato)} sato role=commander\n"
        f'restrict,from="127.0.0.1" {_public(suzuki)} suzuki\n'
        f"{_public(kato)} kato\n"
    )
    keys = load_responder_keys(keys_file, {"sato": "scribe"})
    found = {r.name: (r.role, r.read_only) for r in keys.responders}
    assert found == {
        "tanaka": ("commander", False),
        "sato": ("scribe", False),  # [serve] responders wins over the comment
        "suzuki": ("viewer", True),  # restrict: a read-only console
        "kato": ("responder", False),
    }
    suzuki_key = asyncssh.read_public_key(f"{suzuki}.pub")
    responder = keys.identify(suzuki_key, "localhost", "127.0.0.1")
    assert responder is not None and responder.name == "suzuki"
    # from= is OpenSSH's: the same key from elsewhere is refused.
    assert keys.identify(suzuki_key, "elsewhere", "10.0.0.9") is None
    stranger = asyncssh.read_public_key(f"{_key(tmp_path, 'stranger')}.pub")
    assert keys.identify(stranger, "localhost", "127.0.0.1") is None


@needs_openssh
def test_a_key_without_a_name_is_refused_with_its_line(tmp_path: Path) -> None:
    nameless = _key(tmp_path, "x")
    keys_file = tmp_path / "authorized_keys"
    keys_file.write_text(f"{_public(nameless)}\n")
    with pytest.raises(ResponderKeysError, match=r"authorized_keys:1"):
        load_responder_keys(keys_file)


def test_the_host_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "serve_host_key"
    first, made = load_or_create_host_key(path)
    assert made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, made_again = load_or_create_host_key(path)
    assert not made_again
    assert fingerprint(again) == fingerprint(first)
    assert fingerprint(first).startswith("ED25519 SHA256:")


# -- one incident, several responders -------------------------------------------------------


async def test_a_running_command_claims_its_step_for_every_view(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    """tanaka's command holds the step: sato's screen names who runs what, and a second
    run is refused until it ends."""
    session = Session(demo_config(demo_stack.endpoints, incidents_dir=tmp_path / "incidents"))
    try:
        incident_id = session.start_incident(with_alert=False)
        sato = session.presence.join("sato", "responder")
        session.presence.look_at(sato, incident_id)
        # A command that takes a moment, as a remote one does.
        slow = Command(kind="local", argv=("sleep", "2"))

        async def as_tanaka() -> None:
            record_as("tanaka")  # this task's context only, as a served console's
            await session.run_command(incident_id, slow)

        running = asyncio.create_task(as_tanaka())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while session.command_claim(incident_id) is None and not running.done():
            assert loop.time() < deadline, "the command never started"
            await asyncio.sleep(0.02)
        claim = session.command_claim(incident_id)
        assert claim is not None and claim.by == "tanaka" and claim.step == 0
        shown = presence_text(session, incident_id)
        assert "here: sato" in shown
        assert "step 1 claimed by tanaka: sleep 2" in shown
        with pytest.raises(CommandInProgress):
            await session.run_command(incident_id, slow)
        await running
        assert session.command_claim(incident_id) is None
        assert "claimed" not in presence_text(session, incident_id)
        started = [e for e in session.wizard(incident_id).incident.events
                   if type(e).__name__ == "CommandStarted"]
        assert [e.author for e in started] == ["tanaka"]
    finally:
        await session.close()


# -- the whole server, with OpenSSH's client in tmux -------------------------------------------


@dataclass
class Terminals:
    """Real ``ssh`` clients in a tmux server of this test's own."""

    socket: str
    port: int
    known_hosts: Path

    async def tmux(self, *args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run, ["tmux", "-L", self.socket, *args],
            capture_output=True, text=True, timeout=30, check=False,
        )
        return done.stdout

    async def open(self, name: str, key: Path, size: tuple[int, int] = (100, 30)) -> None:
        command = (
            f"ssh -tt -F /dev/null -i {key} -p {self.port} -o IdentitiesOnly=yes"
            f" -o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
            f" {name}@127.0.0.1"
        )
        await self.tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                        command)

    async def screen(self, name: str) -> str:
        return await self.tmux("capture-pane", "-p", "-t", name)

    async def keys(self, name: str, *keys: str) -> None:
        await self.tmux("send-keys", "-t", name, *keys)

    async def type(self, name: str, text: str) -> None:
        await self.tmux("send-keys", "-t", name, "-l", text)

    async def until(self, name: str, shows: Callable[[str], bool], within: float = 40.0) -> str:
        """The pane once ``shows`` holds for it, as a person watches it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            screen = await self.screen(name)
            if shows(screen):
                return screen
            if loop.time() > deadline:
                raise AssertionError(f"{name}'s screen never showed it:\n{screen}")
            await asyncio.sleep(0.2)


def here(screen: str) -> set[str]:
    """Who the incident screen says is looking at it (in the order they logged in)."""
    line = next((row for row in screen.split("\n") if row.startswith("here: ")), "")
    return set(line.removeprefix("here: ").split(" · ")[0].split(", ")) if line else set()


@asynccontextmanager
async def served(stack: DemoProcess, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Session, Terminals,
                                                                          dict[str, Path]]]:
    """The server on a free port of 127.0.0.1, on its own session of the demo stack,
    with keys for tanaka (commander) and sato; the stranger's key is not in the file."""
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    keys = {name: _key(tmp_path, name) for name in ("tanaka", "sato", "stranger")}
    keys_file = tmp_path / "authorized_keys"
    keys_file.write_text(f"{_public(keys['tanaka'])} tanaka role=commander\n"
                         f"{_public(keys['sato'])} sato\n")
    host_key, _made = load_or_create_host_key(tmp_path / "host_key")
    known_hosts = tmp_path / "known_hosts"
    session = Session(demo_config(stack.endpoints, poll_s=POLL_S,
                                  incidents_dir=tmp_path / "incidents"))
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(session, "127.0.0.1", 0, host_key,
                                       load_responder_keys(keys_file), ready=bound.set_result,
                                       stop=stop))
    port = await asyncio.wait_for(bound, 60)
    # The fingerprint told at start is the one a responder's known_hosts pins.
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    terminals = Terminals(f"rainbow-serve-{os.getpid()}-{port}", port, known_hosts)
    try:
        yield session, terminals, keys
    finally:
        await terminals.tmux("kill-server")
        stop.set()
        await asyncio.wait_for(server, 60)


@needs_openssh
async def test_two_responders_share_one_incident_live_over_real_ssh(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with served(demo_stack, tmp_path, monkeypatch) as (session, terminals, keys):
        await terminals.open("tanaka", keys["tanaka"])
        await terminals.open("sato", keys["sato"])
        service = session.config.service.name
        for name in ("tanaka", "sato"):
            await terminals.until(name, lambda screen: service in screen)
        # Both consoles poll nothing of their own: the one session's monitor serves both.
        assert session.monitor is not None

        # A third, unknown key is refused by the server.
        refused = await asyncio.to_thread(
            subprocess.run,
            ["ssh", "-F", "/dev/null", "-i", str(keys["stranger"]), "-p", str(terminals.port),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={terminals.known_hosts}", "stranger@127.0.0.1", "true"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        assert refused.returncode == 255
        assert "Permission denied (publickey)" in refused.stderr

        # tanaka opens an incident; sato brings it to the front and sees tanaka there.
        await terminals.keys("tanaka", "i")
        await terminals.until("tanaka", lambda s: "which runbook?" in s)
        await terminals.keys("tanaka", "Enter")
        await terminals.until("tanaka", lambda s: "tanaka: status → detected" in s)
        await terminals.keys("sato", "I")
        both = {"tanaka (commander)", "sato"}
        await terminals.until("sato", lambda s: "tanaka: status → detected" in s
                              and here(s) == both)
        await terminals.until("tanaka", lambda s: here(s) == both)

        # A note typed on sato's console is on tanaka's, under sato's name.
        await terminals.keys("sato", "n")
        await terminals.until("sato", lambda s: "Note for the timeline" in s)
        await terminals.type("sato", "db graphs look flat")
        await terminals.keys("sato", "Enter")
        await terminals.until("tanaka", lambda s: "sato: note: db graphs look flat" in s,
                              within=10)

        # tanaka runs the step's first command; its output is on sato's screen too.
        await terminals.keys("tanaka", "Enter")
        await terminals.until("sato", lambda s: "HTTP 200" in s and "tanaka: ran http" in s,
                              within=20)

        incident_id = session.current_incident_id
        assert incident_id is not None
        authors = {event.author for event in session.wizard(incident_id).incident.events}
        assert {"tanaka", "sato"} <= authors

        # sato's terminal shrinks to 80×24: the console follows it.
        await terminals.tmux("resize-window", "-t", "sato", "-x", "80", "-y", "24")
        resized = await terminals.until(
            "sato", lambda s: len(rows := s.split("\n")) > 23 and "▏^p" in rows[23]
        )
        lines = resized.rstrip("\n").split("\n")
        assert len(lines) == 24
        assert here(resized) == {"tanaka (commander)", "sato"}
        # The timeline's last entries still show: the layout is 24 rows, not 30 cut off.
        assert "tanaka: ran http" in resized

        # And back to 100×30: the timeline has room for the entries to come.
        await terminals.tmux("resize-window", "-t", "sato", "-x", "100", "-y", "30")
        await terminals.until(
            "sato", lambda s: len(rows := s.split("\n")) > 29 and "▏^p" in rows[29]
        )

        # tanaka drops off: sato's console goes on, and shows tanaka gone.
        await terminals.tmux("kill-session", "-t", "tanaka")
        await terminals.until("sato", lambda s: here(s) == {"sato"})
        await terminals.keys("sato", "n")
        await terminals.until("sato", lambda s: "Note for the timeline" in s)
        await terminals.type("sato", "still here")
        await terminals.keys("sato", "Enter")
        await terminals.until("sato", lambda s: "sato: note: still here" in s, within=10)

        # tanaka logs in again and is back on the incident they had in front.
        await terminals.open("tanaka", keys["tanaka"])
        await terminals.until("tanaka", lambda s: incident_id in s
                              and "sato: note: still here" in s)
        await terminals.until("sato", lambda s: here(s) == {"sato", "tanaka (commander)"})
