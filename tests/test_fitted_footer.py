"""The footer shows whole keys only, in the screen's order, and always ``?``."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets._footer import FooterKey

from widgets.fitted_footer import FittedFooter

LABELS = ["実行", "確認", "ステップ完了", "メモ", "確認済み", "エスカレーション", "スキップ",
          "メトリクスをピン留め", "ダッシュボード"]


class ManyKeys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"noop('{key}')", label)
          for key, label in zip("abcdefghi", LABELS, strict=True)),
        Binding("question_mark", "noop('?')", "ヘルプ", key_display="?"),
    ]

    def action_noop(self, key: str) -> None:
        """Each key its own action: the footer shows one key per action."""

    def compose(self) -> ComposeResult:
        yield FittedFooter()


def _keys(app: App[None]) -> tuple[list[FooterKey], FooterKey]:
    keys = list(app.query(FooterKey))
    palette = next(key for key in keys if key.has_class("-command-palette"))
    return [key for key in keys if key is not palette], palette


def _check_fitted(app: App[None]) -> list[str]:
    """The shown keys' labels, after checking each lies whole left of the palette key."""
    keys, palette = _keys(app)
    shown = [key for key in keys if key.display]
    for key in shown:
        assert key.region.width > 0 and key.region.right <= palette.region.x, key.description
    # What is hidden is the tail of the order (``?`` apart): nothing skipped.
    ordered = [key for key in keys if key.key != "question_mark"]
    flags = [key.display for key in ordered]
    assert flags == sorted(flags, reverse=True), flags
    return [key.description for key in shown]


async def test_a_narrow_footer_shows_whole_keys_and_help() -> None:
    app = ManyKeys()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        shown = _check_fitted(app)
        assert "ヘルプ" in shown
        assert 1 < len(shown) < len(LABELS) + 1
        # Wider: every key again, re-fitted on the resize.
        await pilot.resize_terminal(200, 5)
        await pilot.pause()
        await pilot.pause()
        assert _check_fitted(app) == [*LABELS, "ヘルプ"]
        await pilot.resize_terminal(30, 5)
        await pilot.pause()
        await pilot.pause()
        narrow = _check_fitted(app)
        assert narrow[-1] == "ヘルプ" and len(narrow) < len(shown)
