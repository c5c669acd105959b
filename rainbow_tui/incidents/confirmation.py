"""How much a runbook command asks before it runs.

A command that changes nothing (details, logs, counts, a read-only query) runs on
Enter: asking y/n for it teaches responders to answer without reading.  A destructive
command asks for a typed word, and the word is the action itself (``boot``, ``reboot
db``, ``restore``) rather than the service's long name, so that typing it is reading
what is about to happen.  Which Kamal commands change something is Kamal's own
division (``incidents/kamal_verbs.py``); a runbook cannot mark those as harmless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainbow_tui.incidents import kamal_verbs

if TYPE_CHECKING:
    from rainbow_tui.incidents.runbooks import Command


def asks_first(command: Command) -> bool:
    """Whether the responder must type a word before ``command`` runs."""
    return command.destructive


def confirmation_word(command: Command) -> str:
    """The word (or words) to type to run a destructive ``command``."""
    if command.confirm:
        return command.confirm
    if command.kind == "kamal":
        return kamal_verbs.confirmation_words(command.argv)
    if command.kind == "ssh" and command.host:
        return f"run on {command.host.removeprefix('role:')}"
    if command.kind == "sql":
        # The statement's first keyword (``delete``, ``update``) says what it does.
        first = command.text.split(maxsplit=1)[0].lower() if command.text.strip() else "sql"
        return first
    return command.kind
