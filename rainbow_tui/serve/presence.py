"""Who is looking at what, across the views of one session.

Each view joins with its responder's name and role and says which incident it has
in front (None: the dashboard or another screen).  The place a name was last at is
kept after it leaves, so a responder who drops off and logs in again is taken back
to the incident they had in front.  Textual-free: the session holds one and tells
every view when it changes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import msgspec


class Viewer(msgspec.Struct, frozen=True):
    view: int
    name: str
    role: str
    incident_id: str | None = None


class Presence:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._views: dict[int, Viewer] = {}
        self._numbers = itertools.count(1)
        # A name's last incident in front, kept across log-ins (this process only).
        self._last_place: dict[str, str | None] = {}

    def join(self, name: str, role: str) -> int:
        """A view opens; returns its number, for :meth:`look_at` and :meth:`leave`."""
        view = next(self._numbers)
        self._views[view] = Viewer(view, name, role)
        self._on_change()
        return view

    def look_at(self, view: int, incident_id: str | None) -> None:
        viewer = self._views.get(view)
        if viewer is None or viewer.incident_id == incident_id:
            return
        self._views[view] = msgspec.structs.replace(viewer, incident_id=incident_id)
        self._last_place[viewer.name] = incident_id
        self._on_change()

    def leave(self, view: int) -> None:
        if self._views.pop(view, None) is not None:
            self._on_change()

    def viewers(self, incident_id: str | None = None) -> tuple[Viewer, ...]:
        """The views open now (on ``incident_id`` when given), in the order they came."""
        return tuple(
            viewer for viewer in self._views.values()
            if incident_id is None or viewer.incident_id == incident_id
        )

    def last_place(self, name: str) -> str | None:
        """The incident ``name`` last had in front, None for the dashboard or never seen."""
        return self._last_place.get(name)
