"""Every key a screen answers to, read from the bindings themselves: the help page and
the command palette list what the code binds, so neither can drift from it.

A screen's keys are its own bindings, then those of each of its widgets that binds
keys (under the widget's title when it has one), then the app's, which work on every
screen.  Only the bindings this project declares are listed (Textual's own, in
English only, are not), hidden ones (``show=False``) included; each says whether it
would act now (``check_action``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.actions import parse as parse_action
from textual.binding import Binding

from rainbow_tui.text import tr

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.screen import Screen

# The packages whose classes' bindings are this project's.
OWN_PACKAGES = ("rainbow_tui", "screens", "widgets")


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One action and the keys that run it."""

    keys: str  # as the footer shows them ("R", "⏎", "n / esc")
    description: str  # the binding's words, in the chosen language
    detail: str  # its tooltip: a longer sentence, or ""
    action: str  # as bound ("status('resolved')", "app.help")
    namespace: DOMNode  # where the action runs
    available: bool  # check_action lets it run now


@dataclass(frozen=True, slots=True)
class KeyGroup:
    title: str
    entries: tuple[KeyEntry, ...]


def own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings this project's classes give ``node``, subclass first; a key a
    subclass binds again is left out of its base, as Textual merges them."""
    found: list[Binding] = []
    for cls in type(node).__mro__:
        if not cls.__module__.startswith(OWN_PACKAGES):
            continue
        taken = {binding.key for binding in found}
        declared = Binding.make_bindings(cls.__dict__.get("BINDINGS", []))
        found.extend(binding for binding in declared if binding.key not in taken)
    return found


def action_target(
    app: App[object], action: str, default: DOMNode
) -> tuple[DOMNode, str, tuple[object, ...]]:
    """Where ``action`` runs (``app.`` and ``screen.`` prefixes as Textual reads them),
    its name and its parameters."""
    destination, name, parameters = parse_action(action)
    if destination == "app":
        return app, name, parameters
    if destination == "screen":
        return default.screen if default is not app else app.screen, name, parameters
    return default, name, parameters


def is_available(app: App[object], action: str, namespace: DOMNode) -> bool:
    target, name, parameters = action_target(app, action, namespace)
    return bool(target.check_action(name, parameters))


def _entries(app: App[object], node: DOMNode) -> list[KeyEntry]:
    """``node``'s bindings as entries, the keys of one action and words joined."""
    by_action: dict[tuple[str, str], list[Binding]] = {}
    for binding in own_bindings(node):
        if binding.system:
            continue
        by_action.setdefault((binding.action, binding.description), []).append(binding)
    entries: list[KeyEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for (action, description), bindings in by_action.items():
        keys = " / ".join(dict.fromkeys(app.get_key_display(b) for b in bindings))
        available = is_available(app, action, node)
        entry = KeyEntry(
            keys, description, bindings[0].tooltip, action, node, available
        )
        # A key bound twice with the same words (shown while it is the next step, a
        # hidden twin otherwise) is one line: the one that acts now.
        same = seen.get((keys, description))
        if same is None:
            seen[(keys, description)] = len(entries)
            entries.append(entry)
        elif available and not entries[same].available:
            entries[same] = entry
    return entries


def _title_of(node: DOMNode) -> str:
    title = getattr(node, "border_title", None)
    return str(title) if title else ""


def key_groups(screen: Screen[object]) -> tuple[KeyGroup, ...]:
    """What ``screen`` answers to: its own keys (with its widgets'), then the app's."""
    app = screen.app
    groups: list[KeyGroup] = []
    # A widget's keys act while it (or a widget in it) has the focus.
    here = _entries(app, screen)
    for widget in screen.walk_children(with_self=False):
        if not own_bindings(widget):
            continue
        entries = _entries(app, widget)
        if not entries:
            continue
        title = _title_of(widget)
        if title:
            groups.append(KeyGroup(title, tuple(entries)))
        else:
            here.extend(entries)
    groups.insert(0, KeyGroup(tr("screen.help.group.screen"), tuple(here)))
    # The app's keys under their own heading, a key the screen binds again left out.
    everywhere = _entries(app, app)
    app_keys = {entry.keys for entry in everywhere}
    for group_index, group in enumerate(groups):
        kept = tuple(
            entry for entry in group.entries
            if not (entry.action.startswith("app.") and entry.keys in app_keys)
        )
        groups[group_index] = KeyGroup(group.title, kept)
    groups.append(KeyGroup(tr("screen.help.group.app"), tuple(everywhere)))
    return tuple(group for group in groups if group.entries)
