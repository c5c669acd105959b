"""Kamal's ``ssh.proxy_command``: the command whose stdin/stdout carry the SSH link.

Kamal hands it to Net::SSH::Proxy::Command (basecamp/kamal
``lib/kamal/configuration/ssh.rb#proxy``), whose ``open`` (net-ssh
``lib/net/ssh/proxy/command.rb``) fills in ``%h`` (the host), ``%p`` (the port),
``%r`` (the remote user) and ``%%``, refuses any other %-key, and runs the line
through the shell.  No imports of the console's own: config validation, Kamal's
configuration and the SSH plumbing all use it.
"""

from __future__ import annotations

import re
import shlex

_PROXY_COMMAND_KEY = re.compile(r"%(.?)")


def proxy_command_problem(template: str) -> str | None:
    """What is wrong with a ``ssh.proxy_command`` template, or None."""
    if not template.strip():
        return "is empty"
    for match in _PROXY_COMMAND_KEY.finditer(template):
        if match.group(1) not in ("h", "p", "r", "%"):
            return f"unknown key %{match.group(1)} (Net::SSH knows %h, %p, %r and %%)"
    return None


def expand_proxy_command(template: str, host: str, port: int, user: str) -> list[str]:
    """The command line Net::SSH would run for ``template``: through the shell, as its
    ``IO.popen`` does, with each value quoted (a host name is data, not shell)."""
    values = {"h": host, "p": str(port), "r": user}

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        return "%" if key == "%" else shlex.quote(values[key])

    return ["/bin/sh", "-c", _PROXY_COMMAND_KEY.sub(fill, template)]
