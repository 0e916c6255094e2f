"""What a corpus holds, before training on it: sizes, vocabulary coverage, sentence lengths, top words.

UI-free: `corpus_stats` returns a dataclass that the CLI renders with rich and
the TUI's corpus screen shows in widgets. Coverage is computed the way the
model will see the data: the vocabulary is the C most frequent training words
(ties broken as `Vocabulary.build` breaks them), and everything else in the
validation split becomes `<unk>`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from rnngen.corpus.base import Corpus, Sentences, split_tokens
from rnngen.vocab import Vocabulary


@dataclass(frozen=True)
class LengthBin:
    """Sentences with `low` <= length <= `high` words."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class CorpusStats:
    name: str
    source: str
    tokenizer: dict
    sentences: dict[str, int]  # per split
    tokens: dict[str, int]  # words per split (no sentence ends)
    types: int  # distinct words in train
    vocab_size: int  # the C asked for
    vocab_used: int  # words actually kept (at most C, at most the types)
    train_coverage: float  # share of train tokens that are in the vocabulary
    valid_oov_rate: float  # share of valid tokens that fall outside it
    valid_unseen_rate: float  # share of valid tokens never seen in train at all
    singletons: int  # train words seen once
    length_mean: float
    length_median: int
    length_max: int
    length_bins: list[LengthBin]
    top_words: list[tuple[str, int]]
    samples: list[list[str]]
    warnings: list[str] = field(default_factory=list)
    true_perplexity: float | None = None  # the source's own test perplexity, for generated corpora

    @property
    def total_sentences(self) -> int:
        return sum(self.sentences.values())

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["length_bins"] = [asdict(b) for b in self.length_bins]
        data["top_words"] = [list(p) for p in self.top_words]
        return data


def corpus_stats(corpus: Corpus, vocab_size: int = 8000, top: int = 20, samples: int = 5) -> CorpusStats:
    """Statistics of a loaded corpus for a vocabulary of the `vocab_size` most frequent training words.

    Counted from word counts and sentence lengths, never a list of every token: a corpus held as arrays
    (`corpus.arrays`) of 100M tokens gives its statistics in seconds, in the memory its arrays take.
    """
    counts = word_counts(corpus.train)
    vocab = Vocabulary.build(corpus.train, max_size=vocab_size)
    kept = {w for w in counts if not vocab.is_oov(w)}
    train_tokens = sum(counts.values())
    covered = sum(counts[w] for w in kept)
    valid = word_counts(corpus.valid)
    valid_tokens = sum(valid.values())
    valid_oov = sum(c for w, c in valid.items() if vocab.is_oov(w))
    valid_unseen = sum(c for w, c in valid.items() if w not in counts)
    lengths = np.sort(np.concatenate([sentence_lengths(corpus.split(s)) for s in ("train", "valid", "test")]))
    floor = None
    if corpus.true_logprob is not None and corpus.test:
        floor = true_perplexity(corpus, "test")
    return CorpusStats(
        name=corpus.name, source=corpus.source, tokenizer=corpus.settings.to_dict(),
        sentences={s: len(corpus.split(s)) for s in ("train", "valid", "test")},
        tokens={s: split_tokens(corpus.split(s)) for s in ("train", "valid", "test")},
        types=len(counts), vocab_size=vocab_size, vocab_used=len(kept),
        train_coverage=covered / train_tokens if train_tokens else 0.0,
        valid_oov_rate=valid_oov / valid_tokens if valid_tokens else 0.0,
        valid_unseen_rate=valid_unseen / valid_tokens if valid_tokens else 0.0,
        singletons=sum(1 for c in counts.values() if c == 1),
        length_mean=float(lengths.mean()) if len(lengths) else 0.0,
        length_median=int(lengths[len(lengths) // 2]) if len(lengths) else 0,
        length_max=int(lengths[-1]) if len(lengths) else 0,
        length_bins=length_histogram(lengths),
        top_words=counts.most_common(top),
        samples=spread(corpus.train, samples),
        warnings=list(corpus.warnings),
        true_perplexity=floor,
    )


def word_counts(sentences) -> Counter[str]:
    """How often each word occurs, in order of first appearance (as a Counter over the sentences holds them)."""
    if hasattr(sentences, "word_counts"):
        return Counter(sentences.word_counts())
    return Counter(w for s in sentences for w in s)


def sentence_lengths(sentences) -> np.ndarray:
    if hasattr(sentences, "lengths"):
        return np.asarray(sentences.lengths, dtype=np.int64)
    return np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))


def true_perplexity(corpus: Corpus, split: str = "test") -> float | None:
    """The source's own per-token perplexity on a split (words + one end per sentence); None if unknown."""
    if corpus.true_logprob is None:
        return None
    sentences = corpus.split(split)
    total = sum(corpus.true_logprob(s) for s in sentences)
    count = sum(len(s) + 1 for s in sentences)
    return math.exp(-total / count) if count else None


BIN_EDGES = (1, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200)


def length_histogram(lengths) -> list[LengthBin]:
    """Counts of sentence lengths in fixed bins (1-4, 5-9, ... 200+), empty bins at the ends dropped."""
    lengths = np.asarray(lengths, dtype=np.int64)
    longest = int(lengths.max()) if len(lengths) else 0
    bins = []
    for low, nxt in zip(BIN_EDGES, (*BIN_EDGES[1:], None)):
        high = nxt - 1 if nxt else max(longest, low)
        inside = (lengths >= low) & (lengths <= high) if nxt else lengths >= low
        bins.append(LengthBin(low, high, int(inside.sum())))
    while bins and bins[-1].count == 0:
        bins.pop()
    while bins and bins[0].count == 0:
        bins.pop(0)
    return bins


def spread(sentences: Sentences, k: int) -> list[list[str]]:
    """`k` sentences spread evenly through the list (deterministic, so the same corpus shows the same)."""
    if k <= 0 or not sentences:
        return []
    if len(sentences) <= k:
        return [list(s) for s in sentences]
    step = len(sentences) / k
    return [list(sentences[int(i * step)]) for i in range(k)]
