"""A sentence drawn word by word, each word coloured by the probability the model gave it.

Words wrap like text; the selected word is framed with brackets and can be
moved with the arrow keys or picked with the mouse. Unknown words carry a `?`
and an underline: the model scored them as `<unk>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

# Probability bins, most probable first: (lower bound, background, foreground, legend label).
# A diverging green-to-red scale with text colours picked for contrast, readable on light and dark themes.
SCALE: tuple[tuple[float, str, str, str], ...] = (
    (0.5, "#1a9850", "#ffffff", "≥.5"),
    (0.1, "#91cf60", "#000000", "≥.1"),
    (0.01, "#d9ef8b", "#000000", "≥.01"),
    (0.001, "#fee08b", "#000000", "≥.001"),
    (0.0001, "#fc8d59", "#000000", "≥1e-4"),
    (0.0, "#d73027", "#ffffff", "<1e-4"),
)


def bin_of(prob: float) -> int:
    """Index into SCALE for a probability."""
    for n, (low, *_rest) in enumerate(SCALE):
        if prob >= low:
            return n
    return len(SCALE) - 1


def word_style(prob: float, oov: bool = False) -> Style:
    """The heat colour of a word; unknown words are also underlined and italic."""
    _, bg, fg, _ = SCALE[bin_of(prob)]
    return Style(color=fg, bgcolor=bg, underline=oov, italic=oov)


def legend() -> Text:
    """One line explaining the colours and the unknown-word mark."""
    text = Text()
    text.append("P ", style="dim")
    for _, bg, fg, label in SCALE:
        text.append(f" {label} ", style=Style(color=fg, bgcolor=bg))
    text.append("  ")
    text.append("word?", style=Style(underline=True, italic=True))
    text.append(" unknown", style="dim")
    return text


def format_prob(prob: float) -> str:
    """A probability in 6 characters or so: 0.2134, 0.0012, 3.1e-05."""
    if prob >= 0.001 or prob == 0:
        return f"{prob:.4f}"
    return f"{prob:.1e}"


@dataclass(frozen=True)
class HeatWord:
    """A word to draw: its text, its probability and whether the model knows it."""

    text: str
    prob: float
    oov: bool = False

    @property
    def label(self) -> str:
        return f"{self.text}?" if self.oov else self.text


class Placed(NamedTuple):
    """Where a word sits: line, first column, width."""

    line: int
    x: int
    width: int


def layout(labels: Sequence[str], width: int) -> list[Placed]:
    """Place word chips (the word with a space either side) left to right, one column apart, wrapping at width.

    The column before each chip (and after the last) holds the selection brackets.
    """
    width = max(width, 5)
    placed: list[Placed] = []
    line, x = 0, 1
    for label in labels:
        w = min(len(label) + 2, width - 2)
        if x > 1 and x + w + 1 > width:
            line, x = line + 1, 1
        placed.append(Placed(line, x, w))
        x += w + 1
    return placed


class HeatMap(Widget, can_focus=True):
    """Words on coloured chips; left/right (or a click) select one."""

    DEFAULT_CSS = """
    HeatMap { height: auto; min-height: 1; }
    HeatMap:focus { background: $boost; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Word", key_display="←→"),
        Binding("right", "move(1)", "Next word", show=False),
        Binding("home", "move_to(0)", "First word", show=False),
        Binding("end", "move_to(-1)", "Last word", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        """The selected word changed (by key or click)."""

        def __init__(self, heatmap: "HeatMap", index: int) -> None:
            super().__init__()
            self.heatmap = heatmap
            self.index = index

        @property
        def control(self) -> "HeatMap":
            return self.heatmap

    def __init__(self, *, empty: str = "", name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.words: list[HeatWord] = []
        self.empty = empty

    # -- data ---------------------------------------------------------------
    def show(self, words: Sequence[HeatWord], cursor: int | None = None) -> None:
        """Replace the words; keep the selection where it was when it still exists."""
        self.words = list(words)
        target = self.cursor if cursor is None else cursor
        if target < 0:
            target += len(self.words)
        self.set_reactive(HeatMap.cursor, max(0, min(target, len(self.words) - 1)))
        self.refresh(layout=True)
        if self.words:
            self.post_message(self.Selected(self, self.cursor))

    @property
    def selected(self) -> HeatWord | None:
        return self.words[self.cursor] if self.words else None

    def select(self, index: int) -> None:
        if self.words:
            self.cursor = max(0, min(index, len(self.words) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        if self.words and old != new:
            self.post_message(self.Selected(self, new))

    # -- keys and mouse -------------------------------------------------------
    def action_move(self, delta: int) -> None:
        self.select(self.cursor + delta)

    def action_move_to(self, index: int) -> None:
        self.select(index if index >= 0 else len(self.words) + index)

    def word_at(self, x: int, y: int) -> int | None:
        """The word under a content offset, counting the bracket columns beside it."""
        for n, p in enumerate(layout([w.label for w in self.words], self.content_size.width)):
            if p.line == y and p.x - 1 <= x <= p.x + p.width:
                return n
        return None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.word_at(offset.x, offset.y)
        if index is not None:
            self.focus()
            self.select(index)
            event.stop()

    # -- drawing ----------------------------------------------------------------
    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self.words:
            return 1
        return layout([w.label for w in self.words], width)[-1].line + 1

    def render(self) -> Text:
        if not self.words:
            return Text(self.empty, style="dim italic")
        width = self.content_size.width
        places = layout([w.label for w in self.words], width)
        lines = [Text(" " * width) for _ in range(places[-1].line + 1)]
        bracket = Style(bold=True, color="bright_white" if self.app.current_theme.dark else "black")
        for n, (word, p) in enumerate(zip(self.words, places)):
            style = word_style(word.prob, word.oov)
            label = f" {word.label} " if len(word.label) + 2 <= p.width else f" {word.label[: p.width - 3]}…"
            if n == self.cursor:
                style += Style(bold=True)
                lines[p.line].stylize(bracket, p.x - 1, p.x + p.width + 1)
                _put(lines[p.line], p.x - 1, "[")
                _put(lines[p.line], p.x + p.width, "]")
            _put(lines[p.line], p.x, label)
            lines[p.line].stylize(style, p.x, p.x + p.width)
        return Text("\n").join(lines)


def _put(line: Text, x: int, s: str) -> None:
    """Overwrite characters of a fixed-width line in place (its styles stay)."""
    if 0 <= x < len(line.plain):
        end = min(len(line.plain), x + len(s))
        plain = line.plain
        line.plain = plain[:x] + s[: end - x] + plain[end:]

