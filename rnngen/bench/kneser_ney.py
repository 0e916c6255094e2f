"""An interpolated modified Kneser-Ney n-gram model written plainly with dictionaries: the reference
that `rnngen.kneser_ney` (the same estimator as arrays, used by `rnngen ngram train`) is tested against.

The estimator is the one KenLM's `lmplz` uses (Chen & Goodman, 1998; Heafield
et al., 2013), without pruning: adjusted counts (continuation counts for lower
orders, except for n-grams that start with `<s>`), three discounts per order
from the count-of-counts, interpolation down to a uniform distribution over
the vocabulary. NLTK's `nltk.lm.KneserNeyInterpolated` has one fixed discount
and scores a few dozen tokens a second on a 14k vocabulary (2 hours for this
test split), and KenLM's Python module can query but not estimate, so the
baseline is estimated here; `probability` sums to 1 over the vocabulary for
every context (tested).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from rnngen.vocab import BOS, EOS, Vocabulary


@dataclass
class _Order:
    """Adjusted counts of one order, and per context: total, and how many words have count 1, 2, 3+."""

    counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    contexts: dict[tuple[str, ...], tuple[int, int, int, int]] = field(default_factory=dict)
    discounts: tuple[float, float, float] = (0.5, 0.75, 0.9)


class KneserNey:
    """P(w | up to order-1 previous words) for sentences `<s> w1 .. wn </s>`."""

    def __init__(self, sentences: Iterable[Sequence[str]], vocab: Vocabulary, order: int = 5) -> None:
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order = order
        self.vocab = vocab
        # Words that can be predicted: the vocabulary without <s>.
        self.size = len(vocab) - 1
        self.orders = [_Order() for _ in range(order + 1)]  # index k holds k-grams; 0 unused
        raw = self._raw_counts(sentences)
        self._adjust(raw)
        for k in range(1, order + 1):
            self._estimate(k)

    def _map(self, sentence: Sequence[str]) -> list[str]:
        """`<s> w.. </s>` with words outside the vocabulary as `<unk>`."""
        return [BOS, *(self.vocab.words[self.vocab.id(w)] for w in sentence), EOS]

    def _raw_counts(self, sentences: Iterable[Sequence[str]]) -> list[Counter]:
        raw = [Counter() for _ in range(self.order + 1)]
        n = self.order
        for sentence in sentences:
            tokens = self._map(sentence)
            for i in range(1, len(tokens)):
                for k in range(1, min(n, i + 1) + 1):
                    raw[k][tuple(tokens[i - k + 1 : i + 1])] += 1
        return raw

    def _adjust(self, raw: list[Counter]) -> None:
        """Highest order and `<s>`-initial n-grams keep their counts; the rest count distinct left words."""
        n = self.order
        self.orders[n].counts = dict(raw[n])
        for k in range(n - 1, 0, -1):
            adjusted: dict[tuple[str, ...], int] = {g: c for g, c in raw[k].items() if g[0] == BOS}
            for longer in raw[k + 1]:
                suffix = longer[1:]
                if suffix[0] != BOS:
                    adjusted[suffix] = adjusted.get(suffix, 0) + 1
            self.orders[k].counts = adjusted

    def _estimate(self, k: int) -> None:
        level = self.orders[k]
        of_count = Counter(c for c in level.counts.values() if c <= 4)
        t1, t2, t3, t4 = (of_count.get(j, 0) for j in (1, 2, 3, 4))
        if t1 and t2 and t3 and t4:
            y = t1 / (t1 + 2 * t2)
            estimated = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
            # Outside (0, count] a discount would break normalisation or give zero probabilities;
            # odd count-of-counts (tiny corpora) can produce one.
            level.discounts = tuple(min(max(d, 0.05), j) for j, d in enumerate(estimated, 1))  # type: ignore[assignment]
        stats: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for gram, c in level.counts.items():
            s = stats[gram[:-1]]
            s[0] += c
            s[min(c, 3)] += 1
        level.contexts = {h: tuple(s) for h, s in stats.items()}  # type: ignore[misc]

    def _discount(self, level: _Order, count: int) -> float:
        return level.discounts[min(count, 3) - 1] if count else 0.0

    def probability(self, word: str, context: Sequence[str]) -> float:
        """P(word | context); `context` is the preceding tokens, `<s>` first at a sentence start."""
        word = self.vocab.words[self.vocab.id(word)]
        history = tuple(w if w == BOS else self.vocab.words[self.vocab.id(w)] for w in context)
        p = 1.0 / self.size
        for k in range(1, self.order + 1):
            if k - 1 > len(history):
                break
            h = history[len(history) - (k - 1) :] if k > 1 else ()
            level = self.orders[k]
            stats = level.contexts.get(h)
            if stats is None:
                break
            total, n1, n2, n3 = stats
            c = level.counts.get((*h, word), 0)
            d1, d2, d3 = level.discounts
            gamma = (d1 * n1 + d2 * n2 + d3 * n3) / total
            p = max(c - self._discount(level, c), 0.0) / total + gamma * p
        return p

    def sentence_logprob(self, sentence: Sequence[str]) -> list[float]:
        """Natural-log probabilities of `w1 .. wn </s>` given `<s>`."""
        tokens = self._map(sentence)
        keep = self.order - 1
        return [math.log(self.probability(tokens[i], tokens[max(0, i - keep) : i])) for i in range(1, len(tokens))]

    def predictable(self) -> list[str]:
        """The words the distribution is over (everything but `<s>`)."""
        return [w for w in self.vocab.words if w != BOS]
