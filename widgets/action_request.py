"""What a pane posts when the user asks for an action; the screen confirms and runs it."""

from __future__ import annotations

from textual.message import Message


class ActionRequest(Message):
    """A request to run ``verb(argument)`` of ``DatabaseActions`` after a confirmation."""

    def __init__(self, verb: str, argument: int | str, title: str, target: str) -> None:
        super().__init__()
        self.verb = verb
        self.argument = argument
        self.title = title
        self.target = target
