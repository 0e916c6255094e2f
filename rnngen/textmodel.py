"""`TextModel`: the text side every scorer shares, an RNN (`LanguageModel`), an n-gram (`NgramModel`) or a
mixture of them: how typed text becomes the model's tokens, what held-out text a name means, and
sentence scores from the scorer's own `score_tokens`.

A scorer provides `vocab`, `tokenizer`, `conventions`, `corpus` and
`score_tokens(tokenized, max_tokens, texts, prefix)`; everything here is written once on top of those.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from rnngen.conventions import Conventions
from rnngen.conventions import apply as apply_conventions
from rnngen.errors import ConfigError, InputError
from rnngen.score import MAX_TOKENS, SentenceScore, TokenScore
from rnngen.tokenize import TokenizerSettings, detokenize, tokenize_words
from rnngen.vocab import EOS, Vocabulary

@dataclass(frozen=True)
class Evaluation:
    """Held-out quality: cross-entropy in nats per token and its perplexity."""

    tokens: int
    oov: int
    sentences: int
    nll: float

    @property
    def cross_entropy(self) -> float:
        return self.nll / self.tokens if self.tokens else float("nan")

    @property
    def perplexity(self) -> float:
        return math.exp(self.cross_entropy) if self.tokens else float("nan")

    @property
    def bits_per_token(self) -> float:
        return self.cross_entropy / math.log(2)

    @property
    def oov_rate(self) -> float:
        return self.oov / self.tokens if self.tokens else 0.0


SPLITS = ("train", "valid", "test")


def _nonempty(held: "HeldOut", text: str) -> "HeldOut":
    if not held.sentences:
        raise InputError(f"{text} has no sentences to evaluate")
    return held


@dataclass(frozen=True)
class HeldOut:
    """Text to evaluate on: its sentences, the source's own perplexity where known, the corpus it came from."""

    sentences: list[list[str]]
    floor: float | None
    corpus: Any


class TextModel:
    """Text in, the model's tokens and sentence scores out; see the module's docstring."""

    vocab: Vocabulary
    tokenizer: TokenizerSettings
    conventions: Conventions | None
    corpus: dict[str, Any]

    def logprobs(self, ids: Sequence[Sequence[int]], max_tokens: int = MAX_TOKENS) -> list[list[float]]:
        """Natural-log P of `w1 .. wn </s>` given `<s>` for each id sequence: what a scorer computes."""
        raise NotImplementedError

    def score_tokens(self, tokenized: Sequence[Sequence[str]], max_tokens: int = MAX_TOKENS,
                     texts: Sequence[str] | None = None, prefix: Sequence[str] = ()) -> list[SentenceScore]:
        """Sentence scores from `logprobs`; with a `prefix`, each sentence is scored as its continuation."""
        lps = self.logprobs([self.vocab.encode([*prefix, *tokens]) for tokens in tokenized], max_tokens)
        out = []
        for n, (tokens, values) in enumerate(zip(tokenized, lps)):
            scored = tuple(TokenScore(w, lp, w != EOS and self.vocab.is_oov(w))
                           for w, lp in zip([*tokens, EOS], values[len(prefix):]))
            out.append(SentenceScore(texts[n] if texts is not None else " ".join(tokens), scored))
        return out

    def details(self, tokens: Sequence[str], alternatives: int = 0) -> list:
        """Each predicted token's rank among all words and the entropy there (`rnngen.inspect`)."""
        from rnngen.inspect import word_details

        return word_details(self, tokens, alternatives)

    def next_word_distribution(self, context: Sequence[str]):
        raise NotImplementedError

    def start(self, prompt: str = "", settings=None):
        """A generation state after the prompt, for interactive stepping, over `next_word_distribution`."""
        from rnngen.generate import DistributionGeneration, SamplingSettings

        settings = (settings or SamplingSettings()).validate()
        return DistributionGeneration(self.next_word_distribution, self.vocab,
                                      self.tokenize(prompt) if prompt else [], settings)

    def generate(self, prompt: str = "", settings=None, count: int = 1, alternatives: int = 5):
        """Stream (sentence number, step) pairs for `count` sentences, as `LanguageModel.generate`."""
        from rnngen.generate import DistributionGeneration, SamplingSettings, generate_many

        settings = (settings or SamplingSettings()).validate()
        tokens = self.tokenize(prompt) if prompt else []
        return generate_many(None, self.vocab, tokens, settings, count, alternatives,
                             lambda p, s: DistributionGeneration(self.next_word_distribution, self.vocab, p, s))

    def held_out_nll(self, sentences: Sequence[Sequence[str]]) -> tuple[float, int, int, int]:
        """Negative log-likelihood, predicted tokens, unknown words and sentences over tokenized sentences,
        each scored from `<s>` to `</s>`."""
        ids = [self.vocab.encode(s) for s in sentences if s]
        if not ids:
            raise InputError("nothing to evaluate: the text has no sentences")
        nll = -math.fsum(v for s in self.logprobs(ids) for v in s)
        return nll, sum(len(s) + 1 for s in ids), sum(i == self.vocab.unk_id for s in ids for i in s), len(ids)

    def tokenize(self, sentence: str, pretokenized: bool = False) -> list[str]:
        """The model's tokens for `sentence`; `pretokenized` takes its space-separated tokens as they are.

        A model of a pre-tokenized corpus (PTB, WikiText) rewrites typed text to its corpus's conventions
        (`rnngen.conventions`: `The company's shares.` -> `the company 's shares` on PTB); text already
        written so is left as it is.

        Detokenized text does not always tokenize back to the same tokens (Treebank rules: `''` can come
        back as two backticks, `a... .` as `a ....`), so text the model generated is scored exactly only
        as the tokens that were sampled (`rnngen generate --tokens`, then `rnngen score --pretokenized`).
        """
        if pretokenized:
            return tokenize_words(sentence, replace(self.tokenizer, words="whitespace"))
        if self.conventions is not None:  # a pre-tokenized corpus: typed text is written its way
            return apply_conventions(sentence, self.conventions, self.vocab.__contains__)
        return tokenize_words(sentence, self.tokenizer)

    def tokenize_document(self, text: str) -> Sequence[list[str]]:
        """Sentences of a held-out text, with the model's word tokenizer, held as arrays (a held-out file
        may be as large as a corpus: `corpus.arrays`).

        The file's own layout decides how sentences are found: one per line
        when it is written so (PTB, a tokenized test split), otherwise Punkt.
        """
        from rnngen.corpus.arrays import SplitBuilder, WordTable
        from rnngen.corpus.local import looks_line_per_sentence, text_to_split

        settings = self.tokenizer
        if settings.sentences == "punkt" and looks_line_per_sentence(text):
            settings = replace(settings, sentences="lines")
        builder = SplitBuilder(WordTable())
        text_to_split(text, None, settings.lowercase, builder, settings=settings)
        return builder.build(first=True)

    @property
    def corpus_spec(self) -> str:
        """What names this model's training corpus for `held_out`: the folder or file it was read from,
        where that still exists, else its name (a built-in or downloaded corpus); "" when none is recorded."""
        source = str(self.corpus.get("source", ""))
        if source and Path(source).exists():
            return source
        return str(self.corpus.get("name", ""))

    def held_out(self, text: str, split: str = "test") -> HeldOut:
        """The sentences `text` names, tokenized as this model's corpus was: the input policy of `eval`.

        `text` is a file (its sentences found by `tokenize_document`) or a corpus name or folder, of
        which `split` is taken, with the source's own perplexity where the corpus knows it.
        """
        from rnngen.corpus import load_corpus
        from rnngen.corpus.stats import true_perplexity

        if Path(text).is_file():
            return self._file_held_out(text)
        corpus = load_corpus(text, tokenized=self.tokenizer.words == "whitespace", lowercase=self.tokenizer.lowercase)
        return _nonempty(HeldOut(corpus.split(split), true_perplexity(corpus, split), corpus), text)

    def tuning_text(self, text: str, evaluated: HeldOut) -> HeldOut:
        """Held-out text to tune on (`--tune-on`): a split name of the evaluated corpus, or a file."""
        if text in SPLITS and evaluated.corpus is not None:
            return _nonempty(HeldOut(evaluated.corpus.split(text), None, evaluated.corpus), text)
        if not Path(text).is_file():
            raise InputError("{tune_on} " + text + ": no such file (a split name needs a corpus as the text to evaluate)",
                             ("tune_on",))
        return self._file_held_out(text)

    def _file_held_out(self, text: str) -> HeldOut:
        from rnngen.corpus.local import read_text

        return _nonempty(HeldOut(self.tokenize_document(read_text(Path(text))[0]), None, None), text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize(list(tokens), self.tokenizer)

    # -- scoring --------------------------------------------------------------
    def score(self, sentences: Sequence[str], allow_empty: bool = False, max_tokens: int = MAX_TOKENS,
              pretokenized: bool = False, given: str = "") -> list[SentenceScore]:
        """Score raw sentences (one string each), tokenized as the training corpus was (or split on spaces).

        With `given`, each sentence is scored as a continuation of that text: P(sentence | <s> given),
        the given words not counted (`rnngen score --given`).
        """
        tokenized = [self.tokenize(s, pretokenized) for s in sentences]
        if not allow_empty:
            for n, tokens in enumerate(tokenized, 1):
                if not tokens:
                    raise InputError(f"sentence {n} is empty")
        prefix = self.tokenize(given, pretokenized) if given else []
        return self.score_tokens(tokenized, max_tokens, [s.strip() for s in sentences], prefix)

    def unknown_types(self) -> int:
        """How many word types `<unk>` stands for: the training text's word types the vocabulary left out.

        `--unk-types auto` divides `<unk>`'s probability among them. Not known for a corpus that writes
        rare words as `<unk>` itself (PTB, WikiText), nor for a model saved before it was recorded.
        """
        types = self.corpus.get("train_types")
        if self.corpus.get("writes_unk"):
            raise ConfigError("{unk_types} auto: this model's training text writes rare words as <unk> itself, so "
                              "how many types <unk> stands for is not known; give a number", ("unk_types",))
        if not isinstance(types, int) or isinstance(types, bool):
            raise ConfigError("{unk_types} auto: this model does not record its training text's word types "
                              "(trained by an older rnngen); give a number", ("unk_types",))
        known = sum(1 for w in self.vocab.words[3:] if w != "<unk>")
        return max(types - known, 1)
