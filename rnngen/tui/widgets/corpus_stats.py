"""The Corpus tab's right side: `rnngen.corpus.stats.corpus_stats` shown as numbers, a histogram, top words, a preview."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from textual_plotext import PlotextPlot

from rnngen.corpus.stats import CorpusStats as Stats
from rnngen.corpus.stats import corpus_stats

SAMPLES = 8
TOP = 12


def compute_stats(corpus: Any, vocab_size: int) -> Stats:
    """The same statistics `rnngen corpus stats` prints (runs in a worker thread)."""
    return corpus_stats(corpus, vocab_size, TOP, SAMPLES)


def bin_labels(stats: Stats) -> tuple[list[str], list[int]]:
    """Histogram bars: '1-4', '5-9', …, '200+' and their sentence counts."""
    labels = [f"{b.low}-{b.high}" if b.high != b.low else str(b.low) for b in stats.length_bins]
    if stats.length_bins and stats.length_bins[-1].low == 200:
        labels[-1] = "200+"
    return labels, [b.count for b in stats.length_bins]


def hist_titles(s: Stats) -> list[str]:
    """The histogram's title, longest first: plotext drops a title wider than the plot, so a shorter one is used."""
    numbers = f"mean {s.length_mean:.1f}, median {s.length_median}, max {s.length_max}"
    return [f"sentence length (words): {numbers}", f"sentence length: {numbers}", "sentence length (words)",
            "length (words)"]


class TitledPlot(PlotextPlot):
    """A plotext plot whose title is chosen to fit its width when it is drawn."""

    titles: list[str] = []
    shown_title = ""

    def render(self):
        width = self.size.width
        fitting = [t for t in self.titles if len(t) <= width - 2]
        self.shown_title = fitting[0] if fitting else ""
        self.plt.title(self.shown_title)
        return super().render()


class CorpusStats(VerticalScroll):
    """The statistics of the loaded corpus, or a hint while there is none."""

    def compose(self) -> ComposeResult:
        yield Static("No corpus loaded yet: pick one on the left.", id="stats-summary")
        with Horizontal(id="stats-row"):
            yield TitledPlot(id="length-hist")
            yield Static(id="top-words")
        yield Static(id="preview")

    def on_mount(self) -> None:
        self.query_one("#length-hist").display = False

    def show(self, s: Stats) -> None:
        """Show a corpus's statistics from the top (not where the previous corpus was scrolled to)."""
        self.scroll_home(animate=False, immediate=True)
        self.query_one("#stats-summary", Static).update(summary(s))
        labels, counts = bin_labels(s)
        plot = self.query_one("#length-hist", TitledPlot)
        plot.display = bool(counts)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if counts:
            plt.bar(labels, counts, marker="hd")
            top = max(counts)
            ticks = sorted({round(top * i / 3) for i in range(4)})
            plt.yticks(ticks, [f"{t:,}" for t in ticks])
        plot.titles = hist_titles(s)
        plot.refresh()
        top_table = Table("word", "count", box=None, padding=(0, 1), show_edge=False, title="top words",
                          title_justify="left", title_style="bold")
        top_table.columns[1].justify = "right"
        for word, count in s.top_words[:TOP]:
            top_table.add_row(word, f"{count:,}")
        self.query_one("#top-words", Static).update(top_table)
        preview = Text("tokenized preview (tokens separated by ·)\n", style="bold")
        for sent in s.samples:
            preview.append(" · ".join(sent) + "\n", style="")
        self.query_one("#preview", Static).update(preview)


def summary(s: Stats) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    for _ in range(3):
        grid.add_column(justify="right")
    grid.add_row("", "train", "valid", "test")
    grid.add_row("sentences", *(f"{s.sentences.get(k, 0):,}" for k in ("train", "valid", "test")))
    grid.add_row("tokens", *(f"{s.tokens.get(k, 0):,}" for k in ("train", "valid", "test")))
    grid.add_row("word types", f"{s.types:,}", "", "")
    grid.add_row(f"top {s.vocab_size:,} cover", f"{s.train_coverage:.1%}", "", "")
    grid.add_row("OOV (valid)", "", f"{s.valid_oov_rate:.2%}", "")
    if s.true_perplexity is not None:
        grid.add_row("true ppl (floor)", "", "", f"{s.true_perplexity:.2f}")
    tokenizer = s.tokenizer
    how = f"words: {tokenizer.get('words')}, sentences: {tokenizer.get('sentences')}" + (
        ", lower-cased" if tokenizer.get("lowercase") else "")
    parts: list[Any] = [Text.assemble((s.name, "bold"), "  ", (s.source, "dim")), Text(how, style="dim"), grid]
    for w in s.warnings:
        parts.append(Text(f"⚠ {w}", style="yellow"))
    return Group(*parts)
