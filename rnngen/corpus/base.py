"""A corpus ready for training: tokenized train/valid/test sentences and where they came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rnngen.errors import CorpusError
from rnngen.tokenize import TokenizerSettings

Sentences = list[list[str]]


@dataclass
class Corpus:
    """Tokenized splits plus the facts a checkpoint records about its source."""

    name: str
    train: Sentences
    valid: Sentences
    test: Sentences
    settings: TokenizerSettings
    source: str = ""
    fingerprint: str = ""
    warnings: list[str] = field(default_factory=list)
    # For generated corpora: the true log-probability (natural log) of a
    # tokenized sentence under the source, so the entropy floor can be shown.
    true_logprob: Callable[[Sequence[str]], float] | None = None
    cache: Path | None = None  # the prepared-corpus cache entry it was read from or written to (`corpus.store`)

    @property
    def train_tokens(self) -> int:
        """Predicted tokens of the training split: its words and a sentence end each."""
        if hasattr(self.train, "num_tokens"):  # held as arrays (`corpus.arrays`): no sentence is empty
            return self.train.num_tokens + len(self.train)
        return sum(len(s) + 1 for s in self.train if s)

    def split(self, name: str) -> Sentences:
        if name not in ("train", "valid", "test"):
            raise CorpusError(f"unknown split {name!r}: choose train, valid or test")
        return getattr(self, name)

    def describe(self) -> dict:
        """What a checkpoint stores in corpus.json."""
        return {
            "name": self.name,
            # absolute, so that a model trained on `../book.txt` finds its corpus from any folder
            "source": str(Path(self.source).resolve()) if self.source and Path(self.source).exists() else self.source,
            "fingerprint": self.fingerprint,
            "tokenizer": self.settings.to_dict(),
            "sentences": {s: len(self.split(s)) for s in ("train", "valid", "test")},
            "tokens": {s: split_tokens(self.split(s)) for s in ("train", "valid", "test")},
            # distinct training words: with the vocabulary's size, how many word types <unk> stands for
            "train_types": train_types(self.train),
            "writes_unk": any("<unk>" in sentence for sentence in self.train[:20_000]),
        }


def split_tokens(sentences) -> int:
    """Tokens of a split (sentence ends not counted), held as lists or as arrays."""
    return sentences.num_tokens if hasattr(sentences, "num_tokens") else sum(len(x) for x in sentences)


def train_types(sentences) -> int:
    if hasattr(sentences, "counts"):
        return int(np.count_nonzero(sentences.counts()))
    return len({w for sentence in sentences for w in sentence})


def fingerprint(chunks: Sequence[bytes]) -> str:
    """sha256 over the raw bytes of the source files, in order."""
    return combine([digest(chunk) for chunk in chunks])


def digest(chunk: bytes) -> bytes:
    """One file's part of a fingerprint: taken as it is read, so its bytes need not be kept."""
    return hashlib.sha256(chunk).digest()


def combine(digests: Sequence[bytes]) -> str:
    h = hashlib.sha256()
    for d in digests:
        h.update(d)
    return h.hexdigest()


def split_90_5_5(sentences: Sentences, name: str) -> tuple[Sentences, Sentences, Sentences]:
    """Contiguous, deterministic split by sentences: first 90% train, then 5% valid, 5% test.

    Contiguous rather than shuffled, so held-out text is unseen text (a new
    chapter), as in the standard benchmark splits.
    """
    n = len(sentences)
    if n < 3:
        raise CorpusError(f"{name} has only {n} sentence(s); at least 3 are needed to split train/valid/test")
    held = max(1, round(n * 0.05))
    train_end = n - 2 * held
    return sentences[:train_end], sentences[train_end : train_end + held], sentences[train_end + held :]
