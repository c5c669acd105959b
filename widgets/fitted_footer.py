"""The key footer, fitted to the terminal's width.

Textual's ``Footer`` lays every shown binding out in a row and lets the row run
under the command-palette key at the right: at 80 columns the incident screen's
seventh label was cut in half ("e エ▏"), in both languages.  This footer keeps the
screens' order (the next sensible keys first) and shows as many whole keys as fit,
hiding the rest; ``?`` (every key of the screen) is kept whatever the width, so a
hidden key is always one press away.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["FittedFooter"]

# The key that lists every binding: never the one hidden.
HELP_KEY = "question_mark"


class FittedFooter(Footer):
    def compose(self) -> ComposeResult:
        yield from super().compose()
        # The keys are mounted by the time the next refresh comes.
        self.call_after_refresh(self.fit_keys)

    def on_resize(self, _event: Resize) -> None:
        self.fit_keys()

    @staticmethod
    def _cells(key: FooterKey) -> int:
        """The cells ``key`` takes: its label as rendered (paddings in), its margins,
        the palette key's border and padding."""
        styles = key.styles
        return (key.render().cell_len + styles.margin.width + styles.padding.width
                + (1 if styles.border_left[0] else 0))

    def fit_keys(self) -> None:
        keys = list(self.query_children(FooterKey))
        if not keys or not self.size.width:
            return
        palette = [key for key in keys if key.has_class("-command-palette")]
        ordered = [key for key in keys if key not in palette]
        space = self.size.width - sum(self._cells(key) for key in palette)
        space -= sum(self._cells(key) for key in ordered if key.key == HELP_KEY)
        full = False
        for key in ordered:
            if key.key == HELP_KEY:
                key.display = True
                continue
            width = self._cells(key)
            # In order: once a key does not fit, the later ones stay hidden too, so
            # the footer never skips a sensible key to show a less useful one.
            full = full or width > space
            key.display = not full
            if not full:
                space -= width
