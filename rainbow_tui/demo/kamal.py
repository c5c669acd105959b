"""``kamal`` for the demo stack: ``python -m rainbow_tui.demo.kamal --state-dir DIR ARGS...``.

Posts ``ARGS`` to the stack's control API (``POST /_demo/kamal``), prints the output
and exits with Kamal's exit status.  Following logs (``app logs -f``, ``accessory
logs db -f``) is done here over SSH, as Kamal does it: the command runs on the host,
its output streams until the container stops or we are interrupted.  Interactive
commands (``app exec -i "bin/rails console"``, ``bash``, ``bin/rails dbconsole``) run
here too, on the terminal: a shell's lines run on the primary host over SSH, the
database console's through ``psql`` in the accessory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path

from rainbow_tui.demo.endpoints import DemoEndpoints, DemoHost
from rainbow_tui.demo.kamal_commands import (
    HOST_ADDRESS,
    KamalUsageError,
    accessory_logs_command,
    app_logs_command,
    parse_options,
)

REQUEST_TIMEOUT_SECONDS = 180.0


def post_kamal(endpoints: DemoEndpoints, argv: list[str]) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{endpoints.control_url}/kamal",
        data=json.dumps({"argv": argv}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    # No proxies: the stack is on loopback, whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return 1, f"  ERROR (demo stack): {exc.code} {exc.read().decode(errors='replace')}\n"
    except OSError as exc:
        return 1, f"  ERROR (demo stack unreachable): {exc}\n"
    return int(answer["exit_code"]), str(answer["output"])


def _follow_target(endpoints: DemoEndpoints, argv: list[str]) -> tuple[DemoHost, str] | None:
    """The host and remote command for a follow request, or None if not one."""
    try:
        options = parse_options(argv)
    except KamalUsageError:
        return None
    if not options.follow:
        return None
    words = options.positional
    if words[:1] == ["logs"]:
        words = ["app", *words]
    if words[:2] == ["app", "logs"]:
        role = options.roles[0] if options.roles else "web"
        host = next(h for h in endpoints.hosts if role in h.roles)
        return host, app_logs_command(options, role, options.destination)
    if words[:3] == ["accessory", "logs", "db"]:
        host = next(h for h in endpoints.hosts if "db" in h.roles)
        return host, accessory_logs_command(options)
    return None


async def follow_over_ssh(endpoints: DemoEndpoints, host: DemoHost, command: str) -> int:
    import asyncssh

    print(f"  INFO Following logs on {HOST_ADDRESS}...", flush=True)
    print(f"  INFO ssh -p {host.port} -t {endpoints.ssh_user}@{HOST_ADDRESS} \"{command}\"",
          flush=True)
    async with asyncssh.connect(
        host.address,
        host.port,
        username=endpoints.ssh_user,
        client_keys=[str(endpoints.client_key)],
        known_hosts=str(endpoints.known_hosts),
        keepalive_interval=15,
    ) as conn:
        process = await conn.create_process(command, encoding=None)
        out = sys.stdout.buffer
        while True:
            chunk = await process.stdout.read(65536)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
        await process.wait()
        return process.exit_status or 0


def _after_host_line(output: str) -> str:
    """What a command printed, without Kamal's own lines before ``… Host: …``."""
    lines = output.splitlines()
    index = next((i for i, line in enumerate(lines) if " Host: " in line or
                  line.startswith(("App Host:", "Accessory db Host:"))), None)
    return "\n".join(lines[index + 1:] if index is not None else lines).strip("\n")


def interactive(endpoints: DemoEndpoints, argv: list[str]) -> int | None:
    """``app exec -i CMD`` on this terminal; None when argv is not interactive."""
    try:
        options = parse_options(argv)
    except KamalUsageError:
        return None
    words = options.positional
    if not options.interactive or words[:2] != ["app", "exec"] or len(words) < 3:
        return None
    command = " ".join(words[2:]).strip()
    how = "existing" if options.reuse else "new"
    print("Get most recent version available as an image...", flush=True)
    print(f"Launching interactive command with version latest via SSH from {how} container "
          f"on {HOST_ADDRESS}...", flush=True)
    if command in ("bin/rails console", "rails console", "bin/rails c"):
        prompt, run = "shiojiri-rainbow-seeker(prod)> ", _console_line
    elif command in ("bin/rails dbconsole", "rails dbconsole", "bin/rails db"):
        prompt, run = "shiojiri_rainbow_seeker_production=> ", _dbconsole_line
    elif command in ("bash", "sh", "/bin/bash"):
        prompt, run = "rails@app-1:/rails$ ", _shell_line
    else:
        print(f"  ERROR (demo): {command!r} is not an interactive program of the demo "
              "(bin/rails console, bash, bin/rails dbconsole)", flush=True)
        return 1
    while True:
        try:
            line = input(prompt)
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            return 130
        if line.strip() in ("exit", "quit", "\\q", "logout"):
            return 0
        if line.strip():
            print(run(endpoints, line), flush=True)


def _console_line(endpoints: DemoEndpoints, line: str) -> str:
    return "=> nil  (the demo's Rails console evaluates nothing)"


def _dbconsole_line(endpoints: DemoEndpoints, line: str) -> str:
    code, output = post_kamal(endpoints, [
        "accessory", "exec", "db", "--reuse",
        "psql -U shiojiri_rainbow_seeker -d shiojiri_rainbow_seeker_production -c "
        + shlex.quote(line),
    ])
    return _after_host_line(output) if code == 0 else output.strip()


def _shell_line(endpoints: DemoEndpoints, line: str) -> str:
    code, output = post_kamal(endpoints, ["app", "exec", "--reuse", "--primary", "-r", "web",
                                          line])
    return _after_host_line(output) if code == 0 else output.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kamal (demo)", add_help=False)
    parser.add_argument("--state-dir", type=Path, required=True)
    known, kamal_args = parser.parse_known_args(argv)
    endpoints = DemoEndpoints.load(known.state_dir)
    session = interactive(endpoints, kamal_args)
    if session is not None:
        return session
    follow = _follow_target(endpoints, kamal_args)
    if follow is not None:
        host, command = follow
        loop = asyncio.new_event_loop()
        task = loop.create_task(follow_over_ssh(endpoints, host, command))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            return 130
        finally:
            with contextlib.suppress(Exception):
                loop.close()
    code, output = post_kamal(endpoints, kamal_args)
    sys.stdout.write(output)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
