"""Interpolated modified Kneser-Ney estimation, as arrays, into a back-off model (`rnngen.backoff`).

The estimator is the one KenLM's `lmplz` uses (Chen & Goodman, 1998; Heafield et al., 2013), without
pruning: adjusted counts (continuation counts for lower orders, except for n-grams that start with
`<s>`), three discounts per order from the count-of-counts, interpolation down to a uniform
distribution over the vocabulary less `<s>`. Written as a back-off model, the interpolated
probability of every seen n-gram is its `logprob` and each context's interpolation weight its
`backoff`, so the ARPA file it writes gives exactly these probabilities in KenLM or SRILM.

Every n-gram is a hash (`backoff.extend`) of the window of the training stream it ends at, so each
order is counted with one `np.unique` over the whole stream: seconds for a million tokens.
`rnngen.bench.kneser_ney` is the same estimator written plainly with dictionaries; a test checks
that the two agree.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from rnngen.backoff import SEED, BackoffTables, Order, extend
from rnngen.vocab import Vocabulary

MAX_ORDER = 9
BOS_LOGPROB = -99.0  # `<s>` is never predicted: KenLM and SRILM write -99


def stream_of(sentences: Sequence[Sequence[int]], bos: int, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentences back to back, each as `<s> w.. </s>`, and the start of each position's sentence."""
    lengths = np.fromiter((len(s) + 2 for s in sentences), dtype=np.int64, count=len(sentences))
    stream = np.fromiter((w for s in sentences for w in (bos, *s, eos)), dtype=np.int64,
                         count=int(lengths.sum()))
    begins = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    return stream, np.repeat(begins, lengths)


def discounts(adjusted: np.ndarray) -> tuple[float, float, float]:
    """D1, D2, D3+ from the count-of-counts (Chen & Goodman), kept inside (0, count] so that every
    probability stays positive and the distribution normalised; odd tiny corpora can push them out."""
    t1, t2, t3, t4 = (int(np.count_nonzero(adjusted == j)) for j in (1, 2, 3, 4))
    if not (t1 and t2 and t3 and t4):
        return 0.5, 0.75, 0.9
    y = t1 / (t1 + 2 * t2)
    estimated = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    return tuple(min(max(d, 0.05), j) for j, d in enumerate(estimated, 1))  # type: ignore[return-value]


def estimate(sentences: Sequence[Sequence[str]], vocab: Vocabulary, order: int = 5,
             progress: Callable[[int, int], None] | None = None) -> BackoffTables:
    """The interpolated modified Kneser-Ney model of `sentences` over `vocab` (other words are `<unk>`).

    `progress(done, total)` is called after each order (2 * order steps in all).
    """
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"the order must be 1 to {MAX_ORDER}, got {order}")
    stream, starts = stream_of([vocab.encode(s) for s in sentences], vocab.bos_id, vocab.eos_id)
    n, V, bos = len(stream), len(vocab), vocab.bos_id
    position = np.arange(n)
    steps = 2 * order
    # window hashes: keys[k][t] is the n-gram of length k ending at t (valid[k][t] where it fits its sentence)
    keys: dict[int, np.ndarray] = {0: np.full(n, SEED, dtype=np.uint64)}
    valid: dict[int, np.ndarray] = {}
    for k in range(1, order + 1):
        keys[k] = extend(np.concatenate(([SEED], keys[k - 1][:-1])) if k > 1 else keys[0], stream)
        valid[k] = (position - k + 1 >= starts) & (stream != bos)
    # the distinct n-grams of each order, a representative position each, and their raw counts
    grams: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in range(1, order + 1):
        at = np.flatnonzero(valid[k])
        uniq, first, raw = np.unique(keys[k][at], return_index=True, return_counts=True)
        grams[k] = (uniq, at[first], raw)
        if progress:
            progress(k, steps)
    # unigrams: every word of the vocabulary but <s>, seen or not
    tables: list[Order] = []
    previous_prob: np.ndarray | None = None  # order k-1's probabilities (not logs), by its hash order
    previous_keys: np.ndarray | None = None
    for k in range(1, order + 1):
        uniq, where, raw = grams[k]
        if k < order:
            adjusted = _adjusted(k, uniq, where, raw, stream, grams[k + 1], keys[k], bos)
        else:
            adjusted = raw
        ids = np.stack([stream[where - k + 1 + j] for j in range(k)], axis=1) if len(where) else \
            np.zeros((0, k), dtype=np.int64)
        context = keys[k - 1][where - 1] if k > 1 else np.full(len(uniq), SEED, dtype=np.uint64)
        if k == 1:  # words never seen in training (a vocabulary word outside this text, <unk>) get count 0
            unseen = np.setdiff1d(np.arange(V), np.concatenate((ids[:, 0], [bos])))
            ids = np.concatenate((ids, unseen[:, None]))
            adjusted = np.concatenate((adjusted, np.zeros(len(unseen), dtype=adjusted.dtype)))
            uniq = extend(np.full(len(ids), SEED, dtype=np.uint64), ids[:, 0])
            context = np.full(len(ids), SEED, dtype=np.uint64)
        d = np.array((0.0, *discounts(adjusted[adjusted > 0])))
        ctx, inverse = np.unique(context, return_inverse=True)
        total = np.bincount(inverse, weights=adjusted, minlength=len(ctx))
        kinds = np.minimum(adjusted, 3)
        weight = sum(d[j] * np.bincount(inverse, weights=(kinds == j), minlength=len(ctx)) for j in (1, 2, 3))
        gamma = weight / total
        if k == 1:
            lower = np.full(len(ids), 1.0 / (V - 1))
        else:
            suffix = keys[k - 1][where]  # the same window less its first word
            lower = previous_prob[np.searchsorted(previous_keys, suffix)]
        prob = np.maximum(adjusted - d[np.minimum(adjusted, 3)], 0.0) / total[inverse] + gamma[inverse] * lower
        table = Order(ids, np.log10(prob), np.zeros(len(ids)))
        # the interpolation weight of each context is the back-off of that (k-1)-gram
        if k > 1:
            previous = tables[-1]
            rows = previous.find(ctx)
            previous.backoff[rows[rows >= 0]] = np.log10(gamma[rows >= 0])

        if k == 1:
            table = _with_bos(table, bos)
        previous_keys, previous_prob = table.keys, 10.0 ** table.logprob.astype(np.float64)
        tables.append(table)
        if progress:
            progress(order + k, steps)
    return BackoffTables(tables, V)


def _adjusted(k: int, uniq: np.ndarray, where: np.ndarray, raw: np.ndarray, stream: np.ndarray,
              longer: tuple[np.ndarray, np.ndarray, np.ndarray], keys_k: np.ndarray, bos: int) -> np.ndarray:
    """Continuation counts of order k: how many distinct words precede each k-gram (raw counts for
    k-grams that begin with `<s>`, which nothing precedes)."""
    _, longer_where, _ = longer
    suffixes = keys_k[longer_where]  # the last k words of each distinct (k+1)-gram
    s_uniq, s_count = np.unique(suffixes, return_counts=True)
    at = np.minimum(np.searchsorted(s_uniq, uniq), max(len(s_uniq) - 1, 0))
    continuation = np.where((len(s_uniq) > 0) & (s_uniq[at] == uniq), s_count[at], 0) if len(s_uniq) else \
        np.zeros(len(uniq), dtype=np.int64)
    starts_with_bos = stream[where - k + 1] == bos
    return np.where(starts_with_bos, raw, continuation).astype(np.int64)


def _with_bos(table: Order, bos: int) -> Order:
    """Unigrams with `<s>` listed (log10 P -99): it carries the back-off of the sentence start."""
    ids = np.concatenate((table.ids, [[bos]]))
    return Order(ids, np.concatenate((table.logprob, [BOS_LOGPROB])), np.concatenate((table.backoff, [0.0])))
