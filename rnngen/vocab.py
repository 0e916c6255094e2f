"""Vocabulary: the C most frequent words plus `<unk>`, `<s>` and `</s>`."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, BOS, EOS)
# Corpora such as PTB and WikiText already write rare words as <unk>; older
# texts use <UNK> or <eos>. These spellings are read as our own specials.
_ALIASES = {"<UNK>": UNK, "<eos>": EOS, "<EOS>": EOS}


@dataclass
class Vocabulary:
    """Word <-> id maps; ids 0, 1, 2 are `<unk>`, `<s>`, `</s>`."""

    words: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if tuple(self.words[:3]) != SPECIALS:
            raise ValueError("a vocabulary starts with <unk>, <s>, </s>")
        self.index = {w: i for i, w in enumerate(self.words)}

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
        for sentence in sentences:
            counts.update(_ALIASES.get(w, w) for w in sentence)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = [w for w, c in counts.most_common() if c >= min_count]
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

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[i] for i in ids]

    def is_oov(self, word: str) -> bool:
        """True for words the model only knows as `<unk>` (a literal `<unk>` counts too)."""
        return self.id(word) == self.unk_id

    def to_json(self) -> str:
        return json.dumps({"words": self.words}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        return cls(json.loads(text)["words"])
