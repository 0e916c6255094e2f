"""Tokenized text as arrays: one int32 id per token into a word table, and where each sentence starts.

A split of 100M tokens held as Python lists of strings takes about 9 GB; as
arrays it takes 4 bytes a token, can be memory-mapped from the corpus cache,
and counts, encodes and batches without a Python object per token. A
`TokenSplit` still reads as a sequence of sentences (lists of words), so code
written for small corpora keeps working on it.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import chain
from typing import Iterable, Iterator, Sequence, overload

import numpy as np

from rnngen.ids import IdSentences, Offsets, starts_of

ID = np.int32  # 2**31 distinct words is far beyond any corpus


class WordTable:
    """Words numbered in order of first appearance; grows as text is added."""

    def __init__(self) -> None:
        # a defaultdict whose factory is its own length numbers a new word as it is first looked up,
        # so a whole batch of words maps to ids in one C-level `map`
        self.index: defaultdict[str, int] = defaultdict()
        self.index.default_factory = self.index.__len__

    @property
    def words(self) -> list[str]:
        return list(self.index)

    def ids(self, words: Iterable[str]) -> list[int]:
        return list(map(self.index.__getitem__, words))


class SplitBuilder:
    """Collects batches of tokenized sentences into one id array and sentence offsets."""

    def __init__(self, table: WordTable) -> None:
        self.table = table
        self.chunks: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []

    def add(self, sentences: Sequence[Sequence[str]]) -> None:
        kept = [s for s in sentences if s]
        if not kept:
            return
        self.chunks.append(np.array(self.table.ids(chain.from_iterable(kept)), dtype=ID))
        self.lengths.append(np.fromiter(map(len, kept), dtype=np.int64, count=len(kept)))

    def build(self, words: list[str] | None = None, first: bool = False) -> "TokenSplit":
        """The split; `words` is the finished table (all splits share one), by default the table now; `first`
        when it was the first split read into the table (see `TokenSplit.first_seen`)."""
        ids = np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=ID)
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int64)
        self.chunks, self.lengths = [], []
        split = TokenSplit(words if words is not None else self.table.words, ids, starts_of(lengths))
        split.first_seen = first
        return split


class TokenSplit(Offsets, Sequence[list[str]]):
    """Sentences as a view of a flat id array: sentence i is `words[ids[starts[i]:starts[i+1]]]`.

    Slicing gives another view (the 90/5/5 split copies nothing); indexing
    gives the sentence's words as a list, as a list of sentences would.
    """

    def __init__(self, words: list[str], ids: np.ndarray, starts: np.ndarray) -> None:
        if starts.ndim != 1 or len(starts) < 1 or int(starts[-1]) > len(ids) or int(starts[0]) < 0:
            raise ValueError("sentence offsets do not fit the id array")
        self.words = words
        self.ids = ids
        self.starts = starts
        # True when the table numbers this split's words in the order they first occur in it (the first
        # split read, or the start of it): its counts then come in a Counter's order without a sort
        self.first_seen = False
        self.cached_counts: np.ndarray | None = None  # the counts stored with a cached corpus

    @overload
    def __getitem__(self, i: int) -> list[str]: ...
    @overload
    def __getitem__(self, i: slice) -> "TokenSplit": ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            span = self._span(i)
            if span is None:
                return [self[k] for k in range(*i.indices(len(self)))]
            part = TokenSplit(self.words, self.ids, span)
            part.first_seen = self.first_seen and i.indices(len(self))[0] == 0
            return part
        i = self._position(i)
        words = self.words
        return [words[k] for k in self.ids[self.starts[i]:self.starts[i + 1]].tolist()]

    def __iter__(self) -> Iterator[list[str]]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TokenSplit) and (other.words is self.words or other.words == self.words):
            return np.array_equal(self.token_ids, other.token_ids) and np.array_equal(self.lengths, other.lengths)
        if isinstance(other, TokenSplit):  # numbered by other tables: equal when the words are
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(list(a) == b for a, b in zip(other, self))
        return NotImplemented

    __hash__ = None  # mutable views: equal by content, like lists

    @property
    def token_ids(self) -> np.ndarray:
        """The ids of this view's tokens, in order (a view of the shared array, no copy)."""
        return self.ids[self.starts[0]:self.starts[-1]]

    def counts(self) -> np.ndarray:
        """How often each word of the table occurs in this split (index = word id)."""
        if self.cached_counts is not None:
            return self.cached_counts
        return np.bincount(self.token_ids, minlength=len(self.words))

    def word_counts(self) -> dict[str, int]:
        """{word: count} in order of first appearance in this split: what a `Counter` over its sentences holds,
        in the same order (`Vocabulary.build` breaks ties in frequency by it)."""
        counts = self.counts()
        if self.first_seen:
            order = np.flatnonzero(counts)
        else:
            present, first = np.unique(self.token_ids, return_index=True)
            order = present[np.argsort(first, kind="stable")]
        words = self.words
        return {words[i]: int(counts[i]) for i in order.tolist()}

    def encode(self, lookup: np.ndarray) -> IdSentences:
        """The sentences in another numbering: `lookup[i]` is the new id of table word i (a model's vocabulary)."""
        return IdSentences(lookup.astype(ID, copy=False)[self.token_ids], self.starts - self.starts[0])
