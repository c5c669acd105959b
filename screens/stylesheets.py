"""Each screen's stylesheet: ``rainbow_tui/styles/<name>.tcss``, beside the app's.

Textual reads a screen's ``CSS_PATH`` the first time that screen is shown, so the
first frame parses and matches only the dashboard's rules (app.tcss); the incident
screen's, the dialogs' and the editor's come with them.
"""

from __future__ import annotations

from pathlib import Path

import rainbow_tui

__all__ = ["stylesheet"]

STYLES = Path(rainbow_tui.__file__).parent / "styles"


def stylesheet(name: str) -> Path:
    return STYLES / f"{name}.tcss"
