"""A minimal app that mounts one pane of the Score/Generate tabs with a model, for tests and screenshots.

It follows the contract with the real app: an `lm` reactive holding the loaded
`LanguageModel`, and the panes' own style sheets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Footer

STYLES = Path(__file__).resolve().parents[2] / "rnngen" / "tui" / "styles"


class PaneApp(App):
    """One pane, a footer, and `lm`."""

    CSS_PATH = [STYLES / "score.tcss", STYLES / "generate.tcss"]
    lm: reactive[Any] = reactive(None)

    def __init__(self, make_pane: Callable[[], Widget], lm: Any = None) -> None:
        super().__init__()
        self.make_pane = make_pane
        self.set_reactive(PaneApp.lm, lm)
        self.notifications_seen: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield self.make_pane()
        yield Footer()

    def notify(self, message: str, *, title: str = "", severity: str = "information", **kwargs: Any) -> None:
        self.notifications_seen.append((severity, message))
        super().notify(message, title=title, severity=severity, **kwargs)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 90.0) -> None:
    """Pause until predicate() is true; for the real app, whose other tabs keep workers running."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


async def click_into(pilot: Any, selector: str, tries: int = 20) -> None:
    """Click a field until it has focus: in the real app, showing a tab moves the focus once more a moment later."""
    widget = pilot.app.query_one(selector)
    for _ in range(tries):
        await pilot.pause()
        await pilot.click(selector)
        await pilot.pause()
        if pilot.app.focused is widget:
            return
    raise AssertionError(f"{selector} never took the focus (focused: {pilot.app.focused})")
