"""Units by words: a heat map of one quantity (hidden state, cell, a gate) over a sentence.

The first two rows stay put while the units scroll under them: the words, and each word's probability
given the words before it, coloured as the Score tab's heat map colours it. The unit labels stay put
while the words scroll sideways. ←/→ pick a word, ↑/↓ a unit, shift+←/→ stretch a span of words (the
selection the Inside tab matches over a corpus, as LSTMVis does).
"""

from __future__ import annotations

import math
from typing import Sequence

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rnngen.tui.widgets.heatmap import word_style

HEADER_ROWS = 2  # the words, then P(word | the words before)
LABEL_WIDTH = 6  # "#1023 "
NEGATIVE, ZERO, POSITIVE = (33, 102, 172), (247, 247, 247), (178, 24, 43)  # blue, white, red (ColorBrewer RdBu)
OPEN = (0, 104, 55)  # a gate at 1: dark green; at 0 white


def value_colour(value: float, signed: bool) -> Color:
    """A state in [-1, 1] on blue-white-red (an unbounded cell state through tanh); a gate in [0, 1] on white-green."""
    if signed:
        t = math.tanh(value) if abs(value) > 1 else value
        end = POSITIVE if t >= 0 else NEGATIVE
        t = abs(t)
    else:
        t, end = min(max(value, 0.0), 1.0), OPEN
    return Color.from_rgb(*(round(a + (b - a) * t) for a, b in zip(ZERO, end)))


def probability_text(prob: float | None) -> str:
    """A probability in three characters: 21% reads 21, 4% reads 4, 0.4% reads .4, below 0.1% a dot."""
    if prob is None:
        return ""
    percent = 100 * prob
    if percent >= 1:
        return f"{percent:.0f}"
    return f"{percent:.1f}".lstrip("0") if percent >= 0.1 else "·"


def column_widths(labels: Sequence[str]) -> list[int]:
    """Each word's column: the word (3 to 8 characters shown) and a space."""
    return [min(max(len(label), 3), 8) + 1 for label in labels]


class UnitGrid(ScrollView, can_focus=True):
    """Rows are units (in the order given), columns are the sentence's tokens; a cursor and a span."""

    DEFAULT_CSS = """
    UnitGrid { height: 1fr; }
    UnitGrid:focus { background-tint: $foreground 5%; }
    """
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Word", key_display="←→"),
        Binding("right", "move(1, 0)", "Next word", show=False),
        Binding("up", "move(0, -1)", "Unit", key_display="↑↓"),
        Binding("down", "move(0, 1)", "Next unit", show=False),
        Binding("shift+left", "stretch(-1)", "Span", key_display="shift+←→"),
        Binding("shift+right", "stretch(1)", "Longer span", show=False),
        Binding("pageup", "move(0, -10)", "Units up", show=False),
        Binding("pagedown", "move(0, 10)", "Units down", show=False),
    ]

    column: reactive[int] = reactive(0, init=False)
    row: reactive[int] = reactive(0, init=False)

    class Selected(Message):
        """The selected word or unit changed."""

        def __init__(self, grid: "UnitGrid") -> None:
            super().__init__()
            self.grid = grid

        @property
        def control(self) -> "UnitGrid":
            return self.grid

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.labels: list[str] = []
        self.probs: list[float | None] = []
        self.values: list[list[float]] = []  # per token, per unit
        self.units: list[int] = []  # the rows: unit numbers, in display order
        self.signed = True
        self.anchor = 0  # the span runs from the anchor to the cursor column
        self._widths: list[int] = []
        self._starts: list[int] = []

    # -- data ---------------------------------------------------------------------------
    def show(self, labels: Sequence[str], probs: Sequence[float | None], values: Sequence[Sequence[float]],
             units: Sequence[int], signed: bool) -> None:
        """Replace the grid; the cursor stays on its word where the sentence still has it."""
        self.labels, self.probs, self.values = list(labels), list(probs), [list(v) for v in values]
        self.units, self.signed = list(units), signed
        self._widths = column_widths(self.labels)
        self._starts = [sum(self._widths[:k]) for k in range(len(self._widths))]
        self.virtual_size = Size(LABEL_WIDTH + sum(self._widths), len(self.units) + HEADER_ROWS)
        self.set_reactive(UnitGrid.column, min(self.column, max(len(self.labels) - 1, 0)))
        self.set_reactive(UnitGrid.row, min(self.row, max(len(self.units) - 1, 0)))
        self.anchor = self.column
        self.refresh()
        self.post_message(self.Selected(self))

    @property
    def span(self) -> tuple[int, int]:
        """The selected columns [start, end)."""
        return min(self.anchor, self.column), max(self.anchor, self.column) + 1

    @property
    def unit(self) -> int | None:
        return self.units[self.row] if self.units else None

    # -- keys -----------------------------------------------------------------------------
    def action_move(self, columns: int, rows: int) -> None:
        if not self.labels:
            return
        self.column = max(0, min(self.column + columns, len(self.labels) - 1))
        self.row = max(0, min(self.row + rows, len(self.units) - 1))
        if columns:
            self.anchor = self.column

    def action_stretch(self, columns: int) -> None:
        if self.labels:
            self.column = max(0, min(self.column + columns, len(self.labels) - 1))

    def watch_column(self) -> None:
        self._follow()

    def watch_row(self) -> None:
        self._follow()

    def _follow(self) -> None:
        """Scroll so the cursor's word and unit are in view, then redraw and tell the pane."""
        if self._widths:
            view = max(self.size.width - LABEL_WIDTH, 1)
            x0, x1 = self._starts[self.column], self._starts[self.column] + self._widths[self.column]
            if x0 < self.scroll_x:
                self.scroll_to(x=x0, animate=False)
            elif x1 > self.scroll_x + view:
                self.scroll_to(x=x1 - view, animate=False)
            rows = max(self.size.height - HEADER_ROWS, 1)
            if self.row < self.scroll_y:
                self.scroll_to(y=self.row, animate=False)
            elif self.row >= self.scroll_y + rows:
                self.scroll_to(y=self.row - rows + 1, animate=False)
        self.refresh()
        self.post_message(self.Selected(self))

    # -- drawing -----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not self.labels:
            return Strip([Segment(" " * width)]) if y else Strip([Segment("no sentence yet".ljust(width),
                                                                          Style(dim=True, italic=True))])
        if y == 0:
            label, cells = Text("word".ljust(LABEL_WIDTH), style="dim"), self._words_row()
        elif y == 1:
            label, cells = Text("P %".ljust(LABEL_WIDTH), style="dim"), self._probability_row()
        else:
            row = int(self.scroll_y) + y - HEADER_ROWS
            if row >= len(self.units):
                return Strip([Segment(" " * width)])
            style = Style(bold=True, reverse=True) if row == self.row else Style(dim=True)
            label, cells = Text(f"#{self.units[row]}".ljust(LABEL_WIDTH), style=style), self._unit_row(row)
        start = int(self.scroll_x)
        line = label + cells[start:start + max(width - LABEL_WIDTH, 0)]
        return Strip(list(line.render(self.app.console, end=""))).adjust_cell_length(width)

    def _cell(self, k: int, text: str, style: Style | str = "") -> Text:
        w = self._widths[k]
        shown = text if len(text) < w else text[: w - 2] + "…"
        return Text(shown.ljust(w - 1), style=style) + Text(" ")

    def _words_row(self) -> Text:
        start, end = self.span
        line = Text()
        for k, label in enumerate(self.labels):
            style = Style(bold=True, reverse=True) if k == self.column else Style(
                underline=True, bold=True) if start <= k < end else Style()
            line += self._cell(k, label, style)
        return line

    def _probability_row(self) -> Text:
        line = Text()
        for k, prob in enumerate(self.probs):
            line += self._cell(k, probability_text(prob), word_style(prob) if prob is not None else "")
        return line

    def _unit_row(self, row: int) -> Text:
        unit, line = self.units[row], Text()
        for k in range(len(self.labels)):
            colour = value_colour(self.values[k][unit], self.signed)
            mark = "◆" if k == self.column and row == self.row else ""
            line += Text(mark.ljust(self._widths[k] - 1), style=Style(bgcolor=colour, color="black")) + Text(" ")
        return line
