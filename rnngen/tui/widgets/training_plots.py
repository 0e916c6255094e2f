"""Live training charts: loss per logged batch, validation perplexity per epoch, gradient norm per batch.

Points are appended as events arrive (cheap); the charts are redrawn by a timer
at most a few times a second, so a fast trainer cannot flood the UI thread.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Label
from textual_plotext import PlotextPlot

REDRAW_S = 0.5
MAX_POINTS = 300  # more points than a terminal has columns only cost drawing time


def thin(points: list, limit: int = MAX_POINTS) -> list:
    """Every k-th point (and the last), so long runs draw as fast as short ones."""
    if len(points) <= limit:
        return points
    step = -(-len(points) // limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


class TrainingPlots(Container):
    """Three PlotextPlots fed by `add_loss` / `add_ppl` / `add_gradients`; the entropy floor and the
    clipping threshold are horizontal lines. Below 110 columns the gradient chart takes the loss chart's
    place when `show_gradients` is on (the Train tab's ctrl+g): three charts side by side would be unreadable.

    Each title is a Label above its chart, not plotext's own title, which plotext drops when a chart
    is only a few rows high (the Train tab at 80x24): a chart must always say what it shows.
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.loss: list[tuple[float, float]] = []
        self.ppl: list[tuple[int, float]] = []
        self.floor: float | None = None
        self.floor_split = "valid"
        self.norms: list[tuple[float, float]] = []
        self.clip = 0.0
        self.clipped = self.batches = 0
        self._dirty = True

    def compose(self) -> ComposeResult:
        with Vertical(classes="chart", id="loss-chart"):
            yield Label("train loss\n(nats per word)", id="loss-title", classes="chart-title")
            yield PlotextPlot(id="loss-plot")
        with Vertical(classes="chart"):
            yield Label(self.ppl_title(), id="ppl-title", classes="chart-title")
            yield PlotextPlot(id="ppl-plot")
        with Vertical(classes="chart", id="grad-chart"):
            yield Label(self.grad_title(), id="grad-title", classes="chart-title")
            yield PlotextPlot(id="grad-plot")

    def grad_title(self) -> str:
        """The gradient chart's title: the threshold and how often clipping fired so far."""
        if not self.clip:
            return "|gradient| per batch\nclipping off"
        share = f" {100 * self.clipped / self.batches:.0f}%" if self.batches else ""
        return f"|gradient| per batch\nclip {self.clip:g}, cut{share}"

    @property
    def show_gradients(self) -> bool:
        return self.has_class("-gradients")

    @show_gradients.setter
    def show_gradients(self, value: bool) -> None:
        self.set_class(value, "-gradients")

    def ppl_title(self) -> str:
        """The perplexity chart's title, with the floor and the split it was measured on."""
        floor = f"floor {self.floor:.2f} ({self.floor_split})" if self.floor else ""
        return f"valid ppl per epoch\n{floor}"  # two lines, as the loss title: both charts start level

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(REDRAW_S, self._tick)

    def reset(self) -> None:
        self.loss.clear()
        self.ppl.clear()
        self.floor = None
        self.norms.clear()
        self.clip, self.clipped, self.batches = 0.0, 0, 0
        self._dirty = True

    def add_gradients(self, epoch: int, batch: int, batches: int, norms, clip: float, clipped: int) -> None:
        """One report's per-batch norms (its last batch is `batch`), placed along the epoch axis."""
        first = batch - len(norms) + 1
        self.norms.extend((epoch - 1 + (first + k) / max(batches, 1), v) for k, v in enumerate(norms)
                          if math.isfinite(v))
        self.clip, self.clipped, self.batches = clip, self.clipped + clipped, self.batches + len(norms)
        self._dirty = True

    def add_loss(self, x: float, loss: float) -> None:
        if math.isfinite(loss):
            self.loss.append((x, loss))
            self._dirty = True

    def add_ppl(self, epoch: int, ppl: float) -> None:
        if math.isfinite(ppl):
            self.ppl.append((epoch, ppl))
            self._dirty = True

    def set_floor(self, ppl: float | None, split: str = "valid") -> None:
        self.floor, self.floor_split = ppl, split
        self._dirty = True

    def _tick(self) -> None:
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        self._dirty = False
        loss_plot = self.query_one("#loss-plot", PlotextPlot)
        plt = loss_plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        if self.loss:
            loss = thin(self.loss)
            plt.plot([x for x, _ in loss], [y for _, y in loss], marker="braille", color="cyan")
        loss_plot.refresh()

        ppl_plot = self.query_one("#ppl-plot", PlotextPlot)
        plt = ppl_plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.query_one("#ppl-title", Label).update(self.ppl_title())
        plt.xlabel("epoch")
        if self.ppl:
            xs = [e for e, _ in self.ppl]
            plt.plot(xs, [p for _, p in self.ppl], marker="braille", color="orange")
            plt.scatter(xs, [p for _, p in self.ppl], marker="●", color="orange")
            plt.xticks(xs)
        if self.floor:
            plt.hline(self.floor, color="green")
            values = [p for _, p in self.ppl] or [self.floor * 2]
            plt.ylim(min(self.floor, *values) * 0.9, max(values) * 1.05)
        ppl_plot.refresh()
        self._redraw_gradients()

    def _redraw_gradients(self) -> None:
        grad_plot = self.query_one("#grad-plot", PlotextPlot)
        plt = grad_plot.plt
        plt.clear_data()
        plt.clear_figure()
        self.query_one("#grad-title", Label).update(self.grad_title())
        plt.xlabel("epoch")
        if self.norms:
            norms = thin(self.norms)
            plt.plot([x for x, _ in norms], [y for _, y in norms], marker="braille", color="magenta")
        if self.clip:
            plt.hline(self.clip, color="red")
        grad_plot.refresh()
