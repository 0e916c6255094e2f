"""`Mixture`: an RNN and an n-gram interpolated word by word, p = λ·p_rnn + (1-λ)·p_ngram, as one scorer.

This is the RNNLM toolkit's `-lm-prob`/`-lambda` (Mikolov et al.): on small corpora a Kneser-Ney
n-gram and an RNN make different mistakes, and their mixture beats both.

The mixture is a distribution over the RNN's vocabulary. Where the n-gram's vocabulary is the same
(an n-gram estimated by `rnngen ngram train` on the RNN's corpus with its vocabulary size) each word's
n-gram probability is used as it is. Where they differ (an ARPA file from elsewhere), the n-gram's
distribution is carried over to the RNN's words so that it still sums to 1:

- an RNN word the n-gram knows gets its n-gram probability;
- the RNN words the n-gram does not know, with the RNN's `<unk>`, share the n-gram's `<unk>` equally;
- the n-gram's words the RNN does not know are all `<unk>` to the RNN: their probability goes to it;
- history words the n-gram does not know are its `<unk>`.

`<s>` is never predicted by the n-gram; it keeps λ times the RNN's (tiny) probability, so every
context's mixture sums to 1 (tested). λ is given or tuned on held-out text by expectation-maximisation,
which converges to the λ of least held-out perplexity (the perplexity is convex in λ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from rnngen import cache as continuous_cache
from rnngen.backoff import LN10
from rnngen.errors import InputError
from rnngen.options import NgramMix
from rnngen.score import MAX_TOKENS
from rnngen.textmodel import Evaluation, TextModel

EM_ROUNDS = 200
EM_TOLERANCE = 1e-7


def check_lambda(value: float) -> float:
    """λ as `options.NgramMix` allows it: a weight in [0, 1]."""
    return float(NgramMix(ngram="", lam=value).validate().lam)


def tune_lambda(p_rnn: np.ndarray, p_ngram: np.ndarray, start: float = 0.5) -> float:
    """The weight of `p_rnn` that maximises the mean log of λ·p_rnn + (1-λ)·p_ngram (EM, as SRILM's
    compute-best-mix): each round, λ becomes the RNN's average share of the mixed probability."""
    lam = start
    for _ in range(EM_ROUNDS):
        mixed = lam * p_rnn + (1 - lam) * p_ngram
        new = float(np.mean(lam * p_rnn / np.maximum(mixed, 1e-300)))
        if abs(new - lam) < EM_TOLERANCE:
            return new
        lam = new
    return lam


def _describe(settings) -> str:
    return f"words by {settings.words}" + (", lower-cased" if settings.lowercase else "")


@dataclass(frozen=True)
class MixtureEvaluation:
    """Perplexity of the RNN alone, the n-gram alone and the mixture, on the same tokens (the RNNLM
    toolkit's "PPL net / other / combined")."""

    rnn: Evaluation
    ngram: Evaluation
    combined: Evaluation
    lam: float

    @property
    def against_better(self) -> float:
        """The mixture's perplexity over the better part's alone: below 1 where mixing pays."""
        return self.combined.perplexity / min(self.rnn.perplexity, self.ngram.perplexity)


@dataclass(eq=False)  # arrays inside: compared by identity
class Mixture(TextModel):
    rnn: Any  # LanguageModel
    ngram: Any  # NgramModel
    lam: float = 0.5
    tuned_on: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_lambda(self.lam)
        rnn_tok, ngram_tok = self.rnn.tokenizer, self.ngram.tokenizer
        if self.ngram.settings.get("estimator") != "arpa" and (
                rnn_tok.words != ngram_tok.words or rnn_tok.lowercase != ngram_tok.lowercase):
            raise InputError(f"the n-gram {self.ngram.name} splits text differently from the RNN {self.rnn.name} "
                             f"({_describe(ngram_tok)} against {_describe(rnn_tok)}): estimate it on the RNN's corpus "
                             "with `rnngen ngram train`")
        self._map_vocabularies()

    # the text side is the RNN's: its tokenizer, conventions, vocabulary, corpus and folder
    vocab = property(lambda self: self.rnn.vocab)
    tokenizer = property(lambda self: self.rnn.tokenizer)
    conventions = property(lambda self: self.rnn.conventions)
    corpus = property(lambda self: self.rnn.corpus)
    path = property(lambda self: self.rnn.path)

    @property
    def name(self) -> str:
        return f"{self.rnn.name} + {self.ngram.name} (λ {self.lam:.3f})"

    def _map_vocabularies(self) -> None:
        rnn, ngram = self.rnn.vocab, self.ngram.vocab
        self.to_ngram = np.array([ngram.id(w) for w in rnn.words], dtype=np.int64)
        shared = self.to_ngram != ngram.unk_id
        shared[rnn.unk_id] = False
        shared[rnn.bos_id] = False
        self.unknown_group = int(len(rnn) - 1 - shared.sum())  # RNN words behind the n-gram's <unk>, <unk> too
        self.ngram_only = np.array([i for i, w in enumerate(ngram.words) if i > 2 and w not in rnn], dtype=np.int64)
        self.same_vocabulary = self.unknown_group == 1 and not len(self.ngram_only)
        if not self.same_vocabulary:
            self.notes.append(
                f"the vocabularies differ: {self.unknown_group - 1:,} of the RNN's {len(rnn) - 3:,} words are unknown "
                f"to the n-gram and share its <unk> with the RNN's <unk>; {len(self.ngram_only):,} n-gram words the "
                "RNN does not know are counted in the RNN's <unk>")

    # -- scoring ---------------------------------------------------------------------------
    def component_logprobs(self, ids: Sequence[Sequence[int]], max_tokens: int = MAX_TOKENS
                           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Natural-log P per predicted token from the RNN and from the n-gram (over the RNN's words)."""
        rnn = [np.asarray(v, dtype=np.float64) for v in self.rnn.logprobs(ids, max_tokens)]
        return rnn, self.ngram_logprobs(ids)

    def ngram_logprobs(self, ids: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Natural-log P per predicted token from the n-gram, carried over to the RNN's words."""
        mapped = [self.to_ngram[np.asarray(s, dtype=np.int64)].tolist() if len(s) else [] for s in ids]
        nv = self.ngram.vocab
        log10 = self.ngram.tables.log10_sentences(mapped, nv.bos_id, nv.eos_id)
        ngram = []
        for s, m, values in zip(ids, mapped, log10):
            values = values.astype(np.float64) * LN10
            if not self.same_vocabulary:
                values = self._carry_over(list(s), m, values)
            ngram.append(values)
        return ngram

    def _carry_over(self, ids: list[int], mapped: list[int], values: np.ndarray) -> np.ndarray:
        """The n-gram's log P of each target as a probability over the RNN's words (module docstring)."""
        nv, rv = self.ngram.vocab, self.rnn.vocab
        for t, (word, target) in enumerate(zip([*ids, rv.eos_id], [*mapped, nv.eos_id])):
            if target != nv.unk_id:
                continue
            p = math.exp(values[t]) / self.unknown_group
            if word == rv.unk_id and len(self.ngram_only):
                context = [nv.bos_id, *mapped[:t]]
                p += float(np.sum(10.0 ** self.ngram.tables.log10_next(context, self.ngram_only)))
            values[t] = math.log(p)
        return values

    def logprobs(self, ids: Sequence[Sequence[int]], max_tokens: int = MAX_TOKENS) -> list[list[float]]:
        rnn, ngram = self.component_logprobs(ids, max_tokens)
        return [np.logaddexp(r + math.log(self.lam) if self.lam > 0 else -np.inf,
                             g + math.log(1 - self.lam) if self.lam < 1 else -np.inf).tolist()
                for r, g in zip(rnn, ngram)]

    def evaluate(self, sentences: Sequence[Sequence[str]], cache=None) -> Evaluation:
        return self.evaluate_parts(sentences, cache).combined

    def evaluate_parts(self, sentences: Sequence[Sequence[str]], cache=None) -> MixtureEvaluation:
        """The RNN, the n-gram and the mixture on the same sentences, each from `<s>` to `</s>`. With a
        continuous `cache` the mixture is one: (1-w)·(λ·p_rnn + (1-λ)·p_ngram) + w·p_cache over the text
        read as one document (`rnngen.cache`); the parts alone are without it."""
        ids = self._ids(sentences, "evaluate")
        rnn, ngram = (np.concatenate(x) for x in self.component_logprobs(ids))
        tokens, oov = len(rnn), sum(i == self.vocab.unk_id for s in ids for i in s)

        def part(nll: float) -> Evaluation:
            return Evaluation(tokens, oov, len(ids), nll)

        if cache is not None:
            cache = cache.validate()
            combined, _ = continuous_cache.nll(self._running_text(ids, cache.size, (cache.theta,)), cache)
        else:
            combined = -math.fsum(self._mix(rnn, ngram).tolist())
        return MixtureEvaluation(part(-math.fsum(rnn.tolist())), part(-math.fsum(ngram.tolist())), part(combined),
                                 self.lam)

    def _ids(self, sentences: Sequence[Sequence[str]], what: str) -> list[list[int]]:
        ids = [self.vocab.encode(s) for s in sentences if s]
        if not ids:
            raise InputError(f"nothing to {what}: the text has no sentences")
        return ids

    def _mix(self, rnn, ngram):
        return np.logaddexp(rnn + math.log(max(self.lam, 1e-300)), ngram + math.log(max(1 - self.lam, 1e-300)))

    def _running_text(self, ids: list[list[int]], size: int, thetas: Sequence[float]):
        """The RNN's running text (`LanguageModel._running_text`) with the n-gram mixed into its model part."""
        import torch

        text = self.rnn._running_text(ids, size, thetas)
        keep = text.scored
        model = text.model_logprobs.double().clone()
        ngram = np.concatenate(self.ngram_logprobs(ids))
        model[keep] = torch.from_numpy(self._mix(model[keep].numpy(), ngram))
        return replace(text, model_logprobs=model)

    def tune_cache(self, sentences: Sequence[Sequence[str]], size: int):
        """The cache's theta and weight on top of this mixture (λ as it is) that fit `sentences` best."""
        from rnngen.cache import CacheSettings

        size = CacheSettings(size=size).validate().size
        return continuous_cache.tune(self._running_text(self._ids(sentences, "tune the cache on"), size,
                                                        continuous_cache.THETAS))

    def tune(self, sentences: Sequence[Sequence[str]], where: str = "") -> float:
        """Set λ to the weight of least perplexity on `sentences`; returns it."""
        rnn, ngram = (np.exp(np.concatenate(x)) for x in self.component_logprobs(self._ids(sentences, "tune λ on")))
        self.lam = tune_lambda(rnn, ngram)
        self.tuned_on = where
        return self.lam

    def next_word_distribution(self, context: Sequence[str]):
        """P(w | <s> context) over the RNN's vocabulary: λ·RNN + (1-λ)·n-gram carried over (sums to 1)."""
        import torch

        rnn = self.rnn.next_word_distribution(context).double().numpy()
        nv, rv = self.ngram.vocab, self.rnn.vocab
        ngram_context = [nv.bos_id, *self.to_ngram[rv.encode(context)].tolist()] if context else [nv.bos_id]
        probs = 10.0 ** self.ngram.tables.log10_next(ngram_context, self.to_ngram)
        in_group = self.to_ngram == nv.unk_id
        probs[in_group] /= self.unknown_group
        if len(self.ngram_only):
            probs[rv.unk_id] += float(np.sum(10.0 ** self.ngram.tables.log10_next(ngram_context, self.ngram_only)))
        probs[rv.bos_id] = 0.0
        return torch.from_numpy(self.lam * rnn + (1 - self.lam) * probs)


def build(rnn, ngram_spec: str, lam: float | None = None, tune_on: str | None = None, evaluated=None) -> Mixture:
    """The mixture `--ngram` asks for: `rnn` with the n-gram model or ARPA file `ngram_spec`, at weight `lam`,
    or with λ tuned on `tune_on` (a file, or a split of the evaluated corpus or else of the RNN's own
    corpus; without either, the RNN's corpus's validation split)."""
    from rnngen.lm import LanguageModel
    from rnngen.ngram import NgramModel, load
    from rnngen.textmodel import SPLITS

    if not isinstance(rnn, LanguageModel):
        raise InputError(f"{{ngram}} mixes an RNN model with an n-gram; {rnn.name} is an n-gram itself", ("ngram",))
    ngram = load(ngram_spec)
    if not isinstance(ngram, NgramModel):
        raise InputError(f"{{ngram}} takes an n-gram model (`rnngen ngram train`) or an ARPA file; {ngram_spec} is "
                         "an RNN model", ("ngram",))
    mixture = Mixture(rnn, ngram, 0.5 if lam is None else check_lambda(lam))
    if lam is None:
        where = tune_on or "valid"
        if evaluated is not None and (where not in SPLITS or evaluated.corpus is not None):
            text = rnn.tuning_text(where, evaluated)
        elif where in SPLITS:
            if not rnn.corpus_spec:
                raise InputError("this model does not record its corpus: give {lambda} or {tune_on} FILE",
                                 ("lambda", "tune_on"))
            from rnngen.corpus import load_corpus

            # the split itself, also of a corpus read from one file (`held_out` takes a file whole)
            corpus = load_corpus(rnn.corpus_spec, tokenized=rnn.tokenizer.words == "whitespace",
                                 lowercase=rnn.tokenizer.lowercase)
            mixture.tune(corpus.split(where), f"{where} of {corpus.name}")
            return mixture
        else:
            text = rnn.tuning_text(where, None)
        mixture.tune(text.sentences, where)
    return mixture
