"""A back-off n-gram model as arrays: per order, each n-gram's words, log10 P and log10 back-off weight.

This is the model an ARPA file writes down (KenLM, SRILM, Moses, Kaldi):

    log10 P(w | h) = logprob(h w)                       if the n-gram h w is listed
                   = backoff(h) + log10 P(w | h[1:])    otherwise (backoff(h) = 0 when h is not listed)

N-grams are found by a 64-bit hash of their word ids, per order, in sorted arrays (`np.searchsorted`),
as KenLM's probing model finds them: no Python object per n-gram, so a file of millions of n-grams
loads as a few flat arrays. Two n-grams of one order with the same hash would be refused at load
(never seen; the chance for ten million n-grams is about 3 in a million).

Queries are vectorised over every position of a batch of sentences at once: the hash of the window
of length k ending at position t is the hash of the window of length k-1 ending at t-1 extended by
the word at t, so each order costs a few array operations over the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

LN10 = float(np.log(10.0))
SEED = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    h = (h ^ (h >> _S30)) * _M1
    h = (h ^ (h >> _S27)) * _M2
    return h ^ (h >> _S31)


def extend(h: np.ndarray, word: np.ndarray) -> np.ndarray:
    """The hash of an n-gram from the hash of its first n-1 words and its last word's id."""
    with np.errstate(over="ignore"):
        return _mix(h ^ (word.astype(np.uint64) + SEED))


def hashes(ids: np.ndarray) -> np.ndarray:
    """The hash of each row of an (n, k) array of word ids."""
    h = np.full(len(ids), SEED, dtype=np.uint64)
    for col in range(ids.shape[1]):
        h = extend(h, ids[:, col])
    return h


@dataclass(eq=False)  # arrays inside: compared by identity
class Order:
    """The n-grams of one order: word ids (n, k), log10 P and log10 back-off, in hash order."""

    ids: np.ndarray
    logprob: np.ndarray
    backoff: np.ndarray
    keys: np.ndarray | None = None

    def __post_init__(self) -> None:
        keys = hashes(self.ids)
        order = np.argsort(keys, kind="stable")
        if not np.all(order[1:] > order[:-1]):  # not already in hash order: put it in
            self.ids, self.logprob, self.backoff = self.ids[order], self.logprob[order], self.backoff[order]
            keys = keys[order]
        if len(keys) > 1 and not np.all(keys[1:] != keys[:-1]):
            at = int(np.flatnonzero(keys[1:] == keys[:-1])[0])
            raise ValueError(f"the {self.ids.shape[1]}-gram of ids {self.ids[at].tolist()} is listed twice")
        self.keys = keys

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, -1 where it is not listed."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(eq=False)  # arrays inside: compared by identity
class BackoffTables:
    """Orders 1..N of a back-off model over the word ids of a vocabulary (`size` words)."""

    orders: list[Order]
    size: int

    @property
    def order(self) -> int:
        return len(self.orders)

    def counts(self) -> list[int]:
        return [len(o) for o in self.orders]

    # -- queries ---------------------------------------------------------------------------
    def log10_stream(self, stream: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """log10 P(word at t | the words before it in its sentence) for every position t of `stream`.

        `stream` holds sentences back to back, each from its `<s>`; `starts[t]` is the position of
        the `<s>` that begins t's sentence. Positions of `<s>` itself get NaN (never predicted).
        """
        n, top = len(stream), self.order
        position = np.arange(n)
        # found[k-1][t]: the row of the window of length k ending at t in order k, or -1
        found: list[np.ndarray] = []
        h = np.full(n, SEED, dtype=np.uint64)
        for k in range(1, top + 1):
            h = extend(np.concatenate(([SEED], h[:-1])) if k > 1 else h, stream)
            rows = self.orders[k - 1].find(h)
            rows[position - k + 1 < starts] = -1
            found.append(rows)
        # the longest listed n-gram ending at t with a probability (a blank context-only entry has NaN)
        match = np.zeros(n, dtype=np.int64)
        logp = np.full(n, np.nan)
        for k in range(1, top + 1):
            rows = found[k - 1]
            values = np.where(rows >= 0, self.orders[k - 1].logprob[np.maximum(rows, 0)], np.nan)
            better = ~np.isnan(values)
            logp[better], match[better] = values[better], k
        # back-off weights of the contexts longer than the match: length j ending at t-1, j >= match
        for j in range(1, top):
            context = np.concatenate(([-1], found[j - 1][:-1]))
            use = (context >= 0) & (j >= match) & (match > 0)
            logp[use] += self.orders[j - 1].backoff[context[use]]
        logp[position == starts] = np.nan
        return logp

    def log10_sentences(self, sentences: Sequence[Sequence[int]], bos: int, eos: int) -> list[np.ndarray]:
        """log10 P of `w1 .. wn </s>` given `<s>`, for each id sequence."""
        lengths = [len(s) + 2 for s in sentences]
        stream = np.fromiter((w for s in sentences for w in (bos, *s, eos)), dtype=np.int64,
                             count=sum(lengths))
        begins = np.cumsum([0, *lengths[:-1]]).astype(np.int64)
        starts = np.repeat(begins, lengths)
        logp = self.log10_stream(stream, starts)
        return [logp[b + 1:b + n] for b, n in zip(begins.tolist(), lengths)]

    def log10_next(self, context: Sequence[int], words: np.ndarray) -> np.ndarray:
        """log10 P(w | context) for each id in `words`; `context` starts with `<s>`."""
        context = list(context)[-(self.order - 1):] if self.order > 1 else []
        logp = np.full(len(words), np.nan)
        matched = np.zeros(len(words), dtype=bool)
        backoff = np.zeros(len(words))
        # from the longest context down: a word listed after h takes logprob(h w) plus the back-offs above h
        for length in range(len(context), -1, -1):
            h = context[len(context) - length:]
            rows = self.orders[length].find(extend(np.full(len(words), hashes(np.array([h], dtype=np.int64))[0]
                                                           if h else SEED, dtype=np.uint64), words))
            values = np.where(rows >= 0, self.orders[length].logprob[np.maximum(rows, 0)], np.nan)
            take = ~matched & ~np.isnan(values)
            logp[take] = values[take] + backoff[take]
            matched |= take
            if length:
                row = self.orders[length - 1].find(hashes(np.array([h], dtype=np.int64)))[0]
                if row >= 0:
                    backoff += self.orders[length - 1].backoff[row]
        return logp
