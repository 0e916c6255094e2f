"""`NgramModel`: a back-off n-gram (estimated here with Kneser-Ney, or read from an ARPA file) as a scorer
with the same face as `LanguageModel`: `score`, `score_tokens`, `evaluate`, `next_word_distribution`.

A model folder under checkpoints/ holds it like any other model (config.json says `"kind": "ngram"`,
model.safetensors holds each order's word ids, log10 P and back-off as plain arrays, read without
unpickling), so `rnngen models`, `eval`, `score`, `rerank` and `pairs` take it by name. An ARPA file
(plain or gzip) is accepted wherever a model is: `load` tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rnngen import arpa, checkpoint, kneser_ney
from rnngen.backoff import LN10, BackoffTables, Order
from rnngen.conventions import Conventions
from rnngen.errors import CheckpointError, InputError
from rnngen.score import MAX_TOKENS
from rnngen.textmodel import Evaluation, TextModel
from rnngen.tokenize import TokenizerSettings
from rnngen.vocab import Vocabulary

KIND = "ngram"


@dataclass(eq=False)  # arrays inside: compared by identity
class NgramModel(TextModel):
    tables: BackoffTables
    vocab: Vocabulary
    tokenizer: TokenizerSettings
    settings: dict[str, Any] = field(default_factory=dict)  # order, estimator, discounts: config.json's "model"
    history: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    conventions: Conventions | None = None
    run_id: str | None = field(default_factory=checkpoint.new_run_id)

    def __post_init__(self) -> None:
        if self.conventions is None and self.tokenizer.words == "whitespace":
            self.conventions = Conventions.learn(self.vocab.words)

    @property
    def order(self) -> int:
        return self.tables.order

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(unsaved)"

    @property
    def kind(self) -> str:
        return f"{self.order}-gram"

    # -- building, storing, reading --------------------------------------------------------
    @classmethod
    def estimate(cls, corpus, order: int = 5, vocab_size: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> "NgramModel":
        """Interpolated modified Kneser-Ney on the corpus's training split, over the vocabulary an RNN
        trained with the same `vocab_size` gets (`Vocabulary.build`), scored on its validation split."""
        vocab = Vocabulary.build(corpus.train, vocab_size)
        tables = kneser_ney.estimate(corpus.train, vocab, order, progress)
        model = cls(tables, vocab, corpus.settings, {"kind": KIND, "order": order, "estimator": "kneser-ney",
                                                      "vocab_size": vocab_size})
        model.corpus = corpus.describe()
        if corpus.valid:
            model.history = {"best_valid_ppl": model.evaluate(corpus.valid).perplexity, "epochs": []}
        return model

    @classmethod
    def from_arpa(cls, path: str | Path, tokenizer: TokenizerSettings | None = None,
                  progress: Callable[[int, int], None] | None = None) -> "NgramModel":
        """An ARPA file as a model; its text is taken as tokenized (split on spaces) unless `tokenizer` says."""
        vocab, tables = arpa.read(path, progress)
        model = cls(tables, vocab, tokenizer or TokenizerSettings.pretokenized(False),
                    {"kind": KIND, "order": tables.order, "estimator": "arpa", "arpa": str(path)})
        model.path = Path(path)
        model.run_id = None
        return model

    def write_arpa(self, path: str | Path) -> Path:
        return arpa.write(path, self.vocab, self.tables)

    def save(self, path: str | Path, replace: bool = False) -> Path:
        """Save as a model folder, atomically (`checkpoint.save`)."""
        arrays: dict[str, np.ndarray] = {}
        for k, o in enumerate(self.tables.orders, 1):
            arrays[f"ids.{k}"] = np.ascontiguousarray(o.ids, dtype=np.int32)
            arrays[f"logprob.{k}"] = np.ascontiguousarray(o.logprob, dtype=np.float32)
            arrays[f"backoff.{k}"] = np.ascontiguousarray(o.backoff, dtype=np.float32)
        config = {"model": {**self.settings, "kind": KIND, "order": self.order}, "train": {},
                  "tokenizer": self.tokenizer.to_dict() | (
                      {"conventions": self.conventions.to_dict()} if self.conventions is not None else {}),
                  "vocab_size": len(self.vocab), "parameters": sum(self.tables.counts()),
                  "ngrams": self.tables.counts()}
        if self.run_id is not None:
            config["run"] = self.run_id
        data = checkpoint.CheckpointData(config, self.vocab.to_json(), self.history, self.corpus)
        self.path = checkpoint.save(checkpoint.resolve(path), arrays, data, None, replace)
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> "NgramModel":
        folder = checkpoint.resolve(path)
        data = checkpoint.read(folder)
        settings = data.config["model"]
        try:
            vocab = Vocabulary.from_json(data.vocab_json)
            tokenizer = TokenizerSettings.from_dict(data.config.get("tokenizer", {}))
            saved = data.config.get("tokenizer", {}).get("conventions")
            conventions = Conventions.from_dict(saved) if isinstance(saved, dict) else None
            order = int(settings["order"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{folder}/config.json or vocab.json is corrupt: {exc}") from None
        tables = _read_tables(folder, order, len(vocab))
        return cls(tables, vocab, tokenizer, settings, data.history, data.corpus, folder, conventions,
                   data.config.get("run"))

    # -- scoring ---------------------------------------------------------------------------
    def logprobs(self, ids: Sequence[Sequence[int]], max_tokens: int = MAX_TOKENS) -> list[list[float]]:
        """Natural-log P of `w1 .. wn </s>` given `<s>` for each id sequence (the scorer protocol)."""
        return [(values * LN10).tolist() for values in
                self.tables.log10_sentences(ids, self.vocab.bos_id, self.vocab.eos_id)]

    def evaluate(self, sentences: Sequence[Sequence[str]], cache=None) -> Evaluation:
        """Perplexity over tokenized sentences, each from `<s>` to `</s>`."""
        if cache is not None:
            raise InputError("an n-gram model keeps no cache of recent states: mix one with an RNN model "
                             "instead ({ngram})", ("ngram",))
        nll, tokens, oov, count = self.held_out_nll(sentences)
        return Evaluation(tokens, oov, count, nll)

    def next_word_distribution(self, context: Sequence[str]):
        """P(w | <s> context) over the whole vocabulary (`<s>` gets 0); sums to 1 for a Kneser-Ney model."""
        import torch

        ids = [self.vocab.bos_id, *self.vocab.encode(context)]
        probs = 10.0 ** self.tables.log10_next(ids, np.arange(len(self.vocab)))
        probs[self.vocab.bos_id] = 0.0
        return torch.from_numpy(probs)


def _read_tables(folder: Path, order: int, vocab_size: int) -> BackoffTables:
    """Each order's arrays from model.safetensors, their shapes and ids checked before they are used."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = folder / "model.safetensors"
    checkpoint.read_file_check(path)
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from None
    orders = []
    for k in range(1, order + 1):
        try:
            ids, logprob, backoff = arrays[f"ids.{k}"], arrays[f"logprob.{k}"], arrays[f"backoff.{k}"]
        except KeyError as exc:
            raise CheckpointError(f"{path} has no {exc.args[0]} array for its order {order}") from None
        if ids.ndim != 2 or ids.shape[1] != k or logprob.shape != (len(ids),) or backoff.shape != (len(ids),):
            raise CheckpointError(f"{path}: the {k}-gram arrays do not fit together")
        if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
            raise CheckpointError(f"{path}: a {k}-gram holds a word id outside the vocabulary")
        try:
            orders.append(Order(ids, logprob, backoff))
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
    return BackoffTables(orders, vocab_size)


def is_ngram_folder(path: str | Path) -> bool:
    folder = Path(path)
    if not folder.is_dir():
        try:
            folder = checkpoint.resolve(path)
        except CheckpointError:
            return False
    return checkpoint.model_settings(folder).get("kind") == KIND


def load(name: str | Path):
    """Whatever `name` is: an ARPA file, an n-gram model folder, or an RNN model (`LanguageModel`)."""
    from rnngen.lm import LanguageModel

    if arpa.looks_like_arpa(name):
        return NgramModel.from_arpa(name)
    if Path(name).is_file():
        raise InputError(f"{name} is a file but not an ARPA file (it does not begin with \\data\\): a model is a "
                         "folder under checkpoints/ or an ARPA file")
    if is_ngram_folder(name):
        return NgramModel.load(name)
    return LanguageModel.load(name)
