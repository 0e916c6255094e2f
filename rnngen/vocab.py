"""Vocabulary: the C most frequent words plus `<unk>`, `<s>` and `</s>`."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)
# Corpora such as PTB and WikiText already write rare words as <unk>; older
# texts use <UNK> or <eos>. These spellings are read as our own specials.
_ALIASES = {"<UNK>": UNK, "<eos>": EOS, "<EOS>": EOS}


_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def word_problem(word: object) -> str | None:
    """Why `word` cannot be a token, or None: a token is a non-empty string without spaces or control characters
    (tokenizers never make one; a vocabulary holding one would split lines of generated text and TSV output)."""
    if not isinstance(word, str):
        return f"is not text: {word!r}"[:80]
    if not word:
        return "is empty"
    if _BAD_CHARS.search(word):
        return f"holds a space or a control character: {word!r}"[:80]
    return None


@dataclass
class Vocabulary:
    """Word <-> id maps; ids 0, 1, 2 are `<unk>`, `<s>`, `</s>`."""

    words: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.words, list) or tuple(self.words[:3]) != SPECIALS:
            raise ValueError("a vocabulary starts with <unk>, <s>, </s>")
        for i, w in enumerate(self.words):
            if problem := word_problem(w):
                raise ValueError(f"word {i} of the vocabulary {problem}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("the vocabulary lists a word twice")

    unk_id, bos_id, eos_id = 0, 1, 2

    @classmethod
    def build(
        cls,
        sentences: Iterable[list[str]],
        max_size: int | None = 8000,
        min_count: int = 1,
    ) -> "Vocabulary":
        """Keep the `max_size` most frequent words (specials included in the count).

        Ties in frequency are broken by first appearance so the result is
        deterministic for a given corpus.
        """
        counts: Counter[str] = Counter()
        if hasattr(sentences, "word_counts"):  # a corpus held as arrays (`corpus.arrays.TokenSplit`) counts itself
            for w, c in sentences.word_counts().items():  # in order of first appearance, as below
                counts[_ALIASES.get(w, w)] += c
        else:
            for sentence in sentences:
                counts.update(_ALIASES.get(w, w) for w in sentence)
        for special in SPECIALS:
            counts.pop(special, None)
        # a token with a control character (a stray escape in a book) is read as <unk>, never kept
        ranked = [w for w, c in counts.most_common() if c >= min_count and word_problem(w) is None]
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls(list(SPECIALS) + ranked)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return _ALIASES.get(word, word) in self.index

    def id(self, word: str) -> int:
        return self.index.get(_ALIASES.get(word, word), self.unk_id)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def encode_all(self, sentences):
        """Every non-empty sentence as ids: lists of lists, or one array for a corpus held as arrays
        (`corpus.arrays.TokenSplit`: its word table is mapped once, then indexed; no object per token)."""
        if hasattr(sentences, "encode"):
            words = sentences.words
            return sentences.encode(np.fromiter(map(self.id, words), dtype=np.int32, count=len(words)))
        return [self.encode(s) for s in sentences if s]

    def is_oov(self, word: str) -> bool:
        """True for words the model only knows as `<unk>` (a literal `<unk>` counts too)."""
        return self.id(word) == self.unk_id

    def to_json(self) -> str:
        return json.dumps({"words": self.words}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        return cls(json.loads(text)["words"])
