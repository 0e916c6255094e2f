"""Corpus statistics for the Corpus tab: the numbers, the length histogram, top words and a preview."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class StatsView:
    """What the Corpus tab shows, whatever computed it."""

    name: str
    source: str
    sentences: dict[str, int]
    tokens: dict[str, int]
    types: int
    vocab_size: int
    coverage: float  # share of train tokens covered by the top-C words
    oov_rate: float  # share of valid tokens outside the top-C words
    lengths: list[int]  # sentence lengths of the train split
    top: list[tuple[str, int]]
    samples: list[list[str]]
    warnings: list[str] = field(default_factory=list)


def compute_stats(corpus: Any, vocab_size: int, top: int = 20, samples: int = 8) -> StatsView:
    """Statistics from `rnngen.corpus.stats` when present, else the same basics computed here."""
    try:
        from rnngen.corpus.stats import corpus_stats
    except ImportError:
        return _basic_stats(corpus, vocab_size, top, samples)
    return _from_engine(corpus, corpus_stats(corpus, vocab_size, top, samples), vocab_size)


def _from_engine(corpus: Any, s: Any, vocab_size: int) -> StatsView:
    """Adapt the engine's stats object (attribute names read defensively: it is another module's API)."""
    d = s.to_dict() if hasattr(s, "to_dict") else dict(vars(s))
    basic = None

    def get(*names: str, default: Any = None) -> Any:
        for n in names:
            if n in d and d[n] is not None:
                return d[n]
        return default

    sentences = get("sentences")
    tokens = get("tokens")
    if not isinstance(sentences, dict) or not isinstance(tokens, dict):
        basic = _basic_stats(corpus, vocab_size, 0, 0)
    lengths = get("lengths", "sentence_lengths", default=None)
    if lengths is None or isinstance(lengths, dict):
        lengths = [len(x) for x in corpus.train]
    return StatsView(
        name=corpus.name,
        source=corpus.source,
        sentences=sentences if isinstance(sentences, dict) else basic.sentences,
        tokens=tokens if isinstance(tokens, dict) else basic.tokens,
        types=int(get("types", "word_types", default=basic.types if basic else 0)),
        vocab_size=vocab_size,
        coverage=float(get("coverage", "train_coverage", default=0.0)),
        oov_rate=float(get("oov_rate", "valid_oov_rate", default=0.0)),
        lengths=list(lengths),
        top=[tuple(x) for x in get("top", "top_words", default=[])],
        samples=[list(x) for x in get("samples", "sample", default=[])],
        warnings=list(corpus.warnings),
    )


def _basic_stats(corpus: Any, vocab_size: int, top: int, samples: int) -> StatsView:
    counts: Counter[str] = Counter(w for s in corpus.train for w in s)
    kept = {w for w, _ in counts.most_common(max(vocab_size - 3, 0))}
    train_tokens = sum(counts.values())
    covered = sum(c for w, c in counts.items() if w in kept)
    valid_tokens = [w for s in corpus.valid for w in s]
    oov = sum(w not in kept for w in valid_tokens)
    splits = ("train", "valid", "test")
    return StatsView(
        name=corpus.name,
        source=corpus.source,
        sentences={s: len(corpus.split(s)) for s in splits},
        tokens={s: sum(len(x) for x in corpus.split(s)) for s in splits},
        types=len(counts),
        vocab_size=vocab_size,
        coverage=covered / train_tokens if train_tokens else 0.0,
        oov_rate=oov / len(valid_tokens) if valid_tokens else 0.0,
        lengths=[len(s) for s in corpus.train],
        top=counts.most_common(top),
        samples=[list(s) for s in corpus.train[:samples]],
        warnings=list(corpus.warnings),
    )


def histogram(lengths: list[int], bins: int = 12) -> tuple[list[str], list[int]]:
    """Sentence-length counts in equal-width bins, labelled by their lower edge."""
    if not lengths:
        return [], []
    hi = max(lengths)
    width = max(1, -(-hi // bins))
    counts = [0] * (hi // width + 1)
    for n in lengths:
        counts[n // width] += 1
    return [str(i * width) for i in range(len(counts))], counts


class CorpusStats(VerticalScroll):
    """The statistics of the loaded corpus, or a hint while there is none."""

    def compose(self) -> ComposeResult:
        yield Static("No corpus loaded yet: pick one on the left.", id="stats-summary")
        with Horizontal(id="stats-row"):
            yield PlotextPlot(id="length-hist")
            yield Static(id="top-words")
        yield Static(id="preview")

    def on_mount(self) -> None:
        self.query_one("#length-hist").display = False

    def show(self, s: StatsView) -> None:
        summary = Table.grid(padding=(0, 2))
        summary.add_column(style="bold")
        summary.add_column(justify="right")
        summary.add_column(justify="right")
        summary.add_column(justify="right")
        summary.add_row("", "train", "valid", "test")
        summary.add_row("sentences", *(f"{s.sentences.get(k, 0):,}" for k in ("train", "valid", "test")))
        summary.add_row("tokens", *(f"{s.tokens.get(k, 0):,}" for k in ("train", "valid", "test")))
        summary.add_row("word types", f"{s.types:,}", "", "")
        summary.add_row(f"top {s.vocab_size:,} cover", f"{s.coverage:.1%}", "", "")
        summary.add_row("OOV (valid)", "", f"{s.oov_rate:.2%}", "")
        title = Text.assemble((s.name, "bold"), "  ", (s.source, "dim"))
        parts: list[Any] = [title, summary]
        for w in s.warnings:
            parts.append(Text(f"⚠ {w}", style="yellow"))
        from rich.console import Group

        self.query_one("#stats-summary", Static).update(Group(*parts))
        labels, counts = histogram(s.lengths)
        plot = self.query_one("#length-hist", PlotextPlot)
        plot.display = bool(counts)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.bar(labels, counts, marker="hd")
        plt.title("sentence length (words)")
        plot.refresh()
        top = Table("word", "count", box=None, padding=(0, 1), show_edge=False)
        top.columns[1].justify = "right"
        for word, count in s.top[:12]:
            top.add_row(word, f"{count:,}")
        self.query_one("#top-words", Static).update(top)
        preview = Text("tokenized preview\n", style="bold")
        for sent in s.samples:
            preview.append(" ".join(sent) + "\n", style="")
        self.query_one("#preview", Static).update(preview)
