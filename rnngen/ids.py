"""Sentences of token ids held flat: one array of ids and the offset where each sentence starts.

What batching reads for a corpus of any size: a list of lists of ints costs about 40 bytes a token, this
4 or 8. Torch-free, so preparing and counting a corpus never loads torch.
"""

from __future__ import annotations

from itertools import chain
from typing import Iterator, Sequence

import numpy as np


def starts_of(lengths: np.ndarray) -> np.ndarray:
    """Where each sentence starts in the flat array, and where the last ends, from their lengths."""
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return starts


class Offsets:
    """Where each sentence of a flat array starts (`starts`: one more entry than sentences, the last the end):
    what sentences held as arrays share, the corpus's word ids (`corpus.arrays.TokenSplit`) and a model's."""

    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    @property
    def num_tokens(self) -> int:
        return int(self.starts[-1] - self.starts[0])

    def _position(self, i: int) -> int:
        """Sentence `i` (negative from the end), or IndexError as a list gives."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("sentence index out of range")
        return i

    def _span(self, part: slice) -> np.ndarray | None:
        """The offsets of a contiguous slice (a view: nothing is copied); None for a slice with a step."""
        first, last, step = part.indices(len(self))
        return self.starts[first:max(first, last) + 1] if step == 1 else None


class IdSentences(Offsets, Sequence[np.ndarray]):
    """Sentences of model ids, flat: what batching reads (a list of lists of ints holds ~40 bytes a token)."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray) -> None:
        self.flat = flat
        self.starts = starts

    @classmethod
    def of(cls, sentences: "Sequence[Sequence[int]] | IdSentences") -> "IdSentences":
        """Lists of ids as `IdSentences` (returned as they are when they already are)."""
        if isinstance(sentences, IdSentences):
            return sentences
        starts = starts_of(np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)))
        flat = np.fromiter(chain.from_iterable(sentences), dtype=np.int64, count=int(starts[-1]))
        return cls(flat, starts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            span = self._span(i)
            return [self[k] for k in range(*i.indices(len(self)))] if span is None else IdSentences(self.flat, span)
        i = self._position(i)
        return self.flat[self.starts[i]:self.starts[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]
