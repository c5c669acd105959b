"""How long ``rainbow-tui check`` may take: the bound its ``--help`` and the README
state.  Kept apart from ``check`` so the command line can quote it without loading
the sources."""

from __future__ import annotations

# The longest one ``check`` takes once its configuration is read, closing included.
CHECK_DEADLINE_S = 30.0
# Of which saying goodbye to every server may take this much; a server that does
# not answer a goodbye is hung up on.
CLOSE_BUDGET_S = 2.0
# What ``check --help`` says of that bound.
CHECK_BOUND_HELP = (
    f"answers within {CHECK_DEADLINE_S:g} s once the configuration is read: "
    "a component that has not answered by then is reported critical, with why"
)


def check_bound_help() -> str:
    """``CHECK_BOUND_HELP`` in the chosen language."""
    from rainbow_tui.text import tr

    return tr("check.bound", seconds=CHECK_DEADLINE_S)
