"""Sentence probabilities: P(w1..wn, </s> | <s>), per token, in batches.

Every sentence is scored from a fresh state exactly as the `sentences`
training mode sees it, so summing these scores over a split reproduces the
evaluation perplexity. Batching sorts by length and pads at the end; padding
never influences earlier positions of a left-to-right RNN, so batched and
one-at-a-time scores agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from rnngen.data import IGNORE, pad_sentences
from rnngen.errors import InputError
from rnngen.model import RNNModel, in_eval_mode
from rnngen.vocab import EOS, Vocabulary

LN10 = math.log(10.0)
LN2 = math.log(2.0)
# Time steps (rows x padded length) per scoring batch: large enough to keep the matrix products
# efficient, small enough that a batch's logits (rows x vocabulary floats) stay well inside memory.
MAX_TOKENS = 4096


@dataclass(frozen=True)
class TokenScore:
    """One predicted token (a word or the final `</s>`) and its natural-log probability."""

    token: str
    logprob: float
    oov: bool

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True)
class SentenceScore:
    """A scored sentence; `tokens` include the final `</s>`."""

    text: str
    tokens: tuple[TokenScore, ...] = field(default=())

    @property
    def logprob(self) -> float:
        return math.fsum(t.logprob for t in self.tokens)

    @property
    def log10prob(self) -> float:
        return self.logprob / LN10

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def num_words(self) -> int:
        return max(0, len(self.tokens) - 1)

    @property
    def oov_count(self) -> int:
        return sum(t.oov for t in self.tokens)

    @property
    def per_token(self) -> float:
        """Length-normalised score: mean log-probability per predicted token."""
        return self.logprob / self.num_tokens if self.tokens else float("-inf")

    @property
    def perplexity(self) -> float:
        return math.exp(-self.per_token) if self.tokens else float("inf")

    @property
    def scored(self) -> str:
        """The tokens the model saw (its corpus's way of writing the text), `</s>` aside."""
        return " ".join(t.token for t in self.tokens[:-1])

    @property
    def flag(self) -> str:
        """What makes the number say little about the model: "empty" (only `</s>` was scored),
        "unknown-only" (every word is `<unk>`), or "" for an ordinary sentence."""
        if len(self.tokens) <= 1:
            return "empty"
        if all(t.oov for t in self.tokens[:-1]):
            return "unknown-only"
        return ""

    def to_dict(self, with_tokens: bool = True) -> dict:
        out = {
            "text": self.text,
            "scored": self.scored,
            "logprob": self.logprob,
            "log10prob": self.log10prob,
            "tokens": self.num_tokens,
            "perplexity": self.perplexity,
            "per_token": self.per_token,
            "oov": self.oov_count,
            "flag": self.flag,
        }
        if with_tokens:
            out["token_scores"] = [{"token": t.token, "logprob": t.logprob, "surprisal_bits": -t.logprob / LN2,
                                    "oov": t.oov} for t in self.tokens]
        return out


def normalized(score: SentenceScore, method: str = "none", alpha: float = 0.6) -> float:
    """A sentence score under a length normalisation; higher is better throughout.

    none: total log-prob; length: per token; ppl: negative perplexity;
    wp: GNMT length penalty, logprob / ((5 + |Y|) / 6) ** alpha (Wu et al., 2016).
    """
    return normalized_logprob(score.logprob, score.num_tokens, method, alpha)


def normalized_logprob(logprob: float, tokens: int, method: str = "none", alpha: float = 0.6) -> float:
    """`normalized` of a log-probability over `tokens` predicted tokens (as adjusted for unknown words)."""
    if method == "none":
        return logprob
    if method == "length":
        return logprob / tokens if tokens else -math.inf
    if method == "ppl":
        return -math.exp(-(logprob / tokens)) if tokens else -math.inf
    if method == "wp":
        return logprob / (((5.0 + tokens) / 6.0) ** alpha)
    raise ValueError(f"unknown normalisation {method!r}")


def check_scorable(tokens: Sequence[str], vocab: Vocabulary, text: str, where: str = "the sentence") -> None:
    """Refuse what `rnngen score` and the Score tab do not score: an empty sentence, or one of unknown words only.

    A sentence made only of `<unk>` says nothing about the model but would get a number that looks like one.
    `where` names the sentence in the message ("line 3").
    """
    if not tokens:
        raise InputError(f"{where} is an empty sentence")
    if all(vocab.is_oov(t) for t in tokens):
        raise InputError(f"{where} has only words the model does not know: {text.strip()[:60]!r}")


def flagged(scores: Sequence[SentenceScore]) -> dict[str, list[int]]:
    """The 1-based numbers of the flagged sentences, by flag (see `SentenceScore.flag`)."""
    out: dict[str, list[int]] = {}
    for number, score in enumerate(scores, 1):
        if score.flag:
            out.setdefault(score.flag, []).append(number)
    return out


@in_eval_mode
@torch.inference_mode()
def token_logprobs(
    model: RNNModel, sentences: Sequence[Sequence[int]], bos: int, eos: int,
    max_tokens: int = MAX_TOKENS, device: torch.device | None = None,
) -> list[list[float]]:
    """Log-probabilities of `w1..wn </s>` for each id sequence, in input order.

    Candidates of an n-best list share prefixes and often repeat whole: a
    position whose prefix and target another sentence already has gets that
    sentence's value instead of its own softmax (`shared_prefixes`), and a
    repeated sentence is not run at all. Padding never reaches the softmax.
    """
    device = device or next(model.parameters()).device
    lex, shared = shared_prefixes(sentences)
    out: list[list[float]] = [[0.0] * (len(s) + 1) for s in sentences]
    run = [i for i in range(len(sentences)) if shared[i] <= len(sentences[i])]  # the rest repeat a sentence
    order = sorted(run, key=lambda i: len(sentences[i]))
    start = 0
    while start < len(order):
        end = start + 1
        # Sorted ascending, so the widest row of a batch is its last one.
        while end < len(order) and (end - start + 1) * (len(sentences[order[end]]) + 1) <= max_tokens:
            end += 1
        group = order[start:end]
        inputs, targets = pad_sentences([sentences[i] for i in group], bos, eos)
        features, _ = model.features(inputs.to(device))
        # the positions to compute: from the end of the shared prefix to the sentence's </s>
        position = torch.arange(inputs.size(1))
        first = torch.tensor([shared[i] for i in group]).unsqueeze(1)
        last = torch.tensor([len(sentences[i]) for i in group]).unsqueeze(1)
        rows, cols = torch.nonzero((position >= first) & (position <= last), as_tuple=True)
        picked = model.target_logprobs(features[rows.to(device), cols.to(device)],
                                       targets[rows, cols].to(device)).cpu().tolist()
        for row, col, value in zip(rows.tolist(), cols.tolist(), picked):
            out[group[row]][col] = value
        start = end
    for before, i in zip(lex, lex[1:]):  # lexicographic order: a sentence's source is filled before it
        out[i][:shared[i]] = out[before][:shared[i]]
    return out


def shared_prefixes(sentences: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """The lexicographic order, and for each sentence the positions it shares with the one before it there.

    Position t predicts word t+1 from words 1..t, so a sentence whose first L
    words equal its predecessor's has the same first L log-probabilities.
    The predecessor in sorted order shares the longest prefix of any sentence
    before it. A repeated sentence shares all its len+1 positions.
    """
    lex = sorted(range(len(sentences)), key=lambda i: tuple(sentences[i]))
    shared = [0] * len(sentences)
    for before, i in zip(lex, lex[1:]):
        a, b = sentences[before], sentences[i]
        n = 0
        for x, y in zip(a, b):
            if x != y:
                break
            n += 1
        shared[i] = len(b) + 1 if n == len(a) == len(b) else n
    return lex, shared


def score_tokens(
    model: RNNModel, vocab: Vocabulary, tokenized: Sequence[Sequence[str]], texts: Sequence[str] | None = None,
    max_tokens: int = MAX_TOKENS, prefix: Sequence[str] = (),
) -> list[SentenceScore]:
    """Score tokenized sentences; words outside the vocabulary are scored as `<unk>` and flagged.

    With a `prefix`, each sentence is scored as its continuation: P(w1..wn, </s> | <s> prefix), the
    prefix's own tokens read but not counted.
    """
    ids = [vocab.encode([*prefix, *tokens]) for tokens in tokenized]
    logprobs = token_logprobs(model, ids, vocab.bos_id, vocab.eos_id, max_tokens=max_tokens)
    results = []
    for n, (tokens, lps) in enumerate(zip(tokenized, logprobs)):
        names = [*tokens, EOS]
        lps = lps[len(prefix):]
        scored = tuple(TokenScore(w, lp, w != EOS and vocab.is_oov(w)) for w, lp in zip(names, lps))
        text = texts[n] if texts is not None else " ".join(tokens)
        results.append(SentenceScore(text, scored))
    return results


@in_eval_mode
@torch.inference_mode()
def evaluate_ids(model: RNNModel, batches) -> tuple[float, int]:
    """Summed negative log-likelihood and token count over batches (train layouts)."""
    device = next(model.parameters()).device
    total, count, hidden = 0.0, 0, None
    for batch in batches:
        if batch.reset or hidden is None or hidden_batch(hidden) != batch.inputs.size(0):
            hidden = None
        features, hidden = model.features(batch.inputs.to(device), hidden)
        targets = batch.targets.to(device).reshape(-1)
        keep = targets != IGNORE
        picked = model.target_logprobs(features.reshape(-1, features.size(-1)), targets)
        total -= float(picked[keep].double().sum())
        count += int(keep.sum())
    return total, count


def hidden_batch(hidden) -> int:
    h = hidden[0] if isinstance(hidden, tuple) else hidden
    return h.size(1)
