"""Which Kamal commands change a deployment and which only look at it.

Transcribed from Kamal 2's command classes (basecamp/kamal ``lib/kamal/cli/main.rb``,
``app.rb``, ``accessory.rb``, ``proxy.rb``, ``lock.rb``, ``build.rb``, ``prune.rb``,
``registry.rb``, ``server.rb``, ``secrets.rb``): each ``desc "VERB"`` there is a command;
the ones below that only show something (``details``, ``logs``, ``containers`` …) are the
read-only set, every other verb boots, stops, removes, locks, builds or pushes.  ``exec``
runs whatever command it is given, so only the runbook's author can say what it does.

A runbook that marks a changing command as not destructive is refused when it is loaded,
because the console runs a non-destructive command on Enter without asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

# ``kamal NAMESPACE VERB``: the namespaces of lib/kamal/cli/main.rb's subcommands.
NAMESPACES = frozenset(
    {"app", "accessory", "build", "lock", "proxy", "prune", "registry", "secrets", "server"}
)

# Verbs that print and change nothing, by namespace ("" is ``kamal VERB``).
READ_ONLY_VERBS: dict[str, frozenset[str]] = {
    "": frozenset({"details", "audit", "config", "docs", "version"}),
    "app": frozenset({"details", "containers", "images", "logs", "version", "stale_containers"}),
    "accessory": frozenset({"details", "logs"}),
    "proxy": frozenset({"details", "logs"}),
    "lock": frozenset({"status"}),
    "build": frozenset({"details"}),
    # secrets fetch/extract/print read a vault and print; they change nothing deployed.
    "secrets": frozenset({"fetch", "extract", "print"}),
}

# Options that take a value (lib/kamal/cli/base.rb's class options, app.rb's logs
# options), so that the value is not read as the verb's argument.  ``-s`` is left out:
# it is ``--since VALUE`` for logs but ``--stop`` (no value) for stale_containers.
OPTIONS_WITH_VALUE = frozenset(
    {"--version", "--hosts", "-h", "--roles", "-r", "--config-file", "-c", "--destination",
     "-d", "--lock-wait-timeout", "--lock-wait-interval", "--since", "--lines", "-n",
     "--grep", "-g", "--grep-options", "--container-id"}
)

Effect = Literal["reads", "changes", "unknown"]


def split_command(argv: Sequence[str]) -> tuple[str, str, list[str], dict[str, str]]:
    """``kamal …`` arguments as (namespace, verb, positional arguments, options)."""
    positional: list[str] = []
    options: dict[str, str] = {}
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            name, equals, value = word.partition("=")
            if not equals and name in OPTIONS_WITH_VALUE and index + 1 < len(words):
                index += 1
                value = words[index]
            options[name] = value
        else:
            positional.append(word)
        index += 1
    if positional and positional[0] in NAMESPACES:
        namespace, rest = positional[0], positional[1:]
    else:
        namespace, rest = "", positional
    verb = rest[0] if rest else ""
    return namespace, verb, rest[1:], options


def effect(argv: Sequence[str]) -> Effect:
    """Whether ``kamal ARGV`` changes the deployment, only reads it, or cannot be told."""
    namespace, verb, _arguments, options = split_command(argv)
    if verb == "exec" or not verb:
        return "unknown"
    if namespace == "app" and verb == "stale_containers" and (
        "--stop" in options or "-s" in options
    ):
        return "changes"
    return "reads" if verb in READ_ONLY_VERBS.get(namespace, frozenset()) else "changes"


def confirmation_words(argv: Sequence[str]) -> str:
    """What the responder types to run a changing command: its verb and what it acts on.

    ``app boot`` → ``boot``; ``accessory reboot db`` → ``reboot db``; ``app boot
    --roles job`` → ``boot job``; ``rollback {version}`` → ``rollback`` (the version is
    chosen in a prompt just before).
    """
    namespace, verb, arguments, options = split_command(argv)
    words = [verb or namespace]
    if namespace == "accessory":
        words += [a for a in arguments[:1] if "{" not in a]
    roles = options.get("--roles") or options.get("-r")
    if roles:
        words.append(roles)
    return " ".join(w for w in words if w)
