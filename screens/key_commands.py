"""The command palette's entries for every key of the screen it opens over: each
action by its words ("Resolved", "解決", "Postmortem"), found by any part of them,
run as its key would run it.

Read from the bindings (``screens.key_guide``), so a key added to a screen is in the
palette without a word written here; only what would act now is offered.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.key_guide import KeyEntry, key_groups


def _offered(provider: Provider) -> list[tuple[KeyEntry, str]]:
    """The entries that act now, each with its group's title; one per action."""
    offered: list[tuple[KeyEntry, str]] = []
    seen: set[tuple[str, str]] = set()
    for group in key_groups(provider.screen):
        for entry in group.entries:
            if not entry.available or (entry.description, entry.keys) in seen:
                continue
            seen.add((entry.description, entry.keys))
            offered.append((entry, group.title))
    return offered


def _help(entry: KeyEntry, group_title: str) -> str:
    # Plain words only: the palette parses its help text as markup.
    words = entry.detail or group_title
    return f"{entry.keys} · {words}".replace("[", "\\[")


class KeyCommands(Provider):
    """Every key of the screen below, by name."""

    async def discover(self) -> Hits:
        for entry, title in _offered(self):
            yield DiscoveryHit(
                Text(entry.description),
                partial(self.app.run_action, entry.action, entry.namespace),
                text=entry.description,
                help=_help(entry, title),
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry, title in _offered(self):
            words = f"{entry.description} {entry.detail}".strip()
            score = max(matcher.match(entry.description), matcher.match(words) * 0.9)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(entry.description),
                    partial(self.app.run_action, entry.action, entry.namespace),
                    text=entry.description,
                    help=_help(entry, title),
                )
